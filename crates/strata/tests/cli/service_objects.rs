//! `strata system service` serving networks, volumes, events, `system df`
//! and the prunes, driven by docker's own CLI: user networks whose
//! containers reach each other by name and alias, connect/disconnect,
//! named volumes shared by containers, `events --since/--until` and
//! followed, and docker's errors (compared with the private dockerd's
//! where it runs the same request) (issue 17).

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::service_common::{Svc, dockerd_sock, raw};

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `(status, body)` of a request on `sock`.
fn request(sock: &std::path::Path, line: &str) -> (u16, String) {
    let (st, _, b) = raw(sock, &format!("{line} HTTP/1.1\r\nHost: d\r\n\r\n")).unwrap();
    (st, b.trim().to_string())
}

/// The same missing-object requests answer as dockerd answers them.
fn missing_objects_answer_as_dockerd(s: &Svc) {
    let cases = [
        "GET /v1.41/networks/nosuchnet",
        "DELETE /v1.41/networks/nosuchnet",
        "GET /v1.41/volumes/nosuchvol",
        "DELETE /v1.41/volumes/nosuchvol",
    ];
    let ours: Vec<(u16, String)> = cases.iter().map(|c| request(&s.sock, c)).collect();
    assert_eq!(
        ours[0],
        (404, r#"{"message":"network nosuchnet not found"}"#.into())
    );
    assert_eq!(
        ours[2],
        (404, r#"{"message":"get nosuchvol: no such volume"}"#.into())
    );
    if let Some(d) = dockerd_sock() {
        for (c, o) in cases.iter().zip(&ours) {
            assert_eq!(&request(&d, c), o, "{c}");
        }
    }
}

#[test]
fn service_networks_with_dockers_cli() {
    let Some(s) = Svc::new() else { return };
    missing_objects_answer_as_dockerd(&s);
    let since = now_secs().to_string();
    let id = s.ok(&[
        "network",
        "create",
        "--label",
        "team=blue",
        "--subnet",
        "10.231.7.0/24",
        "svcnet",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    // The CLI's store is the service's.
    assert_eq!(
        s.t.ok(["network", "inspect", "-f", "{{.Id}}", "svcnet"])
            .trim(),
        id
    );
    assert_eq!(
        s.ok(&[
            "network",
            "ls",
            "--filter",
            "name=svcnet",
            "--format",
            "{{.Name}}|{{.Driver}}|{{.Scope}}"
        ]),
        "svcnet|bridge|local\n"
    );
    assert_eq!(
        s.ok(&[
            "network",
            "ls",
            "-q",
            "--no-trunc",
            "--filter",
            "label=team=blue"
        ])
        .trim(),
        id
    );
    assert_eq!(
        s.ok(&["network", "ls", "--format", "{{.Name}}"]),
        s.t.ok(["network", "ls", "--format", "{{.Name}}"])
    );
    // docker's default table of the same networks, column for column.
    assert_eq!(s.ok(&["network", "ls"]), s.t.ok(["network", "ls"]));
    assert_eq!(
        s.ok(&[
            "network",
            "inspect",
            "-f",
            "{{.Name}} {{range .IPAM.Config}}{{.Subnet}}{{end}} {{index .Labels \"team\"}}",
            "svcnet"
        ]),
        "svcnet 10.231.7.0/24 blue\n"
    );
    let dup = s.run(&["network", "create", "svcnet"]);
    assert_eq!(dup.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&dup.stderr).contains("network with name svcnet already exists"),
        "{}",
        String::from_utf8_lossy(&dup.stderr)
    );

    // Two containers on the network reach each other by name and by the
    // alias given at create (NetworkingConfig) and at connect.
    s.ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "svcnet",
        "--network-alias",
        "store",
        "busybox",
        "sleep",
        "300",
    ]);
    // The network's name server starts with its first container.
    s.t.until(15, "srv resolving on svcnet", || {
        s.run(&[
            "run",
            "--rm",
            "--network",
            "svcnet",
            "busybox",
            "ping",
            "-c1",
            "-W2",
            "srv",
        ])
        .status
        .success()
    });
    s.ok(&[
        "run",
        "--rm",
        "--network",
        "svcnet",
        "busybox",
        "ping",
        "-c1",
        "-W2",
        "store",
    ]);
    s.ok(&["run", "-d", "--name", "cli", "busybox", "sleep", "300"]);
    assert!(
        !s.run(&["exec", "cli", "ping", "-c1", "-W2", "srv"])
            .status
            .success()
    );
    s.ok(&["network", "connect", "--alias", "client", "svcnet", "cli"]);
    // cli started on the default bridge keeps the host's resolver (as in
    // docker): srv resolves cli's alias, cli reaches srv's address.
    s.ok(&["exec", "srv", "ping", "-c1", "-W2", "client"]);
    let srv_ip = s.ok(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.Networks.svcnet.IPAddress}}",
        "srv",
    ]);
    s.ok(&["exec", "cli", "ping", "-c1", "-W2", srv_ip.trim()]);
    assert_eq!(
        s.ok(&["network", "inspect", "-f", "{{len .Containers}}", "svcnet"]),
        "2\n"
    );
    let again = s.run(&["network", "connect", "svcnet", "cli"]);
    assert_eq!(again.status.code(), Some(1));
    // In use: docker's 409 and message.
    let busy = s.run(&["network", "rm", "svcnet"]);
    assert_eq!(busy.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("has active endpoints"),
        "{}",
        String::from_utf8_lossy(&busy.stderr)
    );
    let (st, _) = request(&s.sock, &format!("DELETE /v1.41/networks/{id}"));
    assert_eq!(st, 409);
    s.ok(&["network", "disconnect", "svcnet", "cli"]);
    assert!(
        !s.run(&["exec", "cli", "ping", "-c1", "-W2", srv_ip.trim()])
            .status
            .success()
    );
    let missing = s.run(&["network", "inspect", "nosuchnet"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("No such network: nosuchnet"));
    s.ok(&["rm", "-f", "srv", "cli"]);
    assert_eq!(s.ok(&["network", "rm", "svcnet"]), "svcnet\n");
    assert_eq!(
        s.ok(&["network", "ls", "-q", "--filter", "name=svcnet"]),
        ""
    );

    // prune: the unused user networks, docker's report.
    s.ok(&["network", "create", "prune-me"]);
    assert_eq!(
        s.ok(&["network", "prune", "-f"]),
        "Deleted Networks:\nprune-me\n\n"
    );
    assert_eq!(s.ok(&["network", "prune", "-f"]), "");
    assert_eq!(
        s.t.ok(["network", "ls", "-q", "--filter", "type=custom"]),
        ""
    );
    // The predefined networks inspect as docker's.
    assert_eq!(
        s.ok(&[
            "network",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}} {{.Scope}}",
            "bridge",
            "host",
            "none"
        ]),
        "bridge bridge local\nhost host local\nnone null local\n"
    );
    let rm = s.run(&["network", "rm", "bridge"]);
    assert_eq!(rm.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&rm.stderr)
            .contains("bridge is a pre-defined network and cannot be removed"),
        "{}",
        String::from_utf8_lossy(&rm.stderr)
    );
    // The network events the service's stream shows are strata's own.
    let until = (now_secs() + 1).to_string();
    let args = [
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=network",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    ];
    let ours = s.ok(&args);
    assert_eq!(ours, s.t.ok(args));
    assert!(
        ours.contains("create svcnet\n") && ours.contains("destroy prune-me\n"),
        "{ours}"
    );
}

