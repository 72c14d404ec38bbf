//! Root-scoped path resolution for extraction: [`Root::open_dir`] opens a
//! directory named by a cleaned relative path as if the target were `/`.
//!
//! The kernel does the work: `openat2(2)` with `RESOLVE_IN_ROOT` follows
//! symlinks (absolute ones from the target, `..` clamped at it) and can never
//! return a descriptor outside the target; `RESOLVE_NO_MAGICLINKS` refuses
//! `/proc/*/fd`-style links. We call the syscall through `libc` rather than
//! use the `pathrs` crate because extraction needs exactly one primitive
//! (open a parent dir in root) plus an fd cache and plain `*at` calls on
//! that fd; `pathrs` re-resolves from the root on every operation and brings
//! its own procfs machinery we do not need.
//!
//! When `openat2` is unavailable (kernel < 5.6, or a seccomp profile that
//! answers `ENOSYS`/`EPERM`, or `STRATA_NO_OPENAT2=1`), and whenever missing
//! directories must be created, an equivalent user-space walk is used: one component at a time
//! with `O_NOFOLLOW`, symlinks read and re-walked from the root (absolute) or
//! the current directory (relative), `..` popping a stack of directory
//! descriptors that never pops past the root, at most 40 links. Nothing else
//! writes into a tree being extracted, so the walk needs no race defences
//! beyond never trusting a name it has not just opened itself.

use std::cell::Cell;
use std::collections::VecDeque;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use super::sys_linux as sys;

const MAX_LINKS: u32 = 40;

/// `STRATA_NO_OPENAT2=1` forces the user-space resolver (an escape hatch for
/// sandboxes whose seccomp filter breaks `openat2` in some other way than
/// `ENOSYS`/`EPERM`, and how the tests exercise the fallback end to end).
fn openat2_disabled() -> bool {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OFF.get_or_init(|| std::env::var_os("STRATA_NO_OPENAT2").is_some_and(|v| v == "1"))
}
const DIR_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_DIRECTORY;

/// An extraction target, held open.
pub(crate) struct Root {
    fd: OwnedFd,
    use_openat2: Cell<bool>,
}

fn cstr(b: &[u8]) -> io::Result<CString> {
    CString::new(b).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in path"))
}

impl Root {
    /// Opens `path`, which must be a directory.
    pub fn open(path: &Path) -> io::Result<Root> {
        let c = cstr(path.as_os_str().as_encoded_bytes())?;
        let fd = sys::openat(
            // AT_FDCWD as a borrowed fd: the path may be relative.
            // SAFETY: AT_FDCWD is a valid "fd" for *at calls and never closed.
            unsafe { BorrowedFd::borrow_raw(libc::AT_FDCWD) },
            &c,
            DIR_FLAGS,
            0,
        )?;
        Ok(Root {
            fd,
            use_openat2: Cell::new(!openat2_disabled()),
        })
    }

    /// The root directory itself.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Forces the user-space walk (tests exercise both resolvers).
    #[cfg(test)]
    pub fn without_openat2(self) -> Root {
        self.use_openat2.set(false);
        self
    }

    /// Opens the directory `rel` (a cleaned relative path; empty = root),
    /// resolving every component inside the root. With `create`, missing
    /// directories are made with mode 0755 (owned by the caller).
    pub fn open_dir(&self, rel: &[u8], create: bool) -> io::Result<OwnedFd> {
        if rel.is_empty() {
            return sys::openat(self.fd(), c".", DIR_FLAGS, 0);
        }
        if self.use_openat2.get() {
            match sys::openat2_in_root(self.fd(), &cstr(rel)?, DIR_FLAGS) {
                Ok(fd) => return Ok(fd),
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM)) => {
                    tracing::debug!("openat2 unavailable ({e}); using the user-space resolver");
                    self.use_openat2.set(false);
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) && create => {}
                Err(e) => return Err(e),
            }
        }
        self.walk(rel, create)
    }

    /// The user-space equivalent of `RESOLVE_IN_ROOT` (see the module doc).
    fn walk(&self, rel: &[u8], create: bool) -> io::Result<OwnedFd> {
        let mut stack: Vec<OwnedFd> = Vec::new();
        let mut queue: VecDeque<Vec<u8>> = rel.split(|b| *b == b'/').map(<[u8]>::to_vec).collect();
        let mut links = 0;
        let mut created = 0usize;
        while let Some(comp) = queue.pop_front() {
            match comp.as_slice() {
                b"" | b"." => continue,
                b".." => {
                    stack.pop();
                    continue;
                }
                _ => {}
            }
            let cur = stack.last().map(AsFd::as_fd).unwrap_or(self.fd());
            let name = cstr(&comp)?;
            match sys::openat(cur, &name, DIR_FLAGS | libc::O_NOFOLLOW, 0) {
                Ok(fd) => stack.push(fd),
                // O_DIRECTORY|O_NOFOLLOW on a symlink fails with ENOTDIR
                // (or ELOOP): find out whether it is one.
                Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) => {
                    let target = match sys::readlinkat(cur, &name) {
                        Ok(t) => t,
                        Err(l) if l.raw_os_error() == Some(libc::EINVAL) => return Err(e),
                        Err(l) => return Err(l),
                    };
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(io::Error::from_raw_os_error(libc::ELOOP));
                    }
                    if target.first() == Some(&b'/') {
                        stack.clear();
                    }
                    for c in target.split(|b| *b == b'/').rev() {
                        queue.push_front(c.to_vec());
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) && create => {
                    // Bounded: each component can be created at most once
                    // unless something else races us, which it must not.
                    created += 1;
                    if created > 4096 {
                        return Err(e);
                    }
                    match sys::mkdirat(cur, &name, 0o755) {
                        Ok(()) => {}
                        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                        Err(e) => return Err(e),
                    }
                    queue.push_front(comp);
                }
                Err(e) => return Err(e),
            }
        }
        match stack.pop() {
            Some(fd) => Ok(fd),
            None => sys::openat(self.fd(), c".", DIR_FLAGS, 0),
        }
    }
}

