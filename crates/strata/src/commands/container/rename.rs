//! `strata container rename` (`rename`).

use clap::Args;
use strata_runtime::containers;

use super::{lookup, rt};
use crate::context::Ctx;

/// Flags of `rename`.
#[derive(Debug, Args)]
pub struct RenameArgs {
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Its new name
    #[arg(value_name = "NEW_NAME")]
    pub new_name: String,
}

/// Runs `rename`.
pub fn run(ctx: &Ctx, args: RenameArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let c = lookup(store, &args.container)?;
    containers::rename(store, &c, &args.new_name).map_err(|e| {
        let code = if e.exit_code() == 125 {
            1
        } else {
            e.exit_code()
        };
        crate::exit::ExitError::new(code, rt(e).to_string())
    })?;
    Ok(0)
}
