//! A container's network, as its supervisor sets it up and takes it down
//! (and `network connect/disconnect` on a running container).
//!
//! Start, for a bridge network (default or user-defined):
//!
//! 1. [`NetSetup::begin`] (before the runtime creates the container):
//!    addresses from IPAM, `/etc/hosts` and `resolv.conf` written, the
//!    `-p` ports bound in the host namespace (so a taken port fails the
//!    start at once, as docker's), a new network namespace made and held
//!    by the supervisor (the runtime joins it through
//!    `/proc/<supervisor>/fd/<n>`), and netavark's setup *sent* to the
//!    infra process — it runs while the runtime creates the container.
//! 2. [`NetSetup::finish`] (after create, before start): waits for the
//!    setup, starts the port proxy.
//! 3. [`NetSetup::release`] (after the container exited): proxy killed,
//!    netavark teardown on user networks (the default bridge's veth goes
//!    with the namespace, and that network has no DNS entries), addresses
//!    released, namespace and infra connection closed.
//!
//! `container:NAME` joins the other container's namespace and shares its
//! `/etc` files and host name; `pasta` starts a pasta process for the
//! container's own namespace (podman's rootless default: no bridge, no
//! container-to-container traffic; `-p` through the same proxy).

use std::collections::BTreeMap;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, unshare};
use serde::{Deserialize, Serialize};
use strata_store::Store;

use super::hosts::{self, OwnEntry};
use super::infra_client_linux::{InfraClient, Request};
use super::links;
use super::netavark::{self, Endpoint, Options};
use super::networks::{self, Attachment, EndpointConfig, Network};
use super::ports::PortMap;
use super::proxy_linux::{self, Bound};
use super::veth_linux::FastAttach;
use super::{NetMode, ipam};
use crate::containers::{self, Container, Paths, paths};
use crate::error::{IoContext, Result, RuntimeError, SysContext};
use crate::spec::EtcFiles;

/// What a running container's network looks like (kept in its state).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeNet {
    /// `NetworkSettings.Ports`.
    #[serde(default)]
    pub ports: PortMap,
    /// Interface in the container per network ID (`eth0`, …).
    #[serde(default)]
    pub interfaces: BTreeMap<String, String>,
    /// `NetworkSettings.SandboxKey`.
    #[serde(default)]
    pub sandbox: String,
}

impl RuntimeNet {
    /// Nothing recorded.
    pub fn is_empty(&self) -> bool {
        self == &RuntimeNet::default()
    }
}

/// A container's network while it starts and runs.
#[derive(Debug, Default)]
pub struct NetSetup {
    netns: Option<OwnedFd>,
    netns_path: Option<PathBuf>,
    infra: Option<InfraClient>,
    pending: Option<Request>,
    bound: Vec<Bound>,
    target: Option<IpAddr>,
    proxy: Option<Child>,
    pasta: Option<(Child, PathBuf)>,
    /// Rootless: the child the others open the namespace through.
    holder: Option<super::holder_linux::Holder>,
    state: RuntimeNet,
    /// Addresses were handed out (to release at the end).
    allocated: bool,
    etc: Option<EtcFiles>,
    hostname: Option<String>,
    /// The environment of its links (docker's default bridge only).
    link_env: Vec<String>,
}

/// Makes a new network namespace and returns it; the calling process
/// stays in its own. A short-lived thread unshares it (namespaces belong
/// to a thread), so nothing has to return to the host's namespace, which
/// a rootless strata may not enter again.
pub fn new_netns() -> Result<OwnedFd> {
    std::thread::spawn(|| -> Result<OwnedFd> {
        unshare(CloneFlags::CLONE_NEWNET).sys("unshare(CLONE_NEWNET)")?;
        let ns = fs::File::open("/proc/thread-self/ns/net");
        Ok(ns.ctx("open", "/proc/thread-self/ns/net")?.into())
    })
    .join()
    .map_err(|_| RuntimeError::Invalid("new network namespace: thread panicked".into()))?
}

fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!(
        "/proc/{}/fd/{}",
        std::process::id(),
        fd.as_raw_fd()
    ))
}

/// The path others open a namespace this supervisor made by: its own
/// descriptor, or rootless a holder's ([`super::holder_linux`]).
fn shared_path(fd: &OwnedFd, holder: &mut Option<super::holder_linux::Holder>) -> Result<PathBuf> {
    if !strata_store::userns::rootless() {
        return Ok(fd_path(fd));
    }
    let h = super::holder_linux::Holder::spawn(fd)?;
    let path = h.path();
    *holder = Some(h);
    Ok(path)
}

fn host_resolv() -> String {
    fs::read_to_string("/etc/resolv.conf").unwrap_or_default()
}

/// The DNS names of a container on a network besides its name: aliases,
/// short ID, and the host name when it differs (docker 20.10's list).
pub fn aliases(c: &Container, cfg: &EndpointConfig) -> Vec<String> {
    let mut out = cfg.aliases.clone();
    let short = c.short_id().to_string();
    if !out.contains(&short) {
        out.push(short.clone());
    }
    let h = &c.spec.config.hostname;
    if !h.is_empty() && *h != short && !out.contains(h) {
        out.push(h.clone());
    }
    out
}

fn endpoints<'a>(
    c: &Container,
    atts: &'a [Attachment],
    ifaces: &BTreeMap<String, String>,
) -> Vec<Endpoint<'a>> {
    atts.iter()
        .enumerate()
        .map(|(i, a)| Endpoint {
            att: a,
            interface: ifaces
                .get(&a.network.id)
                .cloned()
                .unwrap_or_else(|| format!("eth{i}")),
            aliases: aliases(c, &a.config),
        })
        .collect()
}

/// The rtnetlink attach of a container on the default network only.
fn fast_attach(atts: &[Attachment]) -> Option<FastAttach> {
    let [a] = atts else { return None };
    if !a.network.is_default_bridge() {
        return None;
    }
    Some(FastAttach {
        bridge: a.network.spec.interface.clone(),
        interface: "eth0".into(),
        ip: a.ip?,
        prefix: a.prefix_len(),
        gateway: a.gateway().filter(|_| !a.network.spec.internal),
        mac: mac_of(a),
    })
}

/// The default bridge's gateway (docker's `host-gateway`).
fn host_gateway(store: &Store) -> String {
    networks::lookup(store, "bridge")
        .ok()
        .and_then(|n| n.pool().ok())
        .and_then(|p| p.gateway)
        .map(|g| g.to_string())
        .unwrap_or_else(|| "172.17.0.1".into())
}

/// Writes `/etc/hosts` (`--add-host` entries, then `linked` — the links'
/// `NAMES:IP` lines — then `own`) and `resolv.conf`.
fn write_etc(
    store: &Store,
    c: &Container,
    p: &Paths,
    own: &[OwnEntry],
    linked: &[String],
    dns_server: Option<String>,
) -> Result<()> {
    let hc = &c.spec.host_config;
    let gw = host_gateway(store);
    let mut extra: Vec<String> = hc
        .net
        .extra_hosts
        .iter()
        .flatten()
        .map(|h| match h.split_once(':') {
            Some((n, "host-gateway")) => format!("{n}:{gw}"),
            _ => h.clone(),
        })
        .collect();
    extra.extend(linked.iter().cloned());
    fs::write(&p.hosts, hosts::hosts_file(&extra, own)).ctx("write", &p.hosts)?;
    let flags = hc.net.dns_flags();
    let resolv = match dns_server {
        Some(s) => hosts::resolv_conf_embedded(&host_resolv(), &s, &flags),
        None => hosts::resolv_conf(&host_resolv(), &flags),
    };
    fs::write(&p.resolv_conf, resolv).ctx("write", &p.resolv_conf)
}

