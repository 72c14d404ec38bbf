//! A container's root has what docker's init layer gives it —
//! `/.dockerenv` (empty, mode 0755) and `/etc/mtab` → `/proc/mounts` —
//! compared with the test dockerd; neither is a change of the container
//! (`diff`, `commit`), and a build's RUN has neither (BuildKit's). See:
//! issue 10.

use crate::build_common::{build_ok, context};
use crate::confinement_common::Docker;
use crate::container_common::Ctr;

const PROBE: &str = "stat -c '%n %a %s %F' /.dockerenv; readlink /etc/mtab";

#[test]
fn the_init_layer_has_dockers_files_and_is_no_change() {
    let Some(t) = Ctr::new() else { return };
    let Some(d) = Docker::new("initlayer") else {
        return;
    };
    let (code, docker_out, err) = d.run(&[], &["sh", "-c", PROBE]);
    assert_eq!(code, Some(0), "docker: {err}");
    let ours = t.ok([
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        PROBE,
    ]);
    assert_eq!(ours, docker_out);
    assert_eq!(ours, "/.dockerenv 755 0 regular empty file\n/proc/mounts\n");

    let name = format!("initlayer-{}", std::process::id());
    t.ok(["run", "--name", &name, "busybox", "touch", "/made"]);
    assert_eq!(t.ok(["diff", &name]), "A /made\n");
    t.ok(["commit", &name, "initlayer-committed"]);
    t.ok(["rm", &name]);
    let probe = "ls -a / | grep -c dockerenv; ls /etc | grep -c mtab; true";
    // The committed image's layers hold /made, not the init layer's files.
    let saved = t.env.path("committed.tar");
    t.ok(["save", "-o", saved.to_str().unwrap(), "initlayer-committed"]);
    let listing = crate::support::sh(std::process::Command::new("sh").arg("-c").arg(format!(
        "cd {0} && mkdir -p x && tar -xf committed.tar -C x && \
                 find x -type f | while read -r f; do tar -tf \"$f\" 2>/dev/null; done; \
                 true",
        t.env.path("").display()
    )));
    assert!(listing.contains("made"), "{listing}");
    assert!(!listing.contains(".dockerenv"), "{listing}");
    assert!(!listing.contains("etc/mtab"), "{listing}");

    // A build step (BuildKit's RUN) has neither.
    let dir = context(
        &t.env,
        "ctx",
        &[(
            "Dockerfile",
            &format!("FROM busybox\nRUN ({probe}) > /probe\n"),
        )],
    );
    build_ok(&t.env, &dir, &["-t", "initlayer-built"]);
    let out = t.ok([
        "run",
        "--rm",
        "--network",
        "none",
        "initlayer-built",
        "cat",
        "/probe",
    ]);
    assert_eq!(out, "0\n0\n");
}
