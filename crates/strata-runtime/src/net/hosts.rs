//! The `/etc/hosts` and `/etc/resolv.conf` a container sees, written as
//! docker (libnetwork's `etchosts` and `resolvconf`) writes them:
//!
//! * hosts: the standard localhost/IPv6 lines, `--add-host` entries, then
//!   the container's own address with its name (`172.17.0.2\t<id12>`, or
//!   `IP\thost.domain host` with a domain);
//! * resolv.conf on the default network: the host's file without
//!   localhost nameservers (docker's fallback `8.8.8.8`/`8.8.4.4` when none
//!   is left), or — with `--dns`/`--dns-search`/`--dns-option` — those,
//!   each replacing only its own kind of line;
//! * resolv.conf on a user-defined network: the network's DNS server
//!   (aardvark-dns on the gateway, where docker has `127.0.0.11`), the
//!   search domains, and `options ndots:0` unless options were given.

use std::net::IpAddr;

/// docker's default `/etc/hosts` lines.
pub const DEFAULT_HOSTS: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// The container's own entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnEntry {
    /// Its address.
    pub ip: String,
    /// `Config.Hostname`.
    pub hostname: String,
    /// `Config.Domainname`.
    pub domainname: String,
}

/// `/etc/hosts`: defaults, `--add-host` entries (`name:ip`), own entries.
pub fn hosts_file(extra_hosts: &[String], own: &[OwnEntry]) -> String {
    let mut out = DEFAULT_HOSTS.to_string();
    for e in extra_hosts {
        if let Some((name, ip)) = e.split_once(':') {
            out.push_str(&format!("{ip}\t{name}\n"));
        }
    }
    for o in own {
        let fqdn = if o.domainname.is_empty() {
            o.hostname.clone()
        } else {
            format!("{}.{}", o.hostname, o.domainname)
        };
        let names = match fqdn.split_once('.') {
            Some((short, _)) => format!("{fqdn} {short}"),
            None => fqdn,
        };
        out.push_str(&format!("{}\t{names}\n", o.ip));
    }
    out
}

/// The DNS flags of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsFlags {
    /// `--dns`.
    pub servers: Vec<String>,
    /// `--dns-search`.
    pub search: Vec<String>,
    /// `--dns-option`.
    pub options: Vec<String>,
}

fn is_localhost(ns: &str) -> bool {
    match ns.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => false,
    }
}

fn values<'a>(host: &'a str, key: &str) -> Vec<&'a str> {
    host.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some(key)).then(|| w.collect::<Vec<_>>())
        })
        .flatten()
        .collect()
}

fn build(servers: &[&str], search: &[&str], options: &[&str]) -> String {
    let mut out = String::new();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

fn pick<'a>(flag: &'a [String], host: Vec<&'a str>) -> Vec<&'a str> {
    if flag.is_empty() {
        host
    } else {
        flag.iter().map(String::as_str).collect()
    }
}

/// resolv.conf on the default bridge network (or `--network pasta`):
/// `host` is the host's `/etc/resolv.conf`.
pub fn resolv_conf(host: &str, flags: &DnsFlags) -> String {
    if flags != &DnsFlags::default() {
        let servers = pick(&flags.servers, values(host, "nameserver"));
        let search = pick(&flags.search, values(host, "search"));
        let options = pick(&flags.options, values(host, "options"));
        return build(&servers, &search, &options);
    }
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut w = line.split_whitespace();
        if w.next() == Some("nameserver") {
            match w.next() {
                Some(ns) if is_localhost(ns) => continue,
                Some(_) => servers += 1,
                None => continue,
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

/// resolv.conf on a user-defined network whose DNS server is `server`.
pub fn resolv_conf_embedded(host: &str, server: &str, flags: &DnsFlags) -> String {
    let search = pick(&flags.search, values(host, "search"));
    let options: Vec<&str> = if flags.options.is_empty() {
        vec!["ndots:0"]
    } else {
        flags.options.iter().map(String::as_str).collect()
    };
    build(&[server], &search, &options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_like_docker() {
        let own = OwnEntry {
            ip: "172.17.0.2".into(),
            hostname: "585bad1e33e6".into(),
            domainname: String::new(),
        };
        let h = hosts_file(&[], std::slice::from_ref(&own));
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.ends_with("ff02::2\tip6-allrouters\n172.17.0.2\t585bad1e33e6\n"));
        let own = OwnEntry {
            ip: "172.18.0.2".into(),
            hostname: "hh".into(),
            domainname: "example.com".into(),
        };
        let h = hosts_file(&["a.b:1.2.3.4".into()], &[own]);
        assert!(
            h.ends_with("1.2.3.4\ta.b\n172.18.0.2\thh.example.com hh\n"),
            "{h}"
        );
    }

    #[test]
    fn resolv_conf_like_docker() {
        let host = "# generated\nnameserver 127.0.0.53\nnameserver 10.255.255.53\nsearch lan\noptions edns0\n";
        assert_eq!(
            resolv_conf(host, &DnsFlags::default()),
            "# generated\nnameserver 10.255.255.53\nsearch lan\noptions edns0\n"
        );
        assert_eq!(
            resolv_conf("nameserver 127.0.0.1\n", &DnsFlags::default()),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        let flags = DnsFlags {
            servers: vec!["1.1.1.1".into()],
            search: vec!["a.com".into()],
            options: vec!["ndots:2".into()],
        };
        assert_eq!(
            resolv_conf(host, &flags),
            "search a.com\nnameserver 1.1.1.1\noptions ndots:2\n"
        );
        let only_dns = DnsFlags {
            servers: vec!["1.1.1.1".into()],
            ..DnsFlags::default()
        };
        assert_eq!(
            resolv_conf(host, &only_dns),
            "search lan\nnameserver 1.1.1.1\noptions edns0\n"
        );
        assert_eq!(
            resolv_conf_embedded(
                "nameserver 10.255.255.53\n",
                "172.18.0.1",
                &DnsFlags::default()
            ),
            "nameserver 172.18.0.1\noptions ndots:0\n"
        );
        assert_eq!(
            resolv_conf_embedded(host, "172.18.0.1", &flags),
            "search a.com\nnameserver 172.18.0.1\noptions ndots:2\n"
        );
    }
}
