//! `strata logs`: json-file logs of detached and attached containers,
//! `-f`, `--tail`, `-t`, `--since`, `--until` (issue 4).

use std::io::Read;
use std::process::Stdio;

use crate::container_common::Ctr;

#[test]
fn detached_logs_follow_until_exit() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "echo oops >&2; for i in 1 2 3; do echo tick $i; sleep 0.3; done",
    ]);
    let mut f = t
        .env
        .cmd(["logs", "-f", "ticker"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = String::new();
    f.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let status = f.wait().unwrap();
    assert!(status.success());
    assert_eq!(out, "tick 1\ntick 2\ntick 3\n");
    let mut err = String::new();
    f.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(err, "oops\n");

    assert_eq!(t.ok(["logs", "--tail", "1", "ticker"]), "tick 3\n");
    let stamped = t.ok(["logs", "-t", "--tail", "2", "ticker"]);
    for line in stamped.lines() {
        let (ts, rest) = line.split_once(' ').unwrap();
        assert!(ts.ends_with('Z') && ts.contains('T'), "{line}");
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
        assert!(rest.starts_with("tick"));
    }
    assert_eq!(
        t.ok([
            "logs",
            "--since",
            "2000-01-01T00:00:00Z",
            "--tail",
            "1",
            "ticker"
        ]),
        "tick 3\n"
    );
    assert_eq!(
        t.ok(["logs", "--until", "2000-01-01T00:00:00Z", "ticker"]),
        ""
    );
    assert_eq!(
        t.ok(["logs", "--since", "1h", "--tail", "1", "ticker"]),
        "tick 3\n"
    );
}

#[test]
fn log_file_is_dockers_json_file() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "run",
        "--name",
        "jj",
        "busybox",
        "sh",
        "-c",
        "echo '<a&b>'; printf partial",
    ]);
    let path = t.inspect("jj", "{{.LogPath}}");
    let id = t.inspect("jj", "{{.Id}}");
    assert!(path.ends_with(&format!("{id}/{id}-json.log")), "{path}");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with(r#"{"log":"\u003ca\u0026b\u003e\n","stream":"stdout","time":""#),
        "{text}"
    );
    let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(v["log"], "partial");
    assert_eq!(v["stream"], "stdout");
    // Foreground output is logged too.
    assert_eq!(t.ok(["logs", "jj"]), "<a&b>\npartial");
}
