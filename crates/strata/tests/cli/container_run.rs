//! `strata run`: output, exit codes, env, names, hostname, users, mounts,
//! stdin, signals, `--rm` (issue 4).

use std::process::Stdio;

use crate::container_common::{Ctr, Spawned, container_dirs, logs_contain};
use crate::support::skip;

#[test]
fn output_and_exit_code_pass_through() {
    let Some(t) = Ctr::new() else { return };
    let out = t.run([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    assert_eq!(
        t.ok(["run", "--rm", "busybox", "echo", "hello", "world"]),
        "hello world\n"
    );
}

#[test]
fn env_follows_dockers_rules() {
    let Some(t) = Ctr::new() else { return };
    let env_file = t.env.path("env.list");
    std::fs::write(&env_file, "# comment\nFROM_FILE=1\nOVERRIDE=file\n").unwrap();
    let out = t
        .env
        .cmd([
            "run",
            "--rm",
            "--env-file",
            env_file.to_str().unwrap(),
            "-e",
            "OVERRIDE=flag",
            "-e",
            "FROM_HOST",
            "-e",
            "UNSET_ON_HOST",
            "-e",
            "FOO=bar",
            "busybox",
            "env",
        ])
        .env("FROM_HOST", "host value")
        .env_remove("UNSET_ON_HOST")
        .output()
        .unwrap();
    assert!(out.status.success());
    let env = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = env.lines().collect();
    assert_eq!(
        lines[0],
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    );
    assert!(lines[1].starts_with("HOSTNAME="), "{env}");
    for want in [
        "FROM_FILE=1",
        "OVERRIDE=flag",
        "FROM_HOST=host value",
        "FOO=bar",
        "HOME=/root",
    ] {
        assert!(lines.contains(&want), "{want} missing in\n{env}");
    }
    assert!(!env.contains("UNSET_ON_HOST"), "{env}");
    assert!(!env.contains("OVERRIDE=file"), "later wins: {env}");
    assert!(!env.contains("TERM="), "no TERM without -t: {env}");
}

#[test]
fn hostname_is_the_short_id_or_the_flag() {
    let Some(t) = Ctr::new() else { return };
    let id = t.ok([
        "run",
        "-d",
        "--name",
        "named",
        "busybox",
        "sh",
        "-c",
        "hostname; cat /etc/hostname; echo $HOSTNAME",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64);
    assert_eq!(t.ok(["wait", "named"]).trim(), "0");
    let short = &id[..12];
    assert_eq!(
        t.ok(["logs", "named"]),
        format!("{short}\n{short}\n{short}\n")
    );
    assert_eq!(
        t.inspect("named", "{{.Name}} {{.Config.Hostname}}"),
        format!("/named {short}")
    );
    let out = t.ok([
        "run",
        "--rm",
        "-h",
        "web",
        "busybox",
        "sh",
        "-c",
        "hostname; echo $HOSTNAME",
    ]);
    assert_eq!(out, "web\nweb\n");
}

#[test]
fn names_are_unique_validated_and_random_by_default() {
    let Some(t) = Ctr::new() else { return };
    let id = t
        .ok(["create", "--name", "web-ping", "busybox"])
        .trim()
        .to_string();
    let err = t.fails_with(125, ["run", "--name", "web-ping", "busybox", "true"]);
    assert!(
        err.contains(&format!(
            "Conflict. The container name \"/web-ping\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
        )),
        "{err}"
    );
    let err = t.fails_with(125, ["run", "--name", "bad name", "busybox", "true"]);
    assert!(
        err.contains(
            "Invalid container name (bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        ),
        "{err}"
    );
    t.ok(["create", "busybox"]);
    let names = t.ok(["ps", "-a", "--format", "{{.Names}}"]);
    let random = names.lines().find(|n| *n != "web-ping").unwrap();
    let (adj, surname) = random.split_once('_').expect("adjective_surname");
    assert!(!adj.is_empty() && !surname.is_empty());
    t.ok(["rename", "web-ping", "web-pong"]);
    assert!(
        t.ok(["ps", "-a", "--format", "{{.Names}}"])
            .contains("web-pong")
    );
}

#[test]
fn entrypoint_user_and_workdir() {
    let Some(t) = Ctr::new() else { return };
    assert_eq!(
        t.ok(["run", "--rm", "--entrypoint", "echo", "busybox", "a", "b"]),
        "a b\n"
    );
    assert_eq!(
        t.ok([
            "run",
            "--rm",
            "--entrypoint",
            "",
            "busybox",
            "echo",
            "reset"
        ]),
        "reset\n"
    );
    assert_eq!(
        t.ok(["run", "--rm", "-u", "nobody", "busybox", "id"]),
        "uid=65534(nobody) gid=65534(nobody) groups=65534(nobody)\n"
    );
    assert_eq!(
        t.ok(["run", "--rm", "-u", "1234:0", "busybox", "id", "-u"]),
        "1234\n"
    );
    // A missing working directory is created, owned by the user.
    assert_eq!(
        t.ok([
            "run",
            "--rm",
            "-u",
            "nobody",
            "-w",
            "/srv/app",
            "busybox",
            "sh",
            "-c",
            "pwd; touch x && echo writable"
        ]),
        "/srv/app\nwritable\n"
    );
}

#[test]
fn network_none_has_only_loopback() {
    let Some(t) = Ctr::new() else { return };
    assert_eq!(
        t.ok([
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "ls",
            "/sys/class/net"
        ]),
        "lo\n"
    );
    // A private network by default (issue 9; see container_network.rs).
    assert_eq!(
        t.ok(["run", "--rm", "busybox", "ls", "/sys/class/net"]),
        "eth0\nlo\n"
    );
    let err = t.fails_with(
        125,
        ["run", "--rm", "--network", "mybridge", "busybox", "true"],
    );
    assert!(err.contains("network mybridge not found"), "{err}");
}

#[test]
fn read_only_volumes_and_tmpfs() {
    let Some(t) = Ctr::new() else { return };
    let data = t.env.path("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("in.txt"), "from host\n").unwrap();
    let vol = format!("{}:/data", data.display());
    let out = t.ok([
        "run",
        "--rm",
        "-v",
        &vol,
        "busybox",
        "sh",
        "-c",
        "cat /data/in.txt; echo back > /data/out.txt",
    ]);
    assert_eq!(out, "from host\n");
    assert_eq!(
        std::fs::read_to_string(data.join("out.txt")).unwrap(),
        "back\n"
    );
    let ro = format!("{}:/data:ro", data.display());
    let out = t.run(["run", "--rm", "-v", &ro, "busybox", "touch", "/data/x"]);
    assert_eq!(out.status.code(), Some(1));
    let out = t.run(["run", "--rm", "--read-only", "busybox", "touch", "/x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Read-only file system"));
    let out = t.ok([
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/scratch:size=1m",
        "busybox",
        "sh",
        "-c",
        "echo ok > /scratch/f && cat /scratch/f",
    ]);
    assert_eq!(out, "ok\n");
}

#[test]
fn rm_flag_removes_everything() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "run",
        "--rm",
        "--name",
        "gone",
        "busybox",
        "sh",
        "-c",
        "echo x > /file",
    ]);
    assert_eq!(t.ok(["ps", "-aq"]), "");
    assert!(
        container_dirs(&t.env).is_empty(),
        "{:?}",
        container_dirs(&t.env)
    );
    // Also when the command cannot start.
    t.fails_with(127, ["run", "--rm", "busybox", "nope"]);
    assert_eq!(t.ok(["ps", "-aq"]), "");
    assert!(container_dirs(&t.env).is_empty());
}

/// A foreground `run --rm` runs its container from the CLI's own process
/// (no supervisor): it must still be a container like any other while it
/// runs — listed, logged, confined, reachable by `exec` and `stop` — and
/// be gone, with its exit code passed on, once it ends.
#[test]
fn a_foreground_rm_run_is_a_container_like_any_other() {
    let Some(t) = Ctr::new() else { return };
    let mut child = Spawned(Some(
        t.env
            .cmd([
                "run",
                "--rm",
                "--name",
                "fg",
                "busybox",
                "sh",
                "-c",
                "trap 'echo got TERM; exit 7' TERM; echo ready; while true; do sleep 0.1; done",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    t.until(20, "the container to start", || {
        logs_contain(&t, "fg", "ready")
    });
    assert_eq!(t.ok(["ps", "--format", "{{.Names}}"]), "fg\n");
    assert_eq!(t.inspect("fg", "{{.State.Running}}"), "true");
    // Both the container's process and an exec'd one are confined.
    for pid in ["1", "self"] {
        let status = t.ok(["exec", "fg", "cat", &format!("/proc/{pid}/status")]);
        assert!(status.contains("Seccomp:\t2"), "/proc/{pid}: {status}");
        // The capabilities the filter was loaded with are dropped again.
        for caps in ["CapEff", "CapPrm", "CapBnd"] {
            assert!(
                status.contains(&format!("{caps}:\t00000000a80425fb")),
                "/proc/{pid}: {status}"
            );
        }
    }
    t.ok(["stop", "fg"]);
    let out = child.take().wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ready\ngot TERM\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(t.ok(["ps", "-aq"]), "");
    assert!(container_dirs(&t.env).is_empty());
}

#[test]
fn stdin_with_i() {
    let Some(t) = Ctr::new() else { return };
    let out = t.env.run_stdin(
        [
            "run",
            "--rm",
            "-i",
            "busybox",
            "sh",
            "-c",
            "tr a-z A-Z; echo done",
        ],
        b"hello\n",
    );
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "HELLO\ndone\n");
    // Without -i the container's stdin is empty.
    let out = t
        .env
        .run_stdin(["run", "--rm", "busybox", "cat"], b"ignored\n");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
}

#[test]
fn signals_are_forwarded() {
    let Some(t) = Ctr::new() else { return };
    let mut child = Spawned(Some(
        t.env
            .cmd([
                "run",
                "--name",
                "sig",
                "busybox",
                "sh",
                "-c",
                "trap 'echo got TERM; exit 5' TERM; echo ready; while true; do sleep 0.1; done",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    t.until(20, "the container to start", || {
        logs_contain(&t, "sig", "ready")
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.child().id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = child.take().wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("got TERM"));
}

#[test]
fn init_runs_docker_init_as_pid_1() {
    let Some(t) = Ctr::new() else { return };
    let have_init = [
        "/usr/bin/docker-init",
        "/usr/bin/tini-static",
        "/usr/sbin/docker-init",
    ]
    .iter()
    .any(|p| std::path::Path::new(p).is_file());
    if !have_init {
        return skip("no docker-init or tini-static on this host (apt install tini)");
    }
    // PID 1 is the init; the command runs as its child and its exit code
    // passes through.
    let out = t.run([
        "run",
        "--rm",
        "--init",
        "busybox",
        "sh",
        "-c",
        "tr '\\0' ' ' </proc/1/cmdline; echo; echo $$; exit 4",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{stdout}");
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some("/sbin/docker-init -- sh -c tr '\\0' ' ' </proc/1/cmdline; echo; echo $$; exit 4 ")
    );
    assert_ne!(lines.next(), Some("1"), "the shell is not PID 1");
    // Without --init the command is PID 1.
    assert_eq!(
        t.ok(["run", "--rm", "busybox", "sh", "-c", "echo $$"]),
        "1\n"
    );
}
