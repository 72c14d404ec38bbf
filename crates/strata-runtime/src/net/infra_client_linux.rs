//! The client side of the infra process (see [`super::infra_linux`]): its
//! socket name and protocol (one JSON request or reply per
//! `SOCK_SEQPACKET` message), the connection a supervisor holds for its
//! container's life, and starting an infra process when there is none.

use std::fs;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr, connect, recv, send, socket,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{IoContext, Result, RuntimeError, SysContext};
use crate::helper;
use crate::sys_linux;

/// Largest message (a netavark request for many networks is a few KiB).
pub(super) const MAX_MSG: usize = 256 * 1024;

/// The infra state directory of a store root.
pub fn state_dir(root: &Path) -> PathBuf {
    root.join("net").join("infra")
}

/// The infra log of a store root.
pub fn log_path(root: &Path) -> PathBuf {
    root.join("net").join("infra.log")
}

/// The abstract socket name of a store root's infra process.
pub(super) fn socket_name(root: &Path) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(root.as_os_str().as_encoded_bytes());
    let hex = hex::encode(h.finalize());
    format!("strata-infra-{}", &hex[..24]).into_bytes()
}

fn addr(root: &Path) -> Result<UnixAddr> {
    UnixAddr::new_abstract(&socket_name(root)).sys("socket address")
}

/// A request to the infra process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    /// Who are you (the reply carries the infra PID).
    Hello,
    /// Runs `netavark setup` for the namespace at `netns` (or, when the
    /// bridge of `fast` is already up, attaches it over rtnetlink).
    Setup {
        /// A path to the container's network namespace.
        netns: String,
        /// netavark's options (JSON).
        options: String,
        /// The same attachment, for the fast path (default network only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fast: Option<super::veth_linux::FastAttach>,
    },
    /// Runs `netavark teardown`.
    Teardown {
        /// A path to the container's network namespace.
        netns: String,
        /// netavark's options (JSON).
        options: String,
    },
}

/// The infra process's answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Reply {
    /// Success.
    pub ok: bool,
    /// The failure.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// The infra process's PID (host namespace), for `hello`.
    #[serde(default)]
    pub pid: i32,
    /// netavark's output, for `setup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

pub(super) fn send_json<T: Serialize>(fd: RawFd, v: &T) -> Result<()> {
    let data = serde_json::to_vec(v).map_err(|e| RuntimeError::Invalid(e.to_string()))?;
    loop {
        match send(fd, &data, MsgFlags::MSG_NOSIGNAL) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).sys("send to the infra process"),
        }
    }
}

/// Receives one message; `None` at end of connection.
pub(super) fn recv_msg(fd: RawFd) -> Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; MAX_MSG];
    loop {
        match recv(fd, &mut buf, MsgFlags::empty()) {
            Ok(0) => return Ok(None),
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::ECONNRESET) => return Ok(None),
            Err(e) => return Err(e).sys("receive from the infra process"),
        }
    }
}

/// A supervisor's connection to its store root's infra process. Dropping
/// it tells the infra process this container no longer needs it.
///
/// Requests are pipelined: [`InfraClient::connect`] returns as soon as the
/// socket is connected (the `hello` answer is read with the first reply),
/// so the infra process's own start overlaps the caller's work.
#[derive(Debug)]
pub struct InfraClient {
    sock: OwnedFd,
    pid: i32,
    hello_pending: bool,
    gone: bool,
}

impl InfraClient {
    /// Connects to the infra process of `root`, starting one if there is
    /// none (or the one there is going away).
    pub fn connect(root: &Path) -> Result<InfraClient> {
        let mut last = None;
        for attempt in 0..8 {
            match Self::try_connect(root) {
                Ok(Some(c)) => return Ok(c),
                Ok(None) => match spawn(root) {
                    // Listening now: connect at once.
                    Ok(()) => continue,
                    Err(e) => last = Some(e),
                },
                Err(e) => last = Some(e),
            }
            std::thread::sleep(Duration::from_millis(5 << attempt.min(5)));
        }
        Err(last.unwrap_or_else(|| {
            RuntimeError::Invalid(format!(
                "cannot reach the infra network process of {} (see {})",
                root.display(),
                log_path(root).display()
            ))
        }))
    }

    /// `Ok(None)`: nobody listens.
    fn try_connect(root: &Path) -> Result<Option<InfraClient>> {
        let fd = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .sys("socket")?;
        match connect(fd.as_raw_fd(), &addr(root)?) {
            Ok(()) => {}
            Err(nix::errno::Errno::ECONNREFUSED) | Err(nix::errno::Errno::ENOENT) => {
                return Ok(None);
            }
            Err(e) => return Err(e).sys("connect to the infra process"),
        }
        let mut c = InfraClient {
            sock: fd,
            pid: 0,
            hello_pending: true,
            gone: false,
        };
        match c.send(&Request::Hello) {
            Ok(()) => Ok(Some(c)),
            // Reset by an infra process on its way out: start another.
            Err(_) => Ok(None),
        }
    }

