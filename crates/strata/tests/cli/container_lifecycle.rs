//! `create`/`start`/`stop`/`kill`/`rm`/`wait`/`prune`, detached containers
//! outliving the CLI (issue 4).

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::container_common::{Ctr, Spawned, container_dirs, logs_contain, mounts_under};

const LOOP: &str = "echo ready; while true; do sleep 0.1; done";

#[test]
fn stop_sends_stopsignal_then_kill() {
    let Some(t) = Ctr::new() else { return };
    // sh as PID 1 ignores SIGTERM: stop must escalate to SIGKILL.
    t.ok([
        "run", "-d", "--name", "stubborn", "busybox", "sh", "-c", LOOP,
    ]);
    let start = Instant::now();
    assert_eq!(t.ok(["stop", "-t", "1", "stubborn"]), "stubborn\n");
    assert!(start.elapsed() >= Duration::from_millis(900));
    assert_eq!(
        t.inspect(
            "stubborn",
            "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}"
        ),
        "exited 137 false"
    );

    // A trap on the stop signal gets to exit cleanly.
    t.ok([
        "run",
        "-d",
        "--name",
        "polite",
        "--stop-signal",
        "USR1",
        "busybox",
        "sh",
        "-c",
        "trap 'echo bye; exit 7' USR1; echo ready; while true; do sleep 0.1; done",
    ]);
    t.until(10, "the trap", || {
        t.ok(["logs", "polite"]).contains("ready")
    });
    t.ok(["stop", "polite"]);
    assert_eq!(t.inspect("polite", "{{.State.ExitCode}}"), "7");
    assert_eq!(t.ok(["logs", "polite"]), "ready\nbye\n");
    // Stopping a stopped container is fine.
    t.ok(["stop", "polite"]);
}

#[test]
fn kill_and_wait() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "run",
        "-d",
        "--name",
        "kk",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 9' USR2; echo ready; while true; do sleep 0.1; done",
    ]);
    t.until(10, "the trap", || t.ok(["logs", "kk"]).contains("ready"));
    assert_eq!(t.ok(["kill", "-s", "USR2", "kk"]), "kk\n");
    assert_eq!(t.ok(["wait", "kk"]), "9\n");
    let err = t.fails_with(1, ["kill", "kk"]);
    assert!(err.contains("is not running"), "{err}");
    t.ok(["run", "-d", "--name", "k2", "busybox", "sleep", "60"]);
    t.ok(["kill", "k2"]);
    assert_eq!(t.ok(["wait", "k2"]), "137\n");
    t.fails_with(1, ["wait", "no-such"]);
}

#[test]
fn rm_refuses_running_unless_forced() {
    let Some(t) = Ctr::new() else { return };
    let id = t
        .ok(["run", "-d", "--name", "busy", "busybox", "sleep", "60"])
        .trim()
        .to_string();
    let err = t.fails_with(1, ["rm", "busy"]);
    assert!(
        err.contains(&format!("You cannot remove a running container {id}")),
        "{err}"
    );
    assert_eq!(t.ok(["rm", "-f", "busy"]), "busy\n");
    assert_eq!(t.ok(["ps", "-aq"]), "");
    assert!(container_dirs(&t.env).is_empty());
    assert!(
        mounts_under(&t.env.root).is_empty(),
        "{:?}",
        mounts_under(&t.env.root)
    );
    let err = t.fails_with(1, ["rm", "busy"]);
    assert!(err.contains("No such container: busy"), "{err}");
}

#[test]
fn create_then_start() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "create",
        "--name",
        "later",
        "busybox",
        "sh",
        "-c",
        "echo started",
    ]);
    assert_eq!(t.inspect("later", "{{.State.Status}}"), "created");
    assert!(t.ok(["ps", "-a"]).contains("Created"));
    assert_eq!(t.ok(["start", "-a", "later"]), "started\n");
    assert_eq!(
        t.inspect("later", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 0"
    );
    // Restart of an exited container runs it again and logs append.
    assert_eq!(t.ok(["start", "later"]), "later\n");
    t.ok(["wait", "later"]);
    assert_eq!(t.ok(["logs", "later"]), "started\nstarted\n");
    // A created container that cannot start keeps docker's code and error.
    t.ok(["create", "--name", "broken", "busybox", "missing-binary"]);
    // docker: `start` reports the start error with exit code 1.
    let err = t.fails_with(1, ["start", "broken"]);
    assert!(err.contains("executable file not found in $PATH"), "{err}");
    assert!(
        t.inspect("broken", "{{.State.Error}}")
            .contains("missing-binary")
    );
}

