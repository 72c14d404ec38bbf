//! `strata container rm` (`rm`) and `container prune`.

use clap::Args;
use strata_format::units;
use strata_runtime::{Container, RuntimeError, ops};
use strata_store::Store;

use super::{each, lookup, rt};
use crate::commands::prune_filter::PruneFilter;
use crate::context::Ctx;

/// Flags of `rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Containers to remove
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Runs `rm`.
pub fn run(ctx: &Ctx, args: RmArgs) -> anyhow::Result<i32> {
    each(ctx, &args.containers, |store, name| {
        remove_container(store, &lookup(store, name)?, args.force, args.volumes)?;
        Ok(Some(name.to_string()))
    })
}

/// Removes `c` (the CLI's `rm` and the API's `DELETE`): a paused one only
/// with `force` (thawed so the kill lands), else docker's 409
/// ([`RuntimeError::Conflict`]).
pub fn remove_container(
    store: &Store,
    c: &Container,
    force: bool,
    volumes: bool,
) -> anyhow::Result<()> {
    if c.state.paused && c.is_running() {
        if !force {
            return Err(RuntimeError::Conflict(format!(
                "You cannot remove a paused container {}. Unpause and then stop the container before attempting removal or force remove",
                c.id
            ))
            .into());
        }
        super::pause::thaw_for_signal(store, c)?;
    }
    Ok(ops::remove(store, c, force, volumes)?)
}

/// Flags of `container prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// Runs `container prune`.
pub fn prune(ctx: &Ctx, args: PruneArgs) -> anyhow::Result<i32> {
    if !args.force && !crate::commands::confirm_removal("all stopped containers")? {
        return Ok(0);
    }
    let (bytes, output) = prune_all(ctx.store()?, &PruneFilter::default())?;
    if !output.is_empty() {
        println!("{output}");
    }
    println!("Total reclaimed space: {}", units::human_size(bytes));
    Ok(0)
}

/// Removes every stopped container; returns the bytes freed and docker's
/// report (`Deleted Containers:` and the IDs, empty when none went).
pub fn prune_all(store: &strata_store::Store, f: &PruneFilter) -> anyhow::Result<(u64, String)> {
    let (ids, bytes) = prune_ids(store, f)?;
    if ids.is_empty() {
        return Ok((0, String::new()));
    }
    let mut out = String::from("Deleted Containers:\n");
    for id in &ids {
        out.push_str(id);
        out.push('\n');
    }
    Ok((bytes, out))
}

/// Removes the stopped containers `f` selects; returns their IDs and the
/// bytes freed (what the API's `POST /containers/prune` reports).
pub fn prune_ids(
    store: &strata_store::Store,
    f: &PruneFilter,
) -> anyhow::Result<(Vec<String>, u64)> {
    let select = |c: &strata_runtime::Container| f.matches(Some(&c.created), &c.spec.config.labels);
    ops::prune_where(store, &select).map_err(rt)
}
