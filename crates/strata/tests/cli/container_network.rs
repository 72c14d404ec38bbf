//! Container networking (issue 9): a private network namespace per
//! container by default, `-p`/`-P`/`port`, `--network
//! none|host|container:NAME|<user network>`, user networks with name
//! resolution and isolation, DNS and hosts flags, no way to the host's
//! loopback, outbound access through pasta, and nothing left behind.
//! Every bridge lives in the store root's infra namespace; the tests
//! publish on 127.0.0.1 only and send traffic only there, to their own
//! containers, and (one test) to a package registry.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::container_common::{Ctr, Spawned};
use crate::support::{docker, sh, skip, which};

/// A port number free on 127.0.0.1 right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP/1.0 GET on 127.0.0.1:port; the whole answer, or None.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(2),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    (!out.is_empty()).then_some(out)
}

/// Polls `http_get` until the answer contains `want`.
fn wait_http(port: u16, path: &str, want: &str) -> String {
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(body) = http_get(port, path)
            && body.contains(want)
        {
            return body;
        }
        assert!(
            Instant::now() < end,
            "no answer with {want:?} on 127.0.0.1:{port}{path}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

const UDP_ECHO: &str = "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('0.0.0.0', 9999))\nwhile True:\n    d, a = s.recvfrom(65536)\n    s.sendto(d, a)\n";

const HTTPD: &str =
    "mkdir -p /www && echo hello-$HOSTNAME > /www/index.html && exec httpd -f -p 8080 -h /www";

/// Interface names in a `/proc/net/dev` listing.
fn interfaces(dev: &str) -> BTreeSet<String> {
    dev.lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|s| s.trim().to_string())
        .collect()
}

#[test]
fn publish_tcp_udp_and_port() {
    let Some(t) = Ctr::new() else { return };
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:8080");
    t.ok([
        "run", "-d", "--name", "web", "-p", &publish, "busybox", "sh", "-c", HTTPD,
    ]);
    let id = t.inspect("web", "{{.Id}}");
    let body = wait_http(port, "/index.html", "hello-");
    assert!(body.contains(&format!("hello-{}", &id[..12])), "{body}");

    assert_eq!(
        t.ok(["port", "web"]),
        format!("8080/tcp -> 127.0.0.1:{port}\n")
    );
    assert_eq!(t.ok(["port", "web", "8080"]), format!("127.0.0.1:{port}\n"));
    assert_eq!(
        t.ok(["container", "port", "web", "8080/tcp"]),
        format!("127.0.0.1:{port}\n")
    );
    let err = t.fails_with(1, ["port", "web", "81"]);
    assert!(
        err.contains("No public port '81/tcp' published for web"),
        "{err}"
    );
    assert_eq!(
        t.ok(["ps", "--format", "{{.Ports}}|{{.Networks}}"]),
        format!("127.0.0.1:{port}->8080/tcp|bridge\n")
    );
    let ns: Value = serde_json::from_str(&t.inspect("web", "{{json .NetworkSettings}}")).unwrap();
    assert_eq!(ns["Ports"]["8080/tcp"][0]["HostIp"], "127.0.0.1");
    assert_eq!(ns["Ports"]["8080/tcp"][0]["HostPort"], port.to_string());
    assert_eq!(ns["Gateway"], "172.17.0.1");
    assert_eq!(ns["IPPrefixLen"], 16);
    let ip = ns["IPAddress"].as_str().unwrap();
    assert!(ip.starts_with("172.17."), "{ns}");
    let mac = format!(
        "02:42:{}",
        ip.split('.')
            .map(|o| format!("{:02x}", o.parse::<u8>().unwrap()))
            .collect::<Vec<_>>()
            .join(":")
    );
    assert_eq!(ns["MacAddress"], mac.as_str());
    assert_eq!(ns["Networks"]["bridge"]["IPAddress"], ip);
    assert_eq!(ns["Networks"]["bridge"]["Aliases"], Value::Null);
    assert_eq!(
        t.inspect(
            "web",
            "{{.HostConfig.NetworkMode}} {{json .HostConfig.PortBindings}}"
        ),
        format!("default {{\"8080/tcp\":[{{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"{port}\"}}]}}")
    );
    // The container's own address in its /etc/hosts, as docker writes it.
    let hosts = t.ok(["exec", "web", "cat", "/etc/hosts"]);
    assert!(
        hosts.ends_with(&format!("{ip}\t{}\n", &id[..12])),
        "{hosts}"
    );

    // A taken port fails the start, as docker's.
    let err = t.fails_with(125, ["run", "--rm", "-p", &publish, "busybox", "true"]);
    assert!(err.contains("port is already allocated"), "{err}");

    // UDP (busybox has no UDP server: a python echo server runs in the
    // container's network namespace).
    let uport = free_port();
    let upub = format!("127.0.0.1:{uport}:9999/udp");
    t.ok([
        "run", "-d", "--name", "udp", "-p", &upub, "busybox", "sleep", "300",
    ]);
    let pid = t.inspect("udp", "{{.State.Pid}}");
    let echo = std::process::Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .args(["python3", "-c", UDP_ECHO])
        .spawn()
        .expect("nsenter python3");
    let _echo = Spawned(Some(echo));
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 64];
    t.until(15, "the echo of a datagram through the proxy", || {
        sock.send_to(b"ping-udp", ("127.0.0.1", uport)).unwrap();
        matches!(sock.recv_from(&mut buf), Ok((8, _))) && &buf[..8] == b"ping-udp"
    });
    assert_eq!(
        t.ok(["port", "udp"]),
        format!("9999/udp -> 127.0.0.1:{uport}\n")
    );

    // Stopped: no ports any more.
    t.ok(["stop", "-t", "1", "web"]);
    assert_eq!(t.ok(["port", "web"]), "");
    assert!(
        http_get(port, "/").is_none(),
        "the proxy died with the container"
    );
    assert_eq!(t.inspect("web", "{{.NetworkSettings.IPAddress}}"), "");
}

