//! Reading a container's root filesystem from the host without ever
//! leaving it: a symlink in the image (`/etc/passwd -> /../../../etc/shadow`)
//! must resolve as it would inside the container, against the container's
//! root. Files are opened with `openat2(2)` and `RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS`; [`RootDir::resolve`] does the same walk in user
//! space for callers that need a path (docker's `FollowSymlinkInScope`).
//! Both are [`strata_store::inroot_linux`]'s, the one owner of in-root
//! resolution; this type adds the container's view (a path, error context).
//!
//! [`find_executable`] is Go's `exec.LookPath` (what runc runs before
//! `execve`) evaluated against the container's view, so a missing or
//! non-executable command fails with docker's exact message and exit code
//! before any namespace is created. The view ([`MountedView`]) is the
//! rootfs with the container's mounts over it: a path that reaches a mount
//! point continues inside the mount's source (resolved inside that
//! source, as its own root), so `-v /host/bin:/rt IMG /rt/tool` finds the
//! tool as runc would after setting up the mounts. See: issue 10.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use strata_store::inroot_linux::Root;
use strata_store::inroot_linux::layers::Layers;

use crate::error::{ExecError, IoContext, Result};
use crate::spec::MountSpec;

/// An open container root directory.
#[derive(Debug)]
pub struct RootDir {
    root: Root,
    path: PathBuf,
}

impl RootDir {
    /// Opens `path` as a root.
    pub fn open(path: &Path) -> Result<RootDir> {
        let root = Root::open(path).ctx("open root directory", path)?;
        Ok(RootDir {
            root,
            path: path.to_path_buf(),
        })
    }

    /// The host path of the root.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `rel` (absolute or relative, resolved inside the root) with
    /// `flags` (`O_CLOEXEC` is added).
    pub fn open_at(&self, rel: &str, flags: i32) -> io::Result<File> {
        self.root.open_in(rel, flags).map(File::from)
    }

    /// Reads a whole file inside the root; `None` if it does not exist or
    /// is not readable.
    pub fn read_to_string(&self, rel: &str) -> Option<String> {
        let mut f = self.open_at(rel, libc::O_RDONLY).ok()?;
        if !f.metadata().ok()?.is_file() {
            return None;
        }
        let mut s = String::new();
        f.read_to_string(&mut s).ok()?;
        Some(s)
    }

    /// `stat` (following symlinks inside the root).
    pub fn stat(&self, rel: &str) -> io::Result<Metadata> {
        self.open_at(rel, libc::O_PATH)?.metadata()
    }

    /// Resolves `rel` inside the root to a host path, following symlinks
    /// as the container would (the last component only if `follow_last`);
    /// missing components are kept. `..` never climbs above the root.
    pub fn resolve(&self, rel: &str, follow_last: bool) -> io::Result<PathBuf> {
        let r = Layers::plain(&self.path).resolve(rel, follow_last)?;
        Ok(self.path.join(r.path.trim_start_matches('/')))
    }
}

/// A container's root with its mounts over it (destinations as
/// [`crate::mountpoint_linux::plan`] resolved them), for `stat`.
#[derive(Debug)]
pub struct MountedView<'a> {
    root: &'a RootDir,
    mounts: &'a [MountSpec],
    stops: Vec<String>,
}

impl<'a> MountedView<'a> {
    /// The view of `root` under `mounts` (later ones over earlier ones).
    pub fn new(root: &'a RootDir, mounts: &'a [MountSpec]) -> MountedView<'a> {
        let stops = mounts
            .iter()
            .map(|m| match m {
                MountSpec::Bind { destination, .. } | MountSpec::Tmpfs { destination, .. } => {
                    destination.clone()
                }
            })
            .collect();
        MountedView {
            root,
            mounts,
            stops,
        }
    }

    /// `stat` of `path` as the container will see it.
    pub fn stat(&self, path: &str) -> io::Result<Metadata> {
        if self.mounts.is_empty() {
            return self.root.stat(path);
        }
        let r = Layers::plain(self.root.path()).resolve_until(path, true, &self.stops)?;
        let Some((i, rest)) = r.stopped else {
            return self.root.stat(&r.path);
        };
        // The last mount at that point is the one on top.
        let i = self
            .stops
            .iter()
            .rposition(|s| *s == self.stops[i])
            .unwrap_or(i);
        match &self.mounts[i] {
            MountSpec::Bind { source, .. } => {
                let md = std::fs::metadata(source)?;
                if !md.is_dir() {
                    return if rest.is_empty() {
                        Ok(md)
                    } else {
                        Err(io::Error::from_raw_os_error(libc::ENOTDIR))
                    };
                }
                RootDir::open(source)
                    .map_err(|e| io::Error::other(e.to_string()))?
                    .stat(&rest)
            }
            // A fresh tmpfs holds nothing but itself.
            MountSpec::Tmpfs { .. } if rest.is_empty() => self.root.stat(&r.path),
            MountSpec::Tmpfs { .. } => Err(io::Error::from_raw_os_error(libc::ENOENT)),
        }
    }
}

