//! The infra process's fast attach to the default `bridge` network: once
//! netavark has made `docker0` (with its NAT and isolation rules) in this
//! infra process's life, every further container on it needs only what
//! netavark's bridge driver does per container — a veth pair with the
//! host end on the bridge and the other end as the container's `eth0`,
//! its MAC and address, `lo` and `eth0` up, the default route — and that
//! is a handful of rtnetlink messages here instead of a netavark run
//! (whose dozen `iptables` checks cost some 50 ms a start). User networks
//! always go through netavark: their containers need aardvark-dns entries.
//! Detach needs nothing: the veth pair goes with the container's
//! namespace, and the default network has no DNS entries.

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::Socket;
use netlink_sys::protocols::NETLINK_ROUTE;
use nix::sched::{CloneFlags, setns};
use serde::{Deserialize, Serialize};

use crate::error::{IoContext, Result, RuntimeError, SysContext};

/// One container's attachment to an existing bridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FastAttach {
    /// The bridge (`docker0`).
    pub bridge: String,
    /// The interface in the container (`eth0`).
    pub interface: String,
    /// Its address.
    pub ip: Ipv4Addr,
    /// The subnet's prefix length.
    pub prefix: u8,
    /// The gateway (none on an internal network).
    pub gateway: Option<Ipv4Addr>,
    /// Its MAC address (`02:42:…`).
    pub mac: String,
}

fn err(what: &str, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Invalid(format!("attach to the bridge: {what}: {e}"))
}

struct Rtnl {
    sock: Socket,
    seq: u32,
}

impl Rtnl {
    /// A route netlink socket in the calling thread's network namespace.
    fn new() -> Result<Rtnl> {
        let mut sock = Socket::new(NETLINK_ROUTE).ctx("open", "netlink")?;
        sock.bind_auto().ctx("bind", "netlink")?;
        Ok(Rtnl { sock, seq: 0 })
    }

    /// Sends a request and waits for its acknowledgement (or answer).
    fn request(
        &mut self,
        what: &str,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.seq += 1;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.seq;
        let mut nl = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        nl.finalize();
        let mut buf = vec![0u8; nl.header.length as usize];
        nl.serialize(&mut buf);
        self.sock.send(&buf, 0).ctx("send", "netlink")?;
        let mut out = Vec::new();
        let mut rbuf = vec![0u8; 64 * 1024];
        loop {
            let n = self
                .sock
                .recv(&mut &mut rbuf[..], 0)
                .ctx("receive", "netlink")?;
            let mut off = 0;
            while off < n {
                let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rbuf[off..n])
                    .map_err(|e| err(what, e))?;
                let len = m.header.length as usize;
                match m.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(out),
                            Some(code) => {
                                Err(err(what, std::io::Error::from_raw_os_error(-code.get())))
                            }
                        };
                    }
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::InnerMessage(inner) => out.push(inner),
                    _ => {}
                }
                if len == 0 {
                    break;
                }
                off += len;
            }
        }
    }

    fn link_index(&mut self, name: &str) -> Result<u32> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        let got = self.request(name, RouteNetlinkMessage::GetLink(m), 0)?;
        got.iter()
            .find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })
            .ok_or_else(|| err(name, "no such interface"))
    }

    fn set_up(&mut self, index: u32) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        self.request("set up", RouteNetlinkMessage::SetLink(m), 0)?;
        Ok(())
    }
}

fn parse_mac(s: &str) -> Result<Vec<u8>> {
    let bytes: Vec<u8> = s
        .split(':')
        .filter_map(|b| u8::from_str_radix(b, 16).ok())
        .collect();
    if bytes.len() != 6 {
        return Err(err("MAC address", s));
    }
    Ok(bytes)
}

