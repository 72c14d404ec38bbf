//! `strata network create`: a bridge network in the store's infra
//! namespace (made when a container first uses it); prints its ID.

use clap::Args;
use strata_runtime::net::networks::{self, CreateNetwork};

use super::daemon_error;
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `network create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Driver to manage the Network
    #[arg(short = 'd', long, value_name = "string", default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long, value_name = "strings")]
    pub subnet: Vec<String>,
    /// IPv4 Gateway for the master subnet
    #[arg(long, value_name = "strings")]
    pub gateway: Vec<String>,
    /// Allocate container ip from a sub-range
    #[arg(long, value_name = "strings")]
    pub ip_range: Vec<String>,
    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,
    /// Set metadata on a network
    #[arg(long = "label", value_name = "list")]
    pub labels: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt", value_name = "map")]
    pub options: Vec<String>,
    /// Enable manual container attachment (always possible here)
    #[arg(long)]
    pub attachable: bool,
    /// Enable IPv6 networking
    #[arg(long)]
    pub ipv6: bool,
    /// IP Address Management Driver
    #[arg(long, value_name = "string", default_value = "default")]
    pub ipam_driver: String,
    /// The network's name
    #[arg(value_name = "NETWORK")]
    pub name: String,
}

/// Runs `network create`.
pub fn run(ctx: &Ctx, args: CreateArgs) -> anyhow::Result<i32> {
    if args.ipv6 {
        return Err(
            ExitError::new(1, "strata networks are IPv4 only (--ipv6 is not supported)").into(),
        );
    }
    if args.ipam_driver != "default" {
        return Err(daemon_error(format!(
            "plugin \"{}\" not found",
            args.ipam_driver
        )));
    }
    let store = ctx.store()?;
    let n = networks::create(
        store,
        &CreateNetwork {
            name: args.name,
            driver: Some(args.driver),
            subnet: args.subnet,
            gateway: args.gateway,
            ip_range: args.ip_range,
            internal: args.internal,
            labels: args.labels,
            options: args.options,
        },
    )
    .map_err(daemon_error)?;
    println!("{}", n.id);
    Ok(0)
}
