//! Plain-directory root filesystems, for builds where nothing can be
//! mounted (`--isolation chroot` in an unprivileged container, Kaniko's
//! case): a step's rootfs is a writable copy of its parent snapshots, and
//! its layer is found by comparing the copy with a record taken before
//! the step ran, as Kaniko snapshots the filesystem.
//!
//! ```text
//! materialize(lowers, rootfs)       each snapshot, bottom first, written as a
//!                                   tar (overlay whiteouts as OCI ones) and
//!                                   applied in merge mode: whiteouts delete
//! let rec = Record::take(rootfs, ignore)    (dev, inode, btime, ctime) of every path
//! … the step runs, changing rootfs in place …
//! rec.diff_into(rootfs, upper)      upper = what an overlay upper dir would
//!                                   hold after the same changes
//! ```
//!
//! Why `(dev, inode, birth time, ctime)` and no content hashes: every
//! change to an inode (data, mode, owner, times, xattrs, links) sets its
//! ctime to the current time, and a replaced file is a new inode (a new
//! birth time where the filesystem records one, even when the inode number
//! is reused), so an entry whose stamp is unchanged is unchanged. [`Record::take`] waits until the
//! clock has moved past the newest ctime it saw, so a change made later
//! cannot carry an equal one (git's "racily clean" rule). Nothing is read
//! twice, however big the image.
//!
//! The upper dir is built the way overlayfs builds one, so the layer tar
//! is byte-identical to the one an overlay RUN step gives for the same
//! changes: a changed entry is moved into it (the copy is thrown away
//! afterwards); directories on the way are created with the metadata they
//! have in the rootfs (overlay's copy-up); a deleted path becomes a char
//! 0/0 whiteout when its parent survived; a directory that replaced
//! something of the lower layers (a new inode at a recorded path) is
//! opaque, as overlayfs marks a directory created over a whiteout.
//! The opaque marker is the store's (`crate::userns::set_opaque`).

use std::collections::{HashMap, HashSet};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::layer::{self, ApplyMode, ApplyOptions, Compression, TarOptions, WhiteoutFormat};

/// Copies the snapshot dirs `lowers` (topmost first, as
/// `Snapshots::lower_dirs` gives them) into the empty directory `target`,
/// as overlayfs would show them merged.
pub fn materialize(lowers: &[PathBuf], target: &Path) -> Result<(), layer::LayerError> {
    for lower in lowers.iter().rev() {
        let (reader, writer) = io::pipe().map_err(|e| io_error(lower, "pipe", e))?;
        let src = lower.clone();
        let producer = std::thread::spawn(move || {
            layer::write_layer(
                &src,
                &TarOptions {
                    whiteouts: WhiteoutFormat::Overlay,
                    source_date_epoch: None,
                    ..TarOptions::default()
                },
                Compression::None,
                writer,
            )
        });
        let applied = layer::apply_layer(reader, target, &ApplyOptions::new(ApplyMode::Merge));
        let written = producer
            .join()
            .map_err(|_| io_error(lower, "read snapshot", io::Error::other("thread panicked")))?;
        written?;
        applied?;
    }
    Ok(())
}

fn io_error(path: &Path, op: &'static str, e: io::Error) -> layer::LayerError {
    layer::LayerError::Io {
        path: path.display().to_string(),
        op,
        source: e,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    /// Birth time, where the filesystem keeps one: a directory removed and
    /// made again at once often gets the same inode number back.
    btime: Option<std::time::SystemTime>,
    ctime: (i64, i64),
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            btime: m.created().ok(),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }

    /// The same inode (not only the same number).
    fn same_inode(&self, other: &Stamp) -> bool {
        (self.dev, self.ino, self.btime) == (other.dev, other.ino, other.btime)
    }
}

/// What a rootfs held before a step: every path (relative, without the
/// ignored ones) with its `(dev, inode, birth time, ctime)`.
#[derive(Debug)]
pub struct Record {
    entries: HashMap<PathBuf, Stamp>,
    ignore: Vec<PathBuf>,
}

/// What [`Record::diff_into`] put into the upper dir.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DiffStats {
    /// Entries moved or created (directories included).
    pub changed: usize,
    /// Whiteouts made.
    pub deleted: usize,
}

