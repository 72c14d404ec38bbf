//! Whole-tree operations on directory descriptors: listing, recursive
//! removal that never follows a symlink, and docker-style disk usage.
//! All are iterative, so a hostile, very deep tree cannot overflow the stack.

use std::collections::HashSet;
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use super::sys_linux as sys;

const DIR_NOFOLLOW: libc::c_int = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;

/// The names in directory `dir` (without `.` and `..`).
pub(crate) fn list_names(dir: BorrowedFd<'_>) -> io::Result<Vec<CString>> {
    let fd = sys::openat(dir, c".", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let mut d = nix::dir::Dir::from(fd).map_err(io::Error::from)?;
    let mut out = Vec::new();
    for e in d.iter() {
        let e = e.map_err(io::Error::from)?;
        let n = e.file_name();
        if n != c"." && n != c".." {
            out.push(n.to_owned());
        }
    }
    Ok(out)
}

/// Removes `name` in `dir` and, if it is a directory, everything below it.
/// Symlinks are removed, never followed. A missing `name` is not an error.
pub(crate) fn remove_all(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    match sys::unlinkat(dir, name, 0) {
        Ok(()) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {}
        Err(e) => return Err(e),
    }
    // (directory fd, its name in the parent, children still to remove)
    let mut stack: Vec<(OwnedFd, CString, Vec<CString>)> = Vec::new();
    let fd = sys::openat(dir, name, DIR_NOFOLLOW, 0)?;
    let children = list_names(fd.as_fd())?;
    stack.push((fd, name.to_owned(), children));
    while let Some((fd, _, children)) = stack.last_mut() {
        if let Some(child) = children.pop() {
            match sys::unlinkat(fd.as_fd(), &child, 0) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {
                    let sub = sys::openat(fd.as_fd(), &child, DIR_NOFOLLOW, 0)?;
                    let grand = list_names(sub.as_fd())?;
                    stack.push((sub, child, grand));
                }
                Err(e) => return Err(e),
            }
        } else if let Some((fd, own, _)) = stack.pop() {
            drop(fd);
            let parent = stack.last().map(|(f, _, _)| f.as_fd()).unwrap_or(dir);
            match sys::unlinkat(parent, &own, libc::AT_REMOVEDIR) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

fn is_dir(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

/// The size of a tree as docker reports it: the sum of `st_size` of every
/// non-directory (regular files, symlinks, devices) with hard-linked inodes
/// counted once. Symlinks are not followed; mount points are not crossed
/// into specially (the walk is by name).
pub fn disk_usage(dir: &Path) -> io::Result<u64> {
    let c = CString::new(dir.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in path"))?;
    // SAFETY: AT_FDCWD is a valid "fd" for *at calls and is never closed.
    let cwd = unsafe { BorrowedFd::borrow_raw(libc::AT_FDCWD) };
    let root = sys::openat(cwd, &c, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut total = 0u64;
    let mut stack: Vec<OwnedFd> = vec![root];
    while let Some(d) = stack.pop() {
        for name in list_names(d.as_fd())? {
            let st = match sys::lstatat(d.as_fd(), &name) {
                Ok(st) => st,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
                Err(e) => return Err(e),
            };
            if is_dir(&st) {
                stack.push(sys::openat(d.as_fd(), &name, DIR_NOFOLLOW, 0)?);
                continue;
            }
            if st.st_nlink > 1 && !seen.insert((st.st_dev, st.st_ino)) {
                continue;
            }
            total += u64::try_from(st.st_size).unwrap_or(0);
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn remove_all_does_not_follow_symlinks() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep"), b"k").unwrap();
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("victim");
        std::fs::create_dir_all(d.join("a/b/c")).unwrap();
        std::fs::write(d.join("a/b/c/f"), b"x").unwrap();
        symlink(outside.path(), d.join("a/link")).unwrap();
        let root = std::fs::File::open(t.path()).unwrap();
        remove_all(root.as_fd(), c"victim").unwrap();
        assert!(!d.exists());
        assert!(outside.path().join("keep").exists());
        remove_all(root.as_fd(), c"victim").unwrap();
    }

    #[test]
    fn usage_counts_hardlinks_once() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("d")).unwrap();
        std::fs::write(t.path().join("d/a"), vec![0u8; 1000]).unwrap();
        std::fs::hard_link(t.path().join("d/a"), t.path().join("b")).unwrap();
        std::fs::write(t.path().join("c"), vec![0u8; 24]).unwrap();
        symlink("0123456789", t.path().join("l")).unwrap();
        assert_eq!(disk_usage(t.path()).unwrap(), 1000 + 24 + 10);
    }
}
