//! strata-runtime: containers — OCI runtime specs with docker's defaults,
//! overlay root filesystems, the embedded runtime (youki's
//! `libcontainer`) or an external one (runc), a supervisor process per
//! container, json-file logs, and the build-step executor.
//!
//! # Map
//!
//! * [`spec`]: `config.json` from the image config and `run`'s flags
//!   (capabilities, seccomp, mounts, masked paths, namespaces, cgroups as
//!   docker); [`confine`] checks and records the confinement flags
//!   (`--privileged`, `--cap-add`, `--security-opt`, `--ipc`, …);
//!   [`spec::process`] combines entrypoint/cmd/env as docker does and
//!   [`spec::user`] resolves `-u` through the image's passwd/group.
//! * [`containers`]: records (`containers` table: [`model::ContainerSpec`]
//!   and [`model::State`] JSON) and per-container directories; [`ops`]:
//!   create, start, stop, kill, rm, wait, prune; [`inspect`], [`commit`],
//!   [`cp`].
//! * [`rootfs_linux`]: the overlay (init layer + image snapshots + upper),
//!   [`fuse_overlay_linux`] where the kernel refuses it rootless;
//!   [`mountpoint_linux`]: mount destinations resolved inside it;
//!   [`inroot_linux`]: reading the rootfs without escaping it, and the
//!   runc-style executable lookup (docker's 126/127).
//! * [`oci_linux`]: [`oci_linux::Embedded`] (libcontainer) and
//!   [`oci_linux::External`] (runc CLI) behind [`oci_linux::OciRuntime`].
//! * [`helper`]: single-threaded helper processes (re-execs of the strata
//!   binary) that do all forking: [`supervisor_linux`] (one per running
//!   container, like conmon), [`exec_linux`], [`step`]. A step dies with
//!   the build that started it; [`reaper_linux`] cleans up after a helper
//!   that was killed outright.
//! * [`isolation`]: how RUN steps are isolated (`--isolation`); with
//!   chroot isolation [`chroot_linux`] runs the step chrooted in a plain
//!   copy of its rootfs, for containers that allow no mounts.
//! * [`attach`] + [`client_linux`]: the CLI ↔ supervisor protocol and the
//!   foreground relay (raw terminal, SIGWINCH, signal proxy); [`logs`]:
//!   docker's json-file format.
//! * [`net`]: networks and container networking (the infra namespace with
//!   netavark and pasta, IPAM, `-p` proxy, `/etc/hosts`, `NetworkSettings`).
//!
//! # Running a build step
//!
//! The build engine calls [`step::run_step`] from any thread; the step's
//! upper dir is the new layer:
//!
//! ```no_run
//! use strata_runtime::step::{run_step, StepSpec};
//! use strata_runtime::logs::Stream;
//! use strata_store::ingest::DirLayerOptions;
//! use strata_store::layer::{Compression, WhiteoutFormat};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = strata_store::Store::open("/var/lib/strata")?;
//! let image = store.resolve_image("busybox")?;
//! let work = store.scratch().new_dir("run")?;
//! let (upper, wk) = (work.join("upper"), work.join("work"));
//! std::fs::create_dir_all(&upper)?;
//! std::fs::create_dir_all(&wk)?;
//! let spec = StepSpec {
//!     lowers: store.snapshots().lower_dirs(&image.chain_ids())?,
//!     upper: upper.clone(),
//!     work: wk,
//!     args: vec!["/bin/sh".into(), "-c".into(), "echo hi > /greeting".into()],
//!     env: vec!["PATH=/usr/bin:/bin".into()],
//!     ..StepSpec::default()
//! };
//! let status = run_step(&store, &spec, &mut |stream: Stream, bytes: &[u8]| {
//!     eprint!("{}: {}", stream.as_str(), String::from_utf8_lossy(bytes));
//! })?;
//! assert!(status.success());
//! let parent = image.chain_ids().last().cloned();
//! let layer = store.layer_from_dir(&upper, parent.as_ref(), &DirLayerOptions {
//!     whiteouts: WhiteoutFormat::Overlay,
//!     compression: Compression::GZIP,
//!     source_date_epoch: None,
//!     adopt_dir: true,
//! })?;
//! println!("new layer {}", layer.diff_id);
//! # Ok(()) }
//! ```
//!
//! Every helper is the running executable started with [`helper::SHIM`]
//! as its first argument; a binary embedding this crate must pass those
//! invocations to [`helper::main`] (the strata CLI does).

#![recursion_limit = "256"]

pub mod attach;
pub mod attach_server_linux;
pub mod chroot_linux;
pub mod client_linux;
pub mod commit;
pub mod confine;
pub mod containers;
pub mod cp;
pub mod detach_keys;
pub mod diff;
pub mod error;
pub mod events;
pub mod exec_linux;
pub mod export;
pub mod foreground_linux;
pub mod freezer_linux;
pub mod fuse_overlay_linux;
pub mod health;
pub mod health_linux;
pub mod helper;
pub mod inroot_linux;
pub mod inspect;
pub mod isolation;
pub mod launch_linux;
pub mod lock;
pub mod logs;
pub mod model;
pub mod mount_parse;
pub mod mountpoint_linux;
pub mod mounts;
pub mod names;
pub mod net;
pub mod oci_linux;
pub mod ops;
pub mod procs_linux;
pub mod reaper_linux;
pub mod restart_policy;
pub mod rootfs_linux;
pub mod rootless_linux;
pub mod rootless_pause_linux;
pub mod seccomp_bpf_linux;
pub mod spare_linux;
pub mod spec;
pub mod stats_linux;
pub mod step;
pub mod supervisor_linux;
mod supervisor_restart_linux;
pub mod sys_linux;
pub mod update_linux;
pub mod volumes;
pub mod workload_linux;

pub use containers::Container;
pub use error::{ExecError, Result, RuntimeError};
pub use oci_spec;
