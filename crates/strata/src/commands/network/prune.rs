//! `strata network prune`: removes the user networks no running container
//! uses.

use clap::Args;
use strata_runtime::net::networks;

use super::daemon_error;
use crate::context::Ctx;

/// Flags of `network prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// Runs `network prune`.
pub fn run(ctx: &Ctx, args: PruneArgs) -> anyhow::Result<i32> {
    if !args.force
        && !crate::commands::confirm_removal(
            "all custom networks not used by at least one container",
        )?
    {
        return Ok(0);
    }
    let store = ctx.store()?;
    let removed = networks::prune(store).map_err(daemon_error)?;
    if !removed.is_empty() {
        println!("Deleted Networks:");
        for n in &removed {
            println!("{n}");
        }
        println!();
    }
    Ok(0)
}
