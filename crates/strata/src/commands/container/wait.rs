//! `strata container wait` (`wait`): blocks until each container stops
//! and prints its exit code.

use clap::Args;
use strata_runtime::ops;

use super::{each, lookup};
use crate::context::Ctx;

/// Flags of `wait`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Containers to wait for
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Runs `wait`.
pub fn run(ctx: &Ctx, args: WaitArgs) -> anyhow::Result<i32> {
    each(ctx, &args.containers, |store, name| {
        let c = lookup(store, name)?;
        let code = ops::wait(store, &c.id)?;
        Ok(Some(code.to_string()))
    })
}
