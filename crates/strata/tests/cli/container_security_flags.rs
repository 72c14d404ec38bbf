//! docker's confinement flags: `-u` IDs out of range, `--ulimit`,
//! `--sysctl`, `--shm-size`, `--ipc`, `--pid`, `--device`, `--userns`,
//! `--cgroupns`, read-only cgroups, and the `HostConfig` fields `inspect`
//! shows for them. See: issue 9.

use crate::container_common::Ctr;

const RANGE: &str = "uids and gids must be in range 0-2147483647";

#[test]
fn ids_docker_rejects_are_rejected() {
    // `-u 4294967295` is -1 to setresuid: "no change", i.e. root.
    let Some(t) = Ctr::new() else { return };
    for user in ["4294967295", "-1", "2147483648", "0:4294967295"] {
        let err = t.fails_with(125, ["run", "--rm", "-u", user, "busybox", "id", "-u"]);
        assert!(err.contains(RANGE), "-u {user}: {err}");
    }
    assert_eq!(
        t.ok(["run", "--rm", "-u", "2147483647", "busybox", "id", "-u"]),
        "2147483647\n"
    );
    // create accepts it, start refuses (docker's order).
    t.ok([
        "create",
        "--name",
        "big",
        "-u",
        "4294967295",
        "busybox",
        "id",
    ]);
    let out = t.run(["start", "-a", "big"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains(RANGE));
    t.ok(["run", "-d", "--name", "ex", "busybox", "sleep", "60"]);
    let err = t.fails_with(126, ["exec", "-u", "4294967295", "ex", "id", "-u"]);
    assert!(err.contains(RANGE), "{err}");
    let err = t.fails_with(126, ["exec", "-u", "0:-5", "ex", "id", "-u"]);
    assert!(err.contains(RANGE), "{err}");
}

#[test]
fn ulimits_apply_and_cannot_exceed_our_own() {
    let Some(t) = Ctr::new() else { return };
    let out = t.ok([
        "run",
        "--rm",
        "--ulimit",
        "nofile=512:512",
        "--ulimit",
        "nproc=100:200",
        "busybox",
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn; ulimit -u",
    ]);
    assert_eq!(out, "512\n512\n100\n");
    let err = t.fails_with(
        125,
        [
            "run",
            "--rm",
            "--ulimit",
            "nofile=1024:512",
            "busybox",
            "true",
        ],
    );
    assert!(
        err.contains("ulimit soft limit must be less than or equal to hard limit: 1024 > 512"),
        "{err}"
    );
    // Above strata's own hard limit: fine with CAP_SYS_RESOURCE, a clear
    // error without (this VM has neither the capability nor more than
    // 20000 files).
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let hard: u64 = match limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4))
        .and_then(|h| h.parse().ok())
    {
        Some(h) => h,
        None => return, // unlimited: nothing to exceed
    };
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let bnd = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:\t"))
        .unwrap();
    let has_sys_resource = u64::from_str_radix(bnd, 16).unwrap() & (1 << 24) != 0;
    let above = format!("nofile={}:{}", hard + 1, hard + 1);
    let out = t.run([
        "run",
        "--rm",
        "--ulimit",
        &above,
        "busybox",
        "sh",
        "-c",
        "ulimit -Hn",
    ]);
    if has_sys_resource {
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{}\n", hard + 1)
        );
    } else {
        assert_eq!(out.status.code(), Some(125));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "cannot raise the hard limit above strata's own ({hard})"
            )),
            "{err}"
        );
    }
}

