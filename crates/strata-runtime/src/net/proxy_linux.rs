//! `-p`/`-P` as docker's userland proxy: the supervisor binds the host
//! ports in the host's network namespace ([`bind_ports`]: docker's
//! defaults — every IPv4 and IPv6 address when no address is given, any
//! free port when no port is, a host range as a pool), and hands the
//! sockets to a proxy process (`strata __shim proxy <spec>`, [`main`]). The
//! proxy enters the infra network namespace, so every connection it opens
//! to a container's address starts there, and relays bytes (TCP: a thread
//! pair per connection, `splice` under `io::copy`; UDP: one upstream socket
//! per client address, dropped after docker's 90 s of silence). It dies
//! with its supervisor (`PR_SET_PDEATHSIG`).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket,
};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, SockaddrIn6, bind, listen, setsockopt,
    socket, sockopt,
};
use serde::{Deserialize, Serialize};

use super::ports::{PortBinding, PortBindings, PortKey, PortMap};
use crate::error::{IoContext, Result, RuntimeError, SysContext};
use crate::helper;

/// docker's UDP conntrack timeout in its userland proxy.
const UDP_IDLE: Duration = Duration::from_secs(90);

/// A bound host socket and where it forwards to.
#[derive(Debug)]
pub struct Bound {
    /// The listening (TCP) or bound (UDP) socket.
    pub fd: OwnedFd,
    /// The container port.
    pub key: PortKey,
}

fn bind_one(ip: IpAddr, port: u16, udp: bool) -> nix::Result<(OwnedFd, u16)> {
    let (family, v6) = match ip {
        IpAddr::V4(_) => (AddressFamily::Inet, false),
        IpAddr::V6(_) => (AddressFamily::Inet6, true),
    };
    let ty = if udp {
        SockType::Datagram
    } else {
        SockType::Stream
    };
    let fd = socket(family, ty, SockFlag::SOCK_CLOEXEC, None)?;
    setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    if v6 {
        setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
    }
    let port = match ip {
        IpAddr::V4(a) => {
            bind(
                fd.as_raw_fd(),
                &SockaddrIn::from(std::net::SocketAddrV4::new(a, port)),
            )?;
            nix::sys::socket::getsockname::<SockaddrIn>(fd.as_raw_fd())?.port()
        }
        IpAddr::V6(a) => {
            bind(
                fd.as_raw_fd(),
                &SockaddrIn6::from(std::net::SocketAddrV6::new(a, port, 0, 0)),
            )?;
            nix::sys::socket::getsockname::<SockaddrIn6>(fd.as_raw_fd())?.port()
        }
    };
    if !udp {
        listen(&fd, Backlog::new(128)?)?;
    }
    Ok((fd, port))
}

fn host_ips(b: &PortBinding) -> Result<Vec<IpAddr>> {
    if b.host_ip.is_empty() {
        return Ok(vec![
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        ]);
    }
    Ok(vec![b.host_ip.parse().map_err(|_| {
        RuntimeError::Invalid(format!("invalid host address {}", b.host_ip))
    })?])
}

fn taken(ip: IpAddr, port: &str) -> RuntimeError {
    let host = match ip {
        IpAddr::V6(_) => format!("[{ip}]:{port}"),
        IpAddr::V4(_) => format!("{ip}:{port}"),
    };
    RuntimeError::Invalid(format!(
        "driver failed programming external connectivity: Bind for {host} failed: port is already allocated"
    ))
}

/// Binds one binding on every address it names, all on one port number;
/// returns the sockets with the address each is on, and the port.
fn bind_binding(key: PortKey, b: &PortBinding) -> Result<Vec<(OwnedFd, IpAddr, u16)>> {
    let ips = host_ips(b)?;
    let candidates: Vec<u16> =
        match b.host_port.split_once('-') {
            _ if b.host_port.is_empty() => vec![0; 16],
            Some((lo, hi)) => {
                let (lo, hi): (u16, u16) = (
                    lo.parse().map_err(|_| {
                        RuntimeError::Invalid(format!("Invalid hostPort: {}", b.host_port))
                    })?,
                    hi.parse().map_err(|_| {
                        RuntimeError::Invalid(format!("Invalid hostPort: {}", b.host_port))
                    })?,
                );
                (lo..=hi).collect()
            }
            None => vec![b.host_port.parse().map_err(|_| {
                RuntimeError::Invalid(format!("Invalid hostPort: {}", b.host_port))
            })?],
        };
    let single = candidates.len() == 1;
    'next: for want in candidates {
        let mut got: Vec<(OwnedFd, IpAddr, u16)> = Vec::new();
        let mut port = want;
        for (i, ip) in ips.iter().enumerate() {
            match bind_one(*ip, port, key.udp) {
                Ok((fd, p)) => {
                    port = p;
                    got.push((fd, *ip, p));
                }
                // A host without IPv6 gets the IPv4 socket only, as docker.
                Err(nix::errno::Errno::EAFNOSUPPORT | nix::errno::Errno::EADDRNOTAVAIL)
                    if i > 0 && b.host_ip.is_empty() => {}
                Err(nix::errno::Errno::EADDRINUSE) if !single => continue 'next,
                Err(nix::errno::Errno::EADDRINUSE) => {
                    return Err(taken(*ip, &port.to_string()));
                }
                Err(e) => {
                    return Err(RuntimeError::Invalid(format!(
                        "driver failed programming external connectivity: listen {}{} {ip}:{port}: {e}",
                        key.proto(),
                        if ip.is_ipv4() { "4" } else { "6" }
                    )));
                }
            }
        }
        return Ok(got);
    }
    let ip = ips
        .first()
        .copied()
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    Err(taken(ip, &b.host_port))
}

