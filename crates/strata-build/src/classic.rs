//! What the executor tells docker's classic output
//! ([`crate::progress::ProgressMode::Classic`]): the instructions of the
//! stages it shows, and the ID after each step.
//!
//! The ID after a step is strata's real per-step config ID where the step
//! stored one (a layer step, a stage's first and last step: the last one is
//! the image ID, as in docker's `Successfully built`). A metadata step in
//! mid-stage stores no config (its config is replayed, see
//! [`crate::cache`]): its ID is the chain ID of the layers under it.
//! A FROM shows the base image's ID (a stage base: that stage's last ID,
//! scratch: nothing).

use std::collections::HashMap;

use strata_oci::{Digest, ImageConfig};
use strata_store::Store;

use crate::cache::Record;
use crate::plan::{Action, Base, Plan, StagePlan};
use crate::progress::{Instruction, StepKind, StepRef, VertexId};

/// docker's `M` of `Step N/M`: the ARGs before the first FROM and every
/// instruction of the stages up to the target.
pub fn total(plan: &Plan) -> usize {
    plan.global_args.len() + plan.stage_sizes.iter().sum::<usize>()
}

/// The instructions of stage `sp` (its FROM, then its steps) of `plan`,
/// numbered as docker numbers them, with their progress vertices.
pub fn instructions(
    plan: &Plan,
    sp: &StagePlan,
    from: Option<VertexId>,
    steps: &[Option<VertexId>],
) -> Vec<Instruction> {
    let mut number = plan.global_args.len()
        + plan.stage_sizes[..sp.index.min(plan.stage_sizes.len())]
            .iter()
            .sum::<usize>()
        + 1;
    let mut out = vec![Instruction {
        at: StepRef {
            stage: sp.index,
            step: None,
        },
        number,
        text: sp.from_text.clone(),
        kind: match sp.base {
            Base::Stage(j) => StepKind::FromStage(j),
            _ => StepKind::From,
        },
        vertex: from,
    }];
    for (k, s) in sp.steps.iter().enumerate() {
        // An ONBUILD trigger of the base (no text) is not numbered.
        let n = if s.text.is_empty() {
            0
        } else {
            number += 1;
            number
        };
        out.push(Instruction {
            at: at(sp, k),
            number: n,
            text: s.text.clone(),
            kind: match s.action {
                Action::Copy(_) => StepKind::Copy,
                _ => StepKind::Container,
            },
            vertex: steps.get(k).copied().flatten(),
        });
    }
    out
}

/// Step `k` of `sp`.
pub fn at(sp: &StagePlan, k: usize) -> StepRef {
    StepRef {
        stage: sp.index,
        step: Some(k),
    }
}

/// The FROM of `sp`.
pub fn from(sp: &StagePlan) -> StepRef {
    StepRef {
        stage: sp.index,
        step: None,
    }
}

/// The ID after a FROM (a stage base's is filled in by the renderer).
pub fn from_id(sp: &StagePlan) -> String {
    match &sp.base {
        Base::Image { image, .. } => image.id().to_string(),
        _ => String::new(),
    }
}

/// The ID after a step that ran: the config it stored, else the top
/// chain ID of `config` (its layers).
pub fn ran_id(stored: Option<&Digest>, config: &ImageConfig) -> String {
    match stored {
        Some(d) => d.to_string(),
        None => top_chain(config),
    }
}

fn top_chain(config: &ImageConfig) -> String {
    config
        .chain_ids()
        .last()
        .map(Digest::to_string)
        .unwrap_or_default()
}

/// The ID after step `k`, answered by the cache: its record's config,
/// else (a replayed metadata step) the chain of the nearest earlier step
/// of the stage with a layer, or the layers of the nearest stored config.
pub fn cached_id(
    store: &Store,
    sp: &StagePlan,
    hits: &HashMap<String, Record>,
    k: usize,
) -> String {
    let record = |j: usize| hits.get(&sp.steps[j].key);
    if let Some(d) = record(k).and_then(|r| r.config_digest.as_ref()) {
        return d.to_string();
    }
    for j in (0..=k).rev() {
        let Some(r) = record(j) else { continue };
        if let Some(l) = &r.layer {
            return l.chain_id.to_string();
        }
        if let Some(d) = &r.config_digest {
            return store
                .content()
                .read(d)
                .ok()
                .and_then(|b| ImageConfig::from_slice(&b).ok())
                .map(|c| top_chain(&c))
                .unwrap_or_default();
        }
    }
    match &sp.base {
        Base::Image { image, .. } => top_chain(&image.config),
        _ => String::new(),
    }
}
