//! The service's pause/unpause, top, stats, changes, export, rename and
//! update endpoints driven by docker's CLI, side by side with the private
//! dockerd running the same commands: where the answer is deterministic
//! (diff lines, top titles and commands, export members, error messages
//! and exit codes) strata's must be dockerd's (issue 17).

use std::cell::RefCell;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::service_common::{Svc, docker_at, dockerd_sock, raw};
use crate::support::skip;

/// One daemon's side: docker's CLI pointed at it, and the IDs of the
/// containers it made (replaced by their names in what is compared).
struct Side<'a> {
    what: &'static str,
    cmd: Box<dyn Fn() -> Command + 'a>,
    ids: RefCell<Vec<(String, String)>>,
}

impl Side<'_> {
    fn run(&self, args: &[&str]) -> Output {
        (self.cmd)()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run docker")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{}: docker {} failed: {}",
            self.what,
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Exit code, stdout and stderr with container IDs named.
    fn answer(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let out = self.run(args);
        let norm = |b: &[u8]| {
            let mut t = String::from_utf8_lossy(b).into_owned();
            for (id, name) in self.ids.borrow().iter() {
                t = t.replace(id.as_str(), &format!("<{name}>"));
            }
            t
        };
        (out.status.code(), norm(&out.stdout), norm(&out.stderr))
    }

    fn make(&self, name: &str, args: &[&str]) {
        let id = self.ok(args).trim().to_string();
        let id = id.lines().last().unwrap_or_default().to_string();
        assert_eq!(id.len(), 64, "{}: {args:?} printed {id}", self.what);
        self.ids.borrow_mut().push((id, name.to_string()));
    }
}

/// Removes the containers dockerd ran, even when an assertion fails.
struct Cleanup<'a>(&'a Side<'a>, Vec<String>);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let mut args = vec!["rm", "-f"];
        args.extend(self.1.iter().map(String::as_str));
        let _ = self.0.run(&args);
    }
}

fn tar_members(tar: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(tar);
    let mut out: Vec<String> = a
        .entries()
        .expect("a tar")
        .map(|e| {
            let e = e.expect("a tar entry");
            e.path().expect("a path").to_string_lossy().into_owned()
        })
        .collect();
    out.sort();
    out
}

/// The first `n` objects of a streamed stats answer, read raw.
fn stats_stream(sock: &Path, id: &str, n: usize) -> Vec<serde_json::Value> {
    let mut s = UnixStream::connect(sock).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /v1.41/containers/{id}/stats HTTP/1.1\r\nHost: d\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    let end = Instant::now() + Duration::from_secs(20);
    let mut chunk = [0u8; 8192];
    loop {
        let got = s.read(&mut chunk).expect("read the stats stream");
        assert!(got > 0, "the stats stream ended");
        buf.extend_from_slice(&chunk[..got]);
        let text = String::from_utf8_lossy(&buf);
        let docs: Vec<serde_json::Value> = text
            .lines()
            // Chunk sizes between the lines may parse as JSON numbers.
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l.trim()).ok())
            .filter(serde_json::Value::is_object)
            .collect();
        if docs.len() >= n {
            return docs;
        }
        assert!(Instant::now() < end, "{n} stats objects: {text}");
    }
}

/// `top`'s titles and the last word of each row (the command's).
fn top(side: &Side, args: &[&str]) -> (Vec<String>, Vec<String>) {
    let out = side.ok(args);
    let mut lines = out.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let cmds: Vec<String> = lines
        .map(|l| l.split_whitespace().last().unwrap_or_default().to_string())
        .collect();
    (titles, cmds)
}