    /// True once the infra process closed the connection (it was on its
    /// way out when we connected): connect again and resend.
    pub fn is_gone(&self) -> bool {
        self.gone
    }

    /// The infra process's PID (host namespace).
    pub fn pid(&mut self) -> Result<i32> {
        self.hello()?;
        Ok(self.pid)
    }

    fn hello(&mut self) -> Result<()> {
        if !self.hello_pending {
            return Ok(());
        }
        self.hello_pending = false;
        match self.recv_raw()? {
            Some(r) if r.ok && r.pid > 0 => {
                self.pid = r.pid;
                Ok(())
            }
            Some(r) => Err(RuntimeError::Invalid(format!("infra hello: {}", r.error))),
            None => {
                self.gone = true;
                Err(RuntimeError::Invalid(
                    "the infra network process went away".into(),
                ))
            }
        }
    }

    /// Sends a request (the reply comes with [`Self::recv`]).
    pub fn send(&mut self, req: &Request) -> Result<()> {
        send_json(self.sock.as_raw_fd(), req)
    }

    /// Receives the next reply; `None` if the infra process went away.
    pub fn recv(&mut self) -> Result<Option<Reply>> {
        self.hello()?;
        let r = self.recv_raw()?;
        self.gone |= r.is_none();
        Ok(r)
    }

    fn recv_raw(&mut self) -> Result<Option<Reply>> {
        Ok(match recv_msg(self.sock.as_raw_fd())? {
            Some(m) => Some(
                serde_json::from_slice(&m)
                    .map_err(|e| RuntimeError::Invalid(format!("infra reply: {e}")))?,
            ),
            None => None,
        })
    }

    /// Sends a request and waits for its reply; a failure becomes an error.
    pub fn call(&mut self, req: &Request) -> Result<Reply> {
        self.send(req)?;
        self.wait()
    }

    /// Waits for the reply to the request sent last.
    pub fn wait(&mut self) -> Result<Reply> {
        match self.recv()? {
            Some(r) if r.ok => Ok(r),
            Some(r) => Err(RuntimeError::Invalid(r.error)),
            None => Err(RuntimeError::Invalid(
                "the infra network process went away".into(),
            )),
        }
    }

    /// The path of the infra network namespace.
    pub fn netns_path(&mut self) -> Result<PathBuf> {
        Ok(PathBuf::from(format!("/proc/{}/ns/net", self.pid()?)))
    }
}

/// Spawns an infra process for `root` and waits until it listens (or says
/// another one does).
fn spawn(root: &Path) -> Result<()> {
    let dir = root.join("net");
    fs::create_dir_all(&dir).ctx("create", &dir)?;
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(root))
        .ctx("open", log_path(root))?;
    let (r, w) = sys_linux::pipe()?;
    let raw = w.as_raw_fd();
    let mut cmd = Command::new(helper::helper_binary());
    cmd.args([helper::SHIM, "infra"])
        .arg(root)
        .arg("3")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .env("STRATA_LOG", helper::log_filter());
    // SAFETY: only async-signal-safe calls (setsid, dup2, fcntl) between
    // fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
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
        .ctx("start the infra network process", helper::helper_binary())?;
    drop(w);
    let mut out = String::new();
    let mut buf = [0u8; 256];
    while let Ok(Some(n)) = sys_linux::read_fd(r.as_fd(), &mut buf) {
        if n == 0 {
            continue;
        }
        out.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let _ = child.wait();
    let out = out.trim();
    if out.starts_with("ok") || out == "exists" {
        Ok(())
    } else {
        Err(RuntimeError::Invalid(format!(
            "the infra network process failed to start: {} (see {})",
            if out.is_empty() { "no answer" } else { out },
            log_path(root).display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_names_are_per_root_and_short() {
        let a = socket_name(Path::new("/var/lib/strata"));
        let b = socket_name(Path::new("/tmp/x/root"));
        assert_ne!(a, b);
        assert!(a.len() < 100);
        let r: Request = serde_json::from_str(r#"{"op":"hello"}"#).unwrap();
        assert!(matches!(r, Request::Hello));
        let s = serde_json::to_string(&Request::Setup {
            netns: "/proc/1/fd/3".into(),
            options: "{}".into(),
            fast: None,
        })
        .unwrap();
        assert!(s.contains(r#""op":"setup""#), "{s}");
    }
}
