//! `strata container diff` (`diff`): the container's changes to its
//! image's files, one `A`/`C`/`D` line each, as `docker diff` prints them
//! (strata-runtime's `diff`).

use clap::Args;
use strata_runtime::diff;

use crate::commands::network::daemon_error;
use crate::context::Ctx;

/// Flags of `diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// Runs `diff`.
pub fn run(ctx: &Ctx, args: DiffArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let c = strata_runtime::containers::lookup(store, &args.container).map_err(daemon_error)?;
    let changes = diff::changes(store, &c).map_err(daemon_error)?;
    let mut text = String::new();
    for ch in changes {
        text.push_str(&ch.to_string());
        text.push('\n');
    }
    print!("{text}");
    Ok(0)
}
