//! The CLI side of a container start: spawn the supervisor, wait for it to
//! report the start, and — in the foreground — relay the terminal or stdio
//! to and from it until the container exits.
//!
//! The supervisor is a re-exec of the helper binary (see
//! [`crate::helper`]) in a new session with `/dev/null` stdio, so neither
//! the CLI's terminal nor its pipes keep it, and the container outlives the
//! CLI. Foreground relaying: stdin (with `-i`) → `Stdin` frames, EOF →
//! `StdinClose`; with `-t` the local terminal is put in raw mode and its
//! size sent on start and on every SIGWINCH; without `-t` the signals
//! docker proxies are forwarded as `Signal` frames.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::sys::signal::Signal;

use strata_store::cancel::Cancel;

use crate::attach::{Frame, FrameBuffer};
use crate::error::{IoContext, Result, RuntimeError};
use crate::helper;
use crate::sys_linux::{self, PROXIED, RawMode};

/// A started supervisor and the CLI's end of its socket.
#[derive(Debug)]
pub struct Supervised {
    /// The socket to the supervisor.
    pub socket: UnixStream,
    frames: FrameBuffer,
    queued: Vec<Frame>,
    /// The supervisor process, when this process is its parent and lives
    /// on (a service): see [`Self::reap`].
    child: Option<std::process::Child>,
}

/// Spawns the supervisor of container `id` of store `root`; it inherits
/// the container's `lock` (held for its whole life).
pub fn spawn_supervisor(
    root: &Path,
    id: &str,
    log: &Path,
    lock: &crate::lock::ContainerLock,
) -> Result<Supervised> {
    let (ours, theirs) = UnixStream::pair().ctx("create socket pair", root)?;
    let theirs: OwnedFd = theirs.into();
    let raw = theirs.as_raw_fd();
    // A descriptor of our own for the child (ours keeps CLOEXEC).
    let lock_fd: OwnedFd = lock
        .fd()
        .try_clone_to_owned()
        .ctx("duplicate the container lock", root)?;
    let lock_raw = lock_fd.as_raw_fd();
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .ctx("open", log)?;
    let mut cmd = Command::new(helper::helper_binary());
    cmd.args(helper::supervise_args(root, id, 3, 4))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file))
        .env("STRATA_LOG", helper::log_filter());
    // SAFETY: the closure only calls async-signal-safe functions (setsid,
    // dup, dup2, fcntl) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // fd 3 = the socket, fd 4 = the lock; either may already sit on
            // the other's target, so move both out of the way first.
            let sock = libc::fcntl(raw, libc::F_DUPFD_CLOEXEC, 10);
            let lock = libc::fcntl(lock_raw, libc::F_DUPFD_CLOEXEC, 10);
            if sock < 0 || lock < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::dup2(sock, 3) < 0 || libc::dup2(lock, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .ctx("start the supervisor", helper::helper_binary())?;
    drop(theirs);
    drop(lock_fd);
    // The supervisor outlives us; a long-lived caller reaps it (see
    // `reap`), otherwise init does.
    Ok(Supervised::adopt(ours, Some(child)))
}

impl Supervised {
    /// The client's end of a supervisor's socket; `child` its process
    /// when this one is its parent.
    pub(crate) fn adopt(socket: UnixStream, child: Option<std::process::Child>) -> Supervised {
        Supervised {
            socket,
            frames: FrameBuffer::default(),
            queued: Vec::new(),
            child,
        }
    }

    /// Waits for the supervisor process to end, if this process is its
    /// parent: a long-lived front end (the Engine API service) calls it
    /// once it is done with the container, so that no supervisor stays a
    /// zombie of the service. Blocks while the supervisor lives (restarts).
    pub fn reap(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }

    /// The next frame, or `Err(Cancelled)` as soon as `cancel` fires.
    fn next(&mut self, cancel: &Cancel) -> Result<Option<Frame>> {
        loop {
            if !self.queued.is_empty() {
                return Ok(Some(self.queued.remove(0)));
            }
            let mut fds = vec![self.socket.as_fd()];
            if let Some(fd) = cancel.fd() {
                fds.push(fd);
            }
            let Some(ready) = sys_linux::poll_readable(&fds)? else {
                continue;
            };
            drop(fds);
            if ready.get(1).copied().unwrap_or(false) {
                return Err(RuntimeError::Cancelled);
            }
            if ready[0] {
                let mut s = &self.socket;
                match self
                    .frames
                    .read_from(&mut s)
                    .ctx("read from the supervisor", "socket")?
                {
                    Some(frames) => self.queued.extend(frames),
                    None => return Ok(None),
                }
            }
        }
    }

