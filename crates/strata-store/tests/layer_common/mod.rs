//! Helpers shared by the `layer_*` integration tests: building trees with
//! every file type, describing a tree for comparison, raw tar building for
//! hostile inputs, overlay mounts with an unmount guard, and a private
//! mount-namespace sandbox.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use strata_oci::Digest;

pub fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

pub fn is_root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Skips (returning true) when not root, saying so.
pub fn skip_unless_root(test: &str) -> bool {
    if !is_root() {
        strata_testkit::skip(&format!(
            "{test}: needs root (CI runs the layer tests as root)"
        ));
        return true;
    }
    false
}

pub fn mknod(p: &Path, kind: libc::mode_t, perm: libc::mode_t, major: u32, minor: u32) {
    let c = cpath(p);
    // SAFETY: valid C string.
    let r = unsafe { libc::mknod(c.as_ptr(), kind | perm, libc::makedev(major, minor)) };
    assert_eq!(
        r,
        0,
        "mknod {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
}

pub fn lsetxattr(p: &Path, name: &str, value: &[u8]) {
    let c = cpath(p);
    let n = CString::new(name).unwrap();
    // SAFETY: valid C strings and slice.
    let r = unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    assert_eq!(
        r,
        0,
        "setxattr {name} on {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
}

pub fn lgetxattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    let c = cpath(p);
    let n = CString::new(name).unwrap();
    let mut buf = vec![0u8; 65536];
    // SAFETY: valid C strings; buffer valid for its length.
    let r = unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        return None;
    }
    buf.truncate(r as usize);
    Some(buf)
}

pub fn lxattrs(p: &Path) -> BTreeMap<String, Vec<u8>> {
    let c = cpath(p);
    let mut buf = vec![0u8; 65536];
    // SAFETY: valid C string; buffer valid for its length.
    let r = unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    assert!(r >= 0, "listxattr {}", p.display());
    buf.truncate(r as usize);
    buf.split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .filter(|n| n != "security.selinux")
        .filter_map(|n| lgetxattr(p, &n).map(|v| (n, v)))
        .collect()
}

/// Sets atime+mtime of `p` (not following a symlink).
pub fn set_mtime(p: &Path, sec: i64, nsec: i64) {
    let c = cpath(p);
    let ts = [libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    }; 2];
    // SAFETY: valid C string; two timespecs.
    let r = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(r, 0, "utimensat {}", p.display());
}

pub fn lchown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
}

pub fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Every path under `root` (relative), parents before children.
pub fn walk(root: &Path) -> Vec<PathBuf> {
    walk_filtered(root, &|_| false)
}

/// Like [`walk`], not entering or listing paths for which `skip` is true.
pub fn walk_filtered(root: &Path, skip: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let abs = root.join(&rel);
        for e in std::fs::read_dir(&abs).unwrap() {
            let r = rel.join(e.unwrap().file_name());
            if skip(&r) {
                continue;
            }
            if std::fs::symlink_metadata(root.join(&r)).unwrap().is_dir() {
                stack.push(r.clone());
            }
            out.push(r);
        }
    }
    out.sort();
    out
}

/// Sets distinct whole-second mtimes on every entry, directories last and
/// deepest first, so creating entries does not disturb them.
pub fn stamp_times(root: &Path, base: i64) {
    let mut paths = walk(root);
    paths.sort_by_key(|p| {
        let dir = std::fs::symlink_metadata(root.join(p)).unwrap().is_dir();
        (dir, std::cmp::Reverse(p.components().count()))
    });
    for (i, p) in paths.iter().enumerate() {
        set_mtime(&root.join(p), base + i as i64 * 7, 0);
    }
}

/// A comparable description of one tree entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub detail: String,
    pub xattrs: BTreeMap<String, Vec<u8>>,
    /// For multiply-linked non-directories: the first path of the group.
    pub link_group: Option<String>,
}

