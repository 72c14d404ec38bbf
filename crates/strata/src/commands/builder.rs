//! `strata builder prune`: remove the build cache, as `docker builder
//! prune` does — every cache record, then garbage collection of the
//! layers and configs only the cache kept; with `--all`, the persistent
//! `RUN --mount=type=cache` directories too.

use clap::{Args, Subcommand};
use strata_format::units;

use crate::context::Ctx;

/// `strata builder …`
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum BuilderCommand {
    /// Remove build cache
    Prune(PruneArgs),
}

/// Flags of `builder prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused build cache, cache mounts included
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation (strata never prompts)
    #[arg(short, long)]
    pub force: bool,
}

/// Runs `builder …`.
pub fn dispatch(ctx: &Ctx, c: BuilderCommand) -> anyhow::Result<i32> {
    match c {
        BuilderCommand::Prune(a) => prune(ctx, a),
    }
}

fn prune(ctx: &Ctx, args: PruneArgs) -> anyhow::Result<i32> {
    let (keys, freed) = prune_cache(ctx.store()?, args.all)?;
    let _ = args.force;
    println!("Deleted {} build cache records", keys.len());
    println!("Total:\t{}", units::human_size(freed));
    Ok(0)
}

/// Deletes every build cache record and collects what only they kept
/// (`all`: the `RUN --mount=type=cache` directories and the contexts'
/// stat indexes too, so the next build hashes every file, as a cold
/// BuildKit does); returns the records' keys and the bytes freed.
pub fn prune_cache(store: &strata_store::Store, all: bool) -> anyhow::Result<(Vec<String>, u64)> {
    let keys = strata_build::cache::prune(store)?;
    let mut freed = store.gc()?.bytes;
    if all {
        strata_store::context_index::clear(store.layout())?;
        let dir = store.root().join("cache-mounts");
        if dir.exists() {
            freed += strata_store::layer::disk_usage(&dir).unwrap_or(0);
            strata_store::layout::remove_tree(&dir)?;
        }
    }
    Ok((keys, freed))
}
