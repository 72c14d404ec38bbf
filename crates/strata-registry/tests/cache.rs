//! The registry build cache against a real store and a real registry
//! (`STRATA_TEST_REGISTRY`, started by scripts/test.sh): export from one
//! store, import into an empty one, and find every record's layer chain
//! unpacked, its configs stored, all of it surviving GC. See: issue 5.

use std::path::Path;

use strata_oci::{Digest, ImageConfig, Reference, chain_id};
use strata_registry::cache::{self, CacheLayer, CacheMode, CacheOptions, CacheRecord};
use strata_store::Store;
use strata_store::ingest::DirLayerOptions;
use strata_store::layer::{Compression, WhiteoutFormat};

fn registry() -> Option<String> {
    std::env::var("STRATA_TEST_REGISTRY")
        .ok()
        .filter(|s| !s.is_empty())
}

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "strata-it/{name}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000
    )
}

/// A layer holding `files` on top of `parent`.
fn layer(
    store: &Store,
    dir: &Path,
    parent: Option<&Digest>,
    files: &[(&str, &str)],
    c: Compression,
) -> CacheLayer {
    std::fs::create_dir_all(dir).unwrap();
    for (p, body) in files {
        let f = dir.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, body).unwrap();
    }
    let opts = DirLayerOptions {
        whiteouts: WhiteoutFormat::Plain,
        compression: c,
        source_date_epoch: Some(0),
        adopt_dir: false,
    };
    let l = store.layer_from_dir(dir, parent, &opts).unwrap();
    CacheLayer {
        diff_id: l.diff_id,
        blob: l.blob.unwrap(),
    }
}

fn record(
    key: char,
    parent: Option<char>,
    diffs: &[&Digest],
    env: &str,
    layer: Option<&CacheLayer>,
) -> CacheRecord {
    let mut c = ImageConfig {
        architecture: "amd64".into(),
        os: "linux".into(),
        ..ImageConfig::default()
    };
    c.rootfs.diff_ids = diffs.iter().map(|d| (*d).clone()).collect();
    c.config_mut().set_env("STEP", env);
    let config = c.to_vec();
    CacheRecord {
        key: key.to_string().repeat(64),
        parent: parent.map(|p| p.to_string().repeat(64)),
        config_digest: Some(Digest::of(&config)),
        config,
        created: None,
        layer: layer.cloned(),
    }
}

fn opts() -> CacheOptions {
    CacheOptions::default()
}

/// The snapshot of `chain`, unpacked if it was pulled packed.
fn snapshot_dir(store: &Store, chain: &Digest) -> std::path::PathBuf {
    store
        .snapshots()
        .lower_dirs(std::slice::from_ref(chain))
        .unwrap_or_else(|e| panic!("snapshot of {chain}: {e}"))
        .remove(0)
}