    /// The next frame from the supervisor (output, the exit), `None` once
    /// it closed its end: for a front end that relays them itself (the
    /// Engine API's attach), unlike [`Self::relay`], which owns the
    /// terminal. Frames that arrived during [`Self::wait_started`] come
    /// first. `Err(Cancelled)` once `cancel` fires.
    pub fn next_frame(&mut self, cancel: &Cancel) -> Result<Option<Frame>> {
        self.next(cancel)
    }

    /// Sends a frame (errors mean the supervisor is gone; ignored).
    pub fn send(&mut self, f: &Frame) {
        let _ = f.write_to(&mut self.socket);
    }

    /// Waits for the start; returns the container's PID, or the start
    /// error (docker's message and exit code). Output frames that arrive
    /// first are kept for [`Self::relay`]. Cancelled (a signal, see
    /// `strata_store::cancel`) before the start: tells the supervisor not
    /// to start the container (it stays created, or goes with `--rm`) and
    /// returns [`RuntimeError::Cancelled`].
    pub fn wait_started(&mut self) -> Result<i32> {
        let cancel = Cancel::global();
        let mut early = Vec::new();
        loop {
            let next = match self.next(cancel) {
                Err(RuntimeError::Cancelled) => {
                    self.send(&Frame::Cancel);
                    return Err(RuntimeError::Cancelled);
                }
                other => other?,
            };
            match next {
                Some(Frame::Started(pid)) => {
                    let rest = std::mem::take(&mut self.queued);
                    self.queued.extend(early);
                    self.queued.extend(rest);
                    return Ok(pid);
                }
                Some(Frame::Error { code, message }) => {
                    return Err(RuntimeError::Start { code, message });
                }
                Some(Frame::Exit(code)) => {
                    let rest = std::mem::take(&mut self.queued);
                    self.queued.extend(early);
                    self.queued.push(Frame::Exit(code));
                    self.queued.extend(rest);
                    return Ok(0);
                }
                Some(f) => early.push(f),
                None => {
                    return Err(RuntimeError::Start {
                        code: 125,
                        message: "the container's supervisor exited before starting it (see supervisor.log in the container's directory)".into(),
                    });
                }
            }
        }
    }
}

/// What a foreground client attaches.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// Forward stdin.
    pub stdin: bool,
    /// Print stdout.
    pub stdout: bool,
    /// Print stderr.
    pub stderr: bool,
    /// The container has a terminal.
    pub tty: bool,
    /// Forward signals (`--sig-proxy`, without a terminal).
    pub sig_proxy: bool,
    /// The detach sequence watched for on stdin (`None`: stdin is not
    /// attached).
    pub detach_keys: Option<crate::detach_keys::DetachKeys>,
}

impl Supervised {
    /// Attaches to the running container whose directory is `dir`
    /// (through its supervisor's attach socket).
    pub fn attach(dir: &Path) -> Result<Supervised> {
        Ok(Supervised::adopt(
            crate::attach_server_linux::connect(dir)?,
            None,
        ))
    }
}

impl Supervised {
    /// Sends the local terminal's size (before the start, so the first
    /// prompt is right).
    pub fn send_size(&mut self) {
        if let Some((rows, cols)) = sys_linux::winsize(std::io::stdin().as_fd())
            .or_else(|| sys_linux::winsize(std::io::stdout().as_fd()))
        {
            self.send(&Frame::Resize { rows, cols });
        }
    }

