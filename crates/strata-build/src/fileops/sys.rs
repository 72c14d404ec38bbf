//! Thin libc wrappers for writing layer entries: ownership, modes and
//! times without following symlinks, device nodes, and xattr copies.

use std::ffi::CString;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn check(r: libc::c_int) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `lchown`.
pub(crate) fn lchown(p: &Path, uid: u32, gid: u32) -> io::Result<()> {
    let c = cstr(p)?;
    check(unsafe { libc::lchown(c.as_ptr(), uid, gid) })
}

/// `fchown` + `fchmod` (in that order, so setuid bits survive).
pub(crate) fn fchown_fchmod(f: &std::fs::File, uid: u32, gid: u32, mode: u32) -> io::Result<()> {
    check(unsafe { libc::fchown(f.as_raw_fd(), uid, gid) })?;
    check(unsafe { libc::fchmod(f.as_raw_fd(), mode as libc::mode_t) })
}

/// `chmod` (never used on symlinks).
pub(crate) fn chmod(p: &Path, mode: u32) -> io::Result<()> {
    let c = cstr(p)?;
    check(unsafe { libc::chmod(c.as_ptr(), mode as libc::mode_t) })
}

fn ts(ns: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: ns.div_euclid(1_000_000_000) as libc::time_t,
        tv_nsec: ns.rem_euclid(1_000_000_000) as libc::c_long,
    }
}

/// Sets atime and mtime to `ns` without following a final symlink.
pub(crate) fn set_times(p: &Path, ns: i64) -> io::Result<()> {
    let c = cstr(p)?;
    let t = [ts(ns), ts(ns)];
    check(unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            t.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
}

/// `futimens` with atime = mtime = `ns`.
pub(crate) fn fset_times(f: &std::fs::File, ns: i64) -> io::Result<()> {
    let t = [ts(ns), ts(ns)];
    check(unsafe { libc::futimens(f.as_raw_fd(), t.as_ptr()) })
}

/// `mknod` for FIFOs and devices (`mode` includes the type bits).
pub(crate) fn mknod(p: &Path, mode: u32, rdev: u64) -> io::Result<()> {
    let c = cstr(p)?;
    check(unsafe { libc::mknod(c.as_ptr(), mode as libc::mode_t, rdev as libc::dev_t) })
}

/// Copies the xattrs of `src` to `dst` (neither followed if a symlink),
/// skipping `security.selinux` (a host label) and overlayfs' own.
/// Errors setting one are ignored (BuildKit logs them).
pub(crate) fn copy_xattrs(src: &Path, dst: &Path) -> io::Result<()> {
    let s = cstr(src)?;
    let mut names = vec![0u8; 1024];
    let n = loop {
        let n = unsafe { libc::llistxattr(s.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
        if n >= 0 {
            break n as usize;
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ERANGE) if names.len() < (1 << 20) => names.resize(names.len() * 4, 0),
            Some(libc::ENOTSUP) => return Ok(()),
            _ => return Err(e),
        }
    };
    if n == 0 {
        return Ok(());
    }
    let d = cstr(dst)?;
    let mut value = vec![0u8; 4096];
    for name in names[..n].split(|b| *b == 0).filter(|x| !x.is_empty()) {
        if name == b"security.selinux"
            || name.starts_with(b"trusted.overlay.")
            || name.starts_with(b"user.overlay.")
        {
            continue;
        }
        let Ok(cname) = CString::new(name) else {
            continue;
        };
        let len = loop {
            let r = unsafe {
                libc::lgetxattr(
                    s.as_ptr(),
                    cname.as_ptr(),
                    value.as_mut_ptr().cast(),
                    value.len(),
                )
            };
            if r >= 0 {
                break Some(r as usize);
            }
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::ERANGE) if value.len() < (1 << 20) => {
                    let l = value.len();
                    value.resize(l * 4, 0)
                }
                _ => break None,
            }
        };
        if let Some(len) = len {
            let r = unsafe {
                libc::lsetxattr(d.as_ptr(), cname.as_ptr(), value.as_ptr().cast(), len, 0)
            };
            if r < 0 {
                tracing::debug!(
                    "xattr {} on {}: {}",
                    String::from_utf8_lossy(name),
                    dst.display(),
                    io::Error::last_os_error()
                );
            }
        }
    }
    Ok(())
}
