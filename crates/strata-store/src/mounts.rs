//! This process's view of the mount table (`/proc/self/mountinfo`), for
//! the two places the store must know about mounts it did not make itself:
//! the scratch sweep (never delete *through* a mount a dead process left)
//! and `system check` (leftover overlay mounts under the root); the
//! runtime reads it here too (is a path a mount point, the cgroup v1
//! hierarchies). The one mountinfo parser of the workspace.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// One line of mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// Where it is mounted (unescaped).
    pub mount_point: PathBuf,
    /// Filesystem type (`overlay`, `tmpfs`, …).
    pub fs_type: String,
    /// Mount source (`overlay`, `/dev/sda1`, …).
    pub source: String,
    /// Per-superblock options (`rw,cpu,cpuacct`, …), escapes undone.
    pub super_options: String,
}

/// Parses mountinfo text (see proc(5)); malformed lines are skipped.
pub fn parse(text: &str) -> Vec<MountInfo> {
    text.lines()
        .filter_map(|l| {
            let fields: Vec<&str> = l.split(' ').collect();
            let mount_point = fields.get(4)?;
            let sep = fields.iter().position(|f| *f == "-")?;
            Some(MountInfo {
                mount_point: PathBuf::from(unescape(mount_point)),
                fs_type: unescape(fields.get(sep + 1)?),
                source: unescape(fields.get(sep + 2).unwrap_or(&"")),
                super_options: unescape(fields.get(sep + 3).unwrap_or(&"")),
            })
        })
        .collect()
}

/// The current process's mounts (empty when `/proc` is not mounted).
pub fn read() -> Vec<MountInfo> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|t| parse(&t))
        .unwrap_or_default()
}

/// Whether `path` is a mount point in this process's mount table.
pub fn is_mount_point(path: &Path) -> bool {
    read().iter().any(|m| m.mount_point == path)
}

/// Mounts at or below `prefix`, deepest first (the order to unmount in).
pub fn under(mounts: &[MountInfo], prefix: &Path) -> Vec<MountInfo> {
    let mut out: Vec<MountInfo> = mounts
        .iter()
        .filter(|m| m.mount_point.starts_with(prefix))
        .cloned()
        .collect();
    out.sort_by_key(|m| std::cmp::Reverse(m.mount_point.components().count()));
    out
}

/// Lazily unmounts `path` (`umount2(MNT_DETACH)`): it disappears from the
/// tree now and is released once nothing uses it.
pub fn detach(path: &Path) -> std::io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: umount2 with a valid NUL-terminated path.
    let rc = unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Undoes mountinfo's octal escapes (`\040` is a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = u32::from(b[i + 1] - b'0') * 64
                + u32::from(b[i + 2] - b'0') * 8
                + u32::from(b[i + 3] - b'0');
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders() {
        let text = "36 35 98:0 / /mnt/a\\040b rw,noatime master:1 - overlay overlay rw,lowerdir=x\n\
                    37 36 98:0 / /mnt/a\\040b/c rw shared:2 - tmpfs tmpfs rw\n\
                    garbage\n\
                    38 1 8:1 / / rw - ext4 /dev/sda1 rw\n";
        let m = parse(text);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].mount_point, Path::new("/mnt/a b"));
        assert_eq!(m[0].fs_type, "overlay");
        assert_eq!(m[2].source, "/dev/sda1");
        assert_eq!(m[0].super_options, "rw,lowerdir=x");
        let u = under(&m, Path::new("/mnt/a b"));
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].mount_point, Path::new("/mnt/a b/c"), "deepest first");
        assert!(
            under(&m, Path::new("/mnt/a")).is_empty(),
            "whole components only"
        );
        assert!(read().iter().any(|m| m.mount_point == Path::new("/")) || read().is_empty());
    }

    #[test]
    fn escapes_and_odd_lines() {
        // \134 is a backslash, \011 a tab; a high octal escape must not
        // overflow; an escape cut short stays as written.
        let text = "1 0 0:1 / /a\\134b\\011c\\777 rw - tmpfs src\\040x rw,size=1\n\
                    2 0 0:1 / /cut\\04 rw - tmpfs t\n\
                    3 0 0:1 / /no-separator rw tmpfs t\n";
        let m = parse(text);
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[0].mount_point,
            Path::new(&String::from_utf8_lossy(b"/a\\b\tc\xff").into_owned())
        );
        assert_eq!(m[0].source, "src x");
        assert_eq!(m[1].mount_point, Path::new("/cut\\04"));
        assert_eq!(m[1].super_options, "");
        assert!(is_mount_point(Path::new("/proc")) || !Path::new("/proc/self").exists());
    }
}
