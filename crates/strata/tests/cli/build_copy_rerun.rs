//! A COPY that re-runs because some of its files changed hardlinks the
//! unchanged files from its previous snapshot and resumes its layer tar
//! from the previous layer's (issue 13); the layers are the ones a fresh
//! store makes with `--no-cache` (content, modes, owners, mtimes: every
//! byte of the tar is in the diffID).

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;

use crate::build_common::inspect;
use crate::support::Env;

const DF: &str = "FROM base\nCOPY data/ /data/\nCOPY --chown=5:6 data/b/ /b/\n";

fn context(dir: &Path) {
    let data = dir.join("data");
    std::fs::create_dir_all(data.join("a")).unwrap();
    std::fs::create_dir_all(data.join("b")).unwrap();
    std::fs::write(dir.join("Dockerfile"), DF).unwrap();
    std::fs::write(data.join("a/big.bin"), vec![3u8; 6 << 20]).unwrap();
    for i in 0..400 {
        let body: Vec<u8> = (0..30 * 1024).map(|k| ((i * 17 + k) % 253) as u8).collect();
        std::fs::write(data.join(format!("b/f{i:04}")), body).unwrap();
    }
    std::fs::write(data.join("b/empty"), b"").unwrap();
    symlink("f0001", data.join("b/link")).unwrap();
    std::fs::set_permissions(data.join("b/f0002"), PermissionsExt::from_mode(0o751)).unwrap();
}

/// Builds with the store's and builder's debug log; returns stderr.
fn build(env: &Env, dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["build", "--progress", "plain", "-t", "app"];
    args.extend_from_slice(extra);
    let dir_s = dir.to_str().unwrap();
    args.push(dir_s);
    let out = env
        .cmd(&args)
        .env("STRATA_LOG", "strata_store=debug,strata_build=debug")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "build failed:\n{err}");
    err
}

fn diff_ids(env: &Env) -> Vec<serde_json::Value> {
    inspect(env, "app")["RootFS"]["Layers"]
        .as_array()
        .unwrap()
        .clone()
}

/// The number after `prefix` in the first line of `log` that has it.
fn number_after(log: &str, prefix: &str) -> Option<u64> {
    let at = log.find(prefix)? + prefix.len();
    log[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[test]
fn a_rerun_copy_reuses_files_and_tar_and_makes_the_fresh_layers() {
    let env = Env::new();
    env.busybox("base");
    let dir = env.path("ctx");
    context(&dir);
    build(&env, &dir, &[]);
    // One file in the middle changed, one added, one removed. The
    // directory's mtime is put back: it heads the second COPY's tar, which
    // would otherwise differ from its first byte (whole-second mtimes:
    // whether it does would depend on the clock).
    let b = dir.join("data/b");
    let mtime = std::fs::metadata(&b).unwrap().modified().unwrap();
    std::fs::write(b.join("f0200"), b"changed\n").unwrap();
    std::fs::write(b.join("f0200x"), b"new\n").unwrap();
    std::fs::remove_file(b.join("f0300")).unwrap();
    std::fs::File::open(&b)
        .unwrap()
        .set_times(std::fs::FileTimes::new().set_modified(mtime))
        .unwrap();
    let log = build(&env, &dir, &[]);
    for step in ["COPY data/ /data/", "COPY --chown=5:6 data/b/ /b/"] {
        let line = log
            .lines()
            .find(|l| l.contains(step) && l.contains("linked from the previous run"))
            .unwrap_or_else(|| panic!("{step}: no reuse line\n{log}"));
        let linked = number_after(line, "files (").unwrap();
        assert!(linked >= 398, "{step}: {linked} files linked\n{line}");
    }
    let resumed: Vec<u64> = log
        .lines()
        .filter_map(|l| number_after(l, "tar resumed from the previous write at byte "))
        .collect();
    assert_eq!(resumed.len(), 2, "both COPY layers resumed\n{log}");
    assert!(resumed.iter().all(|&r| r >= 4 << 20), "{resumed:?}");
    let got = diff_ids(&env);

    // A reused file is one inode in both snapshots of its step.
    let mut inodes = Vec::new();
    for e in std::fs::read_dir(env.root.join("snapshots")).unwrap() {
        let f = e.unwrap().path().join("fs/data/b/f0100");
        if let Ok(md) = std::fs::symlink_metadata(&f) {
            inodes.push((md.ino(), md.nlink()));
        }
    }
    assert_eq!(inodes.len(), 2, "{inodes:?}");
    assert_eq!(inodes[0], inodes[1]);
    assert_eq!(inodes[0].1, 2);

    // The same context in a fresh store, nothing reused.
    let fresh = Env::new();
    fresh.busybox("base");
    let log = build(&fresh, &dir, &["--no-cache"]);
    assert!(!log.contains("tar resumed"), "{log}");
    assert_eq!(
        got,
        diff_ids(&fresh),
        "re-run layers differ from fresh ones"
    );
}

fn blob_path(env: &Env, digest: &serde_json::Value) -> std::path::PathBuf {
    let hex = digest.as_str().unwrap().trim_start_matches("sha256:");
    env.root.join("blobs/sha256").join(hex)
}

#[test]
fn a_copy_layer_blob_is_written_when_first_needed_and_equals_the_eager_one() {
    let env = Env::new();
    env.busybox("base");
    let dir = env.path("ctx");
    context(&dir);
    build(&env, &dir, &[]);
    let layers = diff_ids(&env);
    let copies = &layers[layers.len() - 2..];
    // Built, the COPY layers are their snapshots only: no blob yet, and
    // the store is whole.
    for d in copies {
        assert!(!blob_path(&env, d).exists(), "{d} written at build time");
    }
    assert!(env.ok(["system", "check"]).contains("no problems found"));
    // `save` needs their bytes: written then, from the snapshot.
    env.ok(["save", "-o", env.path("app.tar").to_str().unwrap(), "app"]);
    let lazy: Vec<Vec<u8>> = copies
        .iter()
        .map(|d| std::fs::read(blob_path(&env, d)).unwrap())
        .collect();
    assert!(env.ok(["system", "check"]).contains("no problems found"));

    // The same build writing its blobs at build time: the same bytes.
    let eager = Env::new();
    eager.busybox("base");
    let out = eager
        .cmd(["build", "-q", "-t", "app", dir.to_str().unwrap()])
        .env("STRATA_LAYER_BLOBS", "eager")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(diff_ids(&eager), layers);
    for (d, bytes) in copies.iter().zip(&lazy) {
        let b = std::fs::read(blob_path(&eager, d)).unwrap();
        assert!(b == *bytes, "{d}: the blob written on demand differs");
    }
}
