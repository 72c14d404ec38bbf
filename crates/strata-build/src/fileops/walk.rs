//! The directory walk of a directory source: a small pool of threads
//! (one per core) takes directories from a shared queue, reads and
//! `lstat`s their entries (`fstatat` on the directory's descriptor), and
//! applies the three filters; a sequential pass then assembles the entries
//! in pre-order by name. Excluded directories are pruned when no exception
//! pattern can re-include something inside them.

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};

use strata_dockerfile::dockerignore::{DirMatch, Matcher};

use super::selection::{EntryKind, SelectedEntry};
use super::{FileOpError, Result};

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
    fn is_empty(&self) -> bool {
        self.ignore.is_none() && self.exclude.is_none() && self.include.is_none()
    }

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

/// Builds an entry (no digest yet) from an `lstat`.
pub(crate) fn entry_from(
    unit: u32,
    rel: String,
    md: &Metadata,
    link: Option<String>,
    reset_owner: bool,
) -> SelectedEntry {
    let ft = md.file_type();
    let kind = if ft.is_dir() {
        EntryKind::Dir
    } else if ft.is_symlink() {
        EntryKind::Symlink
    } else if ft.is_fifo() {
        EntryKind::Fifo
    } else if ft.is_char_device() {
        EntryKind::CharDevice
    } else if ft.is_block_device() {
        EntryKind::BlockDevice
    } else if ft.is_socket() {
        EntryKind::Socket
    } else {
        EntryKind::File
    };
    let (uid, gid) = if reset_owner {
        (0, 0)
    } else {
        (md.uid(), md.gid())
    };
    SelectedEntry {
        unit,
        rel,
        kind,
        mode: md.mode() & 0o7777,
        uid,
        gid,
        size: if kind == EntryKind::File {
            md.size()
        } else {
            0
        },
        mtime_ns: md
            .mtime()
            .saturating_mul(1_000_000_000)
            .saturating_add(md.mtime_nsec()),
        sha256: None,
        link,
        rdev: md.rdev(),
        dev: md.dev(),
        ino: md.ino(),
        nlink: md.nlink(),
        ctime_ns: md
            .ctime()
            .saturating_mul(1_000_000_000)
            .saturating_add(md.ctime_nsec()),
    }
}

struct Child {
    entry: SelectedEntry,
    included: bool,
    sub: Option<usize>,
}

struct Job {
    id: usize,
    abs: PathBuf,
    unit_rel: String,
    tree_rel: String,
}

struct Shared {
    queue: Vec<Job>,
    active: usize,
    next_id: usize,
    results: HashMap<usize, Vec<Child>>,
    error: Option<FileOpError>,
}

fn join_rel(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}/{b}")
    }
}

/// Walks directory `abs` (whose path relative to the tree root is
/// `tree_rel`) and returns the entries below it (not itself), relative to
/// it, in pre-order by name.
pub(crate) fn walk_dir(
    abs: PathBuf,
    tree_rel: &str,
    unit: u32,
    filters: Filters<'_>,
    reset_owner: bool,
) -> Result<Vec<SelectedEntry>> {
    let shared = Mutex::new(Shared {
        queue: vec![Job {
            id: 0,
            abs,
            unit_rel: String::new(),
            tree_rel: tree_rel.to_string(),
        }],
        active: 0,
        next_id: 1,
        results: HashMap::new(),
        error: None,
    });
    let cv = Condvar::new();
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| worker(&shared, &cv, unit, filters, reset_owner));
        }
    });
    let mut sh = shared.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = sh.error.take() {
        return Err(e);
    }
    let mut out = Vec::new();
    emit(0, &mut sh.results, &mut out);
    Ok(out)
}

