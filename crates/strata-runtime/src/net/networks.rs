//! Network records (`networks` and `network_endpoints` tables) and the
//! operations of `network create/ls/rm/inspect/prune/connect/disconnect`,
//! with docker's rules and messages:
//!
//! * `bridge`, `host` and `none` exist in every store (created on first
//!   use) and cannot be removed; `bridge` is `172.17.0.0/16` on `docker0`;
//! * a user network gets the first free default pool unless `--subnet`,
//!   its bridge is `br-<id12>`; subnets never overlap;
//! * a network is in use while a container attached to it runs (its
//!   endpoint holds an address); `rm` and `prune` leave those alone;
//! * lookups go by full ID, then exact name, then unique ID prefix.
//!
//! Addresses are handed out at start ([`allocate`]) and released at stop
//! ([`release`]) in one transaction each, so concurrent starts never
//! share an address.

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use strata_store::Store;
use strata_store::db::networks::{self as q, EndpointRow, NetworkRow};

use super::ipam::{self, Pool};
use crate::error::{Result, RuntimeError};
use crate::names;

/// A network's configuration (the `spec` document).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// IPv4 subnet (bridge networks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// Gateway address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// `--ip-range`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
    /// The subnet was given by the user (`--ip` needs that, as in docker).
    #[serde(default)]
    pub user_subnet: bool,
    /// The gateway was given by the user (docker shows it only then).
    #[serde(default)]
    pub user_gateway: bool,
    /// `--internal`: no outbound access.
    #[serde(default)]
    pub internal: bool,
    /// `--label`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `-o/--opt`.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Bridge interface name in the infra namespace.
    #[serde(default)]
    pub interface: String,
}

/// A network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// Full 64-hex ID.
    pub id: String,
    /// Name.
    pub name: String,
    /// `bridge`, `host`, `null`.
    pub driver: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// Configuration.
    pub spec: NetworkSpec,
}

/// The names docker predefines.
pub const PREDEFINED: [&str; 3] = ["bridge", "host", "none"];

impl Network {
    fn from_row(row: NetworkRow) -> Result<Network> {
        let spec = serde_json::from_str(&row.spec).map_err(|e| {
            RuntimeError::Invalid(format!("network {}: corrupt record: {e}", row.name))
        })?;
        Ok(Network {
            id: row.id,
            name: row.name,
            driver: row.driver,
            created: row.created,
            spec,
        })
    }

    /// The 12-character ID.
    pub fn short_id(&self) -> &str {
        names::short_id(&self.id)
    }

    /// True for `bridge`, `host`, `none`.
    pub fn is_predefined(&self) -> bool {
        PREDEFINED.contains(&self.name.as_str())
    }

    /// True for the default `bridge` network.
    pub fn is_default_bridge(&self) -> bool {
        self.name == "bridge"
    }

    /// True if containers on it resolve each other's names (user-defined
    /// bridge networks, as in docker).
    pub fn dns_enabled(&self) -> bool {
        self.driver == "bridge" && !self.is_default_bridge()
    }

    /// The subnet, gateway and range of a bridge network.
    pub fn pool(&self) -> Result<Pool> {
        let bad = |what: &str, v: &str| {
            RuntimeError::Invalid(format!("network {}: invalid {what} {v:?}", self.name))
        };
        let subnet: Ipv4Net = match &self.spec.subnet {
            Some(s) => s.parse().map_err(|_| bad("subnet", s))?,
            None => {
                return Err(RuntimeError::Invalid(format!(
                    "network {} has no subnet",
                    self.name
                )));
            }
        };
        let range = match &self.spec.ip_range {
            Some(r) => Some(r.parse().map_err(|_| bad("ip range", r))?),
            None => None,
        };
        let gateway = match &self.spec.gateway {
            Some(g) => Some(g.parse().map_err(|_| bad("gateway", g))?),
            None => Some(ipam::default_gateway(&subnet)),
        };
        Ok(Pool {
            subnet,
            range,
            gateway,
        })
    }
}

/// What a user asked for when attaching a container (the endpoint's
/// `config` document).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointConfig {
    /// `--network-alias` / `network connect --alias`.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `--ip` / `network connect --ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<String>,
}

/// One attachment of a container, with its network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The network.
    pub network: Network,
    /// What the user asked for.
    pub config: EndpointConfig,
    /// Connection order.
    pub position: i64,
    /// The address while running.
    pub ip: Option<Ipv4Addr>,
    /// The MAC address while running.
    pub mac: Option<String>,
}

