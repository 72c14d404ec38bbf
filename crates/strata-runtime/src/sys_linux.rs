//! Small system helpers the helpers and the CLI relay share: terminal raw
//! mode (restored on drop), window sizes, signals delivered through a
//! self-pipe, pipes, `/dev/null`, and `waitpid` status → docker exit code.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::termios::{self, SetArg, Termios};
use nix::sys::wait::WaitStatus;

use crate::error::{IoContext, Result, SysContext};

/// The terminal of `fd` in raw mode until dropped.
pub struct RawMode {
    fd: RawFd,
    saved: Termios,
}

impl RawMode {
    /// Puts `fd` in raw mode if it is a terminal.
    pub fn enable(fd: BorrowedFd<'_>) -> Option<RawMode> {
        let saved = termios::tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(fd, SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode {
            fd: fd.as_raw_fd(),
            saved,
        })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: the descriptor outlives the guard (it is stdin).
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        let _ = termios::tcsetattr(fd, SetArg::TCSANOW, &self.saved);
    }
}

/// True if `fd` is a terminal.
pub fn is_tty(fd: BorrowedFd<'_>) -> bool {
    termios::tcgetattr(fd).is_ok()
}

/// The size (rows, cols) of the terminal on `fd`.
pub fn winsize(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    // SAFETY: winsize is plain old data; all zeroes is a valid value.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize into the pointed struct.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

/// Sets the size of the terminal (pty master) on `fd`.
pub fn set_winsize(fd: BorrowedFd<'_>, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize from the pointed struct.
    unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
}

/// The signals a foreground client proxies to its container (docker's
/// `--sig-proxy`: everything but SIGCHLD, SIGPIPE, SIGURG, SIGWINCH and the
/// unblockable ones).
pub const PROXIED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGCONT,
    Signal::SIGTSTP,
];

/// Write end of the signal pipe, for the async-signal-safe handler.
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; the pipe is non-blocking,
        // so a full pipe drops the byte instead of blocking the handler.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

extern "C" fn ignore_signal(_sig: libc::c_int) {}

/// The kernel's `struct sigaction` (rt_sigaction(2) takes it directly;
/// glibc's wrapper refuses signals 32 and 33, which it reserves).
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// Restores the default disposition of every signal this process inherited
/// as ignored (whoever started strata may have ignored some, even glibc's
/// reserved 32 and 33; the container must not inherit that).
fn reset_ignored() {
    let max = 64;
    for sig in 1..=max {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        let mut old = KernelSigaction {
            handler: 0,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        // SAFETY: rt_sigaction with a NULL new action only reads the
        // current one into `old`; sigsetsize is 8 on Linux.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                std::ptr::null::<KernelSigaction>(),
                &mut old as *mut KernelSigaction,
                8usize,
            )
        };
        if rc == 0 && old.handler == libc::SIG_IGN {
            let dfl = KernelSigaction {
                handler: libc::SIG_DFL,
                flags: 0,
                restorer: 0,
                mask: 0,
            };
            // SAFETY: installs SIG_DFL, which needs no restorer.
            unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    &dfl as *const KernelSigaction,
                    std::ptr::null_mut::<KernelSigaction>(),
                    8usize,
                )
            };
        }
    }
}

fn set_handler(sig: libc::c_int, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: a zeroed sigaction with a valid handler and an empty mask.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

/// Signals delivered as bytes on a pipe (the self-pipe trick), so a poll
/// loop can wait for them with its other descriptors.
///
/// Handlers rather than a blocked mask and a signalfd, on purpose: the
/// OCI runtime forks the container's process from this one, and a blocked
/// mask or an ignored disposition survives `execve` — the container would
/// start with SIGTERM blocked and SIGPIPE ignored. Caught signals are reset
/// to their defaults by `execve`, so nothing leaks. For the same reason
/// SIGPIPE gets a no-op handler here instead of Rust's SIG_IGN: a write to
/// a closed pipe fails with EPIPE in this process, and the container gets
/// the default SIGPIPE.
#[derive(Debug)]
pub struct SignalPipe {
    read: OwnedFd,
    _write: OwnedFd,
}

impl SignalPipe {
    /// Catches `signals` (and neutralises SIGPIPE); one per process.
    pub fn install(signals: &[Signal]) -> Result<SignalPipe> {
        let (read, write) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
                .sys("pipe")?;
        SIGNAL_PIPE.store(write.as_raw_fd(), Ordering::Relaxed);
        reset_ignored();
        set_handler(libc::SIGPIPE, ignore_signal);
        for s in signals {
            set_handler(*s as libc::c_int, on_signal);
        }
        // An empty mask: nothing blocked to inherit.
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
        Ok(SignalPipe {
            read,
            _write: write,
        })
    }

    /// The descriptor to poll.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// The signals received since the last call.
    pub fn take(&self) -> Vec<i32> {
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match nix::unistd::read(self.read.as_raw_fd(), &mut buf) {
                Ok(n) if n > 0 => out.extend(buf[..n].iter().map(|&b| b as i32)),
                Err(nix::errno::Errno::EINTR) => {}
                _ => return out,
            }
        }
    }
}

