//! [`select`]: the sources of one COPY/ADD resolved against a
//! [`SourceTree`] — literal paths, wildcards, `--parents` pivots, URLs —
//! into a [`Selection`] whose files all carry a content digest (from the
//! stat index when unchanged, else hashed on all cores).

use std::cell::RefCell;
use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use strata_dockerfile::dockerignore::{DirMatch, Matcher, clean};

use super::glob::{go_match, has_negated_class, has_wildcards};
use super::selection::{EntryKind, SelectedEntry, Selection, SourceUnit, UnitKind};
use super::walk::{Filters, entry_from, walk_dir};
use super::{Command, FileOpError, Result, SelectOptions, SourceTree};
use crate::context::{FreshDir, IndexRef, StatIndex, StatKey, hash_file};

/// Resolves `sources` (as written, after variable expansion) against
/// `tree`. Context files are hashed only when the stat index has no valid
/// digest for them; `index` collects what was hashed (call
/// [`StatIndex::flush`] once per build).
pub fn select(
    tree: &SourceTree<'_>,
    sources: &[String],
    opts: &SelectOptions,
    index: &mut StatIndex,
) -> Result<Selection> {
    check_checksum_flag(sources, opts)?;
    let exclude = compile(&opts.excludes, false)?;
    let mut sel = Selection {
        command: opts.command,
        ..Selection::default()
    };
    let cmd = opts.command.name();
    let view = index.view_for(tree.root());
    let read_dirs = RefCell::new(Vec::new());
    for src in sources {
        let plain = opts.command == Command::Mount;
        if !plain && super::remote::is_git(src) {
            return Err(match opts.command {
                Command::Add => FileOpError::GitSource { url: src.clone() },
                _ => FileOpError::Checksum("source can't be a git ref for COPY".into()),
            });
        }
        if !plain && super::remote::is_http(src) {
            if opts.command == Command::Copy {
                return Err(FileOpError::UrlInCopy);
            }
            let dir = opts
                .download_dir
                .as_deref()
                .ok_or_else(|| FileOpError::Download {
                    url: src.clone(),
                    reason: "no download directory given".into(),
                })?;
            let got = super::remote::fetch(src, opts.checksum.as_deref(), dir)?;
            let unpack = opts.unpack == Some(true) && super::archive::is_archive(&got.file);
            push_remote(&mut sel, src, got, unpack);
            continue;
        }
        let r = Resolver {
            tree,
            cmd,
            src,
            index: view,
            read_dirs: &read_dirs,
        };
        if opts.parents {
            select_parents(&r, &mut sel, exclude.as_ref())?;
            continue;
        }
        let rel = r.clean_source(src)?;
        let comps: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
        match comps.iter().position(|c| has_wildcards(c)) {
            None => {
                let found = r.resolve(&comps, true)?;
                let name = comps
                    .last()
                    .map_or_else(|| base_of(tree.root()), |c| unescape(c));
                add_unit(&r, &mut sel, found, name, exclude.as_ref(), opts)?;
            }
            Some(k) => {
                let base = r.resolve(&comps[..k], true)?;
                let pattern = comps[k..].join("/");
                for m in r.expand(&base, &pattern)? {
                    let mcomps: Vec<&str> = m.split('/').collect();
                    let found = r.resolve(&mcomps, true)?;
                    let name = mcomps.last().map_or(String::new(), |s| s.to_string());
                    add_unit(&r, &mut sel, found, name, exclude.as_ref(), opts)?;
                }
            }
        }
    }
    index.record_dirs(read_dirs.into_inner());
    let t_walk = std::time::Instant::now();
    digest_files(tree, &mut sel, index)?;
    tracing::debug!("digest {:?}", t_walk.elapsed());
    sel.stats.entries = sel.entries.len() as u64;
    for e in &sel.entries {
        if e.kind == EntryKind::File {
            sel.stats.files += 1;
            sel.stats.bytes += e.size;
        }
    }
    Ok(sel)
}

