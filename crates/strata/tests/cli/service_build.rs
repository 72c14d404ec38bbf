//! `strata system service` as docker's classic builder and image archive
//! endpoints, driven by docker's own CLI: `DOCKER_BUILDKIT=0 docker build`
//! prints the same lines as against the private dockerd (`Step N/M : …`,
//! ` ---> Running in`, output, `Removing intermediate container`, ` ---> ID`,
//! ` ---> Using cache`, `Successfully built/tagged`, the failed RUN's
//! message and exit code) with only the IDs different; `docker save` /
//! `docker load` round trip through the socket and the archive loads into
//! dockerd; `docker system df -v` lists the build cache (issue 17).

use std::process::Output;

use crate::service_common::{Svc, docker_at, dockerd_sock};
use crate::support::skip;

/// The lines of `out` with every 12-hex-digit word (an ID) replaced.
pub fn shape(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| {
            l.split(' ')
                .map(|w| {
                    if w.len() == 12 && w.chars().all(|c| c.is_ascii_hexdigit()) {
                        "<ID>"
                    } else {
                        w
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The IDs after each step (` ---> ID` lines).
fn step_ids(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| l.strip_prefix(" ---> "))
        .filter(|r| !r.starts_with("Running in ") && *r != "Using cache")
        .map(str::to_string)
        .collect()
}

#[test]
fn service_classic_build_output_matches_dockerd() {
    let Some(s) = Svc::new() else { return };
    let Some(d) = dockerd_sock() else {
        return skip("no docker daemon (STRATA_TEST_DOCKER_HOST) to compare with");
    };
    let docker = crate::support::docker::Docker::new().expect("dockerd");
    docker.load_from(&s.t.env, "busybox");
    let host = format!("unix://{}", d.display());
    let cfg = s.t.env.path("dockerd-config");
    let ctx = s.t.env.path("classic");
    std::fs::create_dir_all(&ctx).unwrap();
    // A value of this run: neither builder has these steps cached.
    let nonce = format!("{}-{:?}", std::process::id(), std::time::SystemTime::now());
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM busybox\nENV RUN_ID=\"{nonce}\"\nWORKDIR /app\nCOPY hello.txt /hello.txt\n\
             RUN echo building; cat /hello.txt\nRUN echo warned >&2\nLABEL a=b\n\
             CMD [\"sh\", \"-c\", \"echo ping $RUN_ID\"]\n"
        ),
    )
    .unwrap();
    std::fs::write(ctx.join("hello.txt"), "hello\n").unwrap();
    let tag = format!("classic-{}:v1", std::process::id());
    docker.track(&tag);
    let build = |theirs: bool| {
        let mut c = if theirs {
            docker_at(&host, &cfg)
        } else {
            s.docker()
        };
        c.args(["build", "-t", &tag]).arg(&ctx).output().unwrap()
    };
    for round in ["first", "cached"] {
        let (t, o) = (build(true), build(false));
        assert!(t.status.success(), "dockerd {round}: {}", text(&t));
        assert!(o.status.success(), "strata {round}: {}", text(&o));
        assert_eq!(
            shape(&o.stdout),
            shape(&t.stdout),
            "{round} build: strata\n{}\ndockerd\n{}",
            text(&o),
            text(&t)
        );
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.contains("Step 5/8 : RUN echo building; cat /hello.txt\n"),
            "{out}"
        );
        // The RUN's output when it runs; stderr in red, as docker sends it.
        assert_eq!(
            out.contains("\nbuilding\nhello\n") && out.contains("\u{1b}[91mwarned\n\u{1b}[0m"),
            round == "first",
            "{out}"
        );
        assert_eq!(
            out.contains(" ---> Using cache"),
            round == "cached",
            "{out}"
        );
        // The last step's ID is the image's, as docker's.
        let id = s.ok(&["image", "inspect", "-f", "{{.Id}}", &tag]);
        let short = &id.trim()["sha256:".len()..][..12];
        assert_eq!(step_ids(&o.stdout).last().map(String::as_str), Some(short));
        assert!(
            out.contains(&format!("Successfully built {short}\n")),
            "{out}"
        );
    }
    // The same step IDs when the cache answers (real IDs, not made up).
    let again = build(false);
    let first = step_ids(&again.stdout);
    assert_eq!(first.len(), 8, "{}", text(&again));
    assert_eq!(step_ids(&build(false).stdout), first);

    // Several stages and ARGs before the first FROM: docker's numbering.
    // The stage the target does not need is not built (docker builds it),
    // so strata's headers are a subset of docker's, in the same order.
    std::fs::write(
        ctx.join("Dockerfile.stages"),
        format!(
            "ARG V=1\nFROM busybox AS unused\nRUN echo never\nFROM busybox AS base\n\
             ENV RUN_ID=\"{nonce}\"\nFROM base AS final\nARG V\nRUN echo \"v=$V\"\n\
             FROM busybox AS after\nRUN echo after\n"
        ),
    )
    .unwrap();
    let staged = |theirs: bool| {
        let mut c = if theirs {
            docker_at(&host, &cfg)
        } else {
            s.docker()
        };
        c.args(["build", "--target", "final", "-t", &tag, "-f"])
            .arg(ctx.join("Dockerfile.stages"))
            .arg(&ctx)
            .output()
            .unwrap()
    };
    let (t, o) = (staged(true), staged(false));
    assert!(
        t.status.success() && o.status.success(),
        "{}\n{}",
        text(&o),
        text(&t)
    );
    let headers = |o: &Output| -> Vec<String> {
        shape(&o.stdout)
            .into_iter()
            .filter(|l| l.starts_with("Step "))
            .collect()
    };
    let (theirs, ours) = (headers(&t), headers(&o));
    assert_eq!(theirs.len(), 8, "{}", text(&t));
    assert_eq!(
        ours,
        [
            "Step 1/8 : ARG V=1",
            "Step 4/8 : FROM busybox AS base",
            "Step 5/8 : ENV RUN_ID=\"{nonce}\"",
            "Step 6/8 : FROM base AS final",
            "Step 7/8 : ARG V",
            "Step 8/8 : RUN echo \"v=$V\""
        ]
        .map(|h| h.replace("{nonce}", &nonce)),
        "{}",
        text(&o)
    );
    assert!(
        ours.iter().all(|h| theirs.contains(h)),
        "{ours:?} {theirs:?}"
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("\nv=1\n"),
        "{}",
        text(&o)
    );

    // A failing RUN: docker's message and its exit code, the same lines.
    std::fs::write(
        ctx.join("Dockerfile.fail"),
        format!("FROM busybox\nENV RUN_ID=\"{nonce}\"\nRUN echo about to fail; exit 3\n"),
    )
    .unwrap();
    let fail = |theirs: bool| {
        let mut c = if theirs {
            docker_at(&host, &cfg)
        } else {
            s.docker()
        };
        c.args(["build", "-f"])
            .arg(ctx.join("Dockerfile.fail"))
            .arg(&ctx)
            .output()
            .unwrap()
    };
    let (t, o) = (fail(true), fail(false));
    assert_eq!(t.status.code(), Some(3), "{}", text(&t));
    assert_eq!(
        (o.status.code(), shape(&o.stdout), shape(&o.stderr)),
        (t.status.code(), shape(&t.stdout), shape(&t.stderr)),
        "strata\n{}\ndockerd\n{}",
        text(&o),
        text(&t)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(
            "The command '/bin/sh -c echo about to fail; exit 3' returned a non-zero code: 3"
        ),
        "{}",
        text(&o)
    );
}

/// (path, size) of each entry of the tar at `p`.
fn entries(p: &std::path::Path) -> Vec<(String, u64)> {
    let mut a = tar::Archive::new(std::fs::File::open(p).unwrap());
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.path().unwrap().display().to_string(), e.size())
        })
        .collect()
}