impl Record {
    /// Records `root`; paths in `ignore` (relative, e.g. `dev`,
    /// `etc/hosts`) and everything below them are left out, now and in
    /// the diff. Returns once the clock has passed every recorded ctime.
    pub fn take(root: &Path, ignore: &[&str]) -> io::Result<Record> {
        let mut rec = Record {
            entries: HashMap::new(),
            ignore: ignore.iter().map(PathBuf::from).collect(),
        };
        let mut newest = (0i64, 0i64);
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            for entry in std::fs::read_dir(root.join(&rel))? {
                let entry = entry?;
                let path = rel.join(entry.file_name());
                if rec.ignored(&path) {
                    continue;
                }
                let m = entry.metadata()?;
                let stamp = Stamp::of(&m);
                newest = newest.max(stamp.ctime);
                if m.is_dir() {
                    stack.push(path.clone());
                }
                rec.entries.insert(path, stamp);
            }
        }
        wait_past(root, newest)?;
        Ok(rec)
    }

    fn ignored(&self, rel: &Path) -> bool {
        self.ignore.iter().any(|i| rel.starts_with(i))
    }

    /// Fills the empty directory `upper` with the changes made to `root`
    /// since the record (see the module docs). Changed entries are moved
    /// out of `root`, which is left incomplete.
    pub fn diff_into(&self, root: &Path, upper: &Path) -> io::Result<DiffStats> {
        let mut d = Differ {
            root,
            upper,
            made: Vec::new(),
            made_set: HashSet::new(),
            stats: DiffStats::default(),
        };
        // Directories present now, and which of them replaced a recorded path.
        let mut dirs: HashSet<PathBuf> = HashSet::new();
        let mut replaced: HashSet<PathBuf> = HashSet::new();
        let mut seen: HashSet<PathBuf> = HashSet::new();
        let mut moves = Vec::new();
        let mut stack = vec![PathBuf::new()];
        dirs.insert(PathBuf::new());
        while let Some(rel) = stack.pop() {
            let mut names: Vec<_> = std::fs::read_dir(root.join(&rel))?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<io::Result<_>>()?;
            names.sort();
            for name in names {
                let path = rel.join(name);
                if self.ignored(&path) {
                    continue;
                }
                let m = std::fs::symlink_metadata(root.join(&path))?;
                let before = self.entries.get(&path);
                let now = Stamp::of(&m);
                let same = before == Some(&now);
                seen.insert(path.clone());
                if m.is_dir() {
                    dirs.insert(path.clone());
                    if !same {
                        d.ensure_dir(&path)?;
                        if before.is_some_and(|b| !b.same_inode(&now)) {
                            d.opaque(&path)?;
                            replaced.insert(path.clone());
                        }
                    }
                    stack.push(path);
                } else if !same {
                    moves.push(path);
                }
            }
        }
        for path in moves {
            if let Some(parent) = path.parent() {
                d.ensure_dir(parent)?;
            }
            std::fs::rename(root.join(&path), upper.join(&path))?;
            d.stats.changed += 1;
        }
        let mut gone: Vec<&PathBuf> = self.entries.keys().filter(|p| !seen.contains(*p)).collect();
        gone.sort();
        for path in gone {
            let parent = path.parent().unwrap_or(Path::new(""));
            // Only the topmost deleted path needs a whiteout, and none
            // inside an opaque (replaced) directory.
            if !dirs.contains(parent) || replaced.contains(parent) {
                continue;
            }
            d.ensure_dir(parent)?;
            whiteout(&upper.join(path))?;
            d.stats.deleted += 1;
        }
        d.finish()
    }
}

struct Differ<'a> {
    root: &'a Path,
    upper: &'a Path,
    /// Directories created in upper (mtimes are set last).
    made: Vec<PathBuf>,
    made_set: HashSet<PathBuf>,
    stats: DiffStats,
}

impl Differ<'_> {
    /// Creates `rel` and its parents in upper with the rootfs's metadata.
    fn ensure_dir(&mut self, rel: &Path) -> io::Result<()> {
        if rel.as_os_str().is_empty() || self.made_set.contains(rel) {
            return Ok(());
        }
        if let Some(parent) = rel.parent() {
            self.ensure_dir(parent)?;
        }
        let (src, dst) = (self.root.join(rel), self.upper.join(rel));
        let m = std::fs::symlink_metadata(&src)?;
        std::fs::create_dir(&dst)?;
        std::os::unix::fs::lchown(&dst, Some(m.uid()), Some(m.gid()))?;
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
        layer::copy_xattrs(&src, &dst)?;
        self.made.push(rel.to_path_buf());
        self.made_set.insert(rel.to_path_buf());
        self.stats.changed += 1;
        Ok(())
    }

    fn opaque(&self, rel: &Path) -> io::Result<()> {
        let dir = std::fs::File::open(self.upper.join(rel))?;
        crate::userns::set_opaque(std::os::fd::AsFd::as_fd(&dir))
    }

    /// Gives the created directories their rootfs mtimes, deepest first.
    fn finish(mut self) -> io::Result<DiffStats> {
        self.made
            .sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for rel in &self.made {
            let m = std::fs::symlink_metadata(self.root.join(rel))?;
            let t = nix::sys::time::TimeSpec::new(m.mtime(), m.mtime_nsec());
            nix::sys::stat::utimensat(
                None,
                &self.upper.join(rel),
                &t,
                &t,
                nix::sys::stat::UtimensatFlags::NoFollowSymlink,
            )
            .map_err(io::Error::from)?;
        }
        Ok(self.stats)
    }
}

