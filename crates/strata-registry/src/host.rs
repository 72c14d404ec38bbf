//! Where a registry lives and whether it may be spoken to in the clear.
//!
//! Resolution, as docker does it:
//!
//! ```text
//! reference domain        endpoint host             credentials key in config.json
//! docker.io               registry-1.docker.io      https://index.docker.io/v1/
//! 127.0.0.1:5000          127.0.0.1:5000            127.0.0.1:5000
//! registry.example:443    registry.example:443      registry.example:443
//! ```
//!
//! Transport security: HTTPS with certificate verification, always, except
//! for *insecure* registries — the loopback ones (`localhost`, 127.0.0.0/8,
//! `::1`) and those the user names with `--insecure-registry HOST` (global
//! flag, or `STRATA_INSECURE_REGISTRY=HOST[,HOST…]`) or in the strata config
//! file (`"insecure-registries": [...]`, see [`crate::config`]). Entries are
//! `host`, `host:port` or a CIDR (`10.0.0.0/8`) matching IP-literal hosts.
//! For an insecure registry strata first tries HTTPS without verifying the
//! certificate and falls back to plain HTTP, as docker does.

use std::net::IpAddr;

use crate::error::{RegistryError, Result};

/// Docker Hub's domain in references.
pub const DOCKER_HUB_DOMAIN: &str = "docker.io";
/// The host that serves Docker Hub's distribution API.
pub const DOCKER_HUB_ENDPOINT: &str = "registry-1.docker.io";
/// The key docker uses for Docker Hub in `config.json`.
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// The host (and port) that serves the API for a reference domain.
pub fn endpoint_host(domain: &str) -> &str {
    if domain == DOCKER_HUB_DOMAIN || domain == "index.docker.io" {
        DOCKER_HUB_ENDPOINT
    } else {
        domain
    }
}

/// The `strata login` argument that names a registry (empty for Docker Hub).
pub fn login_hint(domain: &str) -> String {
    if domain == DOCKER_HUB_DOMAIN {
        "strata login".to_string()
    } else {
        format!("strata login {domain}")
    }
}

/// Splits `host[:port]` (or `[v6]:port`) into host and port.
pub fn split_host_port(domain: &str) -> (&str, Option<&str>) {
    if let Some(rest) = domain.strip_prefix('[') {
        if let Some((h, after)) = rest.split_once(']') {
            return (h, after.strip_prefix(':'));
        }
        return (domain, None);
    }
    match domain.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p)),
        _ => (domain, None),
    }
}

/// True for `localhost`, 127.0.0.0/8 and `::1` (with or without a port).
pub fn is_loopback(domain: &str) -> bool {
    let (host, _) = split_host_port(domain);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// One `--insecure-registry` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// `host` (any port) or `host:port`.
    Host(String),
    /// An address range for IP-literal hosts.
    Cidr(IpAddr, u8),
}

/// The registries that may be reached without verified TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsecureRegistries {
    entries: Vec<Entry>,
}

impl InsecureRegistries {
    /// No extra insecure registries (loopback ones always are).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry: `host`, `host:port`, `[v6]:port` or a CIDR. A scheme
    /// prefix (`http://`) and a trailing `/` are ignored.
    pub fn add(&mut self, entry: &str) -> Result<()> {
        let e = entry.trim();
        let e = e
            .strip_prefix("http://")
            .or_else(|| e.strip_prefix("https://"))
            .unwrap_or(e)
            .trim_end_matches('/');
        if e.is_empty() {
            return Ok(());
        }
        if let Some((ip, bits)) = e.split_once('/') {
            let ip: IpAddr = ip.parse().map_err(|_| bad(entry))?;
            let bits: u8 = bits.parse().map_err(|_| bad(entry))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            if bits > max {
                return Err(bad(entry));
            }
            self.entries.push(Entry::Cidr(ip, bits));
        } else {
            if e.contains(char::is_whitespace) || e.contains('/') {
                return Err(bad(entry));
            }
            self.entries.push(Entry::Host(e.to_ascii_lowercase()));
        }
        Ok(())
    }

    /// Adds every comma- or space-separated entry of `list`.
    pub fn add_list(&mut self, list: &str) -> Result<()> {
        for e in list.split([',', ' ']).filter(|s| !s.trim().is_empty()) {
            self.add(e)?;
        }
        Ok(())
    }

    /// True when `domain` may be reached without verified TLS.
    pub fn allows(&self, domain: &str) -> bool {
        if is_loopback(domain) {
            return true;
        }
        let domain = domain.to_ascii_lowercase();
        let (host, _) = split_host_port(&domain);
        let ip = host.parse::<IpAddr>().ok();
        self.entries.iter().any(|e| match e {
            Entry::Host(h) => *h == domain || h == host,
            Entry::Cidr(net, bits) => ip.is_some_and(|ip| in_cidr(ip, *net, *bits)),
        })
    }
}

fn bad(entry: &str) -> RegistryError {
    RegistryError::Invalid(format!(
        "invalid insecure registry {entry:?}: expected HOST, HOST:PORT or a CIDR such as 10.0.0.0/8"
    ))
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            (u32::from(a) & mask) == (u32::from(n) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            (u128::from(a) & mask) == (u128::from(n) & mask)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_is_registry_1() {
        assert_eq!(endpoint_host("docker.io"), "registry-1.docker.io");
        assert_eq!(endpoint_host("127.0.0.1:5000"), "127.0.0.1:5000");
        let r = strata_oci::Reference::parse("node").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/node:latest");
        assert_eq!(endpoint_host(r.domain()), "registry-1.docker.io");
        assert_eq!(login_hint(r.domain()), "strata login");
        assert_eq!(login_hint("127.0.0.1:5101"), "strata login 127.0.0.1:5101");
    }

    #[test]
    fn loopback_is_insecure_by_default() {
        let none = InsecureRegistries::new();
        for d in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
            "::1",
        ] {
            assert!(none.allows(d), "{d}");
        }
        for d in [
            "docker.io",
            "10.0.0.1:5000",
            "registry.example",
            "[fe80::1]:5000",
            "127.example",
        ] {
            assert!(!none.allows(d), "{d}");
        }
    }

    #[test]
    fn entries_match_hosts_ports_and_ranges() {
        let mut i = InsecureRegistries::new();
        i.add_list("registry.lan:5000, http://other.lan/ 10.0.0.0/8")
            .unwrap();
        i.add("fd00::/8").unwrap();
        assert!(i.allows("registry.lan:5000"));
        assert!(!i.allows("registry.lan:5001"));
        assert!(i.allows("other.lan"));
        assert!(i.allows("other.lan:443"));
        assert!(i.allows("10.2.3.4:5000"));
        assert!(!i.allows("11.2.3.4:5000"));
        assert!(i.allows("[fd12::1]:5000"));
        assert!(!i.allows("registry.example"));
        assert!(i.add("10.0.0.0/40").is_err());
        assert!(i.add("a b").is_err());
        assert!(i.add("nonsense/x").is_err());
    }
}
