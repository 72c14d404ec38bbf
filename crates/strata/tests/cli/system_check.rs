//! `system check [--repair]`: a clean store passes; a corrupt blob, a
//! deleted snapshot directory, orphan directories, dangling records and a
//! leftover mount are each reported (exit 1); `--repair` fixes what is safe,
//! says what it cannot fix, and the store checks clean afterwards.
//! See: issue 11 ("`strata system check [--repair]`").

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::build_common::{build_ok, context};
use crate::support::{Env, is_root};

fn blobs(env: &Env) -> BTreeSet<String> {
    fs::read_dir(env.root.join("blobs/sha256"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

fn snapshot_dirs(env: &Env) -> BTreeSet<String> {
    fs::read_dir(env.root.join("snapshots"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

fn check(env: &Env, args: &[&str]) -> (i32, String) {
    let mut a = vec!["system", "check"];
    a.extend_from_slice(args);
    let out = env.run(&a);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Unmounts on drop, so a failing test leaves no mount behind.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .stderr(std::process::Stdio::null())
            .status();
    }
}

#[test]
fn check_reports_each_problem_and_repair_fixes_what_is_safe() {
    let env = Env::new();
    env.busybox("base");
    let (code, out) = check(&env, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no problems found"), "{out}");

    // Build something whose results only the build cache keeps.
    let before = blobs(&env);
    let snaps_before = snapshot_dirs(&env);
    let dir = context(
        &env,
        "ctx",
        &[
            (
                "Dockerfile",
                "FROM base\nCOPY a.txt /a.txt\nLABEL x=1\nLABEL y=2\n",
            ),
            ("a.txt", "hello\n"),
        ],
    );
    build_ok(&env, &dir, &["-t", "built"]);
    env.ok(["rmi", "built"]);
    let (code, out) = check(&env, &[]);
    assert_eq!(code, 0, "the build cache alone is consistent: {out}");

    // 1. A corrupt blob only the build cache uses.
    let cache_blob = blobs(&env)
        .difference(&before)
        .next()
        .cloned()
        .expect("the build stored a config");
    let p = env.root.join("blobs/sha256").join(&cache_blob);
    let mut bytes = fs::read(&p).unwrap();
    bytes[0] ^= 0x20;
    fs::write(&p, bytes).unwrap();
    // 2. The COPY layer's snapshot directory, deleted.
    let snap = snapshot_dirs(&env)
        .difference(&snaps_before)
        .next()
        .cloned()
        .expect("the COPY made a snapshot");
    fs::remove_dir_all(env.root.join("snapshots").join(&snap)).unwrap();
    // 3. Orphan directories.
    let orphan_id = "f".repeat(64);
    fs::create_dir_all(env.root.join("containers").join(&orphan_id).join("upper/x")).unwrap();
    fs::create_dir_all(env.root.join("snapshots/9999/fs")).unwrap();
    // 4. A dangling record: a container whose directory is gone.
    let cid = env
        .ok(["create", "--name", "gone", "base"])
        .trim()
        .to_string();
    fs::remove_dir_all(env.root.join("containers").join(&cid)).unwrap();
    // 5. A mount left under an orphan container directory (root only).
    let _mounted = is_root().then(|| {
        let mp = env.root.join("containers").join(&orphan_id).join("rootfs");
        fs::create_dir_all(&mp).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "strata-check-test"])
            .arg(&mp)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount a tmpfs for the test");
        Mounted(mp)
    });

    let (code, out) = check(&env, &[]);
    assert_eq!(code, 1, "{out}");
    for want in [
        format!("blob sha256:{cache_blob}: its content hashes to"),
        format!("snapshot {snap} ("),
        "its directory is missing".to_string(),
        format!("containers/{orphan_id}: a directory without a container record"),
        "snapshots/9999: a directory without a record (garbage)".to_string(),
        format!("container {} (gone): its directory is missing", &cid[..12]),
        "build cache record".to_string(),
    ] {
        assert!(out.contains(&want), "check names {want:?}:\n{out}");
    }
    if is_root() {
        assert!(out.contains("/rootfs (tmpfs): left mounted"), "{out}");
    }
    assert!(out.contains("problem(s) found"), "{out}");

    let (code, out) = check(&env, &["--repair"]);
    assert_eq!(code, 0, "everything here is repairable:\n{out}");
    assert!(out.contains("repaired"), "{out}");
    assert!(!out.contains("cannot repair"), "{out}");
    let (code, out) = check(&env, &[]);
    assert_eq!(code, 0, "clean after the repair: {out}");
    assert!(out.contains("no problems found"), "{out}");
    assert!(!env.root.join("containers").join(&orphan_id).exists());
    assert!(!Path::new(&env.root.join("snapshots/9999")).exists());
    // The store still works: the image is there, the build runs again.
    env.ok(["image", "inspect", "base"]);
    build_ok(&env, &dir, &["-t", "built"]);
    let (code, out) = check(&env, &[]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn a_corrupt_image_blob_is_reported_but_not_repaired() {
    let env = Env::new();
    env.busybox("base");
    let id = env.ok(["images", "-q", "--no-trunc", "base"]);
    let hex = id.trim().trim_start_matches("sha256:").to_string();
    let p = env.root.join("blobs/sha256").join(&hex);
    let mut bytes = fs::read(&p).unwrap();
    bytes.push(b' ');
    fs::write(&p, bytes).unwrap();
    let (code, out) = check(&env, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("blob sha256:{hex}: its content hashes to")),
        "{out}"
    );
    let (code, out) = check(&env, &["--repair"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("cannot repair: image ") && out.contains("needs it"),
        "{out}"
    );
    assert!(p.exists(), "an image's config is never deleted by a repair");
}
