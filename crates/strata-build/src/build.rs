//! [`build`]: one `strata image build`, end to end.
//!
//! ```text
//! parse Dockerfile ─> global ARGs ─> context (+ .dockerignore, stat index)
//!   ─> [--cache-from import] ─> plan (bases resolved/pulled, keys)
//!   ─> one cache query ─> execute (stages in parallel, misses only)
//!   ─> image (config reused from the cache) ─> one transaction: tags + last_used
//!   ─> --iidfile, --output, [--cache-to export]
//! ```
//! A no-op rebuild does no work beyond reading the Dockerfile, stat-ing
//! the COPY sources, one query, one config read and one write transaction;
//! it starts no async runtime and no thread but the stat index loader.

use std::collections::HashMap;
use std::path::PathBuf;

use strata_dockerfile::args::{BuildOptions, GlobalArgs, unused_build_args_warning};
use strata_dockerfile::{Dockerfile, Platform};
use strata_oci::Digest;
use strata_registry::cache::CacheOptions;
use strata_store::Store;

use crate::context::{BuildContext, StatIndex};
use crate::error::{BuildError, Result};
use crate::executor::{self, StepReport};
use crate::export;
use crate::options::{BuildRequest, ContextSource};
use crate::plan::Planner;
use crate::progress::Progress;

/// What a successful build produced.
#[derive(Debug, Clone)]
pub struct BuildOutput {
    /// The image ID.
    pub image_id: Digest,
    /// Per step: cached or why it missed (`--explain`).
    pub report: Vec<StepReport>,
    /// Warnings to show after the build (unused build args, build checks).
    pub warnings: Vec<String>,
}

/// The host platform as `os/arch[/variant]`.
pub fn host_platform() -> String {
    strata_oci::host_platform_string()
}

fn cache_options(req: &BuildRequest) -> CacheOptions {
    CacheOptions {
        registry: req.registry.clone(),
        ..CacheOptions::default()
    }
}

