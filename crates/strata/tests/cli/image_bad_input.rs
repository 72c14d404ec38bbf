//! Bad input: one clear error naming the file/digest/reference, a
//! non-zero exit, and a store left exactly as it was.

use std::fs;
use std::path::Path;

use crate::support::{self, Env};

/// Runs `args`, expects failure mentioning `needle`, and checks that the
/// store's files and image list did not change.
fn fails_cleanly(env: &Env, args: &[&str], needle: &str) {
    // The image list without its relative CREATED column (which moves on).
    let list = [
        "images",
        "-a",
        "--no-trunc",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}",
    ];
    let files = env.store_files();
    let images = env.ok(list);
    let err = env.fails(args);
    assert!(
        err.contains(needle),
        "{args:?}: expected {needle:?} in: {err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one error line: {err}");
    assert_eq!(env.store_files(), files, "{args:?} changed the store");
    assert_eq!(env.ok(list), images);
}

/// Saves busybox as an OCI layout and unpacks it into `dir`.
fn oci_layout(env: &Env, dir: &Path) {
    let tar = env.path("good.tar");
    env.ok([
        "save",
        "--format",
        "oci",
        "-o",
        tar.to_str().unwrap(),
        "busybox",
    ]);
    support::untar(&tar, dir);
}

fn manifest_of(dir: &Path) -> (String, serde_json::Value) {
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
    let d = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let m =
        serde_json::from_slice(&fs::read(dir.join("blobs/sha256").join(&d[7..])).unwrap()).unwrap();
    (d, m)
}

/// Rewrites the manifest (and the index to point at it).
fn put_manifest(dir: &Path, m: &serde_json::Value) {
    let bytes = serde_json::to_vec(m).unwrap();
    let hex = support::sha256_hex(&bytes);
    fs::write(dir.join("blobs/sha256").join(&hex), &bytes).unwrap();
    let mut index: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"] = format!("sha256:{hex}").into();
    index["manifests"][0]["size"] = bytes.len().into();
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

#[test]
fn corrupt_and_truncated_archives() {
    let env = Env::new();
    env.busybox("busybox:latest");
    let junk = env.path("junk.tar");
    fs::write(
        &junk,
        b"this is not a tar file at all, not even close....".repeat(40),
    )
    .unwrap();
    fails_cleanly(&env, &["load", "-i", junk.to_str().unwrap()], "archive");
    fails_cleanly(&env, &["import", junk.to_str().unwrap(), "junk:1"], "");

    // A truncated gzip rootfs.
    let tar = support::busybox_rootfs_tar();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &fs::read(&tar).unwrap()).unwrap();
    let gz = gz.finish().unwrap();
    let cut = env.path("cut.tar.gz");
    fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    fails_cleanly(&env, &["import", cut.to_str().unwrap(), "cut:1"], "");

    // A truncated archive.
    let saved = env.path("saved.tar");
    env.ok(["save", "-o", saved.to_str().unwrap(), "busybox"]);
    let bytes = fs::read(&saved).unwrap();
    let half = env.path("half.tar");
    fs::write(&half, &bytes[..bytes.len() / 3]).unwrap();
    let env2 = Env::new();
    env2.ok(["images"]);
    fails_cleanly(&env2, &["load", "-i", half.to_str().unwrap()], "");
}

#[test]
fn blob_with_wrong_digest() {
    let env = Env::new();
    env.busybox("busybox:latest");
    let dir = env.path("layout");
    oci_layout(&env, &dir);
    let (_, m) = manifest_of(&dir);
    let layer = m["layers"][0]["digest"].as_str().unwrap().to_string();
    // Flip one byte of the layer blob in place.
    let p = dir.join("blobs/sha256").join(&layer[7..]);
    let mut data = fs::read(&p).unwrap();
    let n = data.len() / 2;
    data[n] ^= 0xff;
    fs::write(&p, data).unwrap();
    let bad = env.path("bad.tar");
    support::tar_dir(&dir, &bad);
    let env2 = Env::new();
    env2.ok(["images"]);
    fails_cleanly(&env2, &["load", "-i", bad.to_str().unwrap()], "");
}

#[test]
fn manifest_naming_a_missing_blob() {
    let env = Env::new();
    env.busybox("busybox:latest");
    let dir = env.path("layout");
    oci_layout(&env, &dir);
    let (_, mut m) = manifest_of(&dir);
    let missing = format!("sha256:{}", "ab".repeat(32));
    m["layers"][0]["digest"] = missing.clone().into();
    put_manifest(&dir, &m);
    let bad = env.path("missing.tar");
    support::tar_dir(&dir, &bad);
    let env2 = Env::new();
    env2.ok(["images"]);
    fails_cleanly(&env2, &["load", "-i", bad.to_str().unwrap()], &missing[7..]);
}

#[test]
fn unknown_media_type() {
    let env = Env::new();
    env.busybox("busybox:latest");
    let dir = env.path("layout");
    oci_layout(&env, &dir);
    let (_, mut m) = manifest_of(&dir);
    m["layers"][0]["mediaType"] = "application/x-strata-unknown".into();
    put_manifest(&dir, &m);
    let bad = env.path("mt.tar");
    support::tar_dir(&dir, &bad);
    let env2 = Env::new();
    env2.ok(["images"]);
    fails_cleanly(
        &env2,
        &["load", "-i", bad.to_str().unwrap()],
        "application/x-strata-unknown",
    );
}

#[test]
fn invalid_references() {
    let env = Env::new();
    env.busybox("busybox:latest");
    fails_cleanly(&env, &["tag", "busybox", "Bad/Name:x"], "Bad/Name");
    fails_cleanly(&env, &["tag", "busybox", "busybox:-bad"], "-bad");
    fails_cleanly(
        &env,
        &["image", "inspect", "nosuch"],
        "No such image: nosuch",
    );
    // docker's text (the daemon's): the name is not repeated. See: issue 14.
    fails_cleanly(
        &env,
        &["history", "UPPER"],
        "invalid reference format: repository name must be lowercase",
    );
}
