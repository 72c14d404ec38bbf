//! Container networking, as docker users expect it, without anything in
//! the host's own network namespace.
//!
//! ```text
//!  host netns                      infra netns (one per store root)
//!  ─────────                       ──────────────────────────────────────
//!  -p listeners ── proxy ────────> docker0 172.17.0.1 ─ veth ─ container eth0
//!  (supervisor binds,   (setns'd     br-<id12> 172.18.0.1 ─ veth ─ …
//!   proxy forwards)      into infra)  aardvark-dns :53 on user gateways
//!  host sockets <──── pasta ───────── tap (default route, NAT by netavark)
//! ```
//!
//! * Every container gets its own network namespace by default (docker's
//!   `bridge` network); `host`, `none`, `container:NAME`, user networks
//!   and `pasta` (a pasta process of its own, podman's rootless default)
//!   are the other modes ([`NetMode`]).
//! * The bridges live in the *infra namespace* held by the infra process
//!   of the store root ([`infra_linux`]): it runs netavark for every
//!   attach and detach, one pasta process links it to the outside through
//!   host sockets (gateway mapping off: no container reaches the host's
//!   loopback), and netavark's aardvark-dns answers container names on
//!   user networks ([`infra_client_linux`]: the supervisors' side). It
//!   lives as long as some container uses it (and 2 s more).
//! * strata does the IPAM ([`ipam`], records in [`networks`]); netavark
//!   gets static addresses ([`netavark`]). Once netavark made the default
//!   bridge, further containers on it are attached by the infra process
//!   itself over rtnetlink ([`veth_linux`]).
//! * The supervisor of a container attaches it ([`attach_linux`]) and
//!   runs its userland proxy for `-p` ([`proxy_linux`]); rootless, a
//!   child holds the container's namespace ([`holder_linux`]).
//! * [`ports`], [`hosts`], [`inspect`]: docker's port syntax and display,
//!   `/etc/hosts` and `resolv.conf`, the `NetworkSettings` document;
//!   [`links`]: docker's legacy `--link` (hosts lines, environment).

pub mod attach_linux;
pub mod config;
pub mod dns_probe_linux;
mod holder_linux;
pub mod hosts;
pub mod infra_client_linux;
pub mod infra_linux;
pub mod inspect;
pub mod ipam;
pub mod links;
pub mod netavark;
pub mod networks;
pub mod ports;
pub mod proxy_linux;
pub mod veth_linux;

pub use config::{NetConfig, NetHostConfig, NetOptions};

use crate::error::{Result, RuntimeError};

/// docker's `--network` values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NetMode {
    /// Not given: the default `bridge` network (docker writes `default`).
    #[default]
    Default,
    /// `bridge`.
    Bridge,
    /// `host`: the host's network namespace.
    Host,
    /// `none`: a namespace with only `lo`.
    None,
    /// `container:NAME`: another container's namespace.
    Container(String),
    /// `pasta`: a namespace connected by a pasta process of its own.
    Pasta,
    /// A user-defined network.
    Named(String),
}

impl NetMode {
    /// Parses a `--network` value (or a stored `NetworkMode`).
    pub fn parse(s: &str) -> Result<NetMode> {
        Ok(match s {
            "" | "default" => NetMode::Default,
            "bridge" => NetMode::Bridge,
            "host" => NetMode::Host,
            "none" => NetMode::None,
            "pasta" => NetMode::Pasta,
            other => match other.strip_prefix("container:") {
                Some("") => {
                    return Err(RuntimeError::Invalid(
                        "invalid container format container:<name|id>".into(),
                    ));
                }
                Some(c) => NetMode::Container(c.to_string()),
                None => NetMode::Named(other.to_string()),
            },
        })
    }

    /// The stored `HostConfig.NetworkMode`.
    pub fn as_string(&self) -> String {
        match self {
            NetMode::Default => "default".into(),
            NetMode::Bridge => "bridge".into(),
            NetMode::Host => "host".into(),
            NetMode::None => "none".into(),
            NetMode::Pasta => "pasta".into(),
            NetMode::Container(c) => format!("container:{c}"),
            NetMode::Named(n) => n.clone(),
        }
    }

    /// The network a container of this mode is first attached to.
    pub fn network_name(&self) -> Option<&str> {
        match self {
            NetMode::Default | NetMode::Bridge => Some("bridge"),
            NetMode::Named(n) => Some(n),
            _ => None,
        }
    }

    /// The runtime spec's view: the host's namespace or one of its own.
    pub fn spec_mode(&self) -> crate::spec::NetworkMode {
        match self {
            NetMode::Host => crate::spec::NetworkMode::Host,
            _ => crate::spec::NetworkMode::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print_back() {
        for s in [
            "default",
            "bridge",
            "host",
            "none",
            "pasta",
            "container:web",
            "mynet",
        ] {
            assert_eq!(NetMode::parse(s).unwrap().as_string(), s);
        }
        assert_eq!(NetMode::parse("").unwrap(), NetMode::Default);
        assert!(NetMode::parse("container:").is_err());
        assert_eq!(
            NetMode::parse("mynet").unwrap().network_name(),
            Some("mynet")
        );
        assert_eq!(NetMode::Default.network_name(), Some("bridge"));
    }
}
