//! The on-disk layout of a store root, per-process scratch space, and the
//! locks that let several strata processes share one root.
//!
//! ```text
//! <root>/
//!   blobs/sha256/<hex>     content store (manifests, configs, layer blobs)
//!   snapshots/<id>/fs      one unpacked layer each (overlay lowerdir)
//!   containers/<id>/       per-container state (owned by strata-runtime)
//!   metadata.db            SQLite, WAL mode
//!   tmp/<owner>/           scratch of one live process
//!   tmp/<owner>.lock       held (flock) by that process while it lives
//!   gc.lock                shared by writers, exclusive for garbage collection
//! ```
//! Crash safety: everything is written under `tmp/<owner>/` first and
//! renamed into place only when complete, then recorded in the DB. A process
//! that dies leaves its `tmp/<owner>/`; the next process to open the store
//! sees the owner's lock is free and removes it. A live process's scratch is
//! never touched because its lock is held.

use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{IoContext, Result};

/// Paths inside a store root.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout of `root` (nothing is created).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Layout { root: root.into() }
    }

    /// The root itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `blobs/sha256`.
    pub fn blobs(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }

    /// `snapshots`.
    pub fn snapshots(&self) -> PathBuf {
        self.root.join("snapshots")
    }

    /// `containers`.
    pub fn containers(&self) -> PathBuf {
        self.root.join("containers")
    }

    /// `tmp`.
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// `metadata.db`.
    pub fn db(&self) -> PathBuf {
        self.root.join("metadata.db")
    }

    /// `gc.lock`.
    pub fn gc_lock(&self) -> PathBuf {
        self.root.join("gc.lock")
    }

    /// Creates the directories of the layout.
    pub fn create(&self) -> Result<()> {
        for d in [
            self.blobs(),
            self.snapshots(),
            self.containers(),
            self.tmp(),
        ] {
            fs::create_dir_all(&d).ctx("create directory", &d)?;
        }
        Ok(())
    }
}

/// How a lock is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Many holders.
    Shared,
    /// One holder.
    Exclusive,
}

/// An advisory `flock` held until dropped.
#[derive(Debug)]
pub struct FileLock {
    file: File,
}

impl FileLock {
    /// Blocks until the lock is held.
    pub fn lock(path: &Path, mode: LockMode) -> Result<FileLock> {
        let file = open_lock_file(path)?;
        flock(&file, mode, false).ctx("lock", path)?;
        Ok(FileLock { file })
    }

    /// Takes the lock if it is free right now.
    pub fn try_lock(path: &Path, mode: LockMode) -> Result<Option<FileLock>> {
        let file = open_lock_file(path)?;
        match flock(&file, mode, true) {
            Ok(()) => Ok(Some(FileLock { file })),
            Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(None),
            Err(e) => Err(e).ctx("lock", path),
        }
    }

    /// The locked file.
    pub fn file(&self) -> &File {
        &self.file
    }
}

fn open_lock_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .ctx("open lock file", path)
}

fn flock(file: &File, mode: LockMode, nonblocking: bool) -> std::io::Result<()> {
    let mut op = match mode {
        LockMode::Shared => libc::LOCK_SH,
        LockMode::Exclusive => libc::LOCK_EX,
    };
    if nonblocking {
        op |= libc::LOCK_NB;
    }
    loop {
        // SAFETY: flock on a valid, open descriptor owned by `file`.
        let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
        if rc == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// This process's scratch directory `tmp/<owner>/`, locked while it lives.
#[derive(Debug)]
pub struct Scratch {
    dir: PathBuf,
    lock_path: PathBuf,
    _lock: FileLock,
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
            _lock: lock,
            counter: AtomicU64::new(0),
        })
    }

    /// The scratch directory.
    pub fn dir(&self) -> &Path {
        &self.dir
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

/// Removes scratch dirs of processes that are gone (their lock is free).
/// Returns how many were removed.
pub fn sweep_tmp(tmp: &Path) -> Result<usize> {
    let mut removed = 0;
    let entries = match fs::read_dir(tmp) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).ctx("read directory", tmp),
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name.to_str().and_then(|n| n.strip_suffix(".lock")) else {
            continue;
        };
        let lock_path = entry.path();
        if let Some(_held) = FileLock::try_lock(&lock_path, LockMode::Exclusive)? {
            remove_tree(&tmp.join(owner)).ctx("remove stale scratch", tmp.join(owner))?;
            let _ = fs::remove_file(&lock_path);
            removed += 1;
        }
    }
    // Directories without a lock file at all (a crash between the two
    // creations) are stale too, unless some live owner has that name.
    for entry in fs::read_dir(tmp).ctx("read directory", tmp)?.flatten() {
        let p = entry.path();
        if p.is_dir()
            && !tmp
                .join(format!("{}.lock", entry.file_name().to_string_lossy()))
                .exists()
        {
            remove_tree(&p).ctx("remove stale scratch", &p)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// `rm -rf`, tolerant of a path that is already gone. Read-only directories
/// inside (left by layers with mode 0555 dirs) are made writable first.
pub fn remove_tree(path: &Path) -> std::io::Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            make_writable(path);
            match fs::remove_dir_all(path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            }
        }
    }
}

fn make_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(md) = fs::symlink_metadata(path)
        && md.is_dir()
    {
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o700));
        if let Ok(rd) = fs::read_dir(path) {
            for e in rd.flatten() {
                make_writable(&e.path());
            }
        }
    }
}

/// fsyncs a directory (after a rename into it).
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .ctx("sync directory", dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_removes_only_dead_owners() {
        let t = tempfile::tempdir().unwrap();
        let live = Scratch::create(t.path()).unwrap();
        fs::write(live.dir().join("f"), b"x").unwrap();
        // A dead owner: a dir and an unlocked lock file.
        fs::create_dir(t.path().join("p1-dead")).unwrap();
        fs::write(t.path().join("p1-dead/partial"), b"x").unwrap();
        fs::write(t.path().join("p1-dead.lock"), b"").unwrap();
        // An orphan dir without a lock file.
        fs::create_dir(t.path().join("p2-orphan")).unwrap();
        assert_eq!(sweep_tmp(t.path()).unwrap(), 2);
        assert!(live.dir().join("f").exists());
        assert!(!t.path().join("p1-dead").exists());
        assert!(!t.path().join("p2-orphan").exists());
        let d = live.dir().to_path_buf();
        drop(live);
        assert!(!d.exists());
    }

    #[test]
    fn try_lock_sees_holder() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("l");
        let held = FileLock::lock(&p, LockMode::Exclusive).unwrap();
        assert!(FileLock::try_lock(&p, LockMode::Shared).unwrap().is_none());
        drop(held);
        assert!(FileLock::try_lock(&p, LockMode::Shared).unwrap().is_some());
    }
}
