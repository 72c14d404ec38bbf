//! Creating a layer from a directory ([`write_layer`]).
//!
//! The tree is walked depth-first with the names of each directory sorted by
//! their bytes (Go's `filepath.Walk` order), through directory descriptors
//! (`*at` calls, no symlink ever followed). Each entry becomes one header
//! from [`super::tarfmt`]; the stream goes
//! `tar → DigestWriter (diffID) → compressor → DigestWriter (blob) → out`,
//! so both digests come from the single pass that writes the blob.
//!
//! With [`WhiteoutFormat::Overlay`] the source is an overlayfs upper dir:
//! a char device 0/0 becomes an empty regular file `.wh.<name>` (mode 0600,
//! the device's owner and mtime), and a directory with
//! `trusted.overlay.opaque=y` (or `user.overlay.opaque=y`) is followed by a
//! `<dir>/.wh..wh..opq` entry (the directory's permissions, owner, mtime).
//! Upper dirs that use `redirect_dir` or `metacopy` cannot be expressed as a
//! tar diff and are refused; mount snapshots with both off (the default).
//! fuse-overlayfs' fallback markers give the same entries: a `.wh.<name>`
//! file (sorted as `<name>`), a `.wh..wh..opq` file or `.wh..opq` device in
//! an opaque directory; an opaque mark on a directory no lower dir
//! ([`super::TarOptions::lowers`]) has is dropped.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use strata_oci::{DigestWriter, Digester};

use super::compress::Compressor;
use super::error::io_err;
use super::meta::is_overlay_private;
use super::path::{WHITEOUT_META_PREFIX, WHITEOUT_OPAQUE, WHITEOUT_PREFIX, join};
use super::resume::{Checkpoints, Pending, Track, copy_prefix};
use super::sys_linux as sys;
use super::tarfmt::{self, Entry, Kind, Record};
use super::tree_linux::list_names;
use super::{Compression, LayerError, LayerWritten, TarOptions, WhiteoutFormat};

const COPY_BUF: usize = 1 << 20;

/// Writes a deterministic tar of `dir` (the directory itself not included),
/// compressed with `compression`, to `out`. See [`super`] for the format.
pub fn write_layer(
    dir: &Path,
    opts: &TarOptions,
    compression: Compression,
    out: impl Write,
) -> Result<LayerWritten, LayerError> {
    write_tar(dir, opts, compression, out, true)
}

/// What [`write_layer`] of `dir` uncompressed would return, without
/// keeping the tar: a resumed write ([`TarOptions::previous`]) needs only
/// the previous tar's checkpoints, not its bytes.
pub fn digest_layer(dir: &Path, opts: &TarOptions) -> Result<LayerWritten, LayerError> {
    write_tar(dir, opts, Compression::None, std::io::sink(), false)
}

fn write_tar(
    dir: &Path,
    opts: &TarOptions,
    compression: Compression,
    out: impl Write,
    keep: bool,
) -> Result<LayerWritten, LayerError> {
    // A cancelled command (a signal) stops here; the partial blob is the
    // caller's to drop.
    let out = crate::cancel::Writer::new(out, crate::cancel::Cancel::global());
    // An uncompressed blob is the tar itself: its digest is the diffID,
    // so it is hashed once, not twice.
    let blob = if compression == Compression::None {
        BlobSide::SameAsTar(out)
    } else {
        BlobSide::Hashed(DigestWriter::new(out))
    };
    let comp = Compressor::new(blob, compression)?;
    let diff = DigestWriter::new(comp);
    // Only an uncompressed tar can continue another's prefix.
    let previous = opts
        .previous
        .as_ref()
        .filter(|_| compression == Compression::None);
    let mut w = TarOut {
        out: BufWriter::with_capacity(256 << 10, diff),
        hdr: Vec::with_capacity(4096),
        buf: vec![0; COPY_BUF],
        entries: 0,
        content_size: 0,
        track: Track::new(opts.contents.clone(), previous, keep),
        base: dir.to_path_buf(),
    };
    Walker {
        opts,
        links: HashMap::new(),
        base: dir.to_path_buf(),
    }
    .walk(dir, &mut w)?;
    w.diverge()?;
    let resumed = w.track.matched.as_ref().map_or(0, |c| c.offset);
    if resumed > 0 {
        tracing::debug!(
            "{}: tar resumed from the previous write at byte {resumed} of {}",
            dir.display(),
            w.track.offset
        );
    }
    w.out
        .write_all(&[0; 2 * tarfmt::BLOCK])
        .map_err(LayerError::Write)?;
    let (entries, content_size) = (w.entries, w.content_size);
    let checkpoints = opts.contents.as_ref().map(|_| Checkpoints {
        list: std::mem::take(&mut w.track.made),
    });
    let diff = w
        .out
        .into_inner()
        .map_err(|e| LayerError::Write(e.into_error()))?;
    let (comp, diff_id, tar_size) = diff.finish();
    let (blob_digest, blob_size) = match comp.finish().map_err(LayerError::Write)? {
        BlobSide::Hashed(blob) => {
            let (_, digest, size) = blob.finish();
            (digest, size)
        }
        BlobSide::SameAsTar(_) => (diff_id.clone(), tar_size),
    };
    Ok(LayerWritten {
        diff_id,
        tar_size,
        blob_digest,
        blob_size,
        entries,
        content_size,
        checkpoints,
        resumed,
    })
}

