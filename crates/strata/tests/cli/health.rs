//! Healthchecks (issue 10): the image's `HEALTHCHECK` and `--health-*`
//! run by the supervisor with docker's state machine; `ps` STATUS and
//! `--filter health=`; `inspect`'s `.State.Health` and
//! `.Config.Healthcheck` compared with docker 20.10 on the same setup.
//! Probes run every 200ms; every wait is bounded polling.

use serde_json::Value;

use crate::container_common::Ctr;
use crate::support::docker::Docker;
use crate::support::{busybox_rootfs_tar, sh};

/// `{{json .State.Health}}` of `name`.
fn health(t: &Ctr, name: &str) -> Value {
    serde_json::from_str(&t.inspect(name, "{{json .State.Health}}")).expect("health JSON")
}

/// Waits (at most 60 s) until `name`'s health status is `status`.
fn wait_status(t: &Ctr, name: &str, status: &str) -> Value {
    let mut last = Value::Null;
    t.until(60, &format!("{name} {status}"), || {
        last = health(t, name);
        last["Status"] == status
    });
    last
}

/// The ps STATUS of `name`.
fn ps_status(t: &Ctr, name: &str) -> String {
    t.ok([
        "ps",
        "-a",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Status}}",
    ])
    .trim()
    .to_string()
}

fn ps_names(t: &Ctr, filter: &str) -> Vec<String> {
    let mut v: Vec<String> = t
        .ok(["ps", "-a", "--filter", filter, "--format", "{{.Names}}"])
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn failing_check_turns_unhealthy_after_retries_and_healthy_once_it_passes() {
    let Some(t) = Ctr::new() else { return };
    let name = "hc-flip";
    t.ok([
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "none",
        "--health-cmd",
        "test -e /tmp/ok && echo fine",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "1000",
    ]);
    let h = wait_status(&t, name, "unhealthy");
    assert!(h["FailingStreak"].as_i64().unwrap() >= 2, "{h}");
    let log = h["Log"].as_array().unwrap();
    assert!(log.len() >= 2 && log.len() <= 5, "{h}");
    for r in log {
        assert_eq!(r["ExitCode"], 1, "{h}");
        assert_eq!(r["Output"], "", "{h}");
    }
    assert!(
        ps_status(&t, name).ends_with("(unhealthy)"),
        "{}",
        ps_status(&t, name)
    );
    assert_eq!(ps_names(&t, "health=unhealthy"), [name]);
    assert!(ps_names(&t, "health=healthy").is_empty());

    t.ok(["exec", name, "touch", "/tmp/ok"]);
    let h = wait_status(&t, name, "healthy");
    assert_eq!(h["FailingStreak"], 0, "{h}");
    let last = h["Log"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["ExitCode"], &last["Output"]),
        (&Value::from(0), &Value::from("fine\n"))
    );
    assert!(ps_status(&t, name).ends_with("(healthy)"));
    assert_eq!(ps_names(&t, "health=healthy"), [name]);

    // The log keeps the last five probes.
    t.until(60, "five probes logged", || {
        health(&t, name)["Log"].as_array().unwrap().len() == 5
    });
    for _ in 0..3 {
        assert!(health(&t, name)["Log"].as_array().unwrap().len() <= 5);
    }

    // Stopped: docker marks it unhealthy and ps shows no health.
    t.ok(["stop", "-t", "0", name]);
    let h = health(&t, name);
    assert_eq!(h["Status"], "unhealthy", "{h}");
    assert!(
        ps_status(&t, name).starts_with("Exited"),
        "{}",
        ps_status(&t, name)
    );
}

#[test]
fn image_healthcheck_runs_and_flags_override_or_disable_it() {
    let Some(t) = Ctr::new() else { return };
    let tar = busybox_rootfs_tar();
    t.ok([
        "image",
        "import",
        "--change",
        "HEALTHCHECK --interval=200ms --retries=1 CMD test -e /tmp/ok",
        tar.to_str().unwrap(),
        "bbhealth",
    ]);
    t.ok([
        "run",
        "-d",
        "--name",
        "hc-image",
        "--network",
        "none",
        "bbhealth",
        "sleep",
        "1000",
    ]);
    assert_eq!(
        t.inspect("hc-image", "{{json .Config.Healthcheck}}"),
        r#"{"Test":["CMD-SHELL","test -e /tmp/ok"],"Interval":200000000,"Retries":1}"#
    );
    wait_status(&t, "hc-image", "unhealthy");

    // A flag overrides one field; the image gives the rest.
    t.ok([
        "run",
        "-d",
        "--name",
        "hc-override",
        "--network",
        "none",
        "--health-cmd",
        "true",
        "bbhealth",
        "sleep",
        "1000",
    ]);
    assert_eq!(
        t.inspect("hc-override", "{{json .Config.Healthcheck}}"),
        r#"{"Test":["CMD-SHELL","true"],"Interval":200000000,"Retries":1}"#
    );
    wait_status(&t, "hc-override", "healthy");

    // --no-healthcheck: no probe, no Health, no health in ps.
    t.ok([
        "run",
        "-d",
        "--name",
        "hc-none",
        "--network",
        "none",
        "--no-healthcheck",
        "bbhealth",
        "sleep",
        "1000",
    ]);
    // docker merges the image's timings under NONE too.
    assert_eq!(
        t.inspect("hc-none", "{{json .Config.Healthcheck}}"),
        r#"{"Test":["NONE"],"Interval":200000000,"Retries":1}"#
    );
    assert_eq!(t.inspect("hc-none", "{{json .State.Health}}"), "null");
    let full: Value = serde_json::from_str(&t.ok(["inspect", "hc-none"])).unwrap();
    assert!(
        full[0]["State"].get("Health").is_none(),
        "omitted as docker's"
    );
    assert!(ps_status(&t, "hc-none").starts_with("Up "));
    assert!(!ps_status(&t, "hc-none").contains('('));
    assert_eq!(ps_names(&t, "health=none"), ["hc-none"]);
}

