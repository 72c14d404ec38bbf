//! A supervisor made ahead of need, for a long-lived front end (the
//! Engine API service): the helper binary already exec'd, its store
//! already open, waiting on a control socket for the container to
//! supervise. A start then costs a message instead of a process start,
//! and the container is supervised exactly as by a freshly spawned
//! supervisor ([`crate::client_linux::spawn_supervisor`]): the same
//! process in its own session, holding the container's lock and its
//! end of the attach socket, logging to the container's
//! `supervisor.log`, outliving whoever started it.
//!
//! ```text
//! front end ──ctl socket──> strata __shim spare <root> 3
//!   "<id>" + SCM_RIGHTS [attach socket, container lock, supervisor.log]
//!                            └─> stderr = supervisor.log, supervise <id>
//! ```
//! A spare that gets no job (its front end exits and the control socket
//! closes) exits without touching anything.
//!
//! The front end may first send `!warm` when a start is likely to come
//! (the service does on a container create: docker's `run` starts next):
//! the idle spare then makes the kernel's first cgroup move of the start
//! cheap ahead of time, as a foreground `run` does on a thread of its own
//! (see [`crate::launch_linux::warm_cgroup_moves`]). Warms queued behind
//! one are served by it.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};
use strata_store::{OpenOptions, Store};

use crate::client_linux::Supervised;
use crate::error::{IoContext, Result, RuntimeError};
use crate::helper;

/// The longest container ID a job carries (docker's are 64 hex digits).
const MAX_ID: usize = 256;

/// The message asking an idle spare to warm cgroup moves.
const WARM: &[u8] = b"!warm";

/// A connected pair of message sockets (each send is one message).
fn message_pair() -> Result<(UnixStream, UnixStream)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| RuntimeError::Sys {
        op: "create a spare supervisor's control socket",
        source: e,
    })?;
    Ok((UnixStream::from(a), UnixStream::from(b)))
}

/// A spare supervisor, waiting for its container.
#[derive(Debug)]
pub struct Spare {
    ctl: UnixStream,
    child: Child,
}

