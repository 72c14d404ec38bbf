//! `strata container update` (`update`): new limits and restart policy
//! for running or stopped containers (strata-runtime's `update_linux`),
//! printing each container's name as docker does; no flag at all is
//! docker's "you must provide one or more flags".

use clap::Args;
use strata_runtime::restart_policy::RestartPolicy;
use strata_runtime::spec::{parse_bytes, parse_cpus};
use strata_runtime::update_linux::{self, UpdateOptions};

use super::{each, lookup, rt};
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// CPU shares (relative weight)
    #[arg(short = 'c', long, value_name = "int")]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs
    #[arg(long, value_name = "decimal")]
    pub cpus: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long, value_name = "bytes")]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long, value_name = "bytes", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, value_name = "int", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long, value_name = "string")]
    pub restart: Option<String>,
    /// Containers to update
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Runs `update`.
pub fn run(ctx: &Ctx, args: UpdateArgs) -> anyhow::Result<i32> {
    let bad = |e: strata_runtime::RuntimeError| ExitError::new(1, e.to_string());
    let opts = UpdateOptions {
        memory: args
            .memory
            .as_deref()
            .map(parse_bytes)
            .transpose()
            .map_err(bad)?,
        memory_swap: args
            .memory_swap
            .as_deref()
            .map(update_linux::parse_swap)
            .transpose()
            .map_err(bad)?,
        nano_cpus: args
            .cpus
            .as_deref()
            .map(parse_cpus)
            .transpose()
            .map_err(bad)?,
        cpu_shares: args.cpu_shares,
        pids_limit: args.pids_limit,
        restart: args
            .restart
            .as_deref()
            .map(RestartPolicy::parse)
            .transpose()
            .map_err(bad)?,
    };
    if opts.is_empty() {
        return Err(ExitError::new(
            1,
            "you must provide one or more flags when using this command",
        )
        .into());
    }
    each(ctx, &args.containers, |store, name| {
        let c = lookup(store, name)?;
        update_linux::update(store, &c, &opts).map_err(rt)?;
        Ok(Some(name.to_string()))
    })
}
