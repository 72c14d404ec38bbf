//! RUN: the command runs in a container (strata-runtime's step executor)
//! whose rootfs is an overlay of the parent's snapshots; the overlay's
//! upper dir is the new layer (overlay whiteouts converted to OCI ones when
//! the tar is written).
//!
//! `--mount` types:
//!
//! | type | what is mounted |
//! |---|---|
//! | `bind` | a path of the context, a stage or an image (read-only unless `rw`; writes to an `rw` bind go to a throw-away overlay) |
//! | `cache` | `<root>/cache-mounts/<sha256(id)>`, kept across builds; `sharing=locked` serialises users with a file lock, `private` gives a concurrent user a fresh directory; `from=` seeds a new cache with a copy of that path |
//! | `tmpfs` | a tmpfs (`size=`) |
//! | `secret` | the `--secret` of that id as a 0400 file at `/run/secrets/<id>` (or `target=`), or as the variable `env=`; never in a layer or a key |
//!
//! Every source path a Dockerfile names resolves inside its own root
//! ([`source_in`]); every target resolves inside the step's rootfs
//! (`strata_runtime::mountpoint_linux`). `type=ssh` is refused.
//!
//! Heredoc scripts with a `#!` line are mounted at `/dev/pipes/<name>` and
//! executed, as BuildKit does.
//!
//! With `--isolation chroot` nothing is mounted: the step runs chrooted in
//! a plain copy of its parent layers, and the layer is what changed in the
//! copy (see [`super::chroot`]); `--mount` (and a `#!` heredoc, a mount
//! too) are refused there.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use strata_dockerfile::instructions::{CacheSharing, Command, Mount, RunScript};
use strata_oci::ImageConfig;
use strata_runtime::isolation::Isolation;
use strata_runtime::logs::Stream;
use strata_runtime::rootfs_linux::clean_relative;
use strata_runtime::spec::MountSpec;
use strata_runtime::step::{StepSpec, run_step_with};
use strata_store::ingest::{DirLayerOptions, IngestedLayer};
use strata_store::inroot_linux::Root;
use strata_store::layer::{Compression, WhiteoutFormat};

use super::{Exec, push_layer_history};
use crate::config_ops::shell_of;
use crate::context::StatIndex;
use crate::error::{BuildError, Result};
use crate::fileops::{self, CopyOptions, SelectOptions, SourceTree};
use crate::plan::{RunAction, Source, Step};
use crate::progress::{LogStream, VertexId};
use crate::view::View;

/// Things that must live while the step runs (views, locks, scratch).
struct Held {
    _views: Vec<View>,
    _locks: Vec<File>,
}

fn abs_target(workdir: &str, target: &str) -> String {
    if target.starts_with('/') {
        target.to_string()
    } else {
        format!("{}/{target}", workdir.trim_end_matches('/'))
    }
}

/// Runs a RUN step on top of `config`; returns the new config.
pub fn run(
    ex: &Exec<'_>,
    step: &Step,
    act: &RunAction,
    mut config: ImageConfig,
    v: VertexId,
) -> Result<(ImageConfig, IngestedLayer)> {
    let Command::Run(run) = &step.command else {
        return Err(BuildError::Invalid(format!("{}: not a RUN", step.name)));
    };
    let store = ex.store;
    let cc = config.config.clone().unwrap_or_default();
    let shell = shell_of(&cc);
    let args = run.argv(&shell);
    let workdir = cc
        .working_dir
        .clone()
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".into());
    let chroot = ex.req.isolation == Isolation::Chroot;
    if chroot && (!act.mounts.is_empty() || matches!(run.script(), RunScript::ShebangFile { .. })) {
        return Err(BuildError::Invalid(format!(
            "{}: RUN --mount (and a #! heredoc, which is mounted) needs mounts, which --isolation chroot does without",
            step.name
        )));
    }
    let work = store.scratch().new_dir("run")?;
    let result = (|| -> Result<IngestedLayer> {
        let (upper, wk) = (work.join("upper"), work.join("work"));
        for d in [&upper, &wk] {
            std::fs::create_dir_all(d).map_err(BuildError::io("create directory", d))?;
        }
        let mut env: Vec<String> = act
            .scope
            .run_env()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let (mounts, held) = mounts(ex, act, &workdir, &work, &mut env)?;
        let mut mounts = mounts;
        if let RunScript::ShebangFile { name, data } = run.script() {
            let f = work.join("heredoc");
            std::fs::write(&f, data).map_err(BuildError::io("write", &f))?;
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755))
                .map_err(BuildError::io("chmod", &f))?;
            mounts.push(MountSpec::Bind {
                source: f,
                destination: format!(
                    "{}{name}",
                    strata_dockerfile::instructions::HEREDOC_PIPES_DIR
                ),
                readonly: true,
            });
        }
        let mut lowers = store.snapshots().lower_dirs(&config.chain_ids())?;
        let chrooted = if chroot {
            let r = super::chroot::Rootfs::prepare(store, &config.chain_ids(), act.network)?;
            lowers = vec![r.dir().to_path_buf()];
            Some(r)
        } else {
            None
        };
        let spec = StepSpec {
            lowers,
            upper: upper.clone(),
            work: wk,
            args: args.clone(),
            env,
            cwd: workdir.clone(),
            user: cc.user.clone().unwrap_or_default(),
            network: act.network,
            mounts,
            hostname: String::new(),
            runtime: ex.req.runtime.clone(),
            isolation: ex.req.isolation,
        };
        let status = run_step_with(store, &spec, &ex.req.cancel, &mut |s: Stream, b: &[u8]| {
            let s = match s {
                Stream::Stdout => LogStream::Stdout,
                Stream::Stderr => LogStream::Stderr,
            };
            ex.progress.log(v, s, b);
        })?;
        drop(held);
        if !status.success() {
            return Err(BuildError::RunFailed {
                command: args.join(" "),
                code: status.code,
            });
        }
        let parent = config.chain_ids().last().cloned();
        let _phase = ex.progress.phase_in(v, "layer write");
        if let Some(r) = &chrooted {
            r.diff_into(&upper)?;
        }
        let layer = store.layer_from_dir(
            &upper,
            parent.as_ref(),
            &DirLayerOptions {
                whiteouts: WhiteoutFormat::Overlay,
                compression: Compression::None,
                source_date_epoch: ex.req.source_date_epoch,
                adopt_dir: true,
            },
        )?;
        if let Some(r) = chrooted {
            r.keep(store, &layer.chain_id);
        }
        Ok(layer)
    })();
    let _ = strata_store::layout::remove_tree(&work);
    let layer = result?;
    let created_by = format!("{} # buildkit", act.scope.run_created_by(&args));
    push_layer_history(&mut config, &layer, created_by, &ex.req.history_time());
    Ok((config, layer))
}

