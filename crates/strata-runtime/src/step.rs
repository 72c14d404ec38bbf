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
//! The step dies with the build: the helper gets SIGTERM when the thread
//! that started it dies (`PR_SET_PDEATHSIG`), runs in its own process
//! group (a terminal's Ctrl-C reaches the build, which decides), and on
//! SIGINT, SIGTERM or SIGHUP kills every process of the step's cgroup,
//! deletes the container, unmounts and reports the step cancelled. The
//! build cancels a running step the same way ([`run_step_with`] watches a
//! [`Cancel`] token). Should the helper itself be SIGKILLed, its
//! registration ([`crate::reaper_linux`]) lets the next command kill the
//! step's processes.
//!
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
use strata_store::cancel::Cancel;

use crate::error::{IoContext, Result, RuntimeError};
use crate::helper;
use crate::isolation::{self, Isolation};
use crate::launch_linux::{self, CgroupParentLock, LaunchInput};
use crate::logs::Stream;
use crate::oci_linux::{Stdio, runtime_for};
use crate::reaper_linux::{self, Leftovers, Registration};
use crate::rootfs_linux::{Mounter, Overlay, SysMounter, create_init_layer};
use crate::spec::{Confinement, EtcFiles, MountSpec, NetworkMode, Resources};
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
    /// How the step is isolated. With [`Isolation::Chroot`], `lowers`
    /// holds one plain directory, the rootfs the command changes in place
    /// (`upper` and `work` are unused; see [`crate::chroot_linux`]).
    #[serde(default)]
    pub isolation: Isolation,
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
    /// The helper was told to stop (a signal) and killed the step.
    #[serde(default)]
    cancelled: bool,
    /// `error` is a refused mount: [`RuntimeError::NeedsChroot`].
    #[serde(default)]
    needs_chroot: bool,
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
    run_step_with(store, spec, Cancel::global(), on_output)
}

/// [`run_step`], stopped when `cancel` is cancelled: the step's processes
/// are killed, its mounts undone, and the result is
/// [`RuntimeError::Cancelled`].
pub fn run_step_with(
    store: &Store,
    spec: &StepSpec,
    cancel: &Cancel,
    on_output: &mut dyn FnMut(Stream, &[u8]),
) -> Result<ExitStatus> {
    cancel.check().map_err(|_| RuntimeError::Cancelled)?;
    let bundle = store.scratch().new_dir("step")?;
    let res = run_in(&bundle, spec, cancel, on_output);
    let _ = std::fs::remove_dir_all(&bundle);
    res
}

