//! Chroot isolation of a build step (`build --isolation chroot`), for
//! environments where the kernel refuses mounts and user namespaces (an
//! unprivileged CI container: Kaniko's case). The step helper runs the
//! command itself, in a child process:
//!
//! ```text
//! helper (single-threaded)              child
//!   resolve USER, PATH lookup, WORKDIR    setpgid, PDEATHSIG
//!   /dev nodes in the rootfs (mknod,      unshare(CLONE_NEWNS)?
//!     best effort)                          yes: /dev (tmpfs + host nodes),
//!   subreaper, signal pipe                       /proc, /sys (read-only),
//!   fork ───────────────────────────────►        pivot_root into the rootfs
//!   wait, forwarding signals;               no:  chroot into the rootfs
//!   then SIGKILL every process left       chdir WORKDIR, setgroups/gid/uid
//!                                         execve
//! ```
//!
//! The rootfs is a plain directory (`StepSpec::lowers[0]`), a copy of the
//! parent layers the build diffs afterwards (`strata_store::plainfs_linux`).
//! With a mount namespace the step gets buildah's chroot isolation:
//! `pivot_root`, its own `/dev` with the host's null, zero, full, random,
//! urandom and tty, `/proc`, and `/sys` read-only. Without one, a plain
//! `chroot(2)`: `/dev` holds the device nodes the caller may create (a
//! container's root has `CAP_MKNOD`; else `/dev/null` is an empty file) and
//! there is no `/proc` or `/sys`.
//!
//! What it does not isolate (docs/rootless.md): the step shares the
//! caller's network, PID, IPC, UTS and user namespaces, cgroup, capabilities
//! and seccomp filter; nothing is dropped beyond what the caller already
//! lacks. `RUN --mount` and `RUN --network=none` need mounts or namespaces
//! and are refused.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};
use nix::sys::signal::Signal;
use nix::sys::stat::{Mode, SFlag, makedev, mknod};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use crate::error::{Result, RuntimeError};
use crate::inroot_linux::{MountedView, RootDir, find_executable};
use crate::spec::NetworkMode;
use crate::spec::process::{env_value, process_env};
use crate::spec::user::resolve_user;
use crate::step::{StepSpec, StopSignals, wait_forwarding};
use crate::sys_linux::{self, PROXIED};

