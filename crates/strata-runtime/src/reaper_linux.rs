//! Helpers whose owner died: registered while they live, reaped by the
//! next command.
//!
//! A helper that runs a container of its own (the build-step shim)
//! registers what must be cleaned up if it dies without cleaning up
//! itself (SIGKILL, OOM):
//!
//! ```text
//! /run/strata/helpers/<name>.lock   flock(LOCK_EX) held by the helper for its
//!                                   lifetime; JSON: the container's cgroup
//!                                   path and its rootfs mount point
//! ```
//! [`sweep`] (every CLI command runs it before opening the store) takes
//! each registration whose lock is free — its owner is gone — kills every
//! process of its cgroup (the cgroup is exact: nothing a step starts can
//! leave it), removes the cgroup directories, detaches the rootfs if it is
//! still mounted here, and deletes the registration. A live helper's
//! registration is never touched: its lock is held. The kill works on
//! cgroup v1 hierarchies, v2, and hybrids (v1 controllers plus
//! `unified`): every directory of the cgroup in any of them is emptied.

use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{IoContext, Result};

/// Where registrations live (`/run/strata/helpers` as root; see
/// [`strata_store::userns::run_dir`]).
pub fn helpers_dir() -> PathBuf {
    strata_store::userns::run_dir().join("helpers")
}

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// What a dead helper leaves to clean up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leftovers {
    /// The container's `cgroupsPath` (`/strata/step-…`).
    pub cgroup: String,
    /// The rootfs mount point.
    pub rootfs: PathBuf,
}

/// A live helper's registration, held until dropped;
/// [`Registration::release`] removes it.
#[derive(Debug)]
pub struct Registration {
    path: PathBuf,
    _file: File,
}

impl Registration {
    /// Registers `name` (unique, e.g. the step's container name) in `dir`.
    ///
    /// The file appears under its name only once it is locked and written:
    /// it is made unnamed (`O_TMPFILE`), locked, filled, then linked in. A
    /// file created under its name and locked after would let a sweep lock
    /// it first, find it empty and delete it; the helper's write would then
    /// recreate it unlocked and the next sweep would kill a live step.
    pub fn create_in(dir: &Path, name: &str, what: &Leftovers) -> Result<Registration> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        fs::create_dir_all(dir).ctx("create directory", dir)?;
        let path = dir.join(format!("{name}.lock"));
        let mut file = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_TMPFILE)
            .mode(0o600)
            .open(dir)
            .ctx("create", &path)?;
        // SAFETY: flock on a descriptor we own; nobody else can reach an
        // unnamed file.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(std::io::Error::last_os_error()).ctx("lock", &path);
        }
        let json = serde_json::to_vec(what).unwrap_or_default();
        file.write_all(&json).ctx("write", &path)?;
        let fd_path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        nix::unistd::linkat(
            None,
            &fd_path,
            None,
            &path,
            nix::fcntl::AtFlags::AT_SYMLINK_FOLLOW,
        )
        .map_err(std::io::Error::from)
        .ctx("link", &path)?;
        Ok(Registration { path, _file: file })
    }

    /// Registers `name` in [`helpers_dir`].
    pub fn create(name: &str, what: &Leftovers) -> Result<Registration> {
        Self::create_in(&helpers_dir(), name, what)
    }
}

impl Registration {
    /// Removes the registration: the helper cleaned up after itself. A
    /// registration dropped without this (an error, a panic) stays for the
    /// next [`sweep`], which finds its lock free once the helper is gone.
    pub fn release(self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Reaps every registration in [`helpers_dir`] whose helper is gone;
/// returns how many. Never fails: what cannot be cleaned now is retried
/// by the next sweep.
pub fn sweep() -> usize {
    sweep_in(&helpers_dir())
}

/// [`sweep`] of the registrations in `dir`.
pub fn sweep_in(dir: &Path) -> usize {
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    let mut reaped = 0;
    for e in rd.flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "lock") {
            continue;
        }
        let Ok(file) = File::open(&path) else {
            continue;
        };
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            continue; // its helper is alive
        }
        if !still_named(&file, &path) {
            continue; // released (removed) by its helper meanwhile
        }
        // Locked by us now. A file that is not a registration (empty,
        // left by an older strata) names nothing to clean.
        let text = fs::read(&path).unwrap_or_default();
        if let Ok(what) = serde_json::from_slice::<Leftovers>(&text) {
            tracing::debug!("reaping the leftovers of a dead helper: {what:?}");
            if !what.cgroup.is_empty() && !kill_cgroup(&what.cgroup, Duration::from_secs(5)) {
                continue; // still busy: the next sweep tries again
            }
            if !what.cgroup.is_empty() {
                remove_cgroup_dirs(&what.cgroup);
            }
            if !what.rootfs.as_os_str().is_empty() && crate::rootfs_linux::is_mounted(&what.rootfs)
            {
                let _ = nix::mount::umount2(&what.rootfs, nix::mount::MntFlags::MNT_DETACH);
            }
        }
        let _ = fs::remove_file(&path);
        reaped += 1;
    }
    reaped
}

