//! `COPY --from` is keyed by the content it copies, as BuildKit's: a
//! rebuilt source stage that produced the same files keeps the COPY (and
//! every later step) CACHED; other content re-runs it; `COPY --from` an
//! image follows that image. See: issue 13.

use std::collections::HashMap;

use crate::build_common::{build_ok, context, image_id, step_states};
use crate::support::Env;

/// The stage `build` copies `app.src` to `/out/app` (copied on) and
/// writes `/out/stamp` from `notes.txt` and the clock (never copied).
const DF: &str = "FROM base AS build\n\
COPY app.src notes.txt /in/\n\
RUN mkdir -p /out && cp /in/app.src /out/app && (cat /in/notes.txt; date +%s%N) > /out/stamp\n\
\n\
FROM base\n\
COPY --from=build /out/app /app\n\
RUN cp /app /app.copy\n\
ENV DONE=1\n\
CMD [\"cat\", \"/app.copy\"]\n";

const COPY: &str = "[stage-1 2/3] COPY --from=build /out/app /app";
const AFTER: &str = "[stage-1 3/3] RUN cp /app /app.copy";
const BUILD_RUN: &str = "[build 3/3] RUN mkdir -p /out";

fn states(p: &str) -> HashMap<String, String> {
    step_states(p).into_iter().collect()
}

/// The state of the step whose name starts with `prefix`.
fn state<'a>(s: &'a HashMap<String, String>, prefix: &str, p: &str) -> &'a str {
    let found: Vec<&String> = s
        .iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(found.len(), 1, "no single step {prefix:?} in:\n{p}");
    found[0]
}

#[test]
fn a_rebuilt_stage_with_the_same_output_keeps_copy_from_cached() {
    let env = Env::new();
    env.busybox("base");
    let dir = context(
        &env,
        "ctx",
        &[
            ("Dockerfile", DF),
            ("app.src", "v1\n"),
            ("notes.txt", "first\n"),
        ],
    );
    build_ok(&env, &dir, &["-t", "app"]);
    let id = image_id(&env, "app");
    assert_eq!(env.ok(["run", "--rm", "app"]), "v1\n");

    // A no-op rebuild: everything CACHED, the same image.
    let p = build_ok(&env, &dir, &["-t", "app"]);
    assert!(step_states(&p).iter().all(|(_, s)| s == "CACHED"), "{p}");
    assert_eq!(image_id(&env, "app"), id);

    // Only the part of `build` that is not copied changes: the stage
    // re-runs (its stamp differs), the COPY --from and what follows hit.
    std::fs::write(dir.join("notes.txt"), "second\n").unwrap();
    let p = build_ok(&env, &dir, &["-t", "app"]);
    let s = states(&p);
    assert_eq!(state(&s, BUILD_RUN, &p), "DONE", "{p}");
    assert_eq!(state(&s, COPY, &p), "CACHED", "{p}");
    assert_eq!(state(&s, AFTER, &p), "CACHED", "{p}");
    assert_eq!(image_id(&env, "app"), id, "the same image:\n{p}");

    // The copied content changes: the COPY and every later step re-run.
    std::fs::write(dir.join("app.src"), "v2\n").unwrap();
    let p = build_ok(&env, &dir, &["-t", "app", "--explain"]);
    let s = states(&p);
    assert_eq!(state(&s, BUILD_RUN, &p), "DONE", "{p}");
    assert_eq!(state(&s, COPY, &p), "DONE", "{p}");
    assert_eq!(state(&s, AFTER, &p), "DONE", "{p}");
    assert!(
        p.contains(&format!("MISS    {COPY}: source files changed")),
        "--explain names the copied files:\n{p}"
    );
    assert_ne!(image_id(&env, "app"), id);
    assert_eq!(env.ok(["run", "--rm", "app"]), "v2\n");

    // Back to v1 with new notes: the build stage re-runs (its stamp
    // differs again), the COPY finds its first result by content.
    std::fs::write(dir.join("app.src"), "v1\n").unwrap();
    std::fs::write(dir.join("notes.txt"), "third\n").unwrap();
    let p = build_ok(&env, &dir, &["-t", "app"]);
    let s = states(&p);
    assert_eq!(state(&s, BUILD_RUN, &p), "DONE", "{p}");
    assert_eq!(state(&s, COPY, &p), "CACHED", "{p}");
    assert_eq!(state(&s, AFTER, &p), "CACHED", "{p}");
    assert_eq!(image_id(&env, "app"), id);
    assert_eq!(env.ok(["run", "--rm", "app"]), "v1\n");
}

#[test]
fn a_stage_from_a_stage_with_copy_from_is_keyed_by_that_content() {
    let env = Env::new();
    env.busybox("base");
    let df = "FROM base AS build\nCOPY notes.txt /n\nRUN echo app > /app && date +%s%N > /stamp\n\nFROM base AS mid\nCOPY --from=build /app /app\n\nFROM mid\nRUN cp /app /app.copy\n";
    let dir = context(&env, "ctx", &[("Dockerfile", df), ("notes.txt", "1\n")]);
    build_ok(&env, &dir, &["-t", "chain"]);
    std::fs::write(dir.join("notes.txt"), "2\n").unwrap();
    let p = build_ok(&env, &dir, &["-t", "chain"]);
    let s = states(&p);
    assert_eq!(state(&s, "[build 3/3] RUN", &p), "DONE", "{p}");
    assert_eq!(
        state(&s, "[mid 2/2] COPY --from=build", &p),
        "CACHED",
        "{p}"
    );
    assert_eq!(state(&s, "[stage-2 1/1] RUN cp", &p), "CACHED", "{p}");
}

#[test]
fn copy_from_an_image_follows_the_image() {
    let env = Env::new();
    env.busybox("base");
    let tools = |v: &str| {
        let df = format!("FROM base\nRUN echo {v} > /v\n");
        let d = context(&env, &format!("tools-{v}"), &[("Dockerfile", &df)]);
        build_ok(&env, &d, &["-t", "tools:1"]);
    };
    tools("one");
    let dir = context(
        &env,
        "ctx",
        &[(
            "Dockerfile",
            "FROM base\nCOPY --from=tools:1 /v /v\nRUN cp /v /v2\n",
        )],
    );
    build_ok(&env, &dir, &["-t", "app"]);
    let p = build_ok(&env, &dir, &["-t", "app"]);
    assert!(step_states(&p).iter().all(|(_, s)| s == "CACHED"), "{p}");
    // Another image under the same name: the COPY re-runs.
    tools("two");
    let p = build_ok(&env, &dir, &["-t", "app"]);
    let s = states(&p);
    assert_eq!(
        state(&s, "[2/3] COPY --from=tools:1 /v /v", &p),
        "DONE",
        "{p}"
    );
    assert_eq!(state(&s, "[3/3] RUN cp /v /v2", &p), "DONE", "{p}");
    assert_eq!(env.ok(["run", "--rm", "app", "cat", "/v2"]), "two\n");
}
