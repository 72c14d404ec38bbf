//! `--chown=user[:group]` resolved against the *image's* `/etc/passwd` and
//! `/etc/group` (read from the parent rootfs, symlinks resolved inside it),
//! with BuildKit's rules: a numeric user without a group gets gid = uid; a
//! user name without a group gets its primary group; an empty group
//! (`user:`) means the primary group too. Names are looked up with
//! `strata_runtime::spec::user::resolve_user`; a name the image does not
//! have is an error (BuildKit would silently use 0).

use std::path::Path;

use strata_runtime::error::RuntimeError;
use strata_runtime::spec::user::resolve_user;

use super::dest::DestView;
use super::{FileOpError, Result};

/// A resolved owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Owner {
    /// User ID.
    pub uid: u32,
    /// Group ID.
    pub gid: u32,
}

fn read_in_root(root: Option<&Path>, path: &str) -> Option<String> {
    let root = root?;
    let empty = no_layer();
    let view = DestView {
        layer: &empty,
        parent: Some(root),
    };
    let resolved = view.resolve(path).ok()?;
    std::fs::read_to_string(root.join(resolved.trim_start_matches('/'))).ok()
}

/// A path that never exists, standing in for "no layer yet".
fn no_layer() -> std::path::PathBuf {
    std::path::PathBuf::from("/nonexistent/strata-empty-layer")
}

/// Resolves a `--chown` value against the rootfs `image_root` (the parent
/// image of the step; `None` for `scratch`).
pub fn resolve_chown(spec: &str, image_root: Option<&Path>) -> Result<Owner> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let group = group.filter(|g| !g.is_empty());
    let user_num = if user.is_empty() {
        Some(0)
    } else {
        user.parse::<u32>().ok()
    };
    let group_num = group.and_then(|g| g.parse::<u32>().ok());
    // All numeric: no files needed.
    match (user_num, group, group_num) {
        (Some(u), None, _) => return Ok(Owner { uid: u, gid: u }),
        (Some(u), Some(_), Some(g)) => return Ok(Owner { uid: u, gid: g }),
        _ => {}
    }
    let passwd = read_in_root(image_root, "/etc/passwd");
    let groupf = read_in_root(image_root, "/etc/group");
    let norm = match group {
        Some(g) => format!("{}:{g}", if user.is_empty() { "0" } else { user }),
        None => user.to_string(),
    };
    match resolve_user(&norm, passwd.as_deref(), groupf.as_deref(), &[]) {
        Ok(r) => Ok(Owner {
            uid: user_num.unwrap_or(r.uid),
            gid: r.gid,
        }),
        Err(RuntimeError::UnknownGroup(g)) => Err(FileOpError::UnknownGroup { group: g }),
        Err(RuntimeError::UnknownUser(u)) => Err(FileOpError::UnknownUser { user: u }),
        Err(e) => Err(FileOpError::UnknownUser {
            user: format!("{user} ({e})"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_and_named() {
        assert_eq!(
            resolve_chown("10", None).unwrap(),
            Owner { uid: 10, gid: 10 }
        );
        assert_eq!(
            resolve_chown("10:11", None).unwrap(),
            Owner { uid: 10, gid: 11 }
        );
        assert_eq!(resolve_chown("", None).unwrap(), Owner { uid: 0, gid: 0 });
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        std::fs::write(
            t.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/srv:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            t.path().join("etc/group"),
            "root:x:0:\nstaff:x:50:\napp:x:1001:\n",
        )
        .unwrap();
        let r = Some(t.path());
        assert_eq!(
            resolve_chown("app", r).unwrap(),
            Owner {
                uid: 1000,
                gid: 1001
            }
        );
        assert_eq!(
            resolve_chown("app:", r).unwrap(),
            Owner {
                uid: 1000,
                gid: 1001
            }
        );
        assert_eq!(
            resolve_chown("app:staff", r).unwrap(),
            Owner { uid: 1000, gid: 50 }
        );
        assert_eq!(
            resolve_chown("7:staff", r).unwrap(),
            Owner { uid: 7, gid: 50 }
        );
        assert_eq!(
            resolve_chown("app:9", r).unwrap(),
            Owner { uid: 1000, gid: 9 }
        );
        let e = resolve_chown("nobody", r).unwrap_err().to_string();
        assert!(e.contains("no such user: nobody"), "{e}");
        let e = resolve_chown("app:wheel", r).unwrap_err().to_string();
        assert!(e.contains("no such group: wheel"), "{e}");
        assert!(resolve_chown("app", None).is_err());
    }
}