/// Runs a build. Errors carry the Dockerfile lines and the failing step's
/// output (see [`BuildError::snippet`] and [`BuildError::step_log`]); no
/// tag is set unless the whole build succeeded.
pub fn build(store: &Store, req: BuildRequest, progress: &Progress) -> Result<BuildOutput> {
    // Mounts made by this build stay in this process (before any thread).
    // Without a private namespace the views are still unmounted on drop.
    if let Err(e) = crate::view::private_mounts() {
        tracing::debug!("build mounts stay in the host namespace: {e}");
    }
    // A build does not checkpoint the WAL when it exits (SQLite's default,
    // which costs two fsyncs per process) unless the WAL has grown long.
    store.db().skip_checkpoint_on_close()?;
    let platform = host_platform();
    if let Some(p) = &req.platform
        && !strata_oci::is_host_platform(p)
    {
        return Err(BuildError::Platform {
            requested: p.clone(),
            host: platform,
        });
    }
    let mut req = req;
    let ctx = match std::mem::replace(&mut req.context, ContextSource::Dir(PathBuf::new())) {
        ContextSource::Dir(d) => {
            let c = BuildContext::from_dir(&d, req.dockerfile_path.as_deref())?;
            req.context = ContextSource::Dir(d);
            c
        }
        ContextSource::Tar(r) => BuildContext::from_tar(r, store.scratch().dir())?,
    };
    if req.dockerfile.is_empty() {
        // `build -` with a tar: the Dockerfile is inside the context.
        let p = ctx.root().join(&req.dockerfile_name);
        req.dockerfile = crate::context::read_confined(ctx.root(), &p).map_err(|e| {
            BuildError::Invalid(format!(
                "failed to read dockerfile {} from the context: {e}",
                req.dockerfile_name
            ))
        })?;
    }
    let v = progress.vertex(&format!(
        "[internal] load build definition from {}",
        req.dockerfile_name
    ));
    progress.start(v);
    progress.note(
        v,
        &format!("transferring dockerfile: {}B done", req.dockerfile.len()),
    );
    let df = match Dockerfile::parse(&req.dockerfile) {
        Ok(df) => df,
        Err(e) => {
            progress.error(v, &e.to_string());
            return Err(e.into());
        }
    };
    progress.done(v);
    let host = Platform::parse(&platform).unwrap_or_else(|_| Platform::linux_amd64());
    let global = GlobalArgs::new(
        &df,
        &BuildOptions {
            build_args: req.build_args.clone(),
            build_platform: host.clone(),
            target_platform: host,
            target: req.target.clone(),
        },
    )?;
    // SOURCE_DATE_EPOCH: the build arg, else a global ARG default
    // (BuildKit's order); it dates history and clamps layer mtimes.
    let sde = req
        .build_args
        .get("SOURCE_DATE_EPOCH")
        .map(String::as_str)
        .or_else(|| global.get("SOURCE_DATE_EPOCH"));
    if let Some(v) = sde {
        req.source_date_epoch = crate::options::parse_source_date_epoch(v)?;
    }
    let context_dir = match &req.context {
        ContextSource::Dir(d) if !d.as_os_str().is_empty() => Some(ctx.root().to_path_buf()),
        _ => None,
    };
    let mut index = StatIndex::load(store, ctx.root())?;
    for spec in &req.cache_from {
        let cv = progress.vertex(&format!(
            "importing cache manifest from {}",
            spec.describe()
        ));
        progress.start(cv);
        match export::import(store, spec, &cache_options(&req)) {
            Ok(n) => {
                progress.note(cv, &format!("{n} records"));
                progress.done(cv);
            }
            // As BuildKit: a cache that cannot be imported is a warning.
            Err(e) => progress.error(cv, &e.to_string()),
        }
    }
    let cv = progress.vertex("[internal] load build context");
    progress.start(cv);
    let plan = Planner {
        store,
        req: &req,
        df: &df,
        global: &global,
        ctx: &ctx,
        index: &mut index,
        progress,
        download_dir: store.scratch().dir().join("downloads"),
        platform: platform.clone(),
    }
    .plan();
    let plan = match plan {
        Ok(p) => p,
        Err(stopped) => {
            progress.error(cv, &stopped.error.to_string());
            if progress.wants_ids() {
                return Err(crate::classic::run_until(
                    store, &req, progress, &ctx, *stopped,
                ));
            }
            return Err(stopped.error);
        }
    };
    let stats = index.stats();
    index.flush(store)?;
    progress.note(
        cv,
        &format!(
            "transferring context: {} files checked, {} hashed ({}B) done",
            stats.hits + stats.hashed,
            stats.hashed,
            stats.hashed_bytes
        ),
    );
    progress.done(cv);
    for sp in plan.stages.iter().flatten() {
        let name = df.stages[sp.index].display_name();
        let name = if name.starts_with("stage-") {
            name
        } else {
            format!("stage {name}")
        };
        progress.name_track(sp.index + 1, &name);
    }
    let keys = executor::all_keys(&plan);
    let hits = if req.no_cache {
        HashMap::new()
    } else {
        let _phase = progress.phase(0, "cache lookup");
        crate::cache::lookup(store, &keys)?
    };
    let (out, report, late) =
        executor::execute(store, &req, progress, &ctx, &plan, &hits, req.explain)?;

    let ev = progress.vertex("exporting to image");
    progress.start(ev);
    let mut config = export::final_config(&out.config, &req.labels);
    config.created = req.clamp_created(config.created.take());
    // The target's chain, its last key last (mode=min and inline follow it).
    let mut ordered: Vec<&str> = keys
        .iter()
        .copied()
        .chain(late.iter().map(|l| l.key.as_str()))
        .filter(|k| *k != out.key.as_str())
        .collect();
    ordered.push(out.key.as_str());
    if req.cache_to.contains(&crate::options::CacheSpec::Inline) {
        let iv = progress.vertex("preparing layers for inline cache");
        progress.start(iv);
        config = export::with_inline_cache(store, &config, &ordered)?;
        progress.done(iv);
    }
    let mut used = executor::used_steps(&plan, &hits);
    used.extend(
        late.iter()
            .filter(|l| l.hit)
            .map(|l| (l.key.as_str(), l.lineage.clone())),
    );
    // The build record names the keys the steps were built under.
    let completed;
    let record_plan = if late.is_empty() {
        &plan
    } else {
        completed = crate::late::completed(&plan, &late);
        &completed
    };
    let record =
        crate::record::BuildRecord::new(&req, context_dir, record_plan, &config, &platform)
            .to_json()?;
    let id = export::commit_image(store, &config, &req.tags, &used, Some(&record))?;
    progress.note(ev, &format!("writing image {id} done"));
    for t in &req.tags {
        progress.note(ev, &format!("naming to {t} done"));
    }
    if let Some(f) = &req.iidfile {
        std::fs::write(f, id.as_str()).map_err(BuildError::io("write", f))?;
    }
    export::write_outputs(store, &id, &req.tags, &req.outputs)?;
    progress.done(ev);
    for spec in req
        .cache_to
        .iter()
        .filter(|s| **s != crate::options::CacheSpec::Inline)
    {
        let xv = progress.vertex(&format!("exporting cache to {}", spec.describe()));
        progress.start(xv);
        if let Err(e) = export::export(store, &ordered, spec, &cache_options(&req)) {
            progress.error(xv, &e.to_string());
            return Err(e);
        }
        progress.done(xv);
    }
    let mut warnings = Vec::new();
    let scopes: Vec<&strata_dockerfile::args::StageScope> =
        plan.stages.iter().flatten().map(|s| &s.scope).collect();
    let mut unused = global.unused_build_args(scopes);
    // Consumed by the build itself, as BuildKit's frontend consumes it.
    unused.retain(|a| a != "SOURCE_DATE_EPOCH");
    if let Some(w) = unused_build_args_warning(&unused) {
        warnings.push(w);
    }
    for w in &df.warnings {
        warnings.push(format!("{}: {} (line {})", w.rule, w.message, w.range));
    }
    drop_in_background(plan);
    Ok(BuildOutput {
        image_id: id,
        report,
        warnings,
    })
}

/// Frees `value` on a thread of its own: a plan whose COPY selected 20,000
/// files holds as many entries, and freeing them took a no-op rebuild
/// ~1.5 ms of a single core after its work was done. (Inline when no
/// thread can be started.)
fn drop_in_background<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new()
        .name("drop".into())
        .spawn(move || drop(value));
}
