//! The build-step executor: runs one `RUN` step in a container whose
//! rootfs is an overlay of the parent snapshots with the step's own upper
//! dir, from any process (the build engine may be multi-threaded: all
//! forking happens in a freshly exec'd single-threaded helper).
//!
//! ```text
//! run_step(store, &spec, on_output)            (caller's process, any thread)
//!   └─ spawn `<helper> __shim step`  stdin = spec JSON, stdout/stderr = pipes,
//!                                    fd 3 = result pipe
//!        helper: init layer + /etc files in a scratch bundle, mount overlay
//!                (index=off, redirect_dir=off, metacopy=off), config.json,
//!                runtime create/start, wait, delete, unmount, result → fd 3
//!   on_output(Stream, bytes) as output arrives; returns the exit status
//! ```
//! Afterwards `spec.upper` holds exactly what the step changed, in overlay
//! form: char 0/0 whiteouts, opaque xattrs. The engine turns it into a
//! layer with `Store::layer_from_dir(upper, parent_chain,
//! &DirLayerOptions { whiteouts: WhiteoutFormat::Overlay, .. })`. The
//! `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf` mount points live in
//! a scratch init layer, never in the upper dir.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio as StdStdio};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use strata_store::Store;

use crate::error::{IoContext, Result, RuntimeError};
use crate::helper;
use crate::launch_linux::{self, CgroupParentLock, LaunchInput};
use crate::logs::Stream;
use crate::oci_linux::{Stdio, runtime_for};
use crate::rootfs_linux::{Mounter, Overlay, StubKind, SysMounter, create_init_layer};
use crate::spec::{EtcFiles, MountSpec, NetworkMode, Resources};
use crate::sys_linux::{self, PROXIED};

/// One build step to run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepSpec {
    /// Parent snapshot dirs, topmost first (`Snapshots::lower_dirs`).
    pub lowers: Vec<PathBuf>,
    /// The step's upper dir (empty; becomes the layer).
    pub upper: PathBuf,
    /// The overlay work dir (empty, same filesystem as `upper`).
    pub work: PathBuf,
    /// argv (`["/bin/sh", "-c", "…"]` for the shell form).
    pub args: Vec<String>,
    /// Full environment (the build's `ENV`s and used `ARG`s; `PATH`,
    /// `HOSTNAME` and `HOME` are added when missing).
    pub env: Vec<String>,
    /// Working directory (`WORKDIR`; empty = `/`; created if missing).
    pub cwd: String,
    /// `USER` (`name`, `uid`, `user:group`; empty = root).
    pub user: String,
    /// `RUN --network` (host by default).
    pub network: NetworkMode,
    /// `RUN --mount` binds, caches and tmpfs.
    pub mounts: Vec<MountSpec>,
    /// Hostname (empty: `buildkitsandbox`, as BuildKit's).
    pub hostname: String,
    /// An external OCI runtime instead of the embedded one.
    pub runtime: Option<PathBuf>,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    /// The process's exit code (128 + n when killed by signal n).
    pub code: i32,
}

