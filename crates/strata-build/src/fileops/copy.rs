//! [`copy_into`]: writes a [`Selection`] into an empty layer directory —
//! the destination, its parent directories (with the parent image's
//! metadata where they exist there) and nothing else — following the rule
//! table of [`crate::fileops`]. File data moves with `copy_file_range`
//! (`std::io::copy` between files), never through a whole-file buffer.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use strata_dockerfile::instructions::Chmod;

use super::chown::{Owner, resolve_chown};
use super::dest::{DestView, Found, clean_abs, dir_meta, join, parent_of};
use super::reuse::{CopiedFile, Reuse, Want};
use super::selection::{EntryKind, SelectedEntry, Selection, SourceUnit, UnitKind};
use super::{FileOpError, Result, SourceTree};

/// How [`copy_into`] writes.
#[derive(Debug, Clone, Default)]
pub struct CopyOptions<'a> {
    /// `--chown` as written (`user[:group]`, names or numbers); names are
    /// resolved in `parent`'s `/etc/passwd` and `/etc/group`.
    pub chown: Option<String>,
    /// `--chmod`, parsed (`CopyCommand::mode`).
    pub chmod: Option<Chmod>,
    /// The parent image's rootfs (mounted), to see what exists at the
    /// destination and to copy existing parent directories' metadata.
    /// `None` for `FROM scratch` (and `--link`).
    pub parent: Option<&'a Path>,
    /// `SOURCE_DATE_EPOCH` (seconds): when set, every written entry gets
    /// this mtime (BuildKit's copy timestamp); otherwise files keep their
    /// source mtime and created directories get the current time.
    pub timestamp: Option<i64>,
    /// The previous run of this COPY step, whose unchanged files are
    /// hardlinked instead of copied ([`Reuse`]).
    pub reuse: Option<&'a Reuse>,
    /// Where to record every plain file written (for the layer's
    /// [`super::FileMap`]); files with xattrs are left out.
    pub record: Option<&'a Mutex<Vec<CopiedFile>>>,
}

/// What [`copy_into`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Regular files written.
    pub files: u64,
    /// Bytes of file data written.
    pub bytes: u64,
    /// Directories written (created, copied or materialised from the parent).
    pub dirs: u64,
    /// Symlinks written.
    pub symlinks: u64,
    /// Hardlinks made (second and later paths of one inode).
    pub hardlinks: u64,
    /// FIFOs and devices made.
    pub specials: u64,
    /// Entries extracted from ADD archives.
    pub extracted: u64,
    /// Of `files`, those hardlinked from the previous run's snapshot.
    pub reused: u64,
}

/// Writes `sel` (selected from `tree`) into `layer_dir` at image path
/// `dest` (absolute, after WORKDIR: see [`super::resolve_dest`]; a
/// trailing `/` makes it a directory).
pub fn copy_into(
    tree: &SourceTree<'_>,
    sel: &Selection,
    layer_dir: &Path,
    dest: &str,
    opts: &CopyOptions<'_>,
) -> Result<CopyStats> {
    let owner = match &opts.chown {
        Some(spec) => Some(resolve_chown(spec, opts.parent)?),
        None => None,
    };
    let now = crate::context::now_ns();
    let mut w = Writer {
        view: DestView {
            layer: layer_dir,
            parent: opts.parent,
        },
        owner,
        chmod: opts.chmod.as_ref(),
        stamp: opts.timestamp.map(|s| s.saturating_mul(1_000_000_000)),
        now,
        dir_times: HashMap::new(),
        links: HashMap::new(),
        stats: CopyStats::default(),
        layer_dir,
        reuse: opts.reuse,
        record: opts.record,
    };
    let dir_hint = dest.ends_with('/') || dest.is_empty();
    let dest_clean = clean_abs(if dest.is_empty() { "/" } else { dest });
    if sel.units.len() > 1 && !dir_hint && !w.view.is_dir(&dest_clean)? {
        return Err(FileOpError::DestNotDir {
            command: sel.command.name(),
        });
    }
    if !sel.units.is_empty() {
        let r = w.view.resolve(&dest_clean)?;
        if dir_hint {
            w.mkdir_all(&r)?;
        } else {
            w.mkdir_all(parent_of(&r))?;
        }
    }
    for unit in &sel.units {
        w.unit(tree, sel, unit, &dest_clean)?;
    }
    w.finish()?;
    Ok(w.stats)
}

