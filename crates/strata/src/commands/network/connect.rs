//! `strata network connect` / `disconnect`: attach a container to a
//! network (a running one at once, through the infra process; a stopped
//! one at its next start) or detach it.

use clap::Args;
use strata_runtime::containers::{self, Container};
use strata_runtime::net::NetMode;
use strata_runtime::net::attach_linux;
use strata_runtime::net::networks::{self, EndpointConfig, Network};

use super::{daemon_error, lookup};
use crate::context::Ctx;

/// Flags of `network connect`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Add network-scoped alias for the container
    #[arg(long = "alias", value_name = "strings")]
    pub aliases: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long, value_name = "string")]
    pub ip: Option<String>,
    /// The network
    #[arg(value_name = "NETWORK")]
    pub network: String,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// Flags of `network disconnect`.
#[derive(Debug, Args)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short = 'f', long)]
    pub force: bool,
    /// The network
    #[arg(value_name = "NETWORK")]
    pub network: String,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

fn container(store: &strata_store::Store, name: &str) -> anyhow::Result<Container> {
    containers::lookup(store, name).map_err(daemon_error)
}

fn check_mode(c: &Container, net: &Network) -> anyhow::Result<()> {
    match NetMode::parse(&c.spec.host_config.network_mode).unwrap_or_default() {
        NetMode::Host => Err(daemon_error(
            "container cannot be disconnected from host network or connected to host network",
        )),
        NetMode::None => Err(daemon_error(
            "container cannot be connected to multiple networks with one of the networks in private (none) mode",
        )),
        NetMode::Container(_) => Err(daemon_error(
            "conflicting options: container type network can't be used with other networks",
        )),
        NetMode::Pasta => Err(daemon_error(format!(
            "container {} uses pasta networking and cannot join network {}",
            c.name, net.name
        ))),
        _ => Ok(()),
    }
}

/// Runs `network connect`.
pub fn connect(ctx: &Ctx, args: ConnectArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let net = lookup(store, &args.network)?;
    let c = container(store, &args.container)?;
    check_mode(&c, &net)?;
    let have = networks::attachments(store, &c.id).map_err(daemon_error)?;
    if have.iter().any(|a| a.network.id == net.id) {
        return Err(daemon_error(format!(
            "endpoint with name {} already exists in network {}",
            c.name, net.name
        )));
    }
    let cfg = EndpointConfig {
        aliases: args.aliases,
        ipv4: args.ip,
    };
    networks::check_endpoint(&net, &cfg, true).map_err(daemon_error)?;
    networks::attach(store, &c.id, &[(net.clone(), cfg)]).map_err(daemon_error)?;
    if c.is_running()
        && let Err(e) = attach_linux::connect_running(store, &c, &net)
    {
        let _ = networks::detach(store, &c.id, &net);
        return Err(daemon_error(e));
    }
    Ok(0)
}

/// Runs `network disconnect`.
pub fn disconnect(ctx: &Ctx, args: DisconnectArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let net = lookup(store, &args.network)?;
    let c = container(store, &args.container)?;
    if NetMode::parse(&c.spec.host_config.network_mode).unwrap_or_default() == NetMode::Host {
        return Err(daemon_error(
            "container cannot be disconnected from host network or connected to host network",
        ));
    }
    let have = networks::attachments(store, &c.id).map_err(daemon_error)?;
    if !have.iter().any(|a| a.network.id == net.id) {
        return Err(daemon_error(format!(
            "container {} is not connected to network {}",
            c.id, net.name
        )));
    }
    if c.is_running() {
        attach_linux::disconnect_running(store, &c, &net).map_err(daemon_error)?;
    }
    networks::detach(store, &c.id, &net).map_err(daemon_error)?;
    let _ = args.force;
    Ok(0)
}