/// Describes every entry of a tree (mtime in whole seconds).
pub fn describe(root: &Path) -> BTreeMap<String, Node> {
    describe_filtered(root, &|_| false)
}

/// Like [`describe`], skipping paths (and what is below them) per `skip`.
pub fn describe_filtered(root: &Path, skip: &dyn Fn(&Path) -> bool) -> BTreeMap<String, Node> {
    let mut groups: HashMap<(u64, u64), String> = HashMap::new();
    let mut out = BTreeMap::new();
    for rel in walk_filtered(root, skip) {
        let abs = root.join(&rel);
        let md = std::fs::symlink_metadata(&abs).unwrap();
        let ft = md.file_type();
        let (kind, detail) = if ft.is_dir() {
            ("dir", String::new())
        } else if ft.is_symlink() {
            (
                "symlink",
                std::fs::read_link(&abs).unwrap().display().to_string(),
            )
        } else if ft.is_file() {
            let data = std::fs::read(&abs).unwrap();
            ("file", format!("{} {}", data.len(), Digest::of(&data)))
        } else if ft.is_char_device() {
            (
                "char",
                format!("{}:{}", libc::major(md.rdev()), libc::minor(md.rdev())),
            )
        } else if ft.is_block_device() {
            (
                "block",
                format!("{}:{}", libc::major(md.rdev()), libc::minor(md.rdev())),
            )
        } else if ft.is_fifo() {
            ("fifo", String::new())
        } else {
            ("socket", String::new())
        };
        let key = rel.display().to_string();
        let link_group = (!ft.is_dir() && md.nlink() > 1).then(|| {
            groups
                .entry((md.dev(), md.ino()))
                .or_insert_with(|| key.clone())
                .clone()
        });
        out.insert(
            key,
            Node {
                kind,
                mode: if ft.is_symlink() {
                    0
                } else {
                    md.mode() & 0o7777
                },
                uid: md.uid(),
                gid: md.gid(),
                mtime: md.mtime(),
                detail,
                xattrs: lxattrs(&abs),
                link_group,
            },
        );
    }
    out
}

/// Asserts two descriptions are equal, naming the first difference.
pub fn assert_same_tree(a: &BTreeMap<String, Node>, b: &BTreeMap<String, Node>) {
    let ka: Vec<_> = a.keys().collect();
    let kb: Vec<_> = b.keys().collect();
    assert_eq!(ka, kb, "different paths");
    for (k, na) in a {
        assert_eq!(na, &b[k], "entry {k} differs");
    }
}

/// A security.capability v2 value whose permitted set is
/// CAP_DAC_OVERRIDE|CAP_FOWNER = 0x0a: a newline byte inside a PAX value.
pub const CAP_WITH_NEWLINE: [u8; 20] = [
    0x01, 0, 0, 0x02, // VFS_CAP_REVISION_2 | effective
    0x0a, 0, 0, 0, // permitted[0]
    0, 0, 0, 0, // inheritable[0]
    0, 0, 0, 0, // permitted[1]
    0, 0, 0, 0, // inheritable[1]
];

