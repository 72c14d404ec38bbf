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
//!
//! docker's classic builder evaluates each instruction just before it
//! runs it, so an instruction it cannot evaluate (a COPY source that is
//! not in the context, a base image that cannot be pulled) fails after
//! everything before it ran. strata plans the whole build first: when
//! planning stops, [`run_until`] runs what was planned, then shows the
//! failing instruction.

use std::collections::HashMap;

use strata_oci::{Digest, ImageConfig};
use strata_store::Store;

use crate::cache::Record;
use crate::context::BuildContext;
use crate::error::BuildError;
use crate::options::BuildRequest;
use crate::plan::{Action, Base, Plan, StagePlan, Stopped};
use crate::progress::{Instruction, Progress, StepKind, StepRef, VertexId};

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
    let mut number = from_number(plan.global_args.len(), &plan.stage_sizes, sp.index);
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

/// The `Step N` of the FROM of stage `stage`: after the `global_args`
/// ARGs before the first FROM and the instructions of the stages before
/// it (`stage_sizes`: each stage's FROM and instructions).
pub fn from_number(global_args: usize, stage_sizes: &[usize], stage: usize) -> usize {
    global_args
        + stage_sizes[..stage.min(stage_sizes.len())]
            .iter()
            .sum::<usize>()
        + 1
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

/// Planning stopped (see the module doc): runs every instruction planned
/// before the failing one, as docker's classic builder would have (their
/// output and IDs, recorded in the build cache), then shows the failing
/// instruction's `Step` line. The error to report: the first failure of
/// what ran, else the planning error.
pub fn run_until(
    store: &Store,
    req: &BuildRequest,
    progress: &Progress,
    ctx: &BuildContext,
    stopped: Stopped,
) -> BuildError {
    let Stopped {
        error,
        plan,
        failed,
    } = stopped;
    if let Some(plan) = plan.filter(|p| p.stages.iter().any(Option::is_some)) {
        let keys = crate::executor::all_keys(&plan);
        let hits = if req.no_cache {
            HashMap::new()
        } else {
            match crate::cache::lookup(store, &keys) {
                Ok(h) => h,
                Err(e) => return e.into(),
            }
        };
        if let Err(e) = crate::executor::execute(store, req, progress, ctx, &plan, &hits, false) {
            return e;
        }
    }
    if let Some(ins) = failed {
        progress.instruction_refused(ins);
    }
    error
}

/// docker's classic builder's words for why a build failed (the Engine
/// API's error message; strata's CLI says it as BuildKit does): a RUN
/// that exited non-zero, a COPY/ADD source missing from the context, a
/// Dockerfile that does not parse, else strata's own message. A base image
/// that could not be pulled says what the pull said.
pub fn error_message(e: &BuildError) -> String {
    use crate::fileops::FileOpError;
    match e.root() {
        BuildError::RunFailed { command, code } => {
            format!("The command '{command}' returned a non-zero code: {code}")
        }
        BuildError::FileOp(FileOpError::NotFound { command, path, .. })
            if path.contains(['*', '?', '[']) =>
        {
            format!("{command} failed: no source files were specified")
        }
        BuildError::FileOp(FileOpError::NotFound { command, path, .. }) => format!(
            "{command} failed: file not found in build context or excluded by .dockerignore: stat {path}: file does not exist"
        ),
        BuildError::FileOp(FileOpError::EscapesContext { command, src }) => {
            format!("{command} failed: forbidden path outside the build context: {src} ()")
        }
        BuildError::BaseImage { reason, .. } => reason.clone(),
        BuildError::Dockerfile(d) => dockerfile_message(d),
        e => e.to_string(),
    }
}

/// Whether the request itself is wrong (a Dockerfile that does not parse,
/// a target it does not have): docker answers 400 when nothing was sent.
pub fn is_bad_request(e: &BuildError) -> bool {
    matches!(
        e.root(),
        BuildError::Dockerfile(
            strata_dockerfile::Error::Parse { .. } | strata_dockerfile::Error::Instruction { .. }
        ) | BuildError::Graph(_)
    )
}

fn dockerfile_message(e: &strata_dockerfile::Error) -> String {
    use strata_dockerfile::Error;
    use strata_dockerfile::instructions::InstructionError;
    match e {
        Error::Parse { error, .. } => format!("failed to parse Dockerfile: {error}"),
        Error::Instruction { range, error } => {
            let what = match error {
                InstructionError::UnknownInstruction { name, .. } => {
                    format!("unknown instruction: {}", name.to_uppercase())
                }
                InstructionError::UnknownFlag { name, .. } => format!("Unknown flag: {name}"),
                other => other.to_string(),
            };
            format!("dockerfile parse error line {}: {what}", range.start)
        }
        Error::Expand { .. } => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use strata_dockerfile::{Dockerfile, LineRange};

    use super::*;
    use crate::fileops::FileOpError;

    fn parse_error(src: &str) -> BuildError {
        Dockerfile::parse(src.as_bytes()).unwrap_err().into()
    }

    fn missing(path: &str) -> BuildError {
        BuildError::from(FileOpError::NotFound {
            command: "COPY",
            path: path.into(),
            hint: None,
        })
        .at_step("[2/2] COPY", LineRange::line(2), Vec::new())
    }

    #[test]
    fn errors_in_the_classic_builders_words() {
        let run = BuildError::RunFailed {
            command: "/bin/sh -c exit 3".into(),
            code: 3,
        };
        assert_eq!(
            error_message(&run),
            "The command '/bin/sh -c exit 3' returned a non-zero code: 3"
        );
        assert_eq!(
            error_message(&missing("dir/nope")),
            "COPY failed: file not found in build context or excluded by .dockerignore: stat dir/nope: file does not exist"
        );
        assert_eq!(
            error_message(&missing("no*.txt")),
            "COPY failed: no source files were specified"
        );
        let unknown = parse_error("FROM busybox\nfoo bar\n");
        assert_eq!(
            error_message(&unknown),
            "dockerfile parse error line 2: unknown instruction: FOO"
        );
        assert!(is_bad_request(&unknown));
        assert_eq!(
            error_message(&parse_error("FROM busybox\nCOPY --bogus=1 a /b\n")),
            "dockerfile parse error line 2: Unknown flag: bogus"
        );
        assert_eq!(
            error_message(&parse_error("FROM busybox\nENV A\n")),
            "failed to parse Dockerfile: ENV must have two arguments"
        );
        assert!(!is_bad_request(&run) && !is_bad_request(&missing("x")));
    }
}
