//! Cooperative cancellation of a command: one token per process, which the
//! CLI cancels on SIGINT, SIGTERM or SIGHUP and every long operation
//! watches.
//!
//! ```text
//! signal ─> CLI watcher thread ─> Cancel::global().cancel(signo)
//!   loops           check()/is_cancelled() between units of work
//!   poll loops      fd() in the descriptor set (readable once cancelled)
//!   byte streams    Reader / Writer: reads and writes fail with Cancelled
//!   async code      cancelled().await (the same descriptor, in tokio)
//! ```
//! Nothing here kills or exits: a cancelled operation returns an error and
//! unwinds like any failure, so its scratch, mounts, staged layers and
//! ingests are dropped on the way out and the store is left as it was
//! before the operation. The CLI turns a cancelled command into docker's
//! exit code (128 + the signal).

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, OnceLock};

/// The error a cancelled operation fails with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

impl From<Cancelled> for io::Error {
    fn from(c: Cancelled) -> io::Error {
        io::Error::other(c)
    }
}

/// True if `e` (or its cause) is a [`Cancelled`].
pub fn is_cancelled_io(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Cancelled>())
}

/// A cancellation token: cheap to clone, all clones cancelled together.
#[derive(Debug, Clone)]
pub struct Cancel {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// 0 while not cancelled, else the signal number (or -1: no signal).
    signal: AtomicI32,
    /// Readable once cancelled (a byte is written and never read).
    read: Option<OwnedFd>,
    write: Option<OwnedFd>,
}

static GLOBAL: OnceLock<Cancel> = OnceLock::new();

impl Default for Cancel {
    fn default() -> Self {
        Cancel::new()
    }
}

impl Cancel {
    /// A fresh token (tests; operations use [`Cancel::global`]).
    pub fn new() -> Cancel {
        use nix::fcntl::OFlag;
        let (read, write) = match nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK) {
            Ok((r, w)) => (Some(r), Some(w)),
            Err(_) => (None, None),
        };
        Cancel {
            inner: Arc::new(Inner {
                signal: AtomicI32::new(0),
                read,
                write,
            }),
        }
    }

    /// The process's token, which the CLI cancels on a signal.
    pub fn global() -> &'static Cancel {
        GLOBAL.get_or_init(Cancel::new)
    }

    /// Cancels (first call wins; `signo` is the signal that caused it, or
    /// -1). Returns true on the first call.
    pub fn cancel(&self, signo: i32) -> bool {
        let first = self
            .inner
            .signal
            .compare_exchange(
                0,
                if signo == 0 { -1 } else { signo },
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_ok();
        if first && let Some(w) = &self.inner.write {
            let _ = nix::unistd::write(w, b"x");
        }
        first
    }

    /// True once cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.inner.signal.load(Ordering::SeqCst) != 0
    }

    /// The signal that cancelled, if one did.
    pub fn signal(&self) -> Option<i32> {
        match self.inner.signal.load(Ordering::SeqCst) {
            n if n > 0 => Some(n),
            _ => None,
        }
    }

    /// `Err(Cancelled)` once cancelled.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }

    /// A descriptor that turns readable when the token is cancelled (for
    /// poll loops); `None` only if the process ran out of descriptors.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.inner.read.as_ref().map(|f| f.as_fd())
    }
}

/// A reader that fails with [`Cancelled`] once the token is cancelled.
#[derive(Debug)]
pub struct Reader<R> {
    inner: R,
    cancel: Cancel,
}

impl<R> Reader<R> {
    /// Wraps `inner`, watching `cancel`.
    pub fn new(inner: R, cancel: &Cancel) -> Reader<R> {
        Reader {
            inner,
            cancel: cancel.clone(),
        }
    }
}

impl<R: Read> Read for Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.cancel.check()?;
        self.inner.read(buf)
    }
}

/// A writer that fails with [`Cancelled`] once the token is cancelled.
#[derive(Debug)]
pub struct Writer<W> {
    inner: W,
    cancel: Cancel,
}

impl<W> Writer<W> {
    /// Wraps `inner`, watching `cancel`.
    pub fn new(inner: W, cancel: &Cancel) -> Writer<W> {
        Writer {
            inner,
            cancel: cancel.clone(),
        }
    }

    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.cancel.check()?;
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The conventional name of a signal (`SIGINT`), for messages.
pub fn signal_name(signo: i32) -> String {
    nix::sys::signal::Signal::try_from(signo)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {signo}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_is_seen_by_checks_streams_and_the_descriptor() {
        let c = Cancel::new();
        assert!(c.check().is_ok());
        let mut r = Reader::new(&b"abc"[..], &c);
        let mut buf = [0u8; 2];
        assert_eq!(r.read(&mut buf).unwrap(), 2);
        let fd = c.fd().unwrap();
        let mut p = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
        assert_eq!(
            nix::poll::poll(&mut p, nix::poll::PollTimeout::ZERO).unwrap(),
            0
        );

        assert!(c.clone().cancel(libc::SIGTERM));
        assert!(!c.cancel(libc::SIGINT), "the first cancel wins");
        assert_eq!(c.signal(), Some(libc::SIGTERM));
        assert_eq!(c.check(), Err(Cancelled));
        let e = r.read(&mut buf).unwrap_err();
        assert!(is_cancelled_io(&e), "{e}");
        let mut w = Writer::new(Vec::new(), &c);
        assert!(is_cancelled_io(&w.write(b"x").unwrap_err()));
        let mut p = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
        assert_eq!(
            nix::poll::poll(&mut p, nix::poll::PollTimeout::ZERO).unwrap(),
            1
        );
        assert_eq!(signal_name(libc::SIGINT), "SIGINT");
    }
}
