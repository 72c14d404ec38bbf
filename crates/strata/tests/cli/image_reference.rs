//! Image references are normalised and validated as docker 20.10 does:
//! `strata tag` and `docker tag` accept and refuse the same names, with
//! the same texts (`UPPER/case` is refused, never sent to a host `upper`).
//! The full table lives beside the parser (`strata-oci` reference.rs).
//! See: issue 14.

use std::process::Stdio;

use crate::support::Env;
use crate::support::docker::Docker;

const REFS: &[&str] = &[
    "UPPER/case",
    "UP/lower/x",
    "localhost/UP",
    "LOCALHOST/x",
    "Foo",
    "a/B",
    "Upper.com/case",
    "UPPER:5000/case",
    "Localhost:5000/x",
    "a//b",
    "busybox:-x",
    "a___b",
    "host:port/x",
    "[::1]:5000/app",
    "a:b:c",
    "a_b.com/x",
    "busybox@sha256:ABC",
    "strata-ref/ok:v1.0",
    "127.0.0.1:5000/node:18",
];

#[test]
fn tag_accepts_and_refuses_as_docker() {
    let env = Env::new();
    env.busybox("strata-ref/base:1");
    // Without docker: the refusals the issue names.
    let out = env.run(["tag", "strata-ref/base:1", "UPPER/case"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "\"UPPER/case\" is not a valid repository/tag: invalid reference format: repository name must be lowercase"
        ),
        "{out:?}"
    );
    let Some(d) = Docker::new() else { return };
    d.load_from(&env, "strata-ref/base:1");
    for r in REFS {
        let theirs = d
            .cmd()
            .args(["tag", "strata-ref/base:1", r])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        if theirs.status.success() {
            d.track(r);
        }
        let ours = env.run(["tag", "strata-ref/base:1", r]);
        assert_eq!(
            ours.status.success(),
            theirs.status.success(),
            "{r}: {ours:?}"
        );
        if !theirs.status.success() {
            let want = String::from_utf8_lossy(&theirs.stderr).trim().to_string();
            let got = String::from_utf8_lossy(&ours.stderr).trim().to_string();
            assert_eq!(got.strip_prefix("Error: ").unwrap_or(&got), want, "{r}");
        }
    }
}

/// `build -t` validates its tags as docker's flag does (exit 125).
#[test]
fn build_tag_flag_refuses_as_docker() {
    let env = Env::new();
    let dir = crate::build_common::context(&env, "ctx", &[("Dockerfile", "FROM scratch\n")]);
    let out = crate::build_common::build(&env, &dir, &["-t", "Foo"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "invalid argument \"Foo\" for \"-t, --tag\" flag: invalid reference format: repository name must be lowercase"
        ),
        "{out:?}"
    );
}
