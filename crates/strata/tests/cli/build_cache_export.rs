//! `--cache-to/--cache-from` as BuildKit takes them besides
//! `type=registry`: `type=local,dest=DIR` / `type=local,src=DIR` (an OCI
//! layout directory) and `type=inline` (the cache in the image's config,
//! BuildKit's `moby.buildkit.cache.v0` field; imported from the pushed image
//! with `type=registry`). A clean store reuses every step. See: issue 14.

use serde_json::Value;

use crate::build_common::{build_ok, context, image_id, raw_config, step_states};
use crate::support::docker::Docker;
use crate::support::registry::unique_repo;
use crate::support::{Env, registry, sh, skip};

const DF: &str = "FROM base\nRUN echo ran > /marker\nCOPY app.txt /\nCMD [\"cat\", \"/marker\"]\n";

fn all_cached(p: &str) {
    let states = step_states(p);
    assert!(states.len() >= 2, "{p}");
    assert!(
        states
            .iter()
            .filter(|(n, _)| !n.contains("FROM"))
            .all(|(_, s)| s == "CACHED"),
        "{p}"
    );
}

#[test]
fn local_cache_round_trip() {
    let first = Env::new();
    first.busybox("base");
    let dir = context(&first, "ctx", &[("Dockerfile", DF), ("app.txt", "x\n")]);
    let cache = first.path("cache");
    let to = format!("type=local,dest={},mode=max", cache.display());
    build_ok(&first, &dir, &["-t", "app", "--cache-to", &to]);
    let id = image_id(&first, "app");
    // An OCI layout, the cache tagged `latest` (and `v2` beside it).
    assert!(cache.join("oci-layout").is_file());
    let to2 = format!("type=local,dest={},tag=v2", cache.display());
    build_ok(&first, &dir, &["-t", "app", "--cache-to", &to2]);
    let index: Value =
        serde_json::from_slice(&std::fs::read(cache.join("index.json")).unwrap()).unwrap();
    let tags: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(tags, ["latest", "v2"]);
    let m = &index["manifests"][0];
    let hex = m["digest"].as_str().unwrap().trim_start_matches("sha256:");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(cache.join("blobs/sha256").join(hex)).unwrap())
            .unwrap();
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.strata.buildcache.config.v1+json"
    );
    for l in manifest["layers"].as_array().unwrap() {
        let h = l["digest"].as_str().unwrap().trim_start_matches("sha256:");
        assert!(cache.join("blobs/sha256").join(h).is_file(), "{l}");
    }

    // A clean store (the same base image): every step from the directory.
    let second = Env::new();
    let base_tar = first.path("base.tar");
    first.ok(["save", "-o", base_tar.to_str().unwrap(), "base"]);
    second.ok(["load", "-q", "-i", base_tar.to_str().unwrap()]);
    let from = format!("type=local,src={}", cache.display());
    let p = build_ok(&second, &dir, &["-t", "app", "--cache-from", &from]);
    all_cached(&p);
    assert_eq!(image_id(&second, "app"), id);
    assert_eq!(second.ok(["run", "--rm", "app"]), "ran\n");
    // A missing tag is a warning, as BuildKit treats a cache it cannot import.
    let third = Env::new();
    third.ok(["load", "-q", "-i", base_tar.to_str().unwrap()]);
    let bad = format!("type=local,src={},tag=nope", cache.display());
    let p = build_ok(&third, &dir, &["-t", "app", "--cache-from", &bad]);
    assert!(p.contains("no manifest is tagged \"nope\""), "{p}");
}

#[test]
fn inline_cache_round_trip() {
    let Some(reg) = registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY)");
    };
    let base = format!("{reg}/{}:1", unique_repo("strata-inline-base"));
    let app = format!("{reg}/{}:1", unique_repo("strata-inline-app"));
    let first = Env::new();
    first.busybox(&base);
    first.ok(["push", "-q", base.as_str()]);
    let df = DF.replace("FROM base", &format!("FROM {base}"));
    let dir = context(&first, "ctx", &[("Dockerfile", &df), ("app.txt", "x\n")]);
    build_ok(&first, &dir, &["-t", &app, "--cache-to", "type=inline"]);
    let raw = raw_config(&first, &app);
    assert!(
        raw["moby.buildkit.cache.v0"].is_string(),
        "BuildKit's inline field: {raw}"
    );
    let id = image_id(&first, &app);
    // A rebuild gives the same image (the inline cache is deterministic).
    build_ok(&first, &dir, &["-t", &app, "--cache-to", "type=inline"]);
    assert_eq!(image_id(&first, &app), id);
    first.ok(["push", "-q", app.as_str()]);

    // A clean store building as CI does (inline out, the image in).
    let second = Env::new();
    let p = build_ok(
        &second,
        &dir,
        &[
            "-t",
            &app,
            "--cache-from",
            &app,
            "--cache-to",
            "type=inline",
        ],
    );
    all_cached(&p);
    assert_eq!(image_id(&second, &app), id);

    // docker 20.10 pulls and runs the image; its BuildKit cannot use a
    // strata cache and, as for any cache it cannot read, builds anyway.
    let Some(d) = Docker::new() else { return };
    d.track(&app);
    sh(d.cmd().args(["pull", "-q", &app]));
    let out = sh(d.cmd().args(["run", "--rm", "--network=none", &app]));
    assert_eq!(out, "ran\n");
}