fn check_checksum_flag(sources: &[String], opts: &SelectOptions) -> Result<()> {
    if opts.checksum.is_none() {
        return Ok(());
    }
    if opts.command == Command::Copy {
        return Err(FileOpError::Checksum(
            "checksum can't be specified for COPY".into(),
        ));
    }
    if sources.len() != 1 {
        return Err(FileOpError::Checksum(
            "checksum can't be specified for multiple sources".into(),
        ));
    }
    if !super::remote::is_http(&sources[0]) {
        return Err(FileOpError::Checksum(
            "checksum can't be specified for non-HTTP(S) sources".into(),
        ));
    }
    Ok(())
}

/// Compiles patterns; `invert` builds the "not included" matcher of
/// `--parents` (`*` then `!pattern`).
fn compile(patterns: &[String], invert: bool) -> Result<Option<Matcher>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let list: Vec<String> = if invert {
        std::iter::once("*".to_string())
            .chain(patterns.iter().map(|p| format!("!{p}")))
            .collect()
    } else {
        patterns.to_vec()
    };
    Matcher::from_patterns(&list)
        .map(Some)
        .map_err(|e| FileOpError::Pattern {
            pattern: patterns.join(" "),
            error: e.to_string(),
        })
}

fn base_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `a\*b` → `a*b` (a literal component written with escapes).
fn unescape(c: &str) -> String {
    let mut out = String::with_capacity(c.len());
    let mut it = c.chars();
    while let Some(ch) = it.next() {
        if ch == '\\' {
            if let Some(n) = it.next() {
                out.push(n);
            }
        } else {
            out.push(ch);
        }
    }
    out
}

/// A resolved path inside the tree.
struct Found {
    /// Real path relative to the root (`""` = root).
    rel: String,
    md: Metadata,
}

struct Resolver<'a, 't> {
    tree: &'a SourceTree<'t>,
    cmd: &'static str,
    src: &'a str,
    /// The tree's stat index (the context's), for the walks.
    index: Option<IndexRef<'a>>,
    /// The directories the walks read, for the index to record.
    read_dirs: &'a RefCell<Vec<FreshDir>>,
}

