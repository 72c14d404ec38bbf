//! `strata volume prune`: removes the volumes no container uses (docker
//! 20.10 removes named and anonymous ones alike).

use clap::Args;
use strata_format::units;
use strata_runtime::volumes;

use super::daemon_error;
use crate::context::Ctx;

/// Flags of `volume prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. 'label=<label>')
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
}

/// Runs `volume prune`.
pub fn run(ctx: &Ctx, args: PruneArgs) -> anyhow::Result<i32> {
    if !args.filter.is_empty() {
        return Err(crate::exit::ExitError::new(
            1,
            "Error response from daemon: volume prune --filter is not supported by strata",
        )
        .into());
    }
    if !args.force
        && !crate::commands::confirm_removal(
            "all local volumes not used by at least one container",
        )?
    {
        return Ok(0);
    }
    let store = ctx.store()?;
    let (names, bytes) = volumes::prune(store).map_err(daemon_error)?;
    if !names.is_empty() {
        println!("Deleted Volumes:");
        for n in &names {
            println!("{n}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", units::human_size(bytes));
    Ok(0)
}
