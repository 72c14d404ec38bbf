//! [`StatIndex`]: `(path, dev, ino, size, mtime_ns, ctime_ns) → sha256` for
//! one context root. The store's file ([`strata_store::context_index`]) is
//! read on a background thread and used as read: walkers look their files
//! up in it directly ([`IndexView`], shared by the walk's threads), in
//! walk order, so an unchanged file costs one comparison of its path and
//! its stat. Files hashed this session are kept beside it and the file is
//! written back whole when anything changed. The directories' listings
//! ([`strata_store::context_dirs`]) are read with it: a walker skips reading
//! a directory whose own stat still matches its record.
//! See the module docs of [`crate::context`] for the racy-timestamp rule.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use strata_oci::Digest;
use strata_store::Store;
use strata_store::context_dirs::{self, DirListings, DirRecord, DirStat};
use strata_store::context_index::{self, ContextIndex, FileStat};

use super::{ContextError, Result};

/// The default racy window: covers 1-2 s timestamp filesystems (ext3,
/// FAT) and the coarse kernel clock of nanosecond ones. A file modified
/// within this long before it was hashed is hashed again next time.
pub const DEFAULT_RACY_WINDOW: Duration = Duration::from_secs(2);

/// FxHash-style hasher: the keys are file paths we produced ourselves, so
/// DoS-resistant SipHash buys nothing and costs a third of a lookup.
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

/// Counters of one index session (for benches and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// Entries loaded from the store.
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

    /// The stat a walk recorded in a selected entry.
    pub(crate) fn of_entry(e: &crate::fileops::SelectedEntry) -> StatKey {
        StatKey {
            dev: e.dev,
            ino: e.ino,
            size: e.size,
            mtime_ns: e.mtime_ns,
            ctime_ns: e.ctime_ns,
            mode: e.mode,
        }
    }

    fn same_file_state(&self, e: &FileStat) -> bool {
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

/// Whether a record taken at `recorded_ns` of something last changed at
/// `mtime_ns`/`ctime_ns` cannot be trusted: it may have changed again
/// within the same timestamp since.
fn racy(mtime_ns: i64, ctime_ns: i64, recorded_ns: i64, window_ns: i64) -> bool {
    mtime_ns.max(ctime_ns).saturating_add(window_ns) >= recorded_ns
}

/// Whether directory record `rec` can be trusted while the directory's
/// stat is still its.
fn settled(rec: &DirRecord<'_>, window_ns: i64) -> bool {
    !racy(
        rec.stat.mtime_ns,
        rec.stat.ctime_ns,
        rec.recorded_ns,
        window_ns,
    )
}

/// The recorded entry's digest when `key` still describes the file and the
/// entry is not racy.
fn trusted(e: &FileStat, key: &StatKey, racy_window_ns: i64) -> Verdict {
    if !key.same_file_state(e) {
        return Verdict::Changed;
    }
    if racy(e.mtime_ns, e.ctime_ns, e.recorded_ns, racy_window_ns) {
        return Verdict::Racy;
    }
    Verdict::Hit(e.sha256)
}

enum Verdict {
    Hit([u8; 32]),
    Changed,
    Racy,
}

/// The index as read from the store, shared by the walk's threads: a
/// lookup marks the record as seen (so that [`StatIndex::flush`] can tell
/// the records of deleted files) and counts hits and racy entries, once
/// per record however often it is asked.
#[derive(Debug, Default)]
pub(crate) struct IndexView {
    file: ContextIndex,
    seen: Vec<AtomicU64>,
    hits: AtomicU64,
    racy: AtomicU64,
    /// Read after the files (whose lookups matter more to a walk that
    /// starts before the reading ends).
    dirs: OnceLock<DirView>,
}

/// The directory listings, and by record number whether a walk asked for
/// it this session.
#[derive(Debug, Default)]
struct DirView {
    dirs: DirListings,
    seen: Vec<AtomicBool>,
}

impl DirView {
    fn new(dirs: DirListings) -> DirView {
        DirView {
            seen: (0..dirs.len()).map(|_| AtomicBool::new(false)).collect(),
            dirs,
        }
    }
}

impl IndexView {
    fn new(file: ContextIndex) -> IndexView {
        let seen = (0..file.len().div_ceil(64))
            .map(|_| AtomicU64::new(0))
            .collect();
        IndexView {
            file,
            seen,
            hits: AtomicU64::new(0),
            racy: AtomicU64::new(0),
            dirs: OnceLock::new(),
        }
    }

    /// The recorded digest of `rel` (relative to the root) if still
    /// valid. `hint` is where the caller expects it (the record after its
    /// previous find) and is moved past it.
    fn lookup(
        &self,
        rel: &str,
        key: &StatKey,
        hint: &mut usize,
        racy_window_ns: i64,
    ) -> Option<[u8; 32]> {
        let i = self.file.find(rel, *hint)?;
        *hint = i + 1;
        let bit = 1 << (i % 64);
        let first = self.seen[i / 64].fetch_or(bit, Ordering::Relaxed) & bit == 0;
        match trusted(&self.file.stat(i), key, racy_window_ns) {
            Verdict::Hit(sha) => {
                if first {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                }
                Some(sha)
            }
            Verdict::Racy => {
                if first {
                    self.racy.fetch_add(1, Ordering::Relaxed);
                }
                None
            }
            Verdict::Changed => None,
        }
    }

    fn seen(&self, i: usize) -> bool {
        self.seen[i / 64].load(Ordering::Relaxed) & (1 << (i % 64)) != 0
    }
}

/// What a walk's threads are given of the context's index: the view, once
/// the background read has finished. A walk does not wait for it: files
/// read before it is ready are left to [`StatIndex::lookup`].
#[derive(Clone, Copy)]
pub(crate) struct IndexRef<'a> {
    view: &'a OnceLock<IndexView>,
    racy_window_ns: i64,
}