/// The device nodes a step gets: name, major, minor.
const DEVICES: &[(&str, u64, u64)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Runs `spec` chrooted into `spec.lowers[0]`; returns its exit code.
pub(crate) fn step(spec: &StepSpec) -> Result<i32> {
    let [rootfs] = spec.lowers.as_slice() else {
        return Err(RuntimeError::Invalid(
            "chroot isolation: the step needs exactly one rootfs directory".into(),
        ));
    };
    if !spec.mounts.is_empty() {
        return Err(RuntimeError::Invalid(
            "RUN --mount needs mounts, which --isolation chroot does without".into(),
        ));
    }
    if spec.network == NetworkMode::None {
        return Err(RuntimeError::Invalid(
            "RUN --network=none needs a network namespace, which --isolation chroot does not make"
                .into(),
        ));
    }
    if spec.runtime.is_some() {
        return Err(RuntimeError::Invalid(
            "--runtime cannot be combined with --isolation chroot".into(),
        ));
    }
    let root = RootDir::open(rootfs)?;
    let user = resolve_user(
        &spec.user,
        root.read_to_string("/etc/passwd").as_deref(),
        root.read_to_string("/etc/group").as_deref(),
        &[],
    )?;
    let hostname = if spec.hostname.is_empty() {
        "buildkitsandbox"
    } else {
        &spec.hostname
    };
    let env = process_env(&spec.env, hostname, false, &user.home);
    let cwd = if spec.cwd.is_empty() { "/" } else { &spec.cwd };
    crate::launch_linux::ensure_workdir(&root, cwd, user.uid, user.gid)?;
    let exe = find_executable(
        &MountedView::new(&root, &[]),
        &spec.args[0],
        env_value(&env, "PATH"),
        cwd,
    )?;
    make_devices(rootfs);
    let child = Child {
        rootfs: rootfs.clone(),
        cwd: cstring(cwd)?,
        exe: cstring(&exe)?,
        argv: spec
            .args
            .iter()
            .map(|a| cstring(a))
            .collect::<Result<_>>()?,
        env: env.iter().map(|e| cstring(e)).collect::<Result<_>>()?,
        uid: user.uid,
        gid: user.gid,
        groups: user.additional_gids.clone(),
        stdin: sys_linux::dev_null()?,
    };
    sys_linux::set_subreaper()?;
    let mut signals: Vec<Signal> = PROXIED.to_vec();
    signals.push(Signal::SIGCHLD);
    let sfd = sys_linux::SignalPipe::install(&signals)?;
    let mut stop = StopSignals::default();
    if stop.seen(&sfd) {
        return Err(RuntimeError::Cancelled);
    }
    // SAFETY: the helper is single-threaded (a fresh exec of the binary),
    // so the child may run any code before it execs.
    let pid = match unsafe { fork() }.map_err(|e| RuntimeError::Sys {
        op: "fork",
        source: e,
    })? {
        ForkResult::Child => child.run(),
        ForkResult::Parent { child } => {
            // Here too, so a stop right after the fork finds the group.
            let _ = nix::unistd::setpgid(child, child);
            child.as_raw()
        }
    };
    // The step's processes are its own process group; the ones that
    // leave it are still our descendants (we are their subreaper).
    let code = wait_forwarding(pid, &sfd, &mut stop, &|pid| {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = nix::sys::signal::killpg(Pid::from_raw(pid), Signal::SIGKILL);
    });
    kill_descendants(pid);
    if stop.stopped {
        return Err(RuntimeError::Cancelled);
    }
    Ok(code)
}

/// Makes `/dev`, `/proc` and `/sys` directories of the rootfs itself
/// (a mount never follows an image's symlink there) and creates the
/// device nodes in `/dev`, as far as the kernel lets us (a container's
/// root has `CAP_MKNOD`); without them `/dev/null` is an empty file. The
/// step's layer leaves all three out.
fn make_devices(rootfs: &Path) {
    for d in ["dev", "proc", "sys"] {
        let p = rootfs.join(d);
        if std::fs::symlink_metadata(&p).is_ok_and(|m| !m.is_dir()) {
            let _ = std::fs::remove_file(&p);
        }
        let _ = std::fs::create_dir(&p);
    }
    let dev = rootfs.join("dev");
    for (name, major, minor) in DEVICES {
        let p = dev.join(name);
        let _ = std::fs::remove_file(&p);
        let made = mknod(
            &p,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(*major, *minor),
        );
        match made {
            // mknod's mode went through the umask.
            Ok(()) => {
                let _ = std::fs::set_permissions(&p, PermissionsExt::from_mode(0o666));
            }
            Err(e) => {
                tracing::debug!("chroot isolation: mknod /dev/{name}: {e}");
                if *name == "null" {
                    let _ = std::fs::File::create(&p);
                    let _ = std::fs::set_permissions(&p, PermissionsExt::from_mode(0o666));
                }
            }
        }
    }
}

/// SIGKILLs and reaps every process left of the step: its process group,
/// then every child of ours (the subreaper's), until none is left. Without
/// a readable `/proc` only the group is killed.
fn kill_descendants(pgid: i32) {
    let _ = nix::sys::signal::killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    loop {
        let Some(children) = children() else {
            while let Ok(st) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                if st == nix::sys::wait::WaitStatus::StillAlive {
                    break;
                }
            }
            return;
        };
        for c in children {
            let _ = nix::sys::signal::kill(Pid::from_raw(c), Signal::SIGKILL);
        }
        // Every child of ours is the step's: wait until none is left.
        match waitpid(Pid::from_raw(-1), None) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

/// The pids of our children (`/proc/self/task/*/children`); `None` when
/// `/proc` cannot tell.
fn children() -> Option<Vec<i32>> {
    let mut out = Vec::new();
    for t in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let s = std::fs::read_to_string(t.path().join("children")).ok()?;
        out.extend(s.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
    }
    Some(out)
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| RuntimeError::Invalid(format!("NUL byte in {s:?}")))
}

/// What the forked child needs, prepared before the fork.
struct Child {
    rootfs: PathBuf,
    cwd: CString,
    exe: CString,
    argv: Vec<CString>,
    env: Vec<CString>,
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
    stdin: OwnedFd,
}

impl Child {
    /// The child's side: never returns.
    fn run(self) -> ! {
        let code = match self.enter() {
            Ok(never) => match never {},
            Err((what, e)) => {
                eprintln!("strata: chroot isolation: {what}: {e}");
                match e {
                    nix::errno::Errno::ENOENT => 127,
                    nix::errno::Errno::EACCES => 126,
                    _ => 125,
                }
            }
        };
        // SAFETY: _exit ends the forked child without running the
        // parent's atexit handlers or destructors.
        unsafe { libc::_exit(code) }
    }

    fn enter(&self) -> std::result::Result<std::convert::Infallible, (&'static str, nix::Error)> {
        let err = |what: &'static str| move |e: nix::Error| (what, e);
        nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0)).map_err(err("setpgid"))?;
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } != 0 {
            return Err(("prctl", nix::Error::last()));
        }
        nix::unistd::dup2(self.stdin.as_raw_fd(), 0).map_err(err("stdin"))?;
        if unshare(CloneFlags::CLONE_NEWNS).is_ok() {
            // A mount namespace of our own: buildah's chroot isolation.
            self.mounts().map_err(err("mount"))?;
            self.pivot().map_err(err("pivot_root"))?;
        } else {
            nix::unistd::chroot(&self.rootfs).map_err(err("chroot"))?;
        }
        nix::unistd::chdir("/").map_err(err("chdir"))?;
        nix::unistd::chdir(self.cwd.as_c_str()).map_err(err("chdir to the working directory"))?;
        let groups: Vec<nix::unistd::Gid> = self
            .groups
            .iter()
            .map(|g| nix::unistd::Gid::from_raw(*g))
            .collect();
        nix::unistd::setgroups(&groups).map_err(err("setgroups"))?;
        let gid = nix::unistd::Gid::from_raw(self.gid);
        nix::unistd::setresgid(gid, gid, gid).map_err(err("setgid"))?;
        let uid = nix::unistd::Uid::from_raw(self.uid);
        nix::unistd::setresuid(uid, uid, uid).map_err(err("setuid"))?;
        // Nothing of the helper's beyond stdio (the result pipe is fd 3).
        // SAFETY: close_range with integer arguments; CLOEXEC closes at exec.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            )
        };
        if rc != 0 {
            return Err(("close_range", nix::Error::last()));
        }
        nix::unistd::execve(&self.exe, &self.argv, &self.env).map_err(err("exec"))
    }

    /// `/dev`, `/proc` and `/sys` inside the rootfs, in our mount namespace.
    fn mounts(&self) -> nix::Result<()> {
        let none: Option<&str> = None;
        mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)?;
        // pivot_root needs the new root to be a mount point.
        mount(
            Some(&self.rootfs),
            &self.rootfs,
            none,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            none,
        )?;
        let dev = self.rootfs.join("dev");
        mount(
            Some("tmpfs"),
            &dev,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some("mode=755,size=65536k"),
        )?;
        for (name, _, _) in DEVICES {
            let target = dev.join(name);
            std::fs::File::create(&target).map_err(|_| nix::Error::EIO)?;
            mount(
                Some(&Path::new("/dev").join(name)),
                &target,
                none,
                MsFlags::MS_BIND,
                none,
            )?;
        }
        for (link, to) in [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
        ] {
            let _ = std::os::unix::fs::symlink(to, dev.join(link));
        }
        let _ = std::fs::create_dir(dev.join("shm"));
        let proc_dir = self.rootfs.join("proc");
        // Our PID namespace's /proc; a user namespace that does not own
        // it may only bind the host's.
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        if mount(Some("proc"), &proc_dir, Some("proc"), flags, none).is_err() {
            mount(
                Some("/proc"),
                &proc_dir,
                none,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                none,
            )?;
        }
        let sys = self.rootfs.join("sys");
        mount(
            Some("/sys"),
            &sys,
            none,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            none,
        )?;
        mount(
            none,
            &sys,
            none,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            none,
        )?;
        Ok(())
    }

    /// Makes the rootfs our `/` and detaches the old one.
    fn pivot(&self) -> nix::Result<()> {
        nix::unistd::chdir(&self.rootfs)?;
        nix::unistd::pivot_root(".", ".")?;
        umount2(".", MntFlags::MNT_DETACH)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_needs_mounts_or_namespaces() {
        let t = tempfile::tempdir().unwrap();
        let base = StepSpec {
            lowers: vec![t.path().to_path_buf()],
            args: vec!["true".into()],
            ..StepSpec::default()
        };
        let with_mount = StepSpec {
            mounts: vec![crate::spec::MountSpec::Tmpfs {
                destination: "/t".into(),
                options: Vec::new(),
            }],
            ..base.clone()
        };
        assert!(
            step(&with_mount)
                .unwrap_err()
                .to_string()
                .contains("RUN --mount")
        );
        let none = StepSpec {
            network: NetworkMode::None,
            ..base.clone()
        };
        assert!(
            step(&none)
                .unwrap_err()
                .to_string()
                .contains("--network=none")
        );
        let two = StepSpec {
            lowers: vec![t.path().into(), t.path().into()],
            ..base
        };
        assert!(step(&two).is_err());
    }
}