/// Whether `path` still names the file open as `file`.
fn still_named(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// The directories of cgroup `path` (`/strata/x`) in every mounted
/// hierarchy: the v2 root, or each v1 hierarchy and a hybrid's `unified`.
pub fn cgroup_dirs(path: &str) -> Vec<PathBuf> {
    let rel = path.trim_start_matches('/');
    if rel.is_empty() {
        return Vec::new();
    }
    let root = Path::new(CGROUP_ROOT);
    if root.join("cgroup.procs").exists() {
        let d = root.join(rel);
        return if d.is_dir() { vec![d] } else { Vec::new() };
    }
    let Ok(rd) = fs::read_dir(root) else {
        return Vec::new();
    };
    rd.flatten()
        .map(|e| e.path().join(rel))
        .filter(|d| d.join("cgroup.procs").exists())
        .collect()
}

/// The processes in cgroup `path`, over all hierarchies.
pub fn cgroup_pids(path: &str) -> Vec<i32> {
    let mut pids: Vec<i32> = cgroup_dirs(path)
        .iter()
        .filter_map(|d| fs::read_to_string(d.join("cgroup.procs")).ok())
        .flat_map(|t| {
            t.lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// SIGKILLs every process of cgroup `path` until it is empty or `timeout`
/// passes; true if it is empty (or does not exist).
pub fn kill_cgroup(path: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        for d in cgroup_dirs(path) {
            // cgroup v2 (Linux 5.14+): the kernel kills them all at once.
            let _ = fs::write(d.join("cgroup.kill"), "1");
        }
        let pids = cgroup_pids(path);
        if pids.is_empty() {
            return true;
        }
        for pid in pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`kill_cgroup`] by the subreaper of its processes: reaps every exited
/// child while it waits, so none stays behind as a zombie.
pub fn kill_cgroup_reaping(path: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        reap_children();
        let empty = kill_cgroup(path, Duration::ZERO);
        reap_children();
        if (empty && cgroup_pids(path).is_empty()) || Instant::now() >= deadline {
            return empty;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reaps every exited child of this process (without blocking).
fn reap_children() {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    while let Ok(st) = waitpid(nix::unistd::Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        if st == WaitStatus::StillAlive {
            break;
        }
    }
}

/// Removes the (empty) directories of cgroup `path` in every hierarchy.
pub fn remove_cgroup_dirs(path: &str) {
    for d in cgroup_dirs(path) {
        let _ = fs::remove_dir(&d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_registration_is_kept_and_a_dead_one_reaped() {
        let t = tempfile::tempdir().unwrap();
        let what = Leftovers::default();
        let live = Registration::create_in(t.path(), "live", &what).unwrap();
        assert!(Registration::create_in(t.path(), "live", &what).is_err());
        // A dead helper: its file, nobody holding the lock.
        fs::write(
            t.path().join("dead.lock"),
            serde_json::to_vec(&what).unwrap(),
        )
        .unwrap();
        fs::write(t.path().join("half.lock"), b"").unwrap();
        assert_eq!(sweep_in(t.path()), 2);
        assert!(t.path().join("live.lock").exists());
        assert!(!t.path().join("dead.lock").exists());
        live.release();
        assert!(!t.path().join("live.lock").exists());
        assert_eq!(sweep_in(t.path()), 0);
        // Dropped without release (the helper failed): swept once free.
        drop(Registration::create_in(t.path(), "failed", &what).unwrap());
        assert_eq!(sweep_in(t.path()), 1);
        assert!(!t.path().join("failed.lock").exists());
    }

    #[test]
    fn a_sweep_racing_a_registration_never_sees_it_unlocked() {
        // Before registrations were linked in whole, a sweep could lock a
        // new file before its helper did and delete it; the helper's write
        // then left an unlocked registration that the next sweep reaped
        // (killing a live build step).
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().to_path_buf();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sweeper = {
            let (dir, done) = (dir.clone(), done.clone());
            std::thread::spawn(move || {
                let mut reaped = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    reaped += sweep_in(&dir);
                }
                reaped
            })
        };
        let what = Leftovers {
            cgroup: String::new(),
            rootfs: PathBuf::from("/nonexistent"),
        };
        for i in 0..2000 {
            let r = Registration::create_in(&dir, &format!("s{i}"), &what).unwrap();
            let path = dir.join(format!("s{i}.lock"));
            let text = fs::read(&path).unwrap();
            assert_eq!(serde_json::from_slice::<Leftovers>(&text).unwrap(), what);
            let other = File::open(&path).unwrap();
            // SAFETY: flock on a descriptor we own.
            let rc = unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            assert_ne!(rc, 0, "registration {i} is not locked");
            r.release();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(sweeper.join().unwrap(), 0);
    }

    #[test]
    fn cgroup_paths_are_never_the_root() {
        assert!(cgroup_dirs("/").is_empty());
        assert!(cgroup_dirs("").is_empty());
        assert!(cgroup_pids("/strata/definitely-not-a-cgroup-xyz").is_empty());
        assert!(kill_cgroup(
            "/strata/definitely-not-a-cgroup-xyz",
            Duration::ZERO
        ));
    }
}