fn mounts(
    ex: &Exec<'_>,
    act: &RunAction,
    workdir: &str,
    work: &Path,
    env: &mut Vec<String>,
) -> Result<(Vec<MountSpec>, Held)> {
    let mut out = Vec::new();
    let mut held = Held {
        _views: Vec::new(),
        _locks: Vec::new(),
    };
    for (n, (m, src)) in act.mounts.iter().enumerate() {
        match m {
            Mount::Bind(b) => {
                let (root, view) = match src {
                    Source::Context if b.readonly => (ex.ctx.root().to_path_buf(), None),
                    Source::Context => {
                        let v = View::mount_dirs(
                            ex.store,
                            vec![ex.ctx.root().to_path_buf()],
                            ex.req.isolation,
                        )?;
                        (v.root().to_path_buf(), Some(v))
                    }
                    other => {
                        let v = ex.view_of(other)?;
                        (v.root().to_path_buf(), Some(v))
                    }
                };
                let source = source_in(&root, b.source.as_deref().unwrap_or("/"))?;
                out.push(MountSpec::Bind {
                    source,
                    destination: abs_target(workdir, &b.target),
                    readonly: b.readonly,
                });
                held._views.extend(view);
            }
            Mount::Cache(c) => {
                let id = c.id.clone().unwrap_or_else(|| c.target.clone());
                let dir = cache_dir(ex, &id, c.sharing, &mut held, n)?;
                seed_cache(ex, &dir, c, src)?;
                out.push(MountSpec::Bind {
                    source: dir,
                    destination: abs_target(workdir, &c.target),
                    readonly: c.readonly,
                });
            }
            Mount::Tmpfs(t) => {
                let mut options = Vec::new();
                if let Some(s) = t.size {
                    options.push(format!("size={s}"));
                }
                out.push(MountSpec::Tmpfs {
                    destination: abs_target(workdir, &t.target),
                    options,
                });
            }
            Mount::Secret(s) => {
                let id = s.effective_id().unwrap_or_default();
                let Some(secret) = ex.req.secrets.iter().find(|x| x.id == id) else {
                    if s.required {
                        return Err(BuildError::SecretMissing(id));
                    }
                    continue;
                };
                if let Some(var) = &s.env {
                    env.push(format!("{var}={}", String::from_utf8_lossy(&secret.data)));
                    if s.target.is_none() {
                        continue;
                    }
                }
                let f = work.join(format!("secret-{n}"));
                std::fs::write(&f, &secret.data).map_err(BuildError::io("write", &f))?;
                std::fs::set_permissions(
                    &f,
                    std::fs::Permissions::from_mode(s.mode.unwrap_or(0o400)),
                )
                .map_err(BuildError::io("chmod", &f))?;
                std::os::unix::fs::chown(&f, Some(s.uid.unwrap_or(0)), Some(s.gid.unwrap_or(0)))
                    .map_err(BuildError::io("chown", &f))?;
                let target = s
                    .target
                    .clone()
                    .unwrap_or_else(|| format!("/run/secrets/{id}"));
                out.push(MountSpec::Bind {
                    source: f,
                    destination: abs_target(workdir, &target),
                    readonly: true,
                });
            }
            Mount::Ssh(_) => {
                return Err(BuildError::Invalid(
                    "RUN --mount=type=ssh is not supported by strata".into(),
                ));
            }
        }
    }
    Ok((out, held))
}

