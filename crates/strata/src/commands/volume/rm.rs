//! `strata volume rm`: removes volumes no container uses (docker's
//! "volume is in use" otherwise, even with `-f`).

use clap::Args;
use strata_runtime::volumes;

use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `volume rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of one or more volumes
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Volumes to remove
    #[arg(required = true, value_name = "VOLUME")]
    pub volumes: Vec<String>,
}

/// Runs `volume rm`.
pub fn run(ctx: &Ctx, args: RmArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let mut failed = false;
    for name in &args.volumes {
        match volumes::remove(store, name, args.force) {
            Ok(()) => println!("{name}"),
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
