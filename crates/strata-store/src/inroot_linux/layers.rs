//! A path resolved through a stack of directories as overlayfs will merge
//! them, before the overlay is mounted: where a container will see a mount
//! point, so its stub can be made in the right place and the runtime is
//! handed a destination without symlinks.
//!
//! The merge rules are overlayfs' (`Documentation/filesystems/overlayfs`):
//! the topmost layer that holds a name decides what it is; a char 0/0
//! device there (a *whiteout*) means the name does not exist; a directory
//! merges with the directories of that name in the layers below, down to
//! the first layer where the name is not a directory, or down to and
//! including a layer where the directory is *opaque*
//! (`trusted.overlay.opaque=y` or `user.overlay.opaque=y`). Symlinks are
//! followed as inside the root (an absolute target restarts at `/`, `..`
//! never climbs above it), at most [`super::MAX_LINKS`] of them.
//!
//! [`Layers::plain`] is one ordinary tree, where nothing is a whiteout
//! (a container's running root, `/proc/<pid>/root`). This is a path walk
//! with `lstat`, not a descriptor walk: it reads trees that nothing
//! untrusted writes while it runs (image snapshots, a stopped container's
//! layers), and its result goes to code that resolves again inside the root
//! (the OCI runtime, [`super::Root`]).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::layer::sys_linux as sys;

/// What a resolved path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A symlink (only as the last component, when it is not followed).
    Symlink,
    /// Anything else: a regular file, a device, a FIFO, a socket.
    Other,
}

/// Where a path leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Absolute and clean, without symlinks; `/` for the root. Components
    /// that do not exist are kept as written (`..` after one pops it).
    pub path: String,
    /// What is there; `None` when it does not exist.
    pub kind: Option<Kind>,
    /// When the walk reached one of the given stop points: its index and
    /// what was left to resolve below it (`/`-joined, possibly empty).
    pub stopped: Option<(usize, String)>,
}

/// A stack of directories, topmost first.
#[derive(Debug, Clone)]
pub struct Layers {
    dirs: Vec<PathBuf>,
    overlay: bool,
}

/// What one name is in the merged view.
enum Entry {
    Missing,
    /// A directory and the layers (indexes) that make it up, topmost first.
    Dir(Vec<usize>),
    Symlink(Vec<u8>),
    Other,
}

impl Layers {
    /// Overlay layers (a snapshot chain, an upper dir), topmost first.
    pub fn overlay(dirs: Vec<PathBuf>) -> Layers {
        Layers {
            dirs,
            overlay: true,
        }
    }

    /// One ordinary directory tree.
    pub fn plain(dir: &Path) -> Layers {
        Layers {
            dirs: vec![dir.to_path_buf()],
            overlay: false,
        }
    }

    /// Resolves `path` (absolute or relative to the root), following a
    /// final symlink only when `follow_last`. Fails with `ENOTDIR` through
    /// a non-directory and `ELOOP` after too many links.
    pub fn resolve(&self, path: &str, follow_last: bool) -> io::Result<Resolved> {
        self.resolve_until(path, follow_last, &[])
    }

    /// [`Layers::resolve`] that stops as soon as the resolved path is one
    /// of `stops` (mount points already covered by another mount, inside
    /// which these layers say nothing).
    pub fn resolve_until(
        &self,
        path: &str,
        follow_last: bool,
        stops: &[String],
    ) -> io::Result<Resolved> {
        let root = self.root_dirs();
        let mut queue: std::collections::VecDeque<Vec<u8>> = path
            .as_bytes()
            .split(|b| *b == b'/')
            .map(<[u8]>::to_vec)
            .collect();
        // The resolved components, each with the layers its directory is
        // made of (empty: missing or not a directory).
        let mut stack: Vec<(Vec<u8>, Vec<usize>)> = Vec::new();
        let mut kind = Some(Kind::Dir);
        let mut links = 0;
        while let Some(comp) = queue.pop_front() {
            match comp.as_slice() {
                b"" | b"." => continue,
                b".." => {
                    stack.pop();
                    kind = match stack.last() {
                        Some((_, l)) if l.is_empty() => None,
                        _ => Some(Kind::Dir),
                    };
                    continue;
                }
                _ => {}
            }
            let last = queue.iter().all(|c| c.is_empty() || c == b".");
            let parent = stack.last().map_or(&root, |(_, l)| l);
            let rel: PathBuf = stack
                .iter()
                .map(|(c, _)| Path::new(std::ffi::OsStr::from_bytes(c)))
                .chain([Path::new(std::ffi::OsStr::from_bytes(&comp))])
                .collect();
            match self.lookup(parent, &rel)? {
                Entry::Symlink(target) if !last || follow_last => {
                    links += 1;
                    if links > super::MAX_LINKS {
                        return Err(io::Error::from_raw_os_error(libc::ELOOP));
                    }
                    if target.first() == Some(&b'/') {
                        stack.clear();
                    }
                    for c in target.split(|b| *b == b'/').rev() {
                        queue.push_front(c.to_vec());
                    }
                    continue;
                }
                Entry::Symlink(_) => {
                    stack.push((comp, Vec::new()));
                    kind = Some(Kind::Symlink);
                }
                Entry::Dir(l) => {
                    stack.push((comp, l));
                    kind = Some(Kind::Dir);
                }
                Entry::Other if !last => {
                    return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
                }
                Entry::Other => {
                    stack.push((comp, Vec::new()));
                    kind = Some(Kind::Other);
                }
                Entry::Missing => {
                    stack.push((comp, Vec::new()));
                    kind = None;
                }
            }
            let here = absolute(&stack);
            if let Some(i) = stops.iter().position(|s| *s == here) {
                let rest: Vec<String> = queue
                    .iter()
                    .filter(|c| !c.is_empty() && c.as_slice() != b".")
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect();
                return Ok(Resolved {
                    path: here,
                    kind,
                    stopped: Some((i, rest.join("/"))),
                });
            }
        }
        Ok(Resolved {
            path: absolute(&stack),
            kind,
            stopped: None,
        })
    }

