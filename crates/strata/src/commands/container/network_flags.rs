//! The network flags of `create`/`run` (flattened into `CreateFlags`),
//! spelled as docker spells them.

use clap::Args;
use strata_runtime::net::NetOptions;

/// Network flags of `create`/`run`.
#[derive(Debug, Clone, Args)]
pub struct NetworkFlags {
    /// Connect a container to a network (bridge, host, none, container:NAME, a network name, pasta)
    #[arg(long, alias = "net", value_name = "network")]
    pub network: Option<String>,
    /// Add network-scoped alias for the container
    #[arg(long, alias = "net-alias", value_name = "list")]
    pub network_alias: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long, value_name = "string")]
    pub ip: Option<String>,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long = "publish", value_name = "list")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long, value_name = "list")]
    pub expose: Vec<String>,
    /// Set custom DNS servers
    #[arg(long, value_name = "list")]
    pub dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long, value_name = "list")]
    pub dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long, alias = "dns-opt", value_name = "list")]
    pub dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long, value_name = "list")]
    pub add_host: Vec<String>,
    /// Container NIS domain name
    #[arg(long, value_name = "string")]
    pub domainname: Option<String>,
    /// Add link to another container (NAME[:ALIAS])
    #[arg(long = "link", value_name = "list")]
    pub links: Vec<String>,
}

impl NetworkFlags {
    /// The runtime's options; `hostname_given`: `-h` was used.
    pub fn options(&self, hostname_given: bool) -> NetOptions {
        NetOptions {
            network: self.network.clone(),
            aliases: self.network_alias.clone(),
            ip: self.ip.clone(),
            publish: self.publish.clone(),
            publish_all: self.publish_all,
            expose: self.expose.clone(),
            dns: self.dns.clone(),
            dns_search: self.dns_search.clone(),
            dns_option: self.dns_option.clone(),
            add_host: self.add_host.clone(),
            domainname: self.domainname.clone(),
            hostname_given,
            links: self.links.clone(),
        }
    }

    /// docker's warnings for these flags (printed before the ID).
    pub fn warnings(&self) -> Vec<&'static str> {
        let host = self.network.as_deref() == Some("host");
        if host && (!self.publish.is_empty() || self.publish_all) {
            vec!["WARNING: Published ports are discarded when using host network mode"]
        } else {
            Vec::new()
        }
    }
}
