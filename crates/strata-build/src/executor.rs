//! Executing a plan: which stages must run, running them in parallel, and
//! recording every step result in the build cache.
//!
//! ```text
//! keys (plan) ──one query──> hits ──> first miss per stage
//!                                       │
//!   a stage must run when the target needs its result:
//!     the target itself; the base stage of a stage whose first step misses
//!     (or that has no steps); the source stage of a COPY --from / RUN
//!     --mount from= at or after a stage's first miss
//!                                       │
//!   one thread per stage that must run ─┴─> steps before the first miss:
//!     CACHED; from the first miss on: execute, store the config blob
//!     (layer steps, a stage's first and last step only), record
//!     (key → config or history time, layer), batched; a stage's result
//!     goes to its slot, where `COPY --from` waits for exactly that stage
//! ```
//! A stage with late keys (a `COPY --from=<stage>`, keyed by content, or
//! a base stage that has one) counts as missing from its first late step
//! on, so what it may need is scheduled; its thread first completes the
//! keys ([`crate::late`]), then runs from the real first miss.
//! The config before the first miss (or a fully cached stage's result) is
//! the nearest stored config, with the metadata steps after it replayed
//! ([`config_after`]); cost and bytes stay linear in the Dockerfile.
//! A stage whose every step hits needs nothing from its dependencies, so
//! they do not run at all (their steps are shown CACHED when they hit too,
//! and never shown otherwise). The first failure cancels the steps other
//! stages have not started; so does the request's cancel token (a signal),
//! which also kills the RUN step that is running: the cancelled steps are
//! shown CANCELED, nothing of them is recorded, and the cache and store
//! are as they were before them.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use strata_dockerfile::instructions::Command;
use strata_oci::ImageConfig;
use strata_store::Store;

use crate::cache::{self, Description, Record, RecordLayer};
use crate::classic;
use crate::config_ops::StageState;
use crate::context::BuildContext;
use crate::error::{BuildError, Result};
use crate::explain;
use crate::late::{self, LateKey};
use crate::options::BuildRequest;
use crate::plan::{Action, Base, Plan, Source, StagePlan, Step};
use crate::progress::{ERROR_TAIL, Progress, VertexId, VertexKind};
use crate::steps::{self, meta};
use crate::view::View;

/// A stage's result.
#[derive(Debug)]
pub struct StageOutput {
    /// The key of its last step (or its base key).
    pub key: String,
    /// The image config after its last step.
    pub config: ImageConfig,
}

/// What happened to one step (the `--explain` report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepReport {
    /// The stage's index.
    pub stage: usize,
    /// The step as shown (`[2/3] COPY app.js .`, `ENV A=1`).
    pub step: String,
    /// Whether the cache answered it.
    pub cached: bool,
    /// Why it missed.
    pub reason: Option<String>,
}

type SlotValue = Option<std::result::Result<Arc<StageOutput>, ()>>;

struct Slot {
    value: Mutex<SlotValue>,
    cv: Condvar,
}

/// Shared state of one execution (every stage thread borrows it).
pub struct Exec<'a> {
    /// The store.
    pub store: &'a Store,
    /// The request.
    pub req: &'a BuildRequest,
    /// Progress.
    pub progress: &'a Progress,
    /// The context.
    pub ctx: &'a BuildContext,
    /// The plan.
    pub plan: &'a Plan,
    hits: &'a HashMap<String, Record>,
    slots: Vec<Slot>,
    spawned: Vec<bool>,
    failed: AtomicBool,
    explain: bool,
    report: Mutex<Vec<StepReport>>,
    late: Mutex<Vec<LateKey>>,
}

