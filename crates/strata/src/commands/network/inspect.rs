//! `strata network inspect`: docker's network JSON (running containers
//! under `Containers`).

use clap::Args;
use strata_format::output::render_inspect;
use strata_runtime::RuntimeError;
use strata_runtime::containers;
use strata_runtime::net::{inspect, networks};

use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `network inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using the given Go template
    #[arg(short, long, value_name = "string")]
    pub format: Option<String>,
    /// Verbose output for diagnostics (nothing more to show here)
    #[arg(short, long)]
    pub verbose: bool,
    /// Networks to inspect
    #[arg(required = true, value_name = "NETWORK")]
    pub networks: Vec<String>,
}

/// Runs `network inspect`.
pub fn run(ctx: &Ctx, args: InspectArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let mut objects = Vec::new();
    let mut missing = Vec::new();
    let running = |id: &str| {
        containers::get(store, id)
            .ok()
            .flatten()
            .filter(|c| c.is_running())
    };
    for n in &args.networks {
        match networks::lookup(store, n) {
            Ok(net) => objects.push(inspect::network_json(store, &net, &running)),
            Err(RuntimeError::NoSuchNetwork(_)) => missing.push(n.clone()),
            Err(e) => return Err(ExitError::new(1, e.to_string()).into()),
        }
    }
    let out = render_inspect(args.format.as_deref().unwrap_or(""), &objects)
        .map_err(|e| ExitError::new(64, e.to_string()))?;
    print!("{}", out.stdout);
    for e in &out.errors {
        eprintln!("{e}");
    }
    for m in &missing {
        eprintln!("Error: No such network: {m}");
    }
    Ok(if out.errors.is_empty() && missing.is_empty() {
        0
    } else {
        1
    })
}
