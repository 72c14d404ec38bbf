//! `strata network …`: docker's network commands over
//! `strata_runtime::net::networks`, one file per verb. Errors read as
//! docker's (`Error: No such network: x`, `Error response from daemon:
//! …`) with exit code 1.

pub mod connect;
pub mod create;
pub mod inspect;
pub mod ls;
pub mod prune;
pub mod rm;

use clap::Subcommand;
use strata_runtime::RuntimeError;
use strata_runtime::net::networks::{self, Network};
use strata_store::Store;

use crate::context::Ctx;
use crate::exit::ExitError;

/// `strata network …`
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum NetworkCommand {
    /// Connect a container to a network
    Connect(connect::ConnectArgs),
    /// Create a network
    Create(create::CreateArgs),
    /// Disconnect a container from a network
    Disconnect(connect::DisconnectArgs),
    /// Display detailed information on one or more networks
    Inspect(inspect::InspectArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(ls::LsArgs),
    /// Remove all unused networks
    Prune(prune::PruneArgs),
    /// Remove one or more networks
    #[command(visible_alias = "remove")]
    Rm(rm::RmArgs),
}

/// Runs `strata network …`.
pub fn dispatch(ctx: &Ctx, c: NetworkCommand) -> anyhow::Result<i32> {
    match c {
        NetworkCommand::Connect(a) => connect::connect(ctx, a),
        NetworkCommand::Create(a) => create::run(ctx, a),
        NetworkCommand::Disconnect(a) => connect::disconnect(ctx, a),
        NetworkCommand::Inspect(a) => inspect::run(ctx, a),
        NetworkCommand::Ls(a) => ls::run(ctx, a),
        NetworkCommand::Prune(a) => prune::run(ctx, a),
        NetworkCommand::Rm(a) => rm::run(ctx, a),
    }
}

/// A daemon-side failure as docker prints it: `Error response from
/// daemon: …`, exit 1.
pub fn daemon_error(e: impl std::fmt::Display) -> anyhow::Error {
    eprintln!("Error response from daemon: {e}");
    ExitError::new(1, "").into()
}

/// Looks a network up; `No such network: x` (exit 1) when missing.
pub fn lookup(store: &Store, name: &str) -> anyhow::Result<Network> {
    networks::lookup(store, name).map_err(|e| match e {
        RuntimeError::NoSuchNetwork(_) => {
            ExitError::new(1, format!("No such network: {name}")).into()
        }
        other => daemon_error(other),
    })
}
