//! Builds and registries: a missing base image is pulled, and the build
//! cache travels through a registry (`--cache-to` on one machine,
//! `--cache-from` on a clean one: every step CACHED, no RUN executed).
//! Needs the test registry (STRATA_TEST_REGISTRY). See: issue 6.

use crate::build_common::{build_ok, context, image_id, step_states};
use crate::support::{Env, registry, skip};

fn unique(name: &str) -> String {
    format!(
        "{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

#[test]
fn cache_to_then_cache_from_on_a_clean_store() {
    let Some(reg) = registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY)");
    };
    let base = format!("{reg}/{}:1", unique("strata-build-base"));
    let cache = format!("{reg}/{}:cache", unique("strata-build-cache"));
    let first = Env::new();
    first.busybox(&base);
    first.ok(["push", "-q", base.as_str()]);
    let df = format!(
        "FROM {base}\nRUN echo ran > /marker\nCOPY app.txt /\nCMD [\"cat\", \"/marker\"]\n"
    );
    let dir = context(&first, "ctx", &[("Dockerfile", &df), ("app.txt", "x\n")]);
    let to = format!("type=registry,ref={cache},mode=max");
    build_ok(&first, &dir, &["-t", "app", "--cache-to", &to]);
    let id = image_id(&first, "app");
    // The base is local: no pull, unless --pull.
    let p = build_ok(&first, &dir, &["-t", "app"]);
    assert!(!p.contains("load metadata for"), "{p}");
    let p = build_ok(&first, &dir, &["-t", "app", "--pull"]);
    assert!(p.contains("load metadata for"), "--pull did not pull: {p}");
    assert_eq!(image_id(&first, "app"), id, "the same base, the same image");

    // A clean store: the base is pulled by FROM, the steps come from the cache.
    let second = Env::new();
    let from = format!("type=registry,ref={cache}");
    let p = build_ok(&second, &dir, &["-t", "app", "--cache-from", &from]);
    let states = step_states(&p);
    // FROM is DONE (pulled); every step is CACHED.
    assert_eq!(states.len(), 3, "{p}");
    assert!(states[1..].iter().all(|(_, s)| s == "CACHED"), "{p}");
    assert!(p.contains("load metadata for"), "the base was pulled: {p}");
    assert_eq!(image_id(&second, "app"), id, "same image from the cache");
    assert_eq!(second.ok(["run", "--rm", "app"]), "ran\n");
}