struct Writer<'a> {
    view: DestView<'a>,
    owner: Option<Owner>,
    chmod: Option<&'a Chmod>,
    stamp: Option<i64>,
    now: i64,
    /// Image path → mtime to set once everything is written.
    dir_times: HashMap<String, i64>,
    /// (dev, ino) of a copied multiply-linked file → its first layer path.
    links: HashMap<(u64, u64), PathBuf>,
    stats: CopyStats,
    layer_dir: &'a Path,
    reuse: Option<&'a Reuse>,
    record: Option<&'a Mutex<Vec<CopiedFile>>>,
}

impl Writer<'_> {
    fn host(&self, p: &str) -> PathBuf {
        self.view.in_layer(p)
    }

    fn owner_of(&self, e: &SelectedEntry) -> (u32, u32) {
        match self.owner {
            Some(o) => (o.uid, o.gid),
            None => (e.uid, e.gid),
        }
    }

    fn mode_of(&self, e: &SelectedEntry) -> u32 {
        match self.chmod {
            Some(c) => c.apply(e.mode, e.kind == EntryKind::Dir) & 0o7777,
            None => e.mode & 0o7777,
        }
    }

    fn time_of(&self, e: &SelectedEntry) -> i64 {
        self.stamp.unwrap_or(e.mtime_ns)
    }

    /// Makes every directory of `p` (resolved) exist in the layer.
    fn mkdir_all(&mut self, p: &str) -> Result<()> {
        let mut cur = String::new();
        for comp in p.split('/').filter(|c| !c.is_empty()) {
            cur.push('/');
            cur.push_str(comp);
            match self.view.lstat(&cur) {
                Some(Found::Layer(md)) => {
                    if !md.is_dir() {
                        return Err(FileOpError::ParentNotDir { path: cur });
                    }
                }
                Some(Found::Parent(md)) => {
                    if !md.is_dir() {
                        return Err(FileOpError::ParentNotDir { path: cur });
                    }
                    let (mode, uid, gid, mtime) = dir_meta(&md);
                    self.make_dir(&cur, mode, uid, gid)?;
                    self.dir_times.entry(cur.clone()).or_insert(mtime);
                }
                None => {
                    let (uid, gid) = self.owner.map_or((0, 0), |o| (o.uid, o.gid));
                    self.make_dir(&cur, 0o755, uid, gid)?;
                    let t = self.stamp.unwrap_or(self.now);
                    self.dir_times.insert(cur.clone(), t);
                }
            }
        }
        Ok(())
    }

    fn make_dir(&mut self, p: &str, mode: u32, uid: u32, gid: u32) -> Result<()> {
        let h = self.host(p);
        std::fs::create_dir(&h).map_err(FileOpError::io("create directory", &h))?;
        super::sys::lchown(&h, uid, gid).map_err(FileOpError::io("chown", &h))?;
        super::sys::chmod(&h, mode).map_err(FileOpError::io("chmod", &h))?;
        self.stats.dirs += 1;
        Ok(())
    }

    fn unit(
        &mut self,
        tree: &SourceTree<'_>,
        sel: &Selection,
        u: &SourceUnit,
        dest: &str,
    ) -> Result<()> {
        let base = if u.path.is_empty() {
            tree.root().to_path_buf()
        } else {
            tree.root().join(&u.path)
        };
        let entries = sel.entries.range(u.range.clone());
        let first = entries.clone().next();
        // Hardlinks are kept within one source, as BuildKit's copier does
        // (a new copier per source).
        self.links.clear();
        match &u.kind {
            UnitKind::Dir => {
                let target = self.view.resolve(dest)?;
                match self.view.lstat(&target) {
                    Some(f) if !f.is_dir() => {
                        return Err(FileOpError::CopyToNonDir { path: target });
                    }
                    _ => self.mkdir_all(&target)?,
                }
                if let Some(root) = first {
                    let t = self.time_of(root);
                    if target != "/" {
                        self.dir_times.insert(target.clone(), t);
                    }
                }
                // Directories, links and specials in order; plain files
                // (the bulk) afterwards on all cores.
                let mut files: Vec<&SelectedEntry> = Vec::new();
                for e in entries.filter(|e| !e.rel.is_empty()) {
                    if e.kind == EntryKind::File && e.nlink <= 1 {
                        files.push(e);
                        continue;
                    }
                    let src = base.join(&*e.rel);
                    let dst = join(&target, &e.rel);
                    self.entry(Source::Path(&src), e, &dst, true)?;
                }
                self.parallel_files(&base, &target, &files)?;
            }
            UnitKind::Single | UnitKind::Inline { .. } | UnitKind::Remote { unpack: false, .. } => {
                let Some(e) = first else {
                    return Ok(());
                };
                let target = if self.view.is_dir(dest)? {
                    join(&self.view.resolve(dest)?, &u.name)
                } else {
                    self.view.resolve(dest)?
                };
                self.mkdir_all(parent_of(&target))?;
                match &u.kind {
                    UnitKind::Inline { data } => {
                        self.entry(Source::Bytes(data), e, &target, false)?
                    }
                    UnitKind::Remote { file, .. } => {
                        self.entry(Source::Downloaded(file), e, &target, false)?
                    }
                    _ => self.entry(Source::Path(&base), e, &target, true)?,
                }
            }
            UnitKind::Archive | UnitKind::Remote { unpack: true, .. } => {
                let file = match &u.kind {
                    UnitKind::Remote { file, .. } => file.clone(),
                    _ => base.clone(),
                };
                let target = self.view.resolve(dest)?;
                if let Some(f) = self.view.lstat(&target)
                    && !f.is_dir()
                {
                    return Err(FileOpError::CopyToNonDir { path: target });
                }
                self.mkdir_all(&target)?;
                self.extract(&u.source, &file, first, &target)?;
            }
        }
        Ok(())
    }

    /// Writes one entry at image path `dst` (its parent exists in the layer).
    fn entry(&mut self, src: Source<'_>, e: &SelectedEntry, dst: &str, xattrs: bool) -> Result<()> {
        let host = self.host(dst);
        cancelled(&host)?;
        let existing = self.view.lstat(dst);
        let (uid, gid) = self.owner_of(e);
        let time = self.time_of(e);
        if e.kind == EntryKind::Dir {
            let mode = self.mode_of(e);
            match existing {
                Some(Found::Layer(md)) if md.is_dir() => {
                    super::sys::lchown(&host, uid, gid).map_err(FileOpError::io("chown", &host))?;
                    super::sys::chmod(&host, mode).map_err(FileOpError::io("chmod", &host))?;
                }
                Some(f) if !f.is_dir() => {
                    return Err(FileOpError::CopyToNonDir {
                        path: dst.to_string(),
                    });
                }
                _ => self.make_dir(dst, mode, uid, gid)?,
            }
            if let (true, Source::Path(p)) = (xattrs, src) {
                let _ = super::sys::copy_xattrs(p, &host);
            }
            self.dir_times.insert(dst.to_string(), time);
            return Ok(());
        }
        match existing {
            Some(f) if f.is_dir() => {
                return Err(FileOpError::ReplaceDir {
                    path: dst.to_string(),
                });
            }
            Some(Found::Layer(_)) => {
                std::fs::remove_file(&host).map_err(FileOpError::io("remove", &host))?;
            }
            _ => {}
        }
        match e.kind {
            EntryKind::File => self.file(src, e, &host, uid, gid, time, xattrs),
            EntryKind::Symlink => {
                let target = e.link.as_deref().unwrap_or("");
                std::os::unix::fs::symlink(target, &host)
                    .map_err(FileOpError::io("symlink", &host))?;
                super::sys::lchown(&host, uid, gid).map_err(FileOpError::io("chown", &host))?;
                super::sys::set_times(&host, time).map_err(FileOpError::io("set times", &host))?;
                self.stats.symlinks += 1;
                Ok(())
            }
            EntryKind::Fifo | EntryKind::CharDevice | EntryKind::BlockDevice => {
                let ty = match e.kind {
                    EntryKind::Fifo => libc::S_IFIFO,
                    EntryKind::CharDevice => libc::S_IFCHR,
                    _ => libc::S_IFBLK,
                };
                let mode = self.mode_of(e);
                super::sys::mknod(&host, ty | (mode & 0o777), e.rdev)
                    .map_err(FileOpError::io("mknod", &host))?;
                super::sys::lchown(&host, uid, gid).map_err(FileOpError::io("chown", &host))?;
                super::sys::chmod(&host, mode).map_err(FileOpError::io("chmod", &host))?;
                super::sys::set_times(&host, time).map_err(FileOpError::io("set times", &host))?;
                self.stats.specials += 1;
                Ok(())
            }
            EntryKind::Socket | EntryKind::Dir => Ok(()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn file(
        &mut self,
        src: Source<'_>,
        e: &SelectedEntry,
        host: &Path,
        uid: u32,
        gid: u32,
        time: i64,
        xattrs: bool,
    ) -> Result<()> {
        let linkable = matches!(src, Source::Path(_)) && e.nlink > 1;
        if linkable && let Some(first) = self.links.get(&(e.dev, e.ino)) {
            std::fs::hard_link(first, host).map_err(FileOpError::io("link", host))?;
            self.stats.hardlinks += 1;
            return Ok(());
        }
        let mode = self.mode_of(e);
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(host)
            .map_err(FileOpError::io("create", host))?;
        let written = match src {
            Source::Bytes(data) => {
                use std::io::Write;
                out.write_all(data)
                    .map_err(FileOpError::io("write", host))?;
                data.len() as u64
            }
            Source::Path(p) | Source::Downloaded(p) => {
                copy_data(p, e, &mut out, matches!(src, Source::Path(_)))?
            }
        };
        super::sys::fchown_fchmod(&out, uid, gid, mode).map_err(FileOpError::io("chown", host))?;
        let mut had_xattrs = false;
        if let (true, Source::Path(p)) = (xattrs, src) {
            // After chown, which clears security.capability.
            had_xattrs = super::sys::copy_xattrs(p, host).unwrap_or(true);
        }
        super::sys::fset_times(&out, time).map_err(FileOpError::io("set times", host))?;
        if !had_xattrs && !linkable && matches!(src, Source::Path(_)) {
            self.note(host, e, uid, gid, mode, time);
        }
        if linkable {
            self.links.insert((e.dev, e.ino), host.to_path_buf());
        }
        self.stats.files += 1;
        self.stats.bytes += written;
        Ok(())
    }

    /// Copies single-linked regular files of one directory unit on all
    /// cores (their directories exist by now).
    fn parallel_files(
        &mut self,
        base: &Path,
        target: &str,
        files: &[&SelectedEntry],
    ) -> Result<()> {
        use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
        if files.is_empty() {
            return Ok(());
        }
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let bytes = AtomicU64::new(0);
        let count = AtomicU64::new(0);
        let reused = AtomicU64::new(0);
        let error: Mutex<Option<FileOpError>> = Mutex::new(None);
        let threads = super::worker_threads().min(files.len().div_ceil(64));
        let this = &*self;
        let work = || {
            while !stop.load(Ordering::Relaxed) {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(e) = files.get(k) else { break };
                let src = base.join(&*e.rel);
                let dst = join(target, &e.rel);
                match this.plain_file(&src, e, &dst) {
                    Ok(w) => {
                        let n = match w {
                            Copied(n) => n,
                            Reused(n) => {
                                reused.fetch_add(1, Ordering::Relaxed);
                                n
                            }
                        };
                        bytes.fetch_add(n, Ordering::Relaxed);
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(err) => {
                        stop.store(true, Ordering::Relaxed);
                        let mut slot = error.lock().unwrap_or_else(|p| p.into_inner());
                        slot.get_or_insert(err);
                    }
                }
            }
        };
        std::thread::scope(|s| {
            for _ in 1..threads {
                s.spawn(work);
            }
            work();
        });
        self.stats.files += count.into_inner();
        self.stats.bytes += bytes.into_inner();
        self.stats.reused += reused.into_inner();
        match error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// One regular file from the tree at image path `dst` (no hardlink
    /// bookkeeping): the conflict checks of [`Writer::entry`], then the
    /// previous run's file linked, or the copy.
    fn plain_file(&self, src: &Path, e: &SelectedEntry, dst: &str) -> Result<Written> {
        let host = self.host(dst);
        match self.view.lstat(dst) {
            Some(f) if f.is_dir() => {
                return Err(FileOpError::ReplaceDir {
                    path: dst.to_string(),
                });
            }
            Some(Found::Layer(_)) => {
                std::fs::remove_file(&host).map_err(FileOpError::io("remove", &host))?;
            }
            _ => {}
        }
        let (uid, gid) = self.owner_of(e);
        let (mode, time) = (self.mode_of(e), self.time_of(e));
        let want = Want {
            entry: e,
            uid,
            gid,
            mode,
            mtime_ns: time,
        };
        if let Some(r) = self.reuse
            && r.link(src, &want, dst, &host)
        {
            self.note(&host, e, uid, gid, mode, time);
            return Ok(Reused(e.size));
        }
        let (n, had_xattrs) = write_file(src, e, &host, uid, gid, mode, time)?;
        if !had_xattrs {
            self.note(&host, e, uid, gid, mode, time);
        }
        Ok(Copied(n))
    }

    /// Records a plain file written at `host` (see [`CopyOptions::record`]).
    fn note(&self, host: &Path, e: &SelectedEntry, uid: u32, gid: u32, mode: u32, time: i64) {
        let (Some(rec), Some(sha)) = (self.record, e.sha256) else {
            return;
        };
        let Ok(rel) = host.strip_prefix(self.layer_dir) else {
            return;
        };
        let Some(rel) = rel.to_str() else { return };
        let f = CopiedFile {
            path: format!("/{rel}"),
            sha256: sha,
            size: e.size,
            mtime_ns: time,
            mode,
            uid,
            gid,
        };
        rec.lock().unwrap_or_else(|p| p.into_inner()).push(f);
    }

    /// ADD of an archive: extracted into a scratch directory beside the
    /// layer, re-owned for `--chown`, then merged into `target`.
    fn extract(
        &mut self,
        source: &str,
        file: &Path,
        e: Option<&SelectedEntry>,
        target: &str,
    ) -> Result<()> {
        let f = File::open(file).map_err(FileOpError::io("open", file))?;
        if let Some(e) = e
            && e.ino != 0
        {
            check_unchanged(&f, e, file)?;
        }
        let tmp = sibling_dir(self.layer_dir)?;
        let res = (|| -> Result<()> {
            let n = super::archive::extract(f, &tmp).map_err(|reason| FileOpError::Archive {
                src: source.to_string(),
                reason,
            })?;
            self.stats.extracted += n;
            if let Some(o) = self.owner {
                chown_tree(&tmp, o)?;
            }
            merge_tree(&tmp, &self.host(target))
        })();
        let _ = strata_store::layout::remove_tree(&tmp);
        res
    }

    /// Directory mtimes last, deepest first (writing inside a directory
    /// changes its mtime).
    fn finish(&mut self) -> Result<()> {
        let mut dirs: Vec<(&String, &i64)> = self.dir_times.iter().collect();
        dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.matches('/').count()));
        for (p, t) in dirs {
            let h = self.host(p);
            super::sys::set_times(&h, *t).map_err(FileOpError::io("set times", &h))?;
        }
        Ok(())
    }
}

/// Streams `p` into `out` (`copy_file_range`), checking first that it is
/// still the selected file when `check` (tree sources).
fn copy_data(p: &Path, e: &SelectedEntry, out: &mut File, check: bool) -> Result<u64> {
    cancelled(p)?;
    let mut input = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(p)
        .map_err(FileOpError::io("open", p))?;
    if check {
        check_unchanged(&input, e, p)?;
    }
    let n = std::io::copy(&mut input, out).map_err(FileOpError::io("copy", p))?;
    if n != e.size {
        return Err(FileOpError::Changed {
            path: p.to_path_buf(),
        });
    }
    Ok(n)
}

/// Fails once the build is cancelled (a signal): a COPY stops between
/// files, and its partial layer is dropped with the step.
fn cancelled(p: &Path) -> Result<()> {
    strata_store::cancel::Cancel::global()
        .check()
        .map_err(|c| FileOpError::io("copy", p)(c.into()))
}

/// How one plain file got into the layer, and its size.
enum Written {
    Copied(u64),
    Reused(u64),
}
use Written::{Copied, Reused};

/// Creates `host` as a copy of tree file `src` with its final owner, mode,
/// times and xattrs; returns the bytes copied and whether `src` had xattrs.
fn write_file(
    src: &Path,
    e: &SelectedEntry,
    host: &Path,
    uid: u32,
    gid: u32,
    mode: u32,
    time: i64,
) -> Result<(u64, bool)> {
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(host)
        .map_err(FileOpError::io("create", host))?;
    let n = copy_data(src, e, &mut out, true)?;
    super::sys::fchown_fchmod(&out, uid, gid, mode).map_err(FileOpError::io("chown", host))?;
    // After chown, which clears security.capability.
    let had_xattrs = super::sys::copy_xattrs(src, host).unwrap_or(true);
    super::sys::fset_times(&out, time).map_err(FileOpError::io("set times", host))?;
    Ok((n, had_xattrs))
}

#[derive(Clone, Copy)]
enum Source<'a> {
    Path(&'a Path),
    Downloaded(&'a Path),
    Bytes(&'a [u8]),
}

/// The file opened for copying must be the one that was selected (same
/// inode, size, mtime and ctime), or its cache key would be wrong.
fn check_unchanged(f: &File, e: &SelectedEntry, p: &Path) -> Result<()> {
    let md = f.metadata().map_err(FileOpError::io("stat", p))?;
    let mtime = md
        .mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(md.mtime_nsec());
    let ctime = md
        .ctime()
        .saturating_mul(1_000_000_000)
        .saturating_add(md.ctime_nsec());
    if md.ino() != e.ino || md.size() != e.size || mtime != e.mtime_ns || ctime != e.ctime_ns {
        return Err(FileOpError::Changed {
            path: p.to_path_buf(),
        });
    }
    Ok(())
}

fn sibling_dir(layer: &Path) -> Result<PathBuf> {
    let parent = layer.parent().unwrap_or(layer);
    let name = layer
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "layer".into());
    for n in 0u32..10_000 {
        let p = parent.join(format!(".{name}.add-{n}"));
        match std::fs::create_dir(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(FileOpError::Io {
                    op: "create directory",
                    path: p,
                    source: e,
                });
            }
        }
    }
    Err(FileOpError::Io {
        op: "create directory",
        path: parent.to_path_buf(),
        source: std::io::Error::other("no free name"),
    })
}

fn chown_tree(dir: &Path, o: Owner) -> Result<()> {
    for de in std::fs::read_dir(dir).map_err(FileOpError::io("read directory", dir))? {
        let de = de.map_err(FileOpError::io("read directory", dir))?;
        let p = de.path();
        super::sys::lchown(&p, o.uid, o.gid).map_err(FileOpError::io("chown", &p))?;
        if de.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            chown_tree(&p, o)?;
        }
    }
    Ok(())
}

/// Moves everything in `src` into the existing directory `dst`: new names
/// are renamed in whole, directories present on both sides are merged
/// (taking `src`'s metadata), anything else is replaced.
fn merge_tree(src: &Path, dst: &Path) -> Result<()> {
    for de in std::fs::read_dir(src).map_err(FileOpError::io("read directory", src))? {
        let de = de.map_err(FileOpError::io("read directory", src))?;
        let from = de.path();
        let to = dst.join(de.file_name());
        let from_md = std::fs::symlink_metadata(&from).map_err(FileOpError::io("stat", &from))?;
        match std::fs::symlink_metadata(&to) {
            Err(_) => std::fs::rename(&from, &to).map_err(FileOpError::io("rename", &to))?,
            Ok(to_md) if to_md.is_dir() && from_md.is_dir() => {
                merge_tree(&from, &to)?;
                super::sys::lchown(&to, from_md.uid(), from_md.gid())
                    .map_err(FileOpError::io("chown", &to))?;
                super::sys::chmod(&to, from_md.mode() & 0o7777)
                    .map_err(FileOpError::io("chmod", &to))?;
                let t = from_md
                    .mtime()
                    .saturating_mul(1_000_000_000)
                    .saturating_add(from_md.mtime_nsec());
                super::sys::set_times(&to, t).map_err(FileOpError::io("set times", &to))?;
            }
            Ok(to_md) => {
                if to_md.is_dir() {
                    strata_store::layout::remove_tree(&to)
                        .map_err(FileOpError::io("remove", &to))?;
                } else {
                    std::fs::remove_file(&to).map_err(FileOpError::io("remove", &to))?;
                }
                std::fs::rename(&from, &to).map_err(FileOpError::io("rename", &to))?;
            }
        }
    }
    Ok(())
}
