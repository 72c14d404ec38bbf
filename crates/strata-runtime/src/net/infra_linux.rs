//! The infra process: one per store root, holding the *infra network
//! namespace* where the bridges of the default and user networks live
//! (podman's rootless-netns, without any mount).
//!
//! ```text
//! supervisor ── connect @strata-infra-<hash(root)> ──> infra (PID 1 of its own
//!   │  (SOCK_SEQPACKET, abstract: nothing on disk)       pid namespace, in the
//!   │  hello / setup / teardown, one JSON per message    infra netns)
//!   │                                                      ├─ pasta  (outside link)
//!   └─ keeps the connection while its container runs     ├─ netavark (per request)
//!                                                          └─ aardvark-dns (by netavark)
//! ```
//! * **Pinning:** nothing is mounted. The namespace lives as long as its
//!   processes (the infra process, pasta, aardvark-dns) and the
//!   containers' veth peers in it; every one of them is in the infra
//!   process's pid namespace, which the kernel kills as a whole when the
//!   infra process exits. Supervisors and proxies enter it through
//!   `/proc/<pid>/ns/net` of the infra process.
//! * **Start:** the first supervisor that needs a bridge network and finds
//!   no infra process spawns one (`strata __shim infra <root> <ready-fd>`);
//!   it binds the abstract socket in the host namespace (so exactly one
//!   wins a race), enters a new pid namespace, forks the infra process
//!   proper and exits. That one makes the network namespace, starts pasta
//!   (`--config-net --no-map-gw`, no port forwarding: containers never
//!   reach the host's loopback) and serves requests. netavark runs
//!   inside it (its "host" is the infra namespace) with its state (and
//!   aardvark-dns's) under `<root>/net/infra/`.
//! * **End:** a supervisor holds its connection for its container's life.
//!   When the last connection has been closed (containers gone, or
//!   supervisors killed) for [`DEFAULT_LINGER`] (`STRATA_NET_LINGER`
//!   seconds; back-to-back `run --rm` reuse the namespace), the infra
//!   process closes its socket and exits, and with it go pasta,
//!   aardvark-dns and the namespace. A client that races the
//!   shutdown sees its connection reset and starts a new one.
//! * Only clients of the infra process's own user are served
//!   (`SO_PEERCRED`).

use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, unshare};
use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, UnixAddr, accept4, bind, getsockopt, listen,
    socket, sockopt,
};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use super::infra_client_linux::{Reply, Request, recv_msg, send_json, socket_name, state_dir};
use super::netavark;
use crate::error::{IoContext, Result, RuntimeError, SysContext};
use crate::sys_linux;

/// How long a new infra process waits for its first client.
const FIRST_CLIENT: Duration = Duration::from_secs(10);

/// How long the infra process stays after its last client left
/// (`STRATA_NET_LINGER`, seconds, default 2): back-to-back `run --rm`
/// reuse its namespace, bridges and pasta instead of making them again.
pub const DEFAULT_LINGER: Duration = Duration::from_secs(2);

fn linger() -> Duration {
    std::env::var("STRATA_NET_LINGER")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(DEFAULT_LINGER, Duration::from_secs_f64)
}

/// How long a setup waits for pasta to come up.
const PASTA_READY: Duration = Duration::from_secs(10);