impl ExitStatus {
    /// Exit code 0.
    pub fn success(&self) -> bool {
        self.code == 0
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct StepRequest {
    spec: StepSpec,
    bundle: PathBuf,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StepResult {
    exit_code: i32,
    error: Option<String>,
    error_code: Option<i32>,
}

/// Runs a build step; see the module docs. `on_output` gets the step's
/// stdout and stderr as they arrive. A command that exits non-zero is
/// `Ok` with its code; a step that cannot run (bad user, missing
/// executable, mount failure) is `Err`.
pub fn run_step(
    store: &Store,
    spec: &StepSpec,
    on_output: &mut dyn FnMut(Stream, &[u8]),
) -> Result<ExitStatus> {
    let bundle = store.scratch().new_dir("step")?;
    let res = run_in(&bundle, spec, on_output);
    let _ = std::fs::remove_dir_all(&bundle);
    res
}

fn run_in(
    bundle: &Path,
    spec: &StepSpec,
    on_output: &mut dyn FnMut(Stream, &[u8]),
) -> Result<ExitStatus> {
    let request = serde_json::to_vec(&StepRequest {
        spec: spec.clone(),
        bundle: bundle.to_path_buf(),
    })
    .map_err(|e| RuntimeError::Invalid(e.to_string()))?;
    let (res_r, res_w) = sys_linux::pipe()?;
    let raw = res_w.as_raw_fd();
    let mut cmd = Command::new(helper::helper_binary());
    cmd.args(helper::step_args())
        .env("STRATA_LOG", helper::log_filter())
        .stdin(StdStdio::piped())
        .stdout(StdStdio::piped())
        .stderr(StdStdio::piped());
    // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let rc = if raw == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(raw, 3)
            };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .ctx("start the step helper", helper::helper_binary())?;
    drop(res_w);
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(&request)
            .ctx("send the step to the helper", bundle)?;
    }
    let out: Option<OwnedFd> = child.stdout.take().map(Into::into);
    let err: Option<OwnedFd> = child.stderr.take().map(Into::into);
    let mut slots = [out, err, Some(res_r)];
    let mut result = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while slots.iter().any(Option::is_some) {
        let (which, fds): (Vec<usize>, Vec<BorrowedFd<'_>>) = slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|fd| (i, fd.as_fd())))
            .unzip();
        let Some(flags) = sys_linux::poll_readable(&fds)? else {
            continue;
        };
        let ready: Vec<usize> = which
            .into_iter()
            .zip(flags)
            .filter_map(|(i, r)| r.then_some(i))
            .collect();
        for i in ready {
            let Some(fd) = slots[i].as_ref() else {
                continue;
            };
            match sys_linux::read_fd(fd.as_fd(), &mut buf) {
                Ok(Some(0)) => {}
                Ok(Some(n)) => match i {
                    0 => on_output(Stream::Stdout, &buf[..n]),
                    1 => on_output(Stream::Stderr, &buf[..n]),
                    _ => result.extend_from_slice(&buf[..n]),
                },
                Ok(None) | Err(_) => slots[i] = None,
            }
        }
    }
    let status = child.wait().ctx("wait for the step helper", bundle)?;
    let r: StepResult = serde_json::from_slice(&result).map_err(|_| {
        RuntimeError::Invalid(format!(
            "the step helper failed ({status}) without a result"
        ))
    })?;
    if let Some(message) = r.error {
        return Err(RuntimeError::Start {
            code: r.error_code.unwrap_or(125),
            message,
        });
    }
    Ok(ExitStatus { code: r.exit_code })
}

/// The helper side (`__shim step`): runs the step read from stdin and
/// writes the result to fd 3.
pub fn helper_main() -> i32 {
    let mut input = Vec::new();
    let res = std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| RuntimeError::Invalid(format!("read step: {e}")))
        .and_then(|_| {
            serde_json::from_slice::<StepRequest>(&input)
                .map_err(|e| RuntimeError::Invalid(format!("bad step request: {e}")))
        })
        .and_then(|req| step(&req));
    let result = match res {
        Ok(code) => StepResult {
            exit_code: code,
            ..StepResult::default()
        },
        Err(e) => StepResult {
            exit_code: 0,
            error_code: Some(e.exit_code()),
            error: Some(e.to_string()),
        },
    };
    // SAFETY: fd 3 was set up by run_step as the result pipe; we own it now.
    let mut out = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(3) };
    let _ = out.write_all(&serde_json::to_vec(&result).unwrap_or_default());
    0
}

