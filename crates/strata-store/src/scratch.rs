//! Scratch space: every process's in-flight work under `tmp/`, owned by a
//! lock the process holds while it lives, and the sweep that reclaims the
//! scratch of processes that are gone.
//!
//! ```text
//! tmp/<owner>.lock     flock(LOCK_EX) held by the owner for its lifetime
//! tmp/<owner>/         its scratch (owner = p<pid>-<nanos>, never reused)
//! tmp/trash-<owner>-…  scratch of a dead owner, moved aside, being deleted
//! ```
//! Whoever deletes the trash holds a `flock` on `tmp/` itself (taken
//! without waiting; nothing else locks that directory).
//!
//! Ownership is the lock, not the pid: a pid can be reused, a lock dies
//! with the last descriptor of the process holding it. The sweep (run by
//! [`crate::Store::open`]) never blocks and never fails the open:
//!
//! 1. each `<owner>.lock` it can lock without waiting belongs to a dead
//!    owner: `<owner>/` is *renamed* to `trash-…` (atomic, so no process
//!    can ever see half of it) and the lock file removed;
//! 2. a `<owner>/` without a lock file (a crash between the two creations)
//!    is moved to the trash too — a live owner creates its lock first;
//! 3. if it can lock `tmp/` without waiting, it deletes the trash,
//!    first detaching any mount a dead process left inside (deleting
//!    through a bind mount would delete its source). What it cannot delete
//!    now (a mount it may not detach, a straggler process still writing
//!    into a dead owner's directory) stays for the next sweep, and
//!    `system check` reports it.

use std::fs::{self, File};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{IoContext, Result};
use crate::layout::{FileLock, LockMode, remove_tree};
use crate::mounts;

/// Prefix of trash directories under `tmp/`.
pub const TRASH_PREFIX: &str = "trash-";

/// This process's scratch directory `tmp/<owner>/`, locked while it lives.
#[derive(Debug)]
pub struct Scratch {
    dir: PathBuf,
    lock_path: PathBuf,
    lock: FileLock,
    counter: AtomicU64,
}

impl Scratch {
    /// Creates and locks a fresh scratch dir under `tmp`.
    pub fn create(tmp: &Path) -> Result<Scratch> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let owner = format!("p{}-{nanos:x}", std::process::id());
        let lock_path = tmp.join(format!("{owner}.lock"));
        // A sweeper may unlink the lock file between our open and our flock;
        // only a lock whose inode is still the one at `lock_path` counts.
        let lock = loop {
            let lock = FileLock::lock(&lock_path, LockMode::Exclusive)?;
            if same_file(lock.file(), &lock_path) {
                break lock;
            }
        };
        let dir = tmp.join(&owner);
        fs::create_dir_all(&dir).ctx("create directory", &dir)?;
        Ok(Scratch {
            dir,
            lock_path,
            lock,
            counter: AtomicU64::new(0),
        })
    }

    /// The scratch directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The descriptor holding the ownership lock. A helper process that
    /// works in this scratch dir and may outlive this one keeps it owned by
    /// inheriting this descriptor (clear `FD_CLOEXEC` on a dup in the
    /// child): the lock is held while any process has it open.
    pub fn owner_fd(&self) -> BorrowedFd<'_> {
        self.lock.file().as_fd()
    }

    /// A new unique path inside the scratch dir (not created).
    pub fn unique_path(&self, prefix: &str) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.dir.join(format!("{prefix}-{n}"))
    }

    /// A new empty directory inside the scratch dir.
    pub fn new_dir(&self, prefix: &str) -> Result<PathBuf> {
        let p = self.unique_path(prefix);
        fs::create_dir(&p).ctx("create directory", &p)?;
        Ok(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = remove_tree(&self.dir);
        let _ = fs::remove_file(&self.lock_path);
    }
}

fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// What a sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Scratch dirs of dead owners moved to the trash.
    pub reclaimed: usize,
    /// Trash dirs deleted.
    pub deleted: usize,
    /// What could not be cleaned now (path, why); retried next sweep.
    pub deferred: Vec<(PathBuf, String)>,
}