/// Binds the host side of every published port (`-p`, and with `-P` every
/// exposed port on any free port); returns the sockets and docker's
/// `NetworkSettings.Ports` (exposed-only ports as `null`).
pub fn bind_ports(
    bindings: &PortBindings,
    exposed: &[String],
    publish_all: bool,
) -> Result<(Vec<Bound>, PortMap)> {
    let mut wanted: BTreeMap<String, Vec<PortBinding>> = bindings.clone();
    if publish_all {
        for e in exposed {
            wanted
                .entry(e.clone())
                .or_insert_with(|| vec![PortBinding::default()]);
        }
    }
    let mut map = PortMap::new();
    for e in exposed {
        map.insert(e.clone(), None);
    }
    let mut bound = Vec::new();
    for (k, list) in &wanted {
        let key =
            PortKey::parse(k).ok_or_else(|| RuntimeError::Invalid(format!("invalid port {k}")))?;
        let mut shown = Vec::new();
        for b in list {
            for (fd, ip, port) in bind_binding(key, b)? {
                shown.push(PortBinding {
                    host_ip: ip.to_string(),
                    host_port: port.to_string(),
                });
                bound.push(Bound { fd, key });
            }
        }
        map.insert(k.clone(), Some(shown));
    }
    Ok((bound, map))
}

/// What a proxy process forwards.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProxySpec {
    /// The network namespace to connect from (the infra namespace).
    pub netns: String,
    /// Per inherited descriptor (3, 4, …): protocol and target.
    pub forwards: Vec<Forward>,
}

/// One forwarded socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Forward {
    /// UDP (else TCP).
    pub udp: bool,
    /// The container's address and port.
    pub target: SocketAddr,
}

/// Puts `fds` on descriptors 3, 4, … of the child `cmd` starts.
pub(crate) fn pass_fds(cmd: &mut Command, fds: Vec<RawFd>) {
    // SAFETY: between fork and exec only async-signal-safe calls (fcntl,
    // dup2, prctl); the descriptors stay open in the parent until spawn
    // returns.
    unsafe {
        cmd.pre_exec(move || {
            // First out of the way (>= 100), then into place.
            let mut high = Vec::with_capacity(fds.len());
            for fd in &fds {
                let h = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 100);
                if h < 0 {
                    return Err(io::Error::last_os_error());
                }
                high.push(h);
            }
            for (i, h) in high.iter().enumerate() {
                if libc::dup2(*h, 3 + i as i32) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            Ok(())
        });
    }
}

/// Starts the proxy process of a container (a child of the supervisor
/// that dies with it).
pub fn spawn(netns: &Path, bound: &[Bound], target: IpAddr) -> Result<Child> {
    let spec = ProxySpec {
        netns: netns.display().to_string(),
        forwards: bound
            .iter()
            .map(|b| Forward {
                udp: b.key.udp,
                target: SocketAddr::new(target, b.key.port),
            })
            .collect(),
    };
    let mut cmd = Command::new(helper::helper_binary());
    cmd.args([helper::SHIM, "proxy"])
        .arg(serde_json::to_string(&spec).unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .env("STRATA_LOG", helper::log_filter());
    pass_fds(&mut cmd, bound.iter().map(|b| b.fd.as_raw_fd()).collect());
    cmd.spawn()
        .ctx("start the port proxy", helper::helper_binary())
}

/// `strata __shim proxy <spec>`: relays until killed.
pub fn main(spec: &ProxySpec) -> i32 {
    match run(spec) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("proxy: {e}");
            125
        }
    }
}

