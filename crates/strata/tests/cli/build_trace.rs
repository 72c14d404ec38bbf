//! `build --trace`: the timeline of a multi-stage build as Chrome trace
//! events (one slice per step, parallel stages on tracks of their own,
//! slices of a track never overlapping), as SVG (well-formed XML) and PNG;
//! a failed build still writes its trace; the tty view ends with a
//! one-line summary. See: issue 15.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::build_common::{build, build_ok, context};
use crate::support::Env;

/// Two independent stages (they run in parallel) and a final one that
/// copies from both.
const DF: &str = "\
FROM base AS left
WORKDIR /l
COPY a.txt .
RUN echo left > /l/out && sleep 0.2

FROM base AS right
RUN echo right > /r && sleep 0.2

FROM base
COPY --from=left /l/out /left
COPY --from=right /r /right
CMD [\"cat\", \"/left\", \"/right\"]
";

/// The names of the step vertices plain progress shows (`#N [left 2/4] …`).
fn progress_steps(progress: &str) -> BTreeMap<String, usize> {
    let mut seen = BTreeSet::new();
    let mut out = BTreeMap::new();
    for l in progress.lines() {
        let Some((n, text)) = l.strip_prefix('#').and_then(|r| r.split_once(' ')) else {
            continue;
        };
        if text.starts_with('[') && !text.starts_with("[internal]") && seen.insert(n.to_string()) {
            *out.entry(text.to_string()).or_default() += 1;
        }
    }
    out
}

fn events(path: &std::path::Path) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    v["traceEvents"].as_array().expect("traceEvents").clone()
}

/// Every complete event is well formed; returns them by category.
fn slices(ev: &[Value]) -> Vec<(String, String, u64, u64, u64)> {
    let mut out = Vec::new();
    for e in ev {
        let ph = e["ph"].as_str().expect("ph");
        assert!(matches!(ph, "X" | "M"), "{e}");
        assert_eq!(e["pid"], 1, "{e}");
        assert!(e["tid"].is_u64() && e["name"].is_string(), "{e}");
        if ph == "X" {
            let (ts, dur) = (
                e["ts"].as_u64().expect("ts"),
                e["dur"].as_u64().expect("dur"),
            );
            out.push((
                e["cat"].as_str().unwrap().to_string(),
                e["name"].as_str().unwrap().to_string(),
                e["tid"].as_u64().unwrap(),
                ts,
                ts + dur,
            ));
        }
    }
    out
}

#[test]
fn multi_stage_trace_json_svg_png() {
    let env = Env::new();
    env.busybox("base");
    let dir = context(&env, "ctx", &[("Dockerfile", DF), ("a.txt", "a\n")]);
    let (json, svg, png) = (env.path("t.json"), env.path("t.svg"), env.path("t.png"));
    let progress = build_ok(
        &env,
        &dir,
        &[
            "-t",
            "traced",
            "--trace",
            json.to_str().unwrap(),
            "--trace",
            svg.to_str().unwrap(),
            "--trace",
            png.to_str().unwrap(),
        ],
    );
    let ev = events(&json);
    let all = slices(&ev);
    // One slice per step vertex, no more, no less.
    let mut steps: BTreeMap<String, usize> = BTreeMap::new();
    for (cat, name, ..) in all.iter().filter(|s| s.0 == "step") {
        let _ = cat;
        *steps.entry(name.clone()).or_default() += 1;
    }
    assert_eq!(steps, progress_steps(&progress), "{progress}");
    assert!(
        steps.keys().any(|s| s.starts_with("[left 4/4] RUN")),
        "{steps:?}"
    );
    // Slices of one track never overlap; phases sit inside a slice.
    let mut by_track: BTreeMap<u64, Vec<(u64, u64, String)>> = BTreeMap::new();
    for (cat, name, tid, start, end) in &all {
        if cat != "phase" {
            by_track
                .entry(*tid)
                .or_default()
                .push((*start, *end, name.clone()));
        }
    }
    for (tid, spans) in &mut by_track {
        spans.sort();
        for w in spans.windows(2) {
            assert!(
                w[0].1 <= w[1].0,
                "track {tid}: {:?} overlaps {:?}",
                w[0],
                w[1]
            );
        }
    }
    for (_, name, tid, start, end) in all.iter().filter(|s| s.0 == "phase") {
        assert!(
            name == "cache lookup" || by_track[tid].iter().any(|(s, e, _)| s <= start && end <= e),
            "phase {name} is inside no slice of track {tid}"
        );
    }
    // Each stage on its own, named track.
    let tid_of = |prefix: &str| {
        all.iter()
            .find(|s| s.1.starts_with(prefix))
            .map(|s| s.2)
            .unwrap_or_else(|| panic!("no slice {prefix}"))
    };
    let (l, r, f) = (tid_of("[left "), tid_of("[right "), tid_of("[stage-2 "));
    assert!(l != r && r != f && l != f && l != 0, "{l} {r} {f}");
    let names: BTreeMap<u64, String> = ev
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .map(|e| {
            (
                e["tid"].as_u64().unwrap(),
                e["args"]["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(names[&l], "stage left");
    assert_eq!(names[&f], "stage-2");
    // The pictures.
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert!(
        doc.descendants()
            .any(|n| n.text().is_some_and(|t| t.contains("stage left"))),
        "{text}"
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000);
}

#[test]
fn failed_build_still_writes_its_trace() {
    let env = Env::new();
    env.busybox("base");
    let dir = context(
        &env,
        "ctx",
        &[("Dockerfile", "FROM base\nRUN echo ok\nRUN exit 3\n")],
    );
    let json = env.path("t.json");
    let out = build(&env, &dir, &["--trace", json.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let ev = events(&json);
    let failed: Vec<&Value> = ev
        .iter()
        .filter(|e| e["args"]["status"] == "error")
        .collect();
    assert_eq!(failed.len(), 1, "{ev:?}");
    assert!(failed[0]["name"].as_str().unwrap().contains("RUN exit 3"));
}

#[test]
fn trace_file_names_are_checked_first() {
    let env = Env::new();
    let dir = context(&env, "ctx", &[("Dockerfile", "FROM scratch\n")]);
    let out = build(&env, &dir, &["--trace", "trace.txt"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("must end in .json"), "{err}");
    assert!(!env.root.join("metadata.db").exists(), "nothing was built");
}

#[test]
fn tty_progress_ends_with_a_summary() {
    let env = Env::new();
    env.busybox("base");
    let dir = context(
        &env,
        "ctx",
        &[
            ("Dockerfile", "FROM base\nCOPY a.txt /a\nRUN echo hi\n"),
            ("a.txt", "a\n"),
        ],
    );
    let out = env.run(["build", "--progress", "tty", dir.to_str().unwrap()]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("Built in ")
            && last.contains(": 2 steps run, 0 cached, ")
            && last.ends_with(" written"),
        "{last:?}"
    );
    let out = env.run(["build", "--progress", "tty", dir.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.contains(": 0 steps run, 2 cached, 0B written"),
        "{last:?}"
    );
}
