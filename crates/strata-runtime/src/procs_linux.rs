//! Processes by identity: a PID alone can be reused once its process is
//! reaped, so every PID strata records goes with the process's start time
//! (field 22 of `/proc/<pid>/stat`, in clock ticks since boot). A
//! [`ProcRef`] is alive only while both match. Waiting on a process that
//! is not our child uses a pidfd.

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

/// A process identified by PID and start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcRef {
    /// PID in the host's PID namespace.
    pub pid: i32,
    /// Start time in clock ticks since boot.
    pub start: u64,
}

impl ProcRef {
    /// The process `pid` as it is now, if it exists.
    pub fn of(pid: i32) -> Option<ProcRef> {
        start_time(pid).map(|start| ProcRef { pid, start })
    }

    /// This process.
    pub fn current() -> Option<ProcRef> {
        ProcRef::of(std::process::id() as i32)
    }

    /// True while the very same process exists (zombies count as gone).
    pub fn is_alive(&self) -> bool {
        self.pid > 0 && start_time(self.pid) == Some(self.start) && !is_zombie(self.pid)
    }

    /// Sends `sig` if the process is still the one recorded.
    pub fn signal(&self, sig: Signal) -> nix::Result<()> {
        if !self.is_alive() {
            return Err(nix::errno::Errno::ESRCH);
        }
        kill(Pid::from_raw(self.pid), sig)
    }

    /// Waits until the process is gone or `timeout` passes; true if gone.
    pub fn wait_gone(&self, timeout: Option<Duration>) -> bool {
        let Some(fd) = pidfd_open(self.pid) else {
            return !self.is_alive();
        };
        // The pidfd now pins this PID: if it is still ours, we wait on it.
        if !self.is_alive() {
            return true;
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let left = match deadline {
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return !self.is_alive();
                    }
                    PollTimeout::try_from((d - now).as_millis().min(60_000) as i32)
                        .unwrap_or(PollTimeout::MAX)
                }
                None => PollTimeout::try_from(60_000).unwrap_or(PollTimeout::MAX),
            };
            let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, left) {
                Ok(n) if n > 0 => return true,
                Ok(_) => {
                    if !self.is_alive() {
                        return true;
                    }
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return !self.is_alive(),
            }
        }
    }
}

/// A pidfd for `pid` (readable once the process exits).
pub fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just returned this descriptor to us.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: the
    // fields after it start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// Start time of `pid` in clock ticks since boot.
pub fn start_time(pid: i32) -> Option<u64> {
    // Field 22 overall = index 19 after the command name.
    stat_fields(pid)?.get(19)?.parse().ok()
}

fn is_zombie(pid: i32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().map(String::as_str) == Some("Z"))
}

/// Waits (briefly) until the container's init has exec'd its command: until
/// then it is the runtime's code, forked from this process with its signal
/// handlers, and a signal sent to it would vanish into them (a signal that
/// came during the start is relayed right after `start` returns).
pub fn wait_exec(pid: i32) {
    let comm = format!("/proc/{pid}/comm");
    let end = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while std::time::Instant::now() < end {
        match std::fs::read_to_string(&comm) {
            Ok(name) if name.starts_with("youki:") => {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_process_is_alive_and_a_child_is_waited() {
        let me = ProcRef::current().unwrap();
        assert!(me.is_alive());
        let fake = ProcRef {
            pid: me.pid,
            start: me.start + 1,
        };
        assert!(
            !fake.is_alive(),
            "a different start time is another process"
        );

        let mut child = std::process::Command::new("sleep")
            .arg("0.2")
            .spawn()
            .unwrap();
        let r = ProcRef::of(child.id() as i32).unwrap();
        assert!(r.is_alive());
        assert!(!r.wait_gone(Some(Duration::from_millis(10))));
        assert!(r.wait_gone(Some(Duration::from_secs(10))));
        child.wait().unwrap();
        assert!(!r.is_alive());
    }
}
