//! Published and exposed ports, parsed and shown as docker does
//! (`github.com/docker/go-connections/nat`, the CLI's `DisplayablePorts`):
//!
//! * `-p [IP:][HOST:]CONTAINER[/tcp|udp]` with ranges on either side
//!   (`8000-8001:80-81`, or a host range as the pool for one port,
//!   `8000-8010:80`) and bracketed IPv6 addresses (`[::1]:80:80`);
//! * `--expose PORT[-PORT][/PROTO]`;
//! * the port keys docker uses everywhere (`80/tcp`), kept in `BTreeMap`s
//!   so JSON shows them in docker's (sorted) order;
//! * the `PORTS` column of `ps` and the lines of `port`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::error::{Result, RuntimeError};

/// One host side of a published port (docker's `nat.PortBinding`).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortBinding {
    /// Host address (`""` = every address).
    #[serde(rename = "HostIp")]
    pub host_ip: String,
    /// Host port or range (`""` = any free port).
    #[serde(rename = "HostPort")]
    pub host_port: String,
}

/// `HostConfig.PortBindings`: port key → bindings.
pub type PortBindings = BTreeMap<String, Vec<PortBinding>>;

/// `NetworkSettings.Ports`: port key → bindings in use (`None` for a port
/// that is exposed only).
pub type PortMap = BTreeMap<String, Option<Vec<PortBinding>>>;

/// A port number and protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortKey {
    /// Port number.
    pub port: u16,
    /// `tcp` or `udp`.
    pub udp: bool,
}

impl PortKey {
    /// Parses docker's `80/tcp` key (a bare number means TCP).
    pub fn parse(key: &str) -> Option<PortKey> {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let udp = match proto {
            "tcp" => false,
            "udp" => true,
            _ => return None,
        };
        Some(PortKey {
            port: port.parse().ok()?,
            udp,
        })
    }

    /// `tcp` or `udp`.
    pub fn proto(&self) -> &'static str {
        if self.udp { "udp" } else { "tcp" }
    }
}

impl std::fmt::Display for PortKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.port, self.proto())
    }
}

fn invalid(msg: String) -> RuntimeError {
    RuntimeError::Invalid(msg)
}

/// docker's `ParsePortRange`.
fn port_range(s: &str) -> Option<(u16, u16)> {
    if s.is_empty() {
        return None;
    }
    match s.split_once('-') {
        None => s.parse().ok().map(|p| (p, p)),
        Some((a, b)) => {
            let (a, b): (u16, u16) = (a.parse().ok()?, b.parse().ok()?);
            (b >= a).then_some((a, b))
        }
    }
}

/// docker's `SplitProtoPort`: (proto, port).
fn split_proto(raw: &str) -> (String, String) {
    let mut parts = raw.splitn(2, '/');
    let port = parts.next().unwrap_or("");
    match parts.next() {
        _ if port.is_empty() => (String::new(), String::new()),
        None | Some("") => ("tcp".into(), port.into()),
        Some(p) => (p.split('/').next().unwrap_or(p).to_string(), port.into()),
    }
}

fn check_proto(proto: &str) -> Result<bool> {
    match proto.to_ascii_lowercase().as_str() {
        "tcp" => Ok(false),
        "udp" => Ok(true),
        "sctp" => Err(invalid(
            "strata does not publish or expose sctp ports (tcp and udp only)".into(),
        )),
        _ => Err(invalid(format!("Invalid proto: {proto}"))),
    }
}

