//! Links and the network defaults docker gives a container (issue 17):
//! `--link NAME[:ALIAS]` on the default bridge (hosts line, docker 20.10's
//! link environment), on a user network (an alias), docker's default
//! sysctls in the container's own network namespace (a non-root server
//! binds port 80), and `info --format '{{.Driver}}'`.
//!
//! The test dockerd runs with `--bridge=none`, so docker cannot make a
//! link here; the environment is compared with moby 20.10's
//! `daemon/links` format (its `links_test.go` cases are unit tests of
//! `strata_runtime::net::links`). The unprivileged bind is compared with
//! docker on `--network none`, where docker sets the same sysctls.

use crate::confinement_common::Docker;
use crate::container_common::Ctr;

/// Starts `nc -l -p 80` as the container's user and waits until the
/// kernel lists the socket listening (`/proc/net/tcp[6]`, port 0x0050,
/// state 0A): prints `listening` only when the bind worked; then the
/// sysctl docker sets.
const BIND_80: &str = "nc -l -p 80 & \
    for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do \
    grep -qs ':0050 [0-9A-F]*:0000 0A' /proc/net/tcp /proc/net/tcp6 && { echo listening; break; }; \
    kill -0 $! 2>/dev/null || break; sleep 0.2; done; \
    kill $! 2>/dev/null; cat /proc/sys/net/ipv4/ip_unprivileged_port_start";

#[test]
fn link_on_the_default_bridge_sets_hosts_and_env_as_docker() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "run",
        "-d",
        "--name",
        "db",
        "-e",
        "PASSWORD=gordon",
        "--expose",
        "6379",
        "busybox",
        "sleep",
        "300",
    ]);
    let ip = t.inspect("db", "{{.NetworkSettings.IPAddress}}");
    let db_host = t.inspect("db", "{{.Config.Hostname}}");
    assert!(!ip.is_empty());
    let out = t.ok([
        "run",
        "--rm",
        "--name",
        "web",
        "--link",
        "db:cache",
        "busybox",
        "sh",
        "-c",
        "env | grep -E '^CACHE_' | sort; grep cache /etc/hosts; ping -c1 -W5 cache >/dev/null && echo reached",
    ]);
    let mut want: Vec<String> = [
        format!("CACHE_PORT=tcp://{ip}:6379"),
        format!("CACHE_PORT_6379_TCP=tcp://{ip}:6379"),
        format!("CACHE_PORT_6379_TCP_ADDR={ip}"),
        "CACHE_PORT_6379_TCP_PORT=6379".to_string(),
        "CACHE_PORT_6379_TCP_PROTO=tcp".to_string(),
        "CACHE_NAME=/web/cache".to_string(),
        "CACHE_ENV_PASSWORD=gordon".to_string(),
    ]
    .into();
    want.sort();
    want.push(format!("{ip}\tcache {db_host} db"));
    want.push("reached".to_string());
    assert_eq!(out.lines().collect::<Vec<_>>(), want, "{out}");

    // `exec` gets the link environment too, as docker's.
    t.ok([
        "run", "-d", "--name", "web3", "--link", "db:cache", "busybox", "sleep", "300",
    ]);
    assert_eq!(
        t.ok([
            "exec",
            "web3",
            "sh",
            "-c",
            "echo $CACHE_NAME $CACHE_PORT_6379_TCP_PORT"
        ]),
        "/web3/cache 6379\n"
    );

    // The name alone is the alias; several links; `create` takes them.
    t.ok(["run", "-d", "--name", "db-2", "busybox", "sleep", "300"]);
    t.ok([
        "create",
        "--name",
        "web2",
        "--link",
        "db",
        "--link",
        "db-2:other",
        "busybox",
        "sh",
        "-c",
        "env | grep -E '^(DB|OTHER)_NAME' | sort; grep -c -w -E 'db|other' /etc/hosts",
    ]);
    assert_eq!(
        t.inspect("web2", "{{json .HostConfig.Links}}"),
        r#"["/db:/web2/db","/db-2:/web2/other"]"#
    );
    assert_eq!(
        t.ok(["start", "-a", "web2"]),
        "DB_NAME=/web2/db\nOTHER_NAME=/web2/other\n2\n"
    );

    // docker's errors: no such container, not running, host network.
    let err = t.fails_with(125, ["run", "--rm", "--link", "nope:x", "busybox", "true"]);
    assert!(err.contains("could not get container for nope"), "{err}");
    t.ok(["stop", "-t", "1", "db-2"]);
    let out = t.run(["start", "-a", "web2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("Cannot link to a non running container: /db-2 AS /web2/other"),
        "{err}"
    );
    let err = t.fails_with(
        125,
        [
            "run",
            "--rm",
            "--network",
            "host",
            "--link",
            "db",
            "busybox",
            "true",
        ],
    );
    assert!(
        err.contains("host type networking can't be used with links"),
        "{err}"
    );
}

