//! Reusing the files of a COPY's previous layer. When a COPY step runs
//! again because some of the files it copies changed (its cache key
//! changed), every other file would be copied again byte for byte. Instead,
//! each file the copy would write exactly as the previous run of the same
//! step wrote it — same content digest, size, mode, owner and mtime, no
//! xattrs — is hardlinked from that run's snapshot into the new layer.
//! Snapshots are immutable, so sharing an inode between two of them is
//! safe; the layer tar is the same as for a copied file (a hardlink
//! shared with another snapshot is not a hardlink within the layer).
//!
//! What each COPY layer wrote is kept beside its snapshot's tree, in
//! `snapshots/<id>/copied` ([`FileMap`]): the image path, full sha256 and
//! metadata of every plain file. A file is reused only when its record
//! there matches the file the copy would write *and* the previous
//! snapshot's file, opened inside its root without following symlinks,
//! still has that metadata.
//!
//! ```text
//! previous run   COPY data/ /data/   → snapshots/41/fs  + snapshots/41/copied
//! this run       1 of 20,003 files changed
//!                19,999 files: linkat(snapshots/41/fs/data/…, layer/data/…)
//!                the changed one (and new ones): copied
//! ```

use std::collections::HashMap;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::fcntl::AtFlags;
use strata_store::hint::{self, take};
use strata_store::inroot_linux::Root;

use super::selection::SelectedEntry;

/// The file name of a snapshot's map, beside its `fs` directory.
pub const MAP_NAME: &str = "copied";

const MAGIC: &[u8; 8] = b"STRCPY01";

/// One plain file a COPY wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedFile {
    /// Image path (`/data/a.txt`).
    pub path: String,
    /// Content sha256.
    pub sha256: [u8; 32],
    /// Size in bytes.
    pub size: u64,
    /// mtime (ns since the epoch).
    pub mtime_ns: i64,
    /// Permission bits (07777).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// The plain files of one COPY layer, by image path.
#[derive(Debug, Default)]
pub struct FileMap {
    files: HashMap<String, CopiedFile>,
}

impl FileMap {
    /// A map of `files` (a later record for a path wins).
    pub fn new(files: Vec<CopiedFile>) -> FileMap {
        FileMap {
            files: files.into_iter().map(|f| (f.path.clone(), f)).collect(),
        }
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether it holds no file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The record of image path `path`.
    pub fn get(&self, path: &str) -> Option<&CopiedFile> {
        self.files.get(path)
    }

    /// The binary form: magic, count, records (sorted by path), sealed
    /// with a checksum (a torn file is never trusted; see
    /// [`strata_store::hint`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut files: Vec<&CopiedFile> = self.files.values().collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut out = Vec::with_capacity(16 + files.len() * 96);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(files.len() as u64).to_le_bytes());
        for f in files {
            out.extend_from_slice(&(f.path.len() as u32).to_le_bytes());
            out.extend_from_slice(f.path.as_bytes());
            out.extend_from_slice(&f.sha256);
            out.extend_from_slice(&f.size.to_le_bytes());
            out.extend_from_slice(&f.mtime_ns.to_le_bytes());
            out.extend_from_slice(&f.mode.to_le_bytes());
            out.extend_from_slice(&f.uid.to_le_bytes());
            out.extend_from_slice(&f.gid.to_le_bytes());
        }
        hint::seal(out)
    }

    /// Parses [`FileMap::encode`]'s form; `None` for anything else.
    pub fn decode(b: &[u8]) -> Option<FileMap> {
        let mut r = hint::unseal(b)?.strip_prefix(MAGIC.as_slice())?;
        let n = u64::from_le_bytes(take(&mut r)?);
        let mut files = HashMap::with_capacity(usize::try_from(n).ok()?.min(1 << 20));
        for _ in 0..n {
            let len = u32::from_le_bytes(take(&mut r)?) as usize;
            let (p, rest) = r.split_at_checked(len)?;
            r = rest;
            let path = std::str::from_utf8(p).ok()?.to_string();
            let f = CopiedFile {
                path: path.clone(),
                sha256: take(&mut r)?,
                size: u64::from_le_bytes(take(&mut r)?),
                mtime_ns: i64::from_le_bytes(take(&mut r)?),
                mode: u32::from_le_bytes(take(&mut r)?),
                uid: u32::from_le_bytes(take(&mut r)?),
                gid: u32::from_le_bytes(take(&mut r)?),
            };
            files.insert(path, f);
        }
        r.is_empty().then_some(FileMap { files })
    }

