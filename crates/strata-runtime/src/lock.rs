//! Who is operating on a container: one lock per container, so that no
//! command deletes what another is creating, running or removing.
//!
//! ```text
//! containers/<id>/container.lock   flock(LOCK_EX), held by
//!   create      from the staging directory until the record is in (and,
//!               in `run`, on until the supervisor has it)
//!   supervisor  its whole life: it inherits the CLI's descriptor, so the
//!               lock passes over without a gap
//!   rm, prune   while removing
//!   the sweep   while removing a directory left without a record
//! ```
//! `container prune` only *tries* the lock and skips a container in use,
//! so it never fails the command it raced; `rm` and `start` wait for it.
//! A directory without a record whose lock is free was left by a command
//! that died creating or removing it, and [`crate::containers::sweep`]
//! removes it.
//!
//! A lock on a removed container is recognised: whoever waited for it
//! finds the file gone from its path and gets "No such container".

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{IoContext, Result, RuntimeError};

/// The lock file's name inside a container's directory.
pub const LOCK_FILE: &str = "container.lock";

/// A held container lock (released on drop, or when every process that
/// inherited it is gone).
#[derive(Debug)]
pub struct ContainerLock {
    file: File,
}

fn open(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .ctx("open", path)
}

/// [`open`] of an existing container's lock; `None` once the container
/// is gone (its directory is renamed aside before it is deleted, so the
/// lock is never recreated in a directory being removed).
fn open_existing(dir: &Path) -> Result<Option<File>> {
    match open(dir) {
        Err(crate::error::RuntimeError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Ok(None)
        }
        r => r.map(Some),
    }
}

fn flock(f: &File, nonblocking: bool) -> std::io::Result<bool> {
    let op = libc::LOCK_EX | if nonblocking { libc::LOCK_NB } else { 0 };
    loop {
        // SAFETY: flock on a descriptor owned by `f`.
        if unsafe { libc::flock(f.as_raw_fd(), op) } == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::EWOULDBLOCK) if nonblocking => return Ok(false),
            _ => return Err(e),
        }
    }
}

/// True while `f` is still the file at `dir/container.lock` (not a
/// removed container's).
fn still_there(f: &File, dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (f.metadata(), std::fs::metadata(dir.join(LOCK_FILE))) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

impl ContainerLock {
    /// Locks the container in `dir`, waiting for whoever holds it.
    /// `Ok(None)`: the container was removed meanwhile (or never was).
    pub fn acquire(dir: &Path) -> Result<Option<ContainerLock>> {
        let Some(file) = open_existing(dir)? else {
            return Ok(None);
        };
        flock(&file, false).ctx("lock", dir.join(LOCK_FILE))?;
        Ok(still_there(&file, dir).then_some(ContainerLock { file }))
    }

    /// Locks the container in `dir` if nobody holds it now. `Ok(None)`:
    /// in use, or removed.
    pub fn try_acquire(dir: &Path) -> Result<Option<ContainerLock>> {
        let Some(file) = open_existing(dir)? else {
            return Ok(None);
        };
        if !flock(&file, true).ctx("lock", dir.join(LOCK_FILE))? {
            return Ok(None);
        }
        Ok(still_there(&file, dir).then_some(ContainerLock { file }))
    }

    /// Creates and locks the lock of a new container directory (nobody
    /// else can know it yet).
    pub fn create(dir: &Path) -> Result<ContainerLock> {
        let file = open(dir)?;
        flock(&file, false).ctx("lock", dir.join(LOCK_FILE))?;
        Ok(ContainerLock { file })
    }

    /// The descriptor holding the lock (a child that inherits it holds the
    /// lock too, for as long as it keeps it open).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Adopts a lock inherited on descriptor `fd`.
    ///
    /// # Safety
    /// `fd` must be an open descriptor of a container lock file that
    /// nothing else in this process owns.
    pub unsafe fn from_raw_fd(fd: i32) -> ContainerLock {
        // Not to be inherited further (runtimes, the container).
        // SAFETY: fcntl on a descriptor the caller says is open.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        // SAFETY: the caller guarantees the descriptor is ours to own.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        ContainerLock {
            file: File::from(owned),
        }
    }
}

/// Locks held by this process for containers it created and has not
/// started yet (`run` = create, then start: the lock must not be free in
/// between, or a concurrent `container prune` could remove the new
/// container).
static HELD: Mutex<Option<HashMap<String, ContainerLock>>> = Mutex::new(None);

/// Keeps `lock` for container `id` until [`take`] or the process exits.
pub fn hold(id: &str, lock: ContainerLock) {
    let mut h = HELD.lock().unwrap_or_else(|e| e.into_inner());
    h.get_or_insert_with(HashMap::new)
        .insert(id.to_string(), lock);
}

/// The lock this process holds for container `id`, if any.
pub fn take(id: &str) -> Option<ContainerLock> {
    HELD.lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
        .and_then(|h| h.remove(id))
}

/// The lock of container `id` in `dir`: the one this process holds, else
/// acquired (waiting up to `patience` for its holder, then `Ok(None)` if
/// `busy()` says the holder is expected to keep it — a running
/// container's supervisor).
pub fn claim(
    id: &str,
    dir: &Path,
    patience: Duration,
    busy: impl Fn() -> bool,
) -> Result<Option<ContainerLock>> {
    if let Some(l) = take(id) {
        return Ok(Some(l));
    }
    let deadline = Instant::now() + patience;
    loop {
        if !dir.is_dir() {
            return Err(RuntimeError::NoSuchContainer(id.to_string()));
        }
        if let Some(l) = ContainerLock::try_acquire(dir)? {
            return Ok(Some(l));
        }
        if busy() || Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `containers/<id>` → the lock path (for messages).
pub fn lock_path(dir: &Path) -> PathBuf {
    dir.join(LOCK_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_and_removed_containers_are_recognised() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("c");
        std::fs::create_dir(&dir).unwrap();
        let held = ContainerLock::create(&dir).unwrap();
        assert!(ContainerLock::try_acquire(&dir).unwrap().is_none());
        drop(held);
        let again = ContainerLock::try_acquire(&dir).unwrap().unwrap();
        // Removed while held: a waiter's lock does not count.
        let waiter = std::thread::spawn({
            let dir = dir.clone();
            move || ContainerLock::acquire(&dir).unwrap().is_none()
        });
        std::thread::sleep(Duration::from_millis(50));
        std::fs::remove_dir_all(&dir).unwrap();
        drop(again);
        assert!(waiter.join().unwrap(), "the waiter sees it gone");
        assert!(ContainerLock::acquire(&dir).unwrap().is_none());

        std::fs::create_dir(&dir).unwrap();
        hold("x", ContainerLock::create(&dir).unwrap());
        assert!(ContainerLock::try_acquire(&dir).unwrap().is_none());
        assert!(
            claim("x", &dir, Duration::ZERO, || false)
                .unwrap()
                .is_some()
        );
        assert!(take("x").is_none());
    }
}