/// `strata __shim infra <root> <ready-fd>`: binds the socket, enters a new
/// pid namespace, forks the infra process and reports `ok <pid>` (or
/// `exists`, or the error) on the ready descriptor.
pub fn main(root: &Path, ready: OwnedFd) -> i32 {
    let mut ready = fs::File::from(ready);
    let listener = match listen_on(root) {
        Ok(l) => l,
        Err(nix::errno::Errno::EADDRINUSE) => {
            let _ = ready.write_all(b"exists");
            return 0;
        }
        Err(e) => {
            let _ = write!(ready, "listen: {e}");
            return 1;
        }
    };
    if let Err(e) = unshare(CloneFlags::CLONE_NEWPID) {
        let _ = write!(ready, "unshare(CLONE_NEWPID): {e}");
        return 1;
    }
    // SAFETY: this helper process is single-threaded.
    match unsafe { fork() } {
        Ok(ForkResult::Parent { child }) => {
            let _ = write!(ready, "ok {child}");
            0
        }
        Ok(ForkResult::Child) => {
            drop(ready);
            let code = match Infra::new(root) {
                Ok(mut infra) => infra.serve(listener),
                Err(e) => {
                    tracing::error!("infra: {e}");
                    1
                }
            };
            std::process::exit(code)
        }
        Err(e) => {
            let _ = write!(ready, "fork: {e}");
            1
        }
    }
}

fn listen_on(root: &Path) -> nix::Result<OwnedFd> {
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?;
    let a = UnixAddr::new_abstract(&socket_name(root))?;
    bind(fd.as_raw_fd(), &a)?;
    listen(&fd, Backlog::new(128)?)?;
    Ok(fd)
}

/// The infra process proper.
struct Infra {
    state: PathBuf,
    netavark: PathBuf,
    aardvark: Option<PathBuf>,
    pasta: Option<Pid>,
    pasta_pidfile: PathBuf,
    pasta_ready: bool,
    /// Our PID in the host's pid namespace.
    host_pid: i32,
    /// The iptables run that installs our own rule, while it runs.
    firewall: Option<Pid>,
    /// Its failure, once it ended.
    firewall_error: Option<String>,
    /// Bridges netavark has set up in this process's life.
    bridges: std::collections::HashSet<String>,
}

fn missing(what: &str) -> RuntimeError {
    RuntimeError::Invalid(format!(
        "container networking needs {what} (Debian: apt-get install passt netavark aardvark-dns iptables)"
    ))
}

impl Infra {
    fn new(root: &Path) -> Result<Infra> {
        let netavark = netavark::find_binary("netavark").ok_or_else(|| missing("netavark"))?;
        let aardvark = netavark::find_binary("aardvark-dns");
        let state = state_dir(root);
        if state.exists() {
            fs::remove_dir_all(&state).ctx("clean", &state)?;
        }
        fs::create_dir_all(&state).ctx("create", &state)?;
        // A fresh log per infra process (stderr is the log file).
        // SAFETY: ftruncate on our own stderr.
        unsafe { libc::ftruncate(2, 0) };
        let host_pid = fs::read_link("/proc/self")
            .ok()
            .and_then(|p| p.to_str().and_then(|s| s.parse().ok()))
            .unwrap_or(0);
        Ok(Infra {
            pasta_pidfile: state.join("pasta.pid"),
            state,
            netavark,
            aardvark,
            pasta: None,
            pasta_ready: false,
            host_pid,
            firewall: None,
            firewall_error: None,
            bridges: Default::default(),
        })
    }