impl Exec<'_> {
    /// The result of stage `j`, waiting for it.
    pub fn stage(&self, j: usize) -> Result<Arc<StageOutput>> {
        if !self.spawned.get(j).copied().unwrap_or(false) {
            return Err(BuildError::Invalid(format!(
                "internal: stage {j} was not scheduled but its result is needed"
            )));
        }
        let slot = &self.slots[j];
        let mut v = slot.value.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match &*v {
                Some(Ok(out)) => return Ok(out.clone()),
                Some(Err(())) => return Err(BuildError::Canceled),
                None => v = slot.cv.wait(v).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }

    /// Mounts the filesystem of a COPY --from / RUN --mount source.
    pub fn view_of(&self, src: &Source) -> Result<View> {
        match src {
            Source::Context => View::mount_dirs(
                self.store,
                vec![self.ctx.root().to_path_buf()],
                self.req.isolation,
            ),
            Source::Stage(j) => View::mount(
                self.store,
                &self.stage(*j)?.config.chain_ids(),
                self.req.isolation,
            ),
            Source::Image(img) => View::mount(self.store, &img.chain_ids(), self.req.isolation),
        }
    }

    fn publish(&self, j: usize, v: std::result::Result<Arc<StageOutput>, ()>) {
        let slot = &self.slots[j];
        *slot.value.lock().unwrap_or_else(|e| e.into_inner()) = Some(v);
        slot.cv.notify_all();
    }

    fn report(&self, r: StepReport) {
        self.report
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(r);
    }
}

/// The index of the first step of `sp` that must run (`None`: all hit);
/// a late key counts as a miss until it is completed.
fn first_miss(sp: &StagePlan, hits: &HashMap<String, Record>, no_cache: bool) -> Option<usize> {
    if no_cache && !sp.steps.is_empty() {
        return Some(0);
    }
    sp.steps
        .iter()
        .enumerate()
        .position(|(k, s)| sp.is_late(k) || !hits.contains_key(&s.key))
}

/// The index of the last step of `sp.steps[..upto]` whose record stored
/// a config (`None`: a replay up to `upto` starts from the stage's base).
fn stored_before(sp: &StagePlan, hits: &HashMap<String, Record>, upto: usize) -> Option<usize> {
    sp.steps[..upto]
        .iter()
        .rposition(|s| hits.get(&s.key).is_some_and(|r| r.config_digest.is_some()))
}

/// The stages that must run for the target, given the first misses.
fn must_run(plan: &Plan, misses: &[Option<usize>], hits: &HashMap<String, Record>) -> Vec<bool> {
    let mut run = vec![false; plan.stages.len()];
    let mut todo = vec![plan.target];
    todo.extend(&plan.also);
    while let Some(i) = todo.pop() {
        if std::mem::replace(&mut run[i], true) {
            continue;
        }
        let Some(sp) = &plan.stages[i] else { continue };
        // A replay that reaches back to the base needs the base's config.
        let replays_from_base = |upto: usize| upto > 0 && stored_before(sp, hits, upto).is_none();
        let from = match misses[i] {
            None if !sp.steps.is_empty() => {
                if replays_from_base(sp.steps.len())
                    && let Base::Stage(j) = sp.base
                {
                    todo.push(j);
                }
                continue;
            }
            None => 0,
            Some(k) => k,
        };
        if (from == 0 || replays_from_base(from))
            && let Base::Stage(j) = sp.base
        {
            todo.push(j);
        }
        for s in &sp.steps[from..] {
            todo.extend(step_sources(s));
        }
    }
    run
}

/// The stages a step reads (COPY --from, RUN --mount from=).
fn step_sources(step: &Step) -> Vec<usize> {
    let sources: Vec<&Source> = match &step.action {
        Action::Copy(c) => vec![&c.source],
        Action::Run(r) => r.mounts.iter().map(|(_, src)| src).collect(),
        _ => Vec::new(),
    };
    sources
        .into_iter()
        .filter_map(|s| match s {
            Source::Stage(j) => Some(*j),
            _ => None,
        })
        .collect()
}

/// Vertices of one stage.
struct Vertices {
    from: Option<VertexId>,
    steps: Vec<Option<VertexId>>,
}

fn register(progress: &Progress, sp: &StagePlan) -> Vertices {
    // Each stage on its own timeline track (see crate::timeline).
    let track = sp.index + 1;
    Vertices {
        from: sp
            .from_name
            .as_deref()
            .map(|n| progress.vertex_on(n, track, VertexKind::From)),
        steps: sp
            .steps
            .iter()
            .map(|s| {
                s.shown
                    .then(|| progress.vertex_on(&s.name, track, VertexKind::Step))
            })
            .collect(),
    }
}

fn stage_done(ex: &Exec<'_>, errors: &Mutex<Vec<BuildError>>, i: usize, res: Result<StageOutput>) {
    match res {
        Ok(out) => ex.publish(i, Ok(Arc::new(out))),
        Err(e) => {
            ex.failed.store(true, Ordering::SeqCst);
            ex.publish(i, Err(()));
            errors.lock().unwrap_or_else(|p| p.into_inner()).push(e);
        }
    }
}

