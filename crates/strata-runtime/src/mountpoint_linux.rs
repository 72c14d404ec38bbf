//! Mount destinations resolved inside the container's root filesystem.
//!
//! An image (or a build stage) is hostile: its `/data` may be a symlink to
//! `/` or `../../tmp`, and a `-v HOSTDIR:/data` or `RUN --mount
//! target=/h/x` must then mount *inside* the rootfs, where the container
//! itself would find that path, never over a host path.
//!
//! Both runtimes strata drives already resolve a destination inside the
//! rootfs when they mount and create missing mount points there: youki's
//! libcontainer 0.7 (`mount_into_container`: `pathrs::Root::mkdir_all` and
//! `resolve`, then `move_mount` onto the descriptor) and runc 1.1
//! (`securejoin`; checked with a bundle whose `/data -> /tmp/x`: runc
//! mounts at `<rootfs>/tmp/x`, the host's `/tmp` stays untouched). strata
//! resolves destinations itself too, before the spec is written, because
//!
//! 1. the init layer's stubs must be where the mount will be: a stub made
//!    at the literal path would hide the image's symlink (a directory in a
//!    higher overlay layer shadows a symlink below it), so `-v x:/data`
//!    on an image with `/data -> /srv` would mount over a new empty `/data`
//!    rather than over `/srv` as docker does;
//! 2. the runtime is handed a destination without symlinks, whatever the
//!    runtime does with them (defence in depth).
//!
//! [`plan`] resolves every destination through the overlay's layers
//! ([`strata_store::inroot_linux::layers`], symlinks followed inside the
//! root) and returns the rewritten mounts and the stubs to create. A
//! destination at or below an earlier mount (a user mount before it, or a
//! default one: [`DEFAULT_MOUNT_POINTS`]) is resolved by the layers only up
//! to that mount: the rest lies inside the mount's own content, which the
//! layers do not show, so it is passed on as written for the runtime to
//! resolve in place, and gets no stub. A destination that resolves to `/`
//! is refused, as docker refuses `-v x:/`.

use std::io;
use std::path::PathBuf;

use strata_store::inroot_linux::layers::{Kind, Layers};

use crate::error::{Result, RuntimeError};
use crate::rootfs_linux::StubKind;
use crate::spec::MountSpec;

/// Where the spec's own mounts go before any user mount (the runtime
/// mounts `/dev/pts`, `/dev/shm`, … inside `/dev`, and the cgroup tree
/// inside `/sys`).
pub const DEFAULT_MOUNT_POINTS: &[&str] = &[
    "/proc",
    "/dev",
    "/sys",
    "/etc/resolv.conf",
    "/etc/hostname",
    "/etc/hosts",
];

/// User mounts with their destinations resolved, and the stubs the init
/// layer needs for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// The mounts, in order, each destination an absolute path without
    /// symlinks (up to an earlier mount point, see the module doc).
    pub mounts: Vec<MountSpec>,
    /// Mount points to create in the init layer.
    pub stubs: Vec<(String, StubKind)>,
}

fn destination(m: &MountSpec) -> &str {
    match m {
        MountSpec::Bind { destination, .. } | MountSpec::Tmpfs { destination, .. } => destination,
    }
}

fn with_destination(m: &MountSpec, d: String) -> MountSpec {
    let mut m = m.clone();
    match &mut m {
        MountSpec::Bind { destination, .. } | MountSpec::Tmpfs { destination, .. } => {
            *destination = d
        }
    }
    m
}

fn invalid(dest: &str, e: &io::Error) -> RuntimeError {
    let why = match e.raw_os_error() {
        Some(libc::ENOTDIR) => "a component of the path is not a directory".to_string(),
        Some(libc::ELOOP) => "too many levels of symbolic links".to_string(),
        _ => e.to_string(),
    };
    RuntimeError::Invalid(format!("invalid mount destination {dest:?}: {why}"))
}

