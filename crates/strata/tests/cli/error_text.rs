//! Error texts: an OS error is printed once, a template error is labelled
//! once, a Dockerfile line echoed in an error has its control bytes
//! escaped, `--memory` and `--stop-signal` are refused as docker refuses
//! them. (Retry warnings without colour: `registry_limits`.) See: issue 11
//! ("Error text").

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

/// `--memory` beyond int64 and an unknown `--stop-signal` are refused at
/// create, with docker's texts. See: issue 11 ("Error text").
#[test]
fn impossible_memory_and_unknown_stop_signals_are_refused() {
    let env = Env::new();
    env.busybox("base");
    let out = env
        .cmd(["create", "--memory=99999999999999999999g", "base"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Minimum memory limit allowed is 6MB"), "{err}");
    let out = env
        .cmd(["create", "--stop-signal=FOO", "base"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Invalid signal: FOO"), "{err}");
    assert!(
        env.ok(["ps", "-aq"]).trim().is_empty(),
        "no container was created"
    );
}

/// `--memory` takes go-units sizes as docker 20.10 does (`1GiB`, `1g`,
/// `1.5k`), and never `inf`, `NaN` or an exponent. See: issue 14.
#[test]
fn memory_sizes_parse_as_docker() {
    let env = Env::new();
    env.busybox("base");
    for (flag, want) in [
        ("1GiB", "1073741824"),
        ("1g", "1073741824"),
        ("64m", "67108864"),
    ] {
        let id = env.ok(["create", "--memory", flag, "base"]);
        let got = env.ok(["inspect", "-f", "{{.HostConfig.Memory}}", id.trim()]);
        assert_eq!(got.trim(), want, "--memory {flag}");
    }
    for bad in ["inf", "NaN", "1e9", "-1"] {
        // `--memory=-1`: a value that starts with `-` is given inline.
        let flag = format!("--memory={bad}");
        let out = env.cmd(["create", &flag, "base"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{flag}: {err}");
        assert!(err.contains(&format!("invalid size: '{bad}'")), "{err}");
    }
}

/// A `--filter` without `=`: docker's flag error, exit 125, on every
/// list command that filters.
#[test]
fn a_filter_without_a_value_is_dockers_flag_error() {
    let env = Env::new();
    for cmd in [
        &["ps", "-a"][..],
        &["images"],
        &["volume", "ls"],
        &["network", "ls"],
    ] {
        let out = env.run(cmd.iter().copied().chain(["--filter", "foo"]));
        assert_eq!(out.status.code(), Some(125), "{cmd:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).trim_end(),
            r#"Error: invalid argument "foo" for "-f, --filter" flag: bad format of filter (expected name=value)"#,
            "{cmd:?}"
        );
    }
}