/// What [`execute`] returns: the target's result, the per-step report and
/// the keys completed during execution.
pub type Executed = (Arc<StageOutput>, Vec<StepReport>, Vec<LateKey>);

/// Runs the plan; returns the target's result, the per-step report and
/// the late keys (see [`crate::late`]).
pub fn execute(
    store: &Store,
    req: &BuildRequest,
    progress: &Progress,
    ctx: &BuildContext,
    plan: &Plan,
    hits: &HashMap<String, Record>,
    explain: bool,
) -> Result<Executed> {
    let misses: Vec<Option<usize>> = plan
        .stages
        .iter()
        .map(|s| s.as_ref().and_then(|sp| first_miss(sp, hits, req.no_cache)))
        .collect();
    let run = must_run(plan, &misses, hits);
    let mut vertices: Vec<Option<Vertices>> = Vec::new();
    for (i, sp) in plan.stages.iter().enumerate() {
        let Some(sp) = sp else {
            vertices.push(None);
            continue;
        };
        if run[i] || misses[i].is_none() {
            vertices.push(Some(register(progress, sp)));
        } else {
            for s in sp.steps.iter().filter(|s| s.shown) {
                progress.skipped(&s.name);
            }
            vertices.push(None);
        }
    }
    if progress.wants_ids() {
        let shown = plan.stages.iter().zip(&vertices).filter_map(|(sp, v)| {
            let v = v.as_ref()?;
            Some(classic::instructions(plan, sp.as_ref()?, v.from, &v.steps))
        });
        let total = classic::total(plan);
        progress.instructions(&plan.global_args, shown.flatten().collect(), total);
    }
    let ex = Exec {
        store,
        req,
        progress,
        ctx,
        plan,
        hits,
        slots: (0..plan.stages.len())
            .map(|_| Slot {
                value: Mutex::new(None),
                cv: Condvar::new(),
            })
            .collect(),
        spawned: run.clone(),
        failed: AtomicBool::new(false),
        explain,
        report: Mutex::new(Vec::new()),
        late: Mutex::new(Vec::new()),
    };
    // Stages that need not run but hit entirely are shown CACHED.
    for (i, sp) in plan.stages.iter().enumerate() {
        if let (Some(sp), Some(v), false) = (sp, &vertices[i], run[i]) {
            cached_stage(&ex, sp, v);
        }
    }
    let errors: Mutex<Vec<BuildError>> = Mutex::new(Vec::new());
    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| {
        if progress.mode() == crate::progress::ProgressMode::Tty {
            // Keep the live view's clocks moving while steps are quiet.
            let finished = &finished;
            scope.spawn(move || {
                while !finished.load(Ordering::SeqCst) {
                    std::thread::sleep(std::time::Duration::from_millis(150));
                    progress.tick();
                }
            });
        }
        let mut handles = Vec::new();
        // One stage to run (a no-op rebuild's target) runs on this thread.
        let alone = plan
            .stages
            .iter()
            .zip(&run)
            .filter(|(s, r)| s.is_some() && **r)
            .count()
            == 1;
        for (i, sp) in plan.stages.iter().enumerate() {
            let (Some(sp), true) = (sp, run[i]) else {
                continue;
            };
            let v = vertices[i].as_ref().expect("registered");
            let (ex, errors, miss) = (&ex, &errors, misses[i]);
            let stage = move || {
                // A panic must still publish, or stages waiting here hang.
                let run = std::panic::AssertUnwindSafe(|| run_stage(ex, sp, v, miss));
                let res = std::panic::catch_unwind(run).unwrap_or_else(|_| {
                    Err(BuildError::Invalid(format!(
                        "internal error: stage {i} panicked"
                    )))
                });
                stage_done(ex, errors, i, res)
            };
            if alone {
                stage();
            } else {
                handles.push(scope.spawn(stage));
            }
        }
        for h in handles {
            let _ = h.join();
        }
        finished.store(true, Ordering::SeqCst);
    });
    let mut errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
    if !errors.is_empty() {
        let pos = errors
            .iter()
            .position(|e| !matches!(e.root(), BuildError::Canceled))
            .unwrap_or(0);
        return Err(errors.swap_remove(pos));
    }
    let out = ex.stage(plan.target)?;
    let mut report = ex.report.into_inner().unwrap_or_else(|p| p.into_inner());
    report.sort_by_key(|r| r.stage);
    let late = ex.late.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok((out, report, late))
}

