//! The destination side: [`resolve_dest`] (BuildKit's
//! `pathRelativeToWorkingDir`), and [`DestView`], the image as COPY sees
//! it while writing: the layer directory being filled over the parent
//! image's rootfs, with symlinks resolved inside the image root.

use std::collections::VecDeque;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{FileOpError, Result};

/// The destination of COPY/ADD as an absolute image path: `dest` joined to
/// `workdir` when relative, cleaned, keeping a trailing `/` (a `.`, `""`
/// or a trailing `/.` also mean "a directory"). `"/"` stays `"/"`.
pub fn resolve_dest(workdir: &str, dest: &str) -> String {
    let dir_like = dest.is_empty() || dest == "." || dest.ends_with('/') || dest.ends_with("/.");
    let joined = if dest.starts_with('/') {
        dest.to_string()
    } else {
        let wd = if workdir.is_empty() { "/" } else { workdir };
        format!("{}/{}", wd.trim_end_matches('/'), dest)
    };
    let clean = clean_abs(&joined);
    if dir_like && clean != "/" {
        format!("{clean}/")
    } else {
        clean
    }
}

/// Cleans `p` as an absolute path (`..` stops at `/`).
pub(crate) fn clean_abs(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    if out.is_empty() {
        "/".to_string()
    } else {
        let mut s = String::with_capacity(p.len() + 1);
        for c in out {
            s.push('/');
            s.push_str(c);
        }
        s
    }
}

/// The parent directory of a clean absolute path (`/` for `/x`).
pub(crate) fn parent_of(p: &str) -> &str {
    match p.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &p[..i],
    }
}

/// Joins an image path and a relative path.
pub(crate) fn join(base: &str, rel: &str) -> String {
    if rel.is_empty() {
        base.to_string()
    } else if base == "/" {
        format!("/{rel}")
    } else {
        format!("{base}/{rel}")
    }
}

/// Where a path was found.
#[derive(Debug)]
pub(crate) enum Found {
    /// In the layer being written.
    Layer(Metadata),
    /// In the parent image.
    Parent(Metadata),
}

impl Found {
    pub(crate) fn md(&self) -> &Metadata {
        match self {
            Found::Layer(m) | Found::Parent(m) => m,
        }
    }
    pub(crate) fn is_dir(&self) -> bool {
        self.md().is_dir()
    }
}

/// The layer being written over the parent rootfs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DestView<'a> {
    pub layer: &'a Path,
    pub parent: Option<&'a Path>,
}

impl DestView<'_> {
    /// Host path of image path `p` in the layer.
    pub(crate) fn in_layer(&self, p: &str) -> PathBuf {
        self.layer.join(p.trim_start_matches('/'))
    }

    /// Host path of image path `p` in the parent rootfs.
    pub(crate) fn in_parent(&self, p: &str) -> Option<PathBuf> {
        self.parent.map(|r| r.join(p.trim_start_matches('/')))
    }

    /// `lstat` of image path `p` (clean, absolute, its parents free of
    /// symlinks): the layer wins over the parent.
    pub(crate) fn lstat(&self, p: &str) -> Option<Found> {
        if p == "/" {
            return None;
        }
        if let Ok(m) = std::fs::symlink_metadata(self.in_layer(p)) {
            return Some(Found::Layer(m));
        }
        let pp = self.in_parent(p)?;
        std::fs::symlink_metadata(pp).ok().map(Found::Parent)
    }

    fn readlink(&self, p: &str, found: &Found) -> Result<String> {
        let host = match found {
            Found::Layer(_) => self.in_layer(p),
            Found::Parent(_) => self.in_parent(p).unwrap_or_default(),
        };
        let t = std::fs::read_link(&host).map_err(FileOpError::io("readlink", &host))?;
        Ok(t.to_string_lossy().into_owned())
    }

    /// Resolves every symlink in image path `p` inside the image root (an
    /// absolute target restarts at `/`, `..` stops at `/`), like
    /// `fs.RootPath`. Missing components are kept as they are.
    pub(crate) fn resolve(&self, p: &str) -> Result<String> {
        let mut queue: VecDeque<String> = p
            .split('/')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        let mut cur: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(c) = queue.pop_front() {
            match c.as_str() {
                "." => continue,
                ".." => {
                    cur.pop();
                    continue;
                }
                _ => {}
            }
            let cand = format!("/{}", join_parts(&cur, &c));
            match self.lstat(&cand) {
                Some(f) if f.md().file_type().is_symlink() => {
                    hops += 1;
                    if hops > 40 {
                        return Err(FileOpError::SymlinkLoop { path: cand });
                    }
                    let target = self.readlink(&cand, &f)?;
                    if target.starts_with('/') {
                        cur.clear();
                    }
                    for part in target.split('/').rev().filter(|s| !s.is_empty()) {
                        queue.push_front(part.to_string());
                    }
                }
                _ => cur.push(c),
            }
        }
        Ok(format!("/{}", cur.join("/")))
    }

    /// `stat` (following symlinks) of image path `p`: whether it is an
    /// existing directory.
    pub(crate) fn is_dir(&self, p: &str) -> Result<bool> {
        let r = self.resolve(p)?;
        if r == "/" {
            return Ok(true);
        }
        Ok(self.lstat(&r).is_some_and(|f| f.is_dir()))
    }
}

fn join_parts(cur: &[String], c: &str) -> String {
    let mut s = cur.join("/");
    if !s.is_empty() {
        s.push('/');
    }
    s.push_str(c);
    s
}

/// Owner and mode of an existing parent directory, to write into the
/// layer unchanged.
pub(crate) fn dir_meta(md: &Metadata) -> (u32, u32, u32, i64) {
    (
        md.mode() & 0o7777,
        md.uid(),
        md.gid(),
        md.mtime()
            .saturating_mul(1_000_000_000)
            .saturating_add(md.mtime_nsec()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dest_resolution_like_buildkit() {
        assert_eq!(resolve_dest("/app", "."), "/app/");
        assert_eq!(resolve_dest("/app", ""), "/app/");
        assert_eq!(resolve_dest("/app", "x"), "/app/x");
        assert_eq!(resolve_dest("/app", "x/"), "/app/x/");
        assert_eq!(resolve_dest("/app", "x/."), "/app/x/");
        assert_eq!(resolve_dest("/app", "/abs//y/../z"), "/abs/z");
        assert_eq!(resolve_dest("/", "."), "/");
        assert_eq!(resolve_dest("", "rel"), "/rel");
        assert_eq!(resolve_dest("/a", "../../.."), "/");
    }

    #[test]
    fn resolves_symlinks_inside_the_root() {
        let parent = tempfile::tempdir().unwrap();
        let layer = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(parent.path().join("usr/lib")).unwrap();
        std::os::unix::fs::symlink("usr/lib", parent.path().join("lib")).unwrap();
        std::os::unix::fs::symlink("/../../etc", parent.path().join("escape")).unwrap();
        let v = DestView {
            layer: layer.path(),
            parent: Some(parent.path()),
        };
        assert_eq!(v.resolve("/lib/x").unwrap(), "/usr/lib/x");
        assert_eq!(v.resolve("/escape/passwd").unwrap(), "/etc/passwd");
        assert!(v.is_dir("/lib").unwrap());
        std::os::unix::fs::symlink("loop", parent.path().join("loop")).unwrap();
        assert!(v.resolve("/loop").is_err());
    }
}
