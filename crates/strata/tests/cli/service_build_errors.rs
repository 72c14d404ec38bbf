//! `POST /build` (docker's classic builder) where an instruction cannot be
//! evaluated, and where a FROM pulls, against the private dockerd with
//! `DOCKER_BUILDKIT=0 docker build` (issue 17): a COPY source missing from
//! the context, a base image the registry does not have and a RUN that
//! fails before them print the `Step` lines of what ran, the failing
//! instruction's `Step` line and dockerd's message, with its exit status;
//! an unknown instruction is dockerd's `Error response from daemon`; a
//! FROM that pulls shows the pull (`Pulling from`, the layer, `Digest:`,
//! `Status:`) under its `Step` line. IDs are masked.

use std::path::Path;
use std::process::{Command, Output};

use crate::service_build::{shape, text};
use crate::service_common::{Svc, docker_at, dockerd_sock};
use crate::support::{self, skip};

/// dockerd's socket and docker's CLI config for it, or `None` after
/// saying why not.
fn oracle(s: &Svc) -> Option<(String, std::path::PathBuf)> {
    let Some(d) = dockerd_sock() else {
        skip("no docker daemon (STRATA_TEST_DOCKER_HOST) to compare with");
        return None;
    };
    Some((
        format!("unix://{}", d.display()),
        s.t.env.path("dockerd-config"),
    ))
}

/// docker's CLI (classic builder) against dockerd (`theirs`) or strata.
fn cli(s: &Svc, dockerd: &(String, std::path::PathBuf), theirs: bool) -> Command {
    if theirs {
        docker_at(&dockerd.0, &dockerd.1)
    } else {
        s.docker()
    }
}

fn build(c: &mut Command, file: &Path, ctx: &Path, extra: &[&str]) -> Output {
    c.arg("build")
        .args(extra)
        .arg("-f")
        .arg(file)
        .arg(ctx)
        .output()
        .unwrap()
}

#[test]
fn service_classic_build_errors_match_dockerd() {
    let Some(s) = Svc::new() else { return };
    let Some(dockerd) = oracle(&s) else { return };
    let Some(reg) = support::registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY)");
    };
    let docker = support::docker::Docker::new().expect("dockerd");
    // A base of this test's own: tests running at once load their
    // busybox (another ID) into dockerd under `busybox`.
    let bb = format!("strata-errors-busybox-{}", std::process::id());
    s.t.env.ok(["tag", "busybox", &bb]);
    docker.load_from(&s.t.env, &bb);
    let ctx = s.t.env.path("errors");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("a.txt"), "a\n").unwrap();
    // A value of this run: neither builder has these steps cached.
    let nonce = format!("{}-{:?}", std::process::id(), std::time::SystemTime::now());
    let missing = format!("{reg}/strata-missing-{}:v1", std::process::id());
    // (name, Dockerfile, the failing instruction's Step line, the message)
    let cases = [
        (
            "copy",
            format!(
                "FROM {bb}\nENV RUN_ID=\"{nonce}\"\nRUN echo before\nCOPY nope /x\nRUN echo never\n"
            ),
            Some("Step 4/5 : COPY nope /x"),
            "COPY failed: file not found in build context or excluded by .dockerignore: stat nope: file does not exist".to_string(),
        ),
        (
            "unknown",
            format!("FROM {bb}\nENV RUN_ID=\"{nonce}\"\nFOO bar\n"),
            None,
            "Error response from daemon: dockerfile parse error line 3: unknown instruction: FOO"
                .to_string(),
        ),
        (
            "from",
            format!(
                "FROM {bb} AS base\nENV RUN_ID=\"{nonce}\"\nFROM {missing}\nCOPY --from=base /bin/sh /x\n"
            ),
            Some("Step 3/4 : FROM 127.0.0.1"),
            format!("manifest for {missing} not found: manifest unknown: manifest unknown"),
        ),
        (
            "run-first",
            format!("FROM {bb}\nENV RUN_ID=\"{nonce}\"\nRUN exit 3\nCOPY nope /x\n"),
            Some("Step 3/4 : RUN exit 3"),
            "The command '/bin/sh -c exit 3' returned a non-zero code: 3".to_string(),
        ),
    ];
    for (name, dockerfile, step, message) in &cases {
        let file = ctx.join(format!("Dockerfile.{name}"));
        std::fs::write(&file, dockerfile).unwrap();
        // The second time the steps before the failure are cached.
        for round in ["first", "again"] {
            let t = build(&mut cli(&s, &dockerd, true), &file, &ctx, &[]);
            let o = build(&mut cli(&s, &dockerd, false), &file, &ctx, &[]);
            let what = format!(
                "{name} ({round}): strata\n{}\ndockerd\n{}",
                text(&o),
                text(&t)
            );
            assert!(!t.status.success(), "{what}");
            assert_eq!(
                (o.status.code(), shape(&o.stdout), shape(&o.stderr)),
                (t.status.code(), shape(&t.stdout), shape(&t.stderr)),
                "{what}"
            );
            let (out, err) = (
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr),
            );
            assert!(err.contains(message.as_str()), "{what}");
            match step {
                // Last, or before the failed RUN's ` ---> Running in`.
                Some(h) => assert!(
                    out.lines().rev().take(2).any(|l| l.starts_with(h)),
                    "{what}"
                ),
                None => assert!(!out.contains("Step "), "{what}"),
            }
        }
    }
    let copy = ctx.join("Dockerfile.copy");
    // The quiet build shows what ran only when it fails, as dockerd.
    let t = build(&mut cli(&s, &dockerd, true), &copy, &ctx, &["-q"]);
    let o = build(&mut cli(&s, &dockerd, false), &copy, &ctx, &["-q"]);
    assert_eq!(
        (o.status.code(), shape(&o.stdout), shape(&o.stderr)),
        (t.status.code(), shape(&t.stdout), shape(&t.stderr)),
        "strata\n{}\ndockerd\n{}",
        text(&o),
        text(&t)
    );
    // strata's own CLI keeps BuildKit's words.
    let own =
        s.t.env
            .cmd(["build", "-f", copy.to_str().unwrap(), ctx.to_str().unwrap()])
            .output()
            .unwrap();
    let err = String::from_utf8_lossy(&own.stderr);
    assert!(
        !own.status.success()
            && err.contains("failed to compute cache key: \"/nope\": not found")
            && !err.contains("COPY failed"),
        "{}",
        text(&own)
    );
}