#[test]
fn detached_container_survives_a_killed_cli() {
    let Some(t) = Ctr::new() else { return };
    // Foreground run, CLI killed mid-run: the container keeps running
    // under its supervisor and its state stays correct.
    let mut cli = Spawned(Some(
        t.env
            .cmd([
                "run",
                "--name",
                "orphan",
                "busybox",
                "sh",
                "-c",
                "echo ready; sleep 2; echo finished; exit 4",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    t.until(20, "the container to run", || {
        logs_contain(&t, "orphan", "ready")
    });
    let mut cli = cli.take();
    cli.kill().unwrap();
    cli.wait().unwrap();
    let ps = t.ok(["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.contains("orphan Up"), "{ps}");
    assert_eq!(t.ok(["wait", "orphan"]), "4\n");
    let ps = t.ok(["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.starts_with("orphan Exited (4)"), "{ps}");
    assert_eq!(t.ok(["logs", "orphan"]), "ready\nfinished\n");
}

#[test]
fn prune_removes_stopped_containers() {
    let Some(t) = Ctr::new() else { return };
    let a = t.ok(["create", "busybox"]).trim().to_string();
    t.ok(["run", "--name", "done", "busybox", "true"]);
    t.ok(["run", "-d", "--name", "alive", "busybox", "sleep", "60"]);
    let out = t.ok(["container", "prune", "-f"]);
    assert!(out.starts_with("Deleted Containers:\n"), "{out}");
    assert!(out.contains(&a));
    assert!(out.contains("Total reclaimed space:"));
    assert_eq!(t.ok(["ps", "-a", "--format", "{{.Names}}"]), "alive\n");
}

/// `--cidfile` as docker's: the ID written once the container exists, an
/// existing file refused before anything is made, the file removed when
/// the create fails.
#[test]
fn cidfile_holds_the_id_and_is_never_overwritten() {
    let Some(t) = Ctr::new() else { return };
    let cid = t.env.path("cid");
    let cid_s = cid.to_str().unwrap();
    let id = t.ok(["create", "--cidfile", cid_s, "busybox", "true"]);
    assert_eq!(std::fs::read_to_string(&cid).unwrap(), id.trim());
    let before = t.ok(["ps", "-aq"]);
    let err = t.fails_with(125, ["run", "--rm", "--cidfile", cid_s, "busybox", "true"]);
    assert_eq!(
        err.trim_end(),
        format!(
            "Error: container ID file found, make sure the other container isn't running or delete {cid_s}"
        )
    );
    assert_eq!(t.ok(["ps", "-aq"]), before, "nothing was created");
    let failed = t.env.path("cid-failed");
    let failed_s = failed.to_str().unwrap();
    t.fails_with(
        125,
        [
            "create",
            "--pull",
            "never",
            "--cidfile",
            failed_s,
            "no-such-image-here",
        ],
    );
    assert!(!failed.exists(), "a failed create leaves no ID file");
}

/// The prune prompt as docker's: "n" (or no answer) keeps everything, "y"
/// prunes.
#[test]
fn prune_asks_first() {
    use std::io::Write;
    let Some(t) = Ctr::new() else { return };
    t.ok(["create", "--name", "stopped", "busybox", "true"]);
    let answer = |a: &str| {
        let mut child = t
            .env
            .cmd(["container", "prune"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(a.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let out = answer("n\n");
    assert_eq!(
        out,
        "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "
    );
    assert_eq!(answer("").len(), out.len(), "no answer is a no");
    assert_eq!(t.ok(["ps", "-aq"]).lines().count(), 1);
    let out = answer("y\n");
    assert!(out.contains("Deleted Containers:\n"), "{out}");
    assert_eq!(t.ok(["ps", "-aq"]), "");
}
