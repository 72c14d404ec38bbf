//! The directory walk of a directory source: a small pool of threads
//! (one per core) takes directories from a shared queue, reads and
//! `lstat`s their entries (`fstatat` on the directory's descriptor), and
//! applies the three filters; a sequential pass then assembles the entries
//! in pre-order by name. Excluded directories are pruned when no exception
//! pattern can re-include something inside them. With the context's stat
//! index, each thread also looks its files up as it reads them (in walk
//! order, so each is found right after the previous one): an unchanged
//! file leaves the walk with its digest.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};

use strata_dockerfile::dockerignore::{DirMatch, Matcher};

use super::Entries;
use super::selection::{EntryKind, SelectedEntry};
use super::{FileOpError, Result};
use crate::context::{FreshDir, IndexRef, StatKey};
use strata_store::context_dirs::DirStat;

/// The filters of one walk. `ignore` sees paths relative to the tree root,
/// `exclude` and `include` paths relative to the unit root. `include` is
/// an *inverted* matcher (`*` then `!pattern`): "matched" means "not
/// included".
#[derive(Clone, Copy, Default)]
pub(crate) struct Filters<'a> {
    pub ignore: Option<&'a Matcher>,
    pub exclude: Option<&'a Matcher>,
    pub include: Option<&'a Matcher>,
}

impl Filters<'_> {
    /// (included, descend) for a directory. `.dockerignore` answers as
    /// the context transfer does ([`Matcher::match_context_dir`]).
    fn dir(&self, tree_rel: &str, unit_rel: &str) -> Result<(bool, bool)> {
        let mut included = true;
        let mut descend = true;
        let mut check = |m: Option<DirMatch>| {
            if let Some(DirMatch::Excluded { can_skip }) = m {
                included = false;
                if can_skip {
                    descend = false;
                }
            }
        };
        let ignore = self
            .ignore
            .map(|m| m.match_context_dir(tree_rel))
            .transpose()
            .map_err(FileOpError::IgnorePattern)?;
        check(ignore);
        check(self.exclude.and_then(|m| m.match_dir(unit_rel).ok()));
        check(self.include.and_then(|m| m.match_dir(unit_rel).ok()));
        Ok((included, descend))
    }

    fn file(&self, tree_rel: &str, unit_rel: &str) -> Result<bool> {
        let hit = |m: Option<&Matcher>, p: &str| m.is_some_and(|m| m.matches(p).unwrap_or(false));
        let ignored = match self.ignore {
            Some(m) => m
                .walk_match(tree_rel)
                .map_err(FileOpError::IgnorePattern)?
                .excluded(),
            None => false,
        };
        Ok(!(ignored || hit(self.exclude, unit_rel) || hit(self.include, unit_rel)))
    }
}

/// The `lstat` fields an entry is made of, from std's [`Metadata`] or
/// from a raw `fstatat` (the walk's, which needs no path and no
/// allocation per file).
pub(crate) struct Stat {
    dev: u64,
    ino: u64,
    /// `st_mode`, type bits included.
    mode: u32,
    nlink: u64,
    uid: u32,
    gid: u32,
    rdev: u64,
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
}

fn ns(s: i64, nsec: i64) -> i64 {
    s.saturating_mul(1_000_000_000).saturating_add(nsec)
}

impl Stat {
    fn of(md: &Metadata) -> Stat {
        Stat {
            dev: md.dev(),
            ino: md.ino(),
            mode: md.mode(),
            nlink: md.nlink(),
            uid: md.uid(),
            gid: md.gid(),
            rdev: md.rdev(),
            size: md.size(),
            mtime_ns: ns(md.mtime(), md.mtime_nsec()),
            ctime_ns: ns(md.ctime(), md.ctime_nsec()),
        }
    }

    #[allow(clippy::unnecessary_cast)] // the field types vary by target
    fn of_raw(st: &nix::sys::stat::FileStat) -> Stat {
        Stat {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            mode: st.st_mode as u32,
            nlink: st.st_nlink as u64,
            uid: st.st_uid,
            gid: st.st_gid,
            rdev: st.st_rdev as u64,
            size: st.st_size as u64,
            mtime_ns: ns(st.st_mtime as i64, st.st_mtime_nsec as i64),
            ctime_ns: ns(st.st_ctime as i64, st.st_ctime_nsec as i64),
        }
    }

