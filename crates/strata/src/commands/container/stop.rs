//! `strata container stop` (`stop`): the container's STOPSIGNAL (default
//! SIGTERM), then SIGKILL after `-t` seconds (default 10).

use clap::Args;
use strata_runtime::ops;

use super::{each, lookup};
use crate::context::Ctx;

/// Flags of `stop`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait for stop before killing it
    #[arg(
        short = 't',
        long = "time",
        value_name = "int",
        allow_hyphen_values = true
    )]
    pub time: Option<i64>,
    /// Containers to stop
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Runs `stop`.
pub fn run(ctx: &Ctx, args: StopArgs) -> anyhow::Result<i32> {
    each(ctx, &args.containers, |store, name| {
        let c = lookup(store, name)?;
        super::pause::thaw_for_signal(store, &c)?;
        ops::stop(store, &c, args.time)?;
        Ok(Some(name.to_string()))
    })
}
