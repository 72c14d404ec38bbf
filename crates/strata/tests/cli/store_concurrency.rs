//! Several strata processes on one root at once.

use std::process::Stdio;

use crate::support::Env;

#[test]
fn two_loads_at_once_both_succeed() {
    let src = Env::new();
    let id = src.busybox("busybox:latest");
    let tar = src.path("a.tar");
    src.ok(["save", "-o", tar.to_str().unwrap(), "busybox"]);

    let env = Env::new();
    env.ok(["images"]);
    let spawn = || {
        env.cmd(["load", "-i", tar.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn();
    let b = spawn();
    for c in [a, b] {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(env.ok(["images", "-q", "--no-trunc"]).trim(), id);
    // Exactly one snapshot for the one layer.
    let snaps = env
        .store_files()
        .iter()
        .filter(|(p, _)| {
            p.matches('/').count() == 2 && p.starts_with("snapshots/") && p.ends_with("/")
        })
        .count();
    assert_eq!(snaps, 1, "{:?}", env.store_files());
}