    fn kind(&self) -> EntryKind {
        match self.mode & libc::S_IFMT {
            libc::S_IFDIR => EntryKind::Dir,
            libc::S_IFLNK => EntryKind::Symlink,
            libc::S_IFIFO => EntryKind::Fifo,
            libc::S_IFCHR => EntryKind::CharDevice,
            libc::S_IFBLK => EntryKind::BlockDevice,
            libc::S_IFSOCK => EntryKind::Socket,
            _ => EntryKind::File,
        }
    }
}

/// Builds an entry (no digest yet) from an `lstat`.
pub(crate) fn entry_from(
    unit: u32,
    rel: String,
    md: &Metadata,
    link: Option<String>,
    reset_owner: bool,
) -> SelectedEntry {
    entry_of(unit, rel, &Stat::of(md), link, reset_owner)
}

fn entry_of(
    unit: u32,
    rel: String,
    st: &Stat,
    link: Option<String>,
    reset_owner: bool,
) -> SelectedEntry {
    let kind = st.kind();
    let (uid, gid) = if reset_owner {
        (0, 0)
    } else {
        (st.uid, st.gid)
    };
    SelectedEntry {
        unit,
        rel: rel.into_boxed_str(),
        kind,
        mode: st.mode & 0o7777,
        uid,
        gid,
        size: if kind == EntryKind::File { st.size } else { 0 },
        mtime_ns: st.mtime_ns,
        sha256: None,
        link: link.map(String::into_boxed_str),
        rdev: st.rdev,
        dev: st.dev,
        ino: st.ino,
        nlink: u32::try_from(st.nlink).unwrap_or(u32::MAX),
        ctime_ns: st.ctime_ns,
    }
}

/// One directory's result: its entries, sorted by name, and for each
/// whether it is included and which job walked it (a sub-directory).
/// Made in place, at the directory's size: each entry is written once,
/// into the memory the selection keeps.
struct Listing {
    entries: Vec<SelectedEntry>,
    /// One mark per entry, or none when every entry is an included file
    /// (most directories: no memory for 20,000 marks that say so).
    marks: Vec<Mark>,
}

/// Whether an entry is included, and the job that walks it (a
/// sub-directory; 0 until the job is numbered).
type Mark = (bool, Option<usize>);

/// The mark of a file that is included.
const PLAIN: Mark = (true, None);

impl Listing {
    /// Adds an entry; its mark is kept once an entry is not [`PLAIN`].
    fn push(&mut self, entry: SelectedEntry, mark: Mark) {
        self.entries.push(entry);
        if mark != PLAIN || !self.marks.is_empty() {
            self.marks.resize(self.entries.len() - 1, PLAIN);
            self.marks.push(mark);
        }
    }
}

struct Job {
    id: usize,
    abs: PathBuf,
    unit_rel: String,
    tree_rel: String,
    /// The `.dockerignore` can exclude nothing below this directory.
    ignore_free: bool,
    /// The directory's own stat, as its parent's `fstatat` saw it.
    stat: Option<DirStat>,
}

struct Shared {
    queue: Vec<Job>,
    active: usize,
    next_id: usize,
    results: Vec<Option<Listing>>,
    error: Option<FileOpError>,
    /// The directories read (not taken from the index), to record.
    fresh: Vec<FreshDir>,
}

/// The stat of a directory entry, as the index of listings keeps it.
fn dir_stat(e: &SelectedEntry) -> DirStat {
    DirStat {
        dev: e.dev,
        ino: e.ino,
        mtime_ns: e.mtime_ns,
        ctime_ns: e.ctime_ns,
    }
}

/// [`dir_stat`] of a directory's metadata.
pub(crate) fn dir_stat_of(md: &Metadata) -> DirStat {
    let st = Stat::of(md);
    DirStat {
        dev: st.dev,
        ino: st.ino,
        mtime_ns: st.mtime_ns,
        ctime_ns: st.ctime_ns,
    }
}

fn join_rel(a: &str, b: &str) -> String {
    if a.is_empty() {
        return b.to_string();
    }
    let mut s = String::with_capacity(a.len() + 1 + b.len());
    s.push_str(a);
    s.push('/');
    s.push_str(b);
    s
}