#[test]
fn link_on_a_user_network_is_an_alias() {
    let Some(t) = Ctr::new() else { return };
    t.ok(["network", "create", "ln1"]);
    t.ok([
        "run",
        "-d",
        "--name",
        "svc",
        "--network",
        "ln1",
        "busybox",
        "sleep",
        "300",
    ]);
    let out = t.ok([
        "run",
        "--rm",
        "--network",
        "ln1",
        "--link",
        "svc:backend",
        "busybox",
        "sh",
        "-c",
        "ping -c1 -W5 backend >/dev/null && echo reached; env | grep -c BACKEND_ || true",
    ]);
    // Reached by the alias; no link environment on a user network.
    assert_eq!(out, "reached\n0\n");
    t.ok(["rm", "-f", "svc"]);
    t.ok(["network", "rm", "ln1"]);
}

#[test]
fn non_root_server_binds_port_80_as_in_docker() {
    let Some(t) = Ctr::new() else { return };
    let strata = t.ok(["run", "--rm", "-u", "65534", "busybox", "sh", "-c", BIND_80]);
    assert_eq!(strata, "listening\n0\n");
    let none = t.ok([
        "run",
        "--rm",
        "--network",
        "none",
        "-u",
        "65534",
        "busybox",
        "sh",
        "-c",
        BIND_80,
    ]);
    assert_eq!(none, strata);
    // ICMP echo sockets for every group, as docker allows.
    let range = t.ok([
        "run",
        "--rm",
        "busybox",
        "cat",
        "/proc/sys/net/ipv4/ping_group_range",
    ]);
    assert_eq!(
        range.split_whitespace().collect::<Vec<_>>(),
        ["0", "2147483647"]
    );
    // `--sysctl` still wins.
    let own = t.ok([
        "run",
        "--rm",
        "--sysctl",
        "net.ipv4.ip_unprivileged_port_start=1024",
        "busybox",
        "cat",
        "/proc/sys/net/ipv4/ip_unprivileged_port_start",
    ]);
    assert_eq!(own, "1024\n");
    let Some(d) = Docker::new("bind80") else {
        return;
    };
    let (code, out, err) = d.run(&["-u", "65534"], &["sh", "-c", BIND_80]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, strata);
}

#[test]
fn info_answers_with_dockers_field_names() {
    let Some(t) = Ctr::new() else { return };
    assert_eq!(t.ok(["info", "--format", "{{.Driver}}"]), "overlay2\n");
    t.ok(["create", "--name", "one", "busybox"]);
    assert_eq!(
        t.ok([
            "system",
            "info",
            "-f",
            "{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}} {{.Images}} {{.OSType}}"
        ]),
        "1 0 1 1 linux\n"
    );
    let root = t.ok(["info", "--format", "{{.DockerRootDir}}"]);
    assert!(!root.trim().is_empty());
    let plain = t.ok(["info"]);
    assert!(plain.contains(" Storage Driver: overlay2\n"), "{plain}");
    let err = t.fails_with(64, ["info", "--format", "{{.Driver"]);
    assert!(err.contains("Template parsing error"), "{err}");
}