#[test]
fn service_volumes_and_disk_usage_with_dockers_cli() {
    let Some(s) = Svc::new() else { return };
    assert_eq!(
        s.ok(&["volume", "create", "--label", "a=b", "vol1"]),
        "vol1\n"
    );
    assert_eq!(s.t.ok(["volume", "ls", "-q"]), "vol1\n");
    assert_eq!(
        s.ok(&["volume", "ls", "-q", "--filter", "label=a=b"]),
        "vol1\n"
    );
    assert_eq!(s.ok(&["volume", "ls", "-q", "--filter", "label=a=c"]), "");
    assert_eq!(
        s.ok(&["volume", "ls"]),
        "DRIVER    VOLUME NAME\nlocal     vol1\n"
    );
    let fmt = "{{.Name}} {{.Driver}} {{.Labels.a}} {{.Scope}} {{.Mountpoint}}";
    assert_eq!(
        s.ok(&["volume", "inspect", "-f", fmt, "vol1"]),
        s.t.ok(["volume", "inspect", "-f", fmt, "vol1"])
    );
    // A second container sees the first one's file.
    s.ok(&[
        "run",
        "--rm",
        "-v",
        "vol1:/data",
        "busybox",
        "sh",
        "-c",
        "echo shared > /data/f",
    ]);
    assert_eq!(
        s.ok(&[
            "run",
            "--rm",
            "-v",
            "vol1:/data",
            "busybox",
            "cat",
            "/data/f"
        ]),
        "shared\n"
    );
    // In use: refused (409), even with -f.
    s.ok(&[
        "run",
        "-d",
        "--name",
        "holder",
        "-v",
        "vol1:/data",
        "busybox",
        "sleep",
        "300",
    ]);
    for args in [
        &["volume", "rm", "vol1"][..],
        &["volume", "rm", "-f", "vol1"],
    ] {
        let out = s.run(args);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("volume is in use"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (st, _) = request(&s.sock, "DELETE /v1.41/volumes/vol1");
    assert_eq!(st, 409);

    // system df: the summary docker's CLI computes from /system/df is
    // strata's own.
    let fmt = "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}";
    let ours = s.ok(&["system", "df", "--format", fmt]);
    let cli = s.t.ok(["system", "df", "--format", fmt]);
    let first3 = |t: &str| t.lines().take(3).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(first3(&ours), first3(&cli), "{ours}\n{cli}");
    assert!(ours.starts_with("Images|1|1|"), "{ours}");
    assert!(ours.contains("Local Volumes|1|1|"), "{ours}");

    let dfv = s.ok(&["system", "df", "-v"]);
    assert!(dfv.starts_with("Images space usage:\n"), "{dfv}");
    let vol_row: Vec<&str> = dfv
        .split("Local Volumes space usage:\n\n")
        .nth(1)
        .and_then(|t| t.lines().nth(1))
        .unwrap_or_else(|| panic!("{dfv}"))
        .split_whitespace()
        .collect();
    assert_eq!(vol_row, ["vol1", "1", "7B"], "{dfv}");
    assert!(dfv.contains("holder"), "{dfv}");

    s.ok(&["rm", "-f", "holder"]);
    assert_eq!(s.ok(&["volume", "rm", "vol1"]), "vol1\n");
    let gone = s.run(&["volume", "inspect", "vol1"]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("No such volume: vol1"));
    assert_eq!(s.ok(&["volume", "rm", "-f", "vol1"]), "vol1\n");

    // prune: docker's report.
    s.ok(&["volume", "create", "v2"]);
    let out = s.ok(&["volume", "prune", "-f"]);
    assert!(
        out.starts_with("Deleted Volumes:\nv2\n\nTotal reclaimed space: "),
        "{out}"
    );
    assert_eq!(s.t.ok(["volume", "ls", "-q"]), "");
}

#[test]
fn service_events_and_prunes_with_dockers_cli() {
    let Some(s) = Svc::new() else { return };
    // Followed: a stream without --until shows events as they happen.
    let since = now_secs().to_string();
    s.ok(&["run", "--name", "ev", "busybox", "true"]);
    let mut follow = s
        .docker()
        .args([
            "events",
            "--filter",
            "container=ev2",
            "--format",
            "{{.Type}} {{.Action}}",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let out = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    // The follower may not listen yet when a run happens: run again
    // until its events come (each run is new to the stream).
    let mut lines = Vec::new();
    'runs: for _ in 0..15 {
        s.ok(&["run", "--rm", "--name", "ev2", "busybox", "true"]);
        while let Ok(l) = rx.recv_timeout(std::time::Duration::from_secs(1)) {
            let last = l == "container destroy";
            lines.push(l);
            if last {
                // A run the follower saw from its start is complete.
                if lines.first().is_some_and(|f| f == "container create") {
                    break 'runs;
                }
                lines.clear();
            }
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    for want in [
        "container create",
        "container start",
        "container die",
        "container destroy",
    ] {
        assert!(lines.iter().any(|l| l == want), "{want}: {lines:?}");
    }

    // --since/--until: the past events, the same as strata's own.
    let until = (now_secs() + 1).to_string();
    let args = [
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "container=ev",
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
    ];
    let ours = s.ok(&args);
    assert_eq!(ours, s.t.ok(args));
    for want in [
        "container create ev",
        "container start ev",
        "container die ev",
    ] {
        assert!(ours.lines().any(|l| l == want), "{want}: {ours}");
    }

    // container prune: the stopped containers, docker's report.
    // Created through the service: not held by it (a prune may remove it).
    s.ok(&["create", "--name", "ev3", "busybox", "true"]);
    let ids = s.ok(&["ps", "-aq", "--no-trunc"]);
    assert_eq!(ids.lines().count(), 2);
    let out = s.ok(&["container", "prune", "-f"]);
    assert!(out.starts_with("Deleted Containers:\n"), "{out}");
    for id in ids.lines() {
        assert!(
            out.contains(id),
            "{id}: {out}\n{}",
            s.ok(&["ps", "-a", "--no-trunc"])
        );
    }
    assert!(out.contains("\nTotal reclaimed space: "), "{out}");
    assert_eq!(s.t.ok(["ps", "-aq"]), "");
    // image prune: nothing dangling here; -a keeps nothing unused.
    assert_eq!(
        s.ok(&["image", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    let out = s.ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains("untagged: busybox"), "{out}");
    assert_eq!(s.t.ok(["images", "-q"]), "");
}

/// A request body over the JSON bound is refused (400, or the connection
/// closed while the client still writes), creates nothing, and the service
/// answers the next request.
#[test]
fn service_refuses_an_oversized_json_body() {
    let Some(s) = Svc::new() else { return };
    let big = format!(
        "{{\"Image\":\"busybox\",\"Env\":[\"{}\"]}}",
        "x".repeat(17 << 20)
    );
    let req = format!(
        "POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{big}",
        big.len()
    );
    if let Some((status, _, body)) = raw(&s.sock, &req) {
        assert_eq!(status, 400, "{body}");
    }
    let (status, _, body) = raw(&s.sock, "GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n").expect("ping");
    assert_eq!((status, body.as_str()), (200, "OK"));
    assert_eq!(s.t.ok(["ps", "-aq"]), "");
}
