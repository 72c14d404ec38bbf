//! IP address management, done by strata itself (as podman does) so that
//! netavark only ever gets static addresses: subnets from docker's default
//! pools, gateways, and the next free address of a network.
//!
//! * The default `bridge` network is `172.17.0.0/16`; user networks take
//!   the first of docker's default pools that overlaps no other network:
//!   `172.18.0.0/16` … `172.31.0.0/16`, then `192.168.0.0/20`,
//!   `192.168.16.0/20`, … (docker's `172.17.0.0/12` by 16 and
//!   `192.168.0.0/16` by 20).
//! * A network's gateway is its first host address unless given.
//! * Addresses are handed out round-robin from after the last one given
//!   (podman's order; docker reuses the lowest free one): a released
//!   address is not handed out again until the range wraps, so a new
//!   container never meets a neighbour cache entry or a half-dismantled
//!   namespace of the one before it.
//! * A container's MAC address derives from its IPv4 address as docker's
//!   does: `02:42` and the four address bytes.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// The default bridge network's subnet.
pub const DEFAULT_BRIDGE_SUBNET: &str = "172.17.0.0/16";

/// docker's default address pools for new networks, in order.
pub fn default_pools() -> impl Iterator<Item = Ipv4Net> {
    let big = (17u8..=31).map(|b| Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16).expect("/16"));
    let small =
        (0u8..16).map(|i| Ipv4Net::new(Ipv4Addr::new(192, 168, i * 16, 0), 20).expect("/20"));
    big.chain(small)
}

/// True if two subnets share an address.
pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first default pool that overlaps none of `taken`.
pub fn pick_subnet(taken: &[Ipv4Net]) -> Option<Ipv4Net> {
    default_pools().find(|p| !taken.iter().any(|t| overlaps(p, t)))
}

/// The default gateway of a subnet: its first host address.
pub fn default_gateway(subnet: &Ipv4Net) -> Ipv4Addr {
    let first = u32::from(subnet.network()).saturating_add(1);
    Ipv4Addr::from(first)
}

/// docker's MAC address for an IPv4 address.
pub fn mac_for(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
}

/// Where addresses of a network come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// The subnet.
    pub subnet: Ipv4Net,
    /// `--ip-range`: hand out addresses from this part only.
    pub range: Option<Ipv4Net>,
    /// The gateway (never handed out).
    pub gateway: Option<Ipv4Addr>,
}

impl Pool {
    /// True if `ip` may be given to a container (in the subnet, not its
    /// network or broadcast address, not the gateway).
    pub fn assignable(&self, ip: Ipv4Addr) -> bool {
        self.subnet.contains(&ip)
            && (self.subnet.prefix_len() >= 31
                || (ip != self.subnet.network() && ip != self.subnet.broadcast()))
            && Some(ip) != self.gateway
    }

    /// The next free address after `last` (round-robin over the range),
    /// skipping `used`; `None` when the range is full.
    pub fn next_free(&self, used: &HashSet<Ipv4Addr>, last: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
        let span = self.range.unwrap_or(self.subnet);
        let (lo, hi) = (u32::from(span.network()), u32::from(span.broadcast()));
        let size = u64::from(hi - lo) + 1;
        let start = match last.map(u32::from) {
            Some(l) if (lo..=hi).contains(&l) => u64::from(l - lo) + 1,
            _ => 0,
        };
        (0..size)
            .map(|i| Ipv4Addr::from(lo + ((start + i) % size) as u32))
            .find(|ip| self.assignable(*ip) && !used.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn pools_follow_dockers_order() {
        let pools: Vec<String> = default_pools().map(|p| p.to_string()).collect();
        assert_eq!(pools[0], "172.17.0.0/16");
        assert_eq!(pools[14], "172.31.0.0/16");
        assert_eq!(pools[15], "192.168.0.0/20");
        assert_eq!(pools[16], "192.168.16.0/20");
        let taken = [net(DEFAULT_BRIDGE_SUBNET)];
        assert_eq!(pick_subnet(&taken).unwrap(), net("172.18.0.0/16"));
        let taken = [net("172.17.0.0/16"), net("172.18.5.0/24")];
        assert_eq!(pick_subnet(&taken).unwrap(), net("172.19.0.0/16"));
        assert!(overlaps(&net("10.0.0.0/8"), &net("10.5.0.0/24")));
        assert!(!overlaps(&net("10.0.0.0/24"), &net("10.0.1.0/24")));
    }

    #[test]
    fn addresses_round_robin_and_skip_reserved() {
        let pool = Pool {
            subnet: net("172.17.0.0/16"),
            range: None,
            gateway: Some(default_gateway(&net("172.17.0.0/16"))),
        };
        assert_eq!(pool.gateway, Some(Ipv4Addr::new(172, 17, 0, 1)));
        let mut used = HashSet::new();
        let a = pool.next_free(&used, None).unwrap();
        assert_eq!(a, Ipv4Addr::new(172, 17, 0, 2));
        used.insert(a);
        let b = pool.next_free(&used, Some(a)).unwrap();
        assert_eq!(b, Ipv4Addr::new(172, 17, 0, 3));
        used.remove(&a);
        // a is free again but the cursor moves on.
        assert_eq!(
            pool.next_free(&used, Some(b)).unwrap(),
            Ipv4Addr::new(172, 17, 0, 4)
        );
        assert_eq!(mac_for(a), "02:42:ac:11:00:02");
    }

    #[test]
    fn ranges_wrap_and_fill_up() {
        let pool = Pool {
            subnet: net("10.5.0.0/24"),
            range: Some(net("10.5.0.252/30")),
            gateway: Some(Ipv4Addr::new(10, 5, 0, 254)),
        };
        let mut used = HashSet::new();
        let first = pool.next_free(&used, None).unwrap();
        assert_eq!(first, Ipv4Addr::new(10, 5, 0, 252));
        used.insert(first);
        let second = pool.next_free(&used, Some(first)).unwrap();
        assert_eq!(second, Ipv4Addr::new(10, 5, 0, 253));
        used.insert(second);
        // .254 is the gateway, .255 the broadcast address.
        assert_eq!(pool.next_free(&used, Some(second)), None);
        used.remove(&first);
        assert_eq!(pool.next_free(&used, Some(second)), Some(first));
        assert!(!pool.assignable(Ipv4Addr::new(10, 5, 0, 0)));
        assert!(!pool.assignable(Ipv4Addr::new(10, 6, 0, 1)));
    }
}
