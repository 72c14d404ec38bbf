//! A container's root filesystem: an overlay of the image's snapshots (and
//! an *init layer* of mount-point stubs) with the container's own upper and
//! work dirs.
//!
//! ```text
//! rootfs/ = overlay( lowerdir = init : <image snapshots, topmost first>,
//!                    upperdir = upper, workdir = work,
//!                    index=off, redirect_dir=off, metacopy=off )
//! ```
//! The init layer (docker's `-init` layer) holds empty files and
//! directories where the runtime bind-mounts `/etc/hosts`,
//! `/etc/hostname`, `/etc/resolv.conf` and the user's volumes, so that the
//! runtime never has to create them in the upper dir: the upper dir holds
//! only what the container itself wrote and converts straight into a layer
//! (`commit`, build steps). `redirect_dir`, `metacopy` and `index` are off
//! because a layer diff cannot express renamed directories or metadata-only
//! copy-ups.
//!
//! A container that is removed when it exits (`--rm`) and a build step
//! (whose upper dir is read, then committed with its own `syncfs`) mount
//! with `volatile`: overlayfs then skips syncing the upper filesystem at
//! unmount. Without it every unmount flushes the whole host filesystem the
//! store lives on — tens to hundreds of milliseconds on a busy machine, for
//! data that is about to be deleted anyway.
//!
//! Rootless, where the kernel refuses the overlay (before Linux 5.11), or
//! with `STRATA_OVERLAY=fuse-overlayfs`, [`SysMounter`] mounts it with
//! `fuse-overlayfs` instead ([`crate::fuse_overlay_linux`]).
//!
//! Mounting goes through [`Mounter`], so the option strings and the order
//! of operations are unit-tested with [`RecordingMounter`].

use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use nix::mount::{MntFlags, MsFlags};

use crate::error::{IoContext, Result, RuntimeError};
use crate::fuse_overlay_linux as fuse;

/// Mount and unmount, the privileged part.
pub trait Mounter {
    /// Mounts an overlay at `target` with `options`; relative paths in the
    /// options are resolved from `cwd`.
    fn mount_overlay(&self, target: &Path, options: &str, cwd: Option<&Path>) -> Result<()>;
    /// Unmounts `target` (lazily if busy).
    fn unmount(&self, target: &Path) -> Result<()>;
}

/// The real thing: `mount(2)` and `umount2(2)`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SysMounter;

impl Mounter for SysMounter {
    fn mount_overlay(&self, target: &Path, options: &str, cwd: Option<&Path>) -> Result<()> {
        let target = &fuse::absolute(target);
        if fuse::forced() {
            return fuse::mount(target, options, cwd);
        }
        let prev = match cwd {
            Some(dir) => {
                let prev = std::env::current_dir().ctx("get current directory", ".")?;
                std::env::set_current_dir(dir).ctx("change directory", dir)?;
                Some(prev)
            }
            None => None,
        };
        let res = nix::mount::mount(
            Some("overlay"),
            target,
            Some("overlay"),
            MsFlags::empty(),
            Some(options),
        );
        if let Some(p) = prev {
            let _ = std::env::set_current_dir(p);
        }
        match res {
            Ok(()) => Ok(()),
            Err(e) if strata_store::userns::rootless() && fuse::kernel_refused(e) => {
                tracing::debug!(error = %e, "kernel overlay refused; using fuse-overlayfs");
                fuse::mount(target, options, cwd).map_err(|fe| RuntimeError::Io {
                    op: "mount overlay (the kernel refused it, and fuse-overlayfs failed) at",
                    path: target.to_path_buf(),
                    source: std::io::Error::other(format!("{e}; {fe}")),
                })
            }
            Err(e) => Err(RuntimeError::Io {
                op: "mount overlay at",
                path: target.to_path_buf(),
                source: e.into(),
            }),
        }
    }

