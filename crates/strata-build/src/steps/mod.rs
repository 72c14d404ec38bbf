//! Executing one planned step on top of its parent's image config: one
//! module per kind ([`meta`] for metadata instructions and history texts,
//! [`run`], [`copy`] for COPY/ADD, [`workdir`]). Each returns the config
//! after the step (history entry appended, new layer's diffID added) and
//! the layer it committed, if any.

mod chroot;
pub mod copy;
pub mod meta;
pub mod run;
pub mod workdir;

use strata_oci::ImageConfig;
use strata_store::ingest::IngestedLayer;

use crate::config_ops::StageState;
use crate::error::Result;
pub use crate::executor::Exec;
use crate::plan::{Action, Step};
use crate::progress::VertexId;

/// What a step produced.
#[derive(Debug)]
pub struct StepOutcome {
    /// The config after the step.
    pub config: ImageConfig,
    /// The layer it made.
    pub layer: Option<IngestedLayer>,
    /// COPY/ADD: the selection summary (for `--explain` next time).
    pub summary: Option<Vec<u8>>,
}

/// Adds a layer and its history entry (dated `created`: see
/// [`crate::BuildRequest::history_time`]) to `config`.
pub fn push_layer_history(
    config: &mut ImageConfig,
    layer: &IngestedLayer,
    created_by: String,
    created: &str,
) {
    config.rootfs.diff_ids.push(layer.diff_id.clone());
    meta::push_history(config, created_by, false, created);
}

/// Whether executing `step` appends an entry to the config's history
/// (every layer step does; a metadata step when BuildKit writes one for
/// it). `record` maps history rows to steps with it.
pub fn adds_history(step: &Step) -> bool {
    match step.action {
        Action::Meta => meta::meta_history(&step.command, &ImageConfig::default()).is_some(),
        Action::Workdir | Action::Run(_) | Action::Copy(_) => true,
    }
}

/// Applies a metadata instruction (ENV, LABEL, CMD, ARG, ONBUILD, …) to
/// `config` with its history entry dated `created`. Deterministic: the
/// build cache replays metadata steps through this very function, with
/// the time each first ran at, to rebuild configs it did not store.
pub fn meta_step(
    config: &mut ImageConfig,
    cmd: &strata_dockerfile::instructions::Command,
    state: &mut StageState,
    created: &str,
) -> Result<()> {
    meta::apply_meta(config, cmd, state)?;
    if let Some(text) = meta::meta_history(cmd, config) {
        meta::push_history(config, text, true, created);
    }
    Ok(())
}

/// Executes `step` (named `lineage` across builds: see
/// [`crate::explain::step_lineage`]) on top of `config`.
pub fn execute(
    ex: &Exec<'_>,
    step: &Step,
    lineage: &str,
    mut config: ImageConfig,
    state: &mut StageState,
    v: VertexId,
) -> Result<StepOutcome> {
    match &step.action {
        Action::Meta => {
            meta_step(&mut config, &step.command, state, &ex.req.history_time())?;
            Ok(StepOutcome {
                config,
                layer: None,
                summary: None,
            })
        }
        Action::Workdir => {
            meta::apply_meta(&mut config, &step.command, state)?;
            let (config, layer) = workdir::workdir(ex, config)?;
            ex.progress.wrote(
                layer
                    .as_ref()
                    .and_then(|l| l.blob.as_ref())
                    .map_or(0, |b| b.size),
            );
            Ok(StepOutcome {
                config,
                layer,
                summary: None,
            })
        }
        Action::Run(act) => {
            let (config, layer) = run::run(ex, step, act, config, v)?;
            ex.progress.wrote(layer.blob.as_ref().map_or(0, |b| b.size));
            Ok(StepOutcome {
                config,
                layer: Some(layer),
                summary: None,
            })
        }
        Action::Copy(act) => {
            let (config, layer, sel) = copy::copy(ex, step, act, config, v, lineage)?;
            ex.progress.wrote(layer.blob.as_ref().map_or(0, |b| b.size));
            Ok(StepOutcome {
                config,
                layer: Some(layer),
                summary: Some(sel.summary().encode()),
            })
        }
    }
}
