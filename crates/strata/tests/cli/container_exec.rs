//! `strata exec` (issue 4).

use crate::container_common::{Ctr, Pty};

#[test]
fn exec_runs_in_the_container() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "run",
        "-d",
        "--name",
        "xx",
        "-e",
        "FROM_RUN=1",
        "-w",
        "/tmp",
        "busybox",
        "sleep",
        "60",
    ]);
    let out = t.ok([
        "exec",
        "xx",
        "sh",
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; pwd; echo $FROM_RUN",
    ]);
    assert_eq!(out, "sleep 60 \n/tmp\n1\n");
    assert_eq!(
        t.ok([
            "exec",
            "-e",
            "A=b",
            "-w",
            "/etc",
            "xx",
            "sh",
            "-c",
            "echo $A; pwd"
        ]),
        "b\n/etc\n"
    );
    assert_eq!(t.ok(["exec", "-u", "nobody", "xx", "id", "-u"]), "65534\n");
    let out = t.run(["exec", "xx", "sh", "-c", "exit 6"]);
    assert_eq!(out.status.code(), Some(6));
    let out = t.env.run_stdin(["exec", "-i", "xx", "cat"], b"piped\n");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "piped\n");
    t.ok(["exec", "-d", "xx", "sh", "-c", "echo detached > /tmp/d"]);
    t.until(10, "the detached exec", || {
        t.run(["exec", "xx", "cat", "/tmp/d"]).stdout == b"detached\n"
    });
}

#[test]
fn exec_errors_like_docker() {
    let Some(t) = Ctr::new() else { return };
    t.ok(["run", "-d", "--name", "xx", "busybox", "sleep", "60"]);
    let err = t.fails_with(126, ["exec", "xx", "nope"]);
    assert!(
        err.contains("exec: \"nope\": executable file not found in $PATH"),
        "{err}"
    );
    let err = t.fails_with(126, ["exec", "-u", "ghost", "xx", "true"]);
    assert!(
        err.contains("unable to find user ghost: no matching entries in passwd file"),
        "{err}"
    );
    t.ok(["stop", "-t", "0", "xx"]);
    let err = t.fails_with(1, ["exec", "xx", "true"]);
    assert!(err.contains("is not running"), "{err}");
}

#[test]
fn exec_with_a_terminal() {
    let Some(t) = Ctr::new() else { return };
    t.ok(["run", "-d", "--name", "xx", "busybox", "sleep", "60"]);
    let mut pty = Pty::spawn(t.env.cmd(["exec", "-it", "xx", "sh"]), 30, 100);
    pty.read_until("# ", 20);
    pty.write("tty; stty size; echo $TERM; exit 2\n");
    let out = pty.read_until("xterm", 20);
    assert!(out.contains("/dev/pts/"), "{out}");
    assert!(out.contains("30 100"), "{out}");
    assert_eq!(pty.wait(20), Some(2));
}