    fn serve(&mut self, listener: OwnedFd) -> i32 {
        let sigs = match sys_linux::SignalPipe::install(&[
            nix::sys::signal::Signal::SIGCHLD,
            nix::sys::signal::Signal::SIGTERM,
            nix::sys::signal::Signal::SIGINT,
        ]) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("infra: {e}");
                return 1;
            }
        };
        if let Err(e) = self.enter_namespace() {
            tracing::error!("infra: {e}");
            return 1;
        }
        match drop_invalid() {
            Ok(pid) => self.firewall = Some(pid),
            Err(e) => self.firewall_error = Some(e.to_string()),
        }
        let linger = linger();
        // Until the first client, then from the last one's going.
        let mut idle_since = Instant::now();
        let mut clients: Vec<OwnedFd> = Vec::new();
        let mut served = false;
        loop {
            let limit = if served { linger } else { FIRST_CLIENT };
            if clients.is_empty() {
                self.accept_all(&listener, &mut clients);
                if clients.is_empty() && idle_since.elapsed() >= limit {
                    break;
                }
            }
            let mut fds = vec![sigs.fd(), listener.as_fd()];
            fds.extend(clients.iter().map(|c| c.as_fd()));
            let timeout = clients
                .is_empty()
                .then(|| limit.saturating_sub(idle_since.elapsed()));
            let ready = match poll_for(&fds, timeout) {
                Some(r) => r,
                None => continue,
            };
            drop(fds);
            if ready[0] {
                for s in sigs.take() {
                    if s == libc::SIGCHLD {
                        self.reap();
                    } else {
                        tracing::info!("infra: signal {s}, leaving");
                        return 0;
                    }
                }
            }
            if ready[1] {
                self.accept_all(&listener, &mut clients);
            }
            let mut gone = Vec::new();
            for (i, c) in clients.iter().enumerate() {
                if !ready.get(i + 2).copied().unwrap_or(false) {
                    continue;
                }
                served = true;
                match recv_msg(c.as_raw_fd()) {
                    Ok(Some(m)) => {
                        let reply = self.handle(&m);
                        if send_json(c.as_raw_fd(), &reply).is_err() {
                            gone.push(i);
                        }
                    }
                    _ => gone.push(i),
                }
            }
            let had = !clients.is_empty();
            for i in gone.into_iter().rev() {
                clients.remove(i);
            }
            if had && clients.is_empty() {
                idle_since = Instant::now();
            }
        }
        // Close the socket first, so new clients start a fresh infra
        // process; our pid namespace (pasta, aardvark-dns) ends with us.
        drop(listener);
        tracing::debug!("infra: last client gone, leaving");
        0
    }

    fn accept_all(&self, listener: &OwnedFd, clients: &mut Vec<OwnedFd>) {
        loop {
            match accept4(listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
                Ok(fd) => {
                    // SAFETY: accept4 returned a new descriptor we own.
                    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                    let ok = getsockopt(&fd, sockopt::PeerCredentials)
                        .map(|c| c.uid() == nix::unistd::geteuid().as_raw())
                        .unwrap_or(false);
                    if ok {
                        clients.push(fd);
                    }
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return,
            }
        }
    }

    /// Makes the infra network namespace, starts pasta from the host's
    /// namespace attached to it, then enters it and brings its loopback
    /// up. Nothing returns to the host's namespace afterwards: a rootless
    /// strata (root of its user namespace only) may not enter it again.
    fn enter_namespace(&mut self) -> Result<()> {
        let ns = super::attach_linux::new_netns()?;
        if let Err(e) = self.start_pasta(&ns) {
            tracing::error!("infra: {e}");
        }
        nix::sched::setns(&ns, CloneFlags::CLONE_NEWNET)
            .sys("enter the infra network namespace")?;
        loopback_up()
    }

    /// Starts pasta in this (the host's) network namespace, attached to
    /// `ns` as its fd 3.
    fn start_pasta(&mut self, ns: &OwnedFd) -> Result<()> {
        let pasta = netavark::find_binary("pasta").ok_or_else(|| missing("pasta"))?;
        let uid = nix::unistd::geteuid().as_raw();
        let mut cmd = Command::new(pasta);
        // MTU as docker's bridges: pasta's default (65520) makes it send
        // segments no container interface takes.
        cmd.args(["--config-net", "--no-map-gw", "--foreground", "--quiet"])
            .args(["--mtu", "1500"])
            .args(["-t", "none", "-u", "none", "-T", "none", "-U", "none"])
            .arg("--runas")
            .arg(uid.to_string())
            .arg("--log-file")
            .arg(self.state.join("pasta.log"))
            .arg("--pid")
            .arg(&self.pasta_pidfile)
            .args(["--netns", "/proc/self/fd/3"])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        // pasta works from the host's namespace (its sockets are the
        // outside end) and attaches to the infra one through fd 3.
        super::proxy_linux::pass_fds(&mut cmd, vec![ns.as_raw_fd()]);
        let child = cmd.spawn().ctx("start pasta", "pasta")?;
        self.pasta = Some(Pid::from_raw(child.id() as i32));
        Ok(())
    }

    /// Waits until pasta links the namespace to the outside and our
    /// firewall rule is in (both started with the infra process).
    fn wait_ready(&mut self) -> Result<()> {
        if self.pasta_ready && self.firewall.is_none() {
            return self.firewall_error.clone().map_or(Ok(()), |e| {
                Err(RuntimeError::Invalid(format!("infra firewall: {e}")))
            });
        }
        let t0 = Instant::now();
        while self.firewall.is_some() && t0.elapsed() < PASTA_READY {
            std::thread::sleep(Duration::from_millis(1));
            self.reap();
        }
        if let Some(e) = &self.firewall_error {
            return Err(RuntimeError::Invalid(format!("infra firewall: {e}")));
        }
        while !self.pasta_ready && t0.elapsed() < PASTA_READY {
            if self.pasta.is_none() {
                break;
            }
            if fs::metadata(&self.pasta_pidfile).is_ok_and(|m| m.len() > 0) {
                self.pasta_ready = true;
                tracing::debug!(ms = t0.elapsed().as_millis() as u64, "pasta ready");
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(1));
            self.reap();
        }
        if self.pasta_ready {
            return Ok(());
        }
        Err(RuntimeError::Invalid(format!(
            "pasta did not start (see {})",
            self.state.join("pasta.log").display()
        )))
    }

    fn reap(&mut self) {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(st) => {
                    if st.pid().is_some() && st.pid() == self.pasta {
                        tracing::error!("infra: pasta exited: {st:?}");
                        self.pasta = None;
                        self.pasta_ready = false;
                    }
                    if st.pid().is_some() && st.pid() == self.firewall {
                        self.firewall = None;
                        if !matches!(st, WaitStatus::Exited(_, 0)) {
                            self.firewall_error = Some(format!(
                                "iptables -I INPUT -m conntrack --ctstate INVALID -j DROP: {st:?}"
                            ));
                        }
                    }
                }
            }
        }
    }

    fn handle(&mut self, msg: &[u8]) -> Reply {
        let req: Request = match serde_json::from_slice(msg) {
            Ok(r) => r,
            Err(e) => {
                return Reply {
                    error: format!("bad request: {e}"),
                    ..Reply::default()
                };
            }
        };
        let result = match &req {
            Request::Hello => Ok(None),
            Request::Setup {
                netns,
                options,
                fast,
            } => self
                .setup(netns, options, fast.as_ref())
                .and_then(|s| self.wait_ready().map(|()| s)),
            Request::Teardown { netns, options } => self.netavark("teardown", netns, options),
        };
        match result {
            Ok(status) => Reply {
                ok: true,
                pid: self.host_pid,
                status,
                ..Reply::default()
            },
            Err(e) => Reply {
                error: e.to_string(),
                ..Reply::default()
            },
        }
    }

    fn setup(
        &mut self,
        netns: &str,
        options: &str,
        fast: Option<&super::veth_linux::FastAttach>,
    ) -> Result<Option<serde_json::Value>> {
        if let Some(f) = fast.filter(|f| self.bridges.contains(&f.bridge)) {
            let t0 = Instant::now();
            match super::veth_linux::attach(netns, f) {
                Ok(()) => {
                    tracing::debug!(ms = t0.elapsed().as_millis() as u64, "fast attach");
                    return Ok(None);
                }
                // The bridge went away under us: netavark makes it again.
                Err(e) => {
                    tracing::warn!("infra: fast attach: {e}");
                    self.bridges.remove(&f.bridge);
                }
            }
        }
        let status = self.netavark("setup", netns, options)?;
        if let Some(f) = fast {
            self.bridges.insert(f.bridge.clone());
        }
        wait_for_dns(netns, options, status.as_ref());
        Ok(status)
    }

    fn netavark(
        &mut self,
        verb: &str,
        netns: &str,
        options: &str,
    ) -> Result<Option<serde_json::Value>> {
        let t0 = Instant::now();
        let path = std::env::var("PATH").unwrap_or_default();
        let mut child = Command::new(&self.netavark)
            .args(netavark::args(
                &self.state,
                self.aardvark.as_deref(),
                verb,
                netns,
            ))
            .env("PATH", format!("{path}:/usr/sbin:/usr/bin:/sbin:/bin"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .ctx("run", &self.netavark)?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(options.as_bytes());
        }
        let out = child.wait_with_output().ctx("run", &self.netavark)?;
        self.reap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        tracing::debug!(
            ms = t0.elapsed().as_millis() as u64,
            verb,
            "netavark: {}",
            stdout.trim()
        );
        if !out.status.success() {
            return Err(RuntimeError::Invalid(format!(
                "netavark {verb}: {}",
                netavark::error_message(&stdout, &String::from_utf8_lossy(&out.stderr))
            )));
        }
        Ok(serde_json::from_str(stdout.trim()).ok())
    }
}