fn cached_stage(ex: &Exec<'_>, sp: &StagePlan, v: &Vertices) {
    if let Some(f) = v.from {
        ex.progress.cached(f);
    }
    ex.progress
        .instruction_done(classic::from(sp), false, || classic::from_id(sp));
    cached_stage_steps(ex, sp, v, ex.hits, sp.steps.len());
}

fn load_config(store: &Store, digest: &strata_oci::Digest) -> Result<ImageConfig> {
    let bytes = store.content().read(digest)?;
    ImageConfig::from_slice(&bytes)
        .map_err(|e| BuildError::Invalid(format!("build cache config {digest}: {e}")))
}

/// The config after step `k` of `sp`, every step up to `k` being a hit:
/// the nearest stored config at or before `k` (or the stage's base), then
/// the metadata steps after it replayed with their recorded history times
/// (see [`crate::cache`]).
fn config_after(
    ex: &Exec<'_>,
    sp: &StagePlan,
    hits: &HashMap<String, Record>,
    k: usize,
) -> Result<ImageConfig> {
    let (mut config, start) = match stored_before(sp, hits, k + 1) {
        Some(j) => {
            let digest = hits[&sp.steps[j].key]
                .config_digest
                .as_ref()
                .expect("stored_before found a config");
            (load_config(ex.store, digest)?, j + 1)
        }
        None => (base_config(ex, sp)?, 0),
    };
    let mut state = StageState {
        cmd_set: sp.steps[..start]
            .iter()
            .any(|s| matches!(s.command, Command::Cmd(_))),
    };
    for step in &sp.steps[start..=k] {
        let created = match (&step.action, hits.get(&step.key)) {
            (Action::Meta, Some(r)) => r.created.as_deref(),
            _ => None,
        };
        let Some(created) = created else {
            return Err(BuildError::Invalid(format!(
                "the build cache record of `{}` has no config to resume from; run `strata builder prune`",
                step.name
            )));
        };
        steps::meta_step(&mut config, &step.command, &mut state, created)?;
    }
    Ok(config)
}

/// Build cache records not yet written: metadata steps are recorded in
/// batches (one transaction for many), flushed before anything that
/// stores a config and when the stage ends or fails.
struct Pending<'a> {
    store: &'a Store,
    records: Vec<Record>,
}

impl Pending<'_> {
    // Large: each transaction of random-keyed inserts rewrites most of
    // the key index's pages (10,000 LABELs in batches of 1,024 wrote
    // 10,000 WAL pages).
    const BATCH: usize = 16384;

    fn push(&mut self, r: Record) -> Result<()> {
        let flush = r.config_digest.is_some() || self.records.len() + 1 >= Self::BATCH;
        self.records.push(r);
        if flush {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        cache::insert_all(self.store, &self.records)?;
        self.records.clear();
        Ok(())
    }
}

fn base_config(ex: &Exec<'_>, sp: &StagePlan) -> Result<ImageConfig> {
    Ok(match &sp.base {
        Base::Scratch => meta::scratch_config(),
        Base::Image { image, .. } => meta::stage_start_config(&image.config),
        Base::Stage(j) => meta::stage_start_config(&ex.stage(*j)?.config),
    })
}