/// The blob end of [`write_layer`]'s stream.
enum BlobSide<W> {
    /// Compressed bytes, hashed on their way out.
    Hashed(DigestWriter<W>),
    /// The uncompressed tar, already hashed as the diffID.
    SameAsTar(W),
}

impl<W: Write> Write for BlobSide<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            BlobSide::Hashed(w) => w.write(buf),
            BlobSide::SameAsTar(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            BlobSide::Hashed(w) => w.flush(),
            BlobSide::SameAsTar(w) => w.flush(),
        }
    }
}

/// The tar being written: `C` is the compressor (the diffID is hashed
/// before it). While [`Track`] is dry, entries are only noted.
struct TarOut<C: Write> {
    out: BufWriter<DigestWriter<C>>,
    hdr: Vec<u8>,
    buf: Vec<u8>,
    entries: u64,
    /// Bytes of regular-file data written (headers and padding excluded).
    content_size: u64,
    track: Track,
    base: PathBuf,
}

impl<C: Write> TarOut<C> {
    fn header(&mut self, e: &Entry<'_>) -> Result<(), LayerError> {
        self.hdr.clear();
        tarfmt::encode_header(e, &mut self.hdr);
        self.entries += 1;
        self.track.header(&self.hdr);
        if self.track.is_dry() {
            self.track.pending.push(Pending::Bytes(self.hdr.clone()));
            return Ok(());
        }
        self.out.write_all(&self.hdr).map_err(LayerError::Write)
    }

    /// The data of the regular file `name` in `dir` (tar path `rel`),
    /// statted as `st`; its header is written.
    fn file(
        &mut self,
        dir: &Rc<OwnedFd>,
        name: &CStr,
        rel: &[u8],
        st: &libc::stat,
    ) -> Result<(), LayerError> {
        let size = u64::try_from(st.st_size).unwrap_or(0);
        let id = (st.st_dev, st.st_ino, size);
        let known = self.track.data(rel, size);
        if self.track.is_dry() {
            if known {
                self.track.pending.push(Pending::File {
                    dir: dir.clone(),
                    name: name.to_owned(),
                    rel: rel.to_vec(),
                    id,
                });
                return Ok(());
            }
            self.diverge()?;
        }
        self.file_data(dir.as_fd(), name, rel, id)
    }

    /// Opens `name` in `dir`, checks it is still the file `id` (dev, ino,
    /// size) and writes its data.
    fn file_data(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        rel: &[u8],
        id: (u64, u64, u64),
    ) -> Result<(), LayerError> {
        let path = self.base.join(std::ffi::OsStr::from_bytes(rel));
        let abs = || path.display().to_string();
        let fd = sys::openat(dir, name, libc::O_RDONLY | libc::O_NOFOLLOW, 0)
            .map_err(|e| io_err(abs(), "open", e))?;
        let now = sys::fstat(fd.as_fd()).map_err(|e| io_err(abs(), "stat", e))?;
        let size = u64::try_from(now.st_size).unwrap_or(u64::MAX);
        if (now.st_dev, now.st_ino, size) != id {
            return Err(LayerError::Source {
                path: abs(),
                reason: "file changed while the layer was being written".into(),
            });
        }
        self.data(&mut File::from(fd), id.2, &path)
    }

