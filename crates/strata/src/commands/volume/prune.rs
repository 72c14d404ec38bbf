//! `strata volume prune`: removes the volumes no container uses (docker
//! 20.10 removes named and anonymous ones alike).

use clap::Args;
use strata_format::units;
use strata_runtime::volumes;

use super::daemon_error;
use crate::commands::prune_filter::PruneFilter;
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
    let (bytes, output) = prune_all(ctx.store()?, &PruneFilter::default())?;
    if !output.is_empty() {
        println!("{output}");
    }
    println!("Total reclaimed space: {}", units::human_size(bytes));
    Ok(0)
}

/// Removes the volumes no container uses; returns the bytes freed and
/// docker's report (`Deleted Volumes:` and the names, empty when none
/// went).
pub fn prune_all(store: &strata_store::Store, f: &PruneFilter) -> anyhow::Result<(u64, String)> {
    let (names, bytes) = prune_names(store, f)?;
    if names.is_empty() {
        return Ok((0, String::new()));
    }
    let mut out = String::from("Deleted Volumes:\n");
    for n in &names {
        out.push_str(n);
        out.push('\n');
    }
    Ok((bytes, out))
}

/// Removes the volumes no container uses that `f` selects; returns their
/// names and the bytes they held (the API's `POST /volumes/prune`).
pub fn prune_names(
    store: &strata_store::Store,
    f: &PruneFilter,
) -> anyhow::Result<(Vec<String>, u64)> {
    let select =
        |v: &volumes::Volume| f.matches(Some(&v.created), &v.labels.clone().unwrap_or_default());
    volumes::prune_where(store, &select).map_err(daemon_error)
}
