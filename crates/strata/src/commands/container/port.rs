//! `strata container port` (`port`): the published ports of a running
//! container, as docker prints them (`80/tcp -> 0.0.0.0:8080`, or with a
//! port, just `0.0.0.0:8080`).

use clap::Args;
use strata_runtime::net::ports::{PortKey, port_lines};

use super::lookup;
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `port`.
#[derive(Debug, Args)]
pub struct PortArgs {
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// A private port, with an optional protocol (80, 80/udp)
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub port: Option<String>,
}

/// Runs `port`.
pub fn run(ctx: &Ctx, args: PortArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let c = lookup(store, &args.container)?;
    let ports = if c.is_running() {
        c.state.net.ports.clone()
    } else {
        Default::default()
    };
    let Some(want) = &args.port else {
        for l in port_lines(&ports) {
            println!("{l}");
        }
        return Ok(0);
    };
    let key = PortKey::parse(want).ok_or_else(|| {
        ExitError::new(
            1,
            format!("No public port '{want}' published for {}", args.container),
        )
    })?;
    let shown = key.to_string();
    match ports.get(&shown) {
        Some(Some(list)) if !list.is_empty() => {
            for b in list {
                println!("{}:{}", b.host_ip, b.host_port);
            }
            Ok(0)
        }
        _ => Err(ExitError::new(
            1,
            format!("No public port '{shown}' published for {}", args.container),
        )
        .into()),
    }
}