#[test]
fn publish_all_exposed_ports() {
    let Some(t) = Ctr::new() else { return };
    let tar = crate::support::busybox_rootfs_tar();
    t.ok([
        "image",
        "import",
        "--change",
        "EXPOSE 8080",
        tar.to_str().unwrap(),
        "exposed",
    ]);
    t.ok([
        "run", "-d", "--name", "pa", "-P", "exposed", "sh", "-c", HTTPD,
    ]);
    let line = t.ok(["port", "pa", "8080"]);
    let first = line.lines().next().unwrap_or_default();
    let (ip, port) = first.rsplit_once(':').expect("IP:PORT");
    assert_eq!(ip, "0.0.0.0", "{line}");
    let port: u16 = port.parse().unwrap();
    assert!(port > 0);
    wait_http(port, "/index.html", "hello-");
    let ports = t.ok(["ps", "--format", "{{.Ports}}"]);
    assert!(
        ports.contains(&format!("0.0.0.0:{port}->8080/tcp")),
        "{ports}"
    );
    assert_eq!(
        t.inspect("pa", "{{json .Config.ExposedPorts}}"),
        r#"{"8080/tcp":{}}"#
    );
    assert_eq!(t.inspect("pa", "{{.HostConfig.PublishAllPorts}}"), "true");
}