/// Attaches the container whose network namespace is at `netns` to an
/// existing bridge of the calling (infra) namespace. On failure the pair
/// is removed again (deleting one end deletes both).
pub fn attach(netns: &str, a: &FastAttach) -> Result<()> {
    let ns = File::open(netns).ctx("open", netns)?;
    let here = File::open("/proc/self/ns/net").ctx("open", "/proc/self/ns/net")?;
    let mut host = Rtnl::new()?;
    let bridge = host.link_index(&a.bridge)?;
    let host_end = format!("vs{}", hex::encode(crate::names::random_bytes::<5>()));

    let mut peer = LinkMessage::default();
    peer.attributes
        .push(LinkAttribute::IfName(a.interface.clone()));
    peer.attributes
        .push(LinkAttribute::Address(parse_mac(&a.mac)?));
    peer.attributes.push(LinkAttribute::Mtu(1500));
    peer.attributes.push(LinkAttribute::NetNsFd(ns.as_raw_fd()));
    let mut pair = LinkMessage::default();
    pair.attributes
        .push(LinkAttribute::IfName(host_end.clone()));
    pair.attributes.push(LinkAttribute::Mtu(1500));
    pair.attributes.push(LinkAttribute::Controller(bridge));
    pair.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
    ]));
    host.request(
        "create the veth pair",
        RouteNetlinkMessage::NewLink(pair),
        NLM_F_CREATE | NLM_F_EXCL,
    )?;
    let result = (|| -> Result<()> {
        let index = host.link_index(&host_end)?;
        host.set_up(index)?;
        // A socket made in the container's namespace stays there.
        setns(&ns, CloneFlags::CLONE_NEWNET).sys("setns(container)")?;
        let inner = Rtnl::new();
        setns(&here, CloneFlags::CLONE_NEWNET).sys("setns(infra)")?;
        configure(&mut inner?, a)
    })();
    if result.is_err() {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(host_end));
        let _ = host.request("remove the veth pair", RouteNetlinkMessage::DelLink(m), 0);
    }
    result
}

/// Inside the container's namespace: `lo` up, address, `eth0` up, route.
fn configure(nl: &mut Rtnl, a: &FastAttach) -> Result<()> {
    let lo = nl.link_index("lo")?;
    nl.set_up(lo)?;
    let eth = nl.link_index(&a.interface)?;
    let mut addr = AddressMessage::default();
    addr.header.family = AddressFamily::Inet;
    addr.header.prefix_len = a.prefix;
    addr.header.index = eth;
    addr.attributes.push(AddressAttribute::Local(a.ip.into()));
    addr.attributes.push(AddressAttribute::Address(a.ip.into()));
    let host_bits = 32u32.saturating_sub(u32::from(a.prefix));
    let mask = if host_bits >= 32 {
        u32::MAX
    } else {
        (1u32 << host_bits) - 1
    };
    addr.attributes
        .push(AddressAttribute::Broadcast(Ipv4Addr::from(
            u32::from(a.ip) | mask,
        )));
    nl.request(
        "add the address",
        RouteNetlinkMessage::NewAddress(addr),
        NLM_F_CREATE | NLM_F_EXCL,
    )?;
    nl.set_up(eth)?;
    if let Some(gw) = a.gateway {
        let mut r = RouteMessage::default();
        r.header.address_family = AddressFamily::Inet;
        r.header.table = RouteHeader::RT_TABLE_MAIN;
        r.header.protocol = RouteProtocol::Static;
        r.header.scope = RouteScope::Universe;
        r.header.kind = RouteType::Unicast;
        r.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gw)));
        r.attributes.push(RouteAttribute::Oif(eth));
        r.attributes.push(RouteAttribute::Priority(100));
        nl.request(
            "add the default route",
            RouteNetlinkMessage::NewRoute(r),
            NLM_F_CREATE | NLM_F_EXCL,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_parse() {
        assert_eq!(
            parse_mac("02:42:ac:11:00:02").unwrap(),
            vec![2, 0x42, 0xac, 0x11, 0, 2]
        );
        assert!(parse_mac("02:42").is_err());
    }
}