    /// Reads the map at `path`; `None` when it is missing or not valid.
    pub fn read(path: &Path) -> Option<FileMap> {
        FileMap::decode(&hint::read(path)?)
    }

    /// Writes the map to `path` (a hint: no fsync, see
    /// [`strata_store::hint`]).
    pub fn write(&self, path: &Path) -> io::Result<()> {
        hint::write(path, &self.encode())
    }
}

/// The previous run's snapshot of a COPY step and what it wrote.
pub struct Reuse {
    root: Root,
    map: FileMap,
}

impl std::fmt::Debug for Reuse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reuse")
            .field("files", &self.map.len())
            .finish()
    }
}

/// What the copy would write for one file.
pub(crate) struct Want<'a> {
    pub entry: &'a SelectedEntry,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub mtime_ns: i64,
}

impl Reuse {
    /// The snapshot tree `fs` (`snapshots/<id>/fs`) with its map beside
    /// it; `None` when either is missing or the map is not valid.
    pub fn open(fs: &Path) -> Option<Reuse> {
        let map = FileMap::read(&fs.parent()?.join(MAP_NAME))?;
        if map.is_empty() {
            return None;
        }
        let root = Root::open(fs).ok()?;
        Some(Reuse { root, map })
    }

    /// Hardlinks image path `dst` of the previous snapshot to `host` when
    /// it is the file the copy of `src` would write (see the module docs).
    /// `false`: not reusable, copy it.
    pub(crate) fn link(&self, src: &Path, want: &Want<'_>, dst: &str, host: &Path) -> bool {
        let e = want.entry;
        let Some(sha) = e.sha256 else { return false };
        let Some(rec) = self.map.get(dst) else {
            return false;
        };
        if rec.sha256 != sha
            || rec.size != e.size
            || rec.mode != want.mode
            || (rec.uid, rec.gid) != (want.uid, want.gid)
            || rec.mtime_ns != want.mtime_ns
        {
            return false;
        }
        // A source with xattrs is copied (the map only holds files without).
        if strata_store::layer::has_copied_xattrs(src).unwrap_or(true) {
            return false;
        }
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
        let Ok(fd) = self.root.open_in(dst, flags) else {
            return false;
        };
        let f = std::fs::File::from(fd);
        let Ok(md) = f.metadata() else { return false };
        let mtime = md
            .mtime()
            .saturating_mul(1_000_000_000)
            .saturating_add(md.mtime_nsec());
        if !md.is_file()
            || md.size() != rec.size
            || md.mode() & 0o7777 != rec.mode
            || (md.uid(), md.gid()) != (rec.uid, rec.gid)
            || mtime != rec.mtime_ns
        {
            return false;
        }
        // linkat through the descriptor's /proc link: the file opened
        // inside the root, not whatever its path names now.
        let proc = format!("/proc/self/fd/{}", f.as_raw_fd());
        nix::unistd::linkat(
            None,
            Path::new(&proc),
            None,
            host,
            AtFlags::AT_SYMLINK_FOLLOW,
        )
        .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, n: u8) -> CopiedFile {
        CopiedFile {
            path: path.into(),
            sha256: [n; 32],
            size: u64::from(n),
            mtime_ns: -5,
            mode: 0o644,
            uid: 1,
            gid: 2,
        }
    }

    #[test]
    fn map_round_trip_and_corruption() {
        let m = FileMap::new(vec![file("/b", 2), file("/a", 1), file("/b", 3)]);
        assert_eq!(m.len(), 2);
        let bytes = m.encode();
        let back = FileMap::decode(&bytes).unwrap();
        assert_eq!(back.get("/a"), Some(&file("/a", 1)));
        assert_eq!(back.get("/b"), Some(&file("/b", 3)));
        for cut in [0, 8, bytes.len() / 2, bytes.len() - 1] {
            assert!(FileMap::decode(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert!(FileMap::decode(&flipped).is_none());
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join(MAP_NAME);
        m.write(&p).unwrap();
        assert_eq!(FileMap::read(&p).unwrap().get("/a"), Some(&file("/a", 1)));
        assert!(FileMap::read(&t.path().join("none")).is_none());
    }
}
