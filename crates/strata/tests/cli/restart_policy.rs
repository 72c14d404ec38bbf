//! `--restart` policies run by the supervisor, `restart`, and how `stop`
//! and `kill` end a policy, as docker's daemon does (issue 10).

use std::time::Duration;

use crate::container_common::Ctr;

/// `RestartCount`, `State.Status`, `State.ExitCode`, `State.Restarting`.
fn state(t: &Ctr, name: &str) -> (u32, String, i32, bool) {
    let s = t.inspect(
        name,
        "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}} {{.State.Restarting}}",
    );
    let f: Vec<&str> = s.split(' ').collect();
    (
        f[0].parse().unwrap(),
        f[1].to_string(),
        f[2].parse().unwrap(),
        f[3] == "true",
    )
}

#[test]
fn on_failure_restarts_exactly_n_times() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "echo run; exit 3",
    ]);
    assert_eq!(
        t.inspect("flaky", "{{json .HostConfig.RestartPolicy}}"),
        r#"{"Name":"on-failure","MaximumRetryCount":2}"#
    );
    // docker's `wait` returns at an exit even when a restart follows.
    assert_eq!(t.ok(["wait", "flaky"]), "3\n");
    t.until(30, "two restarts, then exited", || {
        state(&t, "flaky") == (2, "exited".into(), 3, false)
    });
    // Past the next backoff (400 ms) it is still exited: no third restart.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(state(&t, "flaky"), (2, "exited".into(), 3, false));
    assert_eq!(t.ok(["logs", "flaky"]), "run\nrun\nrun\n");
    // A success is never restarted by on-failure.
    t.ok([
        "run",
        "-d",
        "--name",
        "fine",
        "--restart",
        "on-failure",
        "busybox",
        "true",
    ]);
    t.until(20, "exited", || state(&t, "fine").1 == "exited");
    assert_eq!(state(&t, "fine"), (0, "exited".into(), 0, false));
}

#[test]
fn always_restarts_until_stop_and_start_resets_the_count() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "run",
        "-d",
        "--name",
        "again",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "echo up; sleep 0.2",
    ]);
    t.until(30, "three runs: two restarts after clean exits", || {
        t.ok(["logs", "again"]).lines().count() >= 3
    });
    assert_eq!(t.ok(["stop", "again"]), "again\n");
    let (count, status, _, restarting) = state(&t, "again");
    assert_eq!((status.as_str(), restarting), ("exited", false));
    assert_eq!(
        t.inspect("again", "{{.State.Running}}"),
        "false",
        "stop ends the policy"
    );
    // Stays stopped past several backoffs.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(state(&t, "again").0, count);
    assert_eq!(state(&t, "again").1, "exited");
    assert!(count >= 2, "{count} restarts");

    // A manual start begins afresh: the count is back to 0, and the policy
    // applies again.
    t.ok(["start", "again"]);
    let (count, _, _, _) = state(&t, "again");
    assert!(count <= 1, "count after start: {count}");
    t.until(30, "restarts after start", || state(&t, "again").0 >= 1);
    t.ok(["stop", "-t", "1", "again"]);
    assert_eq!(state(&t, "again").1, "exited");
}

#[test]
fn ps_and_inspect_show_restarting_and_stop_ends_the_wait() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "run",
        "-d",
        "--name",
        "crashy",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "exit 2",
    ]);
    // The backoff doubles (100 ms, 200 ms, …): the waits get long enough to
    // be seen.
    let mut seen = String::new();
    t.until(30, "ps showing Restarting (2)", || {
        seen = t.ok([
            "ps",
            "-a",
            "--filter",
            "name=crashy",
            "--format",
            "{{.Status}}|{{.State}}",
        ]);
        seen.starts_with("Restarting (2) ") && seen.trim_end().ends_with("|restarting")
    });
    let s = t.inspect(
        "crashy",
        "{{.State.Running}} {{.State.Restarting}} {{.State.Pid}} {{.State.ExitCode}}",
    );
    let (_, _, _, restarting) = state(&t, "crashy");
    if restarting {
        assert_eq!(s, "true true 0 2");
    }
    // stop during a backoff: no process to signal, the wait is called off.
    t.until(30, "a restarting state to stop", || state(&t, "crashy").3);
    assert_eq!(t.ok(["stop", "crashy"]), "crashy\n");
    let (count, status, code, restarting) = state(&t, "crashy");
    assert_eq!((status.as_str(), code, restarting), ("exited", 2, false));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(state(&t, "crashy").0, count, "no restart after stop");
    assert!(
        t.ok([
            "ps",
            "-a",
            "--filter",
            "name=crashy",
            "--format",
            "{{.Status}}"
        ])
        .starts_with("Exited (2) ")
    );
}

