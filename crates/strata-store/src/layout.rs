//! The on-disk layout of a store root, per-process scratch space, and the
//! locks that let several strata processes share one root.
//!
//! ```text
//! <root>/
//!   blobs/sha256/<hex>     content store (manifests, configs, layer blobs)
//!   snapshots/<id>/fs      one unpacked layer each (overlay lowerdir); a packed
//!                          snapshot has snapshots/<id>/ only, until first use
//!   containers/<id>/       per-container state (owned by strata-runtime)
//!   volumes/<name>/_data   a volume's content (recorded in `volumes`)
//!   metadata.db            SQLite, WAL mode
//!   context-index/<hex>    a build context's stat index (a sealed hint file)
//!   tmp/<owner>/           scratch of one live process
//!   tmp/<owner>.lock       held (flock) by that process while it lives
//!   tmp/trash-…            scratch of dead processes, being deleted
//!   gc.lock                shared by writers, exclusive for garbage collection
//! ```
//! Crash safety: everything is written under `tmp/<owner>/` first and
//! renamed into place only when complete, then recorded in the DB. A process
//! that dies leaves its `tmp/<owner>/`; the next process to open the store
//! sees the owner's lock is free, moves it aside and deletes it (see
//! [`crate::scratch`]). A live process's scratch is never touched because
//! its lock is held.

use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};
pub use crate::scratch::{Scratch, SweepReport, sweep_tmp};

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

    /// `volumes`.
    pub fn volumes(&self) -> PathBuf {
        self.root.join("volumes")
    }

    /// `tmp`.
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// `metadata.db`.
    pub fn db(&self) -> PathBuf {
        self.root.join("metadata.db")
    }

    /// `context-index`: the build contexts' stat indexes
    /// ([`crate::context_index`]).
    pub fn context_index(&self) -> PathBuf {
        self.root.join("context-index")
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

    /// Like [`FileLock::try_lock`], but never creates the lock file: a
    /// missing file is `Ok(None)` too (there is nothing to own).
    pub fn try_lock_existing(path: &Path, mode: LockMode) -> Result<Option<FileLock>> {
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).ctx("open lock file", path),
        };
        match flock(&file, mode, true) {
            Ok(()) => Ok(Some(FileLock { file })),
            Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(None),
            Err(e) => Err(e).ctx("lock", path),
        }
    }

    /// Blocks until an exclusive lock on a directory (no lock file of its
    /// own) is held.
    pub fn lock_dir(path: &Path) -> Result<FileLock> {
        let file = File::open(path).ctx("open directory", path)?;
        flock(&file, LockMode::Exclusive, false).ctx("lock", path)?;
        Ok(FileLock { file })
    }

    /// Takes an exclusive lock on a directory (no lock file of its own)
    /// if it is free right now.
    pub fn try_lock_dir(path: &Path) -> Result<Option<FileLock>> {
        let file = File::open(path).ctx("open directory", path)?;
        match flock(&file, LockMode::Exclusive, true) {
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
    fn try_lock_sees_holder() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("l");
        let held = FileLock::lock(&p, LockMode::Exclusive).unwrap();
        assert!(FileLock::try_lock(&p, LockMode::Shared).unwrap().is_none());
        drop(held);
        assert!(FileLock::try_lock(&p, LockMode::Shared).unwrap().is_some());
    }
}
