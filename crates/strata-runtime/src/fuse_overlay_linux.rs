//! `fuse-overlayfs`: the overlay of a rootless strata where the kernel
//! refuses one (overlay in a user namespace needs Linux 5.11), or where
//! `STRATA_OVERLAY=fuse-overlayfs` asks for it.
//!
//! The kernel option string [`crate::rootfs_linux::Overlay`] builds is
//! translated: `lowerdir`, `upperdir` and `workdir` are kept (made absolute
//! when they are relative to a `cwd`, since the daemon changes directory),
//! the kernel-only options (`index`, `redirect_dir`, `metacopy`,
//! `userxattr`, `volatile`) are dropped. The binary mounts, then leaves a
//! daemon serving the mount. Unmounting waits for that daemon to exit, so
//! the upper dir is complete before it is read (a layer, `commit`).
//!
//! fuse-overlayfs marks deletions with a 0/0 char device where it may
//! `mknod` (else `.wh.NAME` files) and opaque directories with an xattr
//! (else `.wh..wh..opq`); `strata_store::layer`'s overlay reader takes both.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Result, RuntimeError};

/// The binary (on `PATH`).
pub const BINARY: &str = "fuse-overlayfs";
/// How long an unmount waits for the daemon to finish.
const EXIT_WAIT: Duration = Duration::from_secs(20);

/// Whether `STRATA_OVERLAY=fuse-overlayfs` forces the FUSE overlay.
pub fn forced() -> bool {
    std::env::var_os("STRATA_OVERLAY").is_some_and(|v| v == BINARY)
}

/// Whether the kernel's refusal of an overlay mount is one fuse-overlayfs
/// may get around (unprivileged, unknown option, no overlay module).
pub fn kernel_refused(e: nix::errno::Errno) -> bool {
    use nix::errno::Errno;
    matches!(e, Errno::EPERM | Errno::EINVAL | Errno::ENODEV)
}

/// Splits on `sep` where not escaped with `\` (escapes kept).
fn split_unescaped(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut esc) = (0, false);
    for (i, c) in s.char_indices() {
        if esc {
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else if c == sep {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
}

/// `\`-escapes `,` `:` and `\` (overlay's and fuse-overlayfs' syntax).
fn escape(p: &Path) -> String {
    let mut out = String::new();
    for c in p.to_string_lossy().chars() {
        if matches!(c, ',' | ':' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The fuse-overlayfs `-o` string for a kernel overlay option string.
pub fn translate(options: &str, cwd: Option<&Path>) -> String {
    let abs = |p: &str| match cwd {
        Some(dir) if !p.starts_with('/') => format!("{}/{p}", escape(dir)),
        _ => p.to_string(),
    };
    let mut out = Vec::new();
    for opt in split_unescaped(options, ',') {
        let Some((key, val)) = opt.split_once('=') else {
            continue; // userxattr, volatile
        };
        match key {
            "lowerdir" => {
                let lowers: Vec<String> = split_unescaped(val, ':').into_iter().map(abs).collect();
                out.push(format!("lowerdir={}", lowers.join(":")));
            }
            "upperdir" | "workdir" => out.push(format!("{key}={}", abs(val))),
            _ => {} // index, redirect_dir, metacopy: kernel-only
        }
    }
    out.join(",")
}

/// Mounts `target` with fuse-overlayfs (the kernel option string `options`,
/// relative paths from `cwd`).
pub fn mount(target: &Path, options: &str, cwd: Option<&Path>) -> Result<()> {
    let opts = translate(options, cwd);
    let out = Command::new(BINARY)
        .arg("-o")
        .arg(&opts)
        .arg(target)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| RuntimeError::Io {
            op: "run fuse-overlayfs (apt install fuse-overlayfs) to mount",
            path: target.to_path_buf(),
            source: e,
        })?;
    if out.status.success() {
        return Ok(());
    }
    Err(RuntimeError::Io {
        op: "mount fuse-overlayfs at",
        path: target.to_path_buf(),
        source: std::io::Error::other(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    })
}

/// Whether `target` is a FUSE mount (checked before unmounting).
pub fn is_fuse(target: &Path) -> bool {
    use nix::sys::statfs::{FUSE_SUPER_MAGIC, statfs};
    statfs(target).is_ok_and(|s| s.filesystem_type() == FUSE_SUPER_MAGIC)
}

/// The fuse-overlayfs daemons serving `target` (argv ends with it).
pub fn daemons(target: &Path) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let want = target.as_os_str().as_bytes();
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<&[u8]> = cmd.split(|b| *b == 0).filter(|a| !a.is_empty()).collect();
            let is_bin = args.first().is_some_and(|a| {
                Path::new(OsStr::from_bytes(a)).file_name() == Some(OsStr::new(BINARY))
            });
            is_bin && args.last() == Some(&want)
        })
        .collect()
}

/// Waits until the processes `pids` have exited (or are zombies), at most
/// [`EXIT_WAIT`].
pub fn wait_exited(pids: &[i32], target: &Path) {
    let start = Instant::now();
    let alive = |pid: &i32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with('Z'))
        })
    };
    while pids.iter().any(alive) {
        if start.elapsed() > EXIT_WAIT {
            tracing::warn!(target = %target.display(), "fuse-overlayfs still running after unmount");
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Absolute form of `p` (for matching a daemon's argv).
pub fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translate_keeps_dirs_and_drops_kernel_options() {
        let k = "lowerdir=/s/a:/s/b\\:c,upperdir=/u,workdir=/w,index=off,\
                 redirect_dir=nofollow,metacopy=off,userxattr,volatile";
        assert_eq!(
            translate(k, None),
            "lowerdir=/s/a:/s/b\\:c,upperdir=/u,workdir=/w"
        );
    }

    #[test]
    fn translate_makes_relative_paths_absolute() {
        let k = "lowerdir=a/fs:b/fs,upperdir=c/u,workdir=c/w,index=off";
        assert_eq!(
            translate(k, Some(Path::new("/st,ore"))),
            "lowerdir=/st\\,ore/a/fs:/st\\,ore/b/fs,upperdir=/st\\,ore/c/u,workdir=/st\\,ore/c/w"
        );
    }

    #[test]
    fn refusals_that_fall_back() {
        use nix::errno::Errno;
        assert!(kernel_refused(Errno::EPERM));
        assert!(kernel_refused(Errno::EINVAL));
        assert!(kernel_refused(Errno::ENODEV));
        assert!(!kernel_refused(Errno::ENOENT));
    }
}
