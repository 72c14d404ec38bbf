//! Bad input: docker's messages and exit codes (125, 126, 127), and a
//! store left as it was (issue 4).

use crate::container_common::Ctr;

#[test]
fn bad_input_fails_like_docker() {
    let Some(t) = Ctr::new() else { return };
    let before = t.env.store_files();
    let err = t.fails_with(125, ["run", "--rm", "no-such-image"]);
    assert!(
        err.contains("Unable to find image 'no-such-image:latest' locally"),
        "{err}"
    );
    let err = t.fails_with(125, ["run", "--name", "x y", "busybox"]);
    assert!(err.contains("Invalid container name (x y)"), "{err}");
    let err = t.fails_with(125, ["run", "--rm", "-u", "ghost", "busybox", "true"]);
    assert!(
        err.contains("unable to find user ghost: no matching entries in passwd file"),
        "{err}"
    );
    let err = t.fails_with(125, ["run", "--rm", "-u", "root:ghosts", "busybox", "true"]);
    assert!(
        err.contains("unable to find group ghosts: no matching entries in group file"),
        "{err}"
    );
    let err = t.fails_with(127, ["run", "--rm", "busybox", "foo"]);
    assert!(
        err.contains("exec: \"foo\": executable file not found in $PATH"),
        "{err}"
    );
    let err = t.fails_with(127, ["run", "--rm", "busybox", "/no/such"]);
    assert!(
        err.contains("exec: \"/no/such\": stat /no/such: no such file or directory"),
        "{err}"
    );
    let err = t.fails_with(126, ["run", "--rm", "busybox", "/etc/passwd"]);
    assert!(
        err.contains("exec: \"/etc/passwd\": permission denied"),
        "{err}"
    );
    let err = t.fails_with(126, ["run", "--rm", "busybox", "/etc"]);
    assert!(err.contains("is a directory"), "{err}");
    let err = t.fails_with(125, ["run", "--rm", "--entrypoint", "", "busybox"]);
    assert!(err.contains("No command specified"), "{err}");
    t.fails_with(125, ["run", "--rm", "-w", "relative", "busybox", "true"]);
    // `relative:/x` is a named volume now (issue 10); a relative
    // destination is still wrong.
    let err = t.fails_with(125, ["run", "--rm", "-v", "relative:x", "busybox", "true"]);
    assert!(err.contains("mount path must be absolute"), "{err}");
    t.fails_with(
        125,
        ["run", "--rm", "--runtime", "/no/runtime", "busybox", "true"],
    );
    t.fails_with(125, ["run", "--rm", "-a", "bogus", "busybox", "true"]);
    assert_eq!(t.ok(["ps", "-aq"]), "");
    assert_eq!(t.env.store_files(), before, "images and layers unchanged");
    // A failed start keeps docker's state: created, exit code, error.
    t.fails_with(127, ["run", "--name", "kept", "busybox", "foo"]);
    assert_eq!(
        t.inspect("kept", "{{.State.Status}} {{.State.ExitCode}}"),
        "created 127"
    );
}