impl Resolver<'_, '_> {
    fn abs(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.tree.root().to_path_buf()
        } else {
            self.tree.root().join(rel)
        }
    }

    /// The source cleaned relative to the root: `..` above it is an error
    /// for the context and clamped for a rootfs.
    fn clean_source(&self, src: &str) -> Result<String> {
        // Relative to the root: a leading `/` is the root, so `/../x`
        // climbs out of it too.
        let c = clean(src.trim_start_matches('/'));
        let c = c.trim_start_matches('/');
        if c == ".." || c.starts_with("../") {
            if self.tree.is_context() {
                return Err(FileOpError::EscapesContext {
                    command: self.cmd,
                    src: self.src.to_string(),
                });
            }
            let clamped = clean(&format!("/{src}"));
            return Ok(clamped.trim_start_matches('/').to_string());
        }
        Ok(if c == "." {
            String::new()
        } else {
            c.to_string()
        })
    }

    /// Appends the entries below directory `found` (unit `unit`) to `sel`.
    fn walk(
        &self,
        sel: &mut Selection,
        found: &Found,
        unit: u32,
        filters: Filters<'_>,
    ) -> Result<()> {
        let t = std::time::Instant::now();
        let reset = self.tree.is_context();
        let abs = self.abs(&found.rel);
        let read = walk_dir(
            abs,
            &found.rel,
            Some(super::walk::dir_stat_of(&found.md)),
            unit,
            filters,
            reset,
            self.index,
            &mut sel.entries,
        )?;
        self.read_dirs.borrow_mut().extend(read);
        tracing::debug!("walk {:?}", t.elapsed());
        Ok(())
    }

    fn not_found(&self, rel: &str) -> FileOpError {
        let hint = self.tree.context_of().and_then(|c| c.explain_ignored(rel));
        FileOpError::NotFound {
            command: self.cmd,
            path: rel.to_string(),
            hint,
        }
    }

    /// Follows `comps` from the root, resolving symlinks (the last one only
    /// when `follow_last`). Ignored paths do not exist.
    fn resolve(&self, comps: &[&str], follow_last: bool) -> Result<Found> {
        let literal = comps.join("/");
        let mut queue: std::collections::VecDeque<String> =
            comps.iter().map(|c| unescape_if_literal(c)).collect();
        let mut cur: Vec<String> = Vec::new();
        let mut hops = 0;
        let mut via_link: Option<(String, String)> = None;
        let root_prefix = {
            let mut p = self.tree.root().to_string_lossy().into_owned();
            if !p.ends_with('/') {
                p.push('/');
            }
            p
        };
        let ctx = self.tree.context_of();
        while let Some(c) = queue.pop_front() {
            if c.is_empty() || c == "." {
                continue;
            }
            if c == ".." {
                if cur.pop().is_none() && self.tree.is_context() {
                    let (link, target) = via_link.clone().unwrap_or_default();
                    return Err(FileOpError::SymlinkEscape {
                        command: self.cmd,
                        src: self.src.to_string(),
                        link,
                        target,
                    });
                }
                continue;
            }
            cur.push(c);
            let rel = cur.join("/");
            let md = match std::fs::symlink_metadata(self.abs(&rel)) {
                Ok(m) => m,
                Err(_) => return Err(self.not_found(&literal)),
            };
            if let Some(ctx) = ctx.and_then(|c| c.matcher()) {
                match ctx
                    .match_context_dir(&rel)
                    .map_err(FileOpError::IgnorePattern)?
                {
                    DirMatch::Included => {}
                    DirMatch::Excluded { can_skip } if md.is_dir() && !can_skip => {}
                    _ => return Err(self.not_found(&literal)),
                }
            }
            let last = queue.is_empty();
            if md.file_type().is_symlink() && (!last || follow_last) {
                hops += 1;
                if hops > 40 {
                    return Err(FileOpError::SymlinkLoop { path: rel });
                }
                let target = std::fs::read_link(self.abs(&rel))
                    .map_err(FileOpError::io("readlink", self.abs(&rel)))?;
                let target = target.to_string_lossy().into_owned();
                cur.pop();
                let mut parts: Vec<String> = Vec::new();
                if target.starts_with('/') {
                    if self.tree.is_context() {
                        let inside = target == root_prefix.trim_end_matches('/')
                            || target.starts_with(&root_prefix);
                        if !inside {
                            return Err(FileOpError::SymlinkEscape {
                                command: self.cmd,
                                src: self.src.to_string(),
                                link: rel,
                                target,
                            });
                        }
                        parts.extend(
                            target[root_prefix.len().min(target.len())..]
                                .split('/')
                                .map(str::to_string),
                        );
                    } else {
                        parts.extend(target.split('/').map(str::to_string));
                    }
                    cur.clear();
                } else {
                    parts.extend(target.split('/').map(str::to_string));
                }
                via_link = Some((rel, target));
                for p in parts.into_iter().rev() {
                    queue.push_front(p);
                }
                continue;
            }
            if queue.is_empty() {
                return Ok(Found { rel, md });
            }
        }
        let rel = cur.join("/");
        let md = std::fs::symlink_metadata(self.abs(&rel)).map_err(|_| self.not_found(&literal))?;
        Ok(Found { rel, md })
    }

    /// BuildKit's `resolveWildcards`: walks below `base` (lexical order,
    /// not following symlinks), matching each path relative to `base`
    /// against `pattern`; a matched directory is not entered. Returns the
    /// matches as paths relative to the root, through `literal_prefix`
    /// (the unresolved prefix, so names stay as written).
    fn expand(&self, base: &Found, pattern: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        if !base.md.is_dir() {
            return Ok(out);
        }
        let max_depth = if has_negated_class(pattern) {
            usize::MAX
        } else {
            pattern.split('/').count()
        };
        self.expand_in(&base.rel, "", 1, max_depth, pattern, &mut out)?;
        Ok(out)
    }

    fn expand_in(
        &self,
        base: &str,
        dir_rel: &str,
        depth: usize,
        max_depth: usize,
        pattern: &str,
        out: &mut Vec<String>,
    ) -> Result<()> {
        let abs = self.abs(&join_rel(base, dir_rel));
        let mut names: Vec<(String, bool)> = Vec::new();
        let rd = std::fs::read_dir(&abs).map_err(FileOpError::io("read directory", &abs))?;
        for de in rd {
            let de = de.map_err(FileOpError::io("read directory", &abs))?;
            let Ok(name) = de.file_name().into_string() else {
                continue;
            };
            let is_dir = de.file_type().map(|t| t.is_dir()).unwrap_or(false);
            names.push((name, is_dir));
        }
        names.sort();
        let ctx = self.tree.context_of().and_then(|c| c.matcher());
        for (name, is_dir) in names {
            let rel = join_rel(dir_rel, &name);
            let tree_rel = join_rel(base, &rel);
            if let Some(m) = ctx {
                match m
                    .match_context_dir(&tree_rel)
                    .map_err(FileOpError::IgnorePattern)?
                {
                    DirMatch::Included => {}
                    // Excluded, but holds re-included paths: it exists.
                    DirMatch::Excluded { can_skip } if is_dir && !can_skip => {}
                    _ => continue,
                }
            }
            if go_match(pattern, &rel) {
                out.push(tree_rel);
            } else if is_dir && depth < max_depth {
                self.expand_in(base, &rel, depth + 1, max_depth, pattern, out)?;
            }
        }
        Ok(())
    }
}

