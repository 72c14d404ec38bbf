//! `push` against the real test registry: docker's output, blobs skipped
//! when present, cross-repository mounts, layers held uncompressed gzipped
//! once and reused, a manifest whose blobs verify. See: issue 5.

use std::io::Read;

use crate::registry_pull::pushed_digest;
use crate::support::registry::{get_blob, get_manifest, unique_repo};
use crate::support::{self, Env, skip};

#[test]
fn push_prints_docker_lines_skips_and_mounts() {
    let Some(reg) = support::registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY; scripts/test.sh starts one)");
    };
    let env = Env::new();
    env.busybox("bb:v1");
    let diff = env.ok([
        "image",
        "inspect",
        "-f",
        "{{index .RootFS.Layers 0}}",
        "bb:v1",
    ]);
    let short = &diff.trim()["sha256:".len()..][..12];
    let a = unique_repo("push-a");
    let name = format!("{reg}/{a}:v1");
    env.ok(["tag", "bb:v1", &name]);
    let out = env.ok(["push", &name]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some(format!("The push refers to repository [{reg}/{a}]").as_str()),
        "{out}"
    );
    assert!(out.contains(&format!("{short}: Preparing\n")), "{out}");
    assert!(out.contains(&format!("{short}: Pushed\n")), "{out}");
    let digest = pushed_digest(&out);
    let size = get_manifest(&reg, &a, "v1").0.len();
    assert_eq!(
        out.lines().last().unwrap(),
        format!("v1: digest: {digest} size: {size}")
    );

    // Pushing again sends nothing.
    let files = env.store_files();
    let again = env.ok(["push", &name]);
    assert!(
        again.contains(&format!("{short}: Layer already exists")),
        "{again}"
    );
    assert_eq!(pushed_digest(&again), digest);

    // Another repository of the same registry: mounted, not re-sent, and
    // the gzip blob made by the first push is reused (no new blob).
    let b = format!("{reg}/{}:v1", unique_repo("push-b"));
    env.ok(["tag", "bb:v1", &b]);
    let mounted = env.ok(["push", &b]);
    assert!(
        mounted.contains(&format!("{short}: Mounted from {a}")),
        "{mounted}"
    );
    assert_eq!(pushed_digest(&mounted), digest);
    assert_eq!(
        env.store_files(),
        files,
        "the second and third pushes wrote nothing"
    );
    let digests = env.ok(["image", "inspect", "-f", "{{json .RepoDigests}}", "bb:v1"]);
    assert!(
        digests.contains(&format!("{reg}/{a}@{digest}")),
        "{digests}"
    );

    let quiet = env.ok(["push", "-q", &b]);
    assert_eq!(quiet.trim(), b);
}

#[test]
fn imported_layers_are_gzipped_once_and_verify() {
    let Some(reg) = support::registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY)");
    };
    let env = Env::new();
    let id = env.busybox("bb:v1");
    let repo = unique_repo("gzip");
    let name = format!("{reg}/{repo}:v1");
    env.ok(["tag", "bb:v1", &name]);
    let digest = pushed_digest(&env.ok(["push", &name]));
    let (bytes, _) = get_manifest(&reg, &repo, "v1");
    assert_eq!(format!("sha256:{}", support::sha256_hex(&bytes)), digest);
    let m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(m["config"]["digest"], id.as_str());
    let layer = &m["layers"][0];
    assert!(
        layer["mediaType"].as_str().unwrap().ends_with("gzip"),
        "{m}"
    );
    let blob = get_blob(&reg, &repo, layer["digest"].as_str().unwrap());
    assert_eq!(
        format!("sha256:{}", support::sha256_hex(&blob)),
        layer["digest"]
    );
    assert_eq!(blob.len() as u64, layer["size"].as_u64().unwrap());
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&blob[..])
        .read_to_end(&mut tar)
        .unwrap();
    let diff = env.ok([
        "image",
        "inspect",
        "-f",
        "{{index .RootFS.Layers 0}}",
        "bb:v1",
    ]);
    assert_eq!(format!("sha256:{}", support::sha256_hex(&tar)), diff.trim());
    // The local image now holds the manifest the registry has.
    let held = env.ok(["image", "inspect", "-f", "{{json .RepoDigests}}", &name]);
    assert!(held.contains(&digest), "{held}");
    let saved = env.path("saved.tar");
    env.ok([
        "save",
        "--format",
        "oci",
        "-o",
        saved.to_str().unwrap(),
        &name,
    ]);
    let dir = env.path("saved");
    support::untar(&saved, &dir);
    let index = std::fs::read_to_string(dir.join("index.json")).unwrap();
    assert!(
        index.contains(&digest),
        "save writes the pushed manifest: {index}"
    );
}

#[test]
fn pushing_what_is_not_there_fails() {
    let Some(reg) = support::registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY)");
    };
    let env = Env::new();
    let err = env.fails(["push", &format!("{reg}/{}:v1", unique_repo("missing"))]);
    assert!(
        err.contains("An image does not exist locally with the tag"),
        "{err}"
    );
}