#[test]
fn sysctls_shm_and_devices() {
    let Some(t) = Ctr::new() else { return };
    let out = t.ok([
        "run", "--rm", "--network", "none", "--sysctl", "kernel.shmmax=1048576", "--sysctl",
        "fs.mqueue.msg_max=20", "--shm-size", "1m", "--device", "/dev/null:/dev/mynull",
        "busybox", "sh", "-c",
        "cat /proc/sys/kernel/shmmax /proc/sys/fs/mqueue/msg_max; df -k /dev/shm | tail -1 | awk '{print $2}'; \
         ls -l /dev/mynull | cut -c1; echo x > /dev/mynull && echo wrote",
    ]);
    assert_eq!(out, "1048576\n20\n1024\nc\nwrote\n");
    let err = t.fails_with(
        125,
        [
            "run",
            "--rm",
            "--sysctl",
            "kernel.domainname=x",
            "busybox",
            "true",
        ],
    );
    assert!(
        err.contains("sysctl 'kernel.domainname=x' is not whitelisted"),
        "{err}"
    );
    let err = t.fails_with(
        125,
        [
            "run",
            "--rm",
            "--network",
            "host",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "busybox",
            "true",
        ],
    );
    assert!(
        err.contains("sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace"),
        "{err}"
    );
    let err = t.fails_with(
        125,
        [
            "run",
            "--rm",
            "--ipc",
            "host",
            "--sysctl",
            "kernel.shmmax=1",
            "busybox",
            "true",
        ],
    );
    assert!(
        err.contains("is not allowed in the hosts ipc namespace"),
        "{err}"
    );
    let err = t.fails_with(
        125,
        [
            "run",
            "--rm",
            "--device",
            "/dev/nope-strata",
            "busybox",
            "true",
        ],
    );
    assert!(
        err.contains("error gathering device information while adding custom device \"/dev/nope-strata\": no such file or directory"),
        "{err}"
    );
    let err = t.fails_with(
        125,
        [
            "run",
            "--rm",
            "--device",
            "/dev/null:/dev/x:rwx",
            "busybox",
            "true",
        ],
    );
    assert!(err.contains("bad mode specified: rwx"), "{err}");
    let err = t.fails_with(125, ["run", "--rm", "--shm-size", "-1", "busybox", "true"]);
    assert!(err.contains("invalid size: '-1'"), "{err}");
    // The default /dev/shm is docker's 64 MiB.
    assert_eq!(
        t.ok([
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "df -k /dev/shm | tail -1 | awk '{print $2}'"
        ]),
        "65536\n"
    );
}

/// `readlink /proc/self/ns/<ns>` in a command's output.
fn ns_of(t: &Ctr, name: &str, ns: &str) -> String {
    t.ok(["exec", name, "readlink", &format!("/proc/self/ns/{ns}")])
}

#[test]
fn ipc_and_pid_namespaces_are_shared_as_docker_shares_them() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "run",
        "-d",
        "--name",
        "donor",
        "--ipc",
        "shareable",
        "busybox",
        "sh",
        "-c",
        "echo shared > /dev/shm/x; exec sleep 60",
    ]);
    t.until(10, "donor's shm file", || {
        t.run(["exec", "donor", "cat", "/dev/shm/x"])
            .status
            .success()
    });
    let donor_ipc = ns_of(&t, "donor", "ipc");
    let donor_pid = ns_of(&t, "donor", "pid");
    let out = t.ok([
        "run",
        "--rm",
        "--ipc",
        "container:donor",
        "--pid",
        "container:donor",
        "busybox",
        "sh",
        "-c",
        "readlink /proc/self/ns/ipc; readlink /proc/self/ns/pid; cat /dev/shm/x; cat /proc/1/comm",
    ]);
    assert_eq!(out, format!("{donor_ipc}{donor_pid}shared\nsleep\n"));
    // docker 20.10: only a shareable donor's IPC can be joined.
    t.ok(["run", "-d", "--name", "private", "busybox", "sleep", "60"]);
    let err = t.fails_with(
        125,
        [
            "run",
            "--rm",
            "--ipc",
            "container:private",
            "busybox",
            "true",
        ],
    );
    assert!(
        err.contains("non-shareable IPC (hint: use IpcMode:shareable for the donor container)"),
        "{err}"
    );
    t.ok(["create", "--name", "stopped", "busybox", "true"]);
    let err = t.fails_with(
        125,
        [
            "run",
            "--rm",
            "--pid",
            "container:stopped",
            "busybox",
            "true",
        ],
    );
    assert!(err.contains("is not running"), "{err}");
    let err = t.fails_with(
        125,
        ["run", "--rm", "--pid", "container:nope", "busybox", "true"],
    );
    assert!(err.contains("No such container: nope"), "{err}");
    let host_ipc = std::fs::read_link("/proc/self/ns/ipc").unwrap();
    let out = t.ok([
        "run",
        "--rm",
        "--ipc",
        "host",
        "busybox",
        "readlink",
        "/proc/self/ns/ipc",
    ]);
    assert_eq!(out.trim(), host_ipc.display().to_string());
    let out = t.ok([
        "run",
        "--rm",
        "--ipc",
        "none",
        "busybox",
        "sh",
        "-c",
        "ls /dev/shm 2>&1 | head -1",
    ]);
    assert!(
        out.contains("No such file or directory") || out.is_empty(),
        "{out}"
    );
    for (flag, value, msg) in [
        ("--ipc", "bogus", "Invalid IPC mode: bogus"),
        ("--pid", "private", "--pid: invalid PID mode"),
        ("--userns", "private", "--userns: invalid USER mode"),
        ("--cgroupns", "bogus", "--cgroupns: invalid CGROUP mode"),
    ] {
        let err = t.fails_with(125, ["run", "--rm", flag, value, "busybox", "true"]);
        assert!(err.contains(msg), "{flag} {value}: {err}");
    }
    t.ok(["run", "--rm", "--userns", "host", "busybox", "true"]);
    // The donor's /dev/shm tmpfs goes when it stops.
    let shm_mounts = || {
        let root = t.env.root.display().to_string();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
            .filter(|mp| mp.starts_with(&root) && mp.ends_with("/shm"))
            .count()
    };
    assert_eq!(shm_mounts(), 1);
    t.ok(["rm", "-f", "donor"]);
    assert_eq!(shm_mounts(), 0);
}

