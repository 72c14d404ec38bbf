//! Applying an uncompressed layer tar to a directory ([`apply_layer`]).
//!
//! # Why not `tar::Archive::unpack`
//!
//! The `tar` crate's `unpack`/`Entry::unpack` is built for "extract an
//! archive", not "apply a layer": it has no notion of OCI whiteouts or opaque
//! directories, creates no device nodes, drops directory xattrs, sets
//! directory mtimes as it goes (so later entries bump them again), parses
//! PAX records by splitting on `\n` (binary `security.capability` values
//! break), and guards against escapes with path checks on the host path
//! rather than by resolving inside the target. We keep the crate's header
//! reader (`Archive::entries`, GNU long names, sparse files) and do the
//! filesystem side ourselves with descriptors:
//!
//! * every entry name is cleaned lexically ([`super::path::clean`]: `..` is
//!   clamped at the root, a leading `/` stripped);
//! * its parent directory is opened *inside* the target with `openat2`
//!   `RESOLVE_IN_ROOT` ([`crate::inroot_linux::Root`]), so a symlink in the
//!   tree, absolute or relative, is followed as if the target were `/`;
//! * the final component is created with `*at` calls that never follow it
//!   (`O_CREAT|O_EXCL|O_NOFOLLOW`, `mkdirat`, `symlinkat`, `mknodat`, `linkat`
//!   without `AT_SYMLINK_FOLLOW`), and an existing entry is removed first
//!   (recursively for a directory being replaced by a non-directory);
//! * hardlink targets are resolved the same way, so a link can only ever
//!   point at an inode already inside the target.

use std::collections::HashSet;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::rc::Rc;

use tar::EntryType;

use super::entry::{
    Kind, Visit, c_name, classify, device_number, drive, is_global, raw_name, symlink_target,
};
use super::error::{from_stream, io_err};
use super::meta::{Meta, link_target};
use super::path::{self, join, show, split_parent};
use super::sys_linux as sys;
use super::tarfmt::Extensions;
use super::tree_linux::{list_names, remove_all};
use super::{Applied, ApplyMode, ApplyOptions, LayerError};
use crate::inroot_linux::{DirCache, Root};

/// Overlayfs' opaque-directory xattr.
const COPY_BUF: usize = 1 << 20;
const MAX_WARNINGS: u32 = 8;

/// Applies an uncompressed tar stream to `target`; see [`super`] for the
/// contract. Reads `tar` to its end, so `diff_id` covers every byte.
pub fn apply_layer(
    tar: impl Read,
    target: &Path,
    opts: &ApplyOptions,
) -> Result<Applied, LayerError> {
    let root =
        Root::open(target).map_err(|e| io_err(target.display().to_string(), "open target", e))?;
    // A cancelled command stops reading; the partial target is the caller's
    // to drop.
    let mut ap = Applier::new(&root, opts);
    let driven = drive(tar, &mut ap)?;
    ap.finish_dirs()?;
    ap.report();
    if driven.tar_size < driven.end_of_entries.saturating_add(1024) && ap.entries > 0 {
        tracing::warn!(
            dir = %target.display(),
            "layer tar has no end-of-archive marker (stream ends after the last entry)"
        );
    }
    Ok(Applied {
        diff_id: driven.diff_id,
        tar_size: driven.tar_size,
        size: ap.size,
        entries: ap.entries,
    })
}

/// A directory whose mtime (and, unprivileged, mode) is set at the end.
struct DeferredDir {
    rel: Vec<u8>,
    mtime: (i64, u32),
    mode: Option<u32>,
}

struct Applier<'r> {
    root: &'r Root,
    opts: &'r ApplyOptions,
    cache: DirCache<Rc<OwnedFd>>,
    /// Paths this layer wrote (and their ancestors): whiteouts only hide
    /// what lower layers put there.
    unpacked: HashSet<Vec<u8>>,
    dirs: Vec<DeferredDir>,
    buf: Vec<u8>,
    root_user: bool,
    entries: u64,
    size: u64,
    data_read: u64,
    last: Option<String>,
    warnings: u32,
}

/// A failed chown; rootless, EINVAL means the owner is not mapped.
fn chown_err(path: String, e: std::io::Error) -> LayerError {
    if crate::userns::rootless() && e.raw_os_error() == Some(libc::EINVAL) {
        return io_err(
            path,
            "chown (the owner is outside the ids /etc/subuid and /etc/subgid give this user)",
            e,
        );
    }
    io_err(path, "chown", e)
}

