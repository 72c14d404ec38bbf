//! Helpers for the fileops integration tests: a temp context, a store for
//! the stat index, a parent rootfs and a layer dir, plus a listing of what
//! a layer holds.
#![allow(dead_code)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use strata_build::context::{BuildContext, IndexStats, StatIndex};
use strata_build::fileops::{self, CopyOptions, CopyStats, SelectOptions, Selection, SourceTree};
use strata_store::Store;

pub struct Env {
    pub tmp: tempfile::TempDir,
    pub ctx: PathBuf,
    pub parent: PathBuf,
    pub layer: PathBuf,
    pub store: Store,
}

impl Env {
    pub fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(tmp.path()).unwrap();
        let ctx = base.join("ctx");
        let parent = base.join("parent");
        let layer = base.join("layer");
        for d in [&ctx, &parent, &layer] {
            std::fs::create_dir(d).unwrap();
        }
        let store = Store::open(base.join("root")).unwrap();
        Env {
            tmp,
            ctx,
            parent,
            layer,
            store,
        }
    }

    pub fn write(&self, rel: &str, data: &str) -> PathBuf {
        let p = self.ctx.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        p
    }

    pub fn write_parent(&self, rel: &str, data: &str) -> PathBuf {
        let p = self.parent.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        p
    }

    pub fn context(&self) -> BuildContext {
        BuildContext::from_dir(&self.ctx, None).unwrap()
    }

    pub fn index(&self) -> StatIndex {
        StatIndex::load(&self.store, &self.ctx).unwrap()
    }

    pub fn select(&self, sources: &[&str], opts: &SelectOptions) -> fileops::Result<Selection> {
        let ctx = self.context();
        let mut idx = self.index();
        let srcs: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
        let sel = fileops::select(&SourceTree::context(&ctx), &srcs, opts, &mut idx)?;
        idx.flush(&self.store).unwrap();
        Ok(sel)
    }

    /// select + copy_into the fresh layer, with `parent` as the parent view.
    pub fn copy(
        &self,
        sources: &[&str],
        dest: &str,
        sopts: &SelectOptions,
        copts: CopyOptions<'_>,
    ) -> fileops::Result<CopyStats> {
        let ctx = self.context();
        let mut idx = self.index();
        let srcs: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
        let tree = SourceTree::context(&ctx);
        let sel = fileops::select(&tree, &srcs, sopts, &mut idx)?;
        let mut copts = copts;
        if copts.parent.is_none() {
            copts.parent = Some(&self.parent);
        }
        fileops::copy_into(&tree, &sel, &self.layer, dest, &copts)
    }

    pub fn listing(&self) -> Vec<String> {
        listing(&self.layer)
    }
}

pub fn copy_opts() -> SelectOptions {
    SelectOptions::default()
}

/// `path type mode uid:gid [size|-> target]`, sorted, for a tree.
pub fn listing(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for p in names {
        let md = std::fs::symlink_metadata(&p).unwrap();
        let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let mode = md.permissions().mode() & 0o7777;
        let own = format!("{}:{}", md.uid(), md.gid());
        if md.file_type().is_symlink() {
            let t = std::fs::read_link(&p).unwrap();
            out.push(format!("{rel} l {own} -> {}", t.display()));
        } else if md.is_dir() {
            out.push(format!("{rel}/ d {mode:o} {own}"));
            walk(root, &p, out);
        } else {
            out.push(format!("{rel} f {mode:o} {own} {}", md.len()));
        }
    }
}

pub fn mtime(p: &Path) -> i64 {
    std::fs::symlink_metadata(p).unwrap().mtime()
}

pub fn set_mtime(p: &Path, secs: i64) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .or_else(|_| std::fs::File::open(p))
        .unwrap();
    f.set_times(std::fs::FileTimes::new().set_modified(t).set_accessed(t))
        .unwrap();
}

pub fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The racy window of the stat index tests.
pub const WINDOW: std::time::Duration = std::time::Duration::from_millis(30);

/// Waits past [`WINDOW`].
pub fn settle() {
    std::thread::sleep(WINDOW * 3);
}

/// `n` small files under `data/`, in `dirs` directories.
pub fn files(env: &Env, n: usize, dirs: usize) {
    for i in 0..n {
        env.write(
            &format!("data/d{}/f{i}.txt", i % dirs),
            &format!("file {i}\n"),
        );
    }
}

/// `sources` selected with the context's index ([`WINDOW`], read before
/// the walk starts), then flushed: the selection and the index counters.
pub fn select_indexed(env: &Env, sources: &[&str]) -> (Selection, IndexStats) {
    let ctx = env.context();
    let mut idx = StatIndex::load(&env.store, ctx.root()).unwrap();
    idx.set_racy_window(WINDOW);
    idx.is_empty().unwrap();
    let srcs: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
    let sel = fileops::select(&SourceTree::context(&ctx), &srcs, &copy_opts(), &mut idx).unwrap();
    idx.flush(&env.store).unwrap();
    (sel, idx.stats())
}