#[test]
fn service_inspection_endpoints_match_dockerd() {
    let Some(s) = Svc::new() else { return };
    let Some(d) = dockerd_sock() else {
        skip("no docker daemon (STRATA_TEST_DOCKER_HOST) to compare with");
        return;
    };
    let docker = crate::support::docker::Docker::new().expect("dockerd");
    docker.load_from(&s.t.env, "busybox");
    let cfg = s.t.env.path("dockerd-config");
    let host = format!("unix://{}", d.display());
    let pid = std::process::id();
    let (a, b, a2, c) = (
        format!("svc-insp-a-{pid}"),
        format!("svc-insp-b-{pid}"),
        format!("svc-insp-a2-{pid}"),
        format!("svc-insp-c-{pid}"),
    );
    let theirs = Side {
        what: "dockerd",
        cmd: Box::new(|| docker_at(&host, &cfg)),
        ids: RefCell::default(),
    };
    let ours = Side {
        what: "strata",
        cmd: Box::new(|| s.docker()),
        ids: RefCell::default(),
    };
    for side in [&theirs, &ours] {
        side.make(&a, &["run", "-d", "--name", &a, "busybox", "sleep", "300"]);
        side.make(&b, &["create", "--name", &b, "busybox", "true"]);
        side.ok(&[
            "exec",
            &a,
            "sh",
            "-c",
            "mkdir -p /new/dir && echo hi > /new/dir/f && rm /bin/true",
        ]);
    }
    let _cleanup = Cleanup(&theirs, vec![a.clone(), b.clone(), a2.clone(), c.clone()]);
    let same = |args: &[&str]| {
        let (t, o) = (theirs.answer(args), ours.answer(args));
        assert_eq!(
            o,
            t,
            "docker {} (left strata, right dockerd)",
            args.join(" ")
        );
        o
    };

    // changes: the same lines (dockerd lists them in its upper
    // directory's order, which varies), and docker's errors.
    let lines = |side: &Side| {
        let mut l: Vec<String> = side.ok(&["diff", &a]).lines().map(str::to_string).collect();
        l.sort();
        l
    };
    assert_eq!(lines(&ours), lines(&theirs));
    let diff = ours.ok(&["diff", &a]);
    assert!(
        diff.contains("A /new/dir/f\n") && diff.contains("D /bin/true\n"),
        "{diff}"
    );
    same(&["diff", &b]);
    same(&["diff", "nosuch"]);

    // pause/unpause: names printed, 409s with docker's messages.
    same(&["pause", &a]);
    same(&["pause", &a]);
    same(&["inspect", "-f", "{{.State.Status}} {{.State.Paused}}", &a]);
    same(&["unpause", &a]);
    same(&["unpause", &a]);
    same(&["pause", &b]);
    same(&["unpause", &b]);
    same(&["pause", "nosuch"]);

    // top: docker's titles and the container's commands.
    assert_eq!(top(&ours, &["top", &a]), top(&theirs, &["top", &a]));
    let comm = top(&ours, &["top", &a, "-o", "pid,comm"]);
    assert_eq!(comm, top(&theirs, &["top", &a, "-o", "pid,comm"]));
    assert_eq!(comm.1, ["sleep"]);
    same(&["top", &b]);
    same(&["top", &a, "-o", "user=PID"]);
    same(&["top", "nosuch"]);

    // stats: the same name and process count; docker's shape raw.
    let fmt = "{{.Name}}|{{.PIDs}}";
    let (_, line, _) = same(&["stats", "--no-stream", "--format", fmt, &a]);
    assert_eq!(line.trim(), format!("{a}|1"));
    let mem = ours.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.CPUPerc}}|{{.MemUsage}}",
        &a,
    ]);
    assert!(mem.contains("%|") && !mem.contains("0B / 0B"), "{mem}");
    let stopped = "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}";
    same(&["stats", "--no-stream", "--format", stopped, &b]);
    same(&["stats", "--no-stream", "nosuch"]);
    let stats = |sock: &Path, q: &str| -> serde_json::Value {
        let req = format!("GET /v1.41/containers/{a}/stats?{q} HTTP/1.1\r\nHost: d\r\n\r\n");
        let (status, _, body) = raw(sock, &req).unwrap();
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(body.trim()).unwrap()
    };
    for q in ["stream=false", "stream=false&one-shot=true"] {
        let (t, o) = (stats(&d, q), stats(&s.sock, q));
        for key in [
            "read",
            "preread",
            "cpu_stats",
            "precpu_stats",
            "memory_stats",
            "pids_stats",
            "blkio_stats",
            "name",
            "id",
        ] {
            assert!(
                t.get(key).is_some() && o.get(key).is_some(),
                "{q}: {key}: {o}"
            );
        }
        // The private dockerd runs without a bridge: its containers have
        // no interface but `lo`, and no `networks`; strata's have `eth0`.
        assert!(
            o["networks"]["eth0"]["rx_packets"].as_u64() > Some(0),
            "{o}"
        );
        // memory.stat as dockerd passes it on (the same counters).
        let keys = |v: &serde_json::Value| {
            let mut k: Vec<String> = v["memory_stats"]["stats"]
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            k.sort();
            k
        };
        if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            // cgroup v2: dockerd 20.10 names a fixed set of its own; the
            // counter docker's CLI subtracts is in both.
            for v in [&o, &t] {
                assert!(keys(v).iter().any(|k| k == "inactive_file"), "{q}: {v}");
            }
        } else {
            assert_eq!(keys(&o), keys(&t), "{q}");
        }
        assert_eq!(o["name"], format!("/{a}"));
        assert_eq!(o["pids_stats"]["current"], t["pids_stats"]["current"]);
        assert!(o["memory_stats"]["usage"].as_u64() > Some(0), "{o}");
        let pre_set = o["precpu_stats"]["system_cpu_usage"].as_u64().is_some();
        assert_eq!(pre_set, q == "stream=false", "{q}: {o}");
        assert_eq!(
            o["preread"] == "0001-01-01T00:00:00Z",
            t["preread"] == "0001-01-01T00:00:00Z",
            "{q}"
        );
    }
    let b_id = ours.ids.borrow()[1].0.clone();
    let (status, _, body) = raw(
        &s.sock,
        &format!("GET /v1.41/containers/{b_id}/stats?stream=false HTTP/1.1\r\nHost: d\r\n\r\n"),
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(body.trim()).unwrap();
    assert_eq!(
        (status, &v["read"]),
        (200, &serde_json::json!("0001-01-01T00:00:00Z"))
    );
    let streamed = stats_stream(&s.sock, &a, 2);
    assert_eq!(streamed[0]["preread"], "0001-01-01T00:00:00Z");
    assert_eq!(streamed[1]["preread"], streamed[0]["read"]);
    let (status, _, body) = raw(
        &s.sock,
        &format!(
            "GET /v1.41/containers/{a}/stats?stream=true&one-shot=true HTTP/1.1\r\nHost: d\r\n\r\n"
        ),
    )
    .unwrap();
    let (t_status, _, t_body) = raw(
        &d,
        &format!(
            "GET /v1.41/containers/{a}/stats?stream=true&one-shot=true HTTP/1.1\r\nHost: d\r\n\r\n"
        ),
    )
    .unwrap();
    assert_eq!((status, body.trim()), (t_status, t_body.trim()));

    // export: the same members (the tar streamed, read by the CLI).
    let members = |side: &Side, name: &str| {
        let out = side.run(&["export", name]);
        assert!(out.status.success(), "{}: export {name}", side.what);
        tar_members(&out.stdout)
    };
    let list = members(&ours, &a);
    assert_eq!(list, members(&theirs, &a));
    assert_eq!(members(&ours, &b), members(&theirs, &b));
    assert!(list.iter().any(|m| m == "new/dir/f"), "{list:?}");
    assert!(!list.iter().any(|m| m == "bin/true"), "{list:?}");
    same(&["export", "nosuch"]);

    // rename: docker's 400s and 409, then the new name.
    same(&["rename", &a, &a]);
    same(&["rename", &a, &b]);
    same(&["rename", &a, "bad name"]);
    same(&["rename", "nosuch", "whatever"]);
    same(&["rename", &a, &a2]);
    same(&["inspect", "-f", "{{.Name}}", &a2]);
    let (status, _, body) = raw(
        &s.sock,
        &format!("POST /v1.41/containers/{a2}/rename?name= HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n"),
    )
    .unwrap();
    assert_eq!(
        (status, body.trim()),
        (
            400,
            r#"{"message":"Neither old nor new names may be empty"}"#
        )
    );

    // update: limits on a running and a created container, docker's refusals.
    same(&["update", "--memory", "64m", "--memory-swap", "128m", &a2]);
    same(&["update", "--memory", "96m", &b]);
    let limits =
        "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.RestartPolicy.Name}}";
    same(&["inspect", "-f", limits, &a2]);
    same(&["update", "--memory", "1m", &a2]);
    same(&["update", "--memory", "256m", &a2]);
    same(&["update", "--restart", "on-failure:2", &a2]);
    same(&["inspect", "-f", limits, &a2]);
    same(&["update", "--memory", "64m", "nosuch"]);
    let body = r#"{"PidsLimit":9}"#;
    let req = format!(
        "POST /v1.41/containers/{a2}/update HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (status, _, body) = raw(&s.sock, &req).unwrap();
    assert_eq!((status, body.trim()), (200, r#"{"Warnings":null}"#));
    assert_eq!(
        ours.ok(&["inspect", "-f", "{{.HostConfig.PidsLimit}}", &a2])
            .trim(),
        "9"
    );

    // Paused containers: rm refused (409); rm -f, stop and kill thaw them
    // so the signal lands.
    same(&["pause", &a2]);
    same(&["rm", &a2]);
    same(&["rm", "-f", &a2]);
    for side in [&theirs, &ours] {
        side.make(&c, &["run", "-d", "--name", &c, "busybox", "sleep", "300"]);
    }
    same(&["pause", &c]);
    same(&["stop", "-t", "1", &c]);
    same(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}} {{.State.Paused}}",
        &c,
    ]);
    same(&["rm", &c]);
    ours.ok(&["rm", "-f", &b]);
}