    fn unmount(&self, target: &Path) -> Result<()> {
        if fuse::is_fuse(target) {
            // The daemon writes the upper dir: wait for it to finish.
            let daemons = fuse::daemons(&fuse::absolute(target));
            umount(target)?;
            fuse::wait_exited(&daemons, target);
            return Ok(());
        }
        umount(target)
    }
}

/// `umount2`, lazily if busy; not mounted is fine.
fn umount(target: &Path) -> Result<()> {
    match nix::mount::umount2(target, MntFlags::empty()) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(nix::errno::Errno::EBUSY) => {
            nix::mount::umount2(target, MntFlags::MNT_DETACH).map_err(|e| RuntimeError::Io {
                op: "unmount",
                path: target.to_path_buf(),
                source: e.into(),
            })
        }
        Err(e) => Err(RuntimeError::Io {
            op: "unmount",
            path: target.to_path_buf(),
            source: e.into(),
        }),
    }
}

/// A fake that records calls (for unit tests of the logic around mounts).
#[derive(Debug, Default)]
pub struct RecordingMounter {
    /// `mount <target> <options> [cwd]` / `umount <target>` lines.
    pub calls: Mutex<Vec<String>>,
}

impl Mounter for RecordingMounter {
    fn mount_overlay(&self, target: &Path, options: &str, cwd: Option<&Path>) -> Result<()> {
        let cwd = cwd
            .map(|c| format!(" cwd={}", c.display()))
            .unwrap_or_default();
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!("mount {} {options}{cwd}", target.display()));
        Ok(())
    }

    fn unmount(&self, target: &Path) -> Result<()> {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!("umount {}", target.display()));
        Ok(())
    }
}

/// The directories of one overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlay {
    /// Lower dirs, topmost first.
    pub lowers: Vec<PathBuf>,
    /// Upper dir.
    pub upper: PathBuf,
    /// Work dir (same filesystem as upper).
    pub work: PathBuf,
}

/// Options that keep the upper dir convertible into a layer.
const FIXED_OPTS: &str = "index=off,redirect_dir=off,metacopy=off";
/// Rootless: an unprivileged mounter cannot use `trusted.*` xattrs, so
/// overlay keeps its markers in `user.overlay.*`; `redirect_dir=off` means
/// "follow" where the kernel is built so, which conflicts with it.
const ROOTLESS_OPTS: &str = "index=off,redirect_dir=nofollow,metacopy=off,userxattr";

/// Longest option string passed to the kernel (one page, minus slack).
const MAX_OPTS: usize = 4000;

impl Overlay {
    /// The mount options, and the directory relative paths in them start
    /// from when absolute paths would not fit in a page (containerd's
    /// trick for images with many layers).
    pub fn options(&self) -> (String, Option<PathBuf>) {
        self.options_with(false)
    }

    /// [`Self::options`], with `volatile` (for single-use upper dirs).
    pub fn options_with(&self, volatile: bool) -> (String, Option<PathBuf>) {
        let abs = format_opts(&self.lowers, &self.upper, &self.work, volatile);
        if abs.len() <= MAX_OPTS {
            return (abs, None);
        }
        let all: Vec<&Path> = self
            .lowers
            .iter()
            .map(PathBuf::as_path)
            .chain([self.upper.as_path(), self.work.as_path()])
            .collect();
        let base = common_ancestor(&all);
        let rel = |p: &Path| relative_to(p, &base);
        let lowers: Vec<PathBuf> = self.lowers.iter().map(|l| rel(l)).collect();
        (
            format_opts(&lowers, &rel(&self.upper), &rel(&self.work), volatile),
            Some(base),
        )
    }

    /// Mounts the overlay at `target` (created if missing).
    pub fn mount(&self, m: &dyn Mounter, target: &Path) -> Result<()> {
        self.mount_with(m, target, false)
    }