/// Builds a tree with every kind of entry the layer format carries.
/// Root-only parts (devices, chown, trusted xattrs) only as root.
pub fn rich_tree(root: &Path) {
    let d = |p: &str| root.join(p);
    std::fs::create_dir_all(d("etc/ssl")).unwrap();
    std::fs::create_dir_all(d("usr/bin")).unwrap();
    std::fs::create_dir_all(d("empty")).unwrap();
    std::fs::create_dir_all(d("tmp")).unwrap();
    std::fs::write(d("etc/hostname"), b"strata\n").unwrap();
    std::fs::write(d("etc/ssl/big"), vec![7u8; 3 << 20]).unwrap();
    std::fs::write(d("usr/bin/tool"), b"#!/bin/sh\necho hi\n").unwrap();
    std::fs::write(d("usr/bin/.hidden"), b"").unwrap();
    chmod(&d("usr/bin/tool"), 0o4755);
    std::fs::write(d("usr/bin/sg"), b"x").unwrap();
    chmod(&d("usr/bin/sg"), 0o2711);
    chmod(&d("tmp"), 0o1777);
    chmod(&d("etc/ssl"), 0o700);
    std::fs::hard_link(d("usr/bin/tool"), d("usr/bin/tool-link")).unwrap();
    std::fs::hard_link(d("usr/bin/tool"), d("etc/tool-too")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", d("abs-link")).unwrap();
    std::os::unix::fs::symlink("../etc/hostname", d("usr/rel-link")).unwrap();
    std::os::unix::fs::symlink("does/not/exist", d("dangling")).unwrap();
    let long_dir = "d".repeat(120);
    let long_name = "n".repeat(200);
    std::fs::create_dir_all(d(&long_dir)).unwrap();
    std::fs::write(d(&format!("{long_dir}/{long_name}")), b"long").unwrap();
    std::os::unix::fs::symlink("t".repeat(150), d(&format!("{long_dir}/longlink"))).unwrap();
    std::fs::write(d("utf8-é-名前"), b"unicode").unwrap();
    lsetxattr(&d("etc/hostname"), "user.note", b"binary\n\0=value");
    lsetxattr(&d("etc"), "user.dirattr", b"on a directory");
    if is_root() {
        mknod(&d("null"), libc::S_IFCHR, 0o666, 1, 3);
        mknod(&d("loop9"), libc::S_IFBLK, 0o660, 7, 9);
        mknod(&d("fifo"), libc::S_IFIFO, 0o644, 0, 0);
        lchown(&d("etc/hostname"), 1000, 1001);
        lchown(&d("usr/rel-link"), 33, 34);
        lchown(&d("etc/ssl"), 3_000_000, 4_000_000);
        lchown(&d("usr/bin/sg"), 0, 50);
        chmod(&d("usr/bin/sg"), 0o2711);
        lsetxattr(&d("usr/bin/tool"), "security.capability", &CAP_WITH_NEWLINE);
        chmod(&d("usr/bin/tool"), 0o4755);
        lsetxattr(&d("etc/ssl"), "trusted.note", b"t");
    } else {
        mknod(&d("fifo"), libc::S_IFIFO, 0o644, 0, 0);
    }
    let _sock = std::os::unix::net::UnixListener::bind(d("tmp/sock")).unwrap();
    stamp_times(root, 1_600_000_000);
    set_mtime(&d("empty"), -86_400, 0);
}

/// `describe` without sockets (tars skip them).
pub fn describe_no_sockets(root: &Path) -> BTreeMap<String, Node> {
    let mut m = describe(root);
    m.retain(|_, n| n.kind != "socket");
    m
}

/// A raw tar built entry by entry; names are written as raw bytes into the
/// ustar name field, so `..` and absolute names survive.
#[derive(Default)]
pub struct RawTar {
    pub buf: Vec<u8>,
}

impl RawTar {
    fn header(name: &[u8], kind: tar::EntryType, size: u64, link: &[u8]) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        {
            let u = h.as_ustar_mut().unwrap();
            u.name = [0; 100];
            u.name[..name.len()].copy_from_slice(name);
            u.linkname = [0; 100];
            u.linkname[..link.len()].copy_from_slice(link);
        }
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        h
    }

    pub fn file(mut self, name: &str, data: &[u8]) -> Self {
        let h = Self::header(
            name.as_bytes(),
            tar::EntryType::Regular,
            data.len() as u64,
            b"",
        );
        self.buf.extend_from_slice(h.as_bytes());
        self.buf.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.buf.resize(self.buf.len() + pad, 0);
        self
    }

    pub fn dir(mut self, name: &str) -> Self {
        let h = Self::header(name.as_bytes(), tar::EntryType::Directory, 0, b"");
        self.buf.extend_from_slice(h.as_bytes());
        self
    }

    pub fn symlink(mut self, name: &str, target: &str) -> Self {
        let h = Self::header(
            name.as_bytes(),
            tar::EntryType::Symlink,
            0,
            target.as_bytes(),
        );
        self.buf.extend_from_slice(h.as_bytes());
        self
    }

    pub fn hardlink(mut self, name: &str, target: &str) -> Self {
        let h = Self::header(name.as_bytes(), tar::EntryType::Link, 0, target.as_bytes());
        self.buf.extend_from_slice(h.as_bytes());
        self
    }

    /// A PAX header with the given records for the next entry.
    pub fn pax(mut self, records: &[(&str, &[u8])]) -> Self {
        let mut data = Vec::new();
        for (k, v) in records {
            let base = k.len() + v.len() + 3;
            let mut len = base + base.to_string().len();
            while base + len.to_string().len() != len {
                len = base + len.to_string().len();
            }
            data.extend_from_slice(format!("{len} {k}=").as_bytes());
            data.extend_from_slice(v);
            data.push(b'\n');
        }
        let h = Self::header(
            b"PaxHeaders/x",
            tar::EntryType::XHeader,
            data.len() as u64,
            b"",
        );
        self.buf.extend_from_slice(h.as_bytes());
        self.buf.extend_from_slice(&data);
        let pad = (512 - data.len() % 512) % 512;
        self.buf.resize(self.buf.len() + pad, 0);
        self
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&[0; 1024]);
        self.buf
    }
}