#[test]
fn service_save_and_load_round_trip_and_load_into_dockerd() {
    let Some(s) = Svc::new() else { return };
    let tag = format!("saved-{}:v1", std::process::id());
    s.ok(&["tag", "busybox", &tag]);
    let tar = s.t.env.path("saved.tar");
    s.ok(&["save", "-o", tar.to_str().unwrap(), &tag]);
    // strata's own docker archive: the same entries (headers carry the
    // time of the save, so not the same bytes).
    let mine = s.t.env.path("mine.tar");
    s.t.ok(["save", "-o", mine.to_str().unwrap(), &tag]);
    assert_eq!(entries(&tar), entries(&mine));
    assert!(entries(&tar).iter().any(|(p, _)| p == "manifest.json"));
    assert_eq!(
        s.ok(&["rmi", &tag]).lines().next(),
        Some(format!("Untagged: {tag}").as_str())
    );
    assert_eq!(
        s.ok(&["load", "-i", tar.to_str().unwrap()]),
        format!("Loaded image: {tag}\n")
    );
    assert_eq!(
        s.ok(&["load", "-q", "-i", tar.to_str().unwrap()]),
        format!("Loaded image: {tag}\n")
    );
    assert_eq!(
        s.ok(&["run", "--rm", &tag, "echo", "round trip"]),
        "round trip\n"
    );
    // An unknown image is docker's error, and nothing is streamed.
    let out = s.run(&[
        "save",
        "-o",
        s.t.env.path("none.tar").to_str().unwrap(),
        "no-such-image",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no-such-image"),
        "{}",
        text(&out)
    );
    // A broken archive is refused, the store unchanged.
    let bad = s.t.env.path("bad.tar");
    std::fs::write(&bad, b"not a tar at all").unwrap();
    let out = s.run(&["load", "-i", bad.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));

    // The archive loads into dockerd and runs there.
    let Some(d) = dockerd_sock() else {
        return skip("no docker daemon (STRATA_TEST_DOCKER_HOST) to load the archive into");
    };
    let docker = crate::support::docker::Docker::new().expect("dockerd");
    docker.track(&tag);
    let host = format!("unix://{}", d.display());
    let cfg = s.t.env.path("dockerd-config");
    let dk = |args: &[&str]| docker_at(&host, &cfg).args(args).output().unwrap();
    let out = dk(&["load", "-i", tar.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).ends_with(&format!("Loaded image: {tag}\n")),
        "{}",
        text(&out)
    );
    let out = dk(&[
        "run",
        "--rm",
        "--network",
        "none",
        &tag,
        "echo",
        "in dockerd",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "in dockerd\n",
        "{}",
        text(&out)
    );
}

#[test]
fn service_system_df_lists_the_build_cache() {
    let Some(s) = Svc::new() else { return };
    let summary = |s: &Svc| s.ok(&["system", "df", "--format", "{{.Type}}={{.TotalCount}}"]);
    assert!(summary(&s).contains("Build Cache=0\n"), "{}", summary(&s));
    let ctx = s.t.env.path("df-ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nENV A=1\nRUN echo data > /data\nLABEL b=2\n",
    )
    .unwrap();
    s.ok(&["build", "-q", "-t", "df-img", ctx.to_str().unwrap()]);
    // One record per step, each a row of `docker system df -v`.
    assert!(summary(&s).contains("Build Cache=3\n"), "{}", summary(&s));
    let v = s.ok(&["system", "df", "-v"]);
    let (_, cache) = v
        .split_once("Build cache usage: ")
        .expect("build cache section");
    let mut lines = cache.lines().skip(2);
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "CACHE", "ID", "CACHE", "TYPE", "SIZE", "CREATED", "LAST", "USED", "USAGE", "SHARED"
        ]
    );
    let ids: Vec<&str> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            assert!(l.contains(" regular "), "{l}");
            l.split_whitespace().next().unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 3, "{v}");
    // strata's own `system df -v` lists the same records.
    let own = s.t.ok(["system", "df", "-v"]);
    for id in &ids {
        assert!(own.contains(&format!("\n{id} ")), "{id} not in\n{own}");
    }
    // The API's fields, as docker names them.
    let (status, _, body) =
        crate::service_common::raw(&s.sock, "GET /v1.41/system/df HTTP/1.1\r\nHost: d\r\n\r\n")
            .unwrap();
    assert_eq!(status, 200);
    let j: serde_json::Value = serde_json::from_str(&body).unwrap();
    let rows = j["BuildCache"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let run = rows
        .iter()
        .find(|r| r["Description"].as_str().unwrap().contains("RUN echo data"))
        .expect("the RUN step's record");
    for k in ["ID", "Parent", "Type", "CreatedAt", "LastUsedAt"] {
        assert!(run[k].is_string(), "{k}: {run}");
    }
    assert!(run["Size"].as_u64().unwrap() > 0, "{run}");
    assert_eq!(run["Shared"], true, "the image uses its layer: {run}");
    assert_eq!(run["InUse"], false);
    assert!(rows.iter().any(|r| r["ID"] == run["Parent"]), "{rows:?}");
    assert!(j["BuilderSize"].is_u64());
    // builder prune empties it.
    s.t.ok(["builder", "prune", "-f"]);
    assert!(summary(&s).contains("Build Cache=0\n"), "{}", summary(&s));
}
