//! `top`, `diff`, `export`, `pause`/`unpause` (issue 10) and `rename`'s
//! errors, each compared with docker 20.10 on the same busybox container
//! where docker can run it.

use crate::container_common::{Ctr, Pty};
use crate::support::docker::Docker;
use crate::support::sh;

/// Runs `busybox sleep 1000` as `name` in strata and, when given, docker.
fn sleeper(t: &Ctr, d: Option<&Docker>, name: &str) {
    let args = [
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "none",
        "busybox",
        "sleep",
        "1000",
    ];
    t.ok(args);
    if let Some(d) = d {
        sh(d.cmd().args(args));
    }
}

fn docker_rm(d: &Docker, name: &str) {
    let _ = d.cmd().args(["rm", "-f", name]).output();
}

#[test]
fn top_lists_the_sleep_process_in_docker_columns() {
    let Some(t) = Ctr::new() else { return };
    let Some(d) = Docker::new() else { return };
    d.load_from(&t.env, "busybox");
    let name = format!("strata-top-{}", std::process::id());
    sleeper(&t, Some(&d), &name);
    let ours = t.ok(["top", &name]);
    let theirs = sh(d.cmd().args(["top", &name]));
    docker_rm(&d, &name);

    let lines: Vec<&str> = ours.lines().collect();
    assert_eq!(lines.len(), 2, "{ours}");
    // Same header, same column layout (tab writer: min width 20, padding 3).
    assert_eq!(lines[0], theirs.lines().next().unwrap(), "{ours}\n{theirs}");
    assert!(lines[0].starts_with("UID "), "{ours}");
    let cols: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cols.len(), 9, "{ours}");
    assert_eq!(&cols[7..], ["sleep", "1000"], "{ours}");
    assert_eq!(cols[1], t.inspect(&name, "{{.State.Pid}}"), "{ours}");

    // ps options pass through (`aux`), still filtered to the container.
    let aux = t.ok(["container", "top", &name, "aux"]);
    assert!(aux.starts_with("USER "), "{aux}");
    assert_eq!(aux.lines().count(), 2, "{aux}");

    t.ok(["stop", "-t", "0", &name]);
    let id = t.inspect(&name, "{{.Id}}");
    let err = t.fails_with(1, ["top", &name]);
    assert_eq!(
        err.trim(),
        format!("Error response from daemon: Container {id} is not running")
    );
}

/// A created file, a changed file, a deleted file and a chmod'ed directory.
const EDITS: &str = "mkdir -p /tmp/new/sub && echo x > /tmp/new/sub/f && echo changed > /etc/passwd && rm /etc/group && chmod 700 /tmp";

