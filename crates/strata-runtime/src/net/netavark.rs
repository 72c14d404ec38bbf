//! netavark's input and output (its `NetworkOptions` and `StatusBlock`,
//! as of Debian's netavark 1.4) and where its binaries live.
//!
//! strata hands netavark static addresses (IPAM is ours), asks every
//! bridge to be `isolate`d (docker's isolation between networks: a
//! container reaches only the networks it is attached to), enables DNS
//! (aardvark-dns) on user-defined networks only, and never asks it for
//! port mappings: `-p` is a userland proxy ([`super::proxy_linux`]), so no
//! DNAT rule is ever needed. netavark runs inside the infra namespace, so
//! its "host" is that namespace.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::networks::Attachment;

/// Where distributions install netavark and aardvark-dns.
const LIBEXEC_DIRS: &[&str] = &[
    "/usr/lib/podman",
    "/usr/libexec/podman",
    "/usr/local/libexec/podman",
    "/usr/local/lib/podman",
];

/// Finds a helper binary (`netavark`, `aardvark-dns`, `pasta`):
/// `STRATA_<NAME>` (upper case, `-` as `_`), podman's libexec
/// directories, then `$PATH`.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let var = format!("STRATA_{}", name.to_ascii_uppercase().replace('-', "_"));
    if let Some(p) = std::env::var_os(var).map(PathBuf::from) {
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    LIBEXEC_DIRS
        .iter()
        .map(PathBuf::from)
        .chain(std::env::split_paths(&path))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// One network as netavark sees it.
#[derive(Debug, Clone, Serialize)]
pub struct NetInfo {
    name: String,
    id: String,
    driver: String,
    network_interface: String,
    subnets: Vec<Subnet>,
    ipv6_enabled: bool,
    internal: bool,
    dns_enabled: bool,
    options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
struct Subnet {
    subnet: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway: Option<String>,
}

/// A container's options on one network.
#[derive(Debug, Clone, Serialize)]
pub struct PerNetwork {
    interface_name: String,
    static_ips: Vec<String>,
    static_mac: Option<String>,
    aliases: Option<Vec<String>>,
}

/// netavark's `NetworkOptions`.
#[derive(Debug, Clone, Serialize)]
pub struct Options {
    container_id: String,
    container_name: String,
    networks: BTreeMap<String, PerNetwork>,
    network_info: BTreeMap<String, NetInfo>,
    port_mappings: Option<Vec<()>>,
    dns_servers: Option<Vec<String>>,
}

/// One endpoint to set up: an attachment with its address, the interface
/// name in the container and the names aardvark-dns answers.
#[derive(Debug, Clone)]
pub struct Endpoint<'a> {
    /// The attachment (with `ip` and `mac` set).
    pub att: &'a Attachment,
    /// `eth0`, `eth1`, …
    pub interface: String,
    /// DNS names besides the container's name (aliases, short ID).
    pub aliases: Vec<String>,
}

impl Options {
    /// The options for `endpoints` of container `id` named `name`, with
    /// `dns` as the container's upstream DNS servers (`--dns`).
    pub fn new(id: &str, name: &str, endpoints: &[Endpoint<'_>], dns: &[String]) -> Options {
        let mut networks = BTreeMap::new();
        let mut info = BTreeMap::new();
        for ep in endpoints {
            let net = &ep.att.network;
            let pool = net.pool().ok();
            let mut options = BTreeMap::new();
            options.insert("isolate".to_string(), "true".to_string());
            info.insert(
                net.name.clone(),
                NetInfo {
                    name: net.name.clone(),
                    id: net.id.clone(),
                    driver: "bridge".into(),
                    network_interface: net.spec.interface.clone(),
                    subnets: pool
                        .iter()
                        .map(|p| Subnet {
                            subnet: p.subnet.to_string(),
                            gateway: p.gateway.map(|g| g.to_string()),
                        })
                        .collect(),
                    ipv6_enabled: false,
                    internal: net.spec.internal,
                    dns_enabled: net.dns_enabled(),
                    options,
                },
            );
            networks.insert(
                net.name.clone(),
                PerNetwork {
                    interface_name: ep.interface.clone(),
                    static_ips: ep.att.ip.iter().map(|i| i.to_string()).collect(),
                    static_mac: ep.att.mac.clone(),
                    aliases: net.dns_enabled().then(|| ep.aliases.clone()),
                },
            );
        }
        Options {
            container_id: id.to_string(),
            container_name: name.to_string(),
            networks,
            network_info: info,
            port_mappings: None,
            dns_servers: (!dns.is_empty()).then(|| dns.to_vec()),
        }
    }

    /// The JSON netavark reads on stdin.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What netavark prints after `setup`: per network, the interfaces made.
pub type Status = BTreeMap<String, StatusBlock>;

/// netavark's `StatusBlock`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StatusBlock {
    /// DNS servers to use (aardvark-dns on user networks).
    #[serde(default)]
    pub dns_server_ips: Option<Vec<String>>,
    /// Interfaces by name.
    #[serde(default)]
    pub interfaces: Option<BTreeMap<String, serde_json::Value>>,
}

/// netavark's error output (`{"error":"…"}` on stdout).
pub fn error_message(stdout: &str, stderr: &str) -> String {
    #[derive(Deserialize)]
    struct E {
        error: String,
    }
    serde_json::from_str::<E>(stdout.trim())
        .map(|e| e.error)
        .unwrap_or_else(|_| {
            let s = format!("{} {}", stdout.trim(), stderr.trim());
            s.trim().to_string()
        })
}

/// The arguments of a netavark invocation (`setup` or `teardown`) with
/// `config` as its state directory (aardvark-dns's lives below it).
pub fn args(config: &Path, aardvark: Option<&Path>, verb: &str, netns: &str) -> Vec<String> {
    let mut a = vec!["--config".to_string(), config.display().to_string()];
    if let Some(p) = aardvark {
        a.push("--aardvark-binary".into());
        a.push(p.display().to_string());
    }
    a.push(verb.into());
    a.push(netns.into());
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::networks::{EndpointConfig, Network, NetworkSpec};

    #[test]
    fn options_are_what_netavark_1_4_reads() {
        let att = Attachment {
            network: Network {
                id: "ab".repeat(32),
                name: "n1".into(),
                driver: "bridge".into(),
                created: String::new(),
                spec: NetworkSpec {
                    subnet: Some("172.18.0.0/16".into()),
                    gateway: Some("172.18.0.1".into()),
                    interface: "br-abababababab".into(),
                    ..NetworkSpec::default()
                },
            },
            config: EndpointConfig::default(),
            position: 0,
            ip: Some("172.18.0.2".parse().unwrap()),
            mac: Some("02:42:ac:12:00:02".into()),
        };
        let ep = Endpoint {
            att: &att,
            interface: "eth0".into(),
            aliases: vec!["web".into()],
        };
        let o = Options::new("c1", "name", &[ep], &[]);
        let v: serde_json::Value = serde_json::from_str(&o.to_json()).unwrap();
        assert_eq!(v["networks"]["n1"]["static_ips"][0], "172.18.0.2");
        assert_eq!(v["networks"]["n1"]["aliases"][0], "web");
        assert_eq!(v["network_info"]["n1"]["dns_enabled"], true);
        assert_eq!(v["network_info"]["n1"]["options"]["isolate"], "true");
        assert_eq!(
            v["network_info"]["n1"]["subnets"][0]["gateway"],
            "172.18.0.1"
        );
        assert_eq!(v["dns_servers"], serde_json::Value::Null);
        assert_eq!(error_message(r#"{"error":"boom"}"#, ""), "boom".to_string());
    }
}