impl NetSetup {
    /// Step 1: everything up to the namespace the runtime joins.
    pub fn begin(store: &Store, c: &Container) -> Result<NetSetup> {
        let mut s = NetSetup::default();
        match s.begin_inner(store, c) {
            Ok(()) => Ok(s),
            Err(e) => {
                s.release(store, c);
                Err(e)
            }
        }
    }

    fn begin_inner(&mut self, store: &Store, c: &Container) -> Result<()> {
        let mode = NetMode::parse(&c.spec.host_config.network_mode)?;
        let p = paths(store, &c.id);
        match &mode {
            NetMode::Host => Ok(()),
            NetMode::None => write_etc(store, c, &p, &[], &[], None),
            NetMode::Container(name) => {
                let other = containers::lookup(store, name)?;
                if !other.is_running() || other.state.pid <= 0 {
                    return Err(RuntimeError::Invalid(format!(
                        "cannot join network of a non running container: {}",
                        other.id
                    )));
                }
                let op = paths(store, &other.id);
                self.netns_path = Some(PathBuf::from(format!("/proc/{}/ns/net", other.state.pid)));
                self.etc = Some(EtcFiles {
                    hosts: op.hosts,
                    hostname: op.hostname,
                    resolv_conf: op.resolv_conf,
                });
                self.hostname = Some(other.spec.config.hostname.clone());
                self.state.sandbox = format!("/proc/{}/ns/net", other.state.pid);
                Ok(())
            }
            NetMode::Pasta => self.begin_pasta(store, c, &p),
            NetMode::Default | NetMode::Bridge | NetMode::Named(_) => {
                self.begin_bridge(store, c, &p, &mode)
            }
        }
    }

    fn bind(&mut self, c: &Container) -> Result<()> {
        let hc = &c.spec.host_config;
        let exposed: Vec<String> = c
            .spec
            .config
            .net
            .exposed_ports
            .iter()
            .flat_map(|m| m.keys().cloned())
            .collect();
        let (bound, ports) =
            proxy_linux::bind_ports(&hc.net.port_bindings, &exposed, hc.net.publish_all_ports)?;
        self.bound = bound;
        self.state.ports = ports;
        Ok(())
    }

    fn begin_bridge(
        &mut self,
        store: &Store,
        c: &Container,
        p: &Paths,
        mode: &NetMode,
    ) -> Result<()> {
        let t0 = Instant::now();
        let atts = networks::allocate(store, &c.id, None)?;
        self.allocated = !atts.is_empty();
        if atts.is_empty() {
            if let NetMode::Named(n) = mode {
                return Err(RuntimeError::NoSuchNetwork(n.clone()));
            }
            // Disconnected from every network: loopback only.
            write_etc(store, c, p, &[], &[], None)?;
            return Ok(());
        }
        self.bind(c)?;
        let cfg = &c.spec.config;
        let own: Vec<OwnEntry> = atts
            .iter()
            .filter_map(|a| a.ip)
            .map(|ip| OwnEntry {
                ip: ip.to_string(),
                hostname: cfg.hostname.clone(),
                domainname: cfg.domainname.clone(),
            })
            .collect();
        let dns = atts
            .iter()
            .find(|a| a.network.dns_enabled())
            .and_then(|a| a.gateway())
            .filter(|_| atts[0].network.dns_enabled())
            .map(|g| g.to_string());
        let linked = links::resolve(
            store,
            c,
            &atts[0].network.id,
            atts[0].network.is_default_bridge(),
        )?;
        self.link_env = linked.env;
        write_etc(store, c, p, &own, &linked.hosts, dns)?;
        let ns = new_netns()?;
        let path = shared_path(&ns, &mut self.holder)?;
        self.netns = Some(ns);
        self.netns_path = Some(path.clone());
        self.target = atts[0].ip.map(IpAddr::V4);
        for (i, a) in atts.iter().enumerate() {
            self.state
                .interfaces
                .insert(a.network.id.clone(), format!("eth{i}"));
        }
        tracing::debug!(
            ms = t0.elapsed().as_millis() as u64,
            "net: addresses, files, netns"
        );
        let mut infra = InfraClient::connect(store.root())?;
        tracing::debug!(ms = t0.elapsed().as_millis() as u64, "net: infra connected");
        let eps = endpoints(c, &atts, &self.state.interfaces);
        let opts = Options::new(&c.id, &c.name, &eps, &c.spec.host_config.net.dns);
        let req = Request::Setup {
            netns: path.display().to_string(),
            options: opts.to_json(),
            fast: fast_attach(&atts),
        };
        infra.send(&req)?;
        self.state.sandbox = format!("/proc/{}/ns/net", std::process::id());
        self.pending = Some(req);
        self.infra = Some(infra);
        Ok(())
    }

