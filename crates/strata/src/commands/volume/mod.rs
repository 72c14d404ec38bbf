//! `strata volume …`: docker's volume commands over
//! `strata_runtime::volumes`, one file per verb. Errors read as docker's
//! (`Error: No such volume: x`, `Error response from daemon: …`), exit 1.

pub mod create;
pub mod inspect;
pub mod ls;
pub mod prune;
pub mod rm;

use clap::Subcommand;
use serde_json::{Value, json};
use strata_runtime::volumes::Volume;

use crate::context::Ctx;
use crate::exit::ExitError;

/// `strata volume …`
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum VolumeCommand {
    /// Create a volume
    Create(create::CreateArgs),
    /// Display detailed information on one or more volumes
    Inspect(inspect::InspectArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(ls::LsArgs),
    /// Remove all unused local volumes
    Prune(prune::PruneArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(rm::RmArgs),
}

/// Runs `strata volume …`.
pub fn dispatch(ctx: &Ctx, c: VolumeCommand) -> anyhow::Result<i32> {
    match c {
        VolumeCommand::Create(a) => create::run(ctx, a),
        VolumeCommand::Inspect(a) => inspect::run(ctx, a),
        VolumeCommand::Ls(a) => ls::run(ctx, a),
        VolumeCommand::Prune(a) => prune::run(ctx, a),
        VolumeCommand::Rm(a) => rm::run(ctx, a),
    }
}

/// A runtime error as docker's daemon reports it.
pub fn daemon_error(e: strata_runtime::RuntimeError) -> anyhow::Error {
    ExitError::new(1, format!("Error response from daemon: {e}")).into()
}

/// docker's volume JSON (`volume inspect`), field for field.
pub fn volume_json(v: &Volume) -> Value {
    json!({
        "CreatedAt": v.created,
        "Driver": v.driver,
        "Labels": v.labels,
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Options": v.options,
        "Scope": "local",
    })
}