#[test]
fn network_modes_give_the_interfaces_docker_gives() {
    let Some(t) = Ctr::new() else { return };
    let host = interfaces(&std::fs::read_to_string("/proc/net/dev").unwrap());
    let own = interfaces(&t.ok(["run", "--rm", "busybox", "cat", "/proc/net/dev"]));
    assert_eq!(own, BTreeSet::from(["lo".to_string(), "eth0".to_string()]));
    let none = interfaces(&t.ok([
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "cat",
        "/proc/net/dev",
    ]));
    assert_eq!(none, BTreeSet::from(["lo".to_string()]));
    let on_host = interfaces(&t.ok([
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "cat",
        "/proc/net/dev",
    ]));
    assert_eq!(on_host, host, "--network host sees the host's interfaces");
    assert_eq!(
        t.ok([
            "run",
            "--rm",
            "--network",
            "bridge",
            "busybox",
            "ls",
            "/sys/class/net"
        ]),
        "eth0\nlo\n"
    );

    // container:NAME shares the other's namespace, files and name.
    t.ok(["run", "-d", "--name", "base", "busybox", "sleep", "300"]);
    let ip = t.inspect("base", "{{.NetworkSettings.IPAddress}}");
    let mine = t.ok([
        "run",
        "--rm",
        "--network",
        "container:base",
        "busybox",
        "sh",
        "-c",
        "cat /sys/class/net/eth0/address; hostname; tail -1 /etc/hosts",
    ]);
    let base_id = t.inspect("base", "{{.Id}}");
    assert_eq!(
        mine,
        format!(
            "{}\n{}\n{ip}\t{}\n",
            t.inspect("base", "{{.NetworkSettings.MacAddress}}"),
            &base_id[..12],
            &base_id[..12]
        )
    );
    let err = t.fails_with(
        125,
        [
            "run",
            "--rm",
            "--network",
            "container:base",
            "-p",
            "80",
            "busybox",
            "true",
        ],
    );
    assert!(
        err.contains("conflicting options: port publishing"),
        "{err}"
    );
    let err = t.fails_with(
        125,
        [
            "run",
            "--rm",
            "--network",
            "container:nope",
            "busybox",
            "true",
        ],
    );
    assert!(err.contains("No such container: nope"), "{err}");
    let err = t.fails_with(125, ["run", "--rm", "--network", "nope", "busybox", "true"]);
    assert!(err.contains("network nope not found"), "{err}");
    let err = t.fails_with(125, ["run", "--rm", "-p", "99999:80", "busybox", "true"]);
    assert!(err.contains("Invalid hostPort: 99999"), "{err}");
    assert_eq!(t.inspect("base", "{{.HostConfig.NetworkMode}}"), "default");
}

#[test]
fn user_networks_resolve_names_and_stay_apart() {
    let Some(t) = Ctr::new() else { return };
    let n1 = t.ok(["network", "create", "n1"]).trim().to_string();
    assert_eq!(n1.len(), 64);
    t.ok([
        "network",
        "create",
        "--subnet",
        "10.55.0.0/24",
        "--label",
        "k=v",
        "n2",
    ]);
    t.ok([
        "run",
        "-d",
        "--name",
        "a1",
        "--network",
        "n1",
        "--network-alias",
        "alpha",
        "busybox",
        "sleep",
        "300",
    ]);
    t.ok([
        "run",
        "-d",
        "--name",
        "a2",
        "--network",
        "n1",
        "busybox",
        "sh",
        "-c",
        HTTPD,
    ]);
    t.ok([
        "run",
        "-d",
        "--name",
        "b1",
        "--network",
        "n2",
        "--ip",
        "10.55.0.77",
        "busybox",
        "sleep",
        "300",
    ]);

    // By name and alias on the same network, as in docker.
    t.until(15, "a1 resolving a2", || {
        t.run(["exec", "a1", "ping", "-c1", "-W2", "a2"])
            .status
            .success()
    });
    t.ok(["exec", "a2", "ping", "-c1", "-W2", "alpha"]);
    t.ok(["exec", "a2", "ping", "-c1", "-W2", "a1"]);
    let a2_id = t.inspect("a2", "{{.Id}}");
    let page = t.ok(["exec", "a1", "wget", "-qO-", "http://a2:8080/index.html"]);
    assert_eq!(page, format!("hello-{}\n", &a2_id[..12]));
    let resolv = t.ok(["exec", "a1", "cat", "/etc/resolv.conf"]);
    assert_eq!(resolv, "nameserver 172.18.0.1\noptions ndots:0\n");

    // Not across networks, neither by name nor by address.
    let a1_ip = t.inspect("a1", "{{.NetworkSettings.Networks.n1.IPAddress}}");
    assert!(a1_ip.starts_with("172.18.0."), "{a1_ip}");
    assert!(
        !t.run(["exec", "b1", "ping", "-c1", "-W2", "a1"])
            .status
            .success()
    );
    assert!(
        !t.run(["exec", "b1", "ping", "-c1", "-W2", &a1_ip])
            .status
            .success()
    );
    assert_eq!(
        t.inspect("b1", "{{.NetworkSettings.Networks.n2.IPAddress}}"),
        "10.55.0.77"
    );

    // The default bridge: addresses, but no names (as docker).
    t.ok(["run", "-d", "--name", "d1", "busybox", "sleep", "300"]);
    let d1_ip = t.inspect("d1", "{{.NetworkSettings.IPAddress}}");
    t.ok(["run", "--rm", "busybox", "ping", "-c1", "-W2", &d1_ip]);
    assert!(
        !t.run(["run", "--rm", "busybox", "ping", "-c1", "-W2", "d1"])
            .status
            .success()
    );

    // inspect and ls as docker shows them.
    let net: Value = serde_json::from_str(&t.ok(["network", "inspect", "n1"])).unwrap();
    let n = &net[0];
    assert_eq!(n["Name"], "n1");
    assert_eq!(n["Id"], n1.as_str());
    assert_eq!(n["IPAM"]["Config"][0]["Subnet"], "172.18.0.0/16");
    assert_eq!(n["IPAM"]["Config"][0]["Gateway"], "172.18.0.1");
    let members: Vec<&str> = n["Containers"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["Name"].as_str().unwrap())
        .collect();
    assert_eq!(members.len(), 2, "{members:?}");
    let aliases = t.inspect("a1", "{{json .NetworkSettings.Networks.n1.Aliases}}");
    let a1_id = t.inspect("a1", "{{.Id}}");
    assert_eq!(aliases, format!("[\"alpha\",\"{}\"]", &a1_id[..12]));
    assert_eq!(
        t.ok([
            "network",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Internal}} {{.Labels}}"
        ]),
        "bridge bridge false \nhost host false \nn1 bridge false \nn2 bridge false k=v\nnone null false \n"
    );
    assert_eq!(
        t.ok(["network", "ls", "-q", "-f", "type=custom"])
            .lines()
            .count(),
        2
    );

    // In use: not removable; stopped: removable.
    let out = t.run(["network", "rm", "n1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has active endpoints"));
    t.ok(["rm", "-f", "a1", "a2"]);
    assert_eq!(t.ok(["network", "rm", "n1"]), "n1\n");
    let out = t.run(["network", "rm", "n1"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: No such network: n1\n"
    );
}

