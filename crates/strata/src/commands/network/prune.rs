//! `strata network prune`: removes the user networks no running container
//! uses.

use std::io::{BufRead, Write};

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
    if !args.force {
        print!(
            "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] "
        );
        std::io::stdout().flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        if !matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            return Ok(0);
        }
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
