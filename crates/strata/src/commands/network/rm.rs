//! `strata network rm`: removes networks no running container uses.

use clap::Args;
use strata_runtime::RuntimeError;
use strata_runtime::net::networks;

use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `network rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Networks to remove
    #[arg(required = true, value_name = "NETWORK")]
    pub networks: Vec<String>,
}

/// Runs `network rm`.
pub fn run(ctx: &Ctx, args: RmArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let mut failed = false;
    for name in &args.networks {
        let result = networks::lookup(store, name).and_then(|n| networks::remove(store, &n));
        match result {
            Ok(()) => println!("{name}"),
            Err(RuntimeError::NoSuchNetwork(_)) => {
                failed = true;
                eprintln!("Error: No such network: {name}");
            }
            Err(e) => {
                failed = true;
                eprintln!("Error response from daemon: {e}");
            }
        }
    }
    if failed {
        return Err(ExitError::new(1, "").into());
    }
    Ok(0)
}