/// A few recently used parent directories, keyed by cleaned relative path,
/// so consecutive entries in the same directory skip the lookup.
pub(crate) struct DirCache<T> {
    slots: Vec<(Vec<u8>, T)>,
    cap: usize,
}

impl<T> DirCache<T> {
    /// A cache of `cap` entries.
    pub fn new(cap: usize) -> Self {
        DirCache {
            slots: Vec::with_capacity(cap),
            cap: cap.max(1),
        }
    }

    /// The cached value for `rel`, moved to the front.
    pub fn get(&mut self, rel: &[u8]) -> Option<&T> {
        let i = self.slots.iter().position(|(k, _)| k == rel)?;
        if i != 0 {
            let slot = self.slots.remove(i);
            self.slots.insert(0, slot);
        }
        self.slots.first().map(|(_, v)| v)
    }

    /// Remembers `v` as the directory at `rel`.
    pub fn put(&mut self, rel: Vec<u8>, v: T) {
        self.slots.retain(|(k, _)| *k != rel);
        if self.slots.len() >= self.cap {
            self.slots.pop();
        }
        self.slots.insert(0, (rel, v));
    }

    /// Forgets everything (a directory or symlink was removed or replaced,
    /// so any cached name may now resolve elsewhere).
    pub fn clear(&mut self) {
        self.slots.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn same(a: BorrowedFd<'_>, b: &Path) -> bool {
        let sa = sys::fstat(a).unwrap();
        let sb = std::fs::metadata(b).unwrap();
        use std::os::unix::fs::MetadataExt;
        (sa.st_dev, sa.st_ino) == (sb.dev(), sb.ino())
    }

    fn check(root: Root, dir: &Path) {
        // Absolute, relative and chained links all resolve inside the root.
        assert!(same(root.open_dir(b"up", false).unwrap().as_fd(), dir));
        assert!(same(root.open_dir(b"rel", false).unwrap().as_fd(), dir));
        assert!(same(
            root.open_dir(b"up/rel/up", false).unwrap().as_fd(),
            dir
        ));
        assert!(same(
            root.open_dir(b"etc", false).unwrap().as_fd(),
            &dir.join("real-etc")
        ));
        assert!(same(
            root.open_dir(b"a/../../..", false).unwrap().as_fd(),
            dir
        ));
        // Creation follows links inside the root, too.
        let fd = root.open_dir(b"up/new/deeper", true).unwrap();
        assert!(same(fd.as_fd(), &dir.join("new/deeper")));
        let fd = root.open_dir(b"dangling/x", true).unwrap();
        assert!(same(fd.as_fd(), &dir.join("nowhere/x")));
        // A file is not a directory; a loop is a loop.
        let e = root.open_dir(b"file/x", false).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR));
        let e = root.open_dir(b"loop", false).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
    }

    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::create_dir_all(d.join("a")).unwrap();
        std::fs::create_dir_all(d.join("real-etc")).unwrap();
        std::fs::write(d.join("file"), b"x").unwrap();
        symlink("/", d.join("up")).unwrap();
        symlink("../../../..", d.join("rel")).unwrap();
        symlink("/real-etc", d.join("etc")).unwrap();
        symlink("/nowhere", d.join("dangling")).unwrap();
        symlink("loop", d.join("loop")).unwrap();
        t
    }

    #[test]
    fn openat2_resolver_stays_inside() {
        let t = tree();
        check(Root::open(t.path()).unwrap(), t.path());
    }

    #[test]
    fn userspace_resolver_stays_inside() {
        let t = tree();
        check(Root::open(t.path()).unwrap().without_openat2(), t.path());
    }

    #[test]
    fn cache_is_lru_and_clears() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::open(t.path()).unwrap();
        let mut c = DirCache::new(2);
        c.put(b"a/b".to_vec(), root.open_dir(b"", false).unwrap());
        c.put(b"ab".to_vec(), root.open_dir(b"", false).unwrap());
        assert!(c.get(b"a/b").is_some(), "moves a/b to the front");
        c.put(b"x".to_vec(), root.open_dir(b"", false).unwrap());
        assert!(c.get(b"ab").is_none(), "least recently used evicted");
        assert!(c.get(b"a/b").is_some());
        c.clear();
        assert!(c.get(b"x").is_none());
    }
}
