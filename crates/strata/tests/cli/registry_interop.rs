//! Registry interop with real tools, and copying without a daemon: skopeo
//! and docker pull what strata pushes, strata pulls what skopeo pushes, and
//! an OCI layout loaded then pushed (or pulled then saved) keeps its
//! manifest digest byte for byte. See: issue 5.

use std::process::Command;

use crate::registry_pull::pushed_digest;
use crate::support::registry::{get_manifest, unique_repo};
use crate::support::{self, Env, sh, skip, which};

#[test]
fn skopeo_and_docker_pull_what_strata_pushed() {
    let Some(reg) = support::registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY)");
    };
    let Some(skopeo) = which("skopeo") else {
        return skip("skopeo is needed (apt-get install skopeo)");
    };
    let env = Env::new();
    let id = env.busybox("bb:v1");
    let name = format!("{reg}/{}:v1", unique_repo("to-skopeo"));
    env.ok(["tag", "bb:v1", &name]);
    let digest = pushed_digest(&env.ok(["push", &name]));
    let layout = env.path("layout");
    sh(Command::new(&skopeo).args([
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{name}"),
        &format!("oci:{}:v1", layout.display()),
    ]));
    let raw = sh(Command::new(&skopeo).args([
        "inspect",
        "--raw",
        &format!("oci:{}:v1", layout.display()),
    ]));
    assert_eq!(
        format!("sha256:{}", support::sha256_hex(raw.as_bytes())),
        digest
    );
    let m: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(m["config"]["digest"], id.as_str());

    let Some(mut docker) = support::docker() else {
        return skip("no dockerd for the docker half (STRATA_TEST_DOCKER_HOST)");
    };
    sh(docker.args(["pull", &name]));
    let mut docker = support::docker().expect("docker");
    let docker_id = sh(docker.args(["image", "inspect", "-f", "{{.Id}}", &name]));
    assert_eq!(docker_id.trim(), id);
    let mut docker = support::docker().expect("docker");
    let _ = docker.args(["rmi", &name]).output();
}

#[test]
fn strata_pulls_what_skopeo_pushed() {
    let Some(reg) = support::registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY)");
    };
    let Some(skopeo) = which("skopeo") else {
        return skip("skopeo is needed (apt-get install skopeo)");
    };
    let env = Env::new();
    env.busybox("bb:v1");
    let archive = env.path("bb.tar");
    env.ok(["save", "-o", archive.to_str().unwrap(), "bb:v1"]);
    let repo = unique_repo("from-skopeo");
    let name = format!("{reg}/{repo}:v1");
    sh(Command::new(&skopeo).args([
        "copy",
        "--dest-tls-verify=false",
        &format!("docker-archive:{}", archive.display()),
        &format!("docker://{name}"),
    ]));
    let (manifest, _) = get_manifest(&reg, &repo, "v1");
    let digest = format!("sha256:{}", support::sha256_hex(&manifest));
    let fresh = Env::new();
    let out = fresh.ok(["pull", &name]);
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    let upper = support::unpacked_upper_dir(&fresh, &name);
    let expected = fresh.path("expected");
    support::untar(&support::busybox_rootfs_tar(), &expected);
    support::assert_same_tree(&upper, &expected);
}

#[test]
fn oci_layout_push_and_pull_save_keep_digests() {
    let Some(reg) = support::registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY)");
    };
    let Some(skopeo) = which("skopeo") else {
        return skip("skopeo is needed (apt-get install skopeo)");
    };
    let env = Env::new();
    env.busybox("bb:v1");
    let archive = env.path("bb.tar");
    env.ok(["save", "-o", archive.to_str().unwrap(), "bb:v1"]);
    // skopeo writes an OCI archive of its own (gzip layers, its manifest).
    let oci = env.path("bb-oci.tar");
    sh(Command::new(&skopeo).args([
        "copy",
        &format!("docker-archive:{}", archive.display()),
        &format!("oci-archive:{}:v1", oci.display()),
    ]));
    let raw = sh(Command::new(&skopeo).args([
        "inspect",
        "--raw",
        &format!("oci-archive:{}:v1", oci.display()),
    ]));
    let want = format!("sha256:{}", support::sha256_hex(raw.as_bytes()));

    let loader = Env::new();
    loader.ok(["load", "-i", oci.to_str().unwrap()]);
    let id = loader.ok(["images", "-q", "--no-trunc"]);
    let repo = unique_repo("layout");
    let name = format!("{reg}/{repo}:v1");
    loader.ok(["tag", id.trim(), &name]);
    let pushed = pushed_digest(&loader.ok(["push", &name]));
    assert_eq!(
        pushed, want,
        "push keeps the layout's manifest byte for byte"
    );
    assert_eq!(get_manifest(&reg, &repo, "v1").0, raw.as_bytes());

    let puller = Env::new();
    puller.ok(["pull", &name]);
    let saved = puller.path("saved.tar");
    puller.ok([
        "save",
        "--format",
        "oci",
        "-o",
        saved.to_str().unwrap(),
        &name,
    ]);
    let again = sh(Command::new(&skopeo).args([
        "inspect",
        "--raw",
        &format!("oci-archive:{}", saved.display()),
    ]));
    assert_eq!(
        format!("sha256:{}", support::sha256_hex(again.as_bytes())),
        want,
        "pull then save keeps the registry's manifest byte for byte"
    );
}
