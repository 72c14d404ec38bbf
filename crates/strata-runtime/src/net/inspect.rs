//! docker's JSON for networks: a container's `NetworkSettings` (and the
//! network fields of its `HostConfig`), `network inspect`, and the
//! `NETWORKS`/`PORTS` of `ps`.
//!
//! As in docker 20.10, the top-level `IPAddress`/`Gateway`/`MacAddress`
//! are those of the default `bridge` network only, `Networks` has one
//! entry per attachment (empty addresses while stopped), `Aliases` is
//! `null` on the default bridge, and `Ports` exists only while running.

use serde_json::{Value, json};
use strata_store::Store;

use super::NetMode;
use super::attach_linux::{aliases, mac_of};
use super::networks::{self, Attachment, Network};
use super::ports;
use crate::containers::Container;

/// A stable 64-hex ID made of `parts` (docker's endpoint and sandbox IDs
/// are random; ours derive from the container and network).
fn derived_id(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

fn endpoint_id(container_id: &str, net: &Network) -> String {
    derived_id(&[container_id, &net.id])
}

fn network_entry(c: &Container, a: &Attachment, running: bool) -> Value {
    let live = running && a.ip.is_some();
    let user = !a.network.is_default_bridge();
    json!({
        "IPAMConfig": match (&a.config.ipv4, user) {
            (Some(ip), true) => json!({"IPv4Address": ip}),
            (None, true) if !live => json!({}),
            _ => Value::Null,
        },
        "Links": null,
        "Aliases": if user { json!(aliases(c, &a.config)) } else { Value::Null },
        "NetworkID": if live { a.network.id.clone() } else { String::new() },
        "EndpointID": if live { endpoint_id(&c.id, &a.network) } else { String::new() },
        "Gateway": if live { a.gateway().map(|g| g.to_string()).unwrap_or_default() } else { String::new() },
        "IPAddress": if live { a.ip.map(|i| i.to_string()).unwrap_or_default() } else { String::new() },
        "IPPrefixLen": if live { a.prefix_len() } else { 0 },
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "MacAddress": if live { mac_of(a) } else { String::new() },
        "DriverOpts": if user { json!({}) } else { Value::Null },
    })
}

fn empty_entry() -> Value {
    json!({
        "IPAMConfig": null,
        "Links": null,
        "Aliases": null,
        "NetworkID": "",
        "EndpointID": "",
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "MacAddress": "",
        "DriverOpts": null,
    })
}

/// The `Networks` of a container's `NetworkSettings`, from its
/// attachments (`atts`, as [`networks::attachments`] or
/// [`networks::all_attachments`] give them): the container list builds it
/// for every container from one query.
pub fn networks_of(c: &Container, atts: &[Attachment]) -> serde_json::Map<String, Value> {
    let running = c.is_running();
    let mode = NetMode::parse(&c.spec.host_config.network_mode).unwrap_or_default();
    let mut nets = serde_json::Map::new();
    match &mode {
        NetMode::Host | NetMode::None | NetMode::Pasta => {
            nets.insert(mode.as_string(), empty_entry());
        }
        _ => {}
    }
    for a in atts {
        nets.insert(a.network.name.clone(), network_entry(c, a, running));
    }
    nets
}

/// A container's `NetworkSettings`.
pub fn network_settings(store: &Store, c: &Container) -> Value {
    let running = c.is_running();
    let atts = networks::attachments(store, &c.id).unwrap_or_default();
    let nets = networks_of(c, &atts);
    let bridge = atts
        .iter()
        .find(|a| a.network.is_default_bridge() && running && a.ip.is_some());
    let ports = if running {
        json!(c.state.net.ports)
    } else {
        json!({})
    };
    let sandbox = if running {
        c.state.net.sandbox.clone()
    } else {
        String::new()
    };
    let sandbox_id = if running && !sandbox.is_empty() {
        derived_id(&[&c.id, "sandbox"])
    } else {
        String::new()
    };
    json!({
        "Bridge": "",
        "SandboxID": sandbox_id,
        "HairpinMode": false,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": ports,
        "SandboxKey": sandbox,
        "SecondaryIPAddresses": null,
        "SecondaryIPv6Addresses": null,
        "EndpointID": bridge.map(|a| endpoint_id(&c.id, &a.network)).unwrap_or_default(),
        "Gateway": bridge.and_then(|a| a.gateway()).map(|g| g.to_string()).unwrap_or_default(),
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": bridge.and_then(|a| a.ip).map(|i| i.to_string()).unwrap_or_default(),
        "IPPrefixLen": bridge.map(|a| a.prefix_len()).unwrap_or(0),
        "IPv6Gateway": "",
        "MacAddress": bridge.map(mac_of).unwrap_or_default(),
        "Networks": nets,
    })
}

/// Overwrites the network fields of an inspect `HostConfig` (in place, so
/// they keep docker's order).
pub fn patch_host_config(host_config: &mut Value, c: &Container) {
    let Some(obj) = host_config.as_object_mut() else {
        return;
    };
    let n = &c.spec.host_config.net;
    obj.insert("PortBindings".into(), json!(n.port_bindings));
    obj.insert("PublishAllPorts".into(), json!(n.publish_all_ports));
    obj.insert("Dns".into(), json!(n.dns));
    obj.insert("DnsOptions".into(), json!(n.dns_options));
    obj.insert("DnsSearch".into(), json!(n.dns_search));
    obj.insert("ExtraHosts".into(), json!(n.extra_hosts));
    // docker shows a link as `/child:/parent/alias`.
    let links: Option<Vec<String>> = n.links.as_ref().map(|ls| {
        ls.iter()
            .filter_map(|l| super::links::parse_link(l).ok())
            .map(|(name, alias)| format!("/{name}:/{}/{alias}", c.name))
            .collect()
    });
    obj.insert("Links".into(), json!(links));
}

/// `ps`'s `PORTS` of a container.
pub fn ports_column(c: &Container) -> String {
    if !c.is_running() {
        return String::new();
    }
    ports::display_ports(&ports::port_list(&c.state.net.ports))
}

/// `ps`'s `NETWORKS` of a container (`atts`: its attachments).
pub fn networks_column(c: &Container, atts: &[Attachment]) -> String {
    let mode = NetMode::parse(&c.spec.host_config.network_mode).unwrap_or_default();
    match mode {
        NetMode::Host | NetMode::None | NetMode::Pasta => mode.as_string(),
        NetMode::Container(_) => String::new(),
        _ => atts
            .iter()
            .map(|a| a.network.name.clone())
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// `network inspect`'s document for `net`; `running` finds a container by
/// ID (the running ones are listed under `Containers`).
pub fn network_json(
    store: &Store,
    net: &Network,
    running: &dyn Fn(&str) -> Option<Container>,
) -> Value {
    let mut containers = serde_json::Map::new();
    for e in networks::endpoints(store, net).unwrap_or_default() {
        let Some(ip) = e.ip.as_deref() else { continue };
        let Some(c) = running(&e.container_id) else {
            continue;
        };
        let prefix = net.pool().map(|p| p.subnet.prefix_len()).unwrap_or(0);
        containers.insert(
            c.id.clone(),
            json!({
                "Name": c.name,
                "EndpointID": endpoint_id(&c.id, net),
                "MacAddress": e.mac.clone().unwrap_or_default(),
                "IPv4Address": format!("{ip}/{prefix}"),
                "IPv6Address": "",
            }),
        );
    }
    let ipam_config = match &net.spec.subnet {
        None => json!([]),
        Some(s) => {
            let mut m = serde_json::Map::new();
            m.insert("Subnet".into(), json!(s));
            if let Some(r) = &net.spec.ip_range {
                m.insert("IPRange".into(), json!(r));
            }
            if let Some(g) = net
                .spec
                .gateway
                .as_ref()
                .filter(|_| !net.is_default_bridge())
            {
                m.insert("Gateway".into(), json!(g));
            }
            json!([m])
        }
    };
    json!({
        "Name": net.name,
        "Id": net.id,
        "Created": net.created,
        "Scope": "local",
        "Driver": net.driver,
        "EnableIPv6": false,
        "IPAM": {
            "Driver": "default",
            "Options": if net.is_predefined() { Value::Null } else { json!({}) },
            "Config": ipam_config,
        },
        "Internal": net.spec.internal,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": net.spec.options,
        "Labels": net.spec.labels,
    })
}