    /// [`Self::mount`], `volatile` if asked (the upper dir is single-use:
    /// removed, or read and committed with its own sync, after unmount).
    pub fn mount_with(&self, m: &dyn Mounter, target: &Path, volatile: bool) -> Result<()> {
        if self.lowers.is_empty() {
            return Err(RuntimeError::Invalid(
                "an overlay needs at least one lower dir".to_string(),
            ));
        }
        fs::create_dir_all(target).ctx("create directory", target)?;
        let (opts, cwd) = self.options_with(volatile);
        m.mount_overlay(target, &opts, cwd.as_deref())
    }
}

fn format_opts(lowers: &[PathBuf], upper: &Path, work: &Path, volatile: bool) -> String {
    let lower: Vec<String> = lowers.iter().map(|p| escape(p)).collect();
    format!(
        "lowerdir={},upperdir={},workdir={},{}{}",
        lower.join(":"),
        escape(upper),
        escape(work),
        if strata_store::userns::rootless() {
            ROOTLESS_OPTS
        } else {
            FIXED_OPTS
        },
        if volatile { ",volatile" } else { "" },
    )
}

/// overlayfs splits on `,` and `:`; both must be escaped with `\`.
fn escape(p: &Path) -> String {
    let s = p.to_string_lossy();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, ',' | ':' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn common_ancestor(paths: &[&Path]) -> PathBuf {
    let mut base: Vec<Component<'_>> = paths[0].components().collect();
    for p in &paths[1..] {
        let comps: Vec<Component<'_>> = p.components().collect();
        let n = base.iter().zip(&comps).take_while(|(a, b)| a == b).count();
        base.truncate(n);
    }
    base.iter().collect()
}

fn relative_to(p: &Path, base: &Path) -> PathBuf {
    p.strip_prefix(base)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| p.to_path_buf())
}

/// What the init layer must provide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StubKind {
    /// An empty directory.
    Dir,
    /// An empty regular file (mode 0755, as docker's init layer makes
    /// them).
    File,
    /// A symbolic link to the given target.
    Symlink(&'static str),
}

/// What docker's init layer gives every container (not a build step:
/// BuildKit's RUN has none of it): `/.dockerenv`, which programs test to
/// know they run in a container, `/etc/mtab` → `/proc/mounts`, and the
/// `/dev` stubs `export` shows.
pub fn container_stubs() -> Vec<(String, StubKind)> {
    vec![
        ("/.dockerenv".into(), StubKind::File),
        ("/etc/mtab".into(), StubKind::Symlink("/proc/mounts")),
        // Hidden by the container's /dev, seen by `export`.
        ("/dev/console".into(), StubKind::File),
        ("/dev/pts".into(), StubKind::Dir),
        ("/dev/shm".into(), StubKind::Dir),
    ]
}

/// Creates the init layer in `dir`: `/dev`, `/proc`, `/sys`, `/etc` with
/// empty `hosts`, `hostname`, `resolv.conf`, plus one stub per extra mount
/// point. Paths are cleaned lexically (no `..` above the root).
pub fn create_init_layer(dir: &Path, extra: &[(String, StubKind)]) -> Result<()> {
    let mut stubs: Vec<(String, StubKind)> = vec![
        ("/dev".into(), StubKind::Dir),
        ("/proc".into(), StubKind::Dir),
        ("/sys".into(), StubKind::Dir),
        ("/etc/hosts".into(), StubKind::File),
        ("/etc/hostname".into(), StubKind::File),
        ("/etc/resolv.conf".into(), StubKind::File),
    ];
    stubs.extend(extra.iter().cloned());
    fs::create_dir_all(dir).ctx("create directory", dir)?;
    for (path, kind) in stubs {
        let rel = clean_relative(&path);
        if rel.as_os_str().is_empty() {
            continue;
        }
        let full = dir.join(&rel);
        match kind {
            StubKind::Dir => fs::create_dir_all(&full).ctx("create directory", &full)?,
            StubKind::File => {
                if let Some(parent) = full.parent() {
                    fs::create_dir_all(parent).ctx("create directory", parent)?;
                }
                if !full.exists() {
                    fs::OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(false)
                        .mode(0o755)
                        .open(&full)
                        .ctx("create file", &full)?;
                }
            }
            StubKind::Symlink(target) => {
                if let Some(parent) = full.parent() {
                    fs::create_dir_all(parent).ctx("create directory", parent)?;
                }
                if fs::symlink_metadata(&full).is_err() {
                    std::os::unix::fs::symlink(target, &full).ctx("create symlink", &full)?;
                }
            }
        }
    }
    Ok(())
}