/// Resolves the destinations of `mounts` through `layers` (the rootfs's
/// overlay layers, topmost first: upper dir, init layer, image snapshots;
/// any of them may be missing or empty). See the module doc.
pub fn plan(layers: Vec<PathBuf>, mounts: &[MountSpec]) -> Result<Planned> {
    let layers = Layers::overlay(layers);
    let mut stops: Vec<String> = DEFAULT_MOUNT_POINTS.iter().map(|s| s.to_string()).collect();
    let mut out = Planned {
        mounts: Vec::with_capacity(mounts.len()),
        stubs: Vec::new(),
    };
    for m in mounts {
        let dest = destination(m);
        let r = layers
            .resolve_until(dest, true, &stops)
            .map_err(|e| invalid(dest, &e))?;
        let resolved = match r.stopped {
            Some((_, rest)) if rest.is_empty() => r.path,
            Some((_, rest)) => format!("{}/{rest}", r.path.trim_end_matches('/')),
            None if r.path == "/" => {
                return Err(RuntimeError::Invalid(format!(
                    "invalid mount destination {dest:?}: it resolves to the container's root directory"
                )));
            }
            None => {
                let kind = match m {
                    MountSpec::Bind { source, .. } if !source.is_dir() => StubKind::File,
                    _ => StubKind::Dir,
                };
                // Already there in the image as that kind: no stub, which
                // would hide the image's owner and mode (a volume's
                // copy-up takes them).
                let there = matches!(
                    (r.kind, kind),
                    (Some(Kind::Dir), StubKind::Dir) | (Some(Kind::Other), StubKind::File)
                );
                if !there {
                    out.stubs.push((r.path.clone(), kind));
                }
                r.path
            }
        };
        if resolved != dest {
            tracing::debug!("mount destination {dest} resolves to {resolved} in the rootfs");
        }
        stops.push(resolved.clone());
        out.mounts.push(with_destination(m, resolved));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn bind(src: &std::path::Path, dest: &str) -> MountSpec {
        MountSpec::Bind {
            source: src.to_path_buf(),
            destination: dest.into(),
            readonly: false,
        }
    }

    fn dests(p: &Planned) -> Vec<&str> {
        p.mounts.iter().map(destination).collect()
    }

    #[test]
    fn destinations_follow_image_symlinks_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let (init, image) = (t.path().join("init"), t.path().join("image"));
        std::fs::create_dir_all(&init).unwrap();
        std::fs::create_dir_all(image.join("srv")).unwrap();
        std::fs::create_dir_all(image.join("etc")).unwrap();
        symlink("/", image.join("h")).unwrap();
        symlink("../../../../tmp", image.join("data")).unwrap();
        symlink("/srv", image.join("srvlink")).unwrap();
        symlink("/dev", image.join("devlink")).unwrap();
        std::fs::write(image.join("file"), b"x").unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(t.path().join("srcfile"), b"x").unwrap();
        let layers = vec![init, image];
        let p = plan(
            layers.clone(),
            &[
                bind(&src, "/data"),
                bind(&src, "/h/h/x"),
                bind(&t.path().join("srcfile"), "/srvlink/conf"),
                MountSpec::Tmpfs {
                    destination: "/tmp/inner/../h/sub".into(),
                    options: vec![],
                },
                bind(&src, "/devlink/foo"),
                bind(&src, "/etc/hosts"),
            ],
        )
        .unwrap();
        assert_eq!(
            dests(&p),
            [
                "/tmp",
                "/x",
                "/srv/conf",
                // Below the earlier mount at /tmp: left to the runtime.
                "/tmp/inner/../h/sub",
                "/dev/foo",
                "/etc/hosts"
            ]
        );
        assert_eq!(
            p.stubs,
            [
                ("/tmp".to_string(), StubKind::Dir),
                ("/x".to_string(), StubKind::Dir),
                ("/srv/conf".to_string(), StubKind::File),
            ]
        );
        for (dest, why) in [
            ("/h", "root directory"),
            ("/data/../..", "root directory"),
            ("/file/x", "not a directory"),
        ] {
            let e = plan(layers.clone(), &[bind(&src, dest)]).unwrap_err();
            assert!(e.to_string().contains(why), "{dest}: {e}");
        }
    }

    #[test]
    fn existing_destinations_get_no_stub() {
        let t = tempfile::tempdir().unwrap();
        let image = t.path().join("image");
        std::fs::create_dir_all(image.join("vol")).unwrap();
        std::fs::write(image.join("conf"), b"x").unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        let p = plan(
            vec![image],
            &[bind(&src, "/vol"), bind(&src, "/conf"), bind(&src, "/new")],
        )
        .unwrap();
        // A directory over the image's file still gets its stub.
        assert_eq!(
            p.stubs,
            [
                ("/conf".to_string(), StubKind::Dir),
                ("/new".to_string(), StubKind::Dir)
            ]
        );
    }
}