fn run_stage(
    ex: &Exec<'_>,
    sp: &StagePlan,
    v: &Vertices,
    miss: Option<usize>,
) -> Result<StageOutput> {
    let (resolved, late_hits);
    let (sp, hits, miss) = if sp.late() {
        (resolved, late_hits) = match late::resolve(ex, sp, ex.hits) {
            Ok((r, h, keys)) => {
                ex.late
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(keys);
                (r, h)
            }
            Err(e) => {
                late_failed(ex, sp, v, &e);
                return Err(e);
            }
        };
        let miss = first_miss(&resolved, &late_hits, ex.req.no_cache);
        (&resolved, &late_hits, miss)
    } else {
        (sp, ex.hits, miss)
    };
    if let Some(f) = v.from {
        match &sp.base {
            Base::Image { pulled: true, .. } => {
                ex.progress.start(f);
                ex.progress.done(f);
            }
            _ => ex.progress.cached(f),
        }
    }
    ex.progress
        .instruction_done(classic::from(sp), false, || classic::from_id(sp));
    let Some(first) = miss else {
        cached_stage_steps(ex, sp, v, hits, sp.steps.len());
        let config = match sp.steps.len() {
            0 => base_config(ex, sp)?,
            n => config_after(ex, sp, hits, n - 1)?,
        };
        return Ok(StageOutput {
            key: sp.final_key().to_string(),
            config,
        });
    };
    cached_stage_steps(ex, sp, v, hits, first);
    let config = if first == 0 {
        base_config(ex, sp).map_err(|e| {
            e.at_step(
                sp.from_name.as_deref().unwrap_or("FROM"),
                sp.from_range,
                Vec::new(),
            )
        })?
    } else {
        config_after(ex, sp, hits, first - 1)?
    };
    let mut state = StageState {
        cmd_set: sp.steps[..first]
            .iter()
            .any(|s| matches!(s.command, Command::Cmd(_))),
    };
    let mut first_reason = String::new();
    let mut pending = Pending {
        store: ex.store,
        records: Vec::new(),
    };
    let res = run_steps(
        ex,
        sp,
        hits,
        v,
        first,
        config,
        &mut state,
        &mut first_reason,
        &mut pending,
    );
    // What ran before a failure stays cached.
    let flushed = pending.flush();
    let config = res?;
    flushed?;
    Ok(StageOutput {
        key: sp.final_key().to_string(),
        config,
    })
}

/// The steps of `sp` from `first` on; returns the stage's final config.
#[allow(clippy::too_many_arguments)]
fn run_steps(
    ex: &Exec<'_>,
    sp: &StagePlan,
    hits: &HashMap<String, Record>,
    v: &Vertices,
    first: usize,
    mut config: ImageConfig,
    state: &mut StageState,
    first_reason: &mut String,
    pending: &mut Pending<'_>,
) -> Result<ImageConfig> {
    for (k, step) in sp.steps.iter().enumerate().skip(first) {
        let vid = v.steps[k];
        if ex.failed.load(Ordering::SeqCst) || ex.req.cancel.is_cancelled() {
            for id in v.steps[k..].iter().flatten() {
                ex.progress.canceled(*id);
            }
            return Err(BuildError::Canceled);
        }
        let reason = if ex.req.no_cache {
            "--no-cache".to_string()
        } else if k == first {
            *first_reason = if ex.explain {
                explain::why(ex.store, sp, k, hits)
            } else {
                "cache miss".into()
            };
            first_reason.clone()
        } else {
            format!(
                "an earlier step was rebuilt (`{}`: {first_reason})",
                sp.steps[first].name
            )
        };
        // A step that reads another stage starts once that stage is done.
        for j in step_sources(step) {
            ex.stage(j)?;
        }
        ex.progress.instruction_running(classic::at(sp, k));
        if let Some(id) = vid {
            ex.progress.start(id);
            if ex.explain {
                ex.progress.note(id, &format!("cache miss: {reason}"));
            }
        }
        ex.report(StepReport {
            stage: sp.index,
            step: step.name.clone(),
            cached: false,
            reason: Some(reason),
        });
        // Metadata steps run here, so the record can carry their time.
        let mut created = None;
        let result = if matches!(step.action, Action::Meta) {
            let now = ex.req.history_time();
            let mut c = std::mem::take(&mut config);
            let r = steps::meta_step(&mut c, &step.command, state, &now);
            created = Some(now);
            r.map(|()| steps::StepOutcome {
                config: c,
                layer: None,
                summary: None,
            })
        } else {
            steps::execute(
                ex,
                step,
                &explain::step_lineage(sp, k),
                std::mem::take(&mut config),
                state,
                vid.unwrap_or(0),
            )
        };
        let out = match result {
            Ok(o) => o,
            // Stopped by the cancel token: not this step's failure.
            Err(_) if ex.req.cancel.is_cancelled() => {
                for id in v.steps[k..].iter().flatten() {
                    ex.progress.canceled(*id);
                }
                return Err(BuildError::Canceled);
            }
            Err(e) => {
                ex.progress.instruction_failed(classic::at(sp, k));
                if let Some(id) = vid {
                    ex.progress.error(id, &e.to_string());
                }
                let tail = vid
                    .map(|id| ex.progress.tail(id, ERROR_TAIL))
                    .unwrap_or_default();
                return Err(e.at_step(&step.name, step.range, tail));
            }
        };
        config = out.config;
        // A metadata step in mid-stage is replayed instead (see crate::cache).
        let store_config =
            !matches!(step.action, Action::Meta) || k == 0 || k + 1 == sp.steps.len();
        let config_digest = if store_config {
            Some(ex.store.content().put(&config.to_vec())?)
        } else {
            None
        };
        let mut desc = Description {
            step: step.name.clone(),
            inputs: step.inputs.clone(),
            sources: None,
            lineage: Default::default(),
        };
        desc.served(&explain::step_lineage(sp, k));
        if let Some(s) = &out.summary {
            desc.set_sources(s);
        }
        let layer = match &out.layer {
            Some(l) => Some(RecordLayer {
                diff_id: l.diff_id.clone(),
                chain_id: l.chain_id.clone(),
                blob_digest: l
                    .blob
                    .as_ref()
                    .map(|b| b.digest.clone())
                    .ok_or_else(|| BuildError::Invalid("a build layer has no blob".into()))?,
            }),
            None => None,
        };
        let shown_id = ex
            .progress
            .wants_ids()
            .then(|| classic::ran_id(config_digest.as_ref(), &config));
        if ex.req.record_cache {
            pending.push(Record {
                key: step.key.clone(),
                parent_key: Some(step.parent_key.clone()),
                config_digest,
                created,
                layer,
                description: desc.to_json(),
                sources: desc.sources,
            })?;
        }
        if let Some(id) = vid {
            ex.progress.done(id);
        }
        ex.progress
            .instruction_done(classic::at(sp, k), false, || shown_id.unwrap_or_default());
    }
    Ok(config)
}