/// Parses one `-p`/`--publish` value into (port key, binding) pairs.
pub fn parse_publish(raw: &str) -> Result<Vec<(PortKey, PortBinding)>> {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let (ip, host, ctr) = match n {
        1 => (String::new(), "", parts[0]),
        2 => (String::new(), parts[0], parts[1]),
        3 => (parts[0].to_string(), parts[1], parts[2]),
        _ => (parts[..n - 2].join(":"), parts[n - 2], parts[n - 1]),
    };
    let (proto, ctr) = split_proto(ctr);
    let ip = match ip.strip_prefix('[') {
        Some(rest) => rest
            .strip_suffix(']')
            .ok_or_else(|| invalid(format!("Invalid ip address {ip}: missing ']' in address")))?
            .to_string(),
        None => ip,
    };
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(invalid(format!("Invalid ip address: {ip}")));
    }
    if ctr.is_empty() {
        return Err(invalid(format!("No port specified: {raw}<empty>")));
    }
    let (start, end) =
        port_range(&ctr).ok_or_else(|| invalid(format!("Invalid containerPort: {ctr}")))?;
    let (hstart, hend) = if host.is_empty() {
        (0, 0)
    } else {
        port_range(host).ok_or_else(|| invalid(format!("Invalid hostPort: {host}")))?
    };
    if !host.is_empty() && end - start != hend - hstart && end != start {
        return Err(invalid(format!(
            "Invalid ranges specified for container and host Ports: {ctr} and {host}"
        )));
    }
    let udp = check_proto(&proto)?;
    let mut out = Vec::new();
    for i in 0..=(end - start) {
        let host_port = if host.is_empty() {
            String::new()
        } else if start == end && hstart != hend {
            format!("{hstart}-{hend}")
        } else {
            (hstart + i).to_string()
        };
        out.push((
            PortKey {
                port: start + i,
                udp,
            },
            PortBinding {
                host_ip: ip.clone(),
                host_port,
            },
        ));
    }
    Ok(out)
}

/// Parses one `--expose` value (`80`, `80/udp`, `8000-8010`).
pub fn parse_expose(raw: &str) -> Result<Vec<PortKey>> {
    let (proto, port) = split_proto(raw);
    if port.contains(':') {
        return Err(invalid(format!("invalid port format for --expose: {raw}")));
    }
    let (start, end) = port_range(&port).ok_or_else(|| {
        invalid(format!(
            "Invalid range format for --expose: {raw}, error: invalid port"
        ))
    })?;
    let udp = check_proto(&proto)?;
    Ok((start..=end).map(|port| PortKey { port, udp }).collect())
}

/// One row of docker's port list (`types.Port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// Host address (empty for an exposed-only port).
    pub ip: String,
    /// Container port.
    pub private: u16,
    /// Host port (0 for an exposed-only port).
    pub public: u16,
    /// `tcp` or `udp`.
    pub proto: String,
}

/// The port list of a running container's `NetworkSettings.Ports`.
pub fn port_list(ports: &PortMap) -> Vec<Port> {
    let mut out = Vec::new();
    for (key, bindings) in ports {
        let Some(k) = PortKey::parse(key) else {
            continue;
        };
        match bindings {
            None => out.push(Port {
                ip: String::new(),
                private: k.port,
                public: 0,
                proto: k.proto().into(),
            }),
            Some(list) => out.extend(list.iter().map(|b| Port {
                ip: b.host_ip.clone(),
                private: k.port,
                public: b.host_port.parse().unwrap_or(0),
                proto: k.proto().into(),
            })),
        }
    }
    out
}

/// docker's `PORTS` column: sorted, consecutive ports grouped into
/// ranges (`0.0.0.0:8000-8001->8000-8001/tcp`), mappings to another port
/// listed last (`127.0.0.1:8080->80/tcp`).
pub fn display_ports(ports: &[Port]) -> String {
    let mut ports = ports.to_vec();
    ports.sort_by(|a, b| {
        (a.private, &a.ip, a.public, &a.proto).cmp(&(b.private, &b.ip, b.public, &b.proto))
    });
    let mut groups: BTreeMap<String, (u16, u16)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut result = Vec::new();
    let mut mappings = Vec::new();
    for p in &ports {
        let mut key = p.proto.clone();
        if !p.ip.is_empty() {
            if p.public != p.private {
                let host = match p.ip.parse::<IpAddr>() {
                    Ok(IpAddr::V6(_)) => format!("[{}]:{}", p.ip, p.public),
                    _ => format!("{}:{}", p.ip, p.public),
                };
                mappings.push(format!("{host}->{}/{}", p.private, p.proto));
                continue;
            }
            key = format!("{}/{}", p.ip, p.proto);
        }
        match groups.get_mut(&key) {
            None => {
                groups.insert(key.clone(), (p.private, p.private));
                order.push(key);
            }
            Some(g) if p.private == g.1.wrapping_add(1) => g.1 = p.private,
            Some(g) => {
                result.push(form_group(&key, g.0, g.1));
                *g = (p.private, p.private);
            }
        }
    }
    for key in &order {
        let g = groups[key];
        result.push(form_group(key, g.0, g.1));
    }
    result.extend(mappings);
    result.join(", ")
}