fn run(spec: &ProxySpec) -> Result<()> {
    // SAFETY: getppid has no preconditions; the parent may have died
    // before PR_SET_PDEATHSIG took effect.
    if unsafe { libc::getppid() } == 1 {
        return Ok(());
    }
    let ns = std::fs::File::open(&spec.netns).ctx("open", &spec.netns)?;
    nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).sys("setns(infra)")?;
    let mut threads = Vec::new();
    for (i, f) in spec.forwards.iter().enumerate() {
        // SAFETY: the supervisor put our sockets on 3, 4, … in order; each
        // is owned by exactly one of these objects.
        let fd = unsafe { OwnedFd::from_raw_fd(3 + i as RawFd) };
        let target = f.target;
        threads.push(if f.udp {
            let sock = UdpSocket::from(fd);
            std::thread::spawn(move || udp_loop(sock, target))
        } else {
            let l = TcpListener::from(fd);
            std::thread::spawn(move || tcp_loop(l, target))
        });
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

fn tcp_loop(l: TcpListener, target: SocketAddr) {
    loop {
        match l.accept() {
            Ok((client, _)) => {
                std::thread::spawn(move || {
                    let _ = relay_tcp(client, target);
                });
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::warn!("proxy: accept: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn relay_tcp(client: TcpStream, target: SocketAddr) -> io::Result<()> {
    let upstream = TcpStream::connect_timeout(&target, Duration::from_secs(10))?;
    let _ = upstream.set_nodelay(true);
    let _ = client.set_nodelay(true);
    let (mut c_read, mut u_write) = (client.try_clone()?, upstream.try_clone()?);
    let back = std::thread::spawn(move || {
        let _ = io::copy(&mut c_read, &mut u_write);
        let _ = u_write.shutdown(Shutdown::Write);
    });
    let (mut u_read, mut c_write) = (upstream, client);
    let _ = io::copy(&mut u_read, &mut c_write);
    let _ = c_write.shutdown(Shutdown::Write);
    let _ = back.join();
    Ok(())
}

fn udp_loop(sock: UdpSocket, target: SocketAddr) {
    let sock = Arc::new(sock);
    let sessions: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>> = Arc::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = match sock.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!("proxy: udp receive: {e}");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let up = {
            let mut s = sessions.lock().unwrap_or_else(|e| e.into_inner());
            match s.get(&from) {
                Some(u) => Some(u.clone()),
                None => match new_session(target) {
                    Ok(u) => {
                        let u = Arc::new(u);
                        s.insert(from, u.clone());
                        let (sock, sessions, up) = (sock.clone(), sessions.clone(), u.clone());
                        std::thread::spawn(move || udp_replies(&sock, &up, from, &sessions));
                        Some(u)
                    }
                    Err(e) => {
                        tracing::warn!("proxy: udp to {target}: {e}");
                        None
                    }
                },
            }
        };
        if let Some(up) = up {
            let _ = up.send(&buf[..n]);
        }
    }
}

fn new_session(target: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = match target {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let u = UdpSocket::bind(local)?;
    u.connect(target)?;
    u.set_read_timeout(Some(UDP_IDLE))?;
    Ok(u)
}

fn udp_replies(
    sock: &UdpSocket,
    up: &UdpSocket,
    client: SocketAddr,
    sessions: &Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>,
) {
    let mut buf = vec![0u8; 65536];
    loop {
        match up.recv(&mut buf) {
            Ok(n) => {
                let _ = sock.send_to(&buf[..n], client);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    sessions
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&client);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_given_and_free_ports_on_loopback() {
        let mut b = PortBindings::new();
        b.insert(
            "80/tcp".into(),
            vec![PortBinding {
                host_ip: "127.0.0.1".into(),
                host_port: String::new(),
            }],
        );
        b.insert(
            "53/udp".into(),
            vec![PortBinding {
                host_ip: "127.0.0.1".into(),
                host_port: String::new(),
            }],
        );
        let exposed = vec!["53/udp".to_string(), "7000/tcp".into(), "80/tcp".into()];
        let (bound, map) = bind_ports(&b, &exposed, false).unwrap();
        assert_eq!(bound.len(), 2);
        assert_eq!(map["7000/tcp"], None);
        let got = map["80/tcp"].as_ref().unwrap();
        assert_eq!(got[0].host_ip, "127.0.0.1");
        let port: u16 = got[0].host_port.parse().unwrap();
        assert!(port > 0);
        // The same port again: docker's "already allocated".
        let mut again = PortBindings::new();
        again.insert(
            "80/tcp".into(),
            vec![PortBinding {
                host_ip: "127.0.0.1".into(),
                host_port: port.to_string(),
            }],
        );
        let err = bind_ports(&again, &[], false).unwrap_err().to_string();
        assert!(err.contains("port is already allocated"), "{err}");
    }
}