/// `/a/../b/./c` → `b/c`, never above the root.
pub fn clean_relative(path: &str) -> PathBuf {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p),
        }
    }
    out.iter().collect()
}

/// True if `path` appears in this process's mount table.
pub fn is_mounted(path: &Path) -> bool {
    strata_store::mounts::is_mount_point(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_keep_the_upper_convertible() {
        let o = Overlay {
            lowers: vec!["/s/3/fs".into(), "/s/1/fs".into()],
            upper: "/c/up".into(),
            work: "/c/work".into(),
        };
        let (opts, cwd) = o.options();
        assert_eq!(
            opts,
            "lowerdir=/s/3/fs:/s/1/fs,upperdir=/c/up,workdir=/c/work,index=off,redirect_dir=off,metacopy=off"
        );
        assert!(cwd.is_none());
        let m = RecordingMounter::default();
        let t = tempfile::tempdir().unwrap();
        o.mount(&m, &t.path().join("rootfs")).unwrap();
        m.unmount(&t.path().join("rootfs")).unwrap();
        let calls = m.calls.lock().unwrap();
        assert_eq!(calls.len(), 2);
        assert!(calls[0].starts_with("mount ") && calls[0].contains("lowerdir=/s/3/fs:/s/1/fs"));
        assert!(calls[1].starts_with("umount "));
    }

    #[test]
    fn long_option_strings_become_relative() {
        let lowers: Vec<PathBuf> = (0..200)
            .map(|i| PathBuf::from(format!("/var/lib/strata/snapshots/{i}/fs")))
            .collect();
        let o = Overlay {
            lowers,
            upper: "/var/lib/strata/containers/abc/upper".into(),
            work: "/var/lib/strata/containers/abc/work".into(),
        };
        let (opts, cwd) = o.options_with(true);
        assert_eq!(cwd.as_deref(), Some(Path::new("/var/lib/strata")));
        assert!(opts.starts_with("lowerdir=snapshots/0/fs:snapshots/1/fs:"));
        assert!(opts.contains("upperdir=containers/abc/upper,workdir=containers/abc/work"));
        assert!(opts.ends_with(",metacopy=off,volatile"));
        assert!(opts.len() < MAX_OPTS);
    }

    #[test]
    fn escapes_separators() {
        assert_eq!(escape(Path::new("/a,b:c")), "/a\\,b\\:c");
    }

    #[test]
    fn init_layer_stubs() {
        let t = tempfile::tempdir().unwrap();
        let init = t.path().join("init");
        create_init_layer(
            &init,
            &[
                ("/data/../vol".into(), StubKind::Dir),
                ("/cfg/app.conf".into(), StubKind::File),
            ],
        )
        .unwrap();
        assert!(init.join("etc/hosts").is_file());
        assert!(init.join("etc/resolv.conf").is_file());
        assert!(init.join("dev").is_dir());
        assert!(init.join("vol").is_dir());
        assert!(init.join("cfg/app.conf").is_file());
        create_init_layer(&init, &container_stubs()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let env = fs::metadata(init.join(".dockerenv")).unwrap();
        assert_eq!((env.len(), env.permissions().mode() & 0o777), (0, 0o755));
        assert_eq!(
            fs::read_link(init.join("etc/mtab")).unwrap(),
            PathBuf::from("/proc/mounts")
        );
        assert_eq!(clean_relative("/../../x/./y"), PathBuf::from("x/y"));
    }
}