fn worker(
    shared: &Mutex<Shared>,
    cv: &Condvar,
    unit: u32,
    filters: Filters<'_>,
    reset_owner: bool,
) {
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
        let res = read_one(&job, unit, filters, reset_owner);
        let mut sh = shared.lock().unwrap_or_else(|e| e.into_inner());
        sh.active -= 1;
        match res {
            Ok((mut children, subdirs)) => {
                for (idx, abs, unit_rel, tree_rel) in subdirs {
                    let id = sh.next_id;
                    sh.next_id += 1;
                    children[idx].sub = Some(id);
                    sh.queue.push(Job {
                        id,
                        abs,
                        unit_rel,
                        tree_rel,
                    });
                }
                sh.results.insert(job.id, children);
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

type SubDir = (usize, PathBuf, String, String);

fn read_one(
    job: &Job,
    unit: u32,
    filters: Filters<'_>,
    reset_owner: bool,
) -> Result<(Vec<Child>, Vec<SubDir>)> {
    let rd = std::fs::read_dir(&job.abs).map_err(FileOpError::io("read directory", &job.abs))?;
    let mut children = Vec::new();
    let mut subdirs = Vec::new();
    let no_filters = filters.is_empty();
    for de in rd {
        let de = de.map_err(FileOpError::io("read directory", &job.abs))?;
        let name_os = de.file_name();
        let Some(name) = name_os.to_str() else {
            return Err(FileOpError::Io {
                op: "read",
                path: de.path(),
                source: std::io::Error::other("file name is not valid UTF-8"),
            });
        };
        let md = de.metadata().map_err(FileOpError::io("stat", de.path()))?;
        let unit_rel = join_rel(&job.unit_rel, name);
        let is_dir = md.is_dir();
        // The tree-relative path is only needed by the ignore matcher and
        // for sub-directory jobs.
        let tree_rel = if filters.ignore.is_some() || is_dir {
            join_rel(&job.tree_rel, name)
        } else {
            String::new()
        };
        let (included, descend) = if no_filters {
            (true, is_dir)
        } else if is_dir {
            filters.dir(&tree_rel, &unit_rel)?
        } else {
            (filters.file(&tree_rel, &unit_rel)?, false)
        };
        if !included && !descend {
            continue;
        }
        let link = if included && md.file_type().is_symlink() {
            let t =
                std::fs::read_link(de.path()).map_err(FileOpError::io("readlink", de.path()))?;
            Some(t.to_string_lossy().into_owned())
        } else {
            None
        };
        let entry = if is_dir && descend {
            subdirs.push((children.len(), de.path(), unit_rel.clone(), tree_rel));
            entry_from(unit, unit_rel, &md, link, reset_owner)
        } else {
            entry_from(unit, unit_rel, &md, link, reset_owner)
        };
        children.push(Child {
            entry,
            included,
            sub: None,
        });
    }
    // Sort by name, keeping the sub-directory indexes right.
    let mut order: Vec<usize> = (0..children.len()).collect();
    order.sort_by(|a, b| {
        children[*a]
            .entry
            .rel
            .as_bytes()
            .cmp(children[*b].entry.rel.as_bytes())
    });
    let mut pos = vec![0usize; children.len()];
    for (new, old) in order.iter().enumerate() {
        pos[*old] = new;
    }
    let mut slots: Vec<Option<Child>> = children.into_iter().map(Some).collect();
    let sorted: Vec<Child> = order.iter().filter_map(|&i| slots[i].take()).collect();
    for s in &mut subdirs {
        s.0 = pos[s.0];
    }
    Ok((sorted, subdirs))
}

/// Appends the entries of directory job `id` in pre-order; returns whether
/// anything was appended.
fn emit(id: usize, results: &mut HashMap<usize, Vec<Child>>, out: &mut Vec<SelectedEntry>) -> bool {
    let Some(children) = results.remove(&id) else {
        return false;
    };
    let mut any = false;
    for c in children {
        if c.included {
            out.push(c.entry);
            any = true;
            if let Some(sub) = c.sub {
                emit(sub, results, out);
            }
        } else if let Some(sub) = c.sub {
            // Excluded, but an exception may re-include something inside:
            // keep the directory only if something was.
            let mark = out.len();
            out.push(c.entry);
            if emit(sub, results, out) {
                any = true;
            } else {
                out.truncate(mark);
            }
        }
    }
    any
}
