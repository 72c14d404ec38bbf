//! The build context's stat index on disk: `(path, dev, ino, size,
//! mtime_ns, ctime_ns) → sha256` for every file of one context root, as
//! one [`crate::hint`] file sealed with a CRC-32 ([`crate::hint::seal_crc`]),
//! `context-index/<sha256 of the root>`
//! (the racy-timestamp rule that decides when an entry can be trusted is
//! strata-build's, in its `context::index` module; this module only stores
//! entries and finds them).
//!
//! The file is laid out to be used as read, without decoding it into a
//! map: fixed-size records sorted in *walk order* (the pre-order of a
//! directory walk whose entries are sorted by name, i.e. paths compared
//! with `/` below every other byte), then the paths. A walker that visits
//! the files in that order finds each one at the record after the
//! previous one (a binary search otherwise), and the records below a
//! directory are one range. A no-op rebuild of a 20,000-file context reads
//! it with one `read` (a few MB) where the SQLite blob it replaces took a
//! thousand page reads behind the store's connection lock (~11 ms).
//!
//! ```text
//! file    = seal_crc("STRCIX03" root_len:u32 root count:u32 record* paths)   (little-endian)
//! record  = dev:u64 ino:u64 size:u64 mtime_ns:i64 ctime_ns:i64 recorded_ns:i64
//!           sha256:32 mode:u32 path_off:u32 path_len:u32 0:u32           (96 bytes)
//! ```
//! `path_off` is relative to the start of `paths`; a path is relative to
//! the root, `/`-separated. A file that does not unseal or decode is an
//! empty index (everything is hashed again and the index rewritten).

use std::cmp::Ordering;
use std::ops::Range;
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};

use crate::error::{IoContext, Result};
use crate::hint::{self, take};
use crate::layout::Layout;

const MAGIC: &[u8; 8] = b"STRCIX03";
const RECORD: usize = 96;

/// One recorded file (everything but its path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
    /// `st_size`.
    pub size: u64,
    /// mtime, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// ctime, nanoseconds since the epoch.
    pub ctime_ns: i64,
    /// `st_mode`.
    pub mode: u32,
    /// The content's SHA-256.
    pub sha256: [u8; 32],
    /// When the entry was hashed, nanoseconds since the epoch.
    pub recorded_ns: i64,
}

/// Compares two root-relative paths in walk order: `/` sorts below every
/// other byte, so a directory's entries follow it, sorted by name, before
/// its next sibling (`a/z` < `a-b` < `ab`).
pub fn walk_order(a: &[u8], b: &[u8]) -> Ordering {
    let key = |c: u8| if c == b'/' { 0 } else { u16::from(c) + 1 };
    let n = a.len().min(b.len());
    match a[..n].iter().zip(&b[..n]).position(|(x, y)| x != y) {
        Some(i) => key(a[i]).cmp(&key(b[i])),
        None => a.len().cmp(&b.len()),
    }
}

/// The index of one context root, as read from its file.
#[derive(Debug, Default)]
pub struct ContextIndex {
    file: Option<Mapped>,
    /// The file's length without its seal.
    body_len: usize,
    records: usize,
    paths: usize,
    count: usize,
}

/// A file mapped read-only. An index file is never written in place (a
/// writer renames a new file over it), so the bytes cannot change while
/// mapped. Mapping rather than reading spares every build copying a few
/// MB into fresh memory: on this kind of VM the page faults of that copy
/// cost more than the copy itself.
#[derive(Debug)]
struct Mapped {
    ptr: *const u8,
    len: usize,
}

// SAFETY: a private read-only mapping is immutable memory, owned here.
unsafe impl Send for Mapped {}
// SAFETY: as above; nothing writes through it.
unsafe impl Sync for Mapped {}