/// Walks directory `abs` (whose path relative to the tree root is
/// `tree_rel`, and whose own stat is `stat`) and appends the entries
/// below it (not itself), relative to it, in pre-order by name, to `out`.
/// With `index` (the tree's stat index), files it can vouch for come with
/// their digest, directories it holds unchanged are not read again, and
/// the directories read are returned, to record.
#[allow(clippy::too_many_arguments)]
pub(crate) fn walk_dir(
    abs: PathBuf,
    tree_rel: &str,
    stat: Option<DirStat>,
    unit: u32,
    filters: Filters<'_>,
    reset_owner: bool,
    index: Option<IndexRef<'_>>,
    out: &mut Entries,
) -> Result<Vec<FreshDir>> {
    let shared = Mutex::new(Shared {
        queue: vec![Job {
            id: 0,
            abs,
            unit_rel: String::new(),
            tree_rel: tree_rel.to_string(),
            ignore_free: filters.ignore.is_none_or(|m| {
                !tree_rel.is_empty() && m.includes_all_under(tree_rel).unwrap_or(false)
            }),
            stat,
        }],
        active: 0,
        next_id: 1,
        results: Vec::new(),
        error: None,
        fresh: Vec::new(),
    });
    let cv = Condvar::new();
    let threads = super::worker_threads();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| worker(&shared, &cv, unit, filters, reset_owner, index));
        }
    });
    let mut sh = shared.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = sh.error.take() {
        return Err(e);
    }
    emit(0, &mut sh.results, out);
    Ok(std::mem::take(&mut sh.fresh))
}

fn worker(
    shared: &Mutex<Shared>,
    cv: &Condvar,
    unit: u32,
    filters: Filters<'_>,
    reset_owner: bool,
    index: Option<IndexRef<'_>>,
) {
    let mut key = String::new();
    loop {
        let job = {
            let mut sh = shared.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if sh.error.is_some() {
                    return;
                }
                if let Some(j) = sh.queue.pop() {
                    sh.active += 1;
                    break j;
                }
                if sh.active == 0 {
                    return;
                }
                sh = cv.wait(sh).unwrap_or_else(|e| e.into_inner());
            }
        };
        // A panic must still end the job, or the other walkers wait for
        // it for ever.
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let ready = index.filter(IndexRef::ready);
            // The names the index holds for this directory, if it is unchanged.
            let known = ready
                .zip(job.stat)
                .and_then(|(ix, st)| ix.dir_names(&job.tree_rel, &st));
            let record = index.is_some() && job.stat.is_some();
            let mut res = read_one(&job, unit, filters, reset_owner, known, record);
            if res.is_err() && known.is_some() {
                // A name gone after all: read the directory.
                res = read_one(&job, unit, filters, reset_owner, None, record);
            }
            res.map(|(mut listing, subdirs, read)| {
                if let Some(ix) = ready {
                    look_up(&job, &mut listing, ix, &mut key);
                }
                (listing, subdirs, read)
            })
        }))
        .unwrap_or_else(|_| {
            Err(FileOpError::Io {
                op: "read directory",
                path: job.abs.clone(),
                source: std::io::Error::other("internal error: the walk panicked"),
            })
        });
        let mut sh = shared.lock().unwrap_or_else(|e| e.into_inner());
        sh.active -= 1;
        match res {
            Ok((mut listing, subdirs, read)) => {
                if let (Some(names), Some(stat)) = (read, job.stat) {
                    sh.fresh.push(FreshDir {
                        rel: job.tree_rel.clone(),
                        stat,
                        recorded_ns: names.0,
                        names: names.1,
                    });
                }
                for mut sub in subdirs {
                    let id = sh.next_id;
                    sh.next_id += 1;
                    listing.marks[sub.id].1 = Some(id);
                    sub.id = id;
                    sh.queue.push(sub);
                }
                if sh.results.len() <= job.id {
                    sh.results.resize_with(job.id + 1, || None);
                }
                sh.results[job.id] = Some(listing);
            }
            Err(e) => {
                if sh.error.is_none() {
                    sh.error = Some(e);
                }
            }
        }
        cv.notify_all();
    }
}

/// What [`read_one`] read of a directory, to record: when (ns since
/// the epoch, taken before) and its names (sorted, each then a NUL).
type ReadNames = (i64, Vec<u8>);