#[test]
fn connect_and_disconnect() {
    let Some(t) = Ctr::new() else { return };
    t.ok(["network", "create", "cn"]);
    t.ok([
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "cn",
        "busybox",
        "sleep",
        "300",
    ]);
    t.ok(["run", "-d", "--name", "cli", "busybox", "sleep", "300"]);
    assert!(
        !t.run(["exec", "cli", "ping", "-c1", "-W2", "srv"])
            .status
            .success()
    );
    t.ok(["network", "connect", "--alias", "client", "cn", "cli"]);
    assert_eq!(
        t.ok(["exec", "cli", "ls", "/sys/class/net"]),
        "eth0\neth1\nlo\n"
    );
    // Names resolve for containers whose DNS is the network's (cli
    // started on the default bridge keeps the host's resolver, as in
    // docker); addresses work both ways.
    t.ok(["exec", "srv", "ping", "-c1", "-W2", "client"]);
    let srv_ip = t.inspect("srv", "{{.NetworkSettings.Networks.cn.IPAddress}}");
    t.ok(["exec", "cli", "ping", "-c1", "-W2", &srv_ip]);
    let out = t.run(["network", "connect", "cn", "cli"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists in network cn"));
    t.ok(["network", "disconnect", "cn", "cli"]);
    assert_eq!(t.ok(["exec", "cli", "ls", "/sys/class/net"]), "eth0\nlo\n");
    let out = t.run(["network", "disconnect", "cn", "cli"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not connected to network cn"));

    // A created container joins at start.
    t.ok(["create", "--name", "later", "busybox", "sleep", "300"]);
    t.ok(["network", "connect", "cn", "later"]);
    t.ok(["network", "disconnect", "bridge", "later"]);
    t.ok(["start", "later"]);
    assert_eq!(
        t.ok(["exec", "later", "ls", "/sys/class/net"]),
        "eth0\nlo\n"
    );
    t.ok(["exec", "later", "ping", "-c1", "-W2", "srv"]);
    assert_eq!(
        t.ok(["ps", "--filter", "name=later", "--format", "{{.Networks}}"]),
        "cn\n"
    );
}

#[test]
fn dns_and_hosts_flags() {
    let Some(t) = Ctr::new() else { return };
    let out = t.ok([
        "run",
        "--rm",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.com",
        "--dns-option",
        "ndots:2",
        "--add-host",
        "db.local:10.1.2.3",
        "--hostname",
        "hh",
        "--domainname",
        "example.org",
        "busybox",
        "sh",
        "-c",
        "cat /etc/resolv.conf; tail -2 /etc/hosts; hostname",
    ]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("search example.com"));
    assert_eq!(lines.next(), Some("nameserver 192.0.2.53"));
    assert_eq!(lines.next(), Some("options ndots:2"));
    assert_eq!(lines.next(), Some("10.1.2.3\tdb.local"));
    let own = lines.next().unwrap_or_default();
    assert!(
        own.starts_with("172.17.") && own.ends_with("\thh.example.org hh"),
        "{out}"
    );
    assert_eq!(lines.next(), Some("hh"));
    let err = t.fails_with(
        125,
        ["run", "--rm", "--add-host", "nohost", "busybox", "true"],
    );
    assert!(err.contains("bad format for add-host"), "{err}");
}

#[test]
fn the_hosts_loopback_is_out_of_reach() {
    let Some(t) = Ctr::new() else { return };
    // A server on the host's loopback that must never see a connection.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    t.ok(["run", "-d", "--name", "probe", "busybox", "sh", "-c", HTTPD]);
    // nc works from here: the container reaches its own server…
    t.until(15, "the container's own httpd", || {
        t.run(["exec", "probe", "nc", "-w", "2", "127.0.0.1", "8080"])
            .status
            .success()
    });
    // …but not the host's loopback, through the gateway or the host's
    // addresses.
    let mut targets = vec!["172.17.0.1".to_string()];
    let addrs =
        sh(std::process::Command::new("ip").args(["-4", "-o", "addr", "show", "scope", "global"]));
    for l in addrs.lines() {
        if let Some(a) = l
            .split_whitespace()
            .nth(3)
            .and_then(|a| a.split('/').next())
        {
            targets.push(a.to_string());
        }
    }
    for a in &targets {
        let out = t.run(["exec", "probe", "nc", "-w", "2", a, &port.to_string()]);
        assert!(
            !out.status.success(),
            "{a}:{port} reachable from the container"
        );
    }
    assert!(
        matches!(l.accept(), Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the host's loopback server saw a connection"
    );
}

#[test]
fn outbound_access_goes_through_pasta() {
    let Some(t) = Ctr::new() else { return };
    // The one outside destination allowed here: a package registry.
    let url = "http://deb.debian.org/debian/dists/bookworm/Release";
    let Some(bb) = which("busybox") else {
        return skip("busybox is not installed");
    };
    let host = std::process::Command::new(bb)
        .args(["wget", "-q", "-S", "--spider", url])
        .output()
        .unwrap();
    if !host.status.success() {
        return skip("this machine itself cannot reach deb.debian.org");
    }
    let out = t.run(["run", "--rm", "busybox", "wget", "-S", "--spider", url]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("200 OK"), "{err}");
}

/// The key paths of a JSON document (`IPAM.Config[]`, …).
fn shape(v: &Value, at: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{at}.{k}");
                out.insert(p.clone());
                shape(x, &p, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                shape(x, &format!("{at}[]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn network_output_has_dockers_layout() {
    let Some(t) = Ctr::new() else { return };
    let ls = t.ok(["network", "ls", "--filter", "name=none"]);
    let mut lines = ls.lines();
    assert_eq!(
        lines.next(),
        Some("NETWORK ID     NAME      DRIVER    SCOPE")
    );
    let row = lines.next().unwrap_or_default();
    assert!(row.ends_with("   none      null      local"), "{row}");
    let inspect: Value = serde_json::from_str(&t.ok(["network", "inspect", "bridge"])).unwrap();
    assert_eq!(inspect[0]["IPAM"]["Config"][0]["Subnet"], "172.17.0.0/16");
    assert_eq!(
        inspect[0]["Options"]["com.docker.network.bridge.name"],
        "docker0"
    );
    // Against docker 20.10 (its test daemon has no bridge: compare the
    // networks it has, never create one there).
    let Some(mut d) = docker() else {
        return skip("no docker daemon to compare with");
    };
    let theirs = sh(d.args([
        "network",
        "ls",
        "--filter",
        "name=none",
        "--format",
        "table {{.Name}}\t{{.Driver}}\t{{.Scope}}\t{{.IPv6}}\t{{.Internal}}",
    ]));
    let ours = t.ok([
        "network",
        "ls",
        "--filter",
        "name=none",
        "--format",
        "table {{.Name}}\t{{.Driver}}\t{{.Scope}}\t{{.IPv6}}\t{{.Internal}}",
    ]);
    assert_eq!(ours, theirs);
    let mut d = docker().unwrap();
    let theirs: Value = serde_json::from_str(&sh(d.args(["network", "inspect", "none"]))).unwrap();
    let ours: Value = serde_json::from_str(&t.ok(["network", "inspect", "none"])).unwrap();
    let (mut a, mut b) = (BTreeSet::new(), BTreeSet::new());
    shape(&theirs, "", &mut a);
    shape(&ours, "", &mut b);
    assert_eq!(b, a);
    let keys = |v: &Value| -> Vec<String> { v[0].as_object().unwrap().keys().cloned().collect() };
    assert_eq!(keys(&ours), keys(&theirs), "same fields in the same order");
}

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(needle) {
            out.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
        }
    }
    out
}

/// The children (recursively) of `pid`.
fn descendants(pid: &str) -> Vec<String> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let kids = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for k in kids.split_whitespace() {
            out.push(k.to_string());
            out.extend(descendants(k));
        }
    }
    out
}

#[test]
fn the_infra_namespace_goes_with_the_last_container() {
    let Some(t) = Ctr::new() else { return };
    let root = t.env.root.display().to_string();
    t.ok(["network", "create", "ln"]);
    let port = free_port();
    t.ok([
        "run",
        "-d",
        "--name",
        "l1",
        "--network",
        "ln",
        "-p",
        &format!("127.0.0.1:{port}:8080"),
        "busybox",
        "sh",
        "-c",
        HTTPD,
    ]);
    t.ok(["run", "-d", "--name", "l2", "busybox", "sleep", "300"]);
    wait_http(port, "/index.html", "hello-");
    let infra = processes_mentioning(&format!("__shim infra {root} "));
    assert_eq!(infra.len(), 1, "one infra process per root: {infra:?}");
    let infra_pid = infra[0].split(':').next().unwrap().to_string();
    let kids: Vec<String> = descendants(&infra_pid)
        .iter()
        .map(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default())
        .collect();
    assert!(
        kids.iter()
            .any(|c| c.starts_with("passt") || c.starts_with("pasta")),
        "{kids:?}"
    );
    assert!(kids.iter().any(|c| c.starts_with("aardvark")), "{kids:?}");
    assert_eq!(
        processes_mentioning("__shim proxy")
            .iter()
            .filter(|p| {
                let pid = p.split(':').next().unwrap();
                std::fs::read_to_string(format!("/proc/{pid}/status"))
                    .unwrap_or_default()
                    .lines()
                    .any(|l| {
                        l.starts_with("PPid:") && {
                            let ppid = l.split_whitespace().nth(1).unwrap_or_default();
                            std::fs::read_to_string(format!("/proc/{ppid}/cmdline"))
                                .unwrap_or_default()
                                .contains(&root)
                        }
                    })
            })
            .count(),
        1,
        "one proxy for l1"
    );
    let watched: Vec<String> = std::iter::once(infra_pid.clone())
        .chain(descendants(&infra_pid))
        .collect();

    // One container gone: the other still uses the namespace.
    t.ok(["rm", "-f", "l1"]);
    assert!(std::path::Path::new(&format!("/proc/{infra_pid}")).exists());
    t.ok(["exec", "l2", "ping", "-c1", "-W2", "172.17.0.1"]);
    t.ok(["rm", "-f", "l2"]);

    // The last one gone: infra, pasta, aardvark-dns, proxies gone; no
    // mounts and no namespace mounts left from this root.
    let gone = |pid: &String| {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z "))
    };
    let end = Instant::now() + Duration::from_secs(10);
    while (!watched.iter().all(gone) || !processes_mentioning(&root).is_empty())
        && Instant::now() < end
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let left: Vec<&String> = watched.iter().filter(|p| !gone(p)).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert_eq!(processes_mentioning(&root), Vec::<String>::new());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let ours: Vec<&str> = mounts
        .lines()
        .filter(|l| l.contains(&root) || (l.contains(" nsfs ") && l.contains("/run/strata")))
        .collect();
    assert_eq!(ours, Vec::<&str>::new());
    assert!(http_get(port, "/").is_none());
}
