//! `stats` (issue 10): docker 20.10's columns and formats on the same
//! busybox containers, figures read from the cgroups (v1, v2 or the
//! hybrid of both) and the network namespace.

use serde_json::Value;

use crate::container_common::Ctr;
use crate::support::docker::Docker;
use crate::support::sh;

/// The columns of a default `stats` table line (split on 3+ spaces).
fn columns(line: &str) -> Vec<String> {
    line.split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The table line of container `name`.
fn line_of<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find(|l| columns(l).get(1).is_some_and(|n| n == name))
        .unwrap_or_else(|| panic!("no row for {name}:\n{out}"))
}

fn is_percent(s: &str) -> bool {
    s.strip_suffix('%').is_some_and(|n| {
        let (a, b) = n.split_once('.').unwrap_or(("", ""));
        !a.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b.len() == 2
    })
}

#[test]
fn stats_columns_and_figures_match_dockers() {
    let Some(t) = Ctr::new() else { return };
    let Some(d) = Docker::new() else { return };
    d.load_from(&t.env, "busybox");
    let pid = std::process::id();
    let (limited, plain, created) = (
        format!("strata-st-{pid}-lim"),
        format!("strata-st-{pid}-plain"),
        format!("strata-st-{pid}-new"),
    );
    let runs: [Vec<&str>; 3] = [
        vec![
            "run",
            "-d",
            "--name",
            &limited,
            "--network",
            "none",
            "-m",
            "64m",
            "busybox",
            "sleep",
            "1000",
        ],
        vec![
            "run",
            "-d",
            "--name",
            &plain,
            "--network",
            "none",
            "busybox",
            "sleep",
            "1000",
        ],
        vec!["create", "--name", &created, "busybox", "true"],
    ];
    let _rm = DockerRm(&d, vec![limited.clone(), plain.clone(), created.clone()]);
    for a in &runs {
        t.ok(a);
        sh(d.cmd().args(a));
    }
    let names = [limited.as_str(), plain.as_str(), created.as_str()];
    let ours = t.ok([&["stats", "--no-stream", "-a"][..], &names].concat());
    let theirs = sh(d
        .cmd()
        .args([&["stats", "--no-stream", "-a"][..], &names].concat()));
    let header = |s: &str| s.lines().next().unwrap().to_string();
    assert_eq!(header(&ours), header(&theirs), "{ours}\n{theirs}");
    for name in names {
        let (o, th) = (
            columns(line_of(&ours, name)),
            columns(line_of(&theirs, name)),
        );
        assert_eq!(o.len(), 8, "{o:?}");
        assert!(is_percent(&o[2]) && is_percent(&o[4]), "{o:?}");
        // The limit, the network of --network none, the process count.
        let limit = |v: &[String]| v[3].split(" / ").nth(1).unwrap().to_string();
        assert_eq!(limit(&o), limit(&th), "{name}: {o:?} vs {th:?}");
        assert_eq!((&o[5], &o[7]), (&th[5], &th[7]), "{name}: {o:?} vs {th:?}");
        if name == created {
            // Never started: every figure zero, as docker's.
            assert_eq!(o[2..], th[2..], "{o:?} vs {th:?}");
        }
    }
    assert_eq!(limit_of(&ours, &limited), "64MiB");

    // --format: the same fields, .Container as asked, .Name, .ID.
    let f = ["stats", "--no-stream", "--format", "{{json .}}", &plain];
    let o: Value = serde_json::from_str(t.ok(f).trim()).unwrap();
    let th: Value = serde_json::from_str(sh(d.cmd().args(f)).trim()).unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&o), keys(&th));
    assert_eq!(
        (&o["Container"], &o["Name"]),
        (&th["Container"], &th["Name"])
    );
    assert_eq!(o["ID"].as_str().unwrap().len(), 12);
    let f = [
        "stats",
        "--no-stream",
        "--no-trunc",
        "--format",
        "table {{.ID}}\t{{.Container}}\t{{.PIDs}}",
        &plain,
    ];
    let (o, th) = (t.ok(f), sh(d.cmd().args(f)));
    assert_eq!(header(&o), header(&th));
    assert_eq!(o.lines().nth(1).unwrap().split_whitespace().count(), 3);
    assert_eq!(
        o.lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .len(),
        64
    );

    // Unknown container: docker's message and exit code.
    let out = t.run(["stats", "--no-stream", "nosuch-xyz"]);
    let dout = d
        .cmd()
        .args(["stats", "--no-stream", "nosuch-xyz"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), dout.status.code());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&dout.stderr)
    );
}

fn limit_of(out: &str, name: &str) -> String {
    columns(line_of(out, name))[3]
        .split(" / ")
        .nth(1)
        .unwrap()
        .to_string()
}

#[test]
fn stats_sees_cpu_memory_and_processes() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "run",
        "-d",
        "--name",
        "busy",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "sleep 1000 & sleep 1000 & while :; do :; done",
    ]);
    t.ok(["run", "-d", "--name", "idle", "busybox", "sleep", "1000"]);
    // Running only by default, newest first.
    let out = t.ok(["stats", "--no-stream"]);
    let rows: Vec<Vec<String>> = out.lines().skip(1).map(columns).collect();
    let names: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(names, ["idle", "busy"], "{out}");
    t.until(30, "3 processes and CPU use in busy", || {
        let out = t.ok(["stats", "--no-stream", "busy"]);
        let r = columns(out.lines().nth(1).unwrap());
        let cpu: f64 = r[2].trim_end_matches('%').parse().unwrap();
        r[7] == "3" && cpu > 1.0
    });
    let r = columns(line_of(&t.ok(["stats", "--no-stream", "busy"]), "busy"));
    let mem = r[3].split(" / ").next().unwrap().to_string();
    assert!(mem != "0B" && mem.ends_with('B'), "{r:?}");
    // A stopped container is listed with -a only, with zeros.
    t.ok(["stop", "-t", "0", "idle"]);
    let out = t.ok(["stats", "--no-stream"]);
    assert!(!out.contains("idle"), "{out}");
    let r = columns(line_of(&t.ok(["stats", "--no-stream", "-a"]), "idle"));
    assert_eq!(
        r[2..],
        ["0.00%", "0B / 0B", "0.00%", "0B / 0B", "0B / 0B", "0"]
    );
}

/// Removes docker containers when dropped (a failed test too).
struct DockerRm<'a>(&'a Docker, Vec<String>);

impl Drop for DockerRm<'_> {
    fn drop(&mut self) {
        let _ = self.0.cmd().arg("rm").arg("-f").args(&self.1).output();
    }
}
