//! `update`: limits and restart policy of running and stopped containers,
//! seen in the container's cgroup, in `inspect`, and by the next start
//! (issue 10).

use crate::container_common::Ctr;

/// Prints a cgroup file of the container, v1 or v2 spelling.
fn cgroup_file(t: &Ctr, name: &str, v1: &str, v2: &str) -> String {
    let script = format!("cat /sys/fs/cgroup/{v1} 2>/dev/null || cat /sys/fs/cgroup/{v2}");
    t.ok(["exec", name, "sh", "-c", &script]).trim().to_string()
}

fn memory_limit(t: &Ctr, name: &str) -> String {
    cgroup_file(t, name, "memory/memory.limit_in_bytes", "memory.max")
}

#[test]
fn update_changes_a_running_containers_cgroup_and_inspect() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "run", "-d", "--name", "lim", "-m", "64m", "busybox", "sleep", "1000",
    ]);
    assert_eq!(memory_limit(&t, "lim"), (64u64 << 20).to_string());
    assert_eq!(
        t.inspect("lim", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}"),
        format!("{} {}", 64u64 << 20, 128u64 << 20)
    );
    assert_eq!(t.ok(["update", "--memory", "100m", "lim"]), "lim\n");
    assert_eq!(memory_limit(&t, "lim"), (100u64 << 20).to_string());
    assert_eq!(
        t.inspect("lim", "{{.HostConfig.Memory}}"),
        (100u64 << 20).to_string()
    );
    // docker: above the recorded memory+swap without --memory-swap.
    let err = t.fails_with(1, ["update", "--memory", "256m", "lim"]);
    assert!(
        err.contains("Cannot update container")
            && err.contains(
                "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"
            ),
        "{err}"
    );
    t.ok([
        "update",
        "--memory",
        "256m",
        "--memory-swap",
        "512m",
        "--pids-limit",
        "20",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "lim",
    ]);
    assert_eq!(memory_limit(&t, "lim"), (256u64 << 20).to_string());
    assert_eq!(cgroup_file(&t, "lim", "pids/pids.max", "pids.max"), "20");
    let quota = cgroup_file(&t, "lim", "cpu/cpu.cfs_quota_us", "cpu.max");
    assert!(quota == "50000" || quota == "50000 100000", "{quota}");
    assert_eq!(
        t.inspect(
            "lim",
            "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}}"
        ),
        format!("{} {} 20 500000000 512", 256u64 << 20, 512u64 << 20)
    );
    // The container really is held to it: more than 20 processes fail.
    let out = t.run([
        "exec",
        "lim",
        "sh",
        "-c",
        "for i in $(seq 1 40); do sleep 5 & done; wait",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("fork") || !out.status.success(),
        "40 processes under pids.max 20"
    );
}

#[test]
fn update_of_a_stopped_container_applies_at_its_start() {
    let Some(t) = Ctr::new() else { return };
    t.ok(["create", "--name", "later", "busybox", "sleep", "1000"]);
    assert_eq!(
        t.ok(["update", "--memory", "80m", "--memory-swap", "-1", "later"]),
        "later\n"
    );
    assert_eq!(
        t.inspect("later", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}"),
        format!("{} -1", 80u64 << 20)
    );
    t.ok(["start", "later"]);
    assert_eq!(memory_limit(&t, "later"), (80u64 << 20).to_string());
    t.ok(["rm", "-f", "later"]);
}

#[test]
fn update_restart_policy_applies_from_the_next_exit() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "run",
        "-d",
        "--name",
        "pol",
        "busybox",
        "sh",
        "-c",
        "while [ ! -f /tmp/go ]; do sleep 0.05; done; rm /tmp/go; exit 4",
    ]);
    assert_eq!(
        t.ok(["update", "--restart", "on-failure:1", "pol"]),
        "pol\n"
    );
    assert_eq!(
        t.inspect("pol", "{{json .HostConfig.RestartPolicy}}"),
        r#"{"Name":"on-failure","MaximumRetryCount":1}"#
    );
    t.ok(["exec", "pol", "touch", "/tmp/go"]);
    t.until(20, "one restart", || {
        t.inspect("pol", "{{.RestartCount}} {{.State.Status}}") == "1 running"
    });
    t.ok(["exec", "pol", "touch", "/tmp/go"]);
    t.until(20, "exited after its one retry", || {
        t.inspect(
            "pol",
            "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}",
        ) == "1 exited 4"
    });
}

#[test]
fn update_errors_are_dockers() {
    let Some(t) = Ctr::new() else { return };
    t.ok(["create", "--name", "u1", "busybox", "true"]);
    let err = t.fails_with(1, ["update", "u1"]);
    assert!(
        err.contains("you must provide one or more flags when using this command"),
        "{err}"
    );
    let err = t.fails_with(1, ["update", "--memory", "1m", "u1"]);
    assert!(err.contains("Minimum memory limit allowed is 6MB"), "{err}");
    let err = t.fails_with(
        1,
        ["update", "--memory", "64m", "--memory-swap", "32m", "u1"],
    );
    assert!(
        err.contains("Minimum memoryswap limit should be larger than memory limit, see usage"),
        "{err}"
    );
    // One unknown container fails alone.
    let out = t.run(["update", "--restart", "always", "u1", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "u1\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such container: nosuch"));
    // --rm containers keep no restart policy.
    t.ok([
        "run", "-d", "--rm", "--name", "gone", "busybox", "sleep", "1000",
    ]);
    let err = t.fails_with(1, ["update", "--restart", "always", "gone"]);
    assert!(
        err.contains(
            "Restart policy cannot be updated because AutoRemove is enabled for the container"
        ),
        "{err}"
    );
    t.ok(["rm", "-f", "gone"]);
}
