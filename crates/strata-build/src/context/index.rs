//! [`StatIndex`]: `(path, dev, ino, size, mtime_ns, ctime_ns) → sha256` for
//! one context root, loaded in bulk (on a background thread, so the
//! context walk overlaps the query) and written back whole when anything
//! changed (one compact blob per root in the store's `context_index`
//! table, through `strata_store::db::context_index`).
//! See the module docs of [`crate::context`] for the racy-timestamp rule.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use strata_oci::Digest;
use strata_store::Store;
use strata_store::db::Db;
use strata_store::db::context_index::{self, FileStat};

use super::{ContextError, Result};

/// The default racy window: covers 1-2 s timestamp filesystems (ext3,
/// FAT) and the coarse kernel clock of nanosecond ones. A file modified
/// within this long before it was hashed is hashed again next time.
pub const DEFAULT_RACY_WINDOW: Duration = Duration::from_secs(2);

/// One recorded file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
    mode: u32,
    sha: [u8; 32],
    recorded_ns: i64,
    dirty: bool,
    /// Looked up (or recorded) this session.
    seen: bool,
}

/// FxHash-style hasher: the keys are file paths we produced ourselves, so
/// DoS-resistant SipHash buys nothing and costs a third of a no-op lookup.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        self.0 = h;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxBuild = std::hash::BuildHasherDefault<FxHasher>;
type Loaded = HashMap<Box<str>, Entry, FxBuild>;

/// Counters of one index session (for benches and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// Entries loaded from the DB.
    pub loaded: u64,
    /// Files whose recorded digest was reused.
    pub hits: u64,
    /// Files read and hashed.
    pub hashed: u64,
    /// Bytes read while hashing.
    pub hashed_bytes: u64,
    /// Of `hashed`, files that had an entry that was racy.
    pub racy: u64,
}

/// The stat index of one context root.
pub struct StatIndex {
    prefix: String,
    entries: Loaded,
    loader: Option<JoinHandle<Result<Loaded>>>,
    racy_window_ns: i64,
    stats: IndexStats,
    /// Directories walked completely this session: entries under them that
    /// were not looked up belong to files that no longer exist (or are
    /// ignored) and are dropped at flush.
    walked: Vec<String>,
}

impl std::fmt::Debug for StatIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatIndex")
            .field("root", &self.prefix)
            .field("entries", &self.entries.len())
            .field("stats", &self.stats)
            .finish()
    }
}

/// The stat fields the index compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatKey {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub mode: u32,
}

impl StatKey {
    pub(crate) fn of(md: &Metadata) -> StatKey {
        StatKey {
            dev: md.dev(),
            ino: md.ino(),
            size: md.size(),
            mtime_ns: md
                .mtime()
                .saturating_mul(1_000_000_000)
                .saturating_add(md.mtime_nsec()),
            ctime_ns: md
                .ctime()
                .saturating_mul(1_000_000_000)
                .saturating_add(md.ctime_nsec()),
            mode: md.mode(),
        }
    }

    fn same_file_state(&self, e: &Entry) -> bool {
        self.dev == e.dev
            && self.ino == e.ino
            && self.size == e.size
            && self.mtime_ns == e.mtime_ns
            && self.ctime_ns == e.ctime_ns
    }
}

pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos().min(i64::MAX as u128) as i64)
        .unwrap_or(0)
}

fn load_rows(db: &Db, prefix: &str) -> Result<Loaded> {
    let t = std::time::Instant::now();
    let r = load_rows_inner(db, prefix);
    tracing::debug!("index query {:?}", t.elapsed());
    r
}

fn load_rows_inner(db: &Db, prefix: &str) -> Result<Loaded> {
    let mut out = Loaded::default();
    db.with(|c| {
        context_index::for_each_under(
            c,
            prefix,
            &mut out,
            |out, n| out.reserve(n),
            |out, path, f| {
                out.insert(
                    path.into(),
                    Entry {
                        dev: f.dev,
                        ino: f.ino,
                        size: f.size,
                        mtime_ns: f.mtime_ns,
                        ctime_ns: f.ctime_ns,
                        mode: f.mode,
                        sha: f.sha256,
                        recorded_ns: f.recorded_ns,
                        dirty: false,
                        seen: false,
                    },
                );
            },
        )
    })?;
    Ok(out)
}

impl StatIndex {
    /// Starts loading the entries recorded under `root` (a canonical
    /// directory) from the store's DB. The query runs on a background
    /// thread; the first lookup waits for it.
    pub fn load(store: &Store, root: &Path) -> Result<StatIndex> {
        let prefix = prefix_of(root);
        let db: Arc<Db> = store.db_arc();
        let p = prefix.clone();
        let loader = std::thread::Builder::new()
            .name("stat-index-load".into())
            .spawn(move || load_rows(&db, &p))
            .map_err(ContextError::io("spawn index loader for", root))?;
        Ok(StatIndex {
            prefix,
            entries: Loaded::default(),
            loader: Some(loader),
            racy_window_ns: DEFAULT_RACY_WINDOW.as_nanos() as i64,
            stats: IndexStats::default(),
            walked: Vec::new(),
        })
    }