    /// The layers the root directory is made of.
    fn root_dirs(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for (i, d) in self.dirs.iter().enumerate() {
            out.push(i);
            if self.overlay && is_opaque(d) {
                break;
            }
        }
        out
    }

    /// What `rel` is in the merged view, given the layers its parent
    /// directory is made of.
    fn lookup(&self, parent: &[usize], rel: &Path) -> io::Result<Entry> {
        for (k, &l) in parent.iter().enumerate() {
            let p = self.dirs[l].join(rel);
            let md = match std::fs::symlink_metadata(&p) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let ft = md.file_type();
            if self.overlay && ft.is_char_device() && md.rdev() == 0 {
                return Ok(Entry::Missing);
            }
            if ft.is_symlink() {
                return Ok(Entry::Symlink(
                    std::fs::read_link(&p)?.as_os_str().as_bytes().to_vec(),
                ));
            }
            if !ft.is_dir() {
                return Ok(Entry::Other);
            }
            let mut dirs = vec![l];
            if !(self.overlay && is_opaque(&p)) {
                for &m in &parent[k + 1..] {
                    let below = self.dirs[m].join(rel);
                    match std::fs::symlink_metadata(&below) {
                        Ok(md) if md.is_dir() => {
                            dirs.push(m);
                            if self.overlay && is_opaque(&below) {
                                break;
                            }
                        }
                        // A file, symlink or whiteout ends the merge.
                        Ok(_) => break,
                        Err(_) => {}
                    }
                }
            }
            return Ok(Entry::Dir(dirs));
        }
        Ok(Entry::Missing)
    }
}

fn absolute(stack: &[(Vec<u8>, Vec<usize>)]) -> String {
    if stack.is_empty() {
        return "/".to_string();
    }
    let mut s = String::new();
    for (c, _) in stack {
        s.push('/');
        s.push_str(&String::from_utf8_lossy(c));
    }
    s
}

/// Whether directory `p` carries overlayfs' opaque mark.
fn is_opaque(p: &Path) -> bool {
    let Ok(c) = CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    [c"trusted.overlay.opaque", c"user.overlay.opaque"]
        .iter()
        .any(|x| matches!(sys::lgetxattr(&c, x), Ok(Some(v)) if v == b"y"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn r(l: &Layers, p: &str) -> (String, Option<Kind>) {
        let x = l.resolve(p, true).unwrap();
        (x.path, x.kind)
    }

    #[test]
    fn symlinks_resolve_inside_one_tree() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::create_dir_all(d.join("usr/lib")).unwrap();
        std::fs::write(d.join("file"), b"x").unwrap();
        symlink("/", d.join("h")).unwrap();
        symlink("../../../../tmp", d.join("data")).unwrap();
        symlink("usr/lib", d.join("lib")).unwrap();
        symlink("/etc/passwd", d.join("pw")).unwrap();
        symlink("loop", d.join("loop")).unwrap();
        let l = Layers::plain(d);
        assert_eq!(r(&l, "/h"), ("/".into(), Some(Kind::Dir)));
        assert_eq!(r(&l, "/h/h/x"), ("/x".into(), None));
        assert_eq!(r(&l, "/data/y"), ("/tmp/y".into(), None));
        assert_eq!(r(&l, "lib/../lib/z"), ("/usr/lib/z".into(), None));
        assert_eq!(r(&l, "/pw"), ("/etc/passwd".into(), None));
        assert_eq!(r(&l, "/missing/../usr"), ("/usr".into(), Some(Kind::Dir)));
        assert_eq!(r(&l, "/../../file"), ("/file".into(), Some(Kind::Other)));
        let x = l.resolve("/pw", false).unwrap();
        assert_eq!((x.path.as_str(), x.kind), ("/pw", Some(Kind::Symlink)));
        let e = l.resolve("/file/x", true).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR));
        let e = l.resolve("/loop/x", true).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
    }

    #[test]
    fn layers_merge_and_stops_end_the_walk() {
        let t = tempfile::tempdir().unwrap();
        let (top, bottom) = (t.path().join("top"), t.path().join("bottom"));
        std::fs::create_dir_all(top.join("etc")).unwrap();
        std::fs::create_dir_all(bottom.join("etc/conf.d")).unwrap();
        std::fs::create_dir_all(bottom.join("srv")).unwrap();
        // A symlink above shadows the directory below; a directory above
        // merges with the one below.
        symlink("/srv", top.join("data")).unwrap();
        std::fs::create_dir_all(bottom.join("data/old")).unwrap();
        symlink("/etc", bottom.join("m")).unwrap();
        let l = Layers::overlay(vec![top, bottom]);
        assert_eq!(r(&l, "/data/x"), ("/srv/x".into(), None));
        assert_eq!(
            r(&l, "/etc/conf.d"),
            ("/etc/conf.d".into(), Some(Kind::Dir))
        );
        assert_eq!(r(&l, "/m/conf.d"), ("/etc/conf.d".into(), Some(Kind::Dir)));
        let stops = vec!["/proc".to_string(), "/etc".to_string()];
        let x = l.resolve_until("/m/./conf.d/../x", true, &stops).unwrap();
        assert_eq!(x.path, "/etc");
        assert_eq!(x.stopped, Some((1, "conf.d/../x".into())));
    }
}