/// The host path of bind source `source` inside `root` (the context, or a
/// stage's or image's view): every symlink, absolute or relative, and every
/// `..` resolve as if `root` were `/`, as BuildKit resolves a bind source
/// inside its snapshot, so `source=hostroot` with `hostroot -> /` is the
/// stage's own root, never the host's. See: issue 9.
///
/// Why a path and not a descriptor: the runtimes take the source by name
/// (libcontainer canonicalises it and re-opens it, runc passes it to
/// mount(2)), so a `/proc/self/fd/N` handle would be turned back into a
/// path anyway. What is handed over is the kernel's own path of the object
/// resolved inside the root ([`Root::host_path`]: free of symlinks,
/// checked to lie under the root and to still be that object). Nothing
/// untrusted can rename anything in these trees between this check and the
/// mount: a stage or image view is an overlay whose upper dir only this
/// step's container writes, and it starts after its mounts are made;
/// snapshots are never written; the context is the user's directory, which
/// steps see read-only or through a private overlay.
///
/// A source missing inside its root fails with BuildKit's text
/// (`failed to compute cache key: "/x": not found`).
fn source_in(root: &Path, source: &str) -> Result<PathBuf> {
    let rel = clean_relative(source).display().to_string();
    let r = Root::open(root).map_err(BuildError::io("open", root))?;
    r.host_path(source).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) => fileops::FileOpError::NotFound {
            command: fileops::Command::Mount.name(),
            path: rel,
            hint: None,
        }
        .into(),
        _ => BuildError::Invalid(format!("RUN --mount=type=bind: source \"/{rel}\": {e}")),
    })
}

/// The directory of cache mount `id`, locked as `sharing` asks.
fn cache_dir(
    ex: &Exec<'_>,
    id: &str,
    sharing: CacheSharing,
    held: &mut Held,
    n: usize,
) -> Result<PathBuf> {
    let base = ex.store.root().join("cache-mounts");
    let name = hex::encode(Sha256::digest(id.as_bytes()));
    let dir = base.join(&name);
    std::fs::create_dir_all(&base).map_err(BuildError::io("create directory", &base))?;
    let lock_path = base.join(format!("{name}.lock"));
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(BuildError::io("open", &lock_path))?;
    let op = match sharing {
        CacheSharing::Locked => libc::LOCK_EX,
        CacheSharing::Private => libc::LOCK_EX | libc::LOCK_NB,
        CacheSharing::Shared => libc::LOCK_SH,
    };
    // SAFETY: flock on a descriptor we own.
    let rc = unsafe { libc::flock(lock.as_raw_fd(), op) };
    if rc != 0 {
        // A private cache in use by another build: this one gets its own.
        let own = ex.store.scratch().new_dir(&format!("cache-{n}"))?;
        return Ok(own);
    }
    held._locks.push(lock);
    if !dir.exists() {
        std::fs::create_dir_all(&dir).map_err(BuildError::io("create directory", &dir))?;
    }
    Ok(dir)
}

/// Seeds a brand-new cache directory from `from=`/`source=`.
fn seed_cache(
    ex: &Exec<'_>,
    dir: &Path,
    c: &strata_dockerfile::instructions::CacheMount,
    src: &Source,
) -> Result<()> {
    let fresh = std::fs::read_dir(dir)
        .map_err(BuildError::io("read directory", dir))?
        .next()
        .is_none();
    if fresh {
        std::fs::set_permissions(
            dir,
            std::fs::Permissions::from_mode(c.mode.unwrap_or(0o755)),
        )
        .map_err(BuildError::io("chmod", dir))?;
        std::os::unix::fs::chown(dir, Some(c.uid.unwrap_or(0)), Some(c.gid.unwrap_or(0)))
            .map_err(BuildError::io("chown", dir))?;
    }
    if c.from.is_none() || !fresh {
        return Ok(());
    }
    let view = ex.view_of(src)?;
    let tree = SourceTree::rootfs(view.root());
    let source = c.source.clone().unwrap_or_else(|| "/".into());
    let sel = fileops::select(
        &tree,
        &[source],
        &SelectOptions {
            command: fileops::Command::Mount,
            ..SelectOptions::default()
        },
        &mut StatIndex::ephemeral(),
    )?;
    fileops::copy_into(&tree, &sel, dir, "/", &CopyOptions::default())?;
    Ok(())
}
