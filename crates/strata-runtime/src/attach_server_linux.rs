//! `attach`'s way in: the supervisor listens on `attach.sock` in the
//! container's directory, and every client that connects speaks the
//! frames of [`crate::attach`] — it gets the container's output and its
//! exit, and sends stdin, terminal sizes and signals — until it goes away
//! or the workload exits. The CLI that started the container keeps its
//! own socket pair (see [`crate::attach`] for why); this socket is only
//! for clients that come later.
//!
//! The socket is bound by a relative name (the supervisor's working
//! directory is the container's directory, so a deep store root cannot
//! exceed `sun_path`); clients connect through `/proc/self/fd/N/…` of the
//! directory for the same reason ([`connect`]). The directory is root's
//! only (0700), which is what keeps others out.

use std::fs;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use crate::attach::{Frame, FrameBuffer};
use crate::error::{IoContext, Result};

/// The socket's name in the container's directory.
pub const SOCKET: &str = "attach.sock";

/// The listening socket and the clients attached through it.
#[derive(Debug, Default)]
pub(crate) struct AttachServer {
    listener: Option<UnixListener>,
    clients: Vec<(UnixStream, FrameBuffer)>,
}

impl AttachServer {
    /// Listens on [`SOCKET`] in the current directory (a failure only
    /// means nobody can attach; it is logged).
    pub(crate) fn bind() -> AttachServer {
        let _ = fs::remove_file(SOCKET);
        let listener = match UnixListener::bind(SOCKET) {
            Ok(l) => {
                let _ = l.set_nonblocking(true);
                Some(l)
            }
            Err(e) => {
                tracing::warn!("attach socket: {e}");
                None
            }
        };
        AttachServer {
            listener,
            clients: Vec::new(),
        }
    }

    /// The descriptors to poll: the listener, then every client.
    pub(crate) fn fds(&self) -> Vec<BorrowedFd<'_>> {
        self.listener
            .iter()
            .map(|l| l.as_fd())
            .chain(self.clients.iter().map(|(c, _)| c.as_fd()))
            .collect()
    }

    /// Handles readiness (`ready[i]` for `fds()[i]`): accepts new clients,
    /// reads the frames the others sent, forgets those that left.
    pub(crate) fn on_ready(&mut self, ready: &[bool]) -> Vec<Frame> {
        let mut frames = Vec::new();
        let offset = usize::from(self.listener.is_some());
        let mut gone = Vec::new();
        for (i, (c, buf)) in self.clients.iter_mut().enumerate() {
            if !ready.get(i + offset).copied().unwrap_or(false) {
                continue;
            }
            let mut s = &*c;
            match buf.read_from(&mut s) {
                Ok(Some(f)) => frames.extend(f),
                Ok(None) => gone.push(i),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => gone.push(i),
            }
        }
        for i in gone.into_iter().rev() {
            self.clients.remove(i);
        }
        if offset == 1
            && ready.first().copied().unwrap_or(false)
            && let Some(l) = &self.listener
        {
            while let Ok((c, _)) = l.accept() {
                let _ = c.set_nonblocking(false);
                self.clients.push((c, FrameBuffer::default()));
            }
        }
        frames
    }

    /// Sends a frame to every client (one that cannot take it is dropped).
    pub(crate) fn broadcast(&mut self, f: &Frame) {
        self.clients.retain_mut(|(c, _)| f.write_to(c).is_ok());
    }

    /// Ends every attachment (the workload exited).
    pub(crate) fn close_clients(&mut self) {
        self.clients.clear();
    }
}

impl Drop for AttachServer {
    fn drop(&mut self) {
        if self.listener.take().is_some() {
            let _ = fs::remove_file(SOCKET);
        }
    }
}

/// Connects to the attach socket of the container directory `dir`.
pub fn connect(dir: &Path) -> Result<UnixStream> {
    let d = fs::File::open(dir).ctx("open", dir)?;
    let path = format!("/proc/self/fd/{}/{SOCKET}", d.as_raw_fd());
    UnixStream::connect(&path).ctx("connect to the attach socket", dir.join(SOCKET))
}