/// After a setup on a network with aardvark-dns: waits until it answers
/// the container's name (see [`super::dns_probe_linux`]).
fn wait_for_dns(netns: &str, options: &str, status: Option<&serde_json::Value>) {
    let Some(status) =
        status.and_then(|s| serde_json::from_value::<netavark::Status>(s.clone()).ok())
    else {
        return;
    };
    let Some(server) = status
        .values()
        .filter_map(|b| b.dns_server_ips.as_ref())
        .flatten()
        .find_map(|ip| ip.parse::<std::net::Ipv4Addr>().ok())
    else {
        return;
    };
    let name = serde_json::from_str::<serde_json::Value>(options)
        .ok()
        .and_then(|o| o["container_name"].as_str().map(str::to_string));
    if let Some(name) = name.filter(|n| !n.is_empty()) {
        super::dns_probe_linux::wait_for_name(netns, server, &name);
    }
}

/// Waits for one of `fds` to be readable; `None` when interrupted.
fn poll_for(fds: &[std::os::fd::BorrowedFd<'_>], timeout: Option<Duration>) -> Option<Vec<bool>> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut p: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
        .collect();
    let t = timeout.map_or(PollTimeout::NONE, |d| {
        PollTimeout::try_from(d.as_millis().min(60_000) as i32).unwrap_or(PollTimeout::MAX)
    });
    match poll(&mut p, t) {
        Ok(_) => Some(
            p.iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect(),
        ),
        Err(_) => None,
    }
}

/// Drops packets conntrack finds invalid before they reach the infra
/// namespace's own stack: pasta (2023) sends window updates without the
/// ACK flag, which conntrack does not map back through the masquerade, so
/// the local stack would answer them with a reset and kill the
/// container's connection.
fn drop_invalid() -> Result<Pid> {
    let path = std::env::var("PATH").unwrap_or_default();
    let child = Command::new("iptables")
        .args([
            "-w",
            "-I",
            "INPUT",
            "-m",
            "conntrack",
            "--ctstate",
            "INVALID",
            "-j",
            "DROP",
        ])
        .env("PATH", format!("{path}:/usr/sbin:/usr/bin:/sbin:/bin"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|_| missing("iptables"))?;
    Ok(Pid::from_raw(child.id() as i32))
}

/// Brings `lo` up in the current network namespace.
pub fn loopback_up() -> Result<()> {
    let fd = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .sys("socket")?;
    // SAFETY: ifreq is plain data; the name is NUL-terminated within it.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq we own.
    unsafe {
        if libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(std::io::Error::last_os_error()).ctx("get flags of", "lo");
        }
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(fd.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(std::io::Error::last_os_error()).ctx("bring up", "lo");
        }
    }
    Ok(())
}