    fn begin_pasta(&mut self, store: &Store, c: &Container, p: &Paths) -> Result<()> {
        let pasta = netavark::find_binary("pasta").ok_or_else(|| {
            RuntimeError::Invalid(
                "--network pasta needs pasta (Debian: apt-get install passt)".into(),
            )
        })?;
        self.bind(c)?;
        let ip = primary_ipv4().unwrap_or(Ipv4Addr::LOCALHOST);
        let cfg = &c.spec.config;
        let own = [OwnEntry {
            ip: ip.to_string(),
            hostname: cfg.hostname.clone(),
            domainname: cfg.domainname.clone(),
        }];
        write_etc(store, c, p, &own, &[], None)?;
        let ns = new_netns()?;
        self.netns_path = Some(shared_path(&ns, &mut self.holder)?);
        self.target = Some(IpAddr::V4(ip));
        let pidfile = p.dir.join("pasta.pid");
        let _ = fs::remove_file(&pidfile);
        let raw = ns.as_raw_fd();
        let mut cmd = Command::new(pasta);
        // MTU as docker's bridges: pasta's default (65520) makes it send
        // segments no container interface takes.
        cmd.args(["--config-net", "--no-map-gw", "--foreground", "--quiet"])
            .args(["--mtu", "1500"])
            .args(["-t", "none", "-u", "none", "-T", "none", "-U", "none"])
            .arg("--runas")
            .arg(nix::unistd::geteuid().as_raw().to_string())
            .arg("--log-file")
            .arg(p.dir.join("pasta.log"))
            .arg("--pid")
            .arg(&pidfile)
            .args(["--netns", "/proc/self/fd/3"])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        proxy_linux::pass_fds(&mut cmd, vec![raw]);
        let child = cmd.spawn().ctx("start pasta", "pasta")?;
        self.netns = Some(ns);
        self.pasta = Some((child, pidfile));
        self.state.sandbox = format!("/proc/{}/ns/net", std::process::id());
        Ok(())
    }

    /// The namespace the runtime joins (`None`: the host's or a new one,
    /// as the mode says).
    pub fn netns_path(&self) -> Option<&Path> {
        self.netns_path.as_deref()
    }

    /// `/etc` files to bind (another container's with `container:NAME`).
    pub fn etc_files(&self, own: EtcFiles) -> EtcFiles {
        self.etc.clone().unwrap_or(own)
    }

    /// The container's `Config.Env` behind its links' environment (docker's
    /// `CreateDaemonEnvironment`: the link variables come after `PATH`,
    /// `HOSTNAME` and `TERM`, and the container's own replace them by key).
    pub fn with_link_env(&self, env: &[String]) -> Vec<String> {
        let mut out = self.link_env.clone();
        out.extend(env.iter().cloned());
        out
    }

    /// The host name (another container's with `container:NAME`).
    pub fn hostname(&self, own: &str) -> String {
        self.hostname.clone().unwrap_or_else(|| own.to_string())
    }