impl Spare {
    /// Starts a spare supervisor for store `root`.
    pub fn spawn(root: &Path) -> Result<Spare> {
        let (ours, theirs) = message_pair()?;
        let theirs: OwnedFd = theirs.into();
        let raw = theirs.as_raw_fd();
        let mut cmd = Command::new(helper::helper_binary());
        cmd.args(helper::spare_args(root, 3))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Until it has a container: the front end's own log.
            .stderr(Stdio::inherit())
            .env("STRATA_LOG", helper::log_filter());
        // SAFETY: the closure only calls async-signal-safe functions
        // (setsid, fcntl, dup2) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let sock = libc::fcntl(raw, libc::F_DUPFD_CLOEXEC, 10);
                if sock < 0 || libc::dup2(sock, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .ctx("start a spare supervisor", helper::helper_binary())?;
        drop(theirs);
        Ok(Spare { ctl: ours, child })
    }

    /// Asks the idle spare to warm cgroup moves: a start is likely to
    /// follow (see the module's doc). Never blocks; a failure is ignored.
    pub fn warm(&self) {
        let _ = nix::sys::socket::send(
            self.ctl.as_raw_fd(),
            WARM,
            MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
        );
    }

    /// Whether the spare still waits (it may have died: a broken store).
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Hands container `id` to the spare, as
    /// [`crate::client_linux::spawn_supervisor`] would to a new
    /// supervisor: it inherits `lock` and logs to `log`.
    pub fn start(
        self,
        id: &str,
        log: &Path,
        lock: &crate::lock::ContainerLock,
    ) -> Result<Supervised> {
        if id.is_empty() || id.len() > MAX_ID {
            return Err(RuntimeError::Invalid(format!("container ID {id:?}")));
        }
        let (ours, theirs) = UnixStream::pair().ctx("create socket pair", log)?;
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .ctx("open", log)?;
        let fds: [RawFd; 3] = [
            theirs.as_raw_fd(),
            lock.fd().as_raw_fd(),
            log_file.as_raw_fd(),
        ];
        let iov = [IoSlice::new(id.as_bytes())];
        sendmsg::<()>(
            self.ctl.as_raw_fd(),
            &iov,
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map_err(|e| RuntimeError::Sys {
            op: "hand the container to a spare supervisor",
            source: e,
        })?;
        // Its copies went with the message; the spare is now the
        // container's supervisor, and leaves our watch as one would.
        Ok(Supervised::adopt(ours, Some(self.child)))
    }
}

/// A job as the spare receives it.
struct Job {
    id: String,
    attach: OwnedFd,
    lock: OwnedFd,
    log: OwnedFd,
}

/// One message from the front end.
enum Message {
    Job(Job),
    Warm,
    /// The front end closed the socket.
    Closed,
    /// Nothing queued (a non-blocking read).
    Nothing,
}

/// Reads one message from `ctl` (waiting for it unless `nonblocking`).
fn next_message(ctl: &UnixStream, nonblocking: bool) -> Result<Message> {
    let mut buf = [0u8; MAX_ID];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 3]);
    let mut flags = MsgFlags::MSG_CMSG_CLOEXEC;
    if nonblocking {
        flags |= MsgFlags::MSG_DONTWAIT;
    }
    let msg = loop {
        match recvmsg::<()>(ctl.as_raw_fd(), &mut iov, Some(&mut space), flags) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::EAGAIN) if nonblocking => return Ok(Message::Nothing),
            r => {
                break r.map_err(|e| RuntimeError::Sys {
                    op: "receive a job",
                    source: e,
                })?;
            }
        }
    };
    let mut fds: Vec<OwnedFd> = Vec::new();
    for c in msg.cmsgs().map_err(|e| RuntimeError::Sys {
        op: "read a job",
        source: e,
    })? {
        if let ControlMessageOwned::ScmRights(got) = c {
            // SAFETY: SCM_RIGHTS just installed these descriptors in our
            // table; nothing else owns them.
            fds.extend(
                got.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    let n = msg.bytes;
    if n == 0 && fds.is_empty() {
        return Ok(Message::Closed);
    }
    if fds.is_empty() && &buf[..n] == WARM {
        return Ok(Message::Warm);
    }
    let id = std::str::from_utf8(&buf[..n])
        .map_err(|_| RuntimeError::Invalid("a job's container ID is not UTF-8".into()))?
        .to_string();
    let [attach, lock, log]: [OwnedFd; 3] = fds
        .try_into()
        .map_err(|_| RuntimeError::Invalid(format!("job for {id}: expected 3 descriptors")))?;
    Ok(Message::Job(Job {
        id,
        attach,
        lock,
        log,
    }))
}

/// Waits for the job on `ctl`, calling `warm` for warm requests (once for
/// those that queued meanwhile); `None` once the front end closed it.
fn receive(ctl: &UnixStream, warm: &mut dyn FnMut()) -> Result<Option<Job>> {
    loop {
        match next_message(ctl, false)? {
            Message::Job(job) => return Ok(Some(job)),
            Message::Closed => return Ok(None),
            Message::Warm | Message::Nothing => {}
        }
        warm();
        loop {
            match next_message(ctl, true)? {
                Message::Job(job) => return Ok(Some(job)),
                Message::Closed => return Ok(None),
                Message::Warm => {}
                Message::Nothing => break,
            }
        }
    }
}

/// Makes the next cgroup move cheap (see
/// [`crate::launch_linux::warm_cgroup_moves`]); back to one thread after.
fn warm_cgroups() {
    if let Some(h) = crate::launch_linux::warm_cgroup_moves() {
        let _ = h.join();
    }
}

/// `strata __shim spare <root> <ctl-fd>`: opens the store, waits for a
/// container and supervises it; returns the process exit code.
pub fn main(root: &Path, ctl: OwnedFd) -> i32 {
    let ctl = UnixStream::from(ctl);
    let store = match Store::open_with(root, &OpenOptions { gc_guard: false }) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(
                "spare supervisor: opening the store at {}: {e}",
                root.display()
            );
            return 125;
        }
    };
    let job = match receive(&ctl, &mut warm_cgroups) {
        Ok(Some(job)) => job,
        Ok(None) => return 0,
        Err(e) => {
            tracing::error!("spare supervisor: {e}");
            return 125;
        }
    };
    drop(ctl);
    let t0 = Instant::now();
    // SAFETY: dup2 of a descriptor we own onto stderr.
    if unsafe { libc::dup2(job.log.as_raw_fd(), 2) } < 0 {
        tracing::error!(
            "spare supervisor of {}: stderr to supervisor.log: {}",
            job.id,
            std::io::Error::last_os_error()
        );
    }
    drop(job.log);
    // SAFETY: the front end sent the container's lock; we own this copy.
    let lock = unsafe { crate::lock::ContainerLock::from_raw_fd(job.lock.into_raw_fd()) };
    crate::supervisor_linux::run_with_store(&store, &job.id, Some(job.attach), Some(lock), t0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_job(front: &UnixStream, id: &[u8], fds: &[RawFd]) {
        let cmsgs = [ControlMessage::ScmRights(fds)];
        sendmsg::<()>(
            front.as_raw_fd(),
            &[IoSlice::new(id)],
            if fds.is_empty() { &[] } else { &cmsgs },
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .unwrap();
    }

    fn never() -> impl FnMut() {
        || panic!("no warm was asked for")
    }

    #[test]
    fn a_closed_control_socket_is_no_job() {
        let (front, spare) = message_pair().unwrap();
        drop(front);
        assert!(receive(&spare, &mut never()).unwrap().is_none());
    }

    #[test]
    fn a_job_carries_the_id_and_three_descriptors() {
        let (front, spare) = message_pair().unwrap();
        let (a, _b) = UnixStream::pair().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let f = std::fs::File::create(dir.path().join("log")).unwrap();
        send_job(
            &front,
            b"abc123",
            &[a.as_raw_fd(), f.as_raw_fd(), f.as_raw_fd()],
        );
        let job = receive(&spare, &mut never()).unwrap().unwrap();
        assert_eq!(job.id, "abc123");
        // Descriptors of our own, not the sender's numbers.
        assert_ne!(job.attach.as_raw_fd(), a.as_raw_fd());
        assert!(job.lock.as_raw_fd() >= 0 && job.log.as_raw_fd() >= 0);
    }

    #[test]
    fn a_job_without_its_descriptors_is_refused() {
        let (front, spare) = message_pair().unwrap();
        send_job(&front, b"abc", &[]);
        assert!(receive(&spare, &mut never()).is_err());
    }

    #[test]
    fn queued_warms_are_served_once_and_the_job_follows() {
        let (front, spare) = message_pair().unwrap();
        let (a, _b) = UnixStream::pair().unwrap();
        for _ in 0..3 {
            send_job(&front, WARM, &[]);
        }
        send_job(
            &front,
            b"id1",
            &[a.as_raw_fd(), a.as_raw_fd(), a.as_raw_fd()],
        );
        let mut warms = 0;
        let job = receive(&spare, &mut || warms += 1).unwrap().unwrap();
        assert_eq!((job.id.as_str(), warms), ("id1", 1));
    }

    #[test]
    fn a_warm_then_the_front_end_gone_is_no_job() {
        let (front, spare) = message_pair().unwrap();
        send_job(&front, WARM, &[]);
        drop(front);
        let mut warms = 0;
        assert!(receive(&spare, &mut || warms += 1).unwrap().is_none());
        assert_eq!(warms, 1);
    }

    #[test]
    fn the_front_ends_warm_never_blocks() {
        let (front, spare) = message_pair().unwrap();
        let mut s = Spare {
            ctl: front,
            child: Command::new("true").spawn().unwrap(),
        };
        // Far more than the socket buffers: none of them blocks.
        for _ in 0..10_000 {
            s.warm();
        }
        let mut warms = 0;
        drop(std::mem::replace(&mut s.ctl, UnixStream::pair().unwrap().0));
        assert!(receive(&spare, &mut || warms += 1).unwrap().is_none());
        assert_eq!(warms, 1);
        let _ = s.child.wait();
    }
}
