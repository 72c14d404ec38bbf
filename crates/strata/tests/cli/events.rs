//! `events` (issue 10): the store's event journal printed and filtered as
//! docker 20.10 prints its daemon's events for the same container
//! lifecycle; `--since`/`--until` bound it, and without `--until` it
//! follows new events.

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::container_common::Ctr;
use crate::support::docker::Docker;
use crate::support::sh;

const LIFECYCLE: [&str; 8] = [
    "--filter",
    "event=create",
    "--filter",
    "event=start",
    "--filter",
    "event=die",
    "--filter",
    "event=destroy",
];

/// What docker records for tag, pause, unpause, rename, kill, stop,
/// restart, rm, rmi, volume and network create/rm: the same events, in
/// the same order, with the same attributes (IDs left out; docker's
/// network connect/disconnect events of a container, which strata does
/// not record, are filtered out of both).
#[test]
fn more_events_equal_dockers() {
    let Some(t) = Ctr::new() else { return };
    let Some(d) = Docker::new() else { return };
    d.load_from(&t.env, "busybox");
    let pid = std::process::id();
    let (name, renamed) = (format!("strata-ev2-{pid}"), format!("strata-ev2b-{pid}"));
    let tag = format!("strata-ev2-img:{pid}");
    let (vol, net) = (format!("strata-ev2v-{pid}"), format!("strata-ev2n-{pid}"));
    d.track(&tag);
    let since = chrono::Utc::now().timestamp().to_string();
    let steps: Vec<Vec<&str>> = vec![
        vec!["tag", "busybox", &tag],
        vec![
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            "none",
            "busybox",
            "sleep",
            "100",
        ],
        vec!["pause", &name],
        vec!["unpause", &name],
        vec!["rename", &name, &renamed],
        vec!["kill", "-s", "USR1", &renamed],
        vec!["stop", "-t", "1", &renamed],
        vec!["restart", "-t", "0", &renamed],
        vec!["rm", "-f", &renamed],
        vec!["rmi", &tag],
        vec!["volume", "create", &vol],
        vec!["volume", "rm", &vol],
        vec!["network", "create", &net],
        vec!["network", "rm", &net],
    ];
    for args in &steps {
        let ours = t.run(args);
        assert!(
            ours.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&ours.stderr)
        );
        sh(d.cmd().args(args));
    }
    let until = format!("{}", chrono::Utc::now().timestamp() + 1);
    let args = [
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.ID}} {{json .Actor.Attributes}}",
    ];
    // Only this test's objects (the daemon and store are shared).
    let mine = |out: String| -> Vec<String> {
        out.lines()
            .filter(|l| {
                [&name, &renamed, &tag, &vol, &net]
                    .iter()
                    .any(|n| l.contains(n.as_str()))
            })
            .filter(|l| !l.starts_with("network connect") && !l.starts_with("network disconnect"))
            .map(|l| {
                // IDs differ between the two, but a volume's is its name.
                let f: Vec<&str> = l.splitn(4, ' ').collect();
                let id = if f[0] == "volume" { f[2] } else { "ID" };
                let attrs = f[3].split("sha256:").next().unwrap_or(f[3]);
                format!("{} {} {id} {attrs}", f[0], f[1])
            })
            .collect()
    };
    let all = t.ok(args);
    let ours = mine(all.clone());
    let theirs = mine(sh(d.cmd().args(args)));
    assert_eq!(ours, theirs);
    for e in ["container pause", "volume create", "network destroy"] {
        assert!(ours.iter().any(|l| l.starts_with(e)), "{e}: {ours:?}");
    }
    // An untag names the image by its ID only, and other tests untag the
    // same image in the shared dockerd: it is checked on strata's side
    // (this test's own store).
    let id = t.ok(["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    let untag = format!("image untag {} ", id.trim());
    assert_eq!(
        all.lines().filter(|l| l.starts_with(&untag)).count(),
        1,
        "{all}"
    );
}

#[test]
fn lifecycle_events_equal_dockers() {
    let Some(t) = Ctr::new() else { return };
    let Some(d) = Docker::new() else { return };
    d.load_from(&t.env, "busybox");
    let name = format!("strata-ev-{}", std::process::id());
    let since = chrono::Utc::now().timestamp().to_string();
    for args in [
        vec![
            "run",
            "--name",
            &name,
            "-l",
            "team=a",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "exit 3",
        ],
        vec!["rm", &name],
    ] {
        let _ = t.run(&args);
        let _ = d.cmd().args(&args).output();
    }
    let until = format!("{}", chrono::Utc::now().timestamp() + 1);
    let filter = format!("container={name}");
    let fmt = "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.team}} {{.Status}} {{.From}} {{.Scope}}";
    let mut args = vec![
        "events", "--since", &since, "--until", &until, "--filter", &filter,
    ];
    args.extend(LIFECYCLE);
    args.extend(["--format", fmt]);
    let ours = t.ok(&args);
    let theirs = sh(d.cmd().args(&args));
    assert_eq!(ours, theirs);
    assert_eq!(ours.lines().count(), 4, "{ours}");
    // The default line: time, type, action, ID, sorted attributes.
    let args = vec![
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        &filter,
        "--filter",
        "event=die",
    ];
    let line = t.ok(&args);
    let dline = sh(d.cmd().args(&args));
    let tail = |s: &str| {
        s.split_once(' ')
            .unwrap()
            .1
            .split(' ')
            .skip(3)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(tail(&line), tail(&dline));
    assert!(line.contains(" container die "), "{line}");
    // {{json .}}: docker's message document, the same keys and values but
    // the IDs and times.
    let args = [
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        &filter,
        "--filter",
        "event=die",
        "--format",
        "{{json .}}",
    ];
    let norm = |s: &str| {
        let mut v: serde_json::Value = serde_json::from_str(s.trim()).unwrap();
        for k in ["id", "time", "timeNano"] {
            v[k] = serde_json::Value::Null;
        }
        v["Actor"]["ID"] = serde_json::Value::Null;
        v
    };
    assert_eq!(norm(&t.ok(args)), norm(&sh(d.cmd().args(args))));
    assert!(
        line.trim_end()
            .ends_with(&format!("(exitCode=3, image=busybox, name={name}, team=a)")),
        "{line}"
    );
}

#[test]
fn events_follow_new_ones_until_stopped() {
    let Some(t) = Ctr::new() else { return };
    let mut follower = t
        .env
        .cmd([
            "events",
            "--filter",
            "container=followed",
            "--format",
            "{{.Action}}",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn events");
    // Nothing before it started is shown.
    std::thread::sleep(Duration::from_millis(300));
    t.ok(["create", "--name", "followed", "busybox", "true"]);
    t.ok(["rm", "followed"]);
    let mut out = follower.stdout.take().unwrap();
    let got = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 256];
        let end = Instant::now() + Duration::from_secs(30);
        while Instant::now() < end && !String::from_utf8_lossy(&buf).contains("destroy") {
            match out.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        String::from_utf8_lossy(&buf).into_owned()
    });
    let text = {
        let end = Instant::now() + Duration::from_secs(30);
        while !got.is_finished() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = follower.kill();
        let _ = follower.wait();
        got.join().unwrap()
    };
    assert_eq!(text, "create\ndestroy\n");
}