#[test]
fn a_probe_past_its_timeout_is_killed_and_fails() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "run",
        "-d",
        "--name",
        "hc-slow",
        "--network",
        "none",
        "--health-cmd",
        "sleep 30",
        "--health-timeout",
        "300ms",
        "--health-interval",
        "200ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "1000",
    ]);
    let h = wait_status(&t, "hc-slow", "unhealthy");
    let r = &h["Log"][0];
    assert_eq!(r["ExitCode"], -1, "{h}");
    assert_eq!(r["Output"], "Health check exceeded timeout (300ms)", "{h}");
}

#[test]
fn flag_errors_are_dockers() {
    let Some(t) = Ctr::new() else { return };
    for (args, msg) in [
        (
            &["--no-healthcheck", "--health-cmd", "x"][..],
            "--no-healthcheck conflicts with --health-* options",
        ),
        (
            &["--health-interval", "-1s"][..],
            "--health-interval cannot be negative",
        ),
        (
            &["--health-retries", "-1"][..],
            "--health-retries cannot be negative",
        ),
        (
            &["--health-timeout", "500us"][..],
            "Timeout in Healthcheck cannot be less than 1ms",
        ),
    ] {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(args);
        a.extend(["busybox", "true"]);
        let err = t.fails_with(125, &a);
        assert!(err.contains(msg), "{a:?}: {err}");
    }
}

/// `.State.Health` with what differs by run left out: the times keep
/// their RFC 3339 shape, the log its first entry.
fn shape(h: &Value) -> Value {
    let mut h = h.clone();
    let log = h["Log"].as_array_mut().expect("Log");
    log.truncate(1);
    for r in log {
        for k in ["Start", "End"] {
            let s = r[k].as_str().unwrap();
            assert!(
                s.len() > 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T',
                "RFC 3339 time: {s}"
            );
            r[k] = Value::from("T");
        }
    }
    h
}

#[test]
fn inspect_health_shape_equals_dockers() {
    let Some(t) = Ctr::new() else { return };
    let Some(d) = Docker::new() else { return };
    d.load_from(&t.env, "busybox");
    let name = format!("strata-hc-{}", std::process::id());
    let plain = format!("{name}-plain");
    let args = [
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        "--health-cmd",
        "echo fine",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "1000",
    ];
    t.ok(args);
    sh(d.cmd().args(args));
    let plain_args = [
        "run",
        "-d",
        "--name",
        &plain,
        "--network",
        "none",
        "busybox",
        "sleep",
        "1000",
    ];
    t.ok(plain_args);
    sh(d.cmd().args(plain_args));
    let theirs_of = |template: &str, who: &str| {
        sh(d.cmd().args(["inspect", "-f", template, who]))
            .trim()
            .to_string()
    };
    let _rm = DockerRm(&d, vec![name.clone(), plain.clone()]);
    let ours = wait_status(&t, &name, "healthy");
    let mut theirs = Value::Null;
    t.until(60, "docker's container healthy", || {
        theirs = serde_json::from_str(&theirs_of("{{json .State.Health}}", &name)).unwrap();
        theirs["Status"] == "healthy"
    });
    assert_eq!(shape(&ours), shape(&theirs), "{ours}\n{theirs}");
    for template in ["{{json .Config.Healthcheck}}", "{{json .State.Health}}"] {
        assert_eq!(t.inspect(&plain, template), theirs_of(template, &plain));
    }
    assert_eq!(
        t.inspect(&name, "{{json .Config.Healthcheck}}"),
        theirs_of("{{json .Config.Healthcheck}}", &name)
    );
    let filter = format!("name={name}");
    let ps = |who: &dyn Fn(&[&str]) -> String, f: &str| {
        who(&[
            "ps",
            "-a",
            "--filter",
            &filter,
            "--filter",
            f,
            "--format",
            "{{.Names}}",
        ])
    };
    let ours_ps = |a: &[&str]| t.ok(a);
    let theirs_ps = |a: &[&str]| sh(d.cmd().args(a));
    for f in ["health=healthy", "health=none", "health=starting"] {
        assert_eq!(ps(&ours_ps, f), ps(&theirs_ps, f), "{f}");
    }
}

/// Removes docker containers when dropped (a failed test too).
struct DockerRm<'a>(&'a Docker, Vec<String>);

impl Drop for DockerRm<'_> {
    fn drop(&mut self) {
        let _ = self.0.cmd().arg("rm").arg("-f").args(&self.1).output();
    }
}
