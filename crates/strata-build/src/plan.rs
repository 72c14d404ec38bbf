//! Planning: everything about a build that can be known without running
//! a step, computed once, single-threaded, before anything executes.
//!
//! For every stage the target needs (see [`crate::graph`]): its base
//! (scratch, a local image — pulled if missing or `--pull` —, or another
//! stage), the ONBUILD triggers of that base, and then for each
//! instruction: the instruction after ARG/ENV expansion
//! (`StageScope::apply`), its progress name (`[build 2/4] RUN make`), its
//! action, its key inputs and its cache key (see [`crate::key`]). COPY/ADD
//! from the build context select and checksum their sources here (through
//! the stat index, so an unchanged file is not read).
//!
//! A key depends only on its parent's key and its own inputs, so most
//! keys are known before the cache is consulted: one query answers them.
//! The exception is `COPY --from=<stage>`, keyed by the content it copies
//! ([`crate::key::content_from`]): its key, the keys after it in its stage
//! and those of the stages built FROM that stage are *late* — the plan
//! holds their definition keys (sound, but never recorded), and the
//! executor replaces them once the source stage's result exists
//! ([`StagePlan::is_late`]).

use std::collections::BTreeSet;

use strata_dockerfile::args::{GlobalArgs, StageScope};
use strata_dockerfile::instructions::{
    Command, Mount, NetworkMode as RunNetwork, OnbuildCommand, SecurityMode,
};
use strata_dockerfile::{Dockerfile, LineRange};
use strata_runtime::spec::NetworkMode;
use strata_store::{Image, Store};

use crate::context::{BuildContext, StatIndex};
use crate::error::{BuildError, Result};
use crate::fileops::{self, SelectOptions, Selection, SourceTree};
use crate::graph::{BaseRef, Graph, SourceRef};
use crate::key::{BaseKey, KeyInputs, base_key};
use crate::options::BuildRequest;
use crate::progress::{Instruction, Progress, StepKind, StepRef};

mod base;

/// What a stage starts from.
#[derive(Debug, Clone)]
pub enum Base {
    /// `FROM scratch`.
    Scratch,
    /// An image from the store.
    Image {
        /// The reference as written (expanded).
        reference: String,
        /// The image.
        image: Box<Image>,
        /// Whether this build pulled it.
        pulled: bool,
    },
    /// Another stage.
    Stage(usize),
}

/// Where COPY --from or a RUN mount reads.
#[derive(Debug, Clone)]
pub enum Source {
    /// The build context.
    Context,
    /// A stage.
    Stage(usize),
    /// An image.
    Image(Box<Image>),
}

/// A RUN step.
#[derive(Debug, Clone)]
pub struct RunAction {
    /// The scope when the step runs (env, ARGs for the history prefix).
    pub scope: Box<StageScope>,
    /// The network.
    pub network: NetworkMode,
    /// Mounts, with their `from` resolved.
    pub mounts: Vec<(Mount, Source)>,
}

/// A COPY or ADD step.
#[derive(Debug, Clone)]
pub struct CopyAction {
    /// ADD rather than COPY.
    pub add: bool,
    /// Where sources are read.
    pub source: Source,
    /// The selection, when made from the context at plan time.
    pub selection: Option<Selection>,
}

/// What executing a step does.
#[derive(Debug, Clone)]
pub enum Action {
    /// Config only (ENV, LABEL, CMD, ARG, ONBUILD, …).
    Meta,
    /// WORKDIR: config, and the directory as a layer.
    Workdir,
    /// RUN.
    Run(RunAction),
    /// COPY/ADD.
    Copy(CopyAction),
}

/// One planned step.
#[derive(Debug, Clone)]
pub struct Step {
    /// The instruction, expanded.
    pub command: Command,
    /// Its lines.
    pub range: LineRange,
    /// The progress name (`[2/3] COPY app.js .`).
    pub name: String,
    /// The instruction as written (docker's classic `Step N/M : …`);
    /// empty for an ONBUILD trigger of the base (which docker does not
    /// number).
    pub text: String,
    /// Whether progress shows it (RUN, COPY, ADD, WORKDIR, as BuildKit).
    pub shown: bool,
    /// The parent key.
    pub parent_key: String,
    /// This step's key.
    pub key: String,
    /// The key inputs.
    pub inputs: KeyInputs,
    /// What to do.
    pub action: Action,
    /// `COPY --from` this stage: the key is completed from the copied
    /// content once the stage's result exists.
    pub content_from: Option<usize>,
}

