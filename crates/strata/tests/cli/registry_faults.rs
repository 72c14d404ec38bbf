//! Faults between strata and a real registry, injected by a proxy
//! (support::registry::FaultProxy): corrupt blobs are refused with their
//! digest and leave the store as it was, a connection dropped mid-blob is
//! resumed, one dropped every time fails cleanly, 5xx answers are retried.
//! See: issue 5.

use crate::support::registry::{Fault, FaultProxy, get_manifest, unique_repo};
use crate::support::{self, Env, skip};

/// Pushes busybox to a fresh repository; returns (repository, layer blob digest).
fn seed(reg: &str) -> (String, String) {
    let env = Env::new();
    env.busybox("bb:v1");
    let repo = unique_repo("faults");
    env.ok(["tag", "bb:v1", &format!("{reg}/{repo}:v1")]);
    env.ok(["push", &format!("{reg}/{repo}:v1")]);
    let (m, _) = get_manifest(reg, &repo, "v1");
    let m: serde_json::Value = serde_json::from_slice(&m).unwrap();
    (repo, m["layers"][0]["digest"].as_str().unwrap().to_string())
}

/// An environment whose store exists (so its files can be compared).
fn fresh() -> Env {
    let env = Env::new();
    env.ok(["images"]);
    env
}

#[test]
fn corrupt_blob_is_refused_and_nothing_is_stored() {
    let Some(reg) = support::registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY)");
    };
    let (repo, layer) = seed(&reg);
    let proxy = FaultProxy::start(&reg, Fault::CorruptBlob);
    let env = fresh();
    let before = env.store_files();
    let err = env.fails(["pull", &format!("{}/{repo}:v1", proxy.addr())]);
    assert!(
        err.contains(&layer) && err.contains("digest mismatch"),
        "the error names the blob {layer}: {err}"
    );
    assert!(proxy.blob_gets() >= 1);
    assert_eq!(env.store_files(), before, "a failed pull stores nothing");
    assert!(env.ok(["images", "-q"]).trim().is_empty());
}

#[test]
fn connection_dropped_mid_blob_is_resumed() {
    let Some(reg) = support::registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY)");
    };
    let (repo, _) = seed(&reg);
    let proxy = FaultProxy::start(&reg, Fault::DropBlob(1));
    let env = fresh();
    let name = format!("{}/{repo}:v1", proxy.addr());
    let out = env.ok(["pull", &name]);
    assert!(out.contains("Pull complete"), "{out}");
    assert!(
        proxy.blob_gets() >= 2,
        "the blob was fetched again after the drop"
    );
    let upper = support::unpacked_upper_dir(&env, &name);
    let expected = env.path("expected");
    support::untar(&support::busybox_rootfs_tar(), &expected);
    support::assert_same_tree(&upper, &expected);
}

#[test]
fn connection_dropped_every_time_fails_cleanly() {
    let Some(reg) = support::registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY)");
    };
    let (repo, layer) = seed(&reg);
    let proxy = FaultProxy::start(&reg, Fault::DropBlob(usize::MAX));
    let env = fresh();
    let before = env.store_files();
    let err = env.fails(["pull", &format!("{}/{repo}:v1", proxy.addr())]);
    assert!(err.contains(&layer), "{err}");
    assert!(proxy.blob_gets() >= 2, "retried before giving up");
    assert_eq!(env.store_files(), before);
}

#[test]
fn server_errors_are_retried() {
    let Some(reg) = support::registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY)");
    };
    let (repo, _) = seed(&reg);
    let proxy = FaultProxy::start(&reg, Fault::Unavailable(2));
    let env = fresh();
    let out = env.ok(["pull", &format!("{}/{repo}:v1", proxy.addr())]);
    assert!(out.contains("Pull complete"), "{out}");
    assert!(proxy.requests() > 2);
    drop(proxy);
    let down = FaultProxy::start(&reg, Fault::Unavailable(usize::MAX));
    let err = env.fails(["pull", &format!("{}/{repo}:v1", down.addr())]);
    assert!(err.contains("503"), "{err}");
}
