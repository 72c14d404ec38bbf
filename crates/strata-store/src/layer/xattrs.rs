//! Copying extended attributes from one path to another (COPY/ADD keep a
//! source's xattrs, as BuildKit's copy does), through the safe wrappers of
//! [`super::sys_linux`].

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::sys_linux as sys;

fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// Copies the xattrs of `src` to `dst` (neither followed if a symlink),
/// skipping `security.selinux` (a host label) and overlayfs' own
/// (`trusted.overlay.*`, `user.overlay.*`). Listing or reading `src` fails
/// loudly; failing to set one on `dst` is only logged (BuildKit logs it too).
/// Returns whether `src` had any xattr to copy.
pub fn copy_xattrs(src: &Path, dst: &Path) -> io::Result<bool> {
    let s = cstr(src)?;
    let names = sys::llistxattr(&s)?;
    if names.is_empty() {
        return Ok(false);
    }
    let mut any = false;
    let d = cstr(dst)?;
    for name in names {
        let n = name.as_bytes();
        if !copied(n) {
            continue;
        }
        any = true;
        let Ok(Some(value)) = sys::lgetxattr(&s, &name) else {
            continue;
        };
        if let Err(e) = sys::lsetxattr(&d, &name, &value) {
            tracing::debug!(
                "xattr {} on {}: {e}",
                String::from_utf8_lossy(n),
                dst.display()
            );
        }
    }
    Ok(any)
}

/// Whether `src` (not followed if a symlink) has an xattr that
/// [`copy_xattrs`] would copy.
pub fn has_copied_xattrs(src: &Path) -> io::Result<bool> {
    let names = sys::llistxattr(&cstr(src)?)?;
    Ok(names.iter().any(|n| copied(n.as_bytes())))
}

/// Not a host label (`security.selinux`) nor overlayfs' own.
fn copied(name: &[u8]) -> bool {
    !(name == b"security.selinux"
        || name.starts_with(b"trusted.overlay.")
        || name.starts_with(b"user.overlay."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_user_xattrs_but_not_overlay_ones() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        std::fs::write(&a, "").unwrap();
        std::fs::write(&b, "").unwrap();
        let ca = cstr(&a).unwrap();
        let set = |n: &str| sys::lsetxattr(&ca, &CString::new(n).unwrap(), b"v");
        if let Err(e) = set("user.keep") {
            assert_eq!(e.raw_os_error(), Some(libc::ENOTSUP), "{e}");
            return strata_testkit::skip("the temp filesystem refuses user xattrs");
        }
        set("user.overlay.origin").unwrap();
        copy_xattrs(&a, &b).unwrap();
        let cb = cstr(&b).unwrap();
        let names: Vec<CString> = sys::llistxattr(&cb).unwrap();
        assert!(
            names.iter().any(|n| n.as_bytes() == b"user.keep"),
            "{names:?}"
        );
        assert!(
            !names
                .iter()
                .any(|n| n.as_bytes().starts_with(b"user.overlay."))
        );
        assert_eq!(
            sys::lgetxattr(&cb, &CString::new("user.keep").unwrap()).unwrap(),
            Some(b"v".to_vec())
        );
    }
}