#[test]
fn cgroup_limits_cannot_be_lifted_from_inside() {
    let Some(t) = Ctr::new() else { return };
    let script = "for f in /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max \
        /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; do \
        [ -e $f ] || continue; (echo -1 > $f) 2>/dev/null && echo \"$f writable\"; cat $f; done";
    for flags in [&[][..], &["--cgroupns", "private"], &["--cgroupns", "host"]] {
        let mut a = vec!["run", "--rm", "--memory", "64m", "--pids-limit", "50"];
        a.extend_from_slice(flags);
        a.extend_from_slice(&["busybox", "sh", "-c", script]);
        let out = t.ok(a);
        assert!(!out.contains("writable"), "{flags:?}: {out}");
        assert!(
            out.contains("67108864\n"),
            "{flags:?}: the memory limit shows: {out}"
        );
        assert!(
            out.contains("50\n"),
            "{flags:?}: the pids limit shows: {out}"
        );
    }
    let out = t.ok([
        "run",
        "--rm",
        "--cgroupns",
        "private",
        "busybox",
        "sh",
        "-c",
        "cat /proc/self/cgroup | grep -c ':/$'; readlink /proc/self/ns/cgroup",
    ]);
    let host_ns = std::fs::read_link("/proc/self/ns/cgroup").unwrap();
    assert!(!out.contains(&host_ns.display().to_string()), "{out}");
    assert_ne!(out.lines().next(), Some("0"), "{out}");
}

#[test]
fn inspect_shows_the_flags_in_dockers_fields() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "create",
        "--name",
        "insp",
        "--cap-add",
        "net_admin",
        "--cap-drop",
        "CHOWN",
        "--security-opt",
        "no-new-privileges",
        "--security-opt",
        "seccomp=unconfined",
        "--device",
        "/dev/null:/dev/mynull",
        "--ulimit",
        "nofile=512:1024",
        "--sysctl",
        "kernel.shmmax=1048576",
        "--shm-size",
        "1m",
        "--network",
        "none",
        "busybox",
        "sh",
    ]);
    let f = "{{.HostConfig.IpcMode}} {{.HostConfig.ShmSize}} pid={{.HostConfig.PidMode}} u={{.HostConfig.UsernsMode}} {{json .HostConfig.CapAdd}} {{json .HostConfig.CapDrop}} {{json .HostConfig.SecurityOpt}} {{json .HostConfig.Devices}} {{json .HostConfig.Ulimits}} {{json .HostConfig.Sysctls}} {{.HostConfig.Privileged}}";
    assert_eq!(
        t.inspect("insp", f),
        r#"private 1048576 pid= u= ["CAP_NET_ADMIN"] ["CAP_CHOWN"] ["no-new-privileges","seccomp=unconfined"] [{"PathOnHost":"/dev/null","PathInContainer":"/dev/mynull","CgroupPermissions":"rwm"}] [{"Name":"nofile","Hard":1024,"Soft":512}] {"kernel.shmmax":"1048576"} false"#
    );
    t.ok(["create", "--name", "plain", "busybox", "sh"]);
    let cgroupns = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "private"
    } else {
        "host"
    };
    assert_eq!(
        t.inspect("plain", "{{.HostConfig.IpcMode}} {{.HostConfig.ShmSize}} {{.HostConfig.CgroupnsMode}} {{json .HostConfig.CapAdd}} {{json .HostConfig.Devices}} {{json .HostConfig.Ulimits}} {{.HostConfig.Privileged}}"),
        format!("private 67108864 {cgroupns} null [] null false")
    );
    t.ok(["create", "--name", "priv", "--privileged", "busybox", "sh"]);
    assert_eq!(
        t.inspect(
            "priv",
            "{{.HostConfig.Privileged}} {{json .HostConfig.SecurityOpt}}"
        ),
        r#"true ["label=disable"]"#
    );
}