impl Mapped {
    fn open(path: &std::path::Path) -> Option<Mapped> {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(path).ok()?;
        let len = usize::try_from(f.metadata().ok()?.len()).ok()?;
        if len == 0 {
            return None;
        }
        // SAFETY: maps `len` bytes of a descriptor we hold, read-only and
        // private; failure is checked; the descriptor may close after.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                f.as_raw_fd(),
                0,
            )
        };
        (ptr != libc::MAP_FAILED).then_some(Mapped {
            ptr: ptr.cast_const().cast(),
            len,
        })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes until `self` is dropped.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `open`.
        unsafe { libc::munmap(self.ptr.cast_mut().cast(), self.len) };
    }
}

impl ContextIndex {
    /// The index of `root` (a directory path ending in `/`); empty when
    /// there is none or it cannot be trusted.
    pub fn load(layout: &Layout, root: &str) -> ContextIndex {
        let path = file_of(layout, root);
        let t = std::time::Instant::now();
        let Some(file) = Mapped::open(&path) else {
            return ContextIndex::default();
        };
        let index = ContextIndex::decode(file, root);
        tracing::debug!("stat index read in {:?}", t.elapsed());
        index.unwrap_or_else(|| {
            tracing::debug!("stat index {}: not valid, ignored", path.display());
            ContextIndex::default()
        })
    }

    fn decode(file: Mapped, root: &str) -> Option<ContextIndex> {
        let bytes = hint::unseal_crc(file.bytes())?;
        let mut r = bytes.strip_prefix(MAGIC.as_slice())?;
        let root_len = u32::from_le_bytes(take(&mut r)?) as usize;
        let (stored_root, mut r) = r.split_at_checked(root_len)?;
        if stored_root != root.as_bytes() {
            return None;
        }
        let count = u32::from_le_bytes(take(&mut r)?) as usize;
        let table = count.checked_mul(RECORD)?;
        let records = bytes.len() - r.len();
        let paths = records.checked_add(table).filter(|p| *p <= bytes.len())?;
        let body_len = bytes.len();
        let idx = ContextIndex {
            file: Some(file),
            body_len,
            records,
            paths,
            count,
        };
        // Every path must lie inside the file and be UTF-8.
        let strings = body_len - paths;
        for i in 0..count {
            let (off, len) = idx.span(i);
            let end = off.checked_add(len).filter(|e| *e <= strings)?;
            std::str::from_utf8(&idx.bytes()[paths + off..paths + end]).ok()?;
        }
        Some(idx)
    }

    /// The file's bytes, without the seal.
    fn bytes(&self) -> &[u8] {
        match &self.file {
            Some(f) => &f.bytes()[..self.body_len],
            None => &[],
        }
    }

