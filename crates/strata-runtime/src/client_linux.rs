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
}

/// Spawns the supervisor of container `id` of store `root`.
pub fn spawn_supervisor(root: &Path, id: &str, log: &Path) -> Result<Supervised> {
    let (ours, theirs) = UnixStream::pair().ctx("create socket pair", root)?;
    let theirs: OwnedFd = theirs.into();
    let raw = theirs.as_raw_fd();
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .ctx("open", log)?;
    let mut cmd = Command::new(helper::helper_binary());
    cmd.args(helper::supervise_args(root, id, 3))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file))
        .env("STRATA_LOG", helper::log_filter());
    // SAFETY: the closure only calls async-signal-safe functions (setsid,
    // dup2) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
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
    let child = cmd
        .spawn()
        .ctx("start the supervisor", helper::helper_binary())?;
    drop(theirs);
    // The supervisor outlives us; nobody waits for it but init.
    drop(child);
    Ok(Supervised {
        socket: ours,
        frames: FrameBuffer::default(),
        queued: Vec::new(),
    })
}

impl Supervised {
    fn next(&mut self) -> Result<Option<Frame>> {
        if !self.queued.is_empty() {
            return Ok(Some(self.queued.remove(0)));
        }
        let mut s = &self.socket;
        self.frames
            .next_blocking(&mut s)
            .ctx("read from the supervisor", "socket")
    }

    /// Sends a frame (errors mean the supervisor is gone; ignored).
    pub fn send(&mut self, f: &Frame) {
        let _ = f.write_to(&mut self.socket);
    }

    /// Waits for the start; returns the container's PID, or the start
    /// error (docker's message and exit code). Output frames that arrive
    /// first are kept for [`Self::relay`].
    pub fn wait_started(&mut self) -> Result<i32> {
        let mut early = Vec::new();
        loop {
            match self.next()? {
                Some(Frame::Started(pid)) => {
                    // Frames that came in the same read (a short-lived
                    // container's output and exit) are already buffered.
                    if let Ok(Some(more)) = self.frames.push(&[]) {
                        early.extend(more);
                    }
                    self.queued.extend(early);
                    return Ok(pid);
                }
                Some(Frame::Error { code, message }) => {
                    return Err(RuntimeError::Start { code, message });
                }
                Some(Frame::Exit(code)) => {
                    self.queued.extend(early);
                    self.queued.push(Frame::Exit(code));
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
#[derive(Debug, Clone, Copy, Default)]
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

    /// Relays until the container exits; returns its exit code.
    pub fn relay(mut self, opts: AttachOptions) -> Result<i32> {
        let stdin = std::io::stdin();
        let _raw = if opts.tty && opts.stdin {
            RawMode::enable(stdin.as_fd())
        } else {
            None
        };
        let mut signals = vec![Signal::SIGWINCH];
        if opts.sig_proxy && !opts.tty {
            signals.extend_from_slice(PROXIED);
        }
        let sfd = sys_linux::SignalPipe::install(&signals)?;
        let mut stdout = std::io::stdout().lock();
        let mut stderr = std::io::stderr();
        let mut stdin_open = opts.stdin;
        let mut buf = vec![0u8; 32 * 1024];
        for f in std::mem::take(&mut self.queued) {
            if let Some(code) = emit(f, &opts, &mut stdout, &mut stderr) {
                return Ok(code);
            }
        }
        loop {
            let mut fds = vec![self.socket.as_fd(), sfd.fd()];
            if stdin_open {
                fds.push(stdin.as_fd());
            }
            let Some(ready) = sys_linux::poll_readable(&fds)? else {
                continue;
            };
            drop(fds);
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
            if stdin_open && ready.get(2).copied().unwrap_or(false) {
                match sys_linux::read_fd(stdin.as_fd(), &mut buf) {
                    Ok(Some(0)) => {}
                    Ok(Some(n)) => self.send(&Frame::Stdin(buf[..n].to_vec())),
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