fn octets_mode(m: u32) -> libc::mode_t {
    m & 0o7777
}

impl Visit for Applier<'_> {
    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        ext: &Extensions,
    ) -> Result<(), LayerError> {
        self.data_read = 0;
        if is_global(entry) {
            return Ok(());
        }
        let etype = entry.header().entry_type();
        let raw = raw_name(entry, ext);
        let clean = path::clean(&raw);
        let rel = clean.rel;
        self.entries += 1;
        self.last = Some(show(&rel));
        if clean.clamped {
            let what = format!(
                "absolute or escaping name {:?}",
                String::from_utf8_lossy(&raw)
            );
            self.warn(&rel, &what, &"applied inside the target");
        }
        let (meta, kind) = classify(entry, ext, &rel, self.opts.xattrs)?;
        let (parent, cname) = match kind {
            Kind::Ignore => return Ok(()),
            Kind::Root => return self.root_entry(etype, &meta),
            Kind::Opaque { parent } => return self.opaque(&parent),
            Kind::Whiteout { parent, victim } => return self.whiteout(&parent, &victim, &meta),
            Kind::Node { parent, name } => (parent, name),
        };
        let dir = self.parent(&parent, &rel)?;
        let dir = dir.as_fd();
        match etype {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.file(dir, &cname, &rel, entry, &meta)?
            }
            EntryType::Directory => self.dir(dir, &cname, &rel, &meta)?,
            EntryType::Symlink => {
                let target = symlink_target(link_target(entry, ext), &rel)?;
                self.create(dir, &cname, &rel, false, |d, n| {
                    sys::symlinkat(&target, d, n)
                })?;
                self.finish_node(dir, &cname, &rel, &meta, false)?;
                // docker's size counts a symlink's lstat size (its target's length).
                self.size += target.as_bytes().len() as u64;
            }
            EntryType::Link => {
                let target = link_target(entry, ext);
                self.hardlink(dir, &cname, &rel, &target)?
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                if !self.node(dir, &cname, &rel, etype, entry, &meta)? {
                    return Ok(());
                }
            }
            other => {
                return Err(LayerError::Unsupported {
                    path: show(&rel),
                    kind: format!("{:?} ('{}')", other, char::from(other.as_byte())),
                });
            }
        }
        self.mark_unpacked(rel);
        Ok(())
    }

    fn last(&self) -> Option<String> {
        self.last.clone()
    }

    fn data_read(&self) -> u64 {
        self.data_read
    }
}

impl<'r> Applier<'r> {
    fn new(root: &'r Root, opts: &'r ApplyOptions) -> Self {
        Applier {
            root,
            opts,
            cache: DirCache::new(16),
            unpacked: HashSet::new(),
            dirs: Vec::new(),
            buf: vec![0; COPY_BUF],
            root_user: sys::geteuid() == 0 && !crate::userns::single_id(),
            entries: 0,
            size: 0,
            data_read: 0,
            last: None,
            warnings: 0,
        }
    }

    fn warn(&mut self, path: &[u8], what: &str, e: &dyn std::fmt::Display) {
        self.warnings += 1;
        if self.warnings <= MAX_WARNINGS {
            tracing::warn!(path = %show(path), "{what}: {e}");
        }
    }

    fn report(&self) {
        if self.warnings > MAX_WARNINGS {
            tracing::warn!(
                "{} more entries were applied partially (see the warnings above)",
                self.warnings - MAX_WARNINGS
            );
        }
    }

    /// The parent directory of an entry, from the cache or opened (and
    /// created if missing) inside the root.
    fn parent(&mut self, parent: &[u8], rel: &[u8]) -> Result<Rc<OwnedFd>, LayerError> {
        if let Some(fd) = self.cache.get(parent) {
            return Ok(fd.clone());
        }
        let fd = self
            .root
            .open_dir(parent, true)
            .map_err(|e| io_err(show(rel), "open parent directory", e))?;
        let fd = Rc::new(fd);
        self.cache.put(parent.to_vec(), fd.clone());
        Ok(fd)
    }

    fn mark_unpacked(&mut self, mut rel: Vec<u8>) {
        while self.unpacked.insert(rel.clone()) {
            match rel.iter().rposition(|b| *b == b'/') {
                Some(i) => rel.truncate(i),
                None => break,
            }
        }
    }

