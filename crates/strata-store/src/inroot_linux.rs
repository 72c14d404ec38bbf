//! Paths resolved inside a root directory as if it were `/`: a symlink in
//! the tree (`s -> /`, `r -> ../../..`) can never lead out of it. One owner
//! for every place strata follows a path an image, a Dockerfile or a
//! container controls: layer extraction, `RUN --mount` sources, reading a
//! container's files, and (with [`layers`]) mount points in a stack of
//! overlay layers.
//!
//! [`Root`] holds the root directory open:
//!
//! * [`Root::open_dir`] opens (and with `create`, makes) a directory — the
//!   extraction primitive;
//! * [`Root::open_in`] opens any file with the caller's flags (`O_PATH`,
//!   `O_RDONLY`, …), following every symlink inside the root;
//! * [`Root::host_path`] is the host path of what a root-relative path
//!   names, checked to be inside the root and to still name that object:
//!   for interfaces that only take a path (a bind mount's source in an OCI
//!   runtime spec).
//!
//! The kernel does the work: `openat2(2)` with `RESOLVE_IN_ROOT` follows
//! symlinks (absolute ones from the root, `..` clamped at it) and can never
//! return a descriptor outside the root; `RESOLVE_NO_MAGICLINKS` refuses
//! `/proc/*/fd`-style links. We call the syscall through `libc` rather than
//! use the `pathrs` crate because extraction needs exactly one primitive
//! (open a parent dir in root) plus an fd cache and plain `*at` calls on
//! that fd; `pathrs` re-resolves from the root on every operation and brings
//! its own procfs machinery we do not need.
//!
//! When `openat2` is unavailable (kernel < 5.6, or a seccomp profile that
//! answers `ENOSYS`/`EPERM`, or `STRATA_NO_OPENAT2=1`), and whenever missing
//! directories must be created, an equivalent user-space walk is used: one
//! component at a time with `O_NOFOLLOW`, symlinks read and re-walked from
//! the root (absolute) or the current directory (relative), `..` popping a
//! stack of directory descriptors that never pops past the root, at most 40
//! links. Every name is opened by the walk itself before it is trusted, so
//! a tree that changes under it can make it fail but never lead it out.

pub mod layers;

use std::collections::VecDeque;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::layer::sys_linux as sys;

/// Most symlinks followed in one resolution (Linux's `MAXSYMLINKS`).
pub const MAX_LINKS: u32 = 40;

/// `STRATA_NO_OPENAT2=1` forces the user-space resolver (an escape hatch for
/// sandboxes whose seccomp filter breaks `openat2` in some other way than
/// `ENOSYS`/`EPERM`, and how the tests exercise the fallback end to end).
fn openat2_disabled() -> bool {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OFF.get_or_init(|| std::env::var_os("STRATA_NO_OPENAT2").is_some_and(|v| v == "1"))
}
const DIR_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_DIRECTORY;

/// A root directory, held open.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    use_openat2: AtomicBool,
}

/// What the last component of a walk must be.
#[derive(Debug, Clone, Copy)]
enum Last {
    /// A directory (made, with its parents, when `create`).
    Dir { create: bool },
    /// Anything, opened with these flags.
    Open(libc::c_int),
}

fn cstr(b: &[u8]) -> io::Result<CString> {
    CString::new(b).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in path"))
}