/// Mounts a read-only overlay of `lowers` (topmost first) at `target`;
/// unmounted on drop.
pub struct OverlayMount {
    pub target: PathBuf,
}

impl OverlayMount {
    pub fn lowers(lowers: &[&Path], target: &Path) -> Self {
        let opts = format!(
            "lowerdir={}",
            lowers
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(":")
        );
        Self::mount(&opts, target)
    }

    pub fn with_upper(lower: &Path, upper: &Path, work: &Path, target: &Path) -> Self {
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            upper.display(),
            work.display()
        );
        Self::mount(&opts, target)
    }

    fn mount(opts: &str, target: &Path) -> Self {
        nix::mount::mount(
            Some("overlay"),
            target,
            Some("overlay"),
            nix::mount::MsFlags::empty(),
            Some(opts),
        )
        .unwrap_or_else(|e| panic!("mount overlay {opts} on {}: {e}", target.display()));
        OverlayMount {
            target: target.to_path_buf(),
        }
    }
}

impl Drop for OverlayMount {
    fn drop(&mut self) {
        if let Err(e) = nix::mount::umount2(&self.target, nix::mount::MntFlags::MNT_DETACH) {
            eprintln!("umount {}: {e}", self.target.display());
        }
    }
}

/// Runs `f` on a fresh thread inside a private mount namespace whose root is
/// an empty tmpfs (with /proc), so whatever a broken extractor might write
/// "outside" lands in the sandbox and can be seen, never on the host. The
/// namespace dies with the thread.
pub fn in_sandbox<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let host = tempfile::tempdir().unwrap();
    let dir = host.path().to_path_buf();
    let out = std::thread::spawn(move || {
        use nix::mount::{MsFlags, mount};
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS | nix::sched::CloneFlags::CLONE_FS)
            .expect("unshare mount namespace");
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .expect("make / private");
        mount(
            Some("tmpfs"),
            &dir,
            Some("tmpfs"),
            MsFlags::empty(),
            Some("mode=755"),
        )
        .expect("mount sandbox tmpfs");
        std::fs::create_dir(dir.join("proc")).unwrap();
        mount(
            Some("proc"),
            &dir.join("proc"),
            Some("proc"),
            MsFlags::empty(),
            None::<&str>,
        )
        .expect("mount proc in sandbox");
        nix::unistd::chroot(&dir).expect("chroot into sandbox");
        std::env::set_current_dir("/").unwrap();
        f()
    })
    .join();
    drop(host);
    match out {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}
