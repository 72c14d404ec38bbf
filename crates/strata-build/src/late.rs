//! Late keys: completing the keys the plan could not know (see
//! [`crate::plan`]) once the stages they depend on have a result.
//!
//! ```text
//! stage thread ─> base is a late stage?  wait for it, take its final key
//!              ─> each COPY --from=<stage>: wait for that stage, mount its
//!                 result, select the sources exactly as the COPY will
//!                 (fileops, resolved inside that root), key = instruction
//!                 + selection checksum (key::content_from)
//!              ─> re-chain the keys after it ─> one cache query for them
//! ```
//! The selection is kept on the step, so the COPY (when it runs) copies
//! exactly what was hashed without walking the tree again. The checksum
//! is remembered per layer chain (the store's `selection_memo`): a no-op
//! rebuild mounts and hashes nothing.

use std::collections::HashMap;

use strata_dockerfile::instructions::Command;
use strata_store::db::selection_memo;

use crate::cache::{self, Record};
use crate::context::StatIndex;
use crate::error::{BuildError, Result};
use crate::executor::Exec;
use crate::fileops::{self, SelectOptions, Selection, SourceTree};
use crate::plan::{Action, Base, Plan, Source, StagePlan, Step};

/// A key computed during execution, for the build to mark used (when it
/// hit) and to export with the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateKey {
    /// The stage's index.
    pub stage: usize,
    /// The step's index in the stage.
    pub step: usize,
    /// The key.
    pub key: String,
    /// The step lineage it served (see [`crate::explain`]).
    pub lineage: String,
    /// Whether the cache held it.
    pub hit: bool,
}

/// `sp` with every late key completed, the cache records of its keys
/// (`hits`: the build's query, which answered the keys known at plan
/// time), and the late keys. Errors name the step whose sources failed.
pub fn resolve(
    ex: &Exec<'_>,
    sp: &StagePlan,
    hits: &HashMap<String, Record>,
) -> Result<(StagePlan, HashMap<String, Record>, Vec<LateKey>)> {
    let mut r = sp.clone();
    if r.late_base
        && let Base::Stage(j) = r.base
    {
        r.base_key = ex.stage(j)?.key.clone();
    }
    let from = sp.late_from.unwrap_or(r.steps.len());
    let mut parent = match from {
        0 => r.base_key.clone(),
        k => r.steps[k - 1].key.clone(),
    };
    for step in &mut r.steps[from..] {
        if let Some(j) = step.content_from {
            let (sum, sel) = selection_checksum(ex, step, j)
                .map_err(|e| e.at_step(&step.name, step.range, Vec::new()))?;
            step.inputs = crate::key::content_from(&step.inputs, &sum);
            if let (Some(sel), Action::Copy(c)) = (sel, &mut step.action) {
                c.selection = Some(sel);
            }
        }
        step.key = step.inputs.key(&parent);
        step.parent_key = std::mem::replace(&mut parent, step.key.clone());
    }
    r.late_base = false;
    r.late_from = None;
    let keys: Vec<&str> = r.steps[from..].iter().map(|s| s.key.as_str()).collect();
    let mut found = if ex.req.no_cache || keys.is_empty() {
        HashMap::new()
    } else {
        cache::lookup(ex.store, &keys)?
    };
    for s in &r.steps[..from] {
        if let Some(h) = hits.get(&s.key) {
            found.insert(s.key.clone(), h.clone());
        }
    }
    let late = (from..r.steps.len())
        .map(|k| LateKey {
            stage: r.index,
            step: k,
            key: r.steps[k].key.clone(),
            lineage: crate::explain::step_lineage(&r, k),
            hit: found.contains_key(&r.steps[k].key),
        })
        .collect();
    Ok((r, found, late))
}

/// The selection checksum of a `COPY --from=<stage j>`. Layers are
/// immutable, so the checksum taken once in j's layer chain is remembered
/// by the store (filed under the chain and the instruction without its
/// source stage) and a rebuild neither mounts j nor hashes its files
/// again. The selection comes back only when it was made here (the COPY
/// selects for itself otherwise, should it run).
fn selection_checksum(ex: &Exec<'_>, step: &Step, j: usize) -> Result<(String, Option<Selection>)> {
    let chain = ex
        .stage(j)?
        .config
        .chain_ids()
        .last()
        .map(ToString::to_string)
        .unwrap_or_default();
    let version = String::from_utf8_lossy(fileops::CHECKSUM_VERSION);
    let memo = crate::key::content_from(&step.inputs, &version).key(&chain);
    if !ex.req.no_cache
        && let Some(sum) = ex.store.db().with(|c| selection_memo::get(c, &memo))?
    {
        return Ok((sum, None));
    }
    let sel = content_selection(ex, step, j)?;
    let sum = sel.checksum().to_string();
    ex.store
        .db()
        .write(|tx| selection_memo::put(tx, &memo, &chain, &sum))?;
    Ok((sum, Some(sel)))
}

/// The sources of a `COPY --from=<stage j>` selected in j's result, as
/// the COPY itself selects them (`steps::copy`).
fn content_selection(ex: &Exec<'_>, step: &Step, j: usize) -> Result<Selection> {
    let Command::Copy(c) = &step.command else {
        return Err(BuildError::Invalid(format!(
            "internal: {} is not a COPY",
            step.name
        )));
    };
    let view = ex.view_of(&Source::Stage(j))?;
    Ok(fileops::select(
        &SourceTree::rootfs(view.root()),
        &c.sources,
        &SelectOptions::copy(c),
        &mut StatIndex::ephemeral(),
    )?)
}

/// A copy of `plan` with the late keys in place (for the build record).
pub fn completed(plan: &Plan, late: &[LateKey]) -> Plan {
    let mut p = plan.clone();
    for l in late {
        if let Some(s) = p
            .stages
            .get_mut(l.stage)
            .and_then(Option::as_mut)
            .and_then(|sp| sp.steps.get_mut(l.step))
        {
            s.key = l.key.clone();
        }
    }
    p
}