/// The path the kernel gives for an open descriptor.
fn fd_path(fd: BorrowedFd<'_>) -> io::Result<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
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
            use_openat2: AtomicBool::new(!openat2_disabled()),
        })
    }

    /// The root directory itself.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Forces the user-space walk (tests exercise both resolvers).
    #[cfg(test)]
    pub(crate) fn without_openat2(self) -> Root {
        self.use_openat2.store(false, Ordering::Relaxed);
        self
    }

    /// `openat2(RESOLVE_IN_ROOT)`, or `None` when the kernel or a seccomp
    /// filter refuses the syscall itself (then never tried again).
    fn try_openat2(&self, rel: &[u8], flags: libc::c_int) -> Option<io::Result<OwnedFd>> {
        if !self.use_openat2.load(Ordering::Relaxed) {
            return None;
        }
        let c = match cstr(rel) {
            Ok(c) => c,
            Err(e) => return Some(Err(e)),
        };
        match sys::openat2_in_root(self.fd(), &c, flags) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM)) => {
                tracing::debug!("openat2 unavailable ({e}); using the user-space resolver");
                self.use_openat2.store(false, Ordering::Relaxed);
                None
            }
            r => Some(r),
        }
    }

    /// Opens the directory `rel` (a cleaned relative path; empty = root),
    /// resolving every component inside the root. With `create`, missing
    /// directories are made with mode 0755 (owned by the caller).
    pub fn open_dir(&self, rel: &[u8], create: bool) -> io::Result<OwnedFd> {
        if rel.is_empty() {
            return sys::openat(self.fd(), c".", DIR_FLAGS, 0);
        }
        match self.try_openat2(rel, DIR_FLAGS) {
            Some(Err(e)) if e.raw_os_error() == Some(libc::ENOENT) && create => {}
            Some(r) => return r,
            None => {}
        }
        self.walk(rel, Last::Dir { create })
    }

    /// Opens `rel` (relative to the root; a leading `/`, `..` and every
    /// symlink, the last one included, resolve inside it) with `flags`
    /// (`O_CLOEXEC` is added; `O_CREAT` is not supported).
    pub fn open_in(&self, rel: &str, flags: libc::c_int) -> io::Result<OwnedFd> {
        let rel = rel.trim_start_matches('/');
        let rel = if rel.is_empty() { "." } else { rel };
        if let Some(r) = self.try_openat2(rel.as_bytes(), flags) {
            return r;
        }
        self.walk(rel.as_bytes(), Last::Open(flags))
    }

    /// The host path of what `rel` names inside the root (see
    /// [`Root::open_in`]), for interfaces that take a path rather than a
    /// descriptor. The path comes from the kernel (`/proc/self/fd`) for the
    /// object resolved inside the root, so it holds no symlink; it is
    /// checked to lie under the root and to still name that same object
    /// (device and inode, without following a final symlink). A caller
    /// must still make sure nothing untrusted can rename directories of the
    /// tree between this call and the path's use.
    pub fn host_path(&self, rel: &str) -> io::Result<PathBuf> {
        let fd = self.open_in(rel, libc::O_PATH)?;
        let root = fd_path(self.fd())?;
        let path = fd_path(fd.as_fd())?;
        if !path.starts_with(&root) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{rel:?} resolved to {}, outside {}",
                    path.display(),
                    root.display()
                ),
            ));
        }
        let st = sys::fstat(fd.as_fd())?;
        let now = std::fs::symlink_metadata(&path)?;
        if (now.dev(), now.ino()) != (st.st_dev, st.st_ino) {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                format!("{} changed while it was resolved", path.display()),
            ));
        }
        Ok(path)
    }

    /// The user-space equivalent of `RESOLVE_IN_ROOT` (see the module doc).
    fn walk(&self, rel: &[u8], last: Last) -> io::Result<OwnedFd> {
        let mut stack: Vec<OwnedFd> = Vec::new();
        let mut queue: VecDeque<Vec<u8>> = rel.split(|b| *b == b'/').map(<[u8]>::to_vec).collect();
        let mut links = 0;
        let mut created = 0usize;
        // A symlink's target replaces it in the queue (an absolute one
        // restarts at the root).
        let mut follow = |target: Vec<u8>,
                          stack: &mut Vec<OwnedFd>,
                          queue: &mut VecDeque<Vec<u8>>|
         -> io::Result<()> {
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
            Ok(())
        };
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
            if let (Last::Open(flags), true) = (last, queue.is_empty()) {
                // The final component, of any type: look at it without
                // following it, then follow or open exactly that.
                let fd = sys::openat(cur, &name, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
                let st = sys::fstat(fd.as_fd())?;
                if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                    let target = sys::readlinkat(fd.as_fd(), c"")?;
                    follow(target, &mut stack, &mut queue)?;
                    continue;
                }
                return reopen(cur, &name, fd, &st, flags);
            }
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
                    follow(target, &mut stack, &mut queue)?;
                }
                Err(e)
                    if e.raw_os_error() == Some(libc::ENOENT)
                        && matches!(last, Last::Dir { create: true }) =>
                {
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
        // The path ended in a directory (a name, `.` or `..`).
        match (last, stack.pop()) {
            (Last::Dir { .. }, Some(fd)) => Ok(fd),
            (Last::Dir { .. }, None) => sys::openat(self.fd(), c".", DIR_FLAGS, 0),
            (Last::Open(flags), fd) => {
                let dir = fd.as_ref().map(AsFd::as_fd).unwrap_or(self.fd());
                sys::openat(dir, c".", flags, 0)
            }
        }
    }
}