    /// Copies exactly `size` bytes of `f` and pads to a block.
    fn data(&mut self, f: &mut File, size: u64, path: &Path) -> Result<(), LayerError> {
        let mut left = size;
        while left > 0 {
            let want = usize::try_from(left.min(self.buf.len() as u64)).unwrap_or(self.buf.len());
            let n = match f.read(&mut self.buf[..want]) {
                Ok(0) => {
                    return Err(LayerError::Source {
                        path: path.display().to_string(),
                        reason: format!("file shrank while being read ({left} bytes missing)"),
                    });
                }
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err(path.display().to_string(), "read", e)),
            };
            self.out
                .write_all(&self.buf[..n])
                .map_err(LayerError::Write)?;
            left -= n as u64;
        }
        let rem = (size % tarfmt::BLOCK as u64) as usize;
        if rem != 0 {
            let zeros = [0u8; tarfmt::BLOCK];
            self.out
                .write_all(&zeros[..tarfmt::BLOCK - rem])
                .map_err(LayerError::Write)?;
        }
        Ok(())
    }

    /// After each entry: a checkpoint when one falls here (compared with
    /// the previous write's while dry).
    fn end_entry(&mut self) -> Result<(), LayerError> {
        if !self.track.due() || (self.track.is_dry() && self.track.matches()) {
            return Ok(());
        }
        self.diverge()?;
        self.out.flush().map_err(LayerError::Write)?;
        let state = self.out.get_ref().digester().save();
        self.track.made(state);
        Ok(())
    }

    /// Stops being dry: the previous tar up to the last matched checkpoint
    /// is copied, the tar hash restored there, the pending entries written.
    fn diverge(&mut self) -> Result<(), LayerError> {
        let Some(prev) = self.track.take_previous() else {
            return Ok(());
        };
        if let Some(m) = self.track.matched.clone() {
            let restored = Digester::restore(&m.tar_state).ok_or_else(|| LayerError::Source {
                path: self.base.display().to_string(),
                reason: "previous layer checkpoint holds no hash state".into(),
            })?;
            // Nothing went through the buffer while dry: these bytes come
            // first, unhashed, and the hash continues from their state.
            if let Some(prev) = &prev {
                copy_prefix(prev, m.offset, self.out.get_mut().get_mut())
                    .map_err(LayerError::Write)?;
            }
            self.out.get_mut().set_digester(restored);
        }
        for p in std::mem::take(&mut self.track.pending) {
            match p {
                Pending::Bytes(b) => self.out.write_all(&b).map_err(LayerError::Write)?,
                Pending::File { dir, name, rel, id } => {
                    self.file_data(dir.as_fd(), &name, &rel, id)?;
                }
            }
        }
        Ok(())
    }
}

/// A directory being walked: its fd, relative path and the names left,
/// sorted descending so `pop` yields them in ascending byte order.
struct Frame {
    fd: Rc<OwnedFd>,
    rel: Vec<u8>,
    names: Vec<CString>,
}

struct Walker<'o> {
    opts: &'o TarOptions,
    /// (dev, ino) of multiply-linked inodes -> the first path written.
    links: HashMap<(u64, u64), Vec<u8>>,
    base: PathBuf,
}

/// `.wh.NAME`, not one of the `.wh..wh.` meta names.
fn is_file_whiteout(name: &[u8]) -> bool {
    name.starts_with(WHITEOUT_PREFIX) && !name.starts_with(WHITEOUT_META_PREFIX)
}

/// The sort key of a name in an overlay upper dir: a whiteout file
/// `.wh.NAME` sorts as NAME (before a NAME beside it).
fn overlay_key(name: &CString) -> (&[u8], bool) {
    let b = name.as_bytes();
    if is_file_whiteout(b) {
        (&b[WHITEOUT_PREFIX.len()..], false)
    } else {
        (b, true)
    }
}

fn fmt_of(st: &libc::stat) -> libc::mode_t {
    st.st_mode & libc::S_IFMT
}