fn form_group(key: &str, first: u16, last: u16) -> String {
    let (ip, proto) = match key.rsplit_once('/') {
        Some((ip, proto)) => (ip, proto),
        None => ("", key),
    };
    let mut group = first.to_string();
    if first != last {
        group = format!("{group}-{last}");
    }
    if !ip.is_empty() {
        group = format!("{ip}:{group}->{group}");
    }
    format!("{group}/{proto}")
}

/// The lines of `port CONTAINER` (`80/tcp -> 0.0.0.0:8080`), sorted.
pub fn port_lines(ports: &PortMap) -> Vec<String> {
    let mut out: Vec<String> = ports
        .iter()
        .flat_map(|(key, b)| {
            b.iter()
                .flatten()
                .map(move |b| format!("{key} -> {}:{}", b.host_ip, b.host_port))
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> PortKey {
        PortKey::parse(s).unwrap()
    }

    fn b(ip: &str, port: &str) -> PortBinding {
        PortBinding {
            host_ip: ip.into(),
            host_port: port.into(),
        }
    }

    #[test]
    fn publish_specs_parse_like_docker() {
        assert_eq!(
            parse_publish("127.0.0.1:8080:80").unwrap(),
            vec![(key("80/tcp"), b("127.0.0.1", "8080"))]
        );
        assert_eq!(
            parse_publish("80/udp").unwrap(),
            vec![(key("80/udp"), b("", ""))]
        );
        assert_eq!(
            parse_publish("127.0.0.1::80").unwrap(),
            vec![(key("80/tcp"), b("127.0.0.1", ""))]
        );
        assert_eq!(
            parse_publish("[::1]:8080:80").unwrap(),
            vec![(key("80/tcp"), b("::1", "8080"))]
        );
        assert_eq!(
            parse_publish("9000-9001:9000-9001/udp").unwrap(),
            vec![
                (key("9000/udp"), b("", "9000")),
                (key("9001/udp"), b("", "9001"))
            ]
        );
        assert_eq!(
            parse_publish("8000-8010:80").unwrap(),
            vec![(key("80/tcp"), b("", "8000-8010"))]
        );
        let err = |s: &str| parse_publish(s).unwrap_err().to_string();
        assert_eq!(err("99999:80"), "Invalid hostPort: 99999");
        assert_eq!(err("abc"), "Invalid containerPort: abc");
        assert_eq!(err("1.2.3:80:80"), "Invalid ip address: 1.2.3");
        assert_eq!(err("80/xyz"), "Invalid proto: xyz");
        assert_eq!(
            err("8000-8001:80-82"),
            "Invalid ranges specified for container and host Ports: 80-82 and 8000-8001"
        );
        assert_eq!(
            parse_expose("7000-7001/udp").unwrap(),
            vec![key("7000/udp"), key("7001/udp")]
        );
        assert!(parse_expose("x").is_err());
    }

    #[test]
    fn ports_column_matches_docker_20_10() {
        let mut map = PortMap::new();
        map.insert("7000/tcp".into(), None);
        map.insert("80/tcp".into(), Some(vec![b("127.0.0.1", "18080")]));
        for p in ["9000/udp", "9001/udp"] {
            let n = &p[..4];
            map.insert(p.into(), Some(vec![b("0.0.0.0", n), b("::", n)]));
        }
        assert_eq!(
            display_ports(&port_list(&map)),
            "7000/tcp, 0.0.0.0:9000-9001->9000-9001/udp, :::9000-9001->9000-9001/udp, 127.0.0.1:18080->80/tcp"
        );
        assert_eq!(
            port_lines(&map),
            vec![
                "80/tcp -> 127.0.0.1:18080",
                "9000/udp -> 0.0.0.0:9000",
                "9000/udp -> :::9000",
                "9001/udp -> 0.0.0.0:9001",
                "9001/udp -> :::9001"
            ]
        );
        let mut map = PortMap::new();
        map.insert("80/tcp".into(), Some(vec![b("::", "8080")]));
        assert_eq!(display_ports(&port_list(&map)), "[::]:8080->80/tcp");
    }
}
