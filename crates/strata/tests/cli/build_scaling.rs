//! Build cost linear in the Dockerfile: metadata steps in mid-stage store
//! no config blob each (a Dockerfile of n LABELs used to write n configs
//! of up to n labels); their configs are replayed from the nearest stored
//! one, giving byte-identical results. See: issue 11 ("Build cost must be
//! linear in the Dockerfile"). The timing side is `bench/labels.sh`.

use crate::build_common::{build_ok, context, image_id, raw_config, step_states};
use crate::support::Env;

const DF: &str = "FROM base\n\
LABEL a=1\n\
ENV E=1\n\
CMD [\"sh\"]\n\
RUN echo one > /f\n\
LABEL b=2\n\
ENTRYPOINT [\"/bin/sh\", \"-c\"]\n\
ENV F=$E-2\n\
ONBUILD RUN true\n\
LABEL c=3\n\
RUN echo two > /g\n\
LABEL last=1\n";

#[test]
fn replayed_metadata_steps_give_the_same_config() {
    let env = Env::new();
    env.busybox("base");
    let dir = context(&env, "ctx", &[("Dockerfile", DF)]);
    build_ok(&env, &dir, &["-t", "one"]);
    let id = image_id(&env, "one");
    let first = raw_config(&env, "one");
    // A no-op rebuild: the last step's stored config, same ID.
    build_ok(&env, &dir, &["-t", "one"]);
    assert_eq!(image_id(&env, "one"), id);
    // Change the second RUN: the config before it is replayed from the
    // first RUN's (LABEL b, ENTRYPOINT, ENV F, ONBUILD, LABEL c on top).
    std::fs::write(
        dir.join("Dockerfile"),
        DF.replace("echo two > /g", "echo three > /g"),
    )
    .unwrap();
    let p = build_ok(&env, &dir, &["-t", "two"]);
    let states: Vec<String> = step_states(&p)
        .into_iter()
        .map(|(n, s)| format!("{s} {n}"))
        .collect();
    assert_eq!(
        states,
        [
            "CACHED [1/3] FROM base",
            "CACHED [2/3] RUN echo one > /f",
            "DONE [3/3] RUN echo three > /g",
        ],
        "{p}"
    );
    let second = raw_config(&env, "two");
    // Everything before the changed step is exactly what the first build
    // wrote, history times included.
    let h1 = first["history"].as_array().unwrap();
    let h2 = second["history"].as_array().unwrap();
    assert_eq!(h1.len(), h2.len());
    let changed = h1
        .iter()
        .position(|h| h["created_by"].as_str().unwrap_or("").contains("echo two"))
        .unwrap();
    assert_eq!(h1[..changed], h2[..changed], "replayed history differs");
    for field in ["Env", "Cmd", "Entrypoint", "OnBuild", "ArgsEscaped"] {
        assert_eq!(
            first["config"][field], second["config"][field],
            "{field} differs after replay"
        );
    }
    assert_eq!(
        second["config"]["Cmd"],
        serde_json::json!(["sh"]),
        "ENTRYPOINT after a CMD of the same stage keeps the CMD, replayed too"
    );
    assert_eq!(second["config"]["Labels"]["c"], "3");
    assert_eq!(second["config"]["Env"][1], "E=1");
    assert_eq!(second["config"]["Env"][2], "F=1-2");
    // And back: the first Dockerfile is a full hit again, same ID.
    std::fs::write(dir.join("Dockerfile"), DF).unwrap();
    build_ok(&env, &dir, &["-t", "one"]);
    assert_eq!(image_id(&env, "one"), id);
}