#[test]
fn kill_ends_unless_stopped_but_not_always() {
    let Some(t) = Ctr::new() else { return };
    let script = "trap 'exit 5' USR1; echo ready; while true; do sleep 0.1; done";
    for (name, policy) in [("us", "unless-stopped"), ("al", "always")] {
        t.ok([
            "run",
            "-d",
            "--name",
            name,
            "--restart",
            policy,
            "busybox",
            "sh",
            "-c",
            script,
        ]);
        t.until(10, "the trap", || t.ok(["logs", name]).contains("ready"));
        t.ok(["kill", "-s", "USR1", name]);
    }
    // docker: a kill makes unless-stopped stay down…
    t.until(20, "unless-stopped exited", || {
        state(&t, "us").1 == "exited"
    });
    assert_eq!(state(&t, "us"), (0, "exited".into(), 5, false));
    // …while always starts again (only SIGKILL or the stop signal end it).
    t.until(20, "always restarted", || {
        let (count, status, _, _) = state(&t, "al");
        count == 1 && status == "running"
    });
    t.ok(["kill", "al"]);
    t.until(20, "killed for good", || state(&t, "al").1 == "exited");
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(state(&t, "al"), (1, "exited".into(), 137, false));
}

#[test]
fn restart_policy_errors_are_dockers() {
    let Some(t) = Ctr::new() else { return };
    let err = t.fails_with(
        125,
        ["run", "--rm", "--restart", "always", "busybox", "true"],
    );
    assert!(
        err.contains("conflicting options: cannot specify both --restart and --rm"),
        "{err}"
    );
    let cases = [
        ("foo", "invalid restart policy 'foo'"),
        (
            "on-failure:x",
            "invalid restart policy format: maximum retry count must be an integer",
        ),
        (
            "always:3",
            "maximum retry count cannot be used with restart policy 'always'",
        ),
        ("on-failure:-1", "maximum retry count cannot be negative"),
    ];
    for (policy, want) in cases {
        let err = t.fails_with(125, ["create", "--restart", policy, "busybox", "true"]);
        assert!(err.contains(want), "{policy}: {err}");
    }
    // `--rm` with `--restart no` is fine.
    t.ok(["run", "--rm", "--restart", "no", "busybox", "true"]);
    assert_eq!(t.ok(["ps", "-aq"]), "");
}

#[test]
fn restart_stops_then_starts() {
    let Some(t) = Ctr::new() else { return };
    t.ok(["run", "-d", "--name", "r1", "busybox", "sleep", "1000"]);
    let before = t.inspect("r1", "{{.State.Pid}} {{.State.StartedAt}}");
    assert_eq!(t.ok(["restart", "-t", "0", "r1"]), "r1\n");
    let after = t.inspect("r1", "{{.State.Pid}} {{.State.StartedAt}}");
    assert_ne!(before, after);
    assert_eq!(
        t.inspect("r1", "{{.State.Status}} {{.RestartCount}}"),
        "running 0"
    );
    // A stopped container is just started; an unknown one fails alone.
    t.ok(["stop", "-t", "0", "r1"]);
    let out = t.env.run(["restart", "--time", "0", "r1", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "r1\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Error response from daemon: No such container: nosuch"),
        "{err}"
    );
    assert_eq!(t.inspect("r1", "{{.State.Status}}"), "running");
    t.ok(["rm", "-f", "r1"]);
}

#[test]
fn rm_force_of_a_restarting_container() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "run",
        "-d",
        "--name",
        "loop",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ]);
    // During a backoff, docker's daemon refuses rm, exec and pause with
    // its "restarting" messages (moby daemon/delete.go, exec.go,
    // pause.go); while the process runs, with the "running" ones. The
    // backoff doubles, so the restarting state is soon the usual one.
    let id = t.inspect("loop", "{{.Id}}");
    let restarting_rm = format!(
        "You cannot remove a restarting container {id}. Stop the container before attempting removal or force remove"
    );
    let running_rm = restarting_rm.replace("a restarting", "a running");
    let is_restarting =
        format!("Container {id} is restarting, wait until the container is running");
    for (args, other) in [
        (vec!["rm", "loop"], running_rm.clone()),
        (vec!["exec", "loop", "true"], String::new()),
        (vec!["pause", "loop"], String::new()),
    ] {
        let want = if args[0] == "rm" {
            &restarting_rm
        } else {
            &is_restarting
        };
        t.until(30, &format!("{} refused as restarting", args[0]), || {
            let out = t.run(&args);
            let err = String::from_utf8_lossy(&out.stderr).to_string();
            if err.contains(want.as_str()) {
                assert_eq!(out.status.code(), Some(1), "{err}");
                return true;
            }
            // Caught between two runs: refused as running, or (exec, pause)
            // done in the short run.
            assert!(
                other.is_empty() || err.contains(&other) || out.status.success(),
                "{err}"
            );
            if args[0] == "pause" && out.status.success() {
                t.run(["unpause", "loop"]);
            }
            false
        });
    }
    assert_eq!(t.ok(["rm", "-f", "loop"]), "loop\n");
    assert_eq!(t.ok(["ps", "-aq"]), "");
}