/// Reads and `lstat`s the entries of one directory (through its
/// descriptor: `fstatat` by name) and filters them into a [`Listing`],
/// sorted by name. The names are `known` (the index's, each followed by a
/// NUL, sorted) or else read, and then returned too when `record`.
/// Returns the sub-directories to walk as jobs whose `id` is the child's
/// index (the caller numbers them).
fn read_one(
    job: &Job,
    unit: u32,
    filters: Filters<'_>,
    reset_owner: bool,
    known: Option<&[u8]>,
    record: bool,
) -> Result<(Listing, Vec<Job>, Option<ReadNames>)> {
    use nix::dir::Dir;
    use nix::fcntl::AtFlags;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;

    let io_err = |op: &'static str, path: PathBuf| {
        move |e: nix::Error| FileOpError::Io {
            op,
            path,
            source: std::io::Error::from(e),
        }
    };
    let owned = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
            .open(&job.abs)
            .map_err(FileOpError::io("read directory", &job.abs))?
    };
    // Nothing below can be ignored, and no other filter: no matching.
    let plain = job.ignore_free && filters.exclude.is_none() && filters.include.is_none();
    // The names first, sorted, so that the entries are made in order
    // rather than sorted after (160 bytes moved per swap; 1 % of a
    // 20,000-file no-op). Each name ends in its NUL in `bytes`; `names`
    // holds (start, len).
    let mut read = None;
    let mut names: Vec<(usize, usize)> = Vec::new();
    let bytes: std::borrow::Cow<'_, [u8]> = match known {
        Some(known) => {
            let mut start = 0;
            for (i, _) in known.iter().enumerate().filter(|(_, b)| **b == 0) {
                names.push((start, i - start));
                start = i + 1;
            }
            std::borrow::Cow::Borrowed(known)
        }
        None => {
            let now = crate::context::now_ns();
            // Its own descriptor, which the reader closes.
            let fd = nix::unistd::dup(owned.as_raw_fd())
                .map_err(io_err("read directory", job.abs.clone()))?;
            let mut dir = Dir::from_fd(fd).map_err(io_err("read directory", job.abs.clone()))?;
            let mut bytes: Vec<u8> = Vec::with_capacity(4096);
            for de in dir.iter() {
                let de = de.map_err(|e| io_err("read directory", job.abs.clone())(e))?;
                let name = de.file_name().to_bytes_with_nul();
                if name != b".\0" && name != b"..\0" {
                    names.push((bytes.len(), name.len() - 1));
                    bytes.extend_from_slice(name);
                }
            }
            names.sort_unstable_by(|a, b| bytes[a.0..a.0 + a.1].cmp(&bytes[b.0..b.0 + b.1]));
            if record {
                let mut sorted = Vec::with_capacity(bytes.len());
                for &(start, len) in &names {
                    sorted.extend_from_slice(&bytes[start..=start + len]);
                }
                read = Some((now, sorted));
            }
            std::borrow::Cow::Owned(bytes)
        }
    };
    let fd = owned.as_raw_fd();
    let mut listing = Listing {
        entries: Vec::with_capacity(names.len()),
        marks: Vec::new(),
    };
    for &(start, len) in &names {
        let raw = &bytes[start..start + len];
        let Ok(name) = std::str::from_utf8(raw) else {
            return Err(FileOpError::Io {
                op: "read",
                path: job.abs.join(std::ffi::OsStr::from_bytes(raw)),
                source: std::io::Error::other("file name is not valid UTF-8"),
            });
        };
        let cname =
            std::ffi::CStr::from_bytes_with_nul(&bytes[start..=start + len]).map_err(|e| {
                FileOpError::Io {
                    op: "read",
                    path: job.abs.join(name),
                    source: std::io::Error::other(e),
                }
            })?;
        let st = nix::sys::stat::fstatat(Some(fd), cname, AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(|e| io_err("stat", job.abs.join(name))(e))?;
        let st = Stat::of_raw(&st);
        let unit_rel = join_rel(&job.unit_rel, name);
        let is_dir = st.kind() == EntryKind::Dir;
        let (included, descend) = if plain {
            (true, is_dir)
        } else {
            // The tree-relative path is what the ignore matcher sees.
            let tree_rel = join_rel(&job.tree_rel, name);
            if is_dir {
                filters.dir(&tree_rel, &unit_rel)?
            } else {
                (filters.file(&tree_rel, &unit_rel)?, false)
            }
        };
        if !included && !descend {
            continue;
        }
        let link = if included && st.kind() == EntryKind::Symlink {
            let p = job.abs.join(name);
            let t = std::fs::read_link(&p).map_err(FileOpError::io("readlink", &p))?;
            Some(t.to_string_lossy().into_owned())
        } else {
            None
        };
        listing.push(
            entry_of(unit, unit_rel, &st, link, reset_owner),
            (included, descend.then_some(0)),
        );
    }
    drop(owned);
    // Mostly filtered out: keep no room for the names left out.
    if listing.entries.len() < listing.entries.capacity() / 2 {
        listing.entries.shrink_to_fit();
        listing.marks.shrink_to_fit();
    }
    let mut subdirs = Vec::new();
    for (i, &(_, sub)) in listing.marks.iter().enumerate() {
        if sub.is_none() {
            continue;
        }
        let e = &listing.entries[i];
        let name = name_of(job, e);
        let tree_rel = join_rel(&job.tree_rel, name);
        let ignore_free = job.ignore_free
            || filters
                .ignore
                .is_some_and(|m| m.includes_all_under(&tree_rel).unwrap_or(false));
        subdirs.push(Job {
            id: i,
            abs: job.abs.join(name),
            unit_rel: e.rel.to_string(),
            tree_rel,
            ignore_free,
            stat: Some(dir_stat(e)),
        });
    }
    Ok((listing, subdirs, read))
}

