//! Host device nodes for `--device` and `--privileged`, read with
//! `stat(2)` as runc's `DeviceFromPath` does: type, major/minor, mode and
//! owner of the host node. A directory brings every device below it; what
//! is not a device (fifos, sockets, plain files) is skipped.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxDeviceType;

use super::DeviceMapping;
use super::parse::io_text;
use crate::error::{Result, RuntimeError};
use crate::spec::security::Device;

fn major(dev: u64) -> i64 {
    nix::sys::stat::major(dev) as i64
}

fn minor(dev: u64) -> i64 {
    nix::sys::stat::minor(dev) as i64
}

/// The device at `host` (following symlinks), shown at `path` in the
/// container; `None` if it is not a device.
fn device_at(host: &Path, path: PathBuf, permissions: &str) -> std::io::Result<Option<Device>> {
    let md = std::fs::metadata(host)?;
    let ft = md.file_type();
    let typ = if ft.is_char_device() {
        LinuxDeviceType::C
    } else if ft.is_block_device() {
        LinuxDeviceType::B
    } else {
        return Ok(None);
    };
    Ok(Some(Device {
        path,
        typ,
        major: major(md.rdev()),
        minor: minor(md.rdev()),
        file_mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
        permissions: permissions.to_string(),
    }))
}

/// Walks `dir`, mapping `host_root` to `ctr_root`; `skip_dirs` are left
/// out by name.
fn walk(
    dir: &Path,
    host_root: &Path,
    ctr_root: &Path,
    permissions: &str,
    skip_dirs: &[&str],
    out: &mut Vec<Device>,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        let name = e.file_name();
        if ft.is_dir() {
            if !skip_dirs.contains(&name.to_string_lossy().as_ref()) {
                walk(&p, host_root, ctr_root, permissions, skip_dirs, out)?;
            }
            continue;
        }
        if ft.is_symlink() || name == "console" {
            continue;
        }
        let rel = p.strip_prefix(host_root).unwrap_or(&p);
        if let Ok(Some(d)) = device_at(&p, ctr_root.join(rel), permissions) {
            out.push(d);
        }
    }
    Ok(())
}

/// The devices one `--device` mapping adds (docker's error when the host
/// path cannot be read).
pub fn from_mapping(m: &DeviceMapping) -> Result<Vec<Device>> {
    let host = Path::new(&m.path_on_host);
    let fail = |e: std::io::Error| {
        RuntimeError::Invalid(format!(
            "error gathering device information while adding custom device {:?}: {}",
            m.path_on_host,
            io_text(&e)
        ))
    };
    let md = std::fs::metadata(host).map_err(fail)?;
    let ctr = PathBuf::from(&m.path_in_container);
    if md.is_dir() {
        let mut out = Vec::new();
        walk(host, host, &ctr, &m.cgroup_permissions, &[], &mut out).map_err(fail)?;
        return Ok(out);
    }
    match device_at(host, ctr, &m.cgroup_permissions).map_err(fail)? {
        Some(d) => Ok(vec![d]),
        None => Err(RuntimeError::Invalid(format!(
            "error gathering device information while adding custom device {:?}: not a device node",
            m.path_on_host
        ))),
    }
}

/// Every device of the host's `/dev` (`--privileged`), as runc's
/// `HostDevices`: without `pts`, `shm`, `fd`, `mqueue` and `console`.
pub fn host_devices() -> Vec<Device> {
    let mut out = Vec::new();
    let skip = ["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];
    let _ = walk(
        Path::new("/dev"),
        Path::new("/dev"),
        Path::new("/dev"),
        "rwm",
        &skip,
        &mut out,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_null_maps_to_another_path() {
        let d = from_mapping(&DeviceMapping {
            path_on_host: "/dev/null".into(),
            path_in_container: "/dev/mynull".into(),
            cgroup_permissions: "rw".into(),
        })
        .unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].typ, d[0].major, d[0].minor),
            (LinuxDeviceType::C, 1, 3)
        );
        assert_eq!(d[0].path, PathBuf::from("/dev/mynull"));
        assert_eq!(d[0].permissions, "rw");
    }

    #[test]
    fn missing_and_non_devices_fail_like_docker() {
        let m = |p: &str| DeviceMapping {
            path_on_host: p.into(),
            path_in_container: p.into(),
            cgroup_permissions: "rwm".into(),
        };
        assert_eq!(
            from_mapping(&m("/dev/nope-strata"))
                .unwrap_err()
                .to_string(),
            "error gathering device information while adding custom device \"/dev/nope-strata\": no such file or directory"
        );
        assert!(from_mapping(&m("/etc/hostname")).is_err());
        let tmp = tempfile::tempdir().unwrap();
        assert!(
            from_mapping(&m(tmp.path().to_str().unwrap()))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn host_devices_hold_the_standard_nodes() {
        let all = host_devices();
        assert!(all.iter().any(|d| d.path == Path::new("/dev/null")));
        assert!(!all.iter().any(|d| d.path.starts_with("/dev/pts")));
    }
}