/// Opens the final component `name` of `dir` with `flags`, which must be
/// the object `fd` (an `O_PATH` handle, `st` its stat) already names.
fn reopen(
    dir: BorrowedFd<'_>,
    name: &CString,
    fd: OwnedFd,
    st: &libc::stat,
    flags: libc::c_int,
) -> io::Result<OwnedFd> {
    let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
    if flags & libc::O_DIRECTORY != 0 && !is_dir {
        return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
    }
    if flags & libc::O_PATH != 0 {
        return Ok(fd);
    }
    let f = sys::openat(dir, name, flags | libc::O_NOFOLLOW, 0)?;
    let now = sys::fstat(f.as_fd())?;
    if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) {
        return Err(io::Error::from_raw_os_error(libc::EAGAIN));
    }
    Ok(f)
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
        symlink("/file", d.join("flink")).unwrap();
        symlink("../../../../../file", d.join("a/rel-file")).unwrap();
        symlink("/etc/passwd", d.join("host-passwd")).unwrap();
        symlink("a/../x1", d.join("x0")).unwrap();
        symlink("x0", d.join("x1")).unwrap();
        t
    }

    /// Any file type through [`Root::open_in`] and [`Root::host_path`].
    fn check_files(root: Root, dir: &Path) {
        let read = |rel: &str| -> String {
            let fd = root.open_in(rel, libc::O_RDONLY).unwrap();
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::fs::File::from(fd), &mut s).unwrap();
            s
        };
        // Absolute and `..`-chained symlinks to a file, as the last
        // component or on the way.
        assert_eq!(read("flink"), "x");
        assert_eq!(read("/up/up/flink"), "x");
        assert_eq!(read("a/rel-file"), "x");
        assert_eq!(read("rel/rel/a/../file"), "x");
        assert!(same(root.open_in("", libc::O_PATH).unwrap().as_fd(), dir));
        assert!(same(
            root.open_in("up/..", libc::O_PATH).unwrap().as_fd(),
            dir
        ));
        // An absolute link to a host file names the root's own (absent) one.
        let e = root.open_in("host-passwd", libc::O_RDONLY).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        let e = root.host_path("etc/../up/etc/passwd").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        // Through a regular file, loops (direct and through `..`).
        let e = root.open_in("file/x", libc::O_RDONLY).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR));
        let e = root.open_in("flink/", libc::O_PATH).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR));
        for l in ["loop", "x0", "loop/x"] {
            let e = root.open_in(l, libc::O_PATH).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ELOOP), "{l}");
        }
        let e = root
            .open_in("flink", libc::O_RDONLY | libc::O_DIRECTORY)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR));
        // Host paths are the real objects, inside the root.
        let canon = std::fs::canonicalize(dir).unwrap();
        assert_eq!(root.host_path("up/etc").unwrap(), canon.join("real-etc"));
        assert_eq!(
            root.host_path("/rel/a/rel-file").unwrap(),
            canon.join("file")
        );
        assert_eq!(root.host_path("/").unwrap(), canon);
        assert_eq!(root.host_path("../..").unwrap(), canon);
        let e = root.host_path("up/a/../nothing").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    }

    #[test]
    fn openat2_resolver_stays_inside() {
        let t = tree();
        check(Root::open(t.path()).unwrap(), t.path());
        check_files(Root::open(t.path()).unwrap(), t.path());
    }

    #[test]
    fn userspace_resolver_stays_inside() {
        let t = tree();
        check(Root::open(t.path()).unwrap().without_openat2(), t.path());
        check_files(Root::open(t.path()).unwrap().without_openat2(), t.path());
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
