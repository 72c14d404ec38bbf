//! Thin wrappers for writing layer entries: ownership, modes and times
//! without following symlinks, and device nodes (through `nix`, so this
//! module has no `unsafe`); xattr copies are the store's
//! ([`strata_store::layer::copy_xattrs`]).

use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::fcntl::AtFlags;
use nix::sys::stat::{Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid};

pub(crate) use strata_store::layer::copy_xattrs;

fn io(e: nix::Error) -> io::Error {
    io::Error::from(e)
}

/// `lchown`.
pub(crate) fn lchown(p: &Path, uid: u32, gid: u32) -> io::Result<()> {
    nix::unistd::fchownat(
        None,
        p,
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(io)
}

/// `fchown` + `fchmod` (in that order, so setuid bits survive).
pub(crate) fn fchown_fchmod(f: &std::fs::File, uid: u32, gid: u32, mode: u32) -> io::Result<()> {
    nix::unistd::fchown(
        f.as_raw_fd(),
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
    )
    .map_err(io)?;
    nix::sys::stat::fchmod(f.as_raw_fd(), Mode::from_bits_retain(mode as libc::mode_t)).map_err(io)
}

/// `chmod` (never used on symlinks).
pub(crate) fn chmod(p: &Path, mode: u32) -> io::Result<()> {
    nix::sys::stat::fchmodat(
        None,
        p,
        Mode::from_bits_retain(mode as libc::mode_t),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .map_err(io)
}

fn ts(ns: i64) -> TimeSpec {
    TimeSpec::new(
        ns.div_euclid(1_000_000_000) as libc::time_t,
        ns.rem_euclid(1_000_000_000) as libc::c_long,
    )
}

/// Sets atime and mtime to `ns` without following a final symlink.
pub(crate) fn set_times(p: &Path, ns: i64) -> io::Result<()> {
    let t = ts(ns);
    nix::sys::stat::utimensat(None, p, &t, &t, UtimensatFlags::NoFollowSymlink).map_err(io)
}

/// `futimens` with atime = mtime = `ns`.
pub(crate) fn fset_times(f: &std::fs::File, ns: i64) -> io::Result<()> {
    let t = ts(ns);
    nix::sys::stat::futimens(f.as_raw_fd(), &t, &t).map_err(io)
}

/// `mknod` for FIFOs and devices (`mode` includes the type bits).
pub(crate) fn mknod(p: &Path, mode: u32, rdev: u64) -> io::Result<()> {
    let mode = mode as libc::mode_t;
    nix::sys::stat::mknod(
        p,
        SFlag::from_bits_retain(mode & libc::S_IFMT),
        Mode::from_bits_retain(mode & !libc::S_IFMT),
        rdev as libc::dev_t,
    )
    .map_err(io)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    #[test]
    fn modes_times_and_nodes() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("f");
        std::fs::write(&f, "x").unwrap();
        chmod(&f, 0o4751).unwrap();
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o7777,
            0o4751
        );
        let link = t.path().join("l");
        std::os::unix::fs::symlink("f", &link).unwrap();
        set_times(&link, -1_500_000_000).unwrap();
        let lm = std::fs::symlink_metadata(&link).unwrap();
        assert_eq!((lm.mtime(), lm.mtime_nsec()), (-2, 500_000_000));
        assert_ne!(
            std::fs::metadata(&f).unwrap().mtime(),
            -2,
            "target untouched"
        );
        let file = std::fs::OpenOptions::new().write(true).open(&f).unwrap();
        fset_times(&file, 7_000_000_001).unwrap();
        let m = std::fs::metadata(&f).unwrap();
        assert_eq!((m.mtime(), m.mtime_nsec()), (7, 1));
        let me = (m.uid(), m.gid());
        fchown_fchmod(&file, me.0, me.1, 0o640).unwrap();
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o7777,
            0o640
        );
        lchown(&link, me.0, me.1).unwrap();
        let fifo = t.path().join("p");
        mknod(&fifo, libc::S_IFIFO | 0o600, 0).unwrap();
        let pm = std::fs::symlink_metadata(&fifo).unwrap();
        assert_eq!(pm.mode() & libc::S_IFMT, libc::S_IFIFO);
        assert!(mknod(&fifo, libc::S_IFIFO | 0o600, 0).is_err(), "exists");
    }
}
