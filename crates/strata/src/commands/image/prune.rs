//! `strata image prune`: remove dangling images (`-a`: every image no
//! container uses), printing docker's `Deleted Images:` block and the
//! space reclaimed.

use clap::Args;
use strata_format::units;
use strata_store::images::Removal;

use crate::context::Ctx;

/// Flags of `image prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

/// Runs `image prune`.
pub fn run(ctx: &Ctx, args: PruneArgs) -> anyhow::Result<i32> {
    if !args.force {
        let what = if args.all {
            "all images without at least one container associated to them"
        } else {
            "all dangling images"
        };
        if !crate::commands::confirm_removal(what)? {
            return Ok(0);
        }
    }
    let store = ctx.store()?;
    let pruned = store.prune_images(args.all)?;
    if !pruned.removed.is_empty() {
        println!("Deleted Images:");
        for r in &pruned.removed {
            match r {
                Removal::Untagged(n) => println!("untagged: {n}"),
                Removal::Deleted(d) => println!("deleted: {d}"),
            }
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        units::human_size(pruned.reclaimed)
    );
    Ok(0)
}
