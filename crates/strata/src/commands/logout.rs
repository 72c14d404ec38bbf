//! `strata logout [SERVER]`: forget a registry's credentials (in docker's
//! `config.json` and its credential helper).

use clap::Args;
use strata_registry::auth::server_key;

use crate::cli::GlobalArgs;
use crate::commands::registry;

/// Flags of `logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry (default: Docker Hub)
    pub server: Option<String>,
}

/// Runs `logout`.
pub fn run(global: &GlobalArgs, args: LogoutArgs) -> anyhow::Result<i32> {
    let opts = registry::options(global)?;
    let (domain, removed) = strata_registry::logout(args.server.as_deref(), &opts)?;
    let key = server_key(&domain);
    if removed {
        println!("Removing login credentials for {key}");
    } else {
        println!("Not logged in to {key}");
    }
    Ok(0)
}