fn unescape_if_literal(c: &str) -> String {
    if has_wildcards(c) {
        c.to_string()
    } else {
        unescape(c)
    }
}

fn join_rel(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

fn new_unit(sel: &Selection, source: &str, path: &str, name: String, kind: UnitKind) -> SourceUnit {
    let start = sel.entries.len();
    SourceUnit {
        source: source.to_string(),
        path: path.to_string(),
        name,
        kind,
        range: start..start,
    }
}

fn add_unit(
    r: &Resolver<'_, '_>,
    sel: &mut Selection,
    found: Found,
    name: String,
    exclude: Option<&Matcher>,
    opts: &SelectOptions,
) -> Result<()> {
    let unit = sel.units.len() as u32;
    let reset = r.tree.is_context();
    if found.md.is_dir() {
        let mut u = new_unit(sel, r.src, &found.rel, name, UnitKind::Dir);
        sel.entries
            .push(entry_from(unit, String::new(), &found.md, None, reset));
        let filters = Filters {
            ignore: r.tree.context_of().and_then(|c| c.matcher()),
            exclude,
            include: None,
        };
        r.walk(sel, &found, unit, filters)?;
        u.range.end = sel.entries.len();
        sel.units.push(u);
        return Ok(());
    }
    // A single entry; `--exclude` applies to its name.
    if let Some(m) = exclude
        && m.matches(&name).unwrap_or(false)
    {
        return Ok(());
    }
    let mut kind = UnitKind::Single;
    if opts.command == Command::Add
        && opts.unpack != Some(false)
        && found.md.is_file()
        && super::archive::is_archive(&r.abs(&found.rel))
    {
        kind = UnitKind::Archive;
    }
    let mut u = new_unit(sel, r.src, &found.rel, name, kind);
    sel.entries
        .push(entry_from(unit, String::new(), &found.md, None, reset));
    u.range.end = sel.entries.len();
    sel.units.push(u);
    Ok(())
}

/// `--parents`: the pivot (before `/./`, default the root) is copied as a
/// directory whose contents are filtered by the pattern after it.
fn select_parents(
    r: &Resolver<'_, '_>,
    sel: &mut Selection,
    exclude: Option<&Matcher>,
) -> Result<()> {
    let (pivot, pattern) = match r.src.split_once("/./") {
        Some((p, pat)) => (if p.is_empty() { "/" } else { p }, pat),
        None => ("/", r.src),
    };
    let pivot_rel = r.clean_source(pivot)?;
    let pattern = clean(pattern).trim_start_matches('/').to_string();
    let pcomps: Vec<&str> = pivot_rel.split('/').filter(|c| !c.is_empty()).collect();
    let found = r.resolve(&pcomps, true)?;
    if !found.md.is_dir() {
        return Err(r.not_found(&pivot_rel));
    }
    let whole = pattern.is_empty() || pattern == ".";
    if !whole && !pattern.split('/').any(has_wildcards) {
        // A literal path must exist (BuildKit silently copies nothing).
        let mut comps = pcomps.clone();
        comps.extend(pattern.split('/'));
        r.resolve(&comps, false)?;
    }
    if pattern.starts_with("..") {
        return Err(FileOpError::EscapesContext {
            command: r.cmd,
            src: r.src.to_string(),
        });
    }
    let include = if whole {
        None
    } else {
        compile(&[pattern], true)?
    };
    let unit = sel.units.len() as u32;
    let reset = r.tree.is_context();
    let mut u = new_unit(
        sel,
        r.src,
        &found.rel,
        base_of(&r.abs(&found.rel)),
        UnitKind::Dir,
    );
    sel.entries
        .push(entry_from(unit, String::new(), &found.md, None, reset));
    let filters = Filters {
        ignore: r.tree.context_of().and_then(|c| c.matcher()),
        exclude,
        include: include.as_ref(),
    };
    r.walk(sel, &found, unit, filters)?;
    u.range.end = sel.entries.len();
    sel.units.push(u);
    Ok(())
}

fn push_remote(sel: &mut Selection, src: &str, got: super::remote::Fetched, unpack: bool) {
    let unit = sel.units.len() as u32;
    let start = sel.entries.len();
    sel.entries.push(SelectedEntry {
        unit,
        rel: Box::default(),
        kind: EntryKind::File,
        mode: 0o600,
        uid: 0,
        gid: 0,
        size: got.size,
        mtime_ns: got.mtime_ns,
        sha256: Some(got.sha256),
        link: None,
        rdev: 0,
        dev: got.dev,
        ino: got.ino,
        nlink: 1,
        ctime_ns: got.ctime_ns,
    });
    sel.units.push(SourceUnit {
        source: src.to_string(),
        path: String::new(),
        name: got.name,
        kind: UnitKind::Remote {
            url: src.to_string(),
            file: got.file,
            unpack,
        },
        range: start..start + 1,
    });
}

/// Gives every tree file a digest: index lookups first, then the misses
/// hashed on all cores (largest first), then recorded.
fn digest_files(tree: &SourceTree<'_>, sel: &mut Selection, index: &mut StatIndex) -> Result<()> {
    let persist = tree.is_context();
    // (entry, path relative to the root, size) of the files still to hash.
    let mut misses: Vec<(usize, String, u64)> = Vec::new();
    let mut hint = 0;
    for ui in 0..sel.units.len() {
        let u = &sel.units[ui];
        if !matches!(u.kind, UnitKind::Dir | UnitKind::Single | UnitKind::Archive) {
            continue;
        }
        let mut found = Vec::new();
        for (i, e) in u.range.clone().zip(sel.entries.range(u.range.clone())) {
            if e.kind != EntryKind::File || e.sha256.is_some() {
                continue;
            }
            let rel = match (u.path.is_empty(), e.rel.is_empty()) {
                (true, _) => e.rel.to_string(),
                (false, true) => u.path.clone(),
                (false, false) => format!("{}/{}", u.path, e.rel),
            };
            if persist {
                let key = StatKey::of_entry(e);
                if let Some(sha) = index.lookup(&rel, &key, &mut hint)? {
                    found.push((i, sha));
                    continue;
                }
            }
            misses.push((i, rel, e.size));
        }
        for (i, sha) in found {
            sel.entries[i].sha256 = Some(sha);
        }
        if persist && matches!(u.kind, UnitKind::Dir) {
            index.walked_dir(&u.path);
        }
    }
    if misses.is_empty() {
        return Ok(());
    }
    misses.sort_by_key(|(_, _, size)| std::cmp::Reverse(*size));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, crate::context::Result<crate::context::Hashed>)>> =
        Mutex::new(Vec::with_capacity(misses.len()));
    let threads = super::worker_threads().min(misses.len());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut local = Vec::new();
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some((i, rel, _)) = misses.get(k) else {
                        break;
                    };
                    local.push((*i, hash_file(&tree.root().join(rel))));
                }
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(local);
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let paths: std::collections::HashMap<usize, &String> =
        misses.iter().map(|(i, p, _)| (*i, p)).collect();
    for (i, res) in results {
        let h = res?;
        let e = &mut sel.entries[i];
        e.sha256 = Some(h.sha);
        // The content was read under this stat; keep them together.
        e.size = h.stat.size;
        e.mtime_ns = h.stat.mtime_ns;
        e.ctime_ns = h.stat.ctime_ns;
        e.ino = h.stat.ino;
        e.dev = h.stat.dev;
        e.mode = h.stat.mode & 0o7777;
        if persist {
            if let Some(p) = paths.get(&i) {
                index.record(p, &h.stat, h.sha, h.recorded_ns);
            }
        } else {
            index.count_hashed(h.stat.size);
        }
    }
    Ok(())
}