#[test]
fn many_labels_store_a_few_configs() {
    let env = Env::new();
    let mut df = String::from("FROM scratch\n");
    for i in 0..400 {
        df.push_str(&format!("LABEL key{i}=value{i}\n"));
    }
    let dir = context(&env, "ctx", &[("Dockerfile", &df)]);
    build_ok(&env, &dir, &["-t", "labels"]);
    let blobs = std::fs::read_dir(env.root.join("blobs/sha256"))
        .unwrap()
        .count();
    // The stage's first and last configs, the image's config and manifest.
    assert!(blobs <= 4, "{blobs} blobs for 400 LABELs");
    let cfg = raw_config(&env, "labels");
    assert_eq!(cfg["config"]["Labels"].as_object().unwrap().len(), 400);
    assert_eq!(cfg["history"].as_array().unwrap().len(), 400);
    // A change in the middle replays the first 199 steps, then runs the rest.
    let id = image_id(&env, "labels");
    std::fs::write(
        dir.join("Dockerfile"),
        df.replace("LABEL key199=value199", "LABEL key199=changed"),
    )
    .unwrap();
    build_ok(&env, &dir, &["-t", "changed"]);
    let changed = raw_config(&env, "changed");
    assert_eq!(changed["config"]["Labels"]["key199"], "changed");
    assert_eq!(
        cfg["history"].as_array().unwrap()[..199],
        changed["history"].as_array().unwrap()[..199]
    );
    assert_ne!(image_id(&env, "changed"), id);
    // `system df` counts the build cache.
    let df_out = env.ok([
        "system",
        "df",
        "--format",
        "{{.Type}} {{.TotalCount}} {{.Size}}",
    ]);
    let line = df_out
        .lines()
        .find(|l| l.starts_with("Build Cache"))
        .unwrap();
    assert!(
        !line.ends_with(" 0B") && !line.contains(" 0 "),
        "system df shows the build cache: {df_out}"
    );
}

/// Replayed records travel through a registry cache (format v2: a record
/// with a time instead of a config) and replay to the same configs on a
/// clean store. Needs the test registry (STRATA_TEST_REGISTRY).
#[test]
fn replayed_records_survive_a_registry_cache() {
    let Some(reg) = crate::support::registry() else {
        return crate::support::skip("no test registry (STRATA_TEST_REGISTRY)");
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let tag = format!("{}-{nanos}", std::process::id());
    let base = format!("{reg}/strata-scaling-base:{tag}");
    let cache = format!("{reg}/strata-scaling-cache:{tag}");
    let first = Env::new();
    first.busybox(&base);
    first.ok(["push", "-q", base.as_str()]);
    let df = format!(
        "FROM {base}\nLABEL a=1\nENV B=2\nRUN echo ran > /marker\nLABEL c=3\nENV D=4\nCOPY app.txt /\nLABEL e=5\nCMD [\"cat\", \"/marker\"]\n"
    );
    let dir = context(&first, "ctx", &[("Dockerfile", &df), ("app.txt", "x\n")]);
    let to = format!("type=registry,ref={cache},mode=min");
    build_ok(&first, &dir, &["-t", "app", "--cache-to", &to]);
    let want = raw_config(&first, "app");

    // A clean store, a changed last step: everything before it comes from
    // the cache, the config before it replayed from imported records.
    let second = Env::new();
    std::fs::write(
        dir.join("Dockerfile"),
        df.replace("CMD [\"cat\", \"/marker\"]", "CMD [\"cat\", \"/app.txt\"]"),
    )
    .unwrap();
    let from = format!("type=registry,ref={cache}");
    let p = build_ok(&second, &dir, &["-t", "app", "--cache-from", &from]);
    let states: Vec<String> = step_states(&p)
        .into_iter()
        .map(|(n, s)| format!("{s} {n}"))
        .collect();
    assert!(
        states[1..].iter().all(|s| s.starts_with("CACHED")),
        "every layer step from the cache: {p}"
    );
    let got = raw_config(&second, "app");
    let (hw, hg) = (
        want["history"].as_array().unwrap(),
        got["history"].as_array().unwrap(),
    );
    assert_eq!(hw.len(), hg.len());
    assert_eq!(hw[..hw.len() - 1], hg[..hg.len() - 1], "replayed history");
    assert_eq!(want["config"]["Labels"], got["config"]["Labels"]);
    assert_eq!(want["config"]["Env"], got["config"]["Env"]);
    assert_eq!(got["config"]["Cmd"], serde_json::json!(["cat", "/app.txt"]));
}