/// One planned stage.
#[derive(Debug, Clone)]
pub struct StagePlan {
    /// Index in the Dockerfile.
    pub index: usize,
    /// This stage of this Dockerfile and target across builds (for
    /// `--explain`: see [`crate::explain`]).
    pub lineage: String,
    /// The base.
    pub base: Base,
    /// The first step's parent key.
    pub base_key: String,
    /// The progress name of the FROM vertex, when shown.
    pub from_name: Option<String>,
    /// The FROM line.
    pub from_range: LineRange,
    /// The FROM instruction as written (docker's classic `Step N/M : …`).
    pub from_text: String,
    /// The steps (ONBUILD triggers of the base first).
    pub steps: Vec<Step>,
    /// Stages whose results the steps may need (base stage included).
    pub deps: BTreeSet<usize>,
    /// The scope after the last step (a stage built FROM this one
    /// continues from it).
    pub scope: StageScope,
    /// ONBUILD expressions declared in this stage.
    pub onbuild: Vec<String>,
    /// The base is a stage whose final key is late: every key here is.
    pub late_base: bool,
    /// The first step whose key is late (a `COPY --from=<stage>`, or the
    /// first step with [`Self::late_base`]).
    pub late_from: Option<usize>,
}

impl StagePlan {
    /// The key of the stage's result.
    pub fn final_key(&self) -> &str {
        self.steps
            .last()
            .map(|s| s.key.as_str())
            .unwrap_or(&self.base_key)
    }

    /// Whether some key of this stage (its final key, then) is late.
    pub fn late(&self) -> bool {
        self.late_base || self.late_from.is_some()
    }

    /// Whether the key of step `k` is late.
    pub fn is_late(&self, k: usize) -> bool {
        self.late_from.is_some_and(|f| k >= f)
    }
}

/// The whole plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Planned stages (`None`: not needed).
    pub stages: Vec<Option<StagePlan>>,
    /// The target stage.
    pub target: usize,
    /// docker's classic `Step N/M` numbering (see [`crate::classic`]): the
    /// ARGs before the first FROM as written, and the instructions of each
    /// stage up to the target (its FROM included).
    pub global_args: Vec<String>,
    /// See [`Plan::global_args`].
    pub stage_sizes: Vec<usize>,
    /// Other stages to run with the target (a plan cut short by an error
    /// runs every stage it planned: see [`crate::classic::run_until`]).
    pub also: Vec<usize>,
}

/// Planning failed at an instruction. docker's classic builder runs
/// every instruction before it, so the Engine API does too (see
/// [`crate::classic::run_until`]); the CLI only reports the error.
#[derive(Debug)]
pub struct Stopped {
    /// Why.
    pub error: BuildError,
    /// What was planned before it: every stage planned, the failing one
    /// cut before the failing instruction (absent when its FROM failed).
    /// `None` when the Dockerfile's stages could not be resolved.
    pub plan: Option<Plan>,
    /// The failing instruction, for the classic output.
    pub failed: Option<Instruction>,
}

/// A failure while planning one stage.
struct Stop {
    error: BuildError,
    failed: Option<Instruction>,
    /// The stage up to the failing instruction.
    partial: Option<StagePlan>,
}

type Planned<T> = std::result::Result<T, Box<Stop>>;

fn stop(error: BuildError, failed: &Instruction) -> Box<Stop> {
    Box::new(Stop {
        error,
        failed: Some(failed.clone()),
        partial: None,
    })
}

/// Plans a build.
pub struct Planner<'a> {
    /// The store.
    pub store: &'a Store,
    /// The request.
    pub req: &'a BuildRequest,
    /// The Dockerfile.
    pub df: &'a Dockerfile,
    /// Global ARGs.
    pub global: &'a GlobalArgs,
    /// The context.
    pub ctx: &'a BuildContext,
    /// The stat index of the context.
    pub index: &'a mut StatIndex,
    /// Progress (pulls are shown).
    pub progress: &'a Progress,
    /// Where ADD downloads URLs.
    pub download_dir: std::path::PathBuf,
    /// `os/arch` of the build.
    pub platform: String,
}

fn stage_label(df: &Dockerfile, i: usize) -> String {
    if df.stages.len() == 1 {
        String::new()
    } else {
        format!("{} ", df.stages[i].display_name())
    }
}

/// `RUN foo` with the keyword upper-cased, as BuildKit names vertices.
fn upper_keyword(text: &str) -> String {
    match text.split_once(char::is_whitespace) {
        Some((k, rest)) => format!("{} {}", k.to_uppercase(), rest.trim_start()),
        None => text.to_uppercase(),
    }
}