    /// An empty index that records nothing persistent (for trees that are
    /// not a context, e.g. a stage's rootfs): every file is hashed.
    pub fn ephemeral() -> StatIndex {
        StatIndex {
            prefix: String::new(),
            entries: Loaded::default(),
            loader: None,
            racy_window_ns: DEFAULT_RACY_WINDOW.as_nanos() as i64,
            stats: IndexStats::default(),
            walked: Vec::new(),
        }
    }

    /// Sets the racy window (default [`DEFAULT_RACY_WINDOW`]).
    pub fn set_racy_window(&mut self, window: Duration) {
        self.racy_window_ns = window.as_nanos().min(i64::MAX as u128) as i64;
    }

    /// Counters of this session.
    pub fn stats(&self) -> IndexStats {
        self.stats
    }

    /// Number of entries held.
    pub fn len(&mut self) -> Result<usize> {
        self.wait()?;
        Ok(self.entries.len())
    }

    /// Whether no entry is held.
    pub fn is_empty(&mut self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    fn wait(&mut self) -> Result<()> {
        if let Some(h) = self.loader.take() {
            let t = std::time::Instant::now();
            let loaded = h
                .join()
                .map_err(|_| ContextError::Tar("stat index loader panicked".into()))??;
            self.stats.loaded = loaded.len() as u64;
            tracing::debug!("index join waited {:?}", t.elapsed());
            if self.entries.is_empty() {
                self.entries = loaded;
            } else {
                // Entries recorded before the load finished win.
                for (k, v) in loaded {
                    self.entries.entry(k).or_insert(v);
                }
            }
        }
        Ok(())
    }

    /// The digest of the regular file `abs` whose `lstat` is `md`: the
    /// recorded one when the stat matches and the entry is not racy,
    /// otherwise the file is read, hashed and recorded.
    pub fn file_digest(&mut self, abs: &Path, md: &Metadata) -> Result<Digest> {
        let key = StatKey::of(md);
        let path = abs.to_string_lossy();
        if let Some(sha) = self.lookup(&path, &key)? {
            return Ok(digest_of(&sha));
        }
        let hashed = hash_file(abs)?;
        self.record(&path, &hashed.stat, hashed.sha, hashed.recorded_ns);
        Ok(digest_of(&hashed.sha))
    }

    /// The recorded digest of `abs` if still valid (counts a hit), else
    /// `None` (the caller hashes and calls [`StatIndex::record`]).
    pub(crate) fn lookup(&mut self, abs: &str, key: &StatKey) -> Result<Option<[u8; 32]>> {
        self.wait()?;
        let Some(e) = self.entries.get_mut(abs) else {
            return Ok(None);
        };
        e.seen = true;
        if !key.same_file_state(e) {
            return Ok(None);
        }
        if e.mtime_ns
            .max(e.ctime_ns)
            .saturating_add(self.racy_window_ns)
            >= e.recorded_ns
        {
            self.stats.racy += 1;
            return Ok(None);
        }
        self.stats.hits += 1;
        Ok(Some(e.sha))
    }

    /// Records a freshly hashed file (stat taken from the descriptor the
    /// content was read through, `recorded_ns` when reading finished).
    pub(crate) fn record(&mut self, abs: &str, stat: &StatKey, sha: [u8; 32], recorded_ns: i64) {
        self.stats.hashed += 1;
        self.stats.hashed_bytes += stat.size;
        if self.prefix.is_empty() || !abs.starts_with(&self.prefix) {
            return; // ephemeral, or a file outside the root: nothing to persist
        }
        let e = Entry {
            dev: stat.dev,
            ino: stat.ino,
            size: stat.size,
            mtime_ns: stat.mtime_ns,
            ctime_ns: stat.ctime_ns,
            mode: stat.mode,
            sha,
            recorded_ns,
            dirty: true,
            seen: true,
        };
        self.entries.insert(abs.into(), e);
    }

    /// Counts a file hashed outside the index (a rootfs tree).
    pub(crate) fn count_hashed(&mut self, bytes: u64) {
        self.stats.hashed += 1;
        self.stats.hashed_bytes += bytes;
    }

    /// Declares that every file under directory `abs_dir` was looked up
    /// this session (a full walk): entries under it that were not are
    /// stale and are deleted at [`StatIndex::flush`].
    pub(crate) fn walked_dir(&mut self, abs_dir: &str) {
        if self.prefix.is_empty() {
            return;
        }
        let mut d = abs_dir.to_string();
        if !d.ends_with('/') {
            d.push('/');
        }
        if d.starts_with(&self.prefix) || d == self.prefix {
            self.walked.push(d);
        }
    }

    /// Writes the index back (stale entries dropped) when something was
    /// recorded or went stale; a no-op rebuild writes nothing.
    pub fn flush(&mut self, store: &Store) -> Result<()> {
        self.wait()?;
        let stale: Vec<Box<str>> = if self.walked.is_empty() {
            Vec::new()
        } else {
            self.entries
                .iter()
                .filter(|(k, e)| !e.seen && self.walked.iter().any(|w| k.starts_with(w.as_str())))
                .map(|(k, _)| k.clone())
                .collect()
        };
        let dirty = self.entries.values().any(|e| e.dirty);
        self.walked.clear();
        if (!dirty && stale.is_empty()) || self.prefix.is_empty() {
            return Ok(());
        }
        for p in stale {
            self.entries.remove(&p);
        }
        let all: Vec<(&str, FileStat)> = self
            .entries
            .iter()
            .map(|(p, e)| {
                let stat = FileStat {
                    dev: e.dev,
                    ino: e.ino,
                    size: e.size,
                    mtime_ns: e.mtime_ns,
                    ctime_ns: e.ctime_ns,
                    mode: e.mode,
                    sha256: e.sha,
                    recorded_ns: e.recorded_ns,
                };
                (&**p, stat)
            })
            .collect();
        store.db().write(|tx| {
            context_index::replace(tx, &self.prefix, all.iter().map(|(p, f)| (*p, f)))
        })?;
        for e in self.entries.values_mut() {
            e.dirty = false;
        }
        Ok(())
    }
}

fn prefix_of(root: &Path) -> String {
    let mut p = root.to_string_lossy().into_owned();
    if !p.ends_with('/') {
        p.push('/');
    }
    p
}

pub(crate) fn digest_of(sha: &[u8; 32]) -> Digest {
    // 64 lowercase hex characters are always a valid digest.
    Digest::from_hex(&hex::encode(sha)).unwrap_or_else(|_| Digest::of(b""))
}

/// A file hashed through one descriptor.
pub(crate) struct Hashed {
    pub sha: [u8; 32],
    pub stat: StatKey,
    pub recorded_ns: i64,
}

/// Reads and hashes the regular file `path` (not following a final
/// symlink). The stat is taken from the descriptor before and after
/// reading; if they differ the file changed while being read and it is
/// read again (three tries).
pub(crate) fn hash_file(path: &Path) -> Result<Hashed> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut buf = vec![0u8; 256 * 1024];
    for _ in 0..3 {
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK)
            .open(path)
            .map_err(ContextError::io("open", path))?;
        let before = StatKey::of(&f.metadata().map_err(ContextError::io("stat", path))?);
        let sha = hash_reader(&mut f, &mut buf).map_err(ContextError::io("read", path))?;
        let after = StatKey::of(&f.metadata().map_err(ContextError::io("stat", path))?);
        if before == after {
            return Ok(Hashed {
                sha,
                stat: before,
                recorded_ns: now_ns(),
            });
        }
    }
    Err(ContextError::Io {
        op: "hash",
        path: path.into(),
        source: std::io::Error::other("file keeps changing while it is read"),
    })
}

