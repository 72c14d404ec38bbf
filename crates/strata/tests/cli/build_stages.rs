//! Multi-stage builds: stages as a DAG, unneeded stages skipped (never
//! shown, never CACHED), independent stages in parallel, `COPY --from`
//! of a stage, an index or an image, and FROM a stage. See: issue 6.

use crate::build_common::{build_ok, context, step_states};
use crate::support::Env;

#[test]
fn independent_stages_run_in_parallel() {
    let env = Env::new();
    env.busybox("base");
    // Two independent stages that meet: each marks a shared cache mount
    // and waits (up to 20 s) for the other's mark. Run one after the
    // other, the first would wait in vain and fail the build; no clock
    // is asserted.
    let meet = |me: &str, other: &str| {
        format!(
            "RUN --mount=type=cache,id=rendezvous,target=/rv sh -c 'touch /rv/{me}; i=0; \\
             while [ ! -e /rv/{other} ]; do i=$((i+1)); [ $i -gt 200 ] && exit 1; sleep 0.1; done; \\
             echo {me} > /{me}'\n"
        )
    };
    let df = format!(
        "FROM base AS a\n{}FROM base AS b\n{}FROM base AS unused\nRUN echo unused > /u\nFROM base\nCOPY --from=a /a /a\nCOPY --from=1 /b /b\nCMD [\"cat\", \"/a\", \"/b\"]\n",
        meet("a", "b"),
        meet("b", "a")
    );
    let dir = context(&env, "ctx", &[("Dockerfile", &df)]);
    let p = build_ok(&env, &dir, &["-t", "par"]);
    assert!(!p.contains("unused"), "an unneeded stage was shown:\n{p}");
    assert_eq!(env.ok(["run", "--rm", "par"]), "a\nb\n");
    // A rebuild: everything CACHED; the unneeded stage still never appears.
    let p = build_ok(&env, &dir, &["-t", "par"]);
    assert!(!p.contains("unused"), "{p}");
    let states = step_states(&p);
    assert!(states.iter().all(|(_, s)| s == "CACHED"), "{p}");
    assert!(
        states
            .iter()
            .any(|(n, _)| n.starts_with("[a 2/2] RUN --mount=type=cache")),
        "{p}"
    );
}

#[test]
fn from_stage_copy_from_image_and_target() {
    let env = Env::new();
    env.busybox("base");
    env.busybox("tools:1");
    let df = "FROM base AS build\nWORKDIR /src\nRUN echo built > out.txt && mkdir -p sub && echo deep > sub/d\n\nFROM build AS test\nRUN test -f /src/out.txt && echo tested > /tested\n\nFROM base\nCOPY --from=build /src/out.txt /srv/\nCOPY --from=build /src/sub /srv/sub\nCOPY --from=tools:1 /bin/busybox /opt/busybox\n";
    let dir = context(&env, "ctx", &[("Dockerfile", df)]);
    let out = env.path("rootfs");
    let p = build_ok(
        &env,
        &dir,
        &["--output", &format!("type=local,dest={}", out.display())],
    );
    assert!(!p.contains("[test"), "the test stage is not needed:\n{p}");
    assert_eq!(
        std::fs::read_to_string(out.join("srv/out.txt")).unwrap(),
        "built\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("srv/sub/d")).unwrap(),
        "deep\n"
    );
    assert!(out.join("opt/busybox").is_file());
    // --target test builds FROM the build stage, which it inherits (WORKDIR too).
    build_ok(&env, &dir, &["--target", "test", "-t", "tested"]);
    let c = crate::build_common::raw_config(&env, "tested");
    assert_eq!(c["config"]["WorkingDir"], "/src");
    assert_eq!(
        env.ok(["run", "--rm", "tested", "cat", "/tested"]),
        "tested\n"
    );
}