fn run_in(
    bundle: &Path,
    spec: &StepSpec,
    cancel: &Cancel,
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
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls (prctl, getppid, setpgid, dup2,
    // fcntl) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // Die with the thread that started us (it waits for us), and
            // not at all if it is already gone.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            // Our own process group: a terminal's Ctrl-C goes to the build,
            // which cancels us.
            libc::setpgid(0, 0);
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
    // Watched until it fires once: then the helper is told to stop.
    let mut cancel_fd = cancel.fd();
    let mut stopped = false;
    // Readable when the helper exits. A helper killed outright leaves the
    // step's processes holding our pipes: they are reaped then.
    let pidfd = crate::procs_linux::pidfd_open(child.id() as i32);
    let mut helper_fd = pidfd.as_ref().map(|f| f.as_fd());
    let mut swept = false;
    while slots.iter().any(Option::is_some) {
        if pidfd.is_some()
            && helper_fd.is_none()
            && slots[2].is_none()
            && result.is_empty()
            && !swept
        {
            // The helper died without a result (SIGKILL): its step's
            // processes still hold our pipes.
            reaper_linux::sweep();
            swept = true;
        }
        let (mut which, mut fds): (Vec<usize>, Vec<BorrowedFd<'_>>) = slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|fd| (i, fd.as_fd())))
            .unzip();
        if let Some(fd) = cancel_fd {
            which.push(usize::MAX);
            fds.push(fd);
        }
        if let Some(fd) = helper_fd {
            which.push(usize::MAX - 1);
            fds.push(fd);
        }
        let Some(flags) = sys_linux::poll_readable(&fds)? else {
            continue;
        };
        let ready: Vec<usize> = which
            .into_iter()
            .zip(flags)
            .filter_map(|(i, r)| r.then_some(i))
            .collect();
        for i in ready {
            if i == usize::MAX - 1 {
                helper_fd = None;
                continue;
            }
            if i == usize::MAX {
                // SIGTERM: the helper kills the step's cgroup, deletes the
                // container, unmounts, and reports the step cancelled.
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    Signal::SIGTERM,
                );
                stopped = true;
                cancel_fd = None;
                continue;
            }
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
    let r: StepResult = match serde_json::from_slice(&result) {
        Ok(r) => r,
        Err(_) if stopped || cancel.is_cancelled() => return Err(RuntimeError::Cancelled),
        Err(_) => {
            return Err(RuntimeError::Invalid(format!(
                "the step helper failed ({status}) without a result"
            )));
        }
    };
    if r.cancelled || stopped {
        return Err(RuntimeError::Cancelled);
    }
    if let Some(message) = r.error {
        if r.needs_chroot {
            return Err(RuntimeError::NeedsChroot(message));
        }
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
    // What the step creates (its working directory, its files) gets the
    // modes it gets under docker, whatever the caller's umask.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
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
        Err(RuntimeError::Cancelled) => StepResult {
            cancelled: true,
            ..StepResult::default()
        },
        Err(RuntimeError::NeedsChroot(what)) => StepResult {
            error_code: Some(125),
            error: Some(what),
            needs_chroot: true,
            ..StepResult::default()
        },
        Err(e) => StepResult {
            exit_code: 0,
            error_code: Some(e.exit_code()),
            error: Some(e.to_string()),
            cancelled: false,
            needs_chroot: false,
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
    if spec.isolation == Isolation::Chroot {
        return crate::chroot_linux::step(spec);
    }
    let init = b.join("init");
    // Stubs where the mounts will really be (destinations resolved
    // inside the rootfs, see `mountpoint_linux`).
    let planned = crate::mountpoint_linux::plan(spec.lowers.clone(), &spec.mounts)?;
    create_init_layer(&init, &planned.stubs)?;
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
    for (name, data) in etc_files(spec.network, &hostname) {
        let p = b.join(name);
        std::fs::write(&p, data).ctx("write", &p)?;
    }
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
        copy_up: Vec::new(),
        resources: Resources::default(),
        readonly: false,
        cgroups_path: launch_linux::cgroups_path(&name),
        // BuildKit's RUN: docker's default capabilities and seccomp profile.
        confinement: Confinement::defaults(),
    };
    sys_linux::set_subreaper()?;
    let mut signals: Vec<Signal> = PROXIED.to_vec();
    signals.push(Signal::SIGCHLD);
    let sfd = sys_linux::SignalPipe::install(&signals)?;
    let mut stop = StopSignals::default();
    // Should we be killed outright, the next command kills the step.
    let registration = Registration::create(
        &name,
        &Leftovers {
            cgroup: input.cgroups_path.clone(),
            rootfs: rootfs.clone(),
        },
    )
    .map_err(|e| tracing::debug!("step {name} not registered: {e}"))
    .ok();
    let mounter = SysMounter;
    // Nothing started yet on these paths: the registration goes with them.
    let early = |e: RuntimeError, registration: Option<Registration>| {
        if let Some(r) = registration {
            r.release();
        }
        Err(e)
    };
    if stop.seen(&sfd) {
        return early(RuntimeError::Cancelled, registration);
    }
    if let Err(e) = launch_linux::prepare(&mounter, &input) {
        // A kernel that refuses the overlay: say which isolation works.
        return early(isolation::refused(e), registration);
    }
    let runtime = match runtime_for(spec.runtime.as_deref(), &b.join("runtime")) {
        Ok(r) => r,
        Err(e) => {
            let _ = mounter.unmount(&rootfs);
            return early(e, registration);
        }
    };
    // A panic (a library's) must not skip the cleanup below.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<i32> {
        let stdio = Stdio {
            stdin: Some(sys_linux::dev_null()?),
            stdout: None,
            stderr: None,
        };
        let pid = {
            let _lock = CgroupParentLock::shared();
            runtime.create(&name, b, None, stdio)?
        };
        if stop.seen(&sfd) {
            return Err(RuntimeError::Cancelled);
        }
        runtime.start(&name)?;
        let cgroup = input.cgroups_path.as_str();
        let kill_all = |pid: i32| {
            // The step's init is PID 1 of its namespace: SIGKILL ends all
            // of it; the cgroup catches anything else.
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            reaper_linux::kill_cgroup(cgroup, std::time::Duration::ZERO);
        };
        match wait_forwarding(pid, &sfd, &mut stop, &kill_all) {
            code if stop.stopped => {
                tracing::debug!("step {name} stopped (exit {code})");
                Err(RuntimeError::Cancelled)
            }
            code => Ok(code),
        }
    }))
    .unwrap_or_else(|_| Err(RuntimeError::Invalid("the step helper failed".into())));
    // Nothing of the step may outlive it (a cancelled step, or processes
    // its command left behind). They were re-parented to us (the
    // subreaper) when its init died: reap them while emptying the cgroup.
    reaper_linux::kill_cgroup_reaping(&input.cgroups_path, std::time::Duration::from_secs(10));
    let _ = runtime.delete(&name);
    launch_linux::remove_cgroup(&name);
    launch_linux::release_cgroup_parent();
    let unmounted = mounter.unmount(&rootfs);
    if reaper_linux::cgroup_dirs(&input.cgroups_path).is_empty()
        && unmounted.is_ok()
        && let Some(r) = registration
    {
        r.release();
    }
    // Otherwise the registration stays: the next command finishes the job.
    unmounted?;
    outcome
}

/// The files a step sees at `/etc/hosts`, `/etc/hostname` and
/// `/etc/resolv.conf` (names in `/etc`, contents): the host's hosts file
/// with the host's network, else docker's default; the hostname; the
/// host's resolv.conf.
pub fn etc_files(network: NetworkMode, hostname: &str) -> [(&'static str, Vec<u8>); 3] {
    let hosts = match network {
        NetworkMode::Host => std::fs::read_to_string("/etc/hosts")
            .unwrap_or_else(|_| crate::containers::DEFAULT_HOSTS.to_string()),
        NetworkMode::None => crate::containers::DEFAULT_HOSTS.to_string(),
    };
    [
        ("hosts", hosts.into_bytes()),
        ("hostname", format!("{hostname}\n").into_bytes()),
        (
            "resolv.conf",
            std::fs::read("/etc/resolv.conf").unwrap_or_default(),
        ),
    ]
}

/// The helper's stop requests: SIGINT, SIGTERM or SIGHUP (from the build,
/// or as the parent-death signal) kill the step; other signals are
/// forwarded to it.
#[derive(Debug, Default)]
pub(crate) struct StopSignals {
    pub(crate) stopped: bool,
    forward: Vec<i32>,
}

fn is_stop(signo: i32) -> bool {
    matches!(signo, libc::SIGINT | libc::SIGTERM | libc::SIGHUP)
}

impl StopSignals {
    /// Takes pending signals (before the step runs); true if told to stop.
    pub(crate) fn seen(&mut self, sfd: &sys_linux::SignalPipe) -> bool {
        for s in sfd.take() {
            if is_stop(s) {
                self.stopped = true;
            } else if s != libc::SIGCHLD {
                self.forward.push(s);
            }
        }
        self.stopped
    }
}

/// Waits for `pid`, forwarding the proxied signals to it; a stop signal
/// calls `kill_all` (every process of the step) instead. Returns its exit
/// code.
pub(crate) fn wait_forwarding(
    pid: i32,
    sfd: &sys_linux::SignalPipe,
    stop: &mut StopSignals,
    kill_all: &dyn Fn(i32),
) -> i32 {
    if stop.stopped {
        kill_all(pid);
    }
    for s in std::mem::take(&mut stop.forward) {
        if let Ok(sig) = Signal::try_from(s) {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), sig);
        }
    }
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
            } else if is_stop(signo) {
                stop.stopped = true;
                kill_all(pid);
            } else if let Ok(sig) = Signal::try_from(signo) {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), sig);
            }
        }
    }
}
