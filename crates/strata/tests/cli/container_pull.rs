//! `run`/`create` of an image the store lacks pull it as docker does
//! (`--pull missing|always|never`), with `pull`'s progress on stderr.
//! See: issue 10.

use crate::container_common::Ctr;
use crate::support::registry::unique_repo;
use crate::support::{self, Env, skip};

/// Pushes a busybox from one store to the test registry; returns its name.
fn pushed_busybox(what: &str) -> Option<String> {
    let Some(reg) = support::registry() else {
        skip("no test registry (STRATA_TEST_REGISTRY; scripts/test.sh starts one)");
        return None;
    };
    let src = Env::new();
    src.busybox("bb");
    let name = format!("{reg}/{}", unique_repo(what));
    src.ok(["tag", "bb", &name]);
    src.ok(["push", &name]);
    Some(name)
}

#[test]
fn container_run_of_an_absent_image_pulls_it() {
    let Some(name) = pushed_busybox("runpull") else {
        return;
    };
    let Some(t) = Ctr::new() else { return };
    // A store without it (Ctr's store has `busybox` only).
    let out = t.run(["run", "--rm", &name, "echo", "hello from pulled"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "hello from pulled\n", "the pull stays off stdout");
    let tagged = format!("{name}:latest");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(format!("Unable to find image '{tagged}' locally").as_str()),
        "{stderr}"
    );
    assert!(lines[1].starts_with("latest: Pulling from "), "{stderr}");
    assert!(stderr.contains("Pull complete"), "{stderr}");
    assert!(stderr.contains("Digest: sha256:"), "{stderr}");
    assert!(
        stderr.contains(&format!("Status: Downloaded newer image for {tagged}")),
        "{stderr}"
    );
    assert!(!stderr.contains("Using default tag"), "{stderr}");
    // Now it is there: no pull at all.
    let out = t.run(["run", "--rm", &name, "true"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");

    // --pull always pulls even then (up to date), without "Unable to find".
    let out = t.run(["create", "--pull", "always", "-n", "pulled", &name]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("Status: Image is up to date for"),
        "{stderr}"
    );
    assert!(!stderr.contains("Unable to find"), "{stderr}");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(id.len(), 64, "create prints only the ID: {id:?}");
    // `-n` is `--name` (the seed chapter's spelling).
    assert_eq!(t.inspect("pulled", "{{.Id}}"), id);
}

#[test]
fn container_run_pull_never_fails_like_docker() {
    let Some(name) = pushed_busybox("pullnever") else {
        return;
    };
    let Some(t) = Ctr::new() else { return };
    let err = t.fails_with(125, ["run", "--rm", "--pull", "never", &name, "true"]);
    assert_eq!(
        err.trim_end(),
        format!("Error: No such image: {name}:latest"),
        "no pull was tried"
    );
    let err = t.fails_with(125, ["create", "--pull=never", &name]);
    assert!(err.contains("No such image"), "{err}");
    let err = t.fails_with(125, ["run", "--pull", "sometimes", "busybox", "true"]);
    assert!(
        err.contains(
            r#"invalid pull option: 'sometimes': must be one of "always", "missing" or "never""#
        ),
        "{err}"
    );
    // The absent image was not pulled by any of them.
    assert!(t.run(["image", "inspect", &name]).status.code() == Some(1));
    // A registry that does not have it: docker's 125 after the attempt.
    let missing = format!("{name}-not-pushed");
    let err = t.fails_with(125, ["run", "--rm", &missing, "true"]);
    assert!(err.contains("Unable to find image"), "{err}");
}
