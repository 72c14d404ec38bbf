//! Why a step missed the cache (`--explain`, and the notes of plain
//! progress).
//!
//! A step misses when no valid record has its key. Its key covers its
//! parent's key and its own inputs, so the first missing step of a stage
//! is compared with the records that share its parent (the same step as
//! built before, on the same parent): the input fields that differ name
//! the cause — the instruction text, a variable (`ENV`/`ARG`), the network,
//! a mount, the source stage or image, or, for COPY/ADD, the files (via
//! fileops' `describe_change` on the selection summary kept in the
//! record). With no such record, the stage's base changed (a new base
//! image, or a rebuilt base stage), or the step was never built. Every
//! later step of the stage misses because its parent did.

use std::collections::HashMap;

use strata_store::Store;

use crate::cache::{self, Description, Record};
use crate::fileops::SelectionSummary;
use crate::key::KeyInputs;
use crate::plan::{Action, Base, StagePlan};

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
    let siblings = cache::siblings(store, &step.parent_key).unwrap_or_default();
    if let Some(before) = siblings.first() {
        let mut reasons = diff_inputs(&step.inputs, &before.inputs);
        if step.inputs.get("sources") != before.inputs.get("sources") {
            reasons.push(
                source_change(sp, k, before).unwrap_or_else(|| "source files changed".into()),
            );
        }
        if reasons.is_empty() {
            return "its cached result is gone (its layer or config was removed)".into();
        }
        return reasons.join("; ");
    }
    if k > 0 {
        return "not built before on this parent".into();
    }
    let base = match &sp.base {
        Base::Scratch => "scratch".to_string(),
        Base::Image { reference, .. } => format!("base image {reference}"),
        Base::Stage(j) => format!("base stage #{j}"),
    };
    match cache::same_text(store, step.inputs.get("text").unwrap_or_default()) {
        Ok(Some(_)) => format!("{base} changed since this step was last built"),
        _ => format!("not built before (on {base})"),
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