impl<'a> IndexRef<'a> {
    /// Whether the index has been read.
    pub(crate) fn ready(&self) -> bool {
        self.view.get().is_some()
    }

    /// [`StatIndex::lookup`] for a walker (`None` while the index is not
    /// read yet): `hint` is the record after its previous find.
    pub(crate) fn lookup(&self, rel: &str, key: &StatKey, hint: &mut usize) -> Option<[u8; 32]> {
        self.view.get()?.lookup(rel, key, hint, self.racy_window_ns)
    }

    /// The names recorded for directory `rel` (sorted, each followed by a
    /// NUL) if its stat is still `stat` and was not racy when it was read
    /// (the rule of files: its times older than the racy window then).
    pub(crate) fn dir_names(&self, rel: &str, stat: &DirStat) -> Option<&'a [u8]> {
        let view = self.view.get()?.dirs.get()?;
        let (i, rec) = view.dirs.get(rel)?;
        view.seen[i].store(true, Ordering::Relaxed);
        (rec.stat == *stat && settled(&rec, self.racy_window_ns)).then_some(rec.names)
    }
}

/// A directory a walk read (its names sorted, each followed by a NUL),
/// to record at [`StatIndex::flush`].
#[derive(Debug)]
pub(crate) struct FreshDir {
    pub rel: String,
    pub stat: DirStat,
    pub recorded_ns: i64,
    pub names: Vec<u8>,
}

/// The stat index of one context root.
pub struct StatIndex {
    /// The root, ending in `/`; empty for an ephemeral index.
    prefix: String,
    loader: Option<JoinHandle<()>>,
    /// Set by the loader (at once for an ephemeral index).
    view: Arc<OnceLock<IndexView>>,
    /// Files hashed this session, by path relative to the root.
    fresh: HashMap<Box<str>, FileStat, FxBuild>,
    racy_window_ns: i64,
    stats: IndexStats,
    /// Directories (relative to the root) walked completely this session:
    /// records under them that were not looked up belong to files that no
    /// longer exist (or are ignored) and are dropped at flush.
    walked: Vec<String>,
    /// Directories read this session.
    fresh_dirs: Vec<FreshDir>,
}

