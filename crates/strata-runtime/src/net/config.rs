//! The network part of `create`/`run`: the flags ([`NetOptions`]), their
//! place in the container's documents ([`NetHostConfig`] in `HostConfig`,
//! [`NetConfig`] in `Config`, both flattened so `inspect` shows docker's
//! field names), and docker's checks at create time (conflicting modes,
//! unknown networks, bad ports, `--ip` rules).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strata_store::Store;

use super::NetMode;
use super::networks::{self, EndpointConfig, Network};
use super::ports::{self, PortBindings};
use crate::containers;
use crate::error::{Result, RuntimeError};

/// The network flags of `create`/`run`.
#[derive(Debug, Clone, Default)]
pub struct NetOptions {
    /// `--network`.
    pub network: Option<String>,
    /// `--network-alias`.
    pub aliases: Vec<String>,
    /// `--ip`.
    pub ip: Option<String>,
    /// `-p/--publish`.
    pub publish: Vec<String>,
    /// `-P/--publish-all`.
    pub publish_all: bool,
    /// `--expose`.
    pub expose: Vec<String>,
    /// `--dns`.
    pub dns: Vec<String>,
    /// `--dns-search`.
    pub dns_search: Vec<String>,
    /// `--dns-option`.
    pub dns_option: Vec<String>,
    /// `--add-host name:ip`.
    pub add_host: Vec<String>,
    /// `--domainname`.
    pub domainname: Option<String>,
    /// `-h/--hostname` was given.
    pub hostname_given: bool,
    /// `--link NAME[:ALIAS]`.
    pub links: Vec<String>,
}

/// The network fields of docker's `HostConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetHostConfig {
    /// `-p`.
    #[serde(default)]
    pub port_bindings: PortBindings,
    /// `-P`.
    #[serde(default)]
    pub publish_all_ports: bool,
    /// `--dns`.
    #[serde(default)]
    pub dns: Vec<String>,
    /// `--dns-option`.
    #[serde(default)]
    pub dns_options: Vec<String>,
    /// `--dns-search`.
    #[serde(default)]
    pub dns_search: Vec<String>,
    /// `--add-host` (docker writes `null` when empty).
    #[serde(default)]
    pub extra_hosts: Option<Vec<String>>,
    /// `--link`, as `NAME:ALIAS` (`null` when empty).
    #[serde(default)]
    pub links: Option<Vec<String>>,
}

impl NetHostConfig {
    /// The DNS flags.
    pub fn dns_flags(&self) -> super::hosts::DnsFlags {
        super::hosts::DnsFlags {
            servers: self.dns.clone(),
            search: self.dns_search.clone(),
            options: self.dns_options.clone(),
        }
    }
}

/// The network fields of docker's `Config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetConfig {
    /// Exposed ports (the image's, `--expose`, `-p`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
}

/// What `create` records about the network.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// `HostConfig.NetworkMode`.
    pub mode: String,
    /// `HostConfig` fields.
    pub host_config: NetHostConfig,
    /// `Config` fields.
    pub config: NetConfig,
    /// `Config.Domainname`.
    pub domainname: String,
    /// Networks to attach the new container to.
    pub attach: Vec<(Network, EndpointConfig)>,
    /// docker's warnings (printed by the CLI).
    pub warnings: Vec<String>,
}

fn conflict(what: &str) -> RuntimeError {
    RuntimeError::Invalid(format!("conflicting options: {what} and the network mode"))
}

fn check_extra_host(h: &str) -> Result<String> {
    let bad = || {
        RuntimeError::Invalid(format!(
            "invalid argument \"{h}\" for \"--add-host\" flag: bad format for add-host: \"{h}\""
        ))
    };
    let (name, ip) = h.split_once(':').ok_or_else(bad)?;
    if name.is_empty() {
        return Err(bad());
    }
    if ip == "host-gateway" {
        // docker's host gateway is the default bridge's gateway.
        return Ok(format!("{name}:{ip}"));
    }
    ip.parse::<std::net::IpAddr>().map_err(|_| {
        RuntimeError::Invalid(format!(
            "invalid argument \"{h}\" for \"--add-host\" flag: invalid IP address in add-host: \"{ip}\""
        ))
    })?;
    Ok(h.to_string())
}

