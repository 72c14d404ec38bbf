//! The hostile layer of issue 2: `..`, absolute names, symlinks to `/` and
//! to `../../..` followed by writes through them, hardlinks to `/etc/passwd`
//! and through a symlinked directory. Applied inside a private mount
//! namespace whose `/` is an empty tmpfs (so a regression could only damage
//! the sandbox), it must write nothing outside the target — every file of
//! the sandbox outside the target is compared before and after — and what
//! it does write must land inside. See: issue 2, "hostile layer".

mod layer_common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use layer_common::*;
use strata_store::layer::{self, ApplyMode, ApplyOptions, LayerError};

/// Everything in the sandbox except /proc (not ours) and the targets.
fn outside(root: &Path) -> BTreeMap<String, Node> {
    describe_filtered(root, &|p| {
        p.starts_with("proc")
            || p.starts_with("work/t/target-merge")
            || p.starts_with("work/t/target-snap")
    })
}

fn setup() {
    assert!(
        !Path::new("/etc/passwd").exists() && !Path::new("/usr").exists(),
        "the sandbox root must start empty"
    );
    for d in [
        "/etc",
        "/tmp",
        "/work/t/target-merge",
        "/work/t/target-snap",
        "/work/sentinel",
    ] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write("/etc/passwd", b"root:x:0:0:sentinel\n").unwrap();
    std::fs::write("/work/outside-file", b"outside").unwrap();
    std::fs::write("/work/sentinel/keep", b"keep").unwrap();
    std::fs::write("/work/t/x", b"sentinel x").unwrap();
    stamp_times(Path::new("/work"), 1_000_000_000);
}

fn hostile() -> Vec<u8> {
    RawTar::default()
        .file("../x", b"dotdot")
        .file("../../../../../x0", b"deep dotdot")
        .file("/abs", b"absolute")
        .file("a/../../x2", b"clamped")
        .dir("../../escdir/")
        .symlink("s", "/")
        .file("s/etc/passwd", b"pwned")
        .dir("s/newdir/")
        .symlink("r", "../../../..")
        .file("r/tmp/evil", b"evil")
        .symlink("c1", "c2")
        .symlink("c2", "/../..")
        .file("c1/tmp/evil2", b"evil2")
        .hardlink("hl", "/etc/passwd")
        .symlink("sd", "/etc")
        .hardlink("hl2", "sd/passwd")
        .hardlink("hl3", "../../etc/passwd")
        .file("hl", b"written over the link, not through it")
        .file("../.wh.sentinel", b"")
        .finish()
}

fn check_target(t: &Path) {
    let read = |p: &str| std::fs::read(t.join(p)).unwrap();
    assert_eq!(read("x"), b"dotdot");
    assert_eq!(read("x0"), b"deep dotdot");
    assert_eq!(read("abs"), b"absolute");
    assert_eq!(read("x2"), b"clamped");
    assert!(t.join("escdir").is_dir());
    assert_eq!(read("etc/passwd"), b"pwned");
    assert!(t.join("newdir").is_dir());
    assert_eq!(read("tmp/evil"), b"evil");
    assert_eq!(read("tmp/evil2"), b"evil2");
    assert_eq!(std::fs::read_link(t.join("s")).unwrap().to_str(), Some("/"));
    let ino = |p: &str| std::fs::symlink_metadata(t.join(p)).unwrap().ino();
    assert_eq!(
        ino("hl2"),
        ino("etc/passwd"),
        "hardlink through symlinked dir"
    );
    assert_eq!(ino("hl3"), ino("etc/passwd"));
    assert_ne!(ino("hl"), ino("etc/passwd"), "a file entry replaces a link");
    assert_eq!(read("hl"), b"written over the link, not through it");
}

#[test]
fn layer_hostile_layer_writes_nothing_outside_the_target() {
    if skip_unless_root("hostile_layer_writes_nothing_outside_the_target") {
        return;
    }
    in_sandbox(|| {
        setup();
        let before = outside(Path::new("/"));
        assert!(before.contains_key("etc/passwd") && before.contains_key("work/t/x"));
        let tar = hostile();
        for (mode, dir) in [
            (ApplyMode::Merge, "/work/t/target-merge"),
            (ApplyMode::Snapshot, "/work/t/target-snap"),
        ] {
            let a = layer::apply_layer(&tar[..], Path::new(dir), &ApplyOptions::new(mode))
                .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
            assert_eq!(a.diff_id, strata_oci::Digest::of(&tar));
            assert_same_tree(&before, &outside(Path::new("/")));
            check_target(Path::new(dir));
        }
        // Nothing at all appeared in the sandbox root but what setup made.
        let mut top: Vec<_> = std::fs::read_dir("/")
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        top.sort();
        assert_eq!(top, ["etc", "proc", "tmp", "work"]);
        assert_eq!(std::fs::read_dir("/tmp").unwrap().count(), 0);
    });
}

#[test]
fn layer_hardlinks_to_missing_or_outside_targets_fail_cleanly() {
    if skip_unless_root("hardlinks_to_missing_or_outside_targets_fail_cleanly") {
        return;
    }
    in_sandbox(|| {
        setup();
        let before = outside(Path::new("/"));
        let cases: [(&str, Vec<u8>); 4] = [
            (
                "abs",
                RawTar::default().hardlink("l", "/etc/passwd").finish(),
            ),
            (
                "via symlink",
                RawTar::default()
                    .symlink("up", "../../..")
                    .hardlink("l", "up/work/outside-file")
                    .finish(),
            ),
            (
                "dotdot",
                RawTar::default().hardlink("l", "../outside-file").finish(),
            ),
            (
                "dir",
                RawTar::default().dir("d/").hardlink("l", "d").finish(),
            ),
        ];
        for (what, tar) in cases {
            let dir = Path::new("/work/t/target-merge");
            let err = layer::apply_layer(&tar[..], dir, &ApplyOptions::new(ApplyMode::Merge))
                .unwrap_err();
            assert!(matches!(err, LayerError::BadLink { .. }), "{what}: {err}");
            assert!(!dir.join("l").exists(), "{what}");
            assert_same_tree(&before, &outside(Path::new("/")));
        }
    });
}

/// The same hostile layer through the user-space resolver (the fallback for
/// kernels or seccomp profiles without `openat2`): re-runs the test above in
/// a child process started with `STRATA_NO_OPENAT2=1`.
#[test]
fn layer_hostile_layer_with_the_userspace_resolver() {
    if skip_unless_root("hostile_layer_with_the_userspace_resolver") {
        return;
    }
    if std::env::var_os("STRATA_NO_OPENAT2").is_some() {
        return; // we are the child; the parent runs the check
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "layer_hostile_layer_writes_nothing_outside_the_target",
            "layer_hardlinks_to_missing_or_outside_targets_fail_cleanly",
            "--test-threads=1",
        ])
        .env("STRATA_NO_OPENAT2", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("2 passed"),
        "child run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