    /// How many files are recorded.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no file is recorded.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn record(&self, i: usize) -> &[u8] {
        let at = self.records + i * RECORD;
        &self.bytes()[at..at + RECORD]
    }

    fn span(&self, i: usize) -> (usize, usize) {
        let r = self.record(i);
        let word = |at: usize| u32::from_le_bytes([r[at], r[at + 1], r[at + 2], r[at + 3]]);
        (word(84) as usize, word(88) as usize)
    }

    fn path_bytes(&self, i: usize) -> &[u8] {
        let (off, len) = self.span(i);
        &self.bytes()[self.paths + off..self.paths + off + len]
    }

    /// The path of record `i` (`i < len()`), relative to the root.
    pub fn path(&self, i: usize) -> &str {
        // Checked to be UTF-8 when the file was read.
        std::str::from_utf8(self.path_bytes(i)).unwrap_or_default()
    }

    /// The stat and digest of record `i` (`i < len()`).
    pub fn stat(&self, i: usize) -> FileStat {
        let r = self.record(i);
        let mut r: &[u8] = r;
        let mut u64_at = || take::<8>(&mut r).map(u64::from_le_bytes).unwrap_or(0);
        let (dev, ino, size) = (u64_at(), u64_at(), u64_at());
        let (mtime_ns, ctime_ns, recorded_ns) = (u64_at() as i64, u64_at() as i64, u64_at() as i64);
        let sha256 = take::<32>(&mut r).unwrap_or_default();
        let mode = take::<4>(&mut r).map(u32::from_le_bytes).unwrap_or(0);
        FileStat {
            dev,
            ino,
            size,
            mtime_ns,
            ctime_ns,
            mode,
            sha256,
            recorded_ns,
        }
    }

    /// The record of `rel` (a path relative to the root): `hint` is tried
    /// first (a walker passes the position after its previous find), then
    /// a binary search.
    pub fn find(&self, rel: &str, hint: usize) -> Option<usize> {
        if hint < self.count && self.path_bytes(hint) == rel.as_bytes() {
            return Some(hint);
        }
        let i = self.lower_bound(rel.as_bytes());
        (i < self.count && self.path_bytes(i) == rel.as_bytes()).then_some(i)
    }

    fn lower_bound(&self, key: &[u8]) -> usize {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if walk_order(self.path_bytes(mid), key) == Ordering::Less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The records below directory `dir` (relative to the root; `""` is
    /// the root itself): one range in walk order.
    pub fn under(&self, dir: &str) -> Range<usize> {
        if dir.is_empty() {
            return 0..self.count;
        }
        let prefix = format!("{dir}/");
        let start = self.lower_bound(prefix.as_bytes());
        // The records below `dir` are the run from `start` that begin
        // with the prefix: the end is found by halving too.
        let (mut lo, mut hi) = (start, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.path_bytes(mid).starts_with(prefix.as_bytes()) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        start..lo
    }
}

/// `context-index/<hex sha256 of root>`.
pub fn file_of(layout: &Layout, root: &str) -> PathBuf {
    layout
        .context_index()
        .join(hex::encode(Sha256::digest(root.as_bytes())))
}

/// Replaces the index of `root` with `entries` (paths relative to it, each
/// once; their order does not matter).
pub fn write(layout: &Layout, root: &str, mut entries: Vec<(&str, FileStat)>) -> Result<()> {
    entries.sort_unstable_by(|a, b| walk_order(a.0.as_bytes(), b.0.as_bytes()));
    let strings: usize = entries.iter().map(|(p, _)| p.len()).sum();
    let mut b = Vec::with_capacity(20 + root.len() + entries.len() * RECORD + strings + 32);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&(root.len() as u32).to_le_bytes());
    b.extend_from_slice(root.as_bytes());
    b.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    let mut off = 0u32;
    for (p, e) in &entries {
        for v in [e.dev, e.ino, e.size] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for v in [e.mtime_ns, e.ctime_ns, e.recorded_ns] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&e.sha256);
        for v in [e.mode, off, p.len() as u32, 0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        off += p.len() as u32;
    }
    for (p, _) in &entries {
        b.extend_from_slice(p.as_bytes());
    }
    let dir = layout.context_index();
    std::fs::create_dir_all(&dir).ctx("create directory", &dir)?;
    let file = file_of(layout, root);
    hint::write(&file, &hint::seal_crc(b)).ctx("write", &file)?;
    Ok(())
}

/// Forgets every context's index (`builder prune --all`).
pub fn clear(layout: &Layout) -> Result<()> {
    let dir = layout.context_index();
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).ctx("remove", dir),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(n: u64) -> FileStat {
        FileStat {
            dev: 1,
            ino: n,
            size: n * 10,
            mtime_ns: -5,
            ctime_ns: n as i64,
            mode: 0o100644,
            sha256: [n as u8; 32],
            recorded_ns: 99,
        }
    }

    #[test]
    fn under_is_every_record_below_the_directory() {
        let t = tempfile::tempdir().unwrap();
        let layout = Layout::new(t.path());
        let mut names = Vec::new();
        for a in ["d", "d-x", "d.y", "e", "dd"] {
            for b in ["", "/f", "/g", "/g/h", "/g-h", "/g/h/i"] {
                names.push(format!("{a}{b}"));
            }
        }
        let entries = names.iter().map(|p| (p.as_str(), stat(1))).collect();
        write(&layout, "/ctx/", entries).unwrap();
        let idx = ContextIndex::load(&layout, "/ctx/");
        for dir in names.iter().map(String::as_str).chain(["x", "d/g/h/i/j"]) {
            let prefix = format!("{dir}/");
            let want: Vec<&str> = (0..idx.len())
                .map(|i| idx.path(i))
                .filter(|p| p.starts_with(&prefix))
                .collect();
            let got: Vec<&str> = idx.under(dir).map(|i| idx.path(i)).collect();
            assert_eq!(got, want, "{dir}");
        }
    }

    #[test]
    fn round_trip_in_walk_order() {
        let t = tempfile::tempdir().unwrap();
        let layout = Layout::new(t.path());
        let root = "/ctx/";
        let names = ["ab", "a-b", "a/z", "a/b/c", "b", "a/b-c", "é"];
        let entries = names
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, stat(i as u64)))
            .collect();
        write(&layout, root, entries).unwrap();
        let idx = ContextIndex::load(&layout, root);
        assert_eq!(idx.len(), names.len());
        let order: Vec<&str> = (0..idx.len()).map(|i| idx.path(i)).collect();
        assert_eq!(order, ["a/b/c", "a/b-c", "a/z", "a-b", "ab", "b", "é"]);
        for (n, p) in names.iter().enumerate() {
            let i = idx.find(p, 0).unwrap();
            assert_eq!(idx.stat(i), stat(n as u64), "{p}");
            assert_eq!(idx.find(p, i), Some(i));
        }
        assert_eq!(idx.find("a", 0), None);
        assert_eq!(idx.find("a/b", 3), None);
        assert_eq!(idx.under("a").len(), 3);
        assert_eq!(idx.under("a/b").len(), 1);
        assert_eq!(idx.under("").len(), names.len());
        assert_eq!(idx.under("c").len(), 0);
        // Another root does not see it.
        assert!(ContextIndex::load(&layout, "/other/").is_empty());
        clear(&layout).unwrap();
        assert!(ContextIndex::load(&layout, root).is_empty());
        clear(&layout).unwrap();
    }

    #[test]
    fn damaged_or_hostile_files_are_empty() {
        let t = tempfile::tempdir().unwrap();
        let layout = Layout::new(t.path());
        let root = "/ctx/";
        write(&layout, root, vec![("a", stat(1)), ("b", stat(2))]).unwrap();
        let file = file_of(&layout, root);
        let good = std::fs::read(&file).unwrap();
        let mut flipped = good.clone();
        flipped[30] ^= 1;
        std::fs::write(&file, &flipped).unwrap();
        assert!(ContextIndex::load(&layout, root).is_empty());
        std::fs::write(&file, &good[..good.len() - 3]).unwrap();
        assert!(ContextIndex::load(&layout, root).is_empty());
        // Sealed, but a path that points outside the file or is not UTF-8.
        let body = hint::unseal_crc(&good).unwrap().to_vec();
        let rec = 8 + 4 + root.len() + 4;
        let mut far = body.clone();
        far[rec + 84..rec + 88].copy_from_slice(&1000u32.to_le_bytes());
        std::fs::write(&file, hint::seal_crc(far)).unwrap();
        assert!(ContextIndex::load(&layout, root).is_empty());
        let mut bad_utf8 = body.clone();
        let n = bad_utf8.len();
        bad_utf8[n - 1] = 0xff;
        std::fs::write(&file, hint::seal_crc(bad_utf8)).unwrap();
        assert!(ContextIndex::load(&layout, root).is_empty());
        // A count the file cannot hold.
        let mut big = body;
        big[rec - 4..rec].copy_from_slice(&u32::MAX.to_le_bytes());
        std::fs::write(&file, hint::seal_crc(big)).unwrap();
        assert!(ContextIndex::load(&layout, root).is_empty());
    }
}