/// Checks the flags and computes what `create` records. `image_exposed`
/// are the keys of the image's `ExposedPorts`.
pub fn prepare(store: &Store, o: &NetOptions, image_exposed: &[String]) -> Result<Prepared> {
    let mode = NetMode::parse(o.network.as_deref().unwrap_or("default"))?;
    let mut out = Prepared {
        mode: mode.as_string(),
        domainname: o.domainname.clone().unwrap_or_default(),
        ..Prepared::default()
    };
    let mut bindings = PortBindings::new();
    for p in &o.publish {
        for (key, b) in ports::parse_publish(p)? {
            bindings.entry(key.to_string()).or_default().push(b);
        }
    }
    let mut exposed: BTreeMap<String, serde_json::Value> = image_exposed
        .iter()
        .map(|k| (k.clone(), serde_json::json!({})))
        .collect();
    for e in &o.expose {
        for key in ports::parse_expose(e)? {
            exposed.insert(key.to_string(), serde_json::json!({}));
        }
    }
    for key in bindings.keys() {
        exposed.insert(key.clone(), serde_json::json!({}));
    }
    let links = super::links::check(store, &o.links, &mode)?;
    let extra_hosts = o
        .add_host
        .iter()
        .map(|h| check_extra_host(h))
        .collect::<Result<Vec<_>>>()?;
    match &mode {
        NetMode::Container(other) => {
            containers::lookup(store, other)?;
            if o.hostname_given || o.domainname.is_some() {
                return Err(conflict("hostname"));
            }
            if !o.dns.is_empty() || !o.dns_search.is_empty() || !o.dns_option.is_empty() {
                return Err(conflict("dns"));
            }
            if !extra_hosts.is_empty() {
                return Err(conflict("custom host-to-IP mapping"));
            }
            if !bindings.is_empty() || o.publish_all || !o.expose.is_empty() {
                return Err(RuntimeError::Invalid(
                    "conflicting options: port publishing and the container type network mode"
                        .into(),
                ));
            }
        }
        NetMode::Host | NetMode::None if !bindings.is_empty() || o.publish_all => {
            if mode == NetMode::Host {
                out.warnings
                    .push("Published ports are discarded when using host network mode".into());
            }
            bindings.clear();
        }
        _ => {}
    }
    if let Some(name) = mode.network_name() {
        let net = networks::lookup(store, name).map_err(|e| match e {
            RuntimeError::NoSuchNetwork(_) => RuntimeError::NoSuchNetwork(name.to_string()),
            other => other,
        })?;
        let cfg = EndpointConfig {
            aliases: o.aliases.clone(),
            ipv4: o.ip.clone(),
        };
        networks::check_endpoint(&net, &cfg, mode != NetMode::Default)?;
        out.attach.push((net, cfg));
    } else if (o.ip.is_some() || !o.aliases.is_empty())
        && matches!(mode, NetMode::Container(_) | NetMode::Host)
    {
        return Err(RuntimeError::Invalid(
            "conflicting options: network-scoped aliases and --ip need a bridge or user-defined network".into(),
        ));
    }
    out.host_config = NetHostConfig {
        port_bindings: bindings,
        publish_all_ports: o.publish_all,
        dns: o.dns.clone(),
        dns_options: o.dns_option.clone(),
        dns_search: o.dns_search.clone(),
        extra_hosts: (!extra_hosts.is_empty()).then_some(extra_hosts),
        links: (!links.is_empty()).then_some(links),
    };
    out.config = NetConfig {
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
    };
    Ok(out)
}

/// Records a new container's attachments.
pub fn record(store: &Store, container_id: &str, p: &Prepared) -> Result<()> {
    networks::attach(store, container_id, &p.attach)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Host {
        #[serde(default)]
        network_mode: String,
        #[serde(flatten)]
        net: NetHostConfig,
        #[serde(flatten)]
        extra: serde_json::Map<String, serde_json::Value>,
    }

    #[test]
    fn flattened_fields_round_trip_beside_unknown_ones() {
        let doc = r#"{"NetworkMode":"default","PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]},"Dns":["1.1.1.1"],"Future":7}"#;
        let h: Host = serde_json::from_str(doc).unwrap();
        assert_eq!(h.net.port_bindings["80/tcp"][0].host_port, "8080");
        assert_eq!(h.net.dns, ["1.1.1.1"]);
        assert_eq!(h.extra.len(), 1, "{:?}", h.extra);
        let back = serde_json::to_value(&h).unwrap();
        assert_eq!(back["Future"], 7);
        assert_eq!(back["PublishAllPorts"], false);
        assert_eq!(back["ExtraHosts"], serde_json::Value::Null);
        let again: Host = serde_json::from_value(back).unwrap();
        assert_eq!(again, h);
    }

    #[test]
    fn modes_conflict_as_in_docker() {
        let t = tempfile::tempdir().unwrap();
        let s = Store::open(t.path()).unwrap();
        let o = NetOptions {
            network: Some("nope".into()),
            ..NetOptions::default()
        };
        assert_eq!(
            prepare(&s, &o, &[]).unwrap_err().to_string(),
            "network nope not found"
        );
        let o = NetOptions {
            network: Some("host".into()),
            publish: vec!["8080:80".into()],
            ..NetOptions::default()
        };
        let p = prepare(&s, &o, &[]).unwrap();
        assert!(p.host_config.port_bindings.is_empty());
        assert_eq!(p.warnings.len(), 1);
        let exposed = ["7000/tcp".to_string()];
        let o = NetOptions {
            publish: vec!["127.0.0.1:8080:80".into()],
            expose: vec!["90/udp".into()],
            add_host: vec!["a.b:1.2.3.4".into()],
            ..NetOptions::default()
        };
        let p = prepare(&s, &o, &exposed).unwrap();
        assert_eq!(p.mode, "default");
        let keys: Vec<&String> = p.config.exposed_ports.as_ref().unwrap().keys().collect();
        assert_eq!(keys, ["7000/tcp", "80/tcp", "90/udp"]);
        assert_eq!(p.attach.len(), 1);
        assert_eq!(p.attach[0].0.name, "bridge");
        let o = NetOptions {
            add_host: vec!["nohost".into()],
            ..NetOptions::default()
        };
        assert!(prepare(&s, &o, &[]).is_err());
    }
}
