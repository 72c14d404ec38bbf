//! Rootless, a container's network namespace is held by a small child of
//! its supervisor, and others (the runtime's init, netavark in the infra
//! namespace, `exec`) open it as `/proc/<holder>/fd/3`.
//!
//! Why not the supervisor's own descriptor, as root does: youki's
//! libcontainer makes the process it runs in non-dumpable for the
//! container's creation, and a non-dumpable process's `/proc/<pid>/fd` is
//! only open to holders of `CAP_SYS_PTRACE` in the user namespace of its
//! executable's owner — the host's, for a root-owned `strata` binary,
//! where a rootless strata has none (EACCES). The holder is forked before
//! that, keeps no capability (so a process with fewer capabilities than
//! the supervisor may open it too) and no other descriptor (no lock, no
//! terminal), and dies with the supervisor (`PR_SET_PDEATHSIG`).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, fork};

use crate::error::{Result, SysContext};

/// A process holding a network namespace as its fd 3.
#[derive(Debug)]
pub struct Holder {
    pid: Pid,
}

impl Holder {
    /// Forks the holder of `ns`.
    /// Returns once the holder has the namespace as its fd 3 (until
    /// then that path is whatever this process has as fd 3).
    pub fn spawn(ns: &OwnedFd) -> Result<Holder> {
        let raw = ns.as_raw_fd();
        let parent = nix::unistd::getpid();
        let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).sys("pipe")?;
        let w = ready_w.as_raw_fd();
        // SAFETY: the child makes raw system calls only (fcntl, dup2,
        // write, close_range, prctl, capset, pause, _exit):
        // async-signal-safe, so forking a process that may have threads is
        // sound.
        match unsafe { fork() }.sys("fork the network namespace holder")? {
            // SAFETY: this is the forked child, which `hold` expects.
            ForkResult::Child => unsafe { hold(raw, w, parent.as_raw()) },
            ForkResult::Parent { child } => {
                drop(ready_w);
                let holder = Holder { pid: child };
                let mut b = [0u8; 1];
                let got = loop {
                    match nix::unistd::read(ready_r.as_raw_fd(), &mut b) {
                        Err(nix::errno::Errno::EINTR) => {}
                        r => break r,
                    }
                };
                match got {
                    Ok(1) => Ok(holder),
                    _ => Err(crate::error::RuntimeError::Invalid(
                        "the network namespace holder did not start".into(),
                    )),
                }
            }
        }
    }

    /// The path others open the namespace by.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/fd/3", self.pid))
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = kill(self.pid, Signal::SIGKILL);
        let _ = waitpid(self.pid, None);
    }
}

/// `struct __user_cap_header_struct` of `<linux/capability.h>`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

/// `struct __user_cap_data_struct`: all zero drops every capability.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// `_LINUX_CAPABILITY_VERSION_3` (two data structs).
const CAP_VERSION_3: u32 = 0x2008_0522;

/// The holder's life: fd 3 = the namespace and nothing else, no
/// capabilities, then nothing until killed.
///
/// # Safety
/// Runs in a forked child; makes raw system calls only.
unsafe fn hold(ns: i32, ready: i32, parent: i32) -> ! {
    // SAFETY: raw system calls on this process's own descriptors and
    // credentials; the capability structs are plain data we own.
    unsafe {
        // The ready pipe out of fd 3's way first.
        let ready = libc::fcntl(ready, libc::F_DUPFD_CLOEXEC, 4);
        if ready < 0
            || (ns != 3 && libc::dup2(ns, 3) < 0)
            || libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) < 0
            || libc::getppid() != parent
        {
            libc::_exit(1);
        }
        let header = CapHeader {
            version: CAP_VERSION_3,
            pid: 0,
        };
        let data = [CapData::default(); 2];
        libc::syscall(libc::SYS_capset, &header, data.as_ptr());
        if libc::write(ready, b"1".as_ptr().cast(), 1) != 1 {
            libc::_exit(1);
        }
        libc::syscall(libc::SYS_close_range, 0u32, 2u32, 0u32);
        libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
        loop {
            libc::pause();
        }
    }
}