    /// Step 2: waits for the network and starts the proxy.
    pub fn finish(&mut self, store: &Store) -> Result<()> {
        if let (Some(req), Some(infra)) = (self.pending.take(), self.infra.as_mut())
            && let Err(e) = infra.wait()
        {
            if !infra.is_gone() {
                return Err(e);
            }
            // We connected to an infra process on its way out: once more
            // with a new one.
            let mut again = InfraClient::connect(store.root())?;
            again.call(&req)?;
            *infra = again;
        }
        if let Some((child, pidfile)) = self.pasta.as_mut() {
            let t0 = Instant::now();
            loop {
                if fs::metadata(&*pidfile).is_ok_and(|m| m.len() > 0) {
                    break;
                }
                if let Ok(Some(st)) = child.try_wait() {
                    return Err(RuntimeError::Invalid(format!("pasta exited: {st}")));
                }
                if t0.elapsed() > Duration::from_secs(10) {
                    return Err(RuntimeError::Invalid("pasta did not start".into()));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        if !self.bound.is_empty()
            && let Some(target) = self.target
        {
            let netns = match (self.infra.as_mut(), &self.netns_path) {
                (Some(i), _) => i.netns_path()?,
                (None, Some(p)) => p.clone(),
                (None, None) => return Ok(()),
            };
            self.proxy = Some(proxy_linux::spawn(&netns, &self.bound, target)?);
            // The proxy holds the sockets now.
            self.bound.clear();
        }
        Ok(())
    }

    /// What to record in the container's state.
    pub fn state(&self) -> RuntimeNet {
        self.state.clone()
    }

    /// Step 3: takes it all down (also after a failed start).
    pub fn release(&mut self, store: &Store, c: &Container) {
        // Killed, not waited for: the supervisor reaps them (it reaps every
        // child) or, leaving, hands them to its reaper; waiting would add
        // the namespace's teardown to every stop.
        if let Some(mut p) = self.proxy.take() {
            let _ = p.kill();
        }
        if let Some((mut p, pidfile)) = self.pasta.take() {
            let _ = p.kill();
            let _ = fs::remove_file(pidfile);
        }
        self.bound.clear();
        if let (Some(infra), Some(path)) = (self.infra.as_mut(), &self.netns_path) {
            if self.pending.take().is_some() {
                let _ = infra.wait();
            }
            // Hot-connected networks are in the records too.
            let ifaces = containers::get(store, &c.id)
                .ok()
                .flatten()
                .map(|c| c.state.net.interfaces)
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| self.state.interfaces.clone());
            let atts: Vec<Attachment> = networks::attachments(store, &c.id)
                .unwrap_or_default()
                .into_iter()
                .filter(|a| a.ip.is_some() && !a.network.is_default_bridge())
                .collect();
            if !atts.is_empty() {
                let eps = endpoints(c, &atts, &ifaces);
                let opts = Options::new(&c.id, &c.name, &eps, &c.spec.host_config.net.dns);
                if let Err(e) = infra.call(&Request::Teardown {
                    netns: path.display().to_string(),
                    options: opts.to_json(),
                }) {
                    tracing::warn!("network teardown of {}: {e}", c.id);
                }
            }
        }
        if std::mem::take(&mut self.allocated)
            && let Err(e) = networks::release(store, &c.id, None)
        {
            tracing::warn!("release addresses of {}: {e}", c.id);
        }
        self.holder = None;
        self.netns = None;
        self.infra = None;
    }
}

/// The IPv4 address of the host's default-route interface (what pasta
/// gives a namespace).
fn primary_ipv4() -> Option<Ipv4Addr> {
    let routes = fs::read_to_string("/proc/net/route").ok()?;
    let iface = routes.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 2 && f[1] == "00000000").then(|| f[0].to_string())
    })?;
    let sock = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Datagram,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )
    .ok()?;
    // SAFETY: ifreq is plain data; the name is NUL-terminated within it.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(iface.bytes().take(15)) {
        *d = s as libc::c_char;
    }
    // SAFETY: SIOCGIFADDR fills the ifreq we own.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFADDR, &mut req) } < 0 {
        return None;
    }
    // SAFETY: for AF_INET the union holds a sockaddr_in.
    let sin: libc::sockaddr_in = unsafe { std::mem::transmute_copy(&req.ifr_ifru.ifru_addr) };
    Some(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
}

