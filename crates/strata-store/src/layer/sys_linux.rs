//! Thin, safe wrappers over the Linux `*at` syscalls the layer code uses.
//!
//! Every function takes a directory file descriptor plus a single path
//! component (or, for [`openat2_in_root`], a root-relative path) and never
//! follows a symlink in the final component unless its name says so. All
//! `unsafe` in the layer module lives here, one small block per syscall, so
//! the extraction logic itself is safe code.

use std::ffi::{CStr, CString};
use std::io;
use std::mem::{MaybeUninit, size_of};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Retries a syscall returning `-1`/errno on `EINTR`.
fn cvt<F: FnMut() -> libc::c_long>(mut f: F) -> io::Result<libc::c_long> {
    loop {
        let r = f();
        if r != -1 {
            return Ok(r);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

fn cvt_int<F: FnMut() -> libc::c_int>(mut f: F) -> io::Result<()> {
    cvt(|| f() as libc::c_long).map(|_| ())
}

fn owned(fd: libc::c_long) -> io::Result<OwnedFd> {
    let fd = libc::c_int::try_from(fd).map_err(|_| io::Error::other("fd out of range"))?;
    // SAFETY: the kernel just returned `fd` as a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `openat(dir, name, flags | O_CLOEXEC, mode)`.
pub(crate) fn openat(
    dir: BorrowedFd<'_>,
    name: &CStr,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    let fd = cvt(|| {
        // SAFETY: `name` is a valid NUL-terminated string; `dir` is a live fd.
        unsafe {
            libc::openat(
                dir.as_raw_fd(),
                name.as_ptr(),
                flags | libc::O_CLOEXEC,
                libc::c_uint::from(mode),
            ) as libc::c_long
        }
    })?;
    owned(fd)
}

/// `openat2(dir, path, {flags|O_CLOEXEC, resolve: RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS})`:
/// `path` is resolved as if `dir` were `/`, so neither `..` nor an absolute
/// or relative symlink can lead out of it. `EAGAIN` (a concurrent rename
/// raced the lookup) is retried a few times before it is returned.
pub(crate) fn openat2_in_root(
    dir: BorrowedFd<'_>,
    path: &CStr,
    flags: libc::c_int,
) -> io::Result<OwnedFd> {
    // SAFETY: open_how is a plain C struct; all-zero is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.mode = 0;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    let mut tries = 0;
    loop {
        let r = cvt(|| {
            // SAFETY: valid fd, NUL-terminated path, `how` lives across the call
            // and its size is passed.
            unsafe {
                libc::syscall(
                    libc::SYS_openat2,
                    dir.as_raw_fd(),
                    path.as_ptr(),
                    &how as *const libc::open_how,
                    size_of::<libc::open_how>(),
                )
            }
        });
        match r {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) && tries < 16 => tries += 1,
            Err(e) => return Err(e),
            Ok(fd) => return owned(fd),
        }
    }
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`; an empty `name` stats `dir` itself.
pub(crate) fn lstatat(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<libc::stat> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    let flags = if name.is_empty() {
        libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH
    } else {
        libc::AT_SYMLINK_NOFOLLOW
    };
    cvt_int(|| {
        // SAFETY: `st` is a valid out-pointer for one `stat`.
        unsafe { libc::fstatat(dir.as_raw_fd(), name.as_ptr(), st.as_mut_ptr(), flags) }
    })?;
    // SAFETY: fstatat succeeded, so it filled `st`.
    Ok(unsafe { st.assume_init() })
}

/// `fstat(fd)`.
pub(crate) fn fstat(fd: BorrowedFd<'_>) -> io::Result<libc::stat> {
    lstatat(fd, c"")
}

/// `mkdirat(dir, name, mode)`.
pub(crate) fn mkdirat(dir: BorrowedFd<'_>, name: &CStr, mode: libc::mode_t) -> io::Result<()> {
    // SAFETY: valid fd and NUL-terminated name.
    cvt_int(|| unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) })
}

/// `mknodat(dir, name, mode, dev)`.
pub(crate) fn mknodat(
    dir: BorrowedFd<'_>,
    name: &CStr,
    mode: libc::mode_t,
    dev: libc::dev_t,
) -> io::Result<()> {
    // SAFETY: valid fd and NUL-terminated name.
    cvt_int(|| unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode, dev) })
}

/// `symlinkat(target, dir, name)`.
pub(crate) fn symlinkat(target: &CStr, dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    // SAFETY: valid fd and NUL-terminated strings.
    cvt_int(|| unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) })
}

/// `linkat(old_dir, old_name, new_dir, new_name, 0)`: never follows a symlink
/// named by `old_name` (the link is to the symlink itself).
pub(crate) fn linkat(
    old_dir: BorrowedFd<'_>,
    old_name: &CStr,
    new_dir: BorrowedFd<'_>,
    new_name: &CStr,
) -> io::Result<()> {
    cvt_int(|| {
        // SAFETY: valid fds and NUL-terminated names.
        unsafe {
            libc::linkat(
                old_dir.as_raw_fd(),
                old_name.as_ptr(),
                new_dir.as_raw_fd(),
                new_name.as_ptr(),
                0,
            )
        }
    })
}

/// `unlinkat(dir, name, flags)` (`AT_REMOVEDIR` for directories).
pub(crate) fn unlinkat(dir: BorrowedFd<'_>, name: &CStr, flags: libc::c_int) -> io::Result<()> {
    // SAFETY: valid fd and NUL-terminated name.
    cvt_int(|| unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) })
}

/// `fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW)`.
pub(crate) fn lchownat(dir: BorrowedFd<'_>, name: &CStr, uid: u32, gid: u32) -> io::Result<()> {
    cvt_int(|| {
        // SAFETY: valid fd and NUL-terminated name.
        unsafe {
            libc::fchownat(
                dir.as_raw_fd(),
                name.as_ptr(),
                uid,
                gid,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        }
    })
}

/// `fchown(fd, uid, gid)`.
pub(crate) fn fchown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: valid fd.
    cvt_int(|| unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) })
}

/// `fchmod(fd, mode)`.
pub(crate) fn fchmod(fd: BorrowedFd<'_>, mode: libc::mode_t) -> io::Result<()> {
    // SAFETY: valid fd.
    cvt_int(|| unsafe { libc::fchmod(fd.as_raw_fd(), mode) })
}

/// `fchmodat(dir, name, mode, 0)`; only for entries just created by us that are
/// not symlinks (Linux cannot chmod a symlink).
pub(crate) fn fchmodat(dir: BorrowedFd<'_>, name: &CStr, mode: libc::mode_t) -> io::Result<()> {
    // SAFETY: valid fd and NUL-terminated name.
    cvt_int(|| unsafe { libc::fchmodat(dir.as_raw_fd(), name.as_ptr(), mode, 0) })
}

fn times(sec: i64, nsec: u32) -> [libc::timespec; 2] {
    let ts = libc::timespec {
        tv_sec: sec,
        tv_nsec: libc::c_long::from(nsec.min(999_999_999)),
    };
    [ts, ts]
}

/// Sets atime and mtime of `name` in `dir` (the link itself for a symlink);
/// an empty `name` sets them on `dir`.
pub(crate) fn lutimensat(dir: BorrowedFd<'_>, name: &CStr, sec: i64, nsec: u32) -> io::Result<()> {
    let ts = times(sec, nsec);
    let flags = if name.is_empty() {
        libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH
    } else {
        libc::AT_SYMLINK_NOFOLLOW
    };
    cvt_int(|| {
        // SAFETY: valid fd, NUL-terminated name, `ts` points at two timespecs.
        unsafe { libc::utimensat(dir.as_raw_fd(), name.as_ptr(), ts.as_ptr(), flags) }
    })
}

/// Sets atime and mtime of an open file.
pub(crate) fn futimens(fd: BorrowedFd<'_>, sec: i64, nsec: u32) -> io::Result<()> {
    let ts = times(sec, nsec);
    // SAFETY: valid fd; `ts` points at two timespecs.
    cvt_int(|| unsafe { libc::futimens(fd.as_raw_fd(), ts.as_ptr()) })
}

/// `fsetxattr(fd, name, value, 0)`.
pub(crate) fn fsetxattr(fd: BorrowedFd<'_>, name: &CStr, value: &[u8]) -> io::Result<()> {
    cvt_int(|| {
        // SAFETY: valid fd, NUL-terminated name, value pointer/len from a slice.
        unsafe {
            libc::fsetxattr(
                fd.as_raw_fd(),
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        }
    })
}

/// Sets an xattr on `name` inside `dir` without following a symlink there.
///
/// Linux has no `lsetxattrat` before 6.13, so the parent is named through
/// `/proc/self/fd/<dir>`: that magic link resolves to the directory we already
/// hold (resolved inside the root), and `lsetxattr` does not follow the final
/// component.
pub(crate) fn lsetxattrat(
    dir: BorrowedFd<'_>,
    name: &CStr,
    xname: &CStr,
    value: &[u8],
) -> io::Result<()> {
    let path = proc_fd_path(dir, name)?;
    cvt_int(|| {
        // SAFETY: NUL-terminated strings; value pointer/len from a slice.
        unsafe {
            libc::lsetxattr(
                path.as_ptr(),
                xname.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        }
    })
}

/// `lsetxattr(path, xname, value, 0)`: sets an xattr by path without
/// following a final symlink.
pub(crate) fn lsetxattr(path: &CStr, xname: &CStr, value: &[u8]) -> io::Result<()> {
    cvt_int(|| {
        // SAFETY: NUL-terminated strings; value pointer/len from a slice.
        unsafe {
            libc::lsetxattr(
                path.as_ptr(),
                xname.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        }
    })
}

/// `/proc/self/fd/<dir>/<name>`: names `name` inside the directory we hold,
/// for the path-only `l*xattr` calls (see [`lsetxattrat`]).
pub(crate) fn proc_fd_path(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<CString> {
    let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    path.extend_from_slice(name.to_bytes());
    CString::new(path).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// `readlinkat(dir, name)`; an empty `name` reads the symlink `dir` was opened on
/// (`O_PATH|O_NOFOLLOW`).
pub(crate) fn readlinkat(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    loop {
        let n = cvt(|| {
            // SAFETY: buf is valid for buf.len() bytes.
            unsafe {
                libc::readlinkat(
                    dir.as_raw_fd(),
                    name.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                ) as libc::c_long
            }
        })?;
        let n = usize::try_from(n).map_err(|_| io::Error::other("readlinkat"))?;
        if n < buf.len() {
            buf.truncate(n);
            return Ok(buf);
        }
        if buf.len() >= 1 << 16 {
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        }
        buf.resize(buf.len() * 4, 0);
    }
}

/// Reads one xattr by path without following a final symlink; `None` if absent.
pub(crate) fn lgetxattr(path: &CStr, xname: &CStr) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; 256];
    loop {
        let r = cvt(|| {
            // SAFETY: NUL-terminated strings; buf valid for its length.
            unsafe {
                libc::lgetxattr(
                    path.as_ptr(),
                    xname.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                ) as libc::c_long
            }
        });
        match r {
            Ok(n) => {
                buf.truncate(usize::try_from(n).unwrap_or(0));
                return Ok(Some(buf));
            }
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) && buf.len() < (1 << 20) => {
                buf.resize(buf.len() * 8, 0);
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENODATA) | Some(libc::ENOTSUP)) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Lists the xattr names of a path without following a final symlink.
pub(crate) fn llistxattr(path: &CStr) -> io::Result<Vec<CString>> {
    let mut buf = vec![0u8; 1024];
    let n = loop {
        let r = cvt(|| {
            // SAFETY: NUL-terminated path; buf valid for its length.
            unsafe {
                libc::llistxattr(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) as libc::c_long
            }
        });
        match r {
            Ok(n) => break usize::try_from(n).unwrap_or(0),
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) && buf.len() < (1 << 20) => {
                buf.resize(buf.len() * 8, 0);
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
    };
    Ok(buf[..n.min(buf.len())]
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .filter_map(|s| CString::new(s).ok())
        .collect())
}

/// The effective user id.
pub(crate) fn geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// `makedev(major, minor)`.
pub(crate) fn makedev(major: u32, minor: u32) -> libc::dev_t {
    libc::makedev(major, minor)
}

/// `(major, minor)` of a device number.
pub(crate) fn major_minor(dev: libc::dev_t) -> (u32, u32) {
    (libc::major(dev), libc::minor(dev))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn openat2_stays_in_root() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/", dir.path().join("up")).unwrap();
        std::os::unix::fs::symlink("../../../..", dir.path().join("rel")).unwrap();
        let root = std::fs::File::open(dir.path()).unwrap();
        for p in [c"up", c"rel", c"..", c"up/.."] {
            let fd = openat2_in_root(root.as_fd(), p, libc::O_PATH | libc::O_DIRECTORY).unwrap();
            let a = fstat(fd.as_fd()).unwrap();
            let b = fstat(root.as_fd()).unwrap();
            assert_eq!((a.st_dev, a.st_ino), (b.st_dev, b.st_ino), "{p:?}");
        }
    }

    #[test]
    fn readlink_and_missing_xattr() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("target/x", dir.path().join("l")).unwrap();
        let root = std::fs::File::open(dir.path()).unwrap();
        assert_eq!(readlinkat(root.as_fd(), c"l").unwrap(), b"target/x");
        let p = CString::new(dir.path().as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(lgetxattr(&p, c"user.none").unwrap(), None);
    }
}