/// The lines of a pull's progress whose number depends on timing and
/// chunking: dockerd passes a transfer's progress on lossily (a fast
/// layer may skip `Download complete`), and strata reports no
/// `Extracting` (extraction is streamed).
fn transfer(line: &str) -> bool {
    [
        ": Waiting",
        ": Downloading",
        ": Verifying Checksum",
        ": Download complete",
        ": Extracting",
    ]
    .iter()
    .any(|w| line.contains(w))
}

#[test]
fn service_classic_build_shows_the_pull_of_its_base_as_dockerd() {
    let Some(s) = Svc::new() else { return };
    let Some(dockerd) = oracle(&s) else { return };
    let Some(reg) = support::registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY)");
    };
    let docker = support::docker::Docker::new().expect("dockerd");
    let ctx = s.t.env.path("pull");
    std::fs::create_dir_all(&ctx).unwrap();
    let nonce = format!("{}-{:?}", std::process::id(), std::time::SystemTime::now());
    // An image neither has: made and pushed by dockerd, then removed there.
    let base = format!("{reg}/strata-classic-pull-{}:v1", std::process::id());
    docker.track(&base);
    std::fs::write(ctx.join("nonce.txt"), &nonce).unwrap();
    let make = ctx.join("Dockerfile.base");
    std::fs::write(&make, "FROM scratch\nCOPY nonce.txt /nonce.txt\n").unwrap();
    let made = build(
        &mut cli(&s, &dockerd, true),
        &make,
        &ctx,
        &["-q", "-t", &base],
    );
    assert!(made.status.success(), "{}", text(&made));
    for args in [["push", &base], ["rmi", &base]] {
        let out = cli(&s, &dockerd, true).args(args).output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    let file = ctx.join("Dockerfile");
    std::fs::write(&file, format!("FROM {base}\nENV RUN_ID=\"{nonce}\"\n")).unwrap();
    let tag = format!("classic-pull-{}:v1", std::process::id());
    docker.track(&tag);
    let t = build(&mut cli(&s, &dockerd, true), &file, &ctx, &["-t", &tag]);
    let o = build(&mut cli(&s, &dockerd, false), &file, &ctx, &["-t", &tag]);
    let what = format!("strata\n{}\ndockerd\n{}", text(&o), text(&t));
    assert!(t.status.success() && o.status.success(), "{what}");
    let lines = |o: &Output| -> Vec<String> {
        shape(&o.stdout)
            .into_iter()
            .filter(|l| !transfer(l))
            .collect()
    };
    assert_eq!(lines(&o), lines(&t), "{what}");
    // In dockerd's order: the Step line, the pull, the base's ID.
    let out = String::from_utf8_lossy(&o.stdout);
    let at = |needle: &str| {
        out.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not shown\n{what}"))
    };
    let order = [
        at(&format!("Step 1/2 : FROM {base}\n")),
        at("v1: Pulling from "),
        at(": Pulling fs layer\n"),
        at(": Download complete\n"),
        at(": Pull complete\n"),
        at("\nDigest: sha256:"),
        at(&format!("\nStatus: Downloaded newer image for {base}\n")),
        at("Step 2/2 : ENV"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{what}");
}
