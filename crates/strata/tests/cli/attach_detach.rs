//! `attach` and docker's detach keys (Ctrl-P Ctrl-Q, `--detach-keys`) on
//! `attach` and `run -it`: detaching leaves the container running
//! (issue 10).

use crate::container_common::{Ctr, Pty};

#[test]
fn ctrl_p_ctrl_q_detaches_run_it_and_attach() {
    let Some(t) = Ctr::new() else { return };
    let mut pty = Pty::spawn(
        t.env.cmd(["run", "-it", "--name", "tt", "busybox", "sh"]),
        24,
        80,
    );
    pty.read_until("# ", 20);
    pty.write("echo one-$((40+2))\r");
    assert!(pty.read_until("one-42", 10).contains("one-42"));
    pty.write("\x10\x11");
    // docker's `run` leaves quietly, with 0.
    assert_eq!(pty.wait(20), Some(0));
    assert_eq!(t.inspect("tt", "{{.State.Status}}"), "running");

    // attach: the same shell, then detach again — docker's message, 1.
    let mut pty = Pty::spawn(t.env.cmd(["attach", "tt"]), 24, 80);
    pty.write("echo two-$((40+3))\r");
    assert!(pty.read_until("two-43", 10).contains("two-43"));
    pty.write("\x10\x11");
    let out = pty.read_until("read escape sequence", 10);
    assert!(out.contains("read escape sequence"), "{out:?}");
    assert_eq!(pty.wait(20), Some(1));
    assert_eq!(t.inspect("tt", "{{.State.Status}}"), "running");

    // A lone Ctrl-P reaches the shell; --detach-keys picks other keys.
    let mut pty = Pty::spawn(
        t.env.cmd(["attach", "--detach-keys", "ctrl-a,x", "tt"]),
        24,
        80,
    );
    pty.write("\x10\x11echo three-$((40+4))\r");
    assert!(pty.read_until("three-44", 10).contains("three-44"));
    assert_eq!(t.inspect("tt", "{{.State.Status}}"), "running");
    pty.write("\x01x");
    assert_eq!(pty.wait(20), Some(1));
    assert_eq!(t.inspect("tt", "{{.State.Status}}"), "running");

    // Attached until the end: the exit code of the shell is attach's.
    let mut pty = Pty::spawn(t.env.cmd(["attach", "tt"]), 24, 80);
    pty.write("exit 7\r");
    assert_eq!(pty.wait(20), Some(7));
    assert_eq!(
        t.inspect("tt", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 7"
    );
}

#[test]
fn attach_relays_a_detached_containers_output_and_exit() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "run",
        "-d",
        "--name",
        "bg",
        "busybox",
        "sh",
        "-c",
        "while [ ! -f /tmp/go ]; do echo tick; sleep 0.1; done; echo bye; exit 3",
    ]);
    let mut pty = Pty::spawn(t.env.cmd(["attach", "bg"]), 24, 80);
    assert!(pty.read_until("tick", 20).contains("tick"));
    t.ok(["exec", "bg", "touch", "/tmp/go"]);
    assert!(pty.read_until("bye", 20).contains("bye"));
    assert_eq!(pty.wait(20), Some(3));

    let err = t.fails_with(1, ["attach", "bg"]);
    assert!(
        err.contains("You cannot attach to a stopped container, start it first"),
        "{err}"
    );
    t.fails_with(1, ["attach", "nosuch"]);
}
