//! `strata network connect` / `disconnect`: attach a container to a
//! network (a running one at once, through the infra process; a stopped
//! one at its next start) or detach it.

use clap::Args;
use strata_runtime::RuntimeError;
use strata_runtime::containers::{self, Container};
use strata_runtime::net::NetMode;
use strata_runtime::net::attach_linux;
use strata_runtime::net::networks::{self, EndpointConfig, Network};

use strata_store::Store;

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

fn check_mode(c: &Container, net: &Network) -> Result<(), RuntimeError> {
    let refuse = |m: String| Err(RuntimeError::Invalid(m));
    match NetMode::parse(&c.spec.host_config.network_mode).unwrap_or_default() {
        NetMode::Host => refuse(
            "container cannot be disconnected from host network or connected to host network"
                .into(),
        ),
        NetMode::None => refuse(
            "container cannot be connected to multiple networks with one of the networks in private (none) mode".into(),
        ),
        NetMode::Container(_) => refuse(
            "conflicting options: container type network can't be used with other networks"
                .into(),
        ),
        NetMode::Pasta => refuse(format!(
            "container {} uses pasta networking and cannot join network {}",
            c.name, net.name
        )),
        _ => Ok(()),
    }
}

/// Connects container `c` to `net` (at once when it runs, else at its
/// next start): what `network connect` and the API's
/// `POST /networks/{id}/connect` do.
pub fn connect_endpoint(
    store: &Store,
    net: &Network,
    c: &Container,
    cfg: EndpointConfig,
) -> Result<(), RuntimeError> {
    check_mode(c, net)?;
    let have = networks::attachments(store, &c.id)?;
    if have.iter().any(|a| a.network.id == net.id) {
        return Err(RuntimeError::Invalid(format!(
            "endpoint with name {} already exists in network {}",
            c.name, net.name
        )));
    }
    networks::check_endpoint(net, &cfg, true)?;
    networks::attach(store, &c.id, &[(net.clone(), cfg)])?;
    if c.is_running()
        && let Err(e) = attach_linux::connect_running(store, c, net)
    {
        let _ = networks::detach(store, &c.id, net);
        return Err(e);
    }
    Ok(())
}

/// Disconnects container `c` from `net`: what `network disconnect` and
/// the API's `POST /networks/{id}/disconnect` do.
pub fn disconnect_endpoint(
    store: &Store,
    net: &Network,
    c: &Container,
) -> Result<(), RuntimeError> {
    if NetMode::parse(&c.spec.host_config.network_mode).unwrap_or_default() == NetMode::Host {
        return Err(RuntimeError::Invalid(
            "container cannot be disconnected from host network or connected to host network"
                .into(),
        ));
    }
    let have = networks::attachments(store, &c.id)?;
    if !have.iter().any(|a| a.network.id == net.id) {
        return Err(RuntimeError::Invalid(format!(
            "container {} is not connected to network {}",
            c.id, net.name
        )));
    }
    if c.is_running() {
        attach_linux::disconnect_running(store, c, net)?;
    }
    networks::detach(store, &c.id, net)
}

/// Runs `network connect`.
pub fn connect(ctx: &Ctx, args: ConnectArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let net = lookup(store, &args.network)?;
    let c = container(store, &args.container)?;
    let cfg = EndpointConfig {
        aliases: args.aliases,
        ipv4: args.ip,
    };
    connect_endpoint(store, &net, &c, cfg).map_err(daemon_error)?;
    Ok(0)
}

/// Runs `network disconnect`.
pub fn disconnect(ctx: &Ctx, args: DisconnectArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let net = lookup(store, &args.network)?;
    let c = container(store, &args.container)?;
    disconnect_endpoint(store, &net, &c).map_err(daemon_error)?;
    let _ = args.force;
    Ok(0)
}