impl Attachment {
    /// The prefix length of the network's subnet.
    pub fn prefix_len(&self) -> u8 {
        self.network
            .pool()
            .map(|p| p.subnet.prefix_len())
            .unwrap_or(0)
    }

    /// The network's gateway.
    pub fn gateway(&self) -> Option<Ipv4Addr> {
        self.network.pool().ok().and_then(|p| p.gateway)
    }
}

fn new_row(name: &str, driver: &str, spec: &NetworkSpec) -> Result<NetworkRow> {
    Ok(NetworkRow {
        id: names::new_id(),
        name: name.to_string(),
        driver: driver.to_string(),
        created: strata_oci::config::rfc3339_now(),
        spec: serde_json::to_string(spec).map_err(|e| RuntimeError::Invalid(e.to_string()))?,
        last_ip: None,
    })
}

/// Creates `bridge`, `host` and `none` if this store lacks them.
pub fn ensure_predefined(store: &Store) -> Result<()> {
    let have = store.db().with(|c| Ok(q::by_name(c, "none")?.is_some()))?;
    if have {
        return Ok(());
    }
    let mut bridge_opts = BTreeMap::new();
    for (k, v) in [
        ("com.docker.network.bridge.default_bridge", "true"),
        ("com.docker.network.bridge.enable_icc", "true"),
        ("com.docker.network.bridge.enable_ip_masquerade", "true"),
        ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
        ("com.docker.network.bridge.name", "docker0"),
        ("com.docker.network.driver.mtu", "1500"),
    ] {
        bridge_opts.insert(k.to_string(), v.to_string());
    }
    let bridge = NetworkSpec {
        subnet: Some(ipam::DEFAULT_BRIDGE_SUBNET.to_string()),
        options: bridge_opts,
        interface: "docker0".to_string(),
        ..NetworkSpec::default()
    };
    let rows = [
        new_row("bridge", "bridge", &bridge)?,
        new_row("host", "host", &NetworkSpec::default())?,
        new_row("none", "null", &NetworkSpec::default())?,
    ];
    store.db().write(|tx| {
        for r in &rows {
            q::insert(tx, r)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Finds a network by ID, name or unique ID prefix (docker's order).
pub fn lookup(store: &Store, input: &str) -> Result<Network> {
    ensure_predefined(store)?;
    let not_found = || RuntimeError::NoSuchNetwork(input.to_string());
    if input.is_empty() {
        return Err(not_found());
    }
    let row = store.db().with(|c| {
        if let Some(r) = q::get(c, input)? {
            return Ok(Ok(r));
        }
        if let Some(r) = q::by_name(c, input)? {
            return Ok(Ok(r));
        }
        if input.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut rows = q::by_prefix(c, &input.to_ascii_lowercase())?;
            if rows.len() == 1 {
                return Ok(Ok(rows.remove(0)));
            }
            if rows.len() > 1 {
                return Ok(Err(RuntimeError::Invalid(format!(
                    "network {input} is ambiguous ({} matches found based on ID prefix)",
                    rows.len()
                ))));
            }
        }
        Ok(Err(not_found()))
    })??;
    Network::from_row(row)
}

/// Every network, by name.
pub fn list(store: &Store) -> Result<Vec<Network>> {
    ensure_predefined(store)?;
    store
        .db()
        .with(q::list)?
        .into_iter()
        .map(Network::from_row)
        .collect()
}

/// `network create` options.
#[derive(Debug, Clone, Default)]
pub struct CreateNetwork {
    /// Name.
    pub name: String,
    /// `-d/--driver` (only `bridge`).
    pub driver: Option<String>,
    /// `--subnet` (one IPv4 subnet).
    pub subnet: Vec<String>,
    /// `--gateway`.
    pub gateway: Vec<String>,
    /// `--ip-range`.
    pub ip_range: Vec<String>,
    /// `--internal`.
    pub internal: bool,
    /// `--label k=v`.
    pub labels: Vec<String>,
    /// `-o/--opt k=v`.
    pub options: Vec<String>,
}

fn one<'a>(flag: &str, v: &'a [String]) -> Result<Option<&'a String>> {
    match v {
        [] => Ok(None),
        [x] => Ok(Some(x)),
        _ => Err(RuntimeError::Invalid(format!(
            "strata supports one {flag} per network"
        ))),
    }
}

fn kv(list: &[String]) -> BTreeMap<String, String> {
    list.iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn parse_net(s: &str) -> Result<Ipv4Net> {
    if s.contains(':') {
        return Err(RuntimeError::Invalid(format!(
            "invalid subnet {s}: strata networks are IPv4 only"
        )));
    }
    let n: Ipv4Net = s
        .parse()
        .map_err(|_| RuntimeError::Invalid(format!("invalid CIDR address: {s}")))?;
    Ok(n.trunc())
}

/// `network create`.
pub fn create(store: &Store, o: &CreateNetwork) -> Result<Network> {
    ensure_predefined(store)?;
    names::validate_name(&o.name).map_err(|_| {
        RuntimeError::Invalid(format!(
            "invalid network name {:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
            o.name
        ))
    })?;
    match o.driver.as_deref().unwrap_or("bridge") {
        "bridge" => {}
        d @ ("host" | "null") => {
            return Err(RuntimeError::Invalid(format!(
                "only one instance of \"{d}\" network is allowed"
            )));
        }
        d => return Err(RuntimeError::Invalid(format!("plugin \"{d}\" not found"))),
    }
    let subnet = one("--subnet", &o.subnet)?
        .map(|s| parse_net(s))
        .transpose()?;
    let gateway = one("--gateway", &o.gateway)?;
    let range = one("--ip-range", &o.ip_range)?
        .map(|s| parse_net(s))
        .transpose()?;
    if subnet.is_none() && (gateway.is_some() || range.is_some()) {
        return Err(RuntimeError::Invalid(
            "every ip-range or gateway must have a corresponding subnet".into(),
        ));
    }
    let gateway: Option<Ipv4Addr> = gateway
        .map(|g| {
            g.parse()
                .map_err(|_| RuntimeError::Invalid(format!("invalid gateway address {g}")))
        })
        .transpose()?;
    if let (Some(s), Some(g)) = (&subnet, &gateway)
        && !s.contains(g)
    {
        return Err(RuntimeError::Invalid(format!(
            "no matching subnet for gateway {g}"
        )));
    }
    if let (Some(s), Some(r)) = (&subnet, &range)
        && !(s.contains(&r.network()) && s.contains(&r.broadcast()))
    {
        return Err(RuntimeError::Invalid(format!(
            "no matching subnet for range {r}"
        )));
    }
    let id = names::new_id();
    let spec_for = |subnet: Ipv4Net| NetworkSpec {
        subnet: Some(subnet.to_string()),
        gateway: Some(
            gateway
                .unwrap_or_else(|| ipam::default_gateway(&subnet))
                .to_string(),
        ),
        ip_range: range.map(|r| r.to_string()),
        user_subnet: o.subnet.len() == 1,
        user_gateway: gateway.is_some(),
        internal: o.internal,
        labels: kv(&o.labels),
        options: kv(&o.options),
        interface: format!("br-{}", names::short_id(&id)),
    };
    let created = strata_oci::config::rfc3339_now();
    let outcome = store.db().write(|tx| {
        if q::by_name(tx, &o.name)?.is_some() {
            return Ok(Err(RuntimeError::Invalid(format!(
                "network with name {} already exists",
                o.name
            ))));
        }
        let mut taken = Vec::new();
        for r in q::list(tx)? {
            let spec: NetworkSpec = serde_json::from_str(&r.spec).unwrap_or_default();
            if let Some(n) = spec.subnet.and_then(|s| s.parse::<Ipv4Net>().ok()) {
                taken.push(n);
            }
        }
        let subnet = match subnet {
            Some(s) => {
                if taken.iter().any(|t| ipam::overlaps(t, &s)) {
                    return Ok(Err(RuntimeError::Invalid(
                        "Pool overlaps with other one on this address space".into(),
                    )));
                }
                s
            }
            None => match ipam::pick_subnet(&taken) {
                Some(s) => s,
                None => {
                    return Ok(Err(RuntimeError::Invalid(
                        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into(),
                    )));
                }
            },
        };
        let spec = spec_for(subnet);
        let row = NetworkRow {
            id: id.clone(),
            name: o.name.clone(),
            driver: "bridge".into(),
            created: created.clone(),
            spec: serde_json::to_string(&spec).unwrap_or_default(),
            last_ip: None,
        };
        q::insert(tx, &row)?;
        Ok(Ok(row))
    })??;
    let net = Network::from_row(outcome)?;
    let attrs = [("name", net.name.clone()), ("type", "bridge".to_string())];
    crate::events::record(store, "network", "create", &net.id, &attrs);
    Ok(net)
}

/// The attachments of a network.
pub fn endpoints(store: &Store, net: &Network) -> Result<Vec<EndpointRow>> {
    Ok(store.db().with(|c| q::endpoints_of_network(c, &net.id))?)
}

/// True while a container on it runs.
pub fn in_use(store: &Store, net: &Network) -> Result<bool> {
    Ok(endpoints(store, net)?.iter().any(|e| e.ip.is_some()))
}

/// `network rm`.
pub fn remove(store: &Store, net: &Network) -> Result<()> {
    if net.is_predefined() {
        return Err(RuntimeError::Invalid(format!(
            "{} is a pre-defined network and cannot be removed",
            net.name
        )));
    }
    let busy = store.db().write(|tx| {
        let busy = q::endpoints_of_network(tx, &net.id)?
            .iter()
            .any(|e| e.ip.is_some());
        if !busy {
            q::delete(tx, &net.id)?;
        }
        Ok(busy)
    })?;
    if busy {
        return Err(RuntimeError::Invalid(format!(
            "error while removing network: network {} id {} has active endpoints",
            net.name, net.id
        )));
    }
    let attrs = [("name", net.name.clone()), ("type", net.driver.clone())];
    crate::events::record(store, "network", "destroy", &net.id, &attrs);
    Ok(())
}

/// `network prune`: removes the user networks no running container uses;
/// returns their names.
pub fn prune(store: &Store) -> Result<Vec<String>> {
    prune_where(store, &|_| true)
}

/// [`prune`] of the networks `select` accepts (a prune `--filter`).
pub fn prune_where(store: &Store, select: &dyn Fn(&Network) -> bool) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for n in list(store)? {
        if n.is_predefined() || !select(&n) || in_use(store, &n)? {
            continue;
        }
        if remove(store, &n).is_ok() {
            removed.push(n.name);
        }
    }
    Ok(removed)
}

fn attachment(net: Network, row: EndpointRow) -> Attachment {
    Attachment {
        network: net,
        config: serde_json::from_str(&row.config).unwrap_or_default(),
        position: row.position,
        ip: row.ip.and_then(|i| i.parse().ok()),
        mac: row.mac,
    }
}

/// A container's attachments, in connection order.
pub fn attachments(store: &Store, container_id: &str) -> Result<Vec<Attachment>> {
    let rows = store
        .db()
        .with(|c| q::endpoints_of_container(c, container_id))?;
    let mut out = Vec::new();
    for r in rows {
        if let Some(n) = store.db().with(|c| q::get(c, &r.network_id))? {
            out.push(attachment(Network::from_row(n)?, r));
        }
    }
    Ok(out)
}

/// Every container's attachments (for `ps`), by container ID.
pub fn all_attachments(store: &Store) -> Result<BTreeMap<String, Vec<Attachment>>> {
    let nets: BTreeMap<String, Network> = list(store)?
        .into_iter()
        .map(|n| (n.id.clone(), n))
        .collect();
    let mut out: BTreeMap<String, Vec<Attachment>> = BTreeMap::new();
    for r in store.db().with(q::all_endpoints)? {
        if let Some(n) = nets.get(&r.network_id) {
            out.entry(r.container_id.clone())
                .or_default()
                .push(attachment(n.clone(), r));
        }
    }
    Ok(out)
}

/// Checks what a user asks of an attachment to `net` (docker's rules for
/// `--ip` and aliases).
pub fn check_endpoint(net: &Network, cfg: &EndpointConfig, explicit: bool) -> Result<()> {
    if net.driver != "bridge" {
        return Err(RuntimeError::Invalid(format!(
            "container cannot be connected to network {} (driver {})",
            net.name, net.driver
        )));
    }
    if let Some(ip) = &cfg.ipv4 {
        if net.is_default_bridge() {
            if explicit {
                return Err(RuntimeError::Invalid(
                    "user specified IP address is supported on user defined networks only".into(),
                ));
            }
        } else if !net.spec.user_subnet {
            return Err(RuntimeError::Invalid(
                "user specified IP address is supported only when connecting to networks with user configured subnets".into(),
            ));
        } else {
            let addr: Ipv4Addr = ip
                .parse()
                .map_err(|_| RuntimeError::Invalid(format!("invalid IPv4 address: {ip}")))?;
            if !net.pool()?.assignable(addr) {
                return Err(RuntimeError::Invalid(format!(
                    "no configured subnet or ip-range contain the IP address {ip}"
                )));
            }
        }
    }
    Ok(())
}

/// Attaches a (created or stopped) container to networks, after those it
/// has.
pub fn attach(store: &Store, container_id: &str, list: &[(Network, EndpointConfig)]) -> Result<()> {
    if list.is_empty() {
        return Ok(());
    }
    store.db().write(|tx| {
        let have = q::endpoints_of_container(tx, container_id)?;
        let mut pos = have.iter().map(|e| e.position + 1).max().unwrap_or(0);
        for (net, cfg) in list {
            if have.iter().any(|e| e.network_id == net.id) {
                continue;
            }
            q::attach(
                tx,
                &EndpointRow {
                    network_id: net.id.clone(),
                    container_id: container_id.to_string(),
                    position: pos,
                    config: serde_json::to_string(cfg).unwrap_or_default(),
                    ip: None,
                    mac: None,
                },
            )?;
            pos += 1;
        }
        Ok(())
    })?;
    Ok(())
}

/// Detaches a container from a network.
pub fn detach(store: &Store, container_id: &str, net: &Network) -> Result<()> {
    store
        .db()
        .write(|tx| q::detach(tx, &net.id, container_id))?;
    Ok(())
}

/// Hands out addresses for a starting container's attachments (`only`:
/// just that network); returns them with their networks.
pub fn allocate(store: &Store, container_id: &str, only: Option<&str>) -> Result<Vec<Attachment>> {
    let rows = store.db().write(|tx| {
        let mut out = Vec::new();
        for e in q::endpoints_of_container(tx, container_id)? {
            if only.is_some_and(|n| n != e.network_id) {
                continue;
            }
            let Some(nrow) = q::get(tx, &e.network_id)? else {
                continue;
            };
            let net = match Network::from_row(nrow.clone()) {
                Ok(n) => n,
                Err(err) => return Ok(Err(err)),
            };
            let pool = match net.pool() {
                Ok(p) => p,
                Err(err) => return Ok(Err(err)),
            };
            let cfg: EndpointConfig = serde_json::from_str(&e.config).unwrap_or_default();
            let used: HashSet<Ipv4Addr> = q::used_ips(tx, &net.id)?
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect();
            let mine: Option<Ipv4Addr> = e.ip.as_deref().and_then(|s| s.parse().ok());
            let wanted = cfg
                .ipv4
                .as_deref()
                .filter(|_| !net.is_default_bridge())
                .and_then(|s| s.parse::<Ipv4Addr>().ok());
            let ip = match (wanted, mine) {
                (Some(w), _) if mine == Some(w) => w,
                (Some(w), _) => {
                    if used.contains(&w) {
                        return Ok(Err(RuntimeError::Invalid(format!(
                            "Address already in use: {w} on network {}",
                            net.name
                        ))));
                    }
                    w
                }
                (None, Some(m)) => m,
                (None, None) => {
                    let last = nrow.last_ip.as_deref().and_then(|s| s.parse().ok());
                    match pool.next_free(&used, last) {
                        Some(ip) => {
                            q::set_last_ip(tx, &net.id, &ip.to_string())?;
                            ip
                        }
                        None => {
                            return Ok(Err(RuntimeError::Invalid(format!(
                                "no available IPv4 addresses on this network's address pools: {} ({})",
                                net.name, net.id
                            ))));
                        }
                    }
                }
            };
            let mac = ipam::mac_for(ip);
            q::set_address(tx, &net.id, container_id, Some(&ip.to_string()), Some(&mac))?;
            out.push(Attachment {
                network: net,
                config: cfg,
                position: e.position,
                ip: Some(ip),
                mac: Some(mac),
            });
        }
        Ok(Ok(out))
    })??;
    Ok(rows)
}

/// Releases the addresses a container holds (`only`: on that network).
pub fn release(store: &Store, container_id: &str, only: Option<&str>) -> Result<()> {
    store.db().write(|tx| match only {
        Some(n) => q::set_address(tx, n, container_id, None, None),
        None => q::release_container(tx, container_id),
    })?;
    Ok(())
}

#[cfg(test)]
#[path = "networks_tests.rs"]
mod tests;