/// The name of a child of `job`'s directory.
fn name_of<'e>(job: &Job, e: &'e SelectedEntry) -> &'e str {
    match job.unit_rel.len() {
        0 => &e.rel,
        n => &e.rel[n + 1..],
    }
}

/// Gives the included files of one directory (sorted by name) the digest
/// the index holds for them, if still valid; `key` is scratch space.
fn look_up(job: &Job, listing: &mut Listing, ix: IndexRef<'_>, key: &mut String) {
    let mut hint = 0;
    for (i, e) in listing.entries.iter_mut().enumerate() {
        let included = listing.marks.get(i).is_none_or(|m| m.0);
        if !included || e.kind != EntryKind::File {
            continue;
        }
        let name = name_of(job, e);
        key.clear();
        if !job.tree_rel.is_empty() {
            key.push_str(&job.tree_rel);
            key.push('/');
        }
        key.push_str(name);
        e.sha256 = ix.lookup(key, &StatKey::of_entry(e), &mut hint);
    }
}

/// Appends the entries of directory job `id` in pre-order (a directory of
/// files moved in whole, not copied); returns whether anything was
/// appended.
fn emit(id: usize, results: &mut [Option<Listing>], out: &mut Entries) -> bool {
    let Some(mut dir) = results.get_mut(id).and_then(Option::take) else {
        return false;
    };
    if dir.marks.iter().all(|&m| m == PLAIN) {
        // A directory of files (most of them): one move.
        let any = !dir.entries.is_empty();
        out.append_vec(std::mem::take(&mut dir.entries));
        return any;
    }
    let mut any = false;
    for (entry, (included, sub)) in dir.entries.into_iter().zip(dir.marks) {
        if included {
            out.push(entry);
            any = true;
            if let Some(sub) = sub {
                emit(sub, results, out);
            }
        } else if let Some(sub) = sub {
            // Excluded, but an exception may re-include something inside:
            // keep the directory only if something was.
            let mark = out.len();
            out.push(entry);
            if emit(sub, results, out) {
                any = true;
            } else {
                out.truncate(mark);
            }
        }
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str) -> SelectedEntry {
        let st = Stat {
            dev: 1,
            ino: 2,
            mode: libc::S_IFREG | 0o644,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: 0,
            size: 3,
            mtime_ns: 4,
            ctime_ns: 5,
        };
        entry_of(0, name.to_string(), &st, None, false)
    }

    fn listing(marks: &[Mark]) -> Listing {
        let mut l = Listing {
            entries: Vec::new(),
            marks: Vec::new(),
        };
        for (i, m) in marks.iter().enumerate() {
            l.push(file(&i.to_string()), *m);
        }
        l
    }

    /// Included files alone keep no marks; the first other entry gives
    /// every entry its mark, those before it included.
    #[test]
    fn marks_are_kept_only_once_an_entry_needs_one() {
        let plain = listing(&[PLAIN, PLAIN, PLAIN]);
        assert_eq!(plain.entries.len(), 3);
        assert!(plain.marks.is_empty());

        let mixed = [PLAIN, PLAIN, (true, Some(0)), PLAIN, (false, None), PLAIN];
        let l = listing(&mixed);
        assert_eq!(l.entries.len(), mixed.len());
        assert_eq!(l.marks, mixed);
    }

    /// A directory walked in full comes out in pre-order whichever way
    /// its listings were kept.
    #[test]
    fn emit_reads_plain_and_marked_listings_alike() {
        let mut top = listing(&[PLAIN, (true, Some(1)), PLAIN, (false, None)]);
        top.entries[1].kind = EntryKind::Dir;
        let sub = listing(&[PLAIN, PLAIN]);
        let mut results = vec![Some(top), Some(sub)];
        let mut out = Entries::new();
        assert!(emit(0, &mut results, &mut out));
        let rels: Vec<&str> = (0..out.len()).map(|i| &*out[i].rel).collect();
        assert_eq!(rels, ["0", "1", "0", "1", "2"]);
    }
}
