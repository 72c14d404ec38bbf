//! `strata network prune`: removes the user networks no running container
//! uses.

use clap::Args;
use strata_runtime::net::networks;

use super::daemon_error;
use crate::commands::prune_filter::PruneFilter;
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
    let output = prune_all(ctx.store()?, &PruneFilter::default())?;
    if !output.is_empty() {
        println!("{output}");
    }
    Ok(0)
}

/// Removes the user networks no container uses; returns docker's report
/// (`Deleted Networks:` and the names, empty when none went).
pub fn prune_all(store: &strata_store::Store, f: &PruneFilter) -> anyhow::Result<String> {
    let removed = prune_names(store, f)?;
    if removed.is_empty() {
        return Ok(String::new());
    }
    let mut out = String::from("Deleted Networks:\n");
    for n in &removed {
        out.push_str(n);
        out.push('\n');
    }
    Ok(out)
}

/// Removes the user networks no container uses that `f` selects; returns
/// their names (what the API's `POST /networks/prune` reports).
pub fn prune_names(store: &strata_store::Store, f: &PruneFilter) -> anyhow::Result<Vec<String>> {
    let select = |n: &networks::Network| f.matches(Some(&n.created), &n.spec.labels);
    networks::prune_where(store, &select).map_err(daemon_error)
}
