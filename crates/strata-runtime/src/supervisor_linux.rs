//! The supervisor: one small process per running container, like podman's
//! conmon. The CLI spawns it (a re-exec of the strata binary, in its own
//! session, stdio on `/dev/null`, diagnostics to `supervisor.log`), so the
//! container outlives the CLI. It is single-threaded, which is what makes
//! running libcontainer (which forks) in it safe.
//!
//! ```text
//! CLI ──socketpair──> supervisor ──> OCI runtime create/start
//!  ^  frames (attach.rs)   │  holds the pty master or the stdio pipes
//!  └───────────────────────┤  writes <id>-json.log
//!                          │  records State (Running, Pid, StartedAt…)
//!                          └─ waits (subreaper), records ExitCode and
//!                             FinishedAt, deletes the runtime state and
//!                             cgroups, unmounts, removes with --rm,
//!                             sends Exit, exits.
//! ```
//! The state is in the store's database at every step, so `ps`, `stop`,
//! `logs` work without the CLI that started the container; if the CLI dies
//! the supervisor just loses its client and keeps logging.
//!
//! A foreground `run --rm` without terminal or stdin (the common case)
//! skips the process: [`crate::foreground_linux`] does the same work in the CLI,
//! whose output and proxied signals it handles directly. Killed outright
//! (SIGKILL), such a CLI leaves its container to the next command's
//! reconcile instead of to a supervisor.

use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;
use strata_store::{OpenOptions, Store};

use crate::attach::{Frame, FrameBuffer};
use crate::attach_server_linux::AttachServer;
use crate::containers::{self, Container, Paths, paths};
use crate::error::{Result, RuntimeError};
use crate::foreground_linux::Local;
use crate::health_linux::Monitor as HealthMonitor;
use crate::launch_linux::{self, CgroupParentLock, LaunchInput};
use crate::logs::{LogWriter, Stream};
use crate::model::State;
use crate::net::attach_linux::NetSetup;
use crate::oci_linux::{ConsoleSocket, OciRuntime, Stdio, runtime_for};
use crate::procs_linux::ProcRef;
use crate::restart_policy::Backoff;
use crate::rootfs_linux::{Mounter, Overlay, SysMounter};
use crate::spec::{EtcFiles, INIT_PATH};
use crate::supervisor_restart_linux;
use crate::sys_linux::{self, PROXIED};

/// Runs the supervisor of container `id` in store `root`; `attach` is the
/// CLI's end of the socket pair, if a client waits; `lock` the container's
/// lock, held until the supervisor exits (after `--rm` removal). Returns
/// the process exit code (0 unless the supervisor itself failed).
pub fn run(
    root: &Path,
    id: &str,
    attach: Option<OwnedFd>,
    lock: Option<crate::lock::ContainerLock>,
) -> i32 {
    let t0 = Instant::now();
    finish(id, attach, lock, |client| {
        let store = Store::open_with(root, &OpenOptions { gc_guard: false })?;
        tracing::debug!(ms = ms(t0), "store open");
        supervise_with(&store, id, client, None, t0).map(drop)
    })
}

/// [`run`] with the store already open (a spare supervisor, see
/// [`crate::spare_linux`]); `t0` is when it got the container.
pub fn run_with_store(
    store: &Store,
    id: &str,
    attach: Option<OwnedFd>,
    lock: Option<crate::lock::ContainerLock>,
    t0: Instant,
) -> i32 {
    finish(id, attach, lock, |client| {
        supervise_with(store, id, client, None, t0).map(drop)
    })
}

/// Supervises with `f`, holding `lock` until it returns; a failure is
/// logged and sent to the client.
fn finish(
    id: &str,
    attach: Option<OwnedFd>,
    lock: Option<crate::lock::ContainerLock>,
    f: impl FnOnce(&mut Option<UnixStream>) -> Result<()>,
) -> i32 {
    let _lock = lock;
    let mut client = attach.map(UnixStream::from);
    match f(&mut client) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("supervisor of {id}: {e}");
            if let Some(c) = client.as_mut() {
                let _ = Frame::Error {
                    code: e.exit_code(),
                    message: e.to_string(),
                }
                .write_to(c);
            }
            125
        }
    }
}