impl Planner<'_> {
    /// Plans every stage the target needs.
    pub fn plan(&mut self) -> std::result::Result<Plan, Box<Stopped>> {
        let graph = Graph::new(self.df, self.global, self.req.target.as_deref()).map_err(|e| {
            Box::new(Stopped {
                error: e.into(),
                plan: None,
                failed: None,
            })
        })?;
        let needed = graph.needed();
        let mut plan = Plan {
            stages: vec![None; graph.stages.len()],
            target: graph.target,
            global_args: self
                .df
                .global_args
                .iter()
                .map(|a| a.source.text.clone())
                .collect(),
            stage_sizes: self.df.stages[..=graph.target]
                .iter()
                .map(|s| 1 + s.commands.len())
                .collect(),
            also: Vec::new(),
        };
        self.progress
            .instructions_begin(&plan.global_args, crate::classic::total(&plan));
        for (i, need) in needed.iter().enumerate() {
            if !*need {
                continue;
            }
            if let Err(s) = self.ensure(&graph, &mut plan.stages, i) {
                let Stop {
                    error,
                    failed,
                    partial,
                } = *s;
                if let Some(sp) = partial {
                    let at = sp.index;
                    plan.stages[at] = Some(sp);
                }
                plan.also = (0..plan.stages.len())
                    .filter(|j| plan.stages[*j].is_some())
                    .collect();
                plan.target = plan.also.last().copied().unwrap_or(plan.target);
                return Err(Box::new(Stopped {
                    error,
                    plan: Some(plan),
                    failed,
                }));
            }
        }
        Ok(plan)
    }

    fn ensure(&mut self, g: &Graph, stages: &mut Vec<Option<StagePlan>>, i: usize) -> Planned<()> {
        if stages[i].is_some() {
            return Ok(());
        }
        let plan = self.plan_stage(g, stages, i)?;
        stages[i] = Some(plan);
        Ok(())
    }

    /// docker's `Step N` of stage `i`'s FROM.
    fn step_of_from(&self, i: usize) -> usize {
        let sizes: Vec<usize> = self.df.stages[..i]
            .iter()
            .map(|s| 1 + s.commands.len())
            .collect();
        crate::classic::from_number(self.df.global_args.len(), &sizes, i)
    }

    fn plan_stage(
        &mut self,
        g: &Graph,
        stages: &mut Vec<Option<StagePlan>>,
        i: usize,
    ) -> Planned<StagePlan> {
        let stage = &self.df.stages[i];
        let node = &g.stages[i];
        let from_range = stage.from.source.range;
        let from_at = StepRef {
            stage: i,
            step: None,
        };
        let from_ins = Instruction {
            at: from_at,
            number: self.step_of_from(i),
            text: stage.from.source.text.clone(),
            kind: match node.base {
                BaseRef::Stage(j) => StepKind::FromStage(j),
                _ => StepKind::From,
            },
            vertex: None,
        };
        self.progress.instruction_planned(from_ins.clone());
        if let Some(p) = &node.platform {
            self.check_platform(&p.to_string(), from_range)
                .map_err(|e| stop(e, &from_ins))?;
        }
        let mut deps = BTreeSet::new();
        let mut late_base = false;
        let (base, key, mut scope, triggers) = match &node.base {
            BaseRef::Scratch => (
                Base::Scratch,
                base_key(
                    &BaseKey::Scratch,
                    &self.platform,
                    self.req.source_date_epoch,
                ),
                self.global
                    .stage_scope(stage, Vec::<(String, String)>::new()),
                Vec::new(),
            ),
            BaseRef::Stage(j) => {
                self.ensure(g, stages, *j)?;
                let parent = stages[*j].as_ref().expect("planned above");
                deps.insert(*j);
                late_base = parent.late();
                (
                    Base::Stage(*j),
                    parent.final_key().to_string(),
                    parent.scope.derive(stage),
                    parent.onbuild.clone(),
                )
            }
            BaseRef::Image(r) => {
                let (image, pulled) = self
                    .image(r, from_range, from_at)
                    .map_err(|e| stop(e, &from_ins))?;
                if image.config.os != "linux"
                    || image.config.architecture != strata_oci::host_platform().1
                {
                    let got = format!("{}/{}", image.config.os, image.config.architecture);
                    self.check_platform(&got, from_range)
                        .map_err(|e| stop(e, &from_ins))?;
                }
                let key = base_key(
                    &BaseKey::Image(image.id().as_str()),
                    &self.platform,
                    self.req.source_date_epoch,
                );
                let scope = self.global.stage_scope(stage, image.config.env_pairs());
                let triggers = image
                    .config
                    .config
                    .as_ref()
                    .and_then(|c| c.on_build.clone())
                    .unwrap_or_default();
                (
                    Base::Image {
                        reference: r.clone(),
                        image: Box::new(image),
                        pulled,
                    },
                    key,
                    scope,
                    triggers,
                )
            }
        };
        // ONBUILD triggers of the base run first, reported at the FROM line.
        let mut commands: Vec<(Command, bool)> = Vec::new();
        for t in &triggers {
            let ob = OnbuildCommand {
                expression: t.clone(),
                heredocs: Vec::new(),
                source: stage.from.source.clone(),
            };
            commands.push((ob.trigger().map_err(|e| stop(e.into(), &from_ins))?, true));
        }
        commands.extend(stage.commands.iter().cloned().map(|c| (c, false)));
        let counted = |c: &Command| {
            matches!(
                c,
                Command::Run(_) | Command::Copy(_) | Command::Add(_) | Command::Workdir(_)
            )
        };
        let image_base = matches!(base, Base::Image { .. });
        let total = usize::from(image_base)
            + triggers.len()
            + stage.commands.iter().filter(|c| counted(c)).count();
        let width = total.to_string().len();
        let label = stage_label(self.df, i);
        let mut n = 0usize;
        let mut name_of = |text: &str, onbuild: bool| {
            n += 1;
            format!(
                "[{label}{n:>width$}/{total}] {}{text}",
                if onbuild { "ONBUILD " } else { "" }
            )
        };
        let from_name = match &base {
            Base::Image { reference, .. } => Some(name_of(&format!("FROM {reference}"), false)),
            _ => None,
        };
        let mut steps = Vec::with_capacity(commands.len());
        let mut parent = key.clone();
        let mut onbuild_exprs = Vec::new();
        let mut number = from_ins.number;
        let mut failed = None;
        for (k, (cmd, is_trigger)) in commands.into_iter().enumerate() {
            let text = upper_keyword(&cmd.source().text);
            let shown = counted(&cmd);
            let name = if shown {
                name_of(&text, is_trigger)
            } else {
                text.clone()
            };
            let ins = Instruction {
                at: StepRef {
                    stage: i,
                    step: Some(k),
                },
                number: if is_trigger {
                    0
                } else {
                    number += 1;
                    number
                },
                text: if is_trigger {
                    String::new()
                } else {
                    cmd.source().text.clone()
                },
                kind: match cmd {
                    Command::Copy(_) | Command::Add(_) => StepKind::Copy,
                    _ => StepKind::Container,
                },
                vertex: None,
            };
            self.progress.instruction_planned(ins.clone());
            let range = cmd.range();
            let step = match scope.apply(&cmd) {
                Ok(s) => s,
                Err(e) => {
                    failed = Some((BuildError::from(e).at_step(&name, range, Vec::new()), ins));
                    break;
                }
            };
            let expanded = step.command;
            if let Command::Onbuild(o) = &expanded {
                onbuild_exprs.push(o.trigger_text());
            }
            let mut inputs = KeyInputs::new(expanded.name(), &text);
            inputs.push("cmd", crate::key::command::canonical(&expanded));
            let action = match self.action(
                g,
                stages,
                i,
                ins.at,
                &expanded,
                &scope,
                &mut inputs,
                &mut deps,
            ) {
                Ok(a) => a,
                Err(e) => {
                    failed = Some((e.at_step(&name, range, Vec::new()), ins));
                    break;
                }
            };
            let key = inputs.key(&parent);
            let content_from = match &action {
                Action::Copy(CopyAction {
                    add: false,
                    source: Source::Stage(j),
                    ..
                }) => Some(*j),
                _ => None,
            };
            steps.push(Step {
                command: expanded,
                range,
                name,
                text: ins.text,
                shown,
                parent_key: std::mem::replace(&mut parent, key.clone()),
                key,
                inputs,
                action,
                content_from,
            });
        }
        let late_from = if late_base && !steps.is_empty() {
            Some(0)
        } else {
            steps.iter().position(|s| s.content_from.is_some())
        };
        let sp = StagePlan {
            index: i,
            lineage: crate::explain::stage_lineage(self.req, i, self.df.stages[i].name.as_deref()),
            base,
            base_key: key,
            from_name,
            from_range,
            from_text: stage.from.source.text.clone(),
            steps,
            deps,
            scope,
            onbuild: onbuild_exprs,
            late_base,
            late_from,
        };
        match failed {
            Some((error, ins)) => Err(Box::new(Stop {
                error,
                failed: Some(ins),
                partial: Some(sp),
            })),
            None => Ok(sp),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn source(
        &mut self,
        g: &Graph,
        stages: &mut Vec<Option<StagePlan>>,
        i: usize,
        at: StepRef,
        from: &str,
        range: LineRange,
        inputs: &mut KeyInputs,
        label: &str,
        deps: &mut BTreeSet<usize>,
    ) -> Result<Source> {
        Ok(match Graph::resolve_source(self.df, i, from, range)? {
            SourceRef::Stage(j) => {
                self.ensure(g, stages, j).map_err(|s| s.error)?;
                let k = stages[j].as_ref().expect("planned above").final_key();
                inputs.push(label, format!("stage {k}"));
                deps.insert(j);
                Source::Stage(j)
            }
            SourceRef::Image(r) => {
                let (img, _) = self.image(&r, range, at)?;
                inputs.push(label, format!("image {}", img.id()));
                Source::Image(Box::new(img))
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn action(
        &mut self,
        g: &Graph,
        stages: &mut Vec<Option<StagePlan>>,
        i: usize,
        at: StepRef,
        cmd: &Command,
        scope: &StageScope,
        inputs: &mut KeyInputs,
        deps: &mut BTreeSet<usize>,
    ) -> Result<Action> {
        let range = cmd.range();
        Ok(match cmd {
            Command::Workdir(_) => Action::Workdir,
            Command::Run(r) => {
                if r.security == SecurityMode::Insecure {
                    return Err(BuildError::Invalid(
                        "RUN --security=insecure needs the security.insecure entitlement, which strata does not grant".into(),
                    ));
                }
                for (k, v) in scope.env().iter() {
                    inputs.push(format!("env.{k}"), v);
                }
                inputs.push("shell", scope.shell().join(" "));
                let network = match r.network {
                    RunNetwork::Default => self.req.network,
                    RunNetwork::None => NetworkMode::None,
                    RunNetwork::Host => NetworkMode::Host,
                };
                inputs.push("network", format!("{network:?}"));
                let mut mounts = Vec::new();
                for (n, m) in r.mounts.iter().enumerate() {
                    let label = format!("mount.{n}");
                    let src = match m {
                        Mount::Bind(b) => match &b.from {
                            Some(f) => {
                                self.source(g, stages, i, at, f, range, inputs, &label, deps)?
                            }
                            None => {
                                let path = b.source.clone().unwrap_or_else(|| ".".into());
                                let sel = fileops::select(
                                    &SourceTree::context(self.ctx),
                                    &[path],
                                    &SelectOptions {
                                        command: fileops::Command::Mount,
                                        ..SelectOptions::default()
                                    },
                                    self.index,
                                )?;
                                inputs.push(label, format!("context {}", sel.checksum()));
                                Source::Context
                            }
                        },
                        Mount::Cache(c) => match &c.from {
                            Some(f) => {
                                self.source(g, stages, i, at, f, range, inputs, &label, deps)?
                            }
                            None => Source::Context,
                        },
                        Mount::Ssh(_) => {
                            return Err(BuildError::Invalid(
                                "RUN --mount=type=ssh is not supported by strata".into(),
                            ));
                        }
                        Mount::Tmpfs(_) | Mount::Secret(_) => Source::Context,
                    };
                    mounts.push((m.clone(), src));
                }
                Action::Run(RunAction {
                    scope: Box::new(scope.clone()),
                    network,
                    mounts,
                })
            }
            Command::Copy(c) => {
                let source = match &c.from {
                    Some(f) => self.source(g, stages, i, at, f, range, inputs, "from", deps)?,
                    None => Source::Context,
                };
                let selection = match source {
                    Source::Context => {
                        let mut sel = fileops::select(
                            &SourceTree::context(self.ctx),
                            &c.sources,
                            &SelectOptions::copy(c),
                            self.index,
                        )?;
                        for inl in &c.inline {
                            sel.push_inline(&inl.path, inl.data.clone().into_bytes());
                        }
                        inputs.push("sources", sel.checksum().to_string());
                        Some(sel)
                    }
                    _ => None,
                };
                Action::Copy(CopyAction {
                    add: false,
                    source,
                    selection,
                })
            }
            Command::Add(a) => {
                std::fs::create_dir_all(&self.download_dir)
                    .map_err(BuildError::io("create directory", &self.download_dir))?;
                let mut sel = fileops::select(
                    &SourceTree::context(self.ctx),
                    &a.sources,
                    &SelectOptions::add(a, &self.download_dir),
                    self.index,
                )?;
                for inl in &a.inline {
                    sel.push_inline(&inl.path, inl.data.clone().into_bytes());
                }
                inputs.push("sources", sel.checksum().to_string());
                Action::Copy(CopyAction {
                    add: true,
                    source: Source::Context,
                    selection: Some(sel),
                })
            }
            _ => Action::Meta,
        })
    }
}
