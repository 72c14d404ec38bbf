//! `strata container rename` (`rename`), over strata-runtime's `rename`
//! (the API's too).

use clap::Args;
use strata_runtime::containers;

use crate::context::Ctx;
use crate::exit::ExitError;

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

/// Runs `rename`: docker's CLI refuses empty names itself, prints the
/// daemon's error and then its own line.
pub fn run(ctx: &Ctx, args: RenameArgs) -> anyhow::Result<i32> {
    let (old, new) = (args.container.trim(), args.new_name.trim());
    if old.is_empty() || new.is_empty() {
        return Err(ExitError::new(1, "Neither old nor new names may be empty").into());
    }
    let store = ctx.store()?;
    let renamed = containers::lookup(store, old).and_then(|c| containers::rename(store, &c, new));
    if let Err(e) = renamed {
        eprintln!("Error response from daemon: {e}");
        return Err(ExitError::new(1, format!("failed to rename container named {old}")).into());
    }
    Ok(0)
}
