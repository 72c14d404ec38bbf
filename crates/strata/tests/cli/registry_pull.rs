//! `pull` against the real test registry: round trips with `push`, a
//! hand-built multi-arch index, digest pins, `--all-tags`, and the errors
//! a user meets (unknown manifest, foreign platform). See: issue 5.

use crate::support::registry::{get_blob, get_manifest, put_manifest, unique_repo, upload_blob};
use crate::support::{self, Env, skip};

/// The `<tag>: digest: sha256:… size: N` line's digest.
pub fn pushed_digest(out: &str) -> String {
    out.lines()
        .find_map(|l| {
            let (_, rest) = l.split_once(": digest: ")?;
            Some(rest.split_whitespace().next()?.to_string())
        })
        .unwrap_or_else(|| panic!("no digest line in push output:\n{out}"))
}

#[test]
fn round_trip_push_rmi_pull_keeps_digest_and_rootfs() {
    let Some(reg) = support::registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY; scripts/test.sh starts one)");
    };
    let env = Env::new();
    env.busybox("bb:v1");
    let name = format!("{reg}/{}:v1", unique_repo("roundtrip"));
    env.ok(["tag", "bb:v1", &name]);
    let pushed = env.ok(["push", &name]);
    let digest = pushed_digest(&pushed);
    let before = support::tree_listing(&support::unpacked_upper_dir(&env, &name));
    let id = env.ok(["images", "-q", "--no-trunc", &name]);
    env.ok(["rmi", "bb:v1", &name]);
    assert!(
        env.ok(["images", "-q"]).trim().is_empty(),
        "image should be gone"
    );

    let out = env.ok(["pull", &name]);
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {name}")),
        "{out}"
    );
    assert!(out.contains("Pull complete"), "{out}");
    assert_eq!(out.lines().last(), Some(name.as_str()), "{out}");
    assert_eq!(env.ok(["images", "-q", "--no-trunc", &name]), id);
    let repo = name.rsplit_once(':').unwrap().0;
    let digests = env.ok(["image", "inspect", "-f", "{{json .RepoDigests}}", &name]);
    assert!(digests.contains(&format!("{repo}@{digest}")), "{digests}");
    // Same rootfs as before, and as the tarball imported in the first place.
    let after = support::unpacked_upper_dir(&env, &name);
    assert_eq!(support::tree_listing(&after), before);
    let expected = env.path("expected");
    support::untar(&support::busybox_rootfs_tar(), &expected);
    support::assert_same_tree(&after, &expected);

    let again = env.ok(["pull", &name]);
    assert!(
        again.contains(&format!("Status: Image is up to date for {name}")),
        "{again}"
    );
    assert!(again.contains("Already exists"), "{again}");
}

/// Pushes busybox to `repo:amd64` and builds, by hand, an arm64 twin (same
/// layer, config saying arm64) and an index of both at `repo:multi`, arm64
/// listed first. Returns the index digest.
fn build_index(env: &Env, reg: &str, repo: &str, with_amd64: bool) -> String {
    env.busybox("bb:v1");
    let amd = format!("{reg}/{repo}:amd64");
    env.ok(["tag", "bb:v1", &amd]);
    env.ok(["push", &amd]);
    let (m, mt) = get_manifest(reg, repo, "amd64");
    let manifest: serde_json::Value = serde_json::from_slice(&m).unwrap();
    let cfg_digest = manifest["config"]["digest"].as_str().unwrap();
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&get_blob(reg, repo, cfg_digest)).unwrap();
    cfg["architecture"] = "arm64".into();
    cfg["variant"] = "v8".into();
    let cfg_bytes = serde_json::to_vec(&cfg).unwrap();
    let arm_cfg = upload_blob(reg, repo, &cfg_bytes);
    let mut arm = manifest.clone();
    arm["config"]["digest"] = arm_cfg.clone().into();
    arm["config"]["size"] = cfg_bytes.len().into();
    let arm_bytes = serde_json::to_vec(&arm).unwrap();
    let arm_digest = format!("sha256:{}", support::sha256_hex(&arm_bytes));
    put_manifest(reg, repo, &arm_digest, &mt, &arm_bytes);
    let amd_digest = format!("sha256:{}", support::sha256_hex(&m));
    let mut entries = vec![serde_json::json!({
        "mediaType": mt, "digest": arm_digest, "size": arm_bytes.len(),
        "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}
    })];
    if with_amd64 {
        entries.push(serde_json::json!({
            "mediaType": mt, "digest": amd_digest, "size": m.len(),
            "platform": {"architecture": "amd64", "os": "linux"}
        }));
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    }))
    .unwrap();
    put_manifest(
        reg,
        repo,
        "multi",
        "application/vnd.oci.image.index.v1+json",
        &index,
    )
}

