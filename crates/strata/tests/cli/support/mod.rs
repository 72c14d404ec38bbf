//! Helpers for the integration tests: a temporary store root, running the
//! real `strata` binary, a busybox rootfs tarball built from the host's
//! `busybox-static`, and finding the real tools and services the tests
//! drive (registry, skopeo, umoci, docker). A test that needs something
//! absent calls [`skip`] with the reason, which is printed.

#![allow(dead_code)]

pub mod docker;
pub mod lifecycle;
pub mod registry;

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The strata binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_strata"))
}

/// A temporary store root plus a scratch dir, removed on drop.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
}

impl Env {
    /// A fresh, empty environment.
    pub fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("strata-it-")
            .tempdir()
            .expect("tempdir");
        let root = dir.path().join("root");
        Env { dir, root }
    }

    /// A path inside the scratch dir.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A `strata --root <root>` command.
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = Command::new(bin());
        c.arg("--root").arg(&self.root).args(args);
        c.env_remove("STRATA_ROOT");
        // A SOURCE_DATE_EPOCH of the caller's would date every build.
        c.env_remove("SOURCE_DATE_EPOCH");
        c.env("HOME", self.dir.path());
        c
    }

    /// Runs strata; returns its output whatever the exit code.
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd(args)
            .stdin(Stdio::null())
            .output()
            .expect("run strata")
    }

    /// Runs strata and asserts success; returns stdout.
    pub fn ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S> + Clone,
        S: AsRef<OsStr>,
    {
        let printable: Vec<String> = args
            .clone()
            .into_iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        let out = self.run(args);
        assert!(
            out.status.success(),
            "strata {} failed ({}):\nstdout: {}\nstderr: {}",
            printable.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs strata, asserts failure, returns stderr.
    pub fn fails<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "expected failure, got success; stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Runs strata with `input` on stdin.
    pub fn run_stdin<I, S>(&self, args: I, input: &[u8]) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn strata");
        let mut stdin = child.stdin.take().expect("stdin");
        let data = input.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
        let out = child.wait_with_output().expect("wait strata");
        let _ = writer.join();
        out
    }

    /// Imports the busybox rootfs as `name` and returns the image ID.
    pub fn busybox(&self, name: &str) -> String {
        let tar = busybox_rootfs_tar();
        self.ok([
            OsStr::new("image"),
            OsStr::new("import"),
            OsStr::new("--change"),
            OsStr::new("CMD [\"sh\"]"),
            tar.as_os_str(),
            OsStr::new(name),
        ])
        .trim()
        .to_string()
    }

    /// A snapshot of the store's files (path → size) to prove a failed
    /// command changed nothing. Scratch space (`tmp/`) and the DB's WAL
    /// side files are left out; the DB's rows are compared by `image ls`.
    pub fn store_files(&self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for sub in ["blobs", "snapshots"] {
            walk(&self.root.join(sub), &self.root, &mut out);
        }
        out.sort();
        out
    }
}

fn walk(dir: &Path, base: &Path, out: &mut Vec<(String, u64)>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        let md = fs::symlink_metadata(&p).expect("stat");
        let rel = p
            .strip_prefix(base)
            .unwrap_or(&p)
            .to_string_lossy()
            .into_owned();
        if md.is_dir() {
            out.push((format!("{rel}/"), 0));
            walk(&p, base, out);
        } else {
            out.push((rel, md.len()));
        }
    }
}

/// A deterministic busybox rootfs tarball (bin/busybox from the host's
/// busybox-static, an applet symlink per command, /etc/passwd and
/// /etc/group), built once per test run.
pub fn busybox_rootfs_tar() -> PathBuf {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let busybox = which("busybox").unwrap_or_else(|| {
            panic!("busybox is required: apt-get install busybox-static (scripts/test.sh does)")
        });
        let dir = std::env::temp_dir().join(format!("strata-it-busybox-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join("busybox-rootfs.tar");
        let f = fs::File::create(&path).expect("create tar");
        let mut b = tar::Builder::new(f);
        let dir_entry = |b: &mut tar::Builder<fs::File>, p: &str, mode: u32| {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_path(p).expect("path");
            h.set_mode(mode);
            h.set_size(0);
            h.set_mtime(0);
            h.set_uid(0);
            h.set_gid(0);
            h.set_cksum();
            b.append(&h, std::io::empty()).expect("append dir");
        };
        for (d, mode) in [
            ("bin/", 0o755),
            ("dev/", 0o755),
            ("etc/", 0o755),
            ("home/", 0o755),
            ("proc/", 0o755),
            ("root/", 0o700),
            ("sys/", 0o755),
            ("tmp/", 0o1777),
            ("usr/", 0o755),
            ("usr/bin/", 0o755),
            ("usr/sbin/", 0o755),
            ("sbin/", 0o755),
            ("var/", 0o755),
            ("var/tmp/", 0o1777),
        ] {
            dir_entry(&mut b, d, mode);
        }
        let data = fs::read(&busybox).expect("read busybox");
        let mut h = tar::Header::new_ustar();
        h.set_path("bin/busybox").expect("path");
        h.set_mode(0o755);
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        b.append(&h, &data[..]).expect("append busybox");
        let list = Command::new(&busybox)
            .arg("--list-full")
            .output()
            .expect("busybox --list-full");
        let mut applets: Vec<String> = String::from_utf8_lossy(&list.stdout)
            .lines()
            .map(str::to_string)
            .filter(|p| p != "bin/busybox" && !p.is_empty())
            .collect();
        applets.sort();
        for p in applets {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_path(&p).expect("path");
            h.set_link_name("/bin/busybox").expect("link");
            h.set_mode(0o777);
            h.set_size(0);
            h.set_mtime(0);
            h.set_uid(0);
            h.set_gid(0);
            h.set_cksum();
            b.append(&h, std::io::empty()).expect("append link");
        }
        for (p, body) in [
            (
                "etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
            ),
            ("etc/group", "root:x:0:\nnobody:x:65534:\n"),
        ] {
            let mut h = tar::Header::new_ustar();
            h.set_path(p).expect("path");
            h.set_mode(0o644);
            h.set_size(body.len() as u64);
            h.set_mtime(0);
            h.set_uid(0);
            h.set_gid(0);
            h.set_cksum();
            b.append(&h, body.as_bytes()).expect("append file");
        }
        b.finish().expect("finish tar");
        path
    })
    .clone()
}