pub(crate) fn hash_reader(f: &mut File, buf: &mut [u8]) -> std::io::Result<[u8; 32]> {
    let mut h = Sha256::new();
    loop {
        match f.read(buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let t = tempfile::tempdir().unwrap();
        let s = Store::open(t.path().join("root")).unwrap();
        (t, s)
    }

    #[test]
    fn hit_after_flush_and_reload() {
        let (_t, store) = store();
        let ctx = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(ctx.path()).unwrap();
        let f = root.join("a.txt");
        std::fs::write(&f, b"hello").unwrap();
        let mut idx = StatIndex::load(&store, &root).unwrap();
        idx.set_racy_window(Duration::from_millis(20));
        std::thread::sleep(Duration::from_millis(40));
        let md = std::fs::symlink_metadata(&f).unwrap();
        let d1 = idx.file_digest(&f, &md).unwrap();
        assert_eq!(d1, Digest::of(b"hello"));
        assert_eq!(idx.stats().hashed, 1);
        idx.flush(&store).unwrap();
        let mut idx = StatIndex::load(&store, &root).unwrap();
        idx.set_racy_window(Duration::from_millis(20));
        assert_eq!(idx.len().unwrap(), 1);
        let d2 = idx.file_digest(&f, &md).unwrap();
        assert_eq!(d2, d1);
        assert_eq!(idx.stats().hashed, 0);
        assert_eq!(idx.stats().hits, 1);
    }

    #[test]
    fn other_roots_are_not_loaded() {
        let (_t, store) = store();
        let a = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(a.path()).unwrap();
        std::fs::write(root.join("x"), b"x").unwrap();
        let mut idx = StatIndex::load(&store, &root).unwrap();
        let md = std::fs::symlink_metadata(root.join("x")).unwrap();
        idx.file_digest(&root.join("x"), &md).unwrap();
        idx.flush(&store).unwrap();
        // A sibling whose name extends the root's must not see it.
        let sibling = format!("{}-other", root.display());
        std::fs::create_dir_all(&sibling).unwrap();
        let mut other = StatIndex::load(&store, Path::new(&sibling)).unwrap();
        assert_eq!(other.len().unwrap(), 0);
        std::fs::remove_dir_all(&sibling).unwrap();
    }
}