/// `network connect` of a running container: attaches it now.
pub fn connect_running(store: &Store, c: &Container, net: &Network) -> Result<()> {
    let have = networks::attachments(store, &c.id)?;
    if !have.iter().any(|a| a.ip.is_some()) || c.state.net.interfaces.is_empty() {
        return Err(RuntimeError::Invalid(format!(
            "container {} has no bridge network to add {} to: stop it, connect, and start it again",
            c.name, net.name
        )));
    }
    let atts = networks::allocate(store, &c.id, Some(&net.id))?;
    let used: Vec<&String> = c.state.net.interfaces.values().collect();
    let iface = (0..)
        .map(|i| format!("eth{i}"))
        .find(|n| !used.contains(&n))
        .unwrap_or_else(|| "eth9".into());
    let mut ifaces = BTreeMap::new();
    ifaces.insert(net.id.clone(), iface.clone());
    let result = (|| -> Result<()> {
        let mut infra = InfraClient::connect(store.root())?;
        let eps = endpoints(c, &atts, &ifaces);
        let opts = Options::new(&c.id, &c.name, &eps, &c.spec.host_config.net.dns);
        infra.call(&Request::Setup {
            netns: format!("/proc/{}/ns/net", c.state.pid),
            options: opts.to_json(),
            fast: None,
        })?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = networks::release(store, &c.id, Some(&net.id));
        return Err(e);
    }
    containers::update_state(store, &c.id, |s| {
        s.net.interfaces.insert(net.id.clone(), iface.clone());
    })?;
    let p = paths(store, &c.id);
    if let Some(ip) = atts.first().and_then(|a| a.ip) {
        let entry = hosts::hosts_file(
            &[],
            &[OwnEntry {
                ip: ip.to_string(),
                hostname: c.spec.config.hostname.clone(),
                domainname: c.spec.config.domainname.clone(),
            }],
        );
        let line = entry.lines().last().unwrap_or_default().to_string();
        let mut text = fs::read_to_string(&p.hosts).unwrap_or_default();
        text.push_str(&line);
        text.push('\n');
        fs::write(&p.hosts, text).ctx("write", &p.hosts)?;
    }
    Ok(())
}

/// `network disconnect` of a running container.
pub fn disconnect_running(store: &Store, c: &Container, net: &Network) -> Result<()> {
    let atts: Vec<Attachment> = networks::attachments(store, &c.id)?
        .into_iter()
        .filter(|a| a.network.id == net.id && a.ip.is_some())
        .collect();
    if !atts.is_empty() {
        let mut infra = InfraClient::connect(store.root())?;
        let eps = endpoints(c, &atts, &c.state.net.interfaces);
        let opts = Options::new(&c.id, &c.name, &eps, &c.spec.host_config.net.dns);
        infra.call(&Request::Teardown {
            netns: format!("/proc/{}/ns/net", c.state.pid),
            options: opts.to_json(),
        })?;
        networks::release(store, &c.id, Some(&net.id))?;
        containers::update_state(store, &c.id, |s| {
            s.net.interfaces.remove(&net.id);
        })?;
    }
    Ok(())
}

/// docker's MAC address for an attachment's address.
pub fn mac_of(a: &Attachment) -> String {
    a.mac
        .clone()
        .or_else(|| a.ip.map(ipam::mac_for))
        .unwrap_or_default()
}