impl std::fmt::Debug for StatIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatIndex")
            .field("root", &self.prefix)
            .field("fresh", &self.fresh.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl StatIndex {
    /// Starts reading the index of `root` (a canonical directory) from the
    /// store, on a background thread.
    pub fn load(store: &Store, root: &Path) -> Result<StatIndex> {
        let prefix = prefix_of(root);
        let layout = store.layout().clone();
        let p = prefix.clone();
        let view = Arc::new(OnceLock::new());
        let cell = Arc::clone(&view);
        let loader = std::thread::Builder::new()
            .name("stat-index-load".into())
            .spawn(move || {
                let _ = cell.set(IndexView::new(ContextIndex::load(&layout, &p)));
                if let Some(view) = cell.get() {
                    let _ = view.dirs.set(DirView::new(DirListings::load(&layout, &p)));
                }
            })
            .map_err(ContextError::io("spawn index loader for", root))?;
        Ok(StatIndex {
            loader: Some(loader),
            prefix,
            view,
            ..StatIndex::ephemeral()
        })
    }

    /// An empty index that records nothing persistent (for trees that are
    /// not a context, e.g. a stage's rootfs): every file is hashed.
    pub fn ephemeral() -> StatIndex {
        StatIndex {
            prefix: String::new(),
            loader: None,
            view: Arc::new(OnceLock::from(IndexView::default())),
            fresh: HashMap::default(),
            racy_window_ns: DEFAULT_RACY_WINDOW.as_nanos() as i64,
            stats: IndexStats::default(),
            walked: Vec::new(),
            fresh_dirs: Vec::new(),
        }
    }

    /// Sets the racy window (default [`DEFAULT_RACY_WINDOW`]).
    pub fn set_racy_window(&mut self, window: Duration) {
        self.racy_window_ns = window.as_nanos().min(i64::MAX as u128) as i64;
    }

    /// Counters of this session.
    pub fn stats(&self) -> IndexStats {
        let mut s = self.stats;
        if let Some(v) = self.view.get() {
            s.loaded = v.file.len() as u64;
            s.hits += v.hits.load(Ordering::Relaxed);
            s.racy += v.racy.load(Ordering::Relaxed);
        }
        s
    }

    /// Number of files the index holds.
    pub fn len(&mut self) -> Result<usize> {
        self.wait()?;
        let file = &self.loaded()?.file;
        let new = self
            .fresh
            .keys()
            .filter(|k| file.find(k, 0).is_none())
            .count();
        Ok(file.len() + new)
    }

    /// Whether no file is held.
    pub fn is_empty(&mut self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Waits for the loader.
    fn wait(&mut self) -> Result<()> {
        if let Some(h) = self.loader.take() {
            h.join()
                .map_err(|_| ContextError::Tar("stat index loader panicked".into()))?;
        }
        Ok(())
    }

    /// The view, after [`StatIndex::wait`].
    fn loaded(&self) -> Result<&IndexView> {
        self.view
            .get()
            .ok_or_else(|| ContextError::Tar("stat index loader stopped early".into()))
    }

    /// Whether this is the persistent index of `root`.
    pub(crate) fn is_for(&self, root: &Path) -> bool {
        !self.prefix.is_empty() && self.prefix == prefix_of(root)
    }

    /// The index for the walk of `root` (the tree being selected from);
    /// `None` unless this is `root`'s persistent index.
    pub(crate) fn view_for(&self, root: &Path) -> Option<IndexRef<'_>> {
        self.is_for(root).then_some(IndexRef {
            view: &self.view,
            racy_window_ns: self.racy_window_ns,
        })
    }

    /// The path of `abs` relative to the root, if it is below it.
    fn rel_of<'p>(&self, abs: &'p str) -> Option<&'p str> {
        if self.prefix.is_empty() {
            return None;
        }
        abs.strip_prefix(&self.prefix)
    }

    /// The digest of the regular file `abs` whose `lstat` is `md`: the
    /// recorded one when the stat matches and the entry is not racy,
    /// otherwise the file is read, hashed and recorded.
    pub fn file_digest(&mut self, abs: &Path, md: &Metadata) -> Result<Digest> {
        let key = StatKey::of(md);
        let path = abs.to_string_lossy();
        if let Some(rel) = self.rel_of(&path).map(str::to_owned)
            && let Some(sha) = self.lookup(&rel, &key, &mut 0)?
        {
            return Ok(digest_of(&sha));
        }
        let hashed = hash_file(abs)?;
        match self.rel_of(&path).map(str::to_owned) {
            Some(rel) => self.record(&rel, &hashed.stat, hashed.sha, hashed.recorded_ns),
            None => self.count_hashed(hashed.stat.size),
        }
        Ok(digest_of(&hashed.sha))
    }

    /// The recorded digest of `rel` (relative to the root) if still valid
    /// (counts a hit), else `None` (the caller hashes and calls
    /// [`StatIndex::record`]). A file hashed earlier this session is found
    /// too. `hint`: as for a walker (the record after the previous find,
    /// for callers that ask in walk order).
    pub(crate) fn lookup(
        &mut self,
        rel: &str,
        key: &StatKey,
        hint: &mut usize,
    ) -> Result<Option<[u8; 32]>> {
        let window = self.racy_window_ns;
        let verdict = match self.fresh.get(rel) {
            Some(e) => trusted(e, key, window),
            None => {
                self.wait()?;
                return Ok(self.loaded()?.lookup(rel, key, hint, window));
            }
        };
        Ok(match verdict {
            Verdict::Hit(sha) => {
                self.stats.hits += 1;
                Some(sha)
            }
            Verdict::Racy => {
                self.stats.racy += 1;
                None
            }
            Verdict::Changed => None,
        })
    }

    /// Records a freshly hashed file, `rel` to the root (stat taken from
    /// the descriptor the content was read through, `recorded_ns` when
    /// reading finished).
    pub(crate) fn record(&mut self, rel: &str, stat: &StatKey, sha: [u8; 32], recorded_ns: i64) {
        self.count_hashed(stat.size);
        if self.prefix.is_empty() {
            return; // ephemeral: nothing to persist
        }
        let e = FileStat {
            dev: stat.dev,
            ino: stat.ino,
            size: stat.size,
            mtime_ns: stat.mtime_ns,
            ctime_ns: stat.ctime_ns,
            mode: stat.mode,
            sha256: sha,
            recorded_ns,
        };
        self.fresh.insert(rel.into(), e);
    }

    /// Counts a file hashed outside the index (a rootfs tree).
    pub(crate) fn count_hashed(&mut self, bytes: u64) {
        self.stats.hashed += 1;
        self.stats.hashed_bytes += bytes;
    }

    /// Declares that every file under directory `rel_dir` (relative to the
    /// root, `""` for the root) was looked up this session (a full walk):
    /// records under it that were not are stale and are deleted at
    /// [`StatIndex::flush`].
    pub(crate) fn walked_dir(&mut self, rel_dir: &str) {
        if !self.prefix.is_empty() {
            self.walked.push(rel_dir.trim_end_matches('/').to_string());
        }
    }

    /// Keeps the listings of directories a walk read, for [`StatIndex::flush`].
    pub(crate) fn record_dirs(&mut self, dirs: Vec<FreshDir>) {
        if !self.prefix.is_empty() {
            self.fresh_dirs.extend(dirs);
        }
    }

    /// Writes the directory listings back when a walk read a directory
    /// its record did not vouch for (a walk may start before the records
    /// are read): the fresh ones, and the others but those under a
    /// directory walked completely that no walk asked for (they are gone).
    fn flush_dirs(&mut self, store: &Store) -> Result<()> {
        let mut fresh = std::mem::take(&mut self.fresh_dirs);
        // Two walks of one build may read one directory: the last read.
        fresh.reverse();
        let mut once = std::collections::HashSet::new();
        fresh.retain(|f| once.insert(f.rel.clone()));
        let view = self.loaded()?.dirs.get_or_init(DirView::default);
        let window = self.racy_window_ns;
        let read: std::collections::HashSet<String> = fresh.iter().map(|f| f.rel.clone()).collect();
        fresh.retain(|f| {
            view.dirs.get(&f.rel).is_none_or(|(_, old)| {
                !(settled(&old, window) && old.stat == f.stat && old.names == f.names.as_slice())
            })
        });
        if fresh.is_empty() {
            return Ok(());
        }
        let gone = |p: &str, i: usize| {
            !view.seen[i].load(Ordering::Relaxed)
                && !read.contains(p)
                && self.walked.iter().any(|w| {
                    w.is_empty()
                        || p == w
                        || p.strip_prefix(w.as_str())
                            .is_some_and(|r| r.starts_with('/'))
                })
        };
        let new: std::collections::HashSet<&str> = fresh.iter().map(|f| f.rel.as_str()).collect();
        let mut all: Vec<(&str, DirRecord<'_>)> = view
            .dirs
            .iter()
            .filter(|(p, i, _)| !new.contains(p) && !gone(p, *i))
            .map(|(p, _, rec)| (p, rec))
            .collect();
        all.extend(fresh.iter().map(|f| {
            let rec = DirRecord {
                stat: f.stat,
                recorded_ns: f.recorded_ns,
                names: &f.names,
            };
            (f.rel.as_str(), rec)
        }));
        context_dirs::write(store.layout(), &self.prefix, &all)?;
        Ok(())
    }

    /// Writes the index back (stale records dropped) when something was
    /// recorded or went stale; a no-op rebuild writes nothing.
    pub fn flush(&mut self, store: &Store) -> Result<()> {
        self.wait()?;
        if self.prefix.is_empty() {
            return Ok(());
        }
        self.flush_dirs(store)?;
        let walked = std::mem::take(&mut self.walked);
        let view = self.loaded()?;
        let file = &view.file;
        let mut keep = vec![true; file.len()];
        let mut stale = false;
        for dir in walked {
            for i in file.under(&dir) {
                if !view.seen(i) {
                    keep[i] = false;
                    stale = true;
                }
            }
        }
        if self.fresh.is_empty() && !stale {
            return Ok(());
        }
        let mut all: Vec<(&str, FileStat)> = (0..file.len())
            .filter(|i| keep[*i] && !self.fresh.contains_key(file.path(*i)))
            .map(|i| (file.path(i), file.stat(i)))
            .collect();
        all.extend(self.fresh.iter().map(|(p, e)| (&**p, *e)));
        context_index::write(store.layout(), &self.prefix, all)?;
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

    /// A walk that finishes before the index is read leaves its files to
    /// the serial lookup, with the same answers; a walk that starts after
    /// it answers them itself.
    #[test]
    fn walks_before_and_after_the_index_is_read_agree() {
        use crate::context::BuildContext;
        use crate::fileops::{self, SelectOptions, SourceTree};
        let (_t, store) = store();
        let dir = tempfile::tempdir().unwrap();
        for i in 0..30 {
            let d = dir.path().join(format!("d{}", i % 3));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(format!("f{i}")), format!("{i}")).unwrap();
        }
        let ctx = BuildContext::from_dir(dir.path(), None).unwrap();
        let srcs = [".".to_string()];
        let select = |idx: &mut StatIndex| {
            idx.set_racy_window(Duration::from_millis(20));
            let tree = SourceTree::context(&ctx);
            let sel = fileops::select(&tree, &srcs, &SelectOptions::default(), idx).unwrap();
            idx.flush(&store).unwrap();
            (sel.checksum(), idx.stats())
        };
        std::thread::sleep(Duration::from_millis(40));
        let (first, st) = select(&mut StatIndex::load(&store, ctx.root()).unwrap());
        assert_eq!(st.hashed, 30);
        // Read late: the loader sleeps until the walk is over.
        let mut late = StatIndex::load(&store, ctx.root()).unwrap();
        late.wait().unwrap();
        late.view = Arc::new(OnceLock::new());
        let (view, layout) = (Arc::clone(&late.view), store.layout().clone());
        let prefix = late.prefix.clone();
        late.loader = Some(std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            let _ = view.set(IndexView::new(ContextIndex::load(&layout, &prefix)));
        }));
        let (again, st) = select(&mut late);
        assert_eq!(again, first);
        assert_eq!((st.hits, st.hashed, st.racy), (30, 0, 0), "{st:?}");
        // Read first: the walkers answer.
        let mut early = StatIndex::load(&store, ctx.root()).unwrap();
        assert_eq!(early.len().unwrap(), 30);
        let (third, st) = select(&mut early);
        assert_eq!(third, first);
        assert_eq!((st.hits, st.hashed, st.racy), (30, 0, 0), "{st:?}");
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