impl Walker<'_> {
    fn abs(&self, rel: &[u8]) -> PathBuf {
        self.base.join(std::ffi::OsStr::from_bytes(rel))
    }

    /// Whether a lower dir has an entry (a whiteout too) at `rel`: where
    /// none has, an opaque mark hides nothing (no lowers known: assumed
    /// has). The kernel only marks a directory made over a whiteout, which
    /// needs a lower entry, so its marks always pass. A lower not unpacked
    /// (a lazily loaded layer) cannot be asked: assumed has.
    fn in_lowers(&self, rel: &[u8]) -> bool {
        let rel = Path::new(std::ffi::OsStr::from_bytes(rel));
        self.opts.lowers.is_empty()
            || self.opts.lowers.iter().any(|l| !l.is_dir())
            || self
                .opts
                .lowers
                .iter()
                .any(|l| std::fs::symlink_metadata(l.join(rel)).is_ok())
    }

    fn mtime(&self, st: &libc::stat) -> i64 {
        match self.opts.source_date_epoch {
            Some(epoch) => st.st_mtime.min(epoch),
            None => st.st_mtime,
        }
    }

    fn open_children(&self, fd: OwnedFd, rel: Vec<u8>) -> Result<Frame, LayerError> {
        let mut names = list_names(fd.as_fd())
            .map_err(|e| io_err(self.abs(&rel).display().to_string(), "read directory", e))?;
        if self.opts.whiteouts == WhiteoutFormat::Overlay {
            // fuse-overlayfs' markers: `.wh..wh..opq` (read with the
            // directory) is no entry; `.wh.NAME` sorts where NAME would,
            // as the kernel's 0/0 device named NAME does.
            names.retain(|n| !matches!(n.as_bytes(), b".wh..wh..opq" | b".wh..opq"));
            names.sort_unstable_by(|a, b| overlay_key(b).cmp(&overlay_key(a)));
        } else {
            names.sort_unstable_by(|a, b| b.as_bytes().cmp(a.as_bytes()));
        }
        Ok(Frame {
            fd: Rc::new(fd),
            rel,
            names,
        })
    }

    fn walk<C: Write>(&mut self, dir: &Path, w: &mut TarOut<C>) -> Result<(), LayerError> {
        let c =
            CString::new(dir.as_os_str().as_encoded_bytes()).map_err(|_| LayerError::Source {
                path: dir.display().to_string(),
                reason: "NUL byte in path".into(),
            })?;
        // SAFETY: AT_FDCWD is a valid "fd" for *at calls and is never closed.
        let cwd = unsafe { BorrowedFd::borrow_raw(libc::AT_FDCWD) };
        let root = sys::openat(cwd, &c, libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .map_err(|e| io_err(dir.display().to_string(), "open layer source", e))?;
        let mut stack = vec![self.open_children(root, Vec::new())?];
        while let Some(top) = stack.last_mut() {
            let Some(name) = top.names.pop() else {
                stack.pop();
                continue;
            };
            let rel = join(&top.rel, name.as_bytes());
            let dir = top.fd.clone();
            let sub = self.entry(&dir, &name, rel, w)?;
            w.end_entry()?;
            if let Some((fd, rel)) = sub {
                let frame = self.open_children(fd, rel)?;
                stack.push(frame);
            }
        }
        Ok(())
    }

    /// Writes one entry; for a directory returns its fd and path to descend.
    fn entry<C: Write>(
        &mut self,
        dir: &Rc<OwnedFd>,
        name: &CStr,
        rel: Vec<u8>,
        w: &mut TarOut<C>,
    ) -> Result<Option<(OwnedFd, Vec<u8>)>, LayerError> {
        let dirfd = dir.as_fd();
        let abs_path = self.abs(&rel);
        let abs = || abs_path.display().to_string();
        let st = sys::lstatat(dirfd, name).map_err(|e| io_err(abs(), "stat", e))?;
        let fmt = fmt_of(&st);
        let overlay = self.opts.whiteouts == WhiteoutFormat::Overlay;
        if fmt == libc::S_IFSOCK {
            tracing::debug!(path = %abs(), "socket skipped");
            return Ok(None);
        }
        let mut e = Entry {
            path: &rel,
            link: b"",
            kind: Kind::Regular,
            mode: st.st_mode & 0o7777,
            uid: u64::from(st.st_uid),
            gid: u64::from(st.st_gid),
            size: 0,
            mtime: self.mtime(&st),
            dev_major: 0,
            dev_minor: 0,
            xattrs: &[],
        };
        if overlay && fmt == libc::S_IFCHR && st.st_rdev == 0 {
            let (parent, base) = super::path::split_parent(&rel);
            let mut wh = WHITEOUT_PREFIX.to_vec();
            wh.extend_from_slice(base);
            let path = join(parent, &wh);
            e.path = &path;
            e.mode = 0o600;
            w.header(&e)?;
            return Ok(None);
        }
        if overlay && fmt == libc::S_IFREG && is_file_whiteout(name.to_bytes()) {
            // fuse-overlayfs' whiteout where it may not mknod: the same
            // entry as the kernel's device.
            e.mode = 0o600;
            w.header(&e)?;
            return Ok(None);
        }
        let (xattrs, mut opaque) = self.xattrs(dirfd, name, fmt, &abs)?;
        e.xattrs = &xattrs;
        match fmt {
            libc::S_IFDIR => {
                let fd = sys::openat(
                    dirfd,
                    name,
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                    0,
                )
                .map_err(|e| io_err(abs(), "open directory", e))?;
                if overlay {
                    // fuse-overlayfs' opaque markers: a `.wh..wh..opq`
                    // file, a whiteout device named `.wh..opq`.
                    opaque |= sys::lstatat(fd.as_fd(), c".wh..wh..opq").is_ok()
                        || sys::lstatat(fd.as_fd(), c".wh..opq")
                            .is_ok_and(|s| fmt_of(&s) == libc::S_IFCHR && s.st_rdev == 0);
                    opaque &= self.in_lowers(&rel);
                }
                let mut p = rel.clone();
                p.push(b'/');
                e.path = &p;
                e.kind = Kind::Dir;
                w.header(&e)?;
                if opaque {
                    let opq = join(&rel, WHITEOUT_OPAQUE);
                    w.header(&Entry {
                        path: &opq,
                        kind: Kind::Regular,
                        mode: e.mode & 0o777,
                        xattrs: &[],
                        ..e.clone()
                    })?;
                }
                return Ok(Some((fd, rel)));
            }
            _ if st.st_nlink > 1 => {
                let key = (st.st_dev, st.st_ino);
                if let Some(first) = self.links.get(&key).cloned() {
                    e.kind = Kind::Link;
                    e.link = &first;
                    w.header(&e)?;
                    return Ok(None);
                }
                self.links.insert(key, rel.clone());
            }
            _ => {}
        }
        match fmt {
            libc::S_IFREG => {
                e.size = u64::try_from(st.st_size).unwrap_or(0);
                w.content_size += e.size;
                w.header(&e)?;
                w.file(dir, name, &rel, &st)?;
            }
            libc::S_IFLNK => {
                let target =
                    sys::readlinkat(dirfd, name).map_err(|e| io_err(abs(), "readlink", e))?;
                e.kind = Kind::Symlink;
                e.link = &target;
                w.header(&e)?;
            }
            libc::S_IFCHR | libc::S_IFBLK => {
                let (ma, mi) = sys::major_minor(st.st_rdev);
                e.kind = if fmt == libc::S_IFCHR {
                    Kind::Char
                } else {
                    Kind::Block
                };
                e.dev_major = ma;
                e.dev_minor = mi;
                w.header(&e)?;
            }
            libc::S_IFIFO => {
                e.kind = Kind::Fifo;
                w.header(&e)?;
            }
            other => {
                return Err(LayerError::Unsupported {
                    path: abs(),
                    kind: format!("file type {other:o}"),
                });
            }
        }
        Ok(None)
    }

    /// The entry's xattrs to emit (sorted, overlay-private and SELinux
    /// labels dropped) and whether it is an overlay opaque directory.
    fn xattrs(
        &self,
        dirfd: BorrowedFd<'_>,
        name: &CStr,
        fmt: libc::mode_t,
        abs: &dyn Fn() -> String,
    ) -> Result<(Vec<Record>, bool), LayerError> {
        let p = sys::proc_fd_path(dirfd, name).map_err(|e| io_err(abs(), "xattr path", e))?;
        let names = sys::llistxattr(&p).map_err(|e| io_err(abs(), "list xattrs", e))?;
        let overlay = self.opts.whiteouts == WhiteoutFormat::Overlay;
        let mut out = Vec::new();
        let mut opaque = false;
        for n in names {
            let b = n.as_bytes();
            if is_overlay_private(b) {
                if !overlay {
                    continue;
                }
                let suffix = b.rsplit(|c| *c == b'.').next().unwrap_or(b"");
                match suffix {
                    b"opaque" if fmt == libc::S_IFDIR => {
                        let v =
                            sys::lgetxattr(&p, &n).map_err(|e| io_err(abs(), "get xattr", e))?;
                        opaque |= v.as_deref() == Some(b"y");
                    }
                    b"redirect" | b"metacopy" => {
                        return Err(LayerError::Source {
                            path: abs(),
                            reason: format!(
                                "overlay {} xattr: upper dirs made with redirect_dir or \
                                 metacopy cannot be turned into a layer",
                                n.to_string_lossy()
                            ),
                        });
                    }
                    _ => {}
                }
                continue;
            }
            if b == b"security.selinux" {
                continue; // a host label, not image content
            }
            if let Some(v) = sys::lgetxattr(&p, &n).map_err(|e| io_err(abs(), "get xattr", e))? {
                out.push((b.to_vec(), v));
            }
        }
        out.sort();
        Ok((out, opaque))
    }
}