/// A pipe (read end, write end), close-on-exec.
/// Waits until one of `fds` is readable (or hung up), with no timeout;
/// returns which are. `None`: a signal interrupted the wait (call again).
pub fn poll_readable(fds: &[BorrowedFd<'_>]) -> Result<Option<Vec<bool>>> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut pfds: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
        .collect();
    match poll(&mut pfds, PollTimeout::NONE) {
        Ok(_) => Ok(Some(
            pfds.iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect(),
        )),
        Err(nix::errno::Errno::EINTR) => Ok(None),
        Err(source) => Err(crate::error::RuntimeError::Sys { op: "poll", source }),
    }
}

pub fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).sys("pipe")
}

/// `/dev/null`, opened read-write.
pub fn dev_null() -> Result<OwnedFd> {
    let f = File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .ctx("open", "/dev/null")?;
    Ok(f.into())
}

/// Sets O_NONBLOCK on `fd`.
pub fn set_nonblocking(fd: BorrowedFd<'_>) {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    if let Ok(flags) = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL) {
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        let _ = fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags));
    }
}

/// Reads once from `fd`: `Ok(Some(n))`, `Ok(None)` at end (EOF, or EIO
/// from a pty master whose slave closed), `Err` for real errors;
/// EAGAIN/EINTR read as `Some(0)`.
pub fn read_fd(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Option<usize>> {
    match nix::unistd::read(fd.as_raw_fd(), buf) {
        Ok(0) => Ok(None),
        Ok(n) => Ok(Some(n)),
        Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => Ok(Some(0)),
        Err(nix::errno::Errno::EIO) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Writes all of `data` to `fd` (retrying on EINTR/EAGAIN).
pub fn write_all_fd(fd: BorrowedFd<'_>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) => {
                let mut p = [nix::poll::PollFd::new(
                    fd.as_fd(),
                    nix::poll::PollFlags::POLLOUT,
                )];
                let _ = nix::poll::poll(&mut p, nix::poll::PollTimeout::from(1000u16));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// docker's exit code for a wait status: the code, or 128 + signal.
pub fn exit_code(status: &WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, c) => Some(*c),
        WaitStatus::Signaled(_, s, _) => Some(128 + *s as i32),
        _ => None,
    }
}

/// Becomes a child subreaper: orphaned descendants (a runc-created
/// container's init) are re-parented to this process.
pub fn set_subreaper() -> Result<()> {
    // SAFETY: prctl with integer arguments.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).ctx("set child subreaper", "/proc/self");
    }
    Ok(())
}

/// Moves this process into a mount namespace of its own whose mounts do
/// not propagate back (every mount made from now on is invisible to the
/// host and goes when the namespace does).
pub fn private_mount_namespace() -> nix::Result<()> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::unistd::Pid;

    #[test]
    fn exit_codes_like_docker() {
        let p = Pid::from_raw(1);
        assert_eq!(exit_code(&WaitStatus::Exited(p, 3)), Some(3));
        assert_eq!(
            exit_code(&WaitStatus::Signaled(p, Signal::SIGKILL, false)),
            Some(137)
        );
        assert_eq!(exit_code(&WaitStatus::StillAlive), None);
    }

    #[test]
    fn pipes_read_and_write() {
        let (r, w) = pipe().unwrap();
        write_all_fd(w.as_fd(), b"abc").unwrap();
        drop(w);
        let mut buf = [0u8; 8];
        assert_eq!(read_fd(r.as_fd(), &mut buf).unwrap(), Some(3));
        assert_eq!(read_fd(r.as_fd(), &mut buf).unwrap(), None);
        assert!(!is_tty(r.as_fd()));
    }
}
