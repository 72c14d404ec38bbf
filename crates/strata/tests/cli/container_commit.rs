//! `strata commit`, and the chapter's lab end to end on a real terminal
//! (issue 4).

use crate::container_common::{Ctr, Pty};
use crate::support::docker::Docker;
use crate::support::sh;

#[test]
fn chapter_lab_on_a_terminal() {
    let Some(t) = Ctr::new() else { return };
    let mut pty = Pty::spawn(
        t.env
            .cmd(["run", "-it", "--name", "ch03lab", "busybox", "sh"]),
        24,
        80,
    );
    let banner = pty.read_until("# ", 30);
    assert!(banner.contains("# "), "no prompt: {banner:?}");
    pty.write("echo 'lab answer' >> ch03.txt; stty size; echo $TERM\n");
    let out = pty.read_until("xterm", 20);
    assert!(out.contains("24 80"), "terminal size relayed: {out:?}");
    pty.write("exit\n");
    assert_eq!(pty.wait(30), Some(0));

    let id = t.ok(["commit", "ch03lab", "ch03-lab-soln"]);
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(
        t.ok(["run", "--rm", "ch03-lab-soln", "cat", "ch03.txt"]),
        "lab answer\n"
    );
    let history = t.ok([
        "history",
        "--format",
        "{{.CreatedBy}}|{{.Size}}",
        "ch03-lab-soln",
    ]);
    let rows: Vec<&str> = history.lines().collect();
    assert_eq!(rows.len(), 2, "{history}");
    assert!(rows[0].starts_with("sh|"), "{history}");
    // The image keeps the container's command.
    assert_eq!(
        t.ok([
            "image",
            "inspect",
            "-f",
            "{{json .Config.Cmd}}",
            "ch03-lab-soln"
        ])
        .trim(),
        r#"["sh"]"#
    );
}

#[test]
fn commit_options_and_whiteouts() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "run",
        "--name",
        "cc",
        "-e",
        "KEEP=1",
        "busybox",
        "sh",
        "-c",
        "rm /etc/group && mkdir -p /opt/app && echo v1 > /opt/app/VERSION",
    ]);
    t.ok([
        "commit",
        "-m",
        "second edition",
        "-a",
        "Lab Author <lab@example.com>",
        "--change",
        "ENV MODE=prod",
        "--change",
        "WORKDIR /opt/app",
        "cc",
        "edited:v2",
    ]);
    let out = t.ok([
        "run",
        "--rm",
        "edited:v2",
        "sh",
        "-c",
        "cat VERSION; echo $KEEP $MODE; test -e /etc/group || echo no-group",
    ]);
    assert_eq!(out, "v1\n1 prod\nno-group\n");
    assert_eq!(
        t.ok([
            "image",
            "inspect",
            "-f",
            "{{.Author}}|{{.Comment}}",
            "edited:v2"
        ])
        .trim(),
        "Lab Author <lab@example.com>|second edition"
    );
    let history = t.ok(["history", "--format", "{{.Comment}}", "edited:v2"]);
    assert_eq!(history.lines().next(), Some("second edition"));

    // No changes: an empty_layer history row and no new layer.
    t.ok(["create", "--name", "unchanged", "busybox"]);
    t.ok(["commit", "unchanged", "same-layers"]);
    let layers = |img: &str| t.ok(["image", "inspect", "-f", "{{len .RootFS.Layers}}", img]);
    assert_eq!(layers("same-layers"), layers("busybox"));
}

#[test]
fn commit_of_a_running_container() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "run",
        "-d",
        "--name",
        "live",
        "busybox",
        "sh",
        "-c",
        "echo state > /state; sleep 60",
    ]);
    t.until(10, "the write", || {
        t.run(["exec", "live", "cat", "/state"]).stdout == b"state\n"
    });
    t.ok(["commit", "live", "snap"]);
    assert_eq!(
        t.ok(["exec", "live", "echo", "still running"]),
        "still running\n"
    );
    assert_eq!(t.ok(["run", "--rm", "snap", "cat", "/state"]), "state\n");
    // The image's container may not go away while it uses it.
    let err = t.env.fails(["rmi", "busybox"]);
    assert!(err.contains("container"), "{err}");
}

/// The committed image keeps the container's config as docker's does
/// (Tty, OpenStdin, StdinOnce, Attach*, Domainname, Image, Env, Cmd),
/// compared with docker 20.10 committing the same container.
#[test]
fn commit_keeps_the_container_config_as_docker() {
    let Some(t) = Ctr::new() else { return };
    let Some(d) = Docker::new() else { return };
    let img = "strata-commit-cfg:1";
    let out = "strata-commit-cfg-out:1";
    t.ok(["tag", "busybox", img]);
    d.load_from(&t.env, img);
    d.track(out);
    let create = [
        "create",
        "-t",
        "-i",
        "--network",
        "none",
        "-e",
        "A=1",
        "--name",
    ];
    let name = format!("strata-commit-cfg-{}", std::process::id());
    t.ok(create.iter().copied().chain([name.as_str(), img]));
    t.ok(["commit", name.as_str(), out]);
    let ours: serde_json::Value =
        serde_json::from_str(&t.ok(["image", "inspect", "-f", "{{json .Config}}", out])).unwrap();
    sh(d.cmd().args(create).args([name.as_str(), img]));
    sh(d.cmd().args(["commit", name.as_str(), out]));
    let theirs: serde_json::Value = serde_json::from_str(&sh(d.cmd().args([
        "image",
        "inspect",
        "-f",
        "{{json .Config}}",
        out,
    ])))
    .unwrap();
    // docker's Parent (the image the container ran) and the history row
    // it owns: the committed image's ID on top, the parent's below.
    let parent = t.ok(["image", "inspect", "-f", "{{.Parent}}", out]);
    let their_parent = sh(d.cmd().args(["image", "inspect", "-f", "{{.Parent}}", out]));
    assert_eq!(parent, their_parent);
    assert_eq!(
        parent.trim(),
        t.ok(["image", "inspect", "-f", "{{.Id}}", img]).trim()
    );
    let ids = |text: String| -> Vec<String> {
        text.lines()
            .map(|l| {
                if l.starts_with("<missing>") {
                    l.into()
                } else {
                    "ID".into()
                }
            })
            .collect()
    };
    let history = ["history", "--format", "{{.ID}}", out];
    let ours_rows = t.ok(history);
    assert_eq!(ids(ours_rows.clone()), ids(sh(d.cmd().args(history))));
    let short = &parent.trim()["sha256:".len()..][..12];
    assert_eq!(ours_rows.lines().nth(1), Some(short), "{ours_rows}");
    let _ = d.cmd().args(["rm", "-f", name.as_str()]).output();
    for k in [
        "AttachStdin",
        "AttachStdout",
        "AttachStderr",
        "Tty",
        "OpenStdin",
        "StdinOnce",
        "Domainname",
        "Image",
        "Env",
        "Cmd",
    ] {
        assert_eq!(ours[k], theirs[k], "{k}: ours {ours}\ndocker's {theirs}");
    }
    // The host name is the container's (its short ID) in both.
    let id = t.inspect(&name, "{{.Id}}");
    assert_eq!(ours["Hostname"], id[..12], "{ours}");
    assert_eq!(ours["Tty"], true);
}