#[test]
fn export_then_import_into_an_empty_store() {
    let Some(reg) = registry() else {
        return strata_testkit::skip(
            "no test registry (STRATA_TEST_REGISTRY; scripts/test.sh starts one)",
        );
    };
    let t = tempfile::tempdir().unwrap();
    let a = Store::open(t.path().join("a")).unwrap();
    // Stage 1: base layer (gzip), an ENV step, a RUN layer kept uncompressed.
    let l0 = layer(
        &a,
        &t.path().join("d0"),
        None,
        &[("etc/base", "base\n")],
        Compression::GZIP,
    );
    let c0 = chain_id_of(&[&l0.diff_id]);
    let l1 = layer(
        &a,
        &t.path().join("d1"),
        Some(&c0),
        &[("app/run", "ran\n")],
        Compression::None,
    );
    // Another stage's step on the same base.
    let l2 = layer(
        &a,
        &t.path().join("d2"),
        Some(&c0),
        &[("other/x", "x\n")],
        Compression::ZSTD,
    );
    let r1 = record('1', None, &[&l0.diff_id], "one", Some(&l0));
    let r2 = record('2', Some('1'), &[&l0.diff_id], "two", None);
    let r4 = record(
        '4',
        Some('1'),
        &[&l0.diff_id, &l2.diff_id],
        "four",
        Some(&l2),
    );
    let r3 = record(
        '3',
        Some('2'),
        &[&l0.diff_id, &l1.diff_id],
        "three",
        Some(&l1),
    );
    let records = vec![r1.clone(), r2.clone(), r4.clone(), r3.clone()];

    let max_ref = Reference::parse(&format!("{reg}/{}:max", unique("cache"))).unwrap();
    let out = cache::export_cache(&a, &max_ref, &records, CacheMode::Max, &opts()).unwrap();
    assert_eq!(out.records, 4);
    assert_eq!(out.blobs, 3);
    assert!(out.uploaded >= 4, "3 layers + the cache config: {out:?}");
    // The uncompressed layer was gzipped once and recorded for its diffID.
    let gz = a.layer_blobs(&l1.diff_id).unwrap();
    assert!(gz.iter().any(|b| b.media_type.ends_with("gzip")), "{gz:?}");
    // Exporting again sends nothing new.
    let again = cache::export_cache(&a, &max_ref, &records, CacheMode::Max, &opts()).unwrap();
    assert_eq!(again.uploaded, 0, "{again:?}");

    let b = Store::open(t.path().join("b")).unwrap();
    let got = cache::import_cache(&b, &max_ref, &opts()).unwrap();
    let keys: Vec<&str> = got.iter().map(|r| &r.key[..1]).collect();
    assert_eq!(keys, ["1", "2", "4", "3"]);
    for (g, want) in got.iter().zip(&records) {
        assert_eq!(g.parent, want.parent);
        assert_eq!(g.config, want.config);
        assert_eq!(g.config_digest, want.config_digest);
        assert_eq!(
            g.layer.as_ref().map(|l| &l.diff_id),
            want.layer.as_ref().map(|l| &l.diff_id)
        );
        assert_eq!(
            b.content().read(g.config_digest.as_ref().unwrap()).unwrap(),
            want.config
        );
    }
    let c1 = chain_id(&c0, &l1.diff_id);
    let c2 = chain_id(&c0, &l2.diff_id);
    assert_eq!(
        std::fs::read_to_string(snapshot_dir(&b, &c0).join("etc/base")).unwrap(),
        "base\n"
    );
    assert_eq!(
        std::fs::read_to_string(snapshot_dir(&b, &c1).join("app/run")).unwrap(),
        "ran\n"
    );
    assert_eq!(
        std::fs::read_to_string(snapshot_dir(&b, &c2).join("other/x")).unwrap(),
        "x\n"
    );
    for r in &got {
        if let Some(l) = &r.layer {
            assert!(
                b.content().exists(&l.blob.digest),
                "blob {} kept",
                l.blob.digest
            );
        }
    }
    // Pinned by the import's lease: GC keeps all of it.
    let stats = b.gc().unwrap();
    assert!(stats.ran);
    assert_eq!(stats.snapshots, 0, "{stats:?}");
    assert!(b.snapshots().get(&c1).unwrap().is_some());
    assert!(b.content().exists(r3.config_digest.as_ref().unwrap()));

    // mode=min: only the final result's chain (r3 ← r2 ← r1), without l2.
    let min_ref = Reference::parse(&format!("{reg}/{}:min", unique("cache"))).unwrap();
    let out = cache::export_cache(&a, &min_ref, &records, CacheMode::Min, &opts()).unwrap();
    assert_eq!((out.records, out.blobs), (3, 2));
    let c = Store::open(t.path().join("c")).unwrap();
    let got = cache::import_cache(&c, &min_ref, &opts()).unwrap();
    let keys: Vec<&str> = got.iter().map(|r| &r.key[..1]).collect();
    assert_eq!(keys, ["1", "2", "3"]);
    assert!(c.snapshots().get(&c2).unwrap().is_none());
    assert!(c.snapshots().get(&c1).unwrap().is_some());
}

fn chain_id_of(diffs: &[&Digest]) -> Digest {
    let v: Vec<Digest> = diffs.iter().map(|d| (*d).clone()).collect();
    strata_oci::chain_ids(&v).pop().unwrap()
}

#[test]
fn bad_records_and_non_caches_are_refused() {
    let Some(reg) = registry() else {
        return strata_testkit::skip("no test registry (STRATA_TEST_REGISTRY)");
    };
    let t = tempfile::tempdir().unwrap();
    let a = Store::open(t.path().join("a")).unwrap();
    let l0 = layer(
        &a,
        &t.path().join("d0"),
        None,
        &[("f", "1")],
        Compression::GZIP,
    );
    let mut r = record('1', None, &[&l0.diff_id], "one", Some(&l0));
    let target = Reference::parse(&format!("{reg}/{}:bad", unique("cache"))).unwrap();
    r.config.push(b' ');
    let err = cache::export_cache(&a, &target, &[r.clone()], CacheMode::Max, &opts()).unwrap_err();
    assert!(
        err.to_string()
            .contains(r.config_digest.as_ref().unwrap().as_str()),
        "{err}"
    );
    let mut r = record('1', None, &[&l0.diff_id], "one", Some(&l0));
    r.key = "not-hex".into();
    assert!(cache::export_cache(&a, &target, &[r], CacheMode::Max, &opts()).is_err());
    // A layer the store has no blob for.
    let ghost = Digest::of(b"ghost layer");
    let r = record('1', None, &[&ghost], "one", None);
    let err = cache::export_cache(&a, &target, &[r], CacheMode::Max, &opts()).unwrap_err();
    assert!(err.to_string().contains(ghost.as_str()), "{err}");

    // An ordinary image is not a cache.
    let img = Reference::parse(&format!("{reg}/{}:img", unique("cache"))).unwrap();
    let row = a
        .create_image(
            &serde_json::from_slice(&record('1', None, &[&l0.diff_id], "x", None).config).unwrap(),
            std::slice::from_ref(&l0.blob),
        )
        .unwrap();
    a.tag_image(&row.id, &img).unwrap();
    strata_registry::push(&a, &img, &Default::default()).unwrap();
    let err = cache::import_cache(&a, &img, &opts()).unwrap_err();
    assert!(
        err.to_string().contains("not a strata build cache"),
        "{err}"
    );
    let absent = Reference::parse(&format!("{reg}/{}:none", unique("cache"))).unwrap();
    let err = cache::import_cache(&a, &absent, &opts()).unwrap_err();
    assert!(err.to_string().contains("manifest unknown"), "{err}");
}
