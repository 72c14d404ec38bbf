//! Whether this process runs rootless: inside the user namespace strata
//! made for an ordinary user (see `strata_runtime::rootless_linux`).
//!
//! The flag is the environment variable [`ROOTLESS_ENV`], set by the
//! process that entered the namespace, so every helper strata re-executes
//! (build steps, container supervisors) inherits it. Rootless changes what
//! the store writes on disk: overlay's opaque marker is
//! `user.overlay.opaque` (overlay is mounted with `userxattr`: an
//! unprivileged mounter cannot use `trusted.*`).

use std::ffi::CStr;
use std::sync::OnceLock;

/// Set to the user's real uid in a rootless strata's namespace.
pub const ROOTLESS_ENV: &str = "_STRATA_ROOTLESS";

/// True inside the user namespace of a rootless strata.
pub fn rootless() -> bool {
    static R: OnceLock<bool> = OnceLock::new();
    *R.get_or_init(|| std::env::var_os(ROOTLESS_ENV).is_some_and(|v| !v.is_empty()))
}

/// True inside a rootless namespace that maps the user's own id alone
/// (no subordinate ids): files cannot be given other owners, so extraction
/// leaves them to root, as podman's `ignore_chown_errors` does.
pub fn single_id() -> bool {
    std::env::var(ROOTLESS_ENV).is_ok_and(|v| v.ends_with(SINGLE_SUFFIX))
}

/// The suffix of [`ROOTLESS_ENV`]'s value for a single-id mapping.
pub const SINGLE_SUFFIX: &str = ":single";

/// The xattr overlayfs reads as "this directory is opaque" in this mode.
pub fn opaque_xattr() -> &'static CStr {
    if rootless() {
        c"user.overlay.opaque"
    } else {
        c"trusted.overlay.opaque"
    }
}

/// Marks the directory open at `fd` opaque with [`opaque_xattr`]. Where
/// the kernel refuses `trusted.*` to a root without `CAP_SYS_ADMIN` (an
/// unprivileged container, where only chroot isolation builds), it writes
/// `user.overlay.opaque` instead: strata's own readers (layer writing,
/// chroot rootfs copies) take either, but a later overlay mount without
/// `userxattr` would not see it (docs/rootless.md).
pub fn set_opaque(fd: std::os::fd::BorrowedFd<'_>) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let set = |name: &CStr| {
        // SAFETY: fd is open; name is NUL-terminated; the value is 1 byte.
        let rc =
            unsafe { libc::fsetxattr(fd.as_raw_fd(), name.as_ptr(), b"y".as_ptr().cast(), 1, 0) };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    match set(opaque_xattr()) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) && !rootless() => {
            set(c"user.overlay.opaque").map_err(|_| e)
        }
        r => r,
    }
}

/// The directory for this user's runtime state (locks, helper
/// registrations): `/run/strata` as root; rootless, `$XDG_RUNTIME_DIR/strata`
/// or `/tmp/strata-run-<uid>` (podman's rule).
pub fn run_dir() -> std::path::PathBuf {
    let Some(v) = std::env::var(ROOTLESS_ENV).ok().filter(|v| !v.is_empty()) else {
        return "/run/strata".into();
    };
    rootless_run_dir(v.trim_end_matches(SINGLE_SUFFIX))
}

/// [`run_dir`] of a rootless strata of user `uid`.
pub fn rootless_run_dir(uid: &str) -> std::path::PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(x) => std::path::PathBuf::from(x).join("strata"),
        None => format!("/tmp/strata-run-{uid}").into(),
    }
}