    /// Relays until the container exits; returns its exit code, or
    /// [`RuntimeError::Detached`] once the detach keys were typed (the
    /// container runs on).
    ///
    /// With `sig_proxy` (and no terminal) the signals docker proxies go to
    /// the container, the caller having stopped treating them as
    /// cancellation (a signal that cancelled just before is delivered
    /// first). Otherwise a cancelled command (a signal) stops relaying with
    /// [`RuntimeError::Cancelled`] and leaves the container running, as
    /// docker's CLI does.
    pub fn relay(mut self, opts: AttachOptions) -> Result<i32> {
        let stdin = std::io::stdin();
        let _raw = if opts.tty && opts.stdin {
            RawMode::enable(stdin.as_fd())
        } else {
            None
        };
        let proxy = opts.sig_proxy && !opts.tty;
        let mut signals = vec![Signal::SIGWINCH];
        if proxy {
            signals.extend_from_slice(PROXIED);
        }
        let sfd = sys_linux::SignalPipe::install(&signals)?;
        let cancel = Cancel::global();
        if proxy && let Some(sig) = cancel.signal() {
            self.send(&Frame::Signal(sig));
        }
        let cancel_fd = if proxy { None } else { cancel.fd() };
        let mut stdout = std::io::stdout().lock();
        let mut stderr = std::io::stderr();
        let mut stdin_open = opts.stdin;
        let mut detach = opts
            .detach_keys
            .clone()
            .filter(|_| opts.stdin)
            .map(crate::detach_keys::Matcher::new);
        let mut buf = vec![0u8; 32 * 1024];
        for f in std::mem::take(&mut self.queued) {
            if let Some(code) = emit(f, &opts, &mut stdout, &mut stderr) {
                return Ok(code);
            }
        }
        loop {
            let mut fds = vec![self.socket.as_fd(), sfd.fd()];
            let stdin_slot = stdin_open.then(|| {
                fds.push(stdin.as_fd());
                fds.len() - 1
            });
            let cancel_slot = cancel_fd.map(|fd| {
                fds.push(fd);
                fds.len() - 1
            });
            let Some(ready) = sys_linux::poll_readable(&fds)? else {
                continue;
            };
            drop(fds);
            if cancel_slot.is_some_and(|i| ready[i]) {
                return Err(RuntimeError::Cancelled);
            }
            if ready[1] {
                for signo in sfd.take() {
                    if signo == libc::SIGWINCH {
                        if opts.tty {
                            self.send_size();
                        }
                    } else {
                        self.send(&Frame::Signal(signo));
                    }
                }
            }
            if stdin_slot.is_some_and(|i| ready[i]) {
                match sys_linux::read_fd(stdin.as_fd(), &mut buf) {
                    Ok(Some(0)) => {}
                    Ok(Some(n)) => {
                        let input = match detach.as_mut() {
                            Some(m) => m.feed(&buf[..n]),
                            None => crate::detach_keys::Input::Pass(buf[..n].to_vec()),
                        };
                        match input {
                            crate::detach_keys::Input::Pass(b) => {
                                if !b.is_empty() {
                                    self.send(&Frame::Stdin(b));
                                }
                            }
                            crate::detach_keys::Input::Detach(b) => {
                                if !b.is_empty() {
                                    self.send(&Frame::Stdin(b));
                                }
                                return Err(RuntimeError::Detached);
                            }
                        }
                    }
                    Ok(None) | Err(_) => {
                        stdin_open = false;
                        self.send(&Frame::StdinClose);
                    }
                }
            }
            if ready[0] {
                let mut s = &self.socket;
                match self.frames.read_from(&mut s) {
                    Ok(Some(frames)) => {
                        for f in frames {
                            if let Some(code) = emit(f, &opts, &mut stdout, &mut stderr) {
                                return Ok(code);
                            }
                        }
                    }
                    Ok(None) | Err(_) => {
                        return Err(RuntimeError::Start {
                            code: 125,
                            message: "lost the connection to the container's supervisor".into(),
                        });
                    }
                }
            }
        }
    }
}

fn emit(
    f: Frame,
    opts: &AttachOptions,
    stdout: &mut impl Write,
    stderr: &mut impl Write,
) -> Option<i32> {
    match f {
        Frame::Stdout(b) if opts.stdout => {
            let _ = stdout.write_all(&b);
            let _ = stdout.flush();
        }
        Frame::Stderr(b) if opts.stderr => {
            let _ = stderr.write_all(&b);
        }
        Frame::Exit(code) => return Some(code),
        Frame::Error { code, message } => {
            let _ = writeln!(stderr, "Error: {message}");
            return Some(code);
        }
        _ => {}
    }
    None
}