/// An overlay whiteout (char 0/0; the kernel lets anyone make one).
fn whiteout(p: &Path) -> io::Result<()> {
    nix::sys::stat::mknod(
        p,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::empty(),
        0,
    )
    .map_err(io::Error::from)
}

/// Waits until a file changed now gets a ctime later than `newest`.
fn wait_past(root: &Path, newest: (i64, i64)) -> io::Result<()> {
    let probe = root.with_extension(format!("probe-{}", std::process::id()));
    let f = std::fs::File::create(&probe)?;
    let res = (|| {
        for _ in 0..1000 {
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            let m = f.metadata()?;
            if (m.ctime(), m.ctime_nsec()) > newest {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Err(io::Error::other(
            "the clock does not move past the rootfs's newest ctime",
        ))
    })();
    let _ = std::fs::remove_file(&probe);
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::fs;
    use std::os::unix::ffi::OsStrExt;

    fn cstring(p: &Path) -> io::Result<CString> {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
    }

    fn tree(upper: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            for e in fs::read_dir(upper.join(&rel)).unwrap() {
                let e = e.unwrap();
                let p = rel.join(e.file_name());
                let m = e.metadata().unwrap();
                let kind = if m.is_dir() {
                    stack.push(p.clone());
                    "d"
                } else if m.file_type().is_char_device() {
                    "w"
                } else {
                    "f"
                };
                out.push(format!("{kind} {}", p.display()));
            }
        }
        out.sort();
        out
    }

    use std::os::unix::fs::FileTypeExt;

    #[test]
    fn diff_is_what_overlay_would_hold() {
        let t = tempfile::tempdir().unwrap();
        let (lower, root, upper) = (t.path().join("l"), t.path().join("r"), t.path().join("u"));
        for d in [&lower, &root, &upper] {
            fs::create_dir(d).unwrap();
        }
        for d in ["a/b", "keep/deep", "gone/x", "swap", "etc"] {
            fs::create_dir_all(lower.join(d)).unwrap();
        }
        for f in [
            "a/b/f",
            "keep/deep/k",
            "gone/x/y",
            "swap/old",
            "a/del",
            "etc/hosts",
        ] {
            fs::write(lower.join(f), f).unwrap();
        }
        materialize(std::slice::from_ref(&lower), &root).unwrap();
        let rec = Record::take(&root, &["etc/hosts", "dev"]).unwrap();
        // The step: a new file deep down, a changed mode, deletions, a
        // replaced directory, an ignored file rewritten.
        fs::write(root.join("a/b/new"), "n").unwrap();
        fs::set_permissions(root.join("keep/deep/k"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::remove_dir_all(root.join("gone")).unwrap();
        fs::remove_file(root.join("a/del")).unwrap();
        // Removed and made again: often the same inode number.
        fs::remove_dir_all(root.join("swap")).unwrap();
        fs::create_dir(root.join("swap")).unwrap();
        fs::write(root.join("swap/n"), "n").unwrap();
        fs::write(root.join("etc/hosts"), "other").unwrap();
        fs::create_dir(root.join("dev")).unwrap();
        let stats = rec.diff_into(&root, &upper).unwrap();
        assert_eq!(
            tree(&upper),
            [
                "d a",
                "d a/b",
                "d keep",
                "d keep/deep",
                "d swap",
                "f a/b/new",
                "f keep/deep/k",
                "f swap/n",
                "w a/del",
                "w gone"
            ]
        );
        assert_eq!(stats.deleted, 2);
        let opaque = |p: &Path| {
            let c = cstring(p).unwrap();
            [c"trusted.overlay.opaque", c"user.overlay.opaque"]
                .iter()
                .any(|n| {
                    let mut v = [0u8; 4];
                    // SAFETY: NUL-terminated strings; the buffer is 4 bytes.
                    unsafe {
                        libc::lgetxattr(c.as_ptr(), n.as_ptr(), v.as_mut_ptr().cast(), 4) == 1
                    }
                })
        };
        assert!(opaque(&upper.join("swap")));
        assert!(!opaque(&upper.join("a")));
        // Copied-up directories keep the rootfs's mtime.
        let mt = |p: &Path| fs::metadata(p).unwrap().mtime();
        assert_eq!(mt(&upper.join("keep")), mt(&root.join("keep")));
    }

    #[test]
    fn nothing_changed_gives_nothing() {
        let t = tempfile::tempdir().unwrap();
        let (root, upper) = (t.path().join("r"), t.path().join("u"));
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("a/b/f"), "x").unwrap();
        fs::create_dir(&upper).unwrap();
        let rec = Record::take(&root, &[]).unwrap();
        let _ = fs::read(root.join("a/b/f")).unwrap();
        assert_eq!(rec.diff_into(&root, &upper).unwrap(), DiffStats::default());
        assert!(tree(&upper).is_empty());
    }
}