/// Reclaims the scratch of owners that are gone; see the module docs.
/// Never blocks and never fails: problems end up in
/// [`SweepReport::deferred`].
pub fn sweep_tmp(tmp: &Path) -> SweepReport {
    let mut report = SweepReport::default();
    let Ok(entries) = fs::read_dir(tmp) else {
        return report;
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    let is_trash = |n: &str| n.starts_with(TRASH_PREFIX);
    // 1. Dead owners: their lock is free.
    for name in &names {
        let Some(owner) = name.strip_suffix(".lock") else {
            continue;
        };
        if is_trash(name) {
            continue;
        }
        let lock_path = tmp.join(name);
        match FileLock::try_lock_existing(&lock_path, LockMode::Exclusive) {
            Ok(Some(_held)) => {
                match to_trash(tmp, owner) {
                    Ok(true) => report.reclaimed += 1,
                    Ok(false) => {}
                    Err(e) => {
                        // Keep the lock file: the next sweep tries again.
                        report.deferred.push((tmp.join(owner), e.to_string()));
                        continue;
                    }
                }
                let _ = fs::remove_file(&lock_path);
            }
            Ok(None) => {}
            Err(e) => report.deferred.push((lock_path, e.to_string())),
        }
    }
    // 2. Scratch dirs without a lock file at all.
    for name in &names {
        if is_trash(name) || name.ends_with(".lock") {
            continue;
        }
        let p = tmp.join(name);
        let is_dir = fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir());
        if !is_dir || tmp.join(format!("{name}.lock")).exists() {
            continue;
        }
        match to_trash(tmp, name) {
            Ok(true) => report.reclaimed += 1,
            Ok(false) => {}
            Err(e) => report.deferred.push((p, e.to_string())),
        }
    }
    // 3. Delete the trash, unless someone else is at it.
    let Ok(Some(_trash_lock)) = FileLock::try_lock_dir(tmp) else {
        return report;
    };
    let Ok(entries) = fs::read_dir(tmp) else {
        return report;
    };
    let mut mount_table: Option<Vec<mounts::MountInfo>> = None;
    for e in entries.flatten() {
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if !name.starts_with(TRASH_PREFIX) {
            continue;
        }
        let p = e.path();
        let table = mount_table.get_or_insert_with(mounts::read);
        if let Err(why) = detach_all(table, &p) {
            report.deferred.push((p, why));
            continue;
        }
        match remove_tree(&p) {
            Ok(()) => report.deleted += 1,
            Err(e) => report.deferred.push((p, e.to_string())),
        }
    }
    report
}

/// Moves `tmp/<name>` to a fresh `tmp/trash-<name>-<nanos>`; false when
/// there was nothing to move.
fn to_trash(tmp: &Path, name: &str) -> std::io::Result<bool> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dest = tmp.join(format!(
        "{TRASH_PREFIX}{name}-{}-{nanos:x}",
        std::process::id()
    ));
    match fs::rename(tmp.join(name), dest) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Detaches every mount at or below `dir`; the error says which one
/// stayed (then nothing below `dir` may be deleted).
fn detach_all(table: &[mounts::MountInfo], dir: &Path) -> std::result::Result<(), String> {
    for m in mounts::under(table, dir) {
        if let Err(e) = mounts::detach(&m.mount_point) {
            return Err(format!(
                "{} is still mounted ({}): {e}",
                m.mount_point.display(),
                m.fs_type
            ));
        }
    }
    Ok(())
}

/// Entries under `tmp/` that belong to no live process: dead owners'
/// scratch, lock-less dirs and trash not deleted yet (for `system check`).
pub fn leftovers(tmp: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(tmp) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).ctx("read directory", tmp),
    };
    for e in entries.flatten() {
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let p = e.path();
        if name.starts_with(TRASH_PREFIX) {
            out.push(p);
        } else if let Some(owner) = name.strip_suffix(".lock") {
            if FileLock::try_lock_existing(&p, LockMode::Shared)?.is_some()
                && tmp.join(owner).exists()
            {
                out.push(tmp.join(owner));
            }
        } else if p.is_dir() && !tmp.join(format!("{name}.lock")).exists() {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_moves_dead_owners_to_the_trash_and_deletes_it() {
        let t = tempfile::tempdir().unwrap();
        let live = Scratch::create(t.path()).unwrap();
        fs::write(live.dir().join("f"), b"x").unwrap();
        // A dead owner: a dir and an unlocked lock file.
        fs::create_dir(t.path().join("p1-dead")).unwrap();
        fs::write(t.path().join("p1-dead/partial"), b"x").unwrap();
        fs::write(t.path().join("p1-dead.lock"), b"").unwrap();
        // An orphan dir without a lock file.
        fs::create_dir(t.path().join("p2-orphan")).unwrap();
        assert_eq!(
            leftovers(t.path()).unwrap(),
            [t.path().join("p1-dead"), t.path().join("p2-orphan")]
        );
        let r = sweep_tmp(t.path());
        assert_eq!((r.reclaimed, r.deleted), (2, 2), "{r:?}");
        assert!(r.deferred.is_empty(), "{r:?}");
        assert!(live.dir().join("f").exists());
        assert!(!t.path().join("p1-dead").exists());
        assert!(!t.path().join("p1-dead.lock").exists());
        assert!(!t.path().join("p2-orphan").exists());
        assert!(leftovers(t.path()).unwrap().is_empty());
        // Nothing but the live owner's dir and lock file is left in tmp/.
        let mut names: Vec<_> = fs::read_dir(t.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let owner = live
            .dir()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert_eq!(names, [owner.clone(), format!("{owner}.lock")]);
        let d = live.dir().to_path_buf();
        drop(live);
        assert!(!d.exists());
    }

    #[test]
    fn trash_that_cannot_be_deleted_is_deferred_not_an_error() {
        let t = tempfile::tempdir().unwrap();
        // Someone else is deleting the trash: the sweep leaves it.
        let other = FileLock::try_lock_dir(t.path()).unwrap().unwrap();
        fs::create_dir(t.path().join("p3-dead")).unwrap();
        fs::write(t.path().join("p3-dead.lock"), b"").unwrap();
        let r = sweep_tmp(t.path());
        assert_eq!((r.reclaimed, r.deleted), (1, 0));
        assert_eq!(
            leftovers(t.path()).unwrap().len(),
            1,
            "the trash is left over"
        );
        drop(other);
        let r = sweep_tmp(t.path());
        assert_eq!(r.deleted, 1);
        assert!(leftovers(t.path()).unwrap().is_empty());
    }
}
