//! `history --digests`: each row's layer digest is the manifest's, rows
//! of steps strata built carry their build-cache key, and the row that was
//! a locally present base image's top row shows that image's ID (through
//! a chain of bases strata built) until the base is removed. See: issue 15.

use std::path::Path;

use crate::build_common::{build_ok, context, image_id};
use crate::support::{self, Env};

/// The manifest's layer digests of `image` (bottom first), from an OCI
/// layout saved by strata (which keeps the stored manifest's bytes).
fn manifest_layers(env: &Env, image: &str) -> Vec<String> {
    let tar = env.path(&format!("{}.tar", image.replace(':', "_")));
    env.ok([
        "save",
        "--format",
        "oci",
        "-o",
        tar.to_str().unwrap(),
        image,
    ]);
    let dir = env.path(&format!("{}-layout", image.replace(':', "_")));
    std::fs::create_dir_all(&dir).unwrap();
    support::untar(&tar, &dir);
    let read = |p: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let index = read(&dir.join("index.json"));
    let d = index["manifests"][0]["digest"].as_str().unwrap();
    let m = read(&dir.join("blobs/sha256").join(&d[7..]));
    m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

/// `history --no-trunc --format` rows, bottom first.
fn rows(env: &Env, image: &str, format: &str) -> Vec<String> {
    let mut r: Vec<String> = env
        .ok(["history", "--no-trunc", "--format", format, image])
        .lines()
        .map(String::from)
        .collect();
    r.reverse();
    r
}

#[test]
fn digests_equal_the_manifest_and_keys_name_steps() {
    let env = Env::new();
    let base = env.busybox("base");
    let dir = context(
        &env,
        "ctx",
        &[
            (
                "Dockerfile",
                "FROM base\nENV A=1\nWORKDIR /app\nCOPY a.txt .\nRUN echo hi > /hi\nCMD [\"sh\"]\n",
            ),
            ("a.txt", "a\n"),
        ],
    );
    build_ok(&env, &dir, &["-t", "app"]);
    let digests: Vec<String> = rows(&env, "app", "{{.Digest}}")
        .into_iter()
        .filter(|d| d != "<none>")
        .collect();
    assert_eq!(digests, manifest_layers(&env, "app"));
    // The default table with --digests has the two columns.
    let table = env.ok(["history", "--digests", "app"]);
    let header = table.lines().next().unwrap();
    assert!(
        header.contains("DIGEST") && header.contains("CACHE KEY"),
        "{table}"
    );
    // Keys: none on the base's row, a distinct 64-hex key on each step's.
    let keys = rows(&env, "app", "{{.CacheKey}}");
    assert_eq!(keys.len(), 6, "{keys:?}");
    assert_eq!(keys[0], "<none>");
    let mine: std::collections::BTreeSet<&String> = keys[1..].iter().collect();
    assert_eq!(mine.len(), 5, "{keys:?}");
    assert!(
        keys[1..]
            .iter()
            .all(|k| k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit())),
        "{keys:?}"
    );
    // The base's row shows the base's ID; the steps' rows stay <missing>.
    let ids = rows(&env, "app", "{{.ID}}");
    assert_eq!(ids[0], base);
    assert!(ids[1..5].iter().all(|i| i == "<missing>"), "{ids:?}");
    assert_eq!(ids[5], image_id(&env, "app"));
    // A pulled or imported image has no keys.
    assert_eq!(rows(&env, "base", "{{.CacheKey}}"), ["<none>"]);
}

#[test]
fn parents_through_a_chain_of_built_images() {
    let env = Env::new();
    let base = env.busybox("base");
    let one = context(
        &env,
        "one",
        &[("Dockerfile", "FROM base\nRUN echo 1 > /one\n")],
    );
    build_ok(&env, &one, &["-t", "one"]);
    let two = context(
        &env,
        "two",
        &[("Dockerfile", "FROM one\nRUN echo 2 > /two\nLABEL n=2\n")],
    );
    build_ok(&env, &two, &["-t", "two"]);
    let ids = rows(&env, "two", "{{.ID}}");
    assert_eq!(
        ids,
        [
            base.clone(),
            image_id(&env, "one"),
            "<missing>".into(),
            image_id(&env, "two")
        ]
    );
    // Once a parent is gone, its row is <missing> again (and so is what
    // only it knew: its own base).
    env.ok(["rmi", "one"]);
    let ids = rows(&env, "two", "{{.ID}}");
    assert_eq!(ids[..3], ["<missing>", "<missing>", "<missing>"]);
}