#[test]
fn multi_arch_index_resolves_to_the_host() {
    let Some(reg) = support::registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY)");
    };
    if strata_arch() != "amd64" {
        return skip(
            "the hand-built index has an amd64 and an arm64 entry; this host is neither amd64",
        );
    }
    let repo = unique_repo("multi");
    let index_digest = build_index(&Env::new(), &reg, &repo, true);
    let env = Env::new();
    let name = format!("{reg}/{repo}:multi");
    let out = env.ok(["pull", "--platform", "linux/amd64", &name]);
    assert!(out.contains(&format!("Digest: {index_digest}")), "{out}");
    assert_eq!(
        env.ok(["image", "inspect", "-f", "{{.Architecture}}", &name])
            .trim(),
        "amd64"
    );
    let digests = env.ok(["image", "inspect", "-f", "{{json .RepoDigests}}", &name]);
    assert!(
        digests.contains(&index_digest),
        "RepoDigest is the index's: {digests}"
    );
    // By the index digest too.
    let pinned = format!("{reg}/{repo}@{index_digest}");
    let out = env.ok(["pull", &pinned]);
    assert!(out.contains("Image is up to date"), "{out}");

    let err = env.fails(["pull", "--platform", "linux/arm64", &name]);
    assert!(
        err.contains("linux/arm64") && err.contains("not supported"),
        "{err}"
    );

    let arm_only = unique_repo("armonly");
    build_index(&Env::new(), &reg, &arm_only, false);
    let err = Env::new().fails(["pull", &format!("{reg}/{arm_only}:multi")]);
    assert!(
        err.contains("no matching manifest for linux/amd64"),
        "{err}"
    );
}

fn strata_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

#[test]
fn digest_pins_all_tags_and_quiet() {
    let Some(reg) = support::registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY)");
    };
    let env = Env::new();
    env.busybox("bb:v1");
    let repo = format!("{reg}/{}", unique_repo("tags"));
    env.ok(["tag", "bb:v1", &format!("{repo}:a")]);
    env.ok(["tag", "bb:v1", &format!("{repo}:b")]);
    let digest = pushed_digest(&env.ok(["push", &format!("{repo}:a")]));
    env.ok(["push", &format!("{repo}:b")]);

    let fresh = Env::new();
    let pinned = format!("{repo}@{digest}");
    let out = fresh.ok(["pull", &pinned]);
    assert_eq!(out.lines().last(), Some(pinned.as_str()), "{out}");
    assert!(!out.contains("Using default tag"), "{out}");
    let listed = fresh.ok([
        "images",
        "--digests",
        "--format",
        "{{.Repository}} {{.Tag}} {{.Digest}}",
    ]);
    assert!(
        listed.contains(&format!("{repo} <none> {digest}")),
        "{listed}"
    );

    let absent = format!("{repo}@sha256:{}", "0".repeat(64));
    let err = fresh.fails(["pull", &absent]);
    assert!(err.contains("manifest unknown"), "{err}");

    let quiet = fresh.ok(["pull", "-q", &format!("{repo}:a")]);
    assert_eq!(quiet.trim(), format!("{repo}:a"));

    let all = Env::new();
    let out = all.ok(["pull", "--all-tags", &repo]);
    assert!(
        out.contains("a: Pulling from") && out.contains("b: Pulling from"),
        "{out}"
    );
    let tags = all.ok(["images", "--format", "{{.Tag}}", &repo]);
    let mut tags: Vec<&str> = tags.lines().collect();
    tags.sort();
    assert_eq!(tags, ["a", "b"]);
    let err = all.fails(["pull", "-a", &format!("{repo}:a")]);
    assert!(err.contains("tag can't be used with --all-tags"), "{err}");
}

#[test]
fn unknown_manifest_and_foreign_platform_are_clear() {
    let Some(reg) = support::registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY)");
    };
    let env = Env::new();
    let name = format!("{reg}/{}:nope", unique_repo("absent"));
    let err = env.fails(["pull", &name]);
    assert!(
        err.contains("manifest unknown") && err.contains(&name),
        "{err}"
    );
    let err = env.fails(["pull", "--platform", "linux/s390x", &name]);
    assert!(
        err.contains("linux/s390x") && err.contains("not supported"),
        "{err}"
    );
    let err = env.fails(["pull", "Not/Valid"]);
    assert!(err.contains("invalid reference format"), "{err}");
}
