//! `strata container kill` (`kill`): sends a signal (default SIGKILL) to
//! the container's main process.

use clap::Args;
use strata_runtime::ops;

use super::{each, lookup};
use crate::context::Ctx;

/// Flags of `kill`.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, default_value = "KILL", value_name = "string")]
    pub signal: String,
    /// Containers to kill
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Runs `kill`.
pub fn run(ctx: &Ctx, args: KillArgs) -> anyhow::Result<i32> {
    let sig = ops::parse_signal(&args.signal).map_err(super::rt)?;
    each(ctx, &args.containers, |store, name| {
        let c = lookup(store, name)?;
        ops::kill(store, &c, sig)
            .map_err(|e| anyhow::anyhow!("Cannot kill container: {name}: {e}"))?;
        // docker resumes a paused container once the signal is sent.
        super::pause::thaw_for_signal(store, &c)?;
        Ok(Some(name.to_string()))
    })
}