fn step(req: &StepRequest) -> Result<i32> {
    let spec = &req.spec;
    let b = &req.bundle;
    if spec.args.is_empty() {
        return Err(RuntimeError::NoCommand);
    }
    let init = b.join("init");
    let stubs: Vec<(String, StubKind)> = spec
        .mounts
        .iter()
        .map(|m| match m {
            MountSpec::Bind {
                source,
                destination,
                ..
            } => (
                destination.clone(),
                if source.is_dir() {
                    StubKind::Dir
                } else {
                    StubKind::File
                },
            ),
            MountSpec::Tmpfs { destination, .. } => (destination.clone(), StubKind::Dir),
        })
        .collect();
    create_init_layer(&init, &stubs)?;
    let hostname = if spec.hostname.is_empty() {
        "buildkitsandbox".to_string()
    } else {
        spec.hostname.clone()
    };
    let etc = EtcFiles {
        hosts: b.join("hosts"),
        hostname: b.join("hostname"),
        resolv_conf: b.join("resolv.conf"),
    };
    let hosts = match spec.network {
        NetworkMode::Host => std::fs::read_to_string("/etc/hosts")
            .unwrap_or_else(|_| crate::containers::DEFAULT_HOSTS.to_string()),
        NetworkMode::None => crate::containers::DEFAULT_HOSTS.to_string(),
    };
    std::fs::write(&etc.hosts, hosts).ctx("write", &etc.hosts)?;
    std::fs::write(&etc.hostname, format!("{hostname}\n")).ctx("write", &etc.hostname)?;
    std::fs::write(
        &etc.resolv_conf,
        std::fs::read("/etc/resolv.conf").unwrap_or_default(),
    )
    .ctx("write", &etc.resolv_conf)?;
    let mut lowers = vec![init];
    lowers.extend(spec.lowers.iter().cloned());
    let name = format!("step-{}", hex::encode(crate::names::random_bytes::<8>()));
    let rootfs = b.join("rootfs");
    let input = LaunchInput {
        overlay: Overlay {
            lowers,
            upper: spec.upper.clone(),
            work: spec.work.clone(),
        },
        volatile: true,
        rootfs: rootfs.clone(),
        bundle: b.clone(),
        argv: spec.args.clone(),
        env: spec.env.clone(),
        user: spec.user.clone(),
        group_add: Vec::new(),
        cwd: spec.cwd.clone(),
        tty: false,
        hostname,
        network: spec.network,
        netns_path: None,
        etc_files: Some(etc),
        mounts: spec.mounts.clone(),
        resources: Resources::default(),
        readonly: false,
        cgroups_path: launch_linux::cgroups_path(&name),
    };
    sys_linux::set_subreaper()?;
    let mut signals: Vec<Signal> = PROXIED.to_vec();
    signals.push(Signal::SIGCHLD);
    let sfd = sys_linux::SignalPipe::install(&signals)?;
    let mounter = SysMounter;
    launch_linux::prepare(&mounter, &input)?;
    let runtime = runtime_for(spec.runtime.as_deref(), &b.join("runtime"))?;
    let outcome = (|| -> Result<i32> {
        let stdio = Stdio {
            stdin: Some(sys_linux::dev_null()?),
            stdout: None,
            stderr: None,
        };
        let pid = {
            let _lock = CgroupParentLock::shared();
            runtime.create(&name, b, None, stdio)?
        };
        runtime.start(&name)?;
        Ok(wait_forwarding(pid, &sfd))
    })();
    let _ = runtime.delete(&name);
    launch_linux::remove_cgroup(&name);
    launch_linux::release_cgroup_parent();
    mounter.unmount(&rootfs)?;
    outcome
}

/// Waits for `pid`, forwarding the proxied signals to it; returns its exit
/// code.
fn wait_forwarding(pid: i32, sfd: &sys_linux::SignalPipe) -> i32 {
    loop {
        let mut fds = [PollFd::new(sfd.fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return 125,
        }
        for signo in sfd.take() {
            if signo == libc::SIGCHLD {
                while let Ok(st) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                    if st == nix::sys::wait::WaitStatus::StillAlive {
                        break;
                    }
                    if st.pid() == Some(Pid::from_raw(pid))
                        && let Some(code) = sys_linux::exit_code(&st)
                    {
                        return code;
                    }
                }
            } else if let Ok(sig) = Signal::try_from(signo) {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), sig);
            }
        }
    }
}