/// Go's `exec.LookPath(name)` inside `root`, with `path_env` as `$PATH`
/// and `cwd` for relative names. Returns the path found.
pub fn find_executable(
    root: &MountedView<'_>,
    name: &str,
    path_env: Option<&str>,
    cwd: &str,
) -> std::result::Result<String, ExecError> {
    let absolute = |p: &str| -> String {
        if p.starts_with('/') {
            p.to_string()
        } else {
            format!("{}/{}", cwd.trim_end_matches('/'), p)
        }
    };
    if name.contains('/') {
        return check(root, &absolute(name), name).map(|()| name.to_string());
    }
    for dir in path_env.unwrap_or("").split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = format!("{}/{}", absolute(dir).trim_end_matches('/'), name);
        if check(root, &candidate, name).is_ok() {
            return Ok(candidate);
        }
    }
    Err(ExecError::NotFound(name.to_string()))
}

fn check(root: &MountedView<'_>, path: &str, name: &str) -> std::result::Result<(), ExecError> {
    let md = match root.stat(path) {
        Ok(m) => m,
        Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
            return Err(ExecError::PermissionDenied(name.to_string()));
        }
        Err(_) => return Err(ExecError::NoSuchFile(name.to_string())),
    };
    if md.is_dir() {
        return Err(ExecError::IsDirectory(name.to_string()));
    }
    if md.permissions().mode() & 0o111 == 0 {
        return Err(ExecError::PermissionDenied(name.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, RootDir) {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("bin")).unwrap();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::write(r.join("bin/tool"), b"#!/bin/sh\n").unwrap();
        std::fs::set_permissions(r.join("bin/tool"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::fs::write(r.join("etc/passwd"), b"root:x:0:0::/root:/bin/sh\n").unwrap();
        symlink("/bin/tool", r.join("bin/alias")).unwrap();
        symlink("../../../../../../etc", r.join("escape")).unwrap();
        symlink("/etc/passwd", r.join("etc/pw")).unwrap();
        let root = RootDir::open(r).unwrap();
        (t, root)
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let (t, root) = tree();
        // `escape` points far above the root; inside, it is just /etc.
        assert_eq!(
            root.resolve("/escape/passwd", true).unwrap(),
            t.path().join("etc/passwd")
        );
        assert_eq!(
            root.resolve("/etc/pw", true).unwrap(),
            t.path().join("etc/passwd")
        );
        assert_eq!(
            root.resolve("/etc/pw", false).unwrap(),
            t.path().join("etc/pw")
        );
        assert_eq!(root.resolve("/../../x", true).unwrap(), t.path().join("x"));
        let s = root.read_to_string("/escape/passwd").unwrap();
        assert!(
            s.starts_with("root:"),
            "read the container's passwd, not the host's"
        );
        assert!(root.read_to_string("/nope").is_none());
    }

    #[test]
    fn lookpath_sees_the_mounts() {
        let (t, root) = tree();
        let host = t.path().join("host-bin");
        std::fs::create_dir_all(&host).unwrap();
        std::fs::write(host.join("tool2"), b"#!/bin/sh\n").unwrap();
        std::fs::set_permissions(host.join("tool2"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::os::unix::fs::symlink("/rt", t.path().join("rtlink")).unwrap();
        let mounts = vec![
            MountSpec::Bind {
                source: host.clone(),
                destination: "/rt".into(),
                readonly: true,
            },
            MountSpec::Tmpfs {
                destination: "/bin".into(),
                options: vec![],
            },
        ];
        let view = MountedView::new(&root, &mounts);
        let path = Some("/usr/bin:/rt");
        assert_eq!(
            find_executable(&view, "/rt/tool2", path, "/").unwrap(),
            "/rt/tool2"
        );
        assert_eq!(
            find_executable(&view, "/rtlink/tool2", path, "/").unwrap(),
            "/rtlink/tool2"
        );
        assert_eq!(
            find_executable(&view, "tool2", path, "/").unwrap(),
            "/rt/tool2"
        );
        // /bin is hidden by the empty tmpfs.
        let e = find_executable(&view, "/bin/tool", path, "/").unwrap_err();
        assert_eq!(e.exit_code(), 127);
        let e = find_executable(&view, "/rt/nope", path, "/").unwrap_err();
        assert_eq!(e.exit_code(), 127);
    }

    #[test]
    fn lookpath_messages_and_codes() {
        let (_t, root) = tree();
        let root = MountedView::new(&root, &[]);
        let path = Some("/usr/bin:/bin");
        assert_eq!(
            find_executable(&root, "tool", path, "/").unwrap(),
            "/bin/tool"
        );
        assert_eq!(
            find_executable(&root, "alias", path, "/").unwrap(),
            "/bin/alias"
        );
        let e = find_executable(&root, "foo", path, "/").unwrap_err();
        assert_eq!(
            e.to_string(),
            "exec: \"foo\": executable file not found in $PATH"
        );
        assert_eq!(e.exit_code(), 127);
        let e = find_executable(&root, "/nonexist", path, "/").unwrap_err();
        assert_eq!(
            e.to_string(),
            "exec: \"/nonexist\": stat /nonexist: no such file or directory"
        );
        assert_eq!(e.exit_code(), 127);
        let e = find_executable(&root, "/etc/passwd", path, "/").unwrap_err();
        assert_eq!(e.to_string(), "exec: \"/etc/passwd\": permission denied");
        assert_eq!(e.exit_code(), 126);
        let e = find_executable(&root, "/etc", path, "/").unwrap_err();
        assert_eq!(e.exit_code(), 126);
        assert_eq!(
            find_executable(&root, "./tool", path, "/bin").unwrap(),
            "./tool"
        );
    }
}
