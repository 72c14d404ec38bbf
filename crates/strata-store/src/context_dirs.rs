//! The directory listings of a build context's stat index on disk, beside
//! it ([`crate::context_index`]): for each directory of one context root
//! its own `(dev, ino, mtime_ns, ctime_ns)` when it was read, when that
//! was, and the names it held, as one [`crate::hint`] file sealed with a
//! CRC-32, `context-index/<sha256 of the root>.dirs`.
//!
//! Every name added to, removed from or renamed in a directory sets the
//! directory's ctime, which no user can set back; so a directory whose
//! stat is unchanged, and was not changing when it was read (the racy
//! rule is strata-build's, as for files), still holds the names recorded.
//! A walk that can trust a record skips reading the directory: on tmpfs,
//! `getdents64` was 16 % of a no-op rebuild's CPU.
//!
//! ```text
//! file = seal_crc("STRCDX01" root_len:u32 root count:u32 dir*)     (little-endian)
//! dir  = path_len:u32 path dev:u64 ino:u64 mtime_ns:i64 ctime_ns:i64 recorded_ns:i64
//!        names_len:u32 names                    (names: each name then a NUL, sorted)
//! ```
//! A file that does not unseal or decode, or holds a name that is empty,
//! `.`, `..` or contains `/`, is no listing at all (every directory is
//! read again and the file rewritten).

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;

use crate::error::{IoContext, Result};
use crate::hint::{self, take};
use crate::layout::Layout;

const MAGIC: &[u8; 8] = b"STRCDX01";

/// A directory's own stat, as compared to decide whether it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirStat {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
    /// mtime, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// ctime, nanoseconds since the epoch.
    pub ctime_ns: i64,
}

/// One recorded directory.
#[derive(Debug, Clone, Copy)]
pub struct DirRecord<'a> {
    /// Its stat when it was read.
    pub stat: DirStat,
    /// When it was read, nanoseconds since the epoch.
    pub recorded_ns: i64,
    /// Its names, sorted, each followed by a NUL.
    pub names: &'a [u8],
}

/// The recorded directories of one context root.
#[derive(Debug, Default)]
pub struct DirListings {
    bytes: Vec<u8>,
    /// Record number and the span of its record in `bytes`, by path
    /// relative to the root (`""` for the root).
    by_path: HashMap<Box<str>, (usize, Range<usize>)>,
}

impl DirListings {
    /// The listings of `root` (a directory path ending in `/`); none when
    /// there are none or they cannot be trusted.
    pub fn load(layout: &Layout, root: &str) -> DirListings {
        let Some(bytes) = hint::read(&file_of(layout, root)) else {
            return DirListings::default();
        };
        DirListings::decode(bytes, root).unwrap_or_default()
    }

    fn decode(mut bytes: Vec<u8>, root: &str) -> Option<DirListings> {
        let body = hint::unseal_crc(&bytes)?.len();
        bytes.truncate(body);
        let mut r = bytes.strip_prefix(MAGIC.as_slice())?;
        let root_len = u32::from_le_bytes(take(&mut r)?) as usize;
        let (stored_root, rest) = r.split_at_checked(root_len)?;
        if stored_root != root.as_bytes() {
            return None;
        }
        r = rest;
        let count = u32::from_le_bytes(take(&mut r)?) as usize;
        let mut by_path = HashMap::with_capacity(count.min(1 << 16));
        for _ in 0..count {
            let start = body - r.len();
            let path_len = u32::from_le_bytes(take(&mut r)?) as usize;
            let (path, rest) = r.split_at_checked(path_len)?;
            let path = std::str::from_utf8(path).ok()?;
            r = rest.get(40..)?;
            let names_len = u32::from_le_bytes(take(&mut r)?) as usize;
            let (names, rest) = r.split_at_checked(names_len)?;
            let bad = |n: &[u8]| n.is_empty() || n == b"." || n == b".." || n.contains(&b'/');
            match names.strip_suffix(&[0]) {
                Some(list) if list.split(|b| *b == 0).any(bad) => return None,
                None if !names.is_empty() => return None,
                _ => {}
            }
            r = rest;
            let end = body - r.len();
            // Numbered as kept: a path twice is a damaged file.
            let i = by_path.len();
            if by_path.insert(path.into(), (i, start..end)).is_some() {
                return None;
            }
        }
        r.is_empty().then_some(DirListings { bytes, by_path })
    }

    /// How many directories are recorded.
    pub fn len(&self) -> usize {
        self.by_path.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }

    /// The record of directory `rel` (relative to the root) and its
    /// number (below [`DirListings::len`]).
    pub fn get(&self, rel: &str) -> Option<(usize, DirRecord<'_>)> {
        let (i, span) = self.by_path.get(rel)?;
        let mut r = self.bytes.get(span.clone())?;
        let path_len = u32::from_le_bytes(take(&mut r)?) as usize;
        r = r.get(path_len..)?;
        let mut word = || take::<8>(&mut r).map(u64::from_le_bytes);
        let (dev, ino) = (word()?, word()?);
        let (mtime, ctime, recorded) = (word()?, word()?, word()?);
        let names = r.get(4..)?;
        Some((
            *i,
            DirRecord {
                stat: DirStat {
                    dev,
                    ino,
                    mtime_ns: mtime as i64,
                    ctime_ns: ctime as i64,
                },
                recorded_ns: recorded as i64,
                names,
            },
        ))
    }

    /// Every record, with its path and number.
    pub fn iter(&self) -> impl Iterator<Item = (&str, usize, DirRecord<'_>)> {
        self.by_path
            .keys()
            .filter_map(|p| self.get(p).map(|(i, rec)| (&**p, i, rec)))
    }
}

/// `context-index/<hex sha256 of root>.dirs`.
pub fn file_of(layout: &Layout, root: &str) -> PathBuf {
    let mut p = crate::context_index::file_of(layout, root).into_os_string();
    p.push(".dirs");
    PathBuf::from(p)
}

/// Replaces the listings of `root` with `dirs` (paths relative to it, each
/// once; names sorted, each followed by a NUL).
pub fn write(layout: &Layout, root: &str, dirs: &[(&str, DirRecord<'_>)]) -> Result<()> {
    let size: usize = dirs.iter().map(|(p, d)| 48 + p.len() + d.names.len()).sum();
    let mut b = Vec::with_capacity(16 + root.len() + size + 4);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&(root.len() as u32).to_le_bytes());
    b.extend_from_slice(root.as_bytes());
    b.extend_from_slice(&(dirs.len() as u32).to_le_bytes());
    for (p, d) in dirs {
        b.extend_from_slice(&(p.len() as u32).to_le_bytes());
        b.extend_from_slice(p.as_bytes());
        for v in [d.stat.dev, d.stat.ino] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for v in [d.stat.mtime_ns, d.stat.ctime_ns, d.recorded_ns] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&(d.names.len() as u32).to_le_bytes());
        b.extend_from_slice(d.names);
    }
    let dir = layout.context_index();
    std::fs::create_dir_all(&dir).ctx("create directory", &dir)?;
    let file = file_of(layout, root);
    hint::write(&file, &hint::seal_crc(b)).ctx("write", &file)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: i64, names: &[u8]) -> DirRecord<'_> {
        DirRecord {
            stat: DirStat {
                dev: 1,
                ino: n as u64,
                mtime_ns: n,
                ctime_ns: n + 1,
            },
            recorded_ns: n + 2,
            names,
        }
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let root = "/ctx/";
        write(
            &layout,
            root,
            &[
                ("", rec(1, b"a\0b\0")),
                ("a/x", rec(5, b"")),
                ("b", rec(9, b"q r\0")),
            ],
        )
        .unwrap();
        let l = DirListings::load(&layout, root);
        assert_eq!(l.len(), 3);
        let (_, r) = l.get("").unwrap();
        assert_eq!((r.stat.ino, r.stat.ctime_ns, r.recorded_ns), (1, 2, 3));
        assert_eq!(r.names, b"a\0b\0");
        assert_eq!(l.get("a/x").unwrap().1.names, b"");
        assert_eq!(l.get("b").unwrap().1.names, b"q r\0");
        assert!(l.get("c").is_none());
        let mut nums: Vec<usize> = l.iter().map(|(_, i, _)| i).collect();
        nums.sort();
        assert_eq!(nums, [0, 1, 2]);
        // Another root's file is not this root's.
        assert!(DirListings::load(&layout, "/other/").is_empty());
    }

    #[test]
    fn damaged_or_hostile_files_are_no_listing() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let root = "/ctx/";
        write(&layout, root, &[("", rec(1, b"a\0b\0"))]).unwrap();
        let path = file_of(&layout, root);
        let good = std::fs::read(&path).unwrap();
        // Every truncation and every flipped byte.
        for n in 0..good.len() {
            std::fs::write(&path, &good[..n]).unwrap();
            assert!(DirListings::load(&layout, root).is_empty(), "cut {n}");
            let mut bad = good.clone();
            bad[n] ^= 0x41;
            std::fs::write(&path, &bad).unwrap();
            assert!(DirListings::load(&layout, root).is_empty(), "flip {n}");
        }
        // Sealed, but a directory twice.
        write(&layout, root, &[("", rec(1, b"a\0")), ("", rec(2, b"b\0"))]).unwrap();
        assert!(DirListings::load(&layout, root).is_empty());
        // Sealed, but a name that would leave the directory.
        for names in [&b"../x\0"[..], b"a/b\0", b"..\0", b"\0", b"a"] {
            write(&layout, root, &[("", rec(1, names))]).unwrap();
            assert!(DirListings::load(&layout, root).is_empty(), "{names:?}");
        }
    }
}