/// Milliseconds since the supervisor started (for `debug` timing logs).
fn ms(t0: Instant) -> u128 {
    t0.elapsed().as_millis()
}

pub(crate) fn supervise_with(
    store: &Store,
    id: &str,
    client: &mut Option<UnixStream>,
    local: Option<Local>,
    t0: Instant,
) -> Result<Option<Local>> {
    let c =
        containers::get(store, id)?.ok_or_else(|| RuntimeError::NoSuchContainer(id.to_string()))?;
    let p = paths(store, id);
    std::env::set_current_dir(&p.dir).map_err(|e| RuntimeError::Io {
        op: "change directory",
        path: p.dir.clone(),
        source: e,
    })?;
    // One supervisor per container: a second `start` racing this one finds
    // the lock taken and leaves.
    let lock_path = p.dir.join("supervisor.lock");
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| RuntimeError::Io {
            op: "open",
            path: lock_path.clone(),
            source: e,
        })?;
    // SAFETY: flock on a descriptor we own; it lives as long as `lock`.
    if unsafe {
        libc::flock(
            std::os::fd::AsRawFd::as_raw_fd(&lock),
            libc::LOCK_EX | libc::LOCK_NB,
        )
    } != 0
    {
        return Err(RuntimeError::AlreadyRunning(id.to_string()));
    }
    sys_linux::set_subreaper()?;
    let mut signals: Vec<Signal> = PROXIED.to_vec();
    signals.push(Signal::SIGCHLD);
    let sfd = sys_linux::SignalPipe::install(&signals)?;
    if local.is_some()
        && let Some(sig) = strata_store::cancel::Cancel::global().signal()
    {
        // It came between the caller's hand-over and the line above: the
        // relay delivers it to the container with the ones to come.
        // SAFETY: raise has no preconditions; our handler takes it.
        unsafe { libc::raise(sig) };
    }
    let me = ProcRef::current();
    containers::update_state(store, id, |s| s.strata.supervisor = me)?;

    let program = c.spec.host_config.external_runtime().map(Path::new);
    let runtime = runtime_for(program, &p.runtime_root)?;
    let mounter = SysMounter;
    let mut sup = Supervisor {
        store,
        c,
        p: &p,
        runtime: runtime.as_ref(),
        mounter: &mounter,
        client: client.take(),
        frames: FrameBuffer::default(),
        net: NetSetup::default(),
        t0,
        cancelled: false,
        attached: AttachServer::bind(),
        health: None,
        local,
    };
    let result = sup.launch_and_wait(&sfd);
    *client = sup.client.take();
    result.map(|()| sup.local.take())
}

struct Supervisor<'a> {
    store: &'a Store,
    /// The container as of the current run (read again before a restart:
    /// `update` may have changed it).
    c: Container,
    p: &'a Paths,
    runtime: &'a dyn OciRuntime,
    mounter: &'a dyn Mounter,
    client: Option<UnixStream>,
    frames: FrameBuffer,
    net: NetSetup,
    t0: Instant,
    /// The client sent `Cancel` (it was cancelled before the start).
    cancelled: bool,
    /// Clients of `attach` (see [`crate::attach_server_linux`]).
    attached: AttachServer,
    /// The healthcheck, while the container runs with one.
    health: Option<HealthMonitor>,
    /// Running in the CLI's process ([`crate::foreground_linux`]): no client.
    local: Option<Local>,
}

/// The container's end of its stdio, as the supervisor holds it.
struct Io {
    /// pty master (terminal) or stdout pipe.
    out: Option<OwnedFd>,
    /// stderr pipe (no terminal).
    err: Option<OwnedFd>,
    /// Where stdin goes: the pty master (dup) or the stdin pipe.
    stdin: Option<OwnedFd>,
    tty: bool,
}

