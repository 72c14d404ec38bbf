//! `strata volume create [NAME]`: prints the name (a random one when none
//! is given); an existing volume of that name is kept, as docker does.

use std::collections::BTreeMap;

use clap::Args;
use strata_runtime::volumes;

use super::daemon_error;
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `volume create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Specify volume driver name
    #[arg(short = 'd', long, value_name = "string", default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume
    #[arg(long = "label", value_name = "list")]
    pub labels: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt", value_name = "map")]
    pub opts: Vec<String>,
    /// Specify volume name
    #[arg(long, value_name = "string")]
    pub name: Option<String>,
    /// The volume's name
    #[arg(value_name = "VOLUME")]
    pub volume: Option<String>,
}

/// Runs `volume create`.
pub fn run(ctx: &Ctx, args: CreateArgs) -> anyhow::Result<i32> {
    let name = match (&args.name, &args.volume) {
        (Some(a), Some(b)) if a != b => {
            return Err(ExitError::new(
                1,
                "conflicting options: either specify --name or provide positional arg, not both",
            )
            .into());
        }
        (Some(n), _) | (None, Some(n)) => Some(n.as_str()),
        (None, None) => None,
    };
    let v = create_volume(
        ctx.store()?,
        name,
        &args.driver,
        !args.opts.is_empty(),
        &args.labels,
    )?;
    println!("{}", v.name);
    Ok(0)
}

/// Creates (or finds) a local volume as `volume create` and the API's
/// `POST /volumes/create` do: docker's errors for another driver or
/// driver options; `labels` as `k=v` words.
pub fn create_volume(
    store: &strata_store::Store,
    name: Option<&str>,
    driver: &str,
    has_opts: bool,
    labels: &[String],
) -> anyhow::Result<volumes::Volume> {
    if driver != volumes::LOCAL {
        return Err(ExitError::new(
            1,
            format!(
                "Error response from daemon: create {}: error looking up volume plugin {}: plugin \"{}\" not found",
                name.unwrap_or(""),
                driver,
                driver
            ),
        )
        .into());
    }
    if has_opts {
        return Err(ExitError::new(
            1,
            "Error response from daemon: strata's local volumes take no driver options (--opt)",
        )
        .into());
    }
    let mut map = BTreeMap::new();
    for l in labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        map.insert(k.to_string(), v.to_string());
    }
    volumes::create(store, name, Some(map), false).map_err(daemon_error)
}