/// Shows why a stage's late keys could not be completed: a source stage
/// that failed cancels the late steps; an error of their own sources is
/// the step's.
fn late_failed(ex: &Exec<'_>, sp: &StagePlan, v: &Vertices, e: &BuildError) {
    let from = sp.late_from.unwrap_or(0);
    if matches!(e.root(), BuildError::Canceled) {
        for id in v.steps[from..].iter().flatten() {
            ex.progress.canceled(*id);
        }
        return;
    }
    let failed = sp
        .steps
        .iter()
        .zip(&v.steps)
        .enumerate()
        .skip(from)
        .find(|(_, (s, _))| matches!(e, BuildError::Step { step, .. } if *step == s.name));
    if let Some((k, (_, vid))) = failed {
        ex.progress.instruction_failed(classic::at(sp, k));
        if let Some(id) = vid {
            ex.progress.start(*id);
            ex.progress.error(*id, &e.to_string());
        }
    }
}

fn cached_stage_steps(
    ex: &Exec<'_>,
    sp: &StagePlan,
    v: &Vertices,
    hits: &HashMap<String, Record>,
    upto: usize,
) {
    for (k, (s, vid)) in sp.steps[..upto].iter().zip(&v.steps).enumerate() {
        if let Some(id) = vid {
            ex.progress.cached(*id);
        }
        ex.progress.instruction_done(classic::at(sp, k), true, || {
            classic::cached_id(ex.store, sp, hits, k)
        });
        ex.report(StepReport {
            stage: sp.index,
            step: s.name.clone(),
            cached: true,
            reason: None,
        });
    }
}

/// Keys of every step of the planned stages known at plan time (for the
/// lookup and the registry cache export; late keys come from [`execute`]).
pub fn all_keys(plan: &Plan) -> Vec<&str> {
    let mut seen = BTreeSet::new();
    plan.stages
        .iter()
        .flatten()
        .flat_map(|sp| {
            sp.steps
                .iter()
                .enumerate()
                .filter(|(k, _)| !sp.is_late(*k))
                .map(|(_, s)| s.key.as_str())
        })
        .filter(|k| seen.insert(*k))
        .collect()
}

/// The cached records this build reused, with the step lineage each served
/// (to mark them used, and for the next `--explain`).
pub fn used_steps<'p>(plan: &'p Plan, hits: &HashMap<String, Record>) -> Vec<(&'p str, String)> {
    plan.stages
        .iter()
        .flatten()
        .flat_map(|sp| {
            sp.steps
                .iter()
                .enumerate()
                .filter(|(k, s)| !sp.is_late(*k) && hits.contains_key(&s.key))
                .map(move |(k, s)| (s.key.as_str(), explain::step_lineage(sp, k)))
        })
        .collect()
}
