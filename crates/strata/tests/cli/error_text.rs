//! Error texts: an OS error is printed once, a template error is labelled
//! once, a Dockerfile line echoed in an error has its control bytes
//! escaped. See: issue 11 ("Error text").

use crate::build_common::{build, context};
use crate::support::Env;

#[test]
fn an_os_error_is_printed_once() {
    let env = Env::new();
    env.ok(["images"]);
    let long = env.path(&"a".repeat(300));
    let err = env.fails(["load", "-i", long.to_str().unwrap()]);
    assert_eq!(
        err.matches("File name too long").count(),
        1,
        "the OS error once: {err}"
    );
}

#[test]
fn a_template_error_is_labelled_once() {
    let env = Env::new();
    env.ok(["images"]);
    let err = env.fails(["images", "--format", "{{.Foo"]);
    assert_eq!(
        err.trim_end(),
        "Error: template parsing error: template: :1: unclosed action",
        "{err}"
    );
}

#[test]
fn control_bytes_of_a_dockerfile_line_are_escaped_in_errors() {
    let env = Env::new();
    let dir = context(
        &env,
        "ctx",
        &[(
            "Dockerfile",
            "FROM scratch\nBOGUS \x1b[2J\x1b]0;owned\x07 here\n",
        )],
    );
    let out = build(&env, &dir, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains('\x1b') && !err.contains('\x07'), "{err:?}");
    assert!(
        err.contains(r"\x1b[2J"),
        "the bytes are shown escaped: {err}"
    );
}
