//! `strata container restart` (`restart`): docker's stop then start of
//! each container (a stopped one is just started), printing its name; a
//! failure is docker's `Cannot restart container NAME: …`. The restart
//! policy begins afresh (`RestartCount` 0), as after a manual start.

use clap::Args;
use strata_runtime::ops;

use super::{each, lookup};
use crate::context::Ctx;

/// Flags of `restart`.
#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, value_name = "string")]
    pub signal: Option<String>,
    /// Seconds to wait before killing the container
    #[arg(
        short = 't',
        long = "timeout",
        visible_alias = "time",
        value_name = "int",
        allow_hyphen_values = true
    )]
    pub time: Option<i64>,
    /// Containers to restart
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Runs `restart`.
pub fn run(ctx: &Ctx, args: RestartArgs) -> anyhow::Result<i32> {
    if let Some(s) = &args.signal {
        ops::parse_signal(s).map_err(super::rt)?;
    }
    each(ctx, &args.containers, |store, name| {
        let c = lookup(store, name)?;
        let cannot =
            |e: &dyn std::fmt::Display| anyhow::anyhow!("Cannot restart container {name}: {e}");
        super::pause::thaw_for_signal(store, &c)?;
        ops::stop_with(store, &c, args.signal.as_deref(), args.time).map_err(|e| cannot(&e))?;
        super::start::start_detached(store, name).map_err(|e| cannot(&format!("{e:#}")))?;
        strata_runtime::events::container(store, &c, "restart", &[]);
        Ok(Some(name.to_string()))
    })
}