/// The first `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

pub use strata_testkit::skip;

/// True when running as root (most runtime tests need it).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The plain test registry (`STRATA_TEST_REGISTRY`, started by scripts/test.sh).
pub fn registry() -> Option<String> {
    std::env::var("STRATA_TEST_REGISTRY")
        .ok()
        .filter(|s| !s.is_empty())
}

/// A docker CLI talking to a running daemon, if there is one
/// (`STRATA_TEST_DOCKER_HOST`, set by scripts/test.sh when dockerd started).
pub fn docker() -> Option<Command> {
    let host = std::env::var("STRATA_TEST_DOCKER_HOST")
        .ok()
        .filter(|s| !s.is_empty())?;
    let cli = ["/usr/bin/docker", "/usr/local/bin/docker"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())?;
    let mut c = Command::new(cli);
    c.env("DOCKER_HOST", host);
    let ok = Command::new(c.get_program())
        .env(
            "DOCKER_HOST",
            std::env::var("STRATA_TEST_DOCKER_HOST").ok()?,
        )
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(c)
}

/// Runs a command and asserts success; returns stdout.
pub fn sh(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Unpacks a tar file into `dir` (plain files and dirs only; for tests
/// that edit archives).
pub fn untar(tar_path: &Path, dir: &Path) {
    fs::create_dir_all(dir).expect("mkdir");
    let mut a = tar::Archive::new(fs::File::open(tar_path).expect("open tar"));
    a.set_preserve_permissions(true);
    a.unpack(dir).expect("unpack");
}

/// Packs `dir` into a tar file with sorted entries (for tests that edit
/// archives).
pub fn tar_dir(dir: &Path, tar_path: &Path) {
    let f = fs::File::create(tar_path).expect("create tar");
    let mut b = tar::Builder::new(f);
    b.follow_symlinks(false);
    let mut paths = Vec::new();
    collect(dir, dir, &mut paths);
    paths.sort();
    for rel in paths {
        b.append_path_with_name(dir.join(&rel), &rel)
            .expect("append");
    }
    b.finish().expect("finish");
}

fn collect(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        out.push(p.strip_prefix(base).expect("prefix").to_path_buf());
        if e.file_type().expect("type").is_dir() {
            collect(base, &p, out);
        }
    }
}

/// sha256 hex of bytes.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(data))
}

/// Asserts two tree listings are equal, printing only the differences.
pub fn assert_same_tree(got: &Path, want: &Path) {
    let (g, w) = (tree_listing(got), tree_listing(want));
    let only_got: Vec<_> = g.iter().filter(|x| !w.contains(x)).take(20).collect();
    let only_want: Vec<_> = w.iter().filter(|x| !g.contains(x)).take(20).collect();
    assert!(
        only_got.is_empty() && only_want.is_empty(),
        "trees differ:\n only in {}: {only_got:?}\n only in {}: {only_want:?}",
        got.display(),
        want.display()
    );
}

/// The snapshot dir of a one-layer image (its `GraphDriver` UpperDir),
/// after a first use: pulled and loaded layers stay packed until one
/// (issue 13). The image must have `true`.
pub fn unpacked_upper_dir(env: &Env, image: &str) -> PathBuf {
    env.ok(["run", "--rm", "--network", "none", image, "true"]);
    let dir = env.ok([
        "image",
        "inspect",
        "-f",
        "{{.GraphDriver.Data.UpperDir}}",
        image,
    ]);
    PathBuf::from(dir.trim())
}

/// A sorted listing of a tree: (relative path, kind, mode, size, link
/// target, content hash) — to compare two unpacked rootfs.
pub fn tree_listing(root: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut paths = Vec::new();
    collect(root, root, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|rel| {
            let p = root.join(&rel);
            let md = fs::symlink_metadata(&p).expect("stat");
            let kind = if md.is_dir() {
                "d".to_string()
            } else if md.file_type().is_symlink() {
                format!("l->{}", fs::read_link(&p).expect("readlink").display())
            } else if md.is_file() {
                format!("f:{}", sha256_hex(&fs::read(&p).expect("read")))
            } else {
                "other".to_string()
            };
            format!(
                "{} {} {:o} {}:{}",
                rel.display(),
                kind,
                md.mode() & 0o7777,
                md.uid(),
                md.gid()
            )
        })
        .collect()
}