#[test]
fn diff_lists_added_changed_and_deleted_as_docker_does() {
    let Some(t) = Ctr::new() else { return };
    let Some(d) = Docker::new() else { return };
    d.load_from(&t.env, "busybox");
    let name = format!("strata-diff-{}", std::process::id());
    let args = [
        "run",
        "--name",
        &name,
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        EDITS,
    ];
    t.ok(args);
    sh(d.cmd().args(args));
    let ours = t.ok(["diff", &name]);
    let theirs = sh(d.cmd().args(["diff", &name]));
    docker_rm(&d, &name);
    // docker orders siblings as a Go map iterates (varies run to run);
    // the lines are the same, and strata's order is byte order.
    let sorted = |s: &str| {
        let mut v: Vec<String> = s.lines().map(str::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(sorted(&ours), sorted(&theirs), "{ours}\n{theirs}");
    assert_eq!(
        ours,
        "C /etc\nC /etc/passwd\nD /etc/group\nC /tmp\nA /tmp/new\nA /tmp/new/sub\nA /tmp/new/sub/f\n"
    );

    // A container that changed nothing has no changes (mount points and
    // the files strata writes for it are not the container's changes).
    t.ok(["run", "--name", "quiet", "busybox", "true"]);
    assert_eq!(t.ok(["container", "diff", "quiet"]), "");
    let err = t.fails_with(1, ["diff", "no-such-ctr"]);
    assert_eq!(
        err.trim(),
        "Error response from daemon: No such container: no-such-ctr"
    );
}

/// The names of a tar's members, in order.
fn members(tar: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(tar);
    a.entries()
        .expect("read tar")
        .map(|e| String::from_utf8_lossy(&e.expect("tar entry").path_bytes()).into_owned())
        .collect()
}

#[test]
fn export_is_the_merged_tree_without_whiteouts_as_docker_lists_it() {
    let Some(t) = Ctr::new() else { return };
    let Some(d) = Docker::new() else { return };
    d.load_from(&t.env, "busybox");
    let name = format!("strata-export-{}", std::process::id());
    let args = [
        "run",
        "--name",
        &name,
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        EDITS,
    ];
    t.ok(args);
    sh(d.cmd().args(args));
    let out = t.env.run(["export", &name]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = d
        .cmd()
        .args(["export", &name])
        .output()
        .expect("docker export");
    docker_rm(&d, &name);
    assert!(theirs.status.success());

    let ours = members(&out.stdout);
    assert!(ours.iter().all(|m| !m.contains(".wh.")), "{ours:?}");
    assert!(ours.contains(&"tmp/new/sub/f".to_string()), "{ours:?}");
    assert!(ours.contains(&"etc/passwd".to_string()), "{ours:?}");
    assert!(!ours.contains(&"etc/group".to_string()), "{ours:?}");
    // The init layer's files too (/.dockerenv, /dev/console, /etc/mtab…):
    // the same list in the same order.
    let theirs = members(&theirs.stdout);
    assert_eq!(ours, theirs);
    let mut a = tar::Archive::new(&out.stdout[..]);
    let mut passwd = String::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if &*e.path_bytes() == b"etc/passwd" {
            std::io::Read::read_to_string(&mut e, &mut passwd).unwrap();
        }
    }
    assert_eq!(passwd, "changed\n");

    // -o writes the same tar to a file; a running container's mounts
    // (here a bind) are not part of it.
    let file = t.env.path("export.tar");
    t.ok(["container", "export", "-o", file.to_str().unwrap(), &name]);
    assert_eq!(members(&std::fs::read(&file).unwrap()), ours);
    let host = t.env.path("bound");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("secret"), "x").unwrap();
    let bind = format!("{}:/data", host.display());
    t.ok([
        "run", "-d", "--name", "bound", "-v", &bind, "busybox", "sleep", "1000",
    ]);
    let out = t.env.run(["export", "bound"]);
    assert!(out.status.success());
    let listed = members(&out.stdout);
    assert!(listed.contains(&"data/".to_string()), "{listed:?}");
    assert!(
        !listed.iter().any(|m| m.starts_with("data/secret")),
        "{listed:?}"
    );
    assert!(
        !listed
            .iter()
            .any(|m| m.starts_with("proc/") && m != "proc/"),
        "{listed:?}"
    );

    // A terminal never receives the tar.
    let mut pty = Pty::spawn(t.env.cmd(["export", "bound"]), 24, 80);
    let said = pty.read_until("redirect", 20);
    assert!(
        said.contains("cowardly refusing to save to a terminal. Use the -o flag or redirect"),
        "{said:?}"
    );
    assert_eq!(pty.wait(20), Some(1));
}

/// The counter the container writes to /tmp/c, read from the host.
fn counter(t: &Ctr, name: &str) -> u64 {
    let pid = t.inspect(name, "{{.State.Pid}}");
    let text = std::fs::read_to_string(format!("/proc/{pid}/root/tmp/c")).unwrap_or_default();
    text.trim().parse().unwrap_or(0)
}

#[test]
fn pause_freezes_the_counter_and_unpause_resumes_it() {
    let Some(t) = Ctr::new() else { return };
    let loop_ = "i=0; while :; do i=$((i+1)); echo $i > /tmp/c; sleep 0.1; done";
    t.ok([
        "run", "-d", "--name", "counter", "busybox", "sh", "-c", loop_,
    ]);
    t.until(20, "the counter to start", || counter(&t, "counter") > 2);
    assert_eq!(t.ok(["pause", "counter"]), "counter\n");
    let frozen = counter(&t, "counter");
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert_eq!(
        counter(&t, "counter"),
        frozen,
        "the counter advanced while paused"
    );
    assert_eq!(
        t.inspect(
            "counter",
            "{{.State.Status}} {{.State.Running}} {{.State.Paused}}"
        ),
        "paused true true"
    );
    let status = t.ok(["ps", "--format", "{{.Status}}", "-f", "status=paused"]);
    assert!(status.trim().ends_with("(Paused)"), "{status}");
    assert!(status.starts_with("Up "), "{status}");
    let id = t.inspect("counter", "{{.Id}}");
    let err = t.fails_with(1, ["pause", "counter"]);
    assert_eq!(
        err.trim(),
        format!("Error response from daemon: Container {id} is already paused")
    );
    let err = t.fails_with(1, ["rm", "counter"]);
    assert!(
        err.contains("You cannot remove a paused container"),
        "{err}"
    );
    // exec and start refuse a paused container with docker 20.10's texts
    // (as its CLI printed them against its daemon on this machine).
    let err = t.fails_with(1, ["exec", "counter", "true"]);
    assert_eq!(
        err.trim(),
        "Error response from daemon: Container counter is paused, unpause the container before exec"
    );
    let err = t.fails_with(1, ["start", "counter"]);
    assert_eq!(
        err.trim(),
        "Error response from daemon: cannot start a paused container, try unpause instead\n\
         Error: failed to start containers: counter"
    );
    // commit freezes a running container for its copy; a paused one stays
    // paused after it.
    t.ok(["commit", "counter", "counter-img"]);
    assert_eq!(t.inspect("counter", "{{.State.Paused}}"), "true");
    assert_eq!(counter(&t, "counter"), frozen);

    assert_eq!(t.ok(["container", "unpause", "counter"]), "counter\n");
    t.until(20, "the counter to resume", || {
        counter(&t, "counter") > frozen + 2
    });
    assert_eq!(
        t.inspect("counter", "{{.State.Status}} {{.State.Paused}}"),
        "running false"
    );
    let err = t.fails_with(1, ["unpause", "counter"]);
    assert_eq!(
        err.trim(),
        format!("Error response from daemon: Container {id} is not paused")
    );

    // stop and kill of a paused container work as on a running one.
    t.ok(["pause", "counter"]);
    t.ok(["stop", "-t", "1", "counter"]);
    assert_eq!(
        t.inspect("counter", "{{.State.Status}} {{.State.Paused}}"),
        "exited false"
    );
    t.ok(["run", "-d", "--name", "sleeper", "busybox", "sleep", "1000"]);
    t.ok(["pause", "sleeper"]);
    t.ok(["kill", "sleeper"]);
    t.until(20, "the killed container to exit", || {
        t.inspect("sleeper", "{{.State.Status}}") == "exited"
    });
    t.ok(["start", "sleeper"]);
    t.ok(["pause", "sleeper"]);
    t.ok(["rm", "-f", "sleeper"]);
    let err = t.fails_with(1, ["pause", "counter"]);
    assert_eq!(
        err.trim(),
        format!("Error response from daemon: Container {id} is not running")
    );
}

#[test]
fn rename_errors_are_dockers() {
    let Some(t) = Ctr::new() else { return };
    let Some(d) = Docker::new() else { return };
    d.load_from(&t.env, "busybox");
    let pid = std::process::id();
    let (a, b, c) = (
        format!("strata-rn-a-{pid}"),
        format!("strata-rn-b-{pid}"),
        format!("strata-rn-c-{pid}"),
    );
    let mut ids = Vec::new();
    for n in [&a, &b] {
        let args = [
            "create",
            "--name",
            n,
            "--network",
            "none",
            "busybox",
            "true",
        ];
        let ours = t.ok(args).trim().to_string();
        let theirs = sh(d.cmd().args(args)).trim().to_string();
        ids.push((ours, theirs, n.clone()));
    }
    let answer = |out: std::process::Output, mine: bool| {
        let mut err = String::from_utf8_lossy(&out.stderr).into_owned();
        for (ours, theirs, n) in &ids {
            err = err.replace(if mine { ours } else { theirs }, &format!("<{n}>"));
        }
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            err,
        )
    };
    let cases: [[&str; 2]; 7] = [
        [&a, &a],
        [&a, &b],
        [&a, "bad name"],
        [&a, "x"],
        ["nosuch", "whatever"],
        [&a, ""],
        [&a, &c],
    ];
    let mut diffs = Vec::new();
    for [old, new] in cases {
        let ours = answer(t.env.run(["rename", old, new]), true);
        let theirs = answer(d.cmd().args(["rename", old, new]).output().unwrap(), false);
        if ours != theirs {
            diffs.push(format!(
                "rename {old:?} {new:?}: strata {ours:?}, docker {theirs:?}"
            ));
        }
    }
    assert_eq!(t.inspect(&c, "{{.Name}}"), format!("/{c}"));
    for n in [&a, &b, &c] {
        docker_rm(&d, n);
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