    /// Removes whatever is at `name` (recursively for a directory unless
    /// `keep_dir`). Returns true when an existing directory was kept.
    fn replace(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        rel: &[u8],
        keep_dir: bool,
    ) -> Result<bool, LayerError> {
        let st = match sys::lstatat(dir, name) {
            Ok(st) => st,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(false),
            Err(e) => return Err(io_err(show(rel), "stat existing entry", e)),
        };
        let fmt = st.st_mode & libc::S_IFMT;
        if fmt == libc::S_IFDIR && keep_dir {
            return Ok(true);
        }
        if fmt == libc::S_IFDIR || fmt == libc::S_IFLNK {
            // Cached parents may have been resolved through it.
            self.cache.clear();
        }
        remove_all(dir, name).map_err(|e| io_err(show(rel), "remove existing entry", e))?;
        Ok(false)
    }

    /// Runs `make`; if the name exists, replaces it and runs `make` again.
    fn create(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        rel: &[u8],
        keep_dir: bool,
        make: impl Fn(BorrowedFd<'_>, &CStr) -> io::Result<()>,
    ) -> Result<bool, LayerError> {
        match make(dir, name) {
            Ok(()) => return Ok(false),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => return Err(io_err(show(rel), "create", e)),
        }
        if self.replace(dir, name, rel, keep_dir)? {
            return Ok(true);
        }
        make(dir, name).map_err(|e| io_err(show(rel), "create", e))?;
        Ok(false)
    }

    fn file<R: Read>(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        rel: &[u8],
        entry: &mut tar::Entry<'_, R>,
        meta: &Meta,
    ) -> Result<(), LayerError> {
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
        let fd = match sys::openat(dir, name, flags, 0o600) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                self.replace(dir, name, rel, false)?;
                sys::openat(dir, name, flags, 0o600)
            }
            r => r,
        }
        .map_err(|e| io_err(show(rel), "create file", e))?;
        let mut f = File::from(fd);
        let mut got = 0u64;
        loop {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(from_stream(e, Some(show(rel)))),
            };
            f.write_all(&self.buf[..n])
                .map_err(|e| io_err(show(rel), "write file", e))?;
            got += n as u64;
        }
        self.data_read = got;
        let sparse = entry.header().entry_type().is_gnu_sparse();
        if !sparse && got != entry.size() {
            return Err(LayerError::TruncatedTar {
                path: show(rel),
                expected: entry.size(),
                got,
            });
        }
        if sparse {
            self.data_read = entry.size();
        }
        self.size += got;
        let fd = f.as_fd();
        if self.chown() {
            sys::fchown(fd, meta.uid, meta.gid).map_err(|e| chown_err(show(rel), e))?;
        }
        // After chown, which clears setuid/setgid.
        sys::fchmod(fd, octets_mode(meta.mode)).map_err(|e| io_err(show(rel), "chmod", e))?;
        for (k, v) in &meta.xattrs {
            if let Err(e) = sys::fsetxattr(fd, k, v) {
                self.xattr_failed(rel, k, e)?;
            }
        }
        sys::futimens(fd, meta.mtime.0, meta.mtime.1)
            .map_err(|e| io_err(show(rel), "set times", e))?;
        Ok(())
    }

    fn dir(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        rel: &[u8],
        meta: &Meta,
    ) -> Result<(), LayerError> {
        self.create(dir, name, rel, true, |d, n| sys::mkdirat(d, n, 0o700))?;
        let fd = sys::openat(
            dir,
            name,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            0,
        )
        .map_err(|e| io_err(show(rel), "open directory", e))?;
        self.dir_meta(fd.as_fd(), rel, meta)?;
        self.cache.put(rel.to_vec(), Rc::new(fd));
        Ok(())
    }

    fn dir_meta(&mut self, fd: BorrowedFd<'_>, rel: &[u8], meta: &Meta) -> Result<(), LayerError> {
        if self.chown() {
            sys::fchown(fd, meta.uid, meta.gid).map_err(|e| chown_err(show(rel), e))?;
        }
        // Unprivileged, keep the directory usable until the end.
        let defer = !self.root_user && meta.mode & 0o700 != 0o700;
        let now = if defer { meta.mode | 0o700 } else { meta.mode };
        sys::fchmod(fd, octets_mode(now)).map_err(|e| io_err(show(rel), "chmod", e))?;
        for (k, v) in &meta.xattrs {
            if let Err(e) = sys::fsetxattr(fd, k, v) {
                self.xattr_failed(rel, k, e)?;
            }
        }
        self.dirs.push(DeferredDir {
            rel: rel.to_vec(),
            mtime: meta.mtime,
            mode: defer.then_some(meta.mode),
        });
        Ok(())
    }

    fn root_entry(&mut self, etype: EntryType, meta: &Meta) -> Result<(), LayerError> {
        if etype != EntryType::Directory {
            tracing::warn!("tar entry for the layer root is not a directory; ignored");
            return Ok(());
        }
        let fd = self
            .root
            .open_dir(b"", false)
            .map_err(|e| io_err("/", "open target", e))?;
        self.dir_meta(fd.as_fd(), b"", meta)
    }

    /// Owner, mode (not for symlinks), xattrs and times of a node created by
    /// name in `dir`.
    fn finish_node(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        rel: &[u8],
        meta: &Meta,
        chmod: bool,
    ) -> Result<(), LayerError> {
        if self.chown() {
            sys::lchownat(dir, name, meta.uid, meta.gid).map_err(|e| chown_err(show(rel), e))?;
        }
        if chmod {
            sys::fchmodat(dir, name, octets_mode(meta.mode))
                .map_err(|e| io_err(show(rel), "chmod", e))?;
        }
        for (k, v) in &meta.xattrs {
            if let Err(e) = sys::lsetxattrat(dir, name, k, v) {
                self.xattr_failed(rel, k, e)?;
            }
        }
        sys::lutimensat(dir, name, meta.mtime.0, meta.mtime.1)
            .map_err(|e| io_err(show(rel), "set times", e))
    }

    /// A device node or FIFO. Returns false when it was skipped.
    fn node<R: Read>(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        rel: &[u8],
        etype: EntryType,
        entry: &tar::Entry<'_, R>,
        meta: &Meta,
    ) -> Result<bool, LayerError> {
        let kind = match etype {
            EntryType::Char => libc::S_IFCHR,
            EntryType::Block => libc::S_IFBLK,
            _ => libc::S_IFIFO,
        };
        let dev = if kind == libc::S_IFIFO {
            0
        } else {
            if !self.opts.devices {
                self.warn(rel, "device node skipped", &"devices disabled");
                return Ok(false);
            }
            let (major, minor) = device_number(entry, rel)?;
            sys::makedev(major, minor)
        };
        let made = self.create(dir, name, rel, false, |d, n| {
            sys::mknodat(d, n, kind | 0o600, dev)
        });
        match made {
            Ok(_) => {}
            Err(LayerError::Io { source, .. })
                if matches!(
                    source.raw_os_error(),
                    Some(libc::EPERM) | Some(libc::EACCES) | Some(libc::EOPNOTSUPP)
                ) =>
            {
                self.warn(
                    rel,
                    "device node skipped (the kernel refused mknod)",
                    &source,
                );
                return Ok(false);
            }
            Err(e) => return Err(e),
        }
        self.finish_node(dir, name, rel, meta, true)?;
        Ok(true)
    }

    fn hardlink(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        rel: &[u8],
        target_raw: &[u8],
    ) -> Result<(), LayerError> {
        let t = path::clean(target_raw);
        let bad = |reason: String| LayerError::BadLink {
            path: show(rel),
            target: show(&t.rel),
            reason,
        };
        if t.rel.is_empty() {
            return Err(bad("target is the layer root".into()));
        }
        let (tparent, tname) = split_parent(&t.rel);
        let tname = CString::new(tname).map_err(|_| bad("NUL byte in target".into()))?;
        let src_dir = self
            .root
            .open_dir(tparent, false)
            .map_err(|e| bad(format!("cannot open its directory: {e}")))?;
        let st = sys::lstatat(src_dir.as_fd(), &tname).map_err(|e| bad(e.to_string()))?;
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            return Err(bad("target is a directory".into()));
        }
        if let Ok(cur) = sys::lstatat(dir, name)
            && (cur.st_dev, cur.st_ino) == (st.st_dev, st.st_ino)
        {
            return Ok(());
        }
        let src = src_dir.as_fd();
        self.create(dir, name, rel, false, |d, n| sys::linkat(src, &tname, d, n))
            .map(drop)
    }

    /// `.wh..wh..opq` in `parent`.
    fn opaque(&mut self, parent: &[u8]) -> Result<(), LayerError> {
        match self.opts.mode {
            ApplyMode::Snapshot => {
                let fd = self.parent(parent, parent)?;
                crate::userns::set_opaque(fd.as_fd())
                    .map_err(|e| io_err(show(parent), "set the overlay opaque xattr", e))
            }
            ApplyMode::Merge => {
                let fd = match self.root.open_dir(parent, false) {
                    Ok(fd) => fd,
                    Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT)) => return Ok(()),
                    Err(e) => return Err(io_err(show(parent), "open opaque directory", e)),
                };
                let names = list_names(fd.as_fd())
                    .map_err(|e| io_err(show(parent), "read directory", e))?;
                for n in names {
                    if self.unpacked.contains(&join(parent, n.to_bytes())) {
                        continue;
                    }
                    self.cache.clear();
                    remove_all(fd.as_fd(), &n).map_err(|e| {
                        io_err(show(&join(parent, n.to_bytes())), "remove (opaque)", e)
                    })?;
                }
                Ok(())
            }
        }
    }

    /// `.wh.<victim>` in `parent`.
    fn whiteout(&mut self, parent: &[u8], victim: &[u8], meta: &Meta) -> Result<(), LayerError> {
        let rel = join(parent, victim);
        if self.unpacked.contains(&rel) {
            return Ok(()); // only hides lower layers, never this one
        }
        let cname = c_name(victim, &rel)?;
        match self.opts.mode {
            ApplyMode::Snapshot => {
                let fd = self.parent(parent, &rel)?;
                let dir = fd.as_fd();
                self.create(dir, &cname, &rel, false, |d, n| {
                    sys::mknodat(d, n, libc::S_IFCHR, sys::makedev(0, 0))
                })?;
                if self.chown() {
                    sys::lchownat(dir, &cname, meta.uid, meta.gid)
                        .map_err(|e| chown_err(show(&rel), e))?;
                }
                sys::lutimensat(dir, &cname, meta.mtime.0, meta.mtime.1)
                    .map_err(|e| io_err(show(&rel), "set times", e))
            }
            ApplyMode::Merge => {
                let fd = match self.root.open_dir(parent, false) {
                    Ok(fd) => fd,
                    Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                        return Ok(());
                    }
                    Err(e) => return Err(io_err(show(&rel), "open whiteout directory", e)),
                };
                self.cache.clear();
                remove_all(fd.as_fd(), &cname).map_err(|e| io_err(show(&rel), "whiteout", e))
            }
        }
    }

    fn chown(&self) -> bool {
        self.opts.same_owner.unwrap_or(self.root_user)
    }

    fn xattr_failed(&mut self, rel: &[u8], name: &CStr, e: io::Error) -> Result<(), LayerError> {
        match e.raw_os_error() {
            Some(libc::EOPNOTSUPP | libc::EPERM | libc::EACCES) => {
                let what = format!("xattr {} not set", name.to_string_lossy());
                self.warn(rel, &what, &e);
                Ok(())
            }
            _ => Err(io_err(show(rel), "set xattr", e)),
        }
    }

    /// Sets directory mtimes (and deferred modes), deepest first, so nothing
    /// written afterwards bumps them.
    fn finish_dirs(&mut self) -> Result<(), LayerError> {
        self.cache.clear();
        let mut dirs = std::mem::take(&mut self.dirs);
        // Stable: a directory listed twice gets its last entry's time.
        dirs.sort_by_key(|d| std::cmp::Reverse(depth(&d.rel)));
        for d in dirs {
            let fd = match self.open_nofollow(&d.rel) {
                Ok(fd) => fd,
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOENT | libc::ELOOP | libc::ENOTDIR)
                    ) =>
                {
                    continue; // replaced or whited out later in the layer
                }
                Err(e) => return Err(io_err(show(&d.rel), "open directory", e)),
            };
            if let Some(mode) = d.mode {
                sys::fchmod(fd.as_fd(), octets_mode(mode))
                    .map_err(|e| io_err(show(&d.rel), "chmod", e))?;
            }
            sys::futimens(fd.as_fd(), d.mtime.0, d.mtime.1)
                .map_err(|e| io_err(show(&d.rel), "set times", e))?;
        }
        Ok(())
    }

    fn open_nofollow(&self, rel: &[u8]) -> io::Result<OwnedFd> {
        if rel.is_empty() {
            return self.root.open_dir(b"", false);
        }
        let (parent, name) = split_parent(rel);
        let p = self.root.open_dir(parent, false)?;
        let name = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        sys::openat(
            p.as_fd(),
            &name,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            0,
        )
    }
}

fn depth(rel: &[u8]) -> usize {
    if rel.is_empty() {
        0
    } else {
        1 + rel.iter().filter(|b| **b == b'/').count()
    }
}
