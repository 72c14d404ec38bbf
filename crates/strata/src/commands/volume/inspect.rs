//! `strata volume inspect`: docker's volume JSON.

use clap::Args;
use strata_format::output::render_inspect;
use strata_runtime::volumes;

use super::{daemon_error, volume_json};
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `volume inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using the given Go template
    #[arg(short, long, value_name = "string")]
    pub format: Option<String>,
    /// Volumes to inspect
    #[arg(required = true, value_name = "VOLUME")]
    pub volumes: Vec<String>,
}

/// Runs `volume inspect`.
pub fn run(ctx: &Ctx, args: InspectArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let mut objects = Vec::new();
    let mut missing = Vec::new();
    for n in &args.volumes {
        match volumes::get(store, n).map_err(daemon_error)? {
            Some(v) => objects.push(volume_json(&v)),
            None => missing.push(n.clone()),
        }
    }
    let out = render_inspect(args.format.as_deref().unwrap_or(""), &objects)
        .map_err(|e| ExitError::new(64, e.to_string()))?;
    print!("{}", out.stdout);
    for e in &out.errors {
        eprintln!("{e}");
    }
    for m in &missing {
        eprintln!("Error: No such volume: {m}");
    }
    Ok(if out.errors.is_empty() && missing.is_empty() {
        0
    } else {
        1
    })
}