impl Supervisor<'_> {
    fn send(&mut self, f: &Frame) {
        if let Some(l) = self.local.as_mut() {
            l.take(f);
            return;
        }
        if let Some(c) = self.client.as_mut()
            && f.write_to(c).is_err()
        {
            self.client = None;
        }
        self.attached.broadcast(f);
    }

    fn launch_input(&self) -> Result<LaunchInput> {
        let cfg = &self.c.spec.config;
        let hc = &self.c.spec.host_config;
        let image = self
            .store
            .image(&strata_oci::Digest::parse(&self.c.image_id).map_err(|e| {
                RuntimeError::Invalid(format!("container {}: image ID: {e}", self.c.id))
            })?)?;
        let mut lowers = vec![self.p.init.clone()];
        lowers.extend(self.store.snapshots().lower_dirs(&image.chain_ids())?);
        let init = hc.init == Some(true);
        let (mounts, copy_up) = crate::mounts::of_container(self.store, &self.c.spec)?;
        let mut argv = Vec::new();
        if init {
            // tini as PID 1: reaps zombies and forwards signals.
            argv.extend([INIT_PATH.to_string(), "--".to_string()]);
        }
        argv.push(self.c.spec.path.clone());
        argv.extend(self.c.spec.args.iter().cloned());
        Ok(LaunchInput {
            overlay: Overlay {
                lowers,
                upper: self.p.upper.clone(),
                work: self.p.work.clone(),
            },
            volatile: hc.auto_remove,
            rootfs: self.p.rootfs.clone(),
            bundle: self.p.dir.clone(),
            argv,
            env: self.net.with_link_env(&cfg.env),
            user: cfg.user.clone(),
            group_add: hc.group_add.clone().unwrap_or_default(),
            cwd: cfg.working_dir.clone(),
            tty: cfg.tty,
            hostname: self.net.hostname(&cfg.hostname),
            network: hc.network().spec_mode(),
            netns_path: self.net.netns_path().map(Path::to_path_buf),
            etc_files: Some(self.net.etc_files(EtcFiles {
                hosts: self.p.hosts.clone(),
                hostname: self.p.hostname.clone(),
                resolv_conf: self.p.resolv_conf.clone(),
            })),
            mounts,
            copy_up,
            resources: hc.resources(),
            readonly: hc.readonly_rootfs,
            cgroups_path: launch_linux::cgroups_path(&self.c.id),
            confinement: crate::confine::resolve(self.store, &self.c)?,
        })
    }

    fn launch_and_wait(&mut self, sfd: &sys_linux::SignalPipe) -> Result<()> {
        let mut log = LogWriter::open(&self.p.log)?;
        let mut backoff = Backoff::new(self.c.state.restart_count);
        loop {
            let Some(wait) = self.run_once(sfd, &mut log, &mut backoff)? else {
                return Ok(());
            };
            // The first exit ends `run`'s attachment, as docker's CLI
            // returns then; restarts run detached.
            self.client = None;
            if !supervisor_restart_linux::wait_out(self.store, &self.c.id, wait, sfd)? {
                return Ok(());
            }
            match containers::get(self.store, &self.c.id)? {
                Some(c) => self.c = c,
                None => return Ok(()),
            }
            self.t0 = Instant::now();
        }
    }

    /// One run of the workload; returns the wait before the restart the
    /// policy asks for, or `None` once the container stays exited.
    fn run_once(
        &mut self,
        sfd: &sys_linux::SignalPipe,
        log: &mut LogWriter,
        backoff: &mut Backoff,
    ) -> Result<Option<Duration>> {
        let (pid, mut io) = match self.launch(sfd) {
            Ok(x) => x,
            Err(RuntimeError::Cancelled) => {
                // Never started: it stays created (docker's state after a
                // `run` cancelled before the start), or goes with --rm.
                self.cleanup();
                if self.c.spec.host_config.auto_remove {
                    containers::delete_with_volumes(self.store, &self.c.id)?;
                }
                return Ok(None);
            }
            Err(e) => {
                self.cleanup();
                let code = e.exit_code();
                let message = e.to_string();
                self.record_failure(code, &message)?;
                if self.c.spec.host_config.auto_remove {
                    containers::delete_with_volumes(self.store, &self.c.id)?;
                }
                self.send(&Frame::Error { code, message });
                return Ok(None);
            }
        };
        let started = Instant::now();
        let code = self.relay(pid, &mut io, log, sfd);
        tracing::debug!(ms = ms(self.t0), code, "container exited");
        if let Some(mut h) = self.health.take() {
            h.stop(self.store, &self.c.id);
        }
        drop(io);
        self.cleanup();
        tracing::debug!(ms = ms(self.t0), "cleaned up");
        // Before the state: whoever waits for the exit (`stop`) records
        // its own event after this one, as docker orders them.
        // Under the name it has now (a `rename` while it ran).
        let now = containers::get(self.store, &self.c.id).ok().flatten();
        crate::events::container(
            self.store,
            now.as_ref().unwrap_or(&self.c),
            "die",
            &[("exitCode", code.to_string())],
        );
        let wait = supervisor_restart_linux::record_exit(
            self.store,
            &self.c.id,
            backoff,
            code,
            started.elapsed(),
        )?;
        tracing::debug!(ms = ms(self.t0), ?wait, "state recorded");
        if wait.is_none() && self.c.spec.host_config.auto_remove {
            containers::delete_with_volumes(self.store, &self.c.id)?;
            tracing::debug!(ms = ms(self.t0), "removed");
        }
        self.send(&Frame::Exit(code));
        self.attached.close_clients();
        Ok(wait)
    }

    fn record_failure(&self, code: i32, message: &str) -> Result<()> {
        containers::update_state(self.store, &self.c.id, |s: &mut State| {
            s.running = false;
            s.restarting = false;
            s.pid = 0;
            s.exit_code = code;
            s.error = message.to_string();
            s.strata.init = None;
            s.strata.supervisor = None;
            s.net = Default::default();
            if !s.never_started() {
                s.status = "exited".into();
            }
        })?;
        Ok(())
    }

    /// Mounts, creates and starts the container; returns its PID and stdio.
    fn launch(&mut self, sfd: &sys_linux::SignalPipe) -> Result<(i32, Io)> {
        self.net = NetSetup::begin(self.store, &self.c)?;
        tracing::debug!(ms = ms(self.t0), "network begun");
        let input = self.launch_input()?;
        tracing::debug!(ms = ms(self.t0), "launch input ready");
        launch_linux::prepare(self.mounter, &input)?;
        tracing::debug!(ms = ms(self.t0), "rootfs mounted, bundle written");
        let cfg = &self.c.spec.config;
        let (stdio, console, mut io) = if cfg.tty {
            let console = ConsoleSocket::bind(&self.p.dir, "console.sock")?;
            let io = Io {
                out: None,
                err: None,
                stdin: None,
                tty: true,
            };
            (Stdio::default(), Some(console), io)
        } else {
            let (out_r, out_w) = sys_linux::pipe()?;
            let (err_r, err_w) = sys_linux::pipe()?;
            let (stdin_fd, stdin_w) = if cfg.open_stdin {
                let (r, w) = sys_linux::pipe()?;
                (r, Some(w))
            } else {
                (sys_linux::dev_null()?, None)
            };
            let io = Io {
                out: Some(out_r),
                err: Some(err_r),
                stdin: stdin_w,
                tty: false,
            };
            let stdio = Stdio {
                stdin: Some(stdin_fd),
                stdout: Some(out_w),
                stderr: Some(err_w),
            };
            (stdio, None, io)
        };
        if let Some(h) = self.local.as_mut().and_then(|l| l.warm.take()) {
            let _ = h.join();
        }
        let created = {
            let _lock = CgroupParentLock::shared();
            self.runtime
                .create(&self.c.id, &self.p.dir, console.as_ref(), stdio)
        };
        tracing::debug!(ms = ms(self.t0), "runtime create returned");
        let pid = match created {
            Ok(pid) => pid,
            Err(e) => {
                // The runtime's own diagnostics went to the container's
                // stderr before it failed: keep them in supervisor.log.
                if let Some(err) = &io.err {
                    sys_linux::set_nonblocking(err.as_fd());
                    let mut buf = vec![0u8; 64 * 1024];
                    if let Ok(Some(n)) = sys_linux::read_fd(err.as_fd(), &mut buf) {
                        tracing::error!("runtime output: {}", String::from_utf8_lossy(&buf[..n]));
                    }
                }
                return Err(e);
            }
        };
        if let Some(console) = &console {
            let master = console.receive_master(Duration::from_secs(10))?;
            io.stdin = Some(master.try_clone().map_err(|e| RuntimeError::Io {
                op: "dup pty master",
                path: self.p.dir.clone(),
                source: e,
            })?);
            io.out = Some(master);
        }
        drop(console);
        if let Err(e) = self.net.finish(self.store) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
            return Err(e);
        }
        tracing::debug!(ms = ms(self.t0), "network ready");
        self.apply_early_frames(&io);
        self.take_early_signals(sfd);
        if self.cancelled {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
            return Err(RuntimeError::Cancelled);
        }
        let init = ProcRef::of(pid);
        let net = self.net.state();
        let started = strata_oci::config::rfc3339_now();
        containers::update_state(self.store, &self.c.id, |s| {
            s.status = "running".into();
            s.running = true;
            s.restarting = false;
            s.pid = pid;
            s.exit_code = 0;
            s.error.clear();
            // FinishedAt keeps the last run's end, as docker's does.
            s.started_at = started;
            s.strata.init = init;
            s.net = net;
        })?;
        if let Err(e) = self.runtime.start(&self.c.id) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
            return Err(e);
        }
        tracing::debug!(ms = ms(self.t0), "started");
        crate::events::container(self.store, &self.c, "start", &[]);
        self.health = HealthMonitor::start(self.store, &self.c).unwrap_or_else(|e| {
            tracing::warn!("health check of {}: {e}", self.c.id);
            None
        });
        self.send(&Frame::Started(pid));
        Ok((pid, io))
    }

    /// In the CLI's process ([`crate::foreground_linux`]): a signal that came before
    /// the start cancels it, as a client's `Cancel` does (the container's
    /// command could not receive it yet: the runtime's init, then the
    /// command until it sets up its handlers, would lose it).
    fn take_early_signals(&mut self, sfd: &sys_linux::SignalPipe) {
        let Some(local) = self.local.as_mut() else {
            return;
        };
        let mut p = [PollFd::new(sfd.fd(), PollFlags::POLLIN)];
        if !matches!(poll(&mut p, PollTimeout::ZERO), Ok(n) if n > 0) {
            return;
        }
        let signals = sfd.take();
        match signals.iter().find(|&&s| s != libc::SIGCHLD) {
            Some(&sig) => {
                local.cancelled = Some(sig);
                self.cancelled = true;
            }
            None => {
                // Children ended (the runtime's intermediate process): the
                // relay reaps them.
                // SAFETY: raise has no preconditions; our handler takes it.
                unsafe { libc::raise(libc::SIGCHLD) };
            }
        }
    }

    /// Applies a terminal size the client sent before the start (so the
    /// shell's first prompt already knows its width).
    fn apply_early_frames(&mut self, io: &Io) {
        let Some(c) = self.client.as_ref() else {
            return;
        };
        let fd = c.as_fd();
        let mut p = [PollFd::new(fd, PollFlags::POLLIN)];
        if !matches!(poll(&mut p, PollTimeout::ZERO), Ok(n) if n > 0) {
            return;
        }
        let _ = c.set_nonblocking(true);
        let mut stream = c;
        let got = self.frames.read_from(&mut stream);
        let _ = c.set_nonblocking(false);
        if let Ok(Some(frames)) = got {
            for f in frames {
                self.handle_client_frame(f, io);
            }
        }
    }

    fn handle_client_frame(&mut self, f: Frame, io: &Io) -> bool {
        let stdin_once = self.c.spec.config.stdin_once;
        match f {
            Frame::Stdin(data) => {
                if let Some(fd) = &io.stdin
                    && (io.tty || self.c.spec.config.open_stdin)
                {
                    let _ = sys_linux::write_all_fd(fd.as_fd(), &data);
                }
            }
            Frame::StdinClose => return !io.tty && stdin_once,
            Frame::Resize { rows, cols } => {
                if io.tty
                    && let Some(m) = &io.out
                {
                    sys_linux::set_winsize(m.as_fd(), rows, cols);
                }
            }
            Frame::Signal(n) => {
                if let Ok(sig) = Signal::try_from(n)
                    && let Some(init) = self.current_init()
                {
                    let _ = init.signal(sig);
                }
            }
            Frame::Cancel => {
                self.cancelled = true;
                // Started already (the client had not seen it yet).
                if let Some(init) = self.current_init() {
                    let _ = init.signal(Signal::SIGKILL);
                }
            }
            _ => {}
        }
        false
    }

    fn current_init(&self) -> Option<ProcRef> {
        containers::get(self.store, &self.c.id)
            .ok()
            .flatten()
            .and_then(|c| c.state.strata.init)
    }

    /// Relays output to the log and the client until the container exits
    /// and its output is drained; returns the exit code.
    fn relay(
        &mut self,
        pid: i32,
        io: &mut Io,
        log: &mut LogWriter,
        sfd: &sys_linux::SignalPipe,
    ) -> i32 {
        let init = ProcRef::of(pid);
        let mut code: Option<i32> = None;
        let mut deadline: Option<Instant> = None;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if code.is_some() && io.out.is_none() && io.err.is_none() {
                break;
            }
            if let Some(d) = deadline
                && Instant::now() >= d
            {
                break;
            }
            if let Some(h) = self.health.as_mut() {
                h.tick(self.store, &self.c, self.runtime);
            }
            let sleep = [
                deadline.map(|d| d.saturating_duration_since(Instant::now())),
                crate::health_linux::sleep_for(self.health.as_ref()),
            ]
            .into_iter()
            .flatten()
            .min();
            let timeout = sleep.map_or(PollTimeout::NONE, |d| {
                let ms = d.as_millis().max(1);
                PollTimeout::try_from(ms.min(60_000) as i32).unwrap_or(PollTimeout::MAX)
            });
            let out_fd = io.out.as_ref().map(|f| f.as_fd());
            let err_fd = io.err.as_ref().map(|f| f.as_fd());
            let client_fd = self.client.as_ref().map(|c| c.as_fd());
            let mut fds = vec![PollFd::new(sfd.fd(), PollFlags::POLLIN)];
            let slots: Vec<Option<BorrowedFd<'_>>> = vec![out_fd, err_fd, client_fd];
            let mut index = [usize::MAX; 3];
            for (i, fd) in slots.iter().enumerate() {
                if let Some(fd) = fd {
                    index[i] = fds.len();
                    fds.push(PollFd::new(*fd, PollFlags::POLLIN));
                }
            }
            let attach_from = fds.len();
            fds.extend(
                self.attached
                    .fds()
                    .into_iter()
                    .map(|fd| PollFd::new(fd, PollFlags::POLLIN)),
            );
            match poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => break,
            }
            let ready = |i: usize| {
                index[i] != usize::MAX && fds[index[i]].revents().is_some_and(|r| !r.is_empty())
            };
            let sig_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
            let (out_ready, err_ready, client_ready) = (ready(0), ready(1), ready(2));
            let attach_ready: Vec<bool> = fds[attach_from..]
                .iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect();
            drop(fds);
            if attach_ready.contains(&true) {
                for f in self.attached.on_ready(&attach_ready) {
                    if self.handle_client_frame(f, io) {
                        io.stdin = None;
                    }
                }
            }

            if sig_ready {
                for signo in sfd.take() {
                    if signo == libc::SIGCHLD {
                        if let Some(h) = self.health.as_mut() {
                            h.child_exited(self.store, &self.c.id);
                        }
                        if let Some(c) = reap(pid) {
                            code = Some(c);
                            deadline = Some(Instant::now() + Duration::from_secs(2));
                        }
                    } else if let (Ok(sig), Some(init)) = (Signal::try_from(signo), init) {
                        crate::procs_linux::wait_exec(pid);
                        let _ = init.signal(sig);
                    }
                }
            }
            for (ready, stream) in [(out_ready, Stream::Stdout), (err_ready, Stream::Stderr)] {
                if !ready {
                    continue;
                }
                let slot = if stream == Stream::Stdout {
                    &mut io.out
                } else {
                    &mut io.err
                };
                let Some(fd) = slot.as_ref() else { continue };
                match sys_linux::read_fd(fd.as_fd(), &mut buf) {
                    Ok(Some(0)) => {}
                    Ok(Some(n)) => {
                        let _ = log.write(stream, &buf[..n]);
                        let frame = match stream {
                            Stream::Stdout => Frame::Stdout(buf[..n].to_vec()),
                            Stream::Stderr => Frame::Stderr(buf[..n].to_vec()),
                        };
                        self.send(&frame);
                    }
                    Ok(None) | Err(_) => {
                        let _ = log.finish(stream);
                        *slot = None;
                    }
                }
            }
            if client_ready {
                let mut close_stdin = false;
                let got = match self.client.as_mut() {
                    Some(c) => Some(self.frames.read_from(c)),
                    None => None,
                };
                match got {
                    Some(Ok(Some(frames))) => {
                        for f in frames {
                            close_stdin |= self.handle_client_frame(f, io);
                        }
                    }
                    _ => {
                        // The client went away: keep running, detached.
                        self.client = None;
                        close_stdin = self.c.spec.config.stdin_once && !io.tty;
                    }
                }
                if close_stdin {
                    io.stdin = None;
                }
            }
        }
        let _ = log.finish(Stream::Stdout);
        let _ = log.finish(Stream::Stderr);
        let _ = std::io::stdout().flush();
        if code.is_none() {
            // Left the loop without the container's end (a failed poll):
            // never exit with it still running, it would outlive its
            // supervisor with nobody to reap or record it.
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            if let Ok(st) = waitpid(Pid::from_raw(pid), None) {
                code = sys_linux::exit_code(&st);
            }
        }
        code.unwrap_or(137)
    }

    /// Releases everything the launch took: runtime state and cgroups, the
    /// rootfs mount, the network, leftovers of the bundle.
    fn cleanup(&mut self) {
        let state = (self.c.spec.host_config.external_runtime().is_none())
            .then(|| self.p.runtime_root.join(&self.c.id));
        if let Err(e) = launch_linux::delete_exited(self.runtime, &self.c.id, state.as_deref()) {
            tracing::warn!("{e}");
        }
        tracing::debug!(ms = ms(self.t0), "runtime state deleted");
        launch_linux::remove_cgroup(&self.c.id);
        launch_linux::release_cgroup_parent();
        tracing::debug!(ms = ms(self.t0), "cgroups released");
        if let Err(e) = self.mounter.unmount(&self.p.rootfs) {
            tracing::warn!("{e}");
        }
        tracing::debug!(ms = ms(self.t0), "rootfs unmounted");
        if let Err(e) = crate::confine::release(&self.p.dir) {
            tracing::warn!("{e}");
        }
        self.net.release(self.store, &self.c);
        tracing::debug!(ms = ms(self.t0), "network released");
        let _ = fs::remove_file(self.p.dir.join("console.sock"));
    }
}

/// Reaps every exited child; returns the exit code of `pid` if it was one.
fn reap(pid: i32) -> Option<i32> {
    let mut found = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(nix::sys::wait::WaitStatus::StillAlive) | Err(_) => return found,
            Ok(st) => {
                if st.pid() == Some(Pid::from_raw(pid)) {
                    found = sys_linux::exit_code(&st);
                }
            }
        }
    }
}
