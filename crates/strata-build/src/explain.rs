//! Why a step missed the cache (`--explain` only).
//!
//! A step is compared with *its own previous build*: the same step (stage
//! and position) of the same Dockerfile, context and `--target`, never
//! with whatever other build happened to use the same base. That identity
//! is the step's *lineage* ([`stage_lineage`] + the step's position); each
//! cache record keeps the lineages it served, with when
//! ([`crate::cache::Description::lineage`]): set when the step runs, and
//! updated on a hit, so the newest record of a lineage is the step as last
//! built here.
//!
//! The input fields that differ from that record name the cause: the
//! instruction text, a variable (`ENV`/`ARG`), the network, a mount, the
//! source stage or image, or, for COPY/ADD, the files (via fileops'
//! `describe_change` on the selection summary kept in the record). Same
//! inputs on another parent mean the base (first step) or an earlier step
//! changed. With no record of the lineage, the step was not built before.
//! Every later step of the stage misses because its parent did.

use std::collections::HashMap;

use sha2::{Digest as _, Sha256};
use strata_store::Store;

use crate::cache::{self, Description, Record};
use crate::fileops::SelectionSummary;
use crate::key::KeyInputs;
use crate::options::{BuildRequest, ContextSource};
use crate::plan::{Action, Base, StagePlan};

/// The lineage of stage `index` (named `name`) of the build `req`
/// describes: a hash of the context directory, the Dockerfile's path, the
/// `--target` and the stage (by name when it has one, so inserting a stage
/// before it keeps its steps' history).
pub fn stage_lineage(req: &BuildRequest, index: usize, name: Option<&str>) -> String {
    let canonical = |p: &std::path::Path| {
        std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .to_string_lossy()
            .into_owned()
    };
    let context = match &req.context {
        ContextSource::Dir(d) if !d.as_os_str().is_empty() => canonical(d),
        _ => "-".to_string(),
    };
    let dockerfile = match &req.dockerfile_path {
        Some(p) => canonical(p),
        None => format!("-/{}", req.dockerfile_name),
    };
    let stage = match name {
        Some(n) => format!("name {n}"),
        None => format!("index {index}"),
    };
    let mut h = Sha256::new();
    for field in [
        "strata.build.lineage.v1",
        &context,
        &dockerfile,
        req.target.as_deref().unwrap_or(""),
        &stage,
    ] {
        h.update(format!("{}:{field}\n", field.len()));
    }
    hex::encode(&h.finalize()[..16])
}

/// The lineage of step `k` of `sp`.
pub fn step_lineage(sp: &StagePlan, k: usize) -> String {
    format!("{}/{k}", sp.lineage)
}

/// Names what differs between a step's inputs now and `before`.
pub fn diff_inputs(now: &KeyInputs, before: &KeyInputs) -> Vec<String> {
    let (a, b) = (now.as_map(), before.as_map());
    let mut out = Vec::new();
    if a.get("text") != b.get("text") {
        out.push(format!(
            "the instruction changed (was `{}`)",
            b.get("text").copied().unwrap_or("?")
        ));
    }
    let mut labels: Vec<&str> = a.keys().chain(b.keys()).copied().collect();
    labels.sort_unstable();
    labels.dedup();
    for l in labels {
        let (x, y) = (a.get(l), b.get(l));
        if x == y || matches!(l, "op" | "text" | "sources") {
            continue;
        }
        if let Some(var) = l.strip_prefix("env.") {
            out.push(match (y, x) {
                (Some(old), Some(new)) => format!("variable {var} changed ({old:?} -> {new:?})"),
                (None, Some(new)) => format!("variable {var} is new ({new:?})"),
                (Some(_), None) => format!("variable {var} was removed"),
                (None, None) => continue,
            });
        } else if l == "cmd" {
            if a.get("text") == b.get("text") {
                out.push("a variable used by the instruction changed its value".into());
            }
        } else if l == "from" {
            out.push("its --from source changed".into());
        } else if let Some(n) = l.strip_prefix("mount.") {
            out.push(format!("RUN --mount #{n} changed"));
        } else {
            out.push(format!("{l} changed"));
        }
    }
    out
}

fn source_change(sp: &StagePlan, k: usize, before: &Description) -> Option<String> {
    let Action::Copy(c) = &sp.steps[k].action else {
        return None;
    };
    let sel = c.selection.as_ref()?;
    let prev = SelectionSummary::decode(&before.sources_bytes()?)?;
    sel.describe_change(&prev)
        .map(|d| format!("source files changed: {d}"))
}

/// Why step `k` of `sp` (its stage's first miss) missed.
pub fn why(store: &Store, sp: &StagePlan, k: usize, hits: &HashMap<String, Record>) -> String {
    let step = &sp.steps[k];
    if hits.contains_key(&step.key) {
        return "the cache was bypassed".into();
    }
    let base = || match &sp.base {
        Base::Scratch => "scratch".to_string(),
        Base::Image { reference, .. } => format!("base image {reference}"),
        Base::Stage(j) => format!("base stage #{j}"),
    };
    let Ok(Some((parent, before))) = cache::last_built(store, &step_lineage(sp, k)) else {
        return match k {
            0 => format!("not built before (on {})", base()),
            _ => "not built before".into(),
        };
    };
    let mut reasons = diff_inputs(&step.inputs, &before.inputs);
    if step.inputs.get("sources") != before.inputs.get("sources") {
        reasons
            .push(source_change(sp, k, &before).unwrap_or_else(|| "source files changed".into()));
    }
    if !reasons.is_empty() {
        return reasons.join("; ");
    }
    match (parent.as_deref() == Some(step.parent_key.as_str()), k) {
        (true, _) => "its cached result is gone (its layer or config was removed)".into(),
        (false, 0) => format!("{} changed since this step was last built", base()),
        (false, _) => "an earlier step is not the one it was last built on".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_changed_fields() {
        let mut a = KeyInputs::new("run", "RUN make");
        a.push("env.MODE", "prod");
        a.push("env.NEW", "1");
        let mut b = KeyInputs::new("run", "RUN make");
        b.push("env.MODE", "dev");
        b.push("env.OLD", "x");
        let d = diff_inputs(&a, &b);
        assert!(
            d.iter()
                .any(|s| s == "variable MODE changed (\"dev\" -> \"prod\")"),
            "{d:?}"
        );
        assert!(d.iter().any(|s| s.contains("NEW is new")), "{d:?}");
        assert!(d.iter().any(|s| s.contains("OLD was removed")), "{d:?}");
        let c = KeyInputs::new("run", "RUN make all");
        let d = diff_inputs(&c, &KeyInputs::new("run", "RUN make"));
        assert_eq!(
            d,
            vec!["the instruction changed (was `RUN make`)".to_string()]
        );
    }
}
