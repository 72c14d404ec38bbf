//! Rootless strata: an ordinary user's strata runs inside a user namespace
//! of its own, where it is root over the ids `/etc/subuid` and
//! `/etc/subgid` give the user (podman's and buildah's model).
//!
//! [`enter`] runs first thing in `main`, while the process has one thread
//! (`unshare(CLONE_NEWUSER)` requires it). It forks a helper that stays
//! outside, unshares the user namespace, and lets the helper write the
//! mapping with the setuid `newuidmap`/`newgidmap` (Debian's `uidmap`):
//!
//! ```text
//! inside  0           -> the user's own uid/gid
//! inside  1..=count   -> the subordinate range start..start+count
//! ```
//!
//! Without `newuidmap` or a subordinate range it maps the user's own id
//! alone (as `unshare -r` does) and warns: every file then belongs to root
//! in the namespace, and chowning to any other id fails. The process keeps
//! its pid, terminal and signals; its helpers inherit the namespace and
//! the flag [`strata_store::userns::ROOTLESS_ENV`]. The first command
//! leaves a pause process holding the namespaces, and later ones join them
//! ([`crate::rootless_pause_linux`]).

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::Command;

use nix::sched::CloneFlags;
use nix::unistd::{ForkResult, Gid, Uid};

use crate::rootless_pause_linux as pause;

/// Why the user namespace could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RootlessError {
    /// A system call failed.
    #[error("rootless: {what}: {source}")]
    Sys {
        /// What was being done.
        what: &'static str,
        /// The error.
        source: nix::Error,
    },
    /// The mapping could not be written.
    #[error("rootless: write {path}: {source}")]
    Map {
        /// The `/proc` file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

fn sys(what: &'static str) -> impl FnOnce(nix::Error) -> RootlessError {
    move |source| RootlessError::Sys { what, source }
}

/// One subordinate id range of `/etc/subuid` or `/etc/subgid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubRange {
    /// The first host id.
    pub start: u32,
    /// How many ids.
    pub count: u32,
}

/// The ranges of the user (`name` or numeric `id`) in a subid file's text
/// (`name:start:count` lines), in file order.
pub fn parse_subids(text: &str, name: Option<&str>, id: u32) -> Vec<SubRange> {
    let id = id.to_string();
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().splitn(3, ':');
            let (who, start, count) = (f.next()?, f.next()?, f.next()?);
            if who != id && Some(who) != name {
                return None;
            }
            let (start, count) = (start.trim().parse().ok()?, count.trim().parse().ok()?);
            (count > 0).then_some(SubRange { start, count })
        })
        .collect()
}

/// The arguments of `newuidmap PID …` for `own` plus `ranges`: the user's
/// id as 0, the ranges from 1 on.
pub fn map_args(own: u32, ranges: &[SubRange]) -> Vec<String> {
    let mut out = vec!["0".to_string(), own.to_string(), "1".to_string()];
    let mut next = 1u32;
    for r in ranges {
        out.extend([next.to_string(), r.start.to_string(), r.count.to_string()]);
        next = next.saturating_add(r.count);
    }
    out
}

/// How the namespace was mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    /// Subordinate ranges through `newuidmap`/`newgidmap`.
    Ranges,
    /// Only the user's own id (why the ranges could not be used).
    Single(String),
}

/// Moves this process into a new user and mount namespace when it is not
/// root; `None` when it is root already (real root, or strata's own
/// namespace). Must run before any thread exists.
pub fn enter() -> Result<Option<Mapping>, RootlessError> {
    let (uid, gid) = (Uid::current(), Gid::current());
    if Uid::effective().is_root() {
        return Ok(None);
    }
    let dir = pause::run_dir(uid.as_raw())?;
    let _lock = pause::lock(&dir)?;
    let mapping = match pause::join(&dir, uid.as_raw())? {
        Some(m) => m,
        None => {
            let m = unshare(uid, gid)?;
            pause::start(&dir, &m)?;
            m
        }
    };
    // SAFETY: the process has one thread; nothing reads the environment
    // concurrently.
    unsafe {
        let single = match mapping {
            Mapping::Single(_) => strata_store::userns::SINGLE_SUFFIX,
            Mapping::Ranges => "",
        };
        std::env::set_var(
            strata_store::userns::ROOTLESS_ENV,
            format!("{}{single}", uid.as_raw()),
        );
    }
    Ok(Some(mapping))
}

/// Makes the namespaces: user (mapped), mount (private), cgroup.
fn unshare(uid: Uid, gid: Gid) -> Result<Mapping, RootlessError> {
    let name = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name);
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let uids = parse_subids(&read("/etc/subuid"), name.as_deref(), uid.as_raw());
    let gids = parse_subids(&read("/etc/subgid"), name.as_deref(), gid.as_raw());
    let mut mapping = if uids.is_empty() || gids.is_empty() {
        Mapping::Single(format!(
            "no range for {} in /etc/subuid and /etc/subgid",
            name.as_deref().unwrap_or("this user")
        ))
    } else {
        Mapping::Ranges
    };
    if mapping == Mapping::Ranges && !map_ranges(uid, gid, &uids, &gids)? {
        mapping = Mapping::Single("newuidmap/newgidmap failed (see above)".into());
        map_single(uid.as_raw(), gid.as_raw())?;
    } else if mapping != Mapping::Ranges {
        nix::sched::unshare(CloneFlags::CLONE_NEWUSER).map_err(sys("unshare"))?;
        map_single(uid.as_raw(), gid.as_raw())?;
    }
    crate::sys_linux::private_mount_namespace().map_err(sys("make a private mount namespace"))?;
    cgroup_view();
    Ok(mapping)
}

/// Unshares the user namespace and has a forked helper, still outside,
/// map it with `newuidmap`/`newgidmap`; false if they failed (the
/// namespace is then unmapped).
fn map_ranges(
    uid: Uid,
    gid: Gid,
    uids: &[SubRange],
    gids: &[SubRange],
) -> Result<bool, RootlessError> {
    let pid = nix::unistd::getpid();
    let (ready_r, ready_w) = nix::unistd::pipe().map_err(sys("pipe"))?;
    let (done_r, done_w) = nix::unistd::pipe().map_err(sys("pipe"))?;
    // SAFETY: the process has one thread (enter's contract), so the child
    // may run any code; it only waits, runs newuidmap/newgidmap and exits.
    match unsafe { nix::unistd::fork() }.map_err(sys("fork"))? {
        ForkResult::Child => {
            drop((ready_w, done_r));
            let ok = wait_byte(ready_r)
                && run_map("newuidmap", pid.as_raw(), map_args(uid.as_raw(), uids))
                && run_map("newgidmap", pid.as_raw(), map_args(gid.as_raw(), gids));
            let _ = std::fs::File::from(done_w).write_all(if ok { b"1" } else { b"0" });
            // SAFETY: _exit ends the forked child without running the
            // parent's atexit handlers or destructors.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            drop((ready_r, done_w));
            let unshared = nix::sched::unshare(CloneFlags::CLONE_NEWUSER).map_err(sys("unshare"));
            let _ =
                std::fs::File::from(ready_w).write_all(if unshared.is_ok() { b"1" } else { b"0" });
            let mapped = wait_byte(done_r);
            let _ = nix::sys::wait::waitpid(child, None);
            unshared?;
            Ok(mapped)
        }
    }
}

/// Shows this process the cgroup v2 tree from its own cgroup down (a
/// cgroup namespace, and cgroup2 mounted on `/sys/fs/cgroup` in the private
/// mount namespace), whatever the host mounts there: the runtime then
/// manages cgroups as on a v2 host, rootless (a cgroup it may not create is
/// skipped, not an error), and uses a subtree delegated to the user where
/// one exists. On failure the host's view stays.
fn cgroup_view() {
    let done = nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP).and_then(|()| {
        nix::mount::mount(
            Some("cgroup2"),
            "/sys/fs/cgroup",
            Some("cgroup2"),
            nix::mount::MsFlags::MS_NOSUID
                | nix::mount::MsFlags::MS_NODEV
                | nix::mount::MsFlags::MS_NOEXEC,
            None::<&str>,
        )
    });
    if let Err(e) = done {
        tracing::debug!("rootless: no cgroup2 view: {e}");
    }
}

/// The cgroup v2 controllers delegated to this rootless strata (its cgroup
/// directory is writable and enables them for children); empty when
/// resource limits cannot be applied.
pub fn delegated_controllers() -> Vec<String> {
    let root = std::path::Path::new("/sys/fs/cgroup");
    if nix::unistd::access(root, nix::unistd::AccessFlags::W_OK).is_err() {
        return Vec::new();
    }
    std::fs::read_to_string(root.join("cgroup.controllers"))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Rootless, refuses a limit (`(flag, controller, asked)`) whose cgroup
/// controller is not delegated to the user: strata never runs a container
/// without a limit it was asked for.
pub fn check_limits(asked: &[(&str, &str, bool)]) -> crate::error::Result<()> {
    if !strata_store::userns::rootless() {
        return Ok(());
    }
    let have = delegated_controllers();
    for (flag, controller, on) in asked {
        if *on && !have.iter().any(|c| c == controller) {
            return Err(crate::error::RuntimeError::Invalid(format!(
                "rootless strata cannot apply {flag}: the cgroup v2 controller \"{controller}\" is not delegated to this user (cgroup v2 with systemd's user delegation is needed); run without {flag}"
            )));
        }
    }
    Ok(())
}

/// The lowest port an unprivileged process may bind in the host's network
/// namespace (`net.ipv4.ip_unprivileged_port_start`, 1024 by default).
pub fn unprivileged_port_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(1024)
}

/// The lowest host port a binding names (`80`, `8000-8010`); `None` for
/// any free port (or a port that does not parse: binding says so).
fn lowest_port(host_port: &str) -> Option<u16> {
    let lo = host_port.split_once('-').map_or(host_port, |(lo, _)| lo);
    lo.trim().parse().ok().filter(|p| *p != 0)
}

/// Rootless, refuses what the user's privileges cannot give a container's
/// network: `-p` to a host port below `net.ipv4.ip_unprivileged_port_start`
/// (the ports are bound in the host's network namespace), and the networks
/// pasta links to the outside (bridges, `pasta`) where the user may not open
/// `/dev/net/tun`.
pub fn check_network(
    mode: &str,
    bindings: &crate::net::ports::PortBindings,
) -> crate::error::Result<()> {
    use crate::net::NetMode;
    if !strata_store::userns::rootless() {
        return Ok(());
    }
    let needs_pasta = !matches!(
        NetMode::parse(mode),
        Ok(NetMode::None | NetMode::Host | NetMode::Container(_)) | Err(_)
    );
    if needs_pasta
        && nix::unistd::access(
            "/dev/net/tun",
            nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::W_OK,
        )
        .is_err()
    {
        return Err(crate::error::RuntimeError::Invalid(format!(
            "rootless strata connects network \"{}\" to the outside with pasta, which needs /dev/net/tun readable and writable by this user (as Debian's udev leaves it: chmod 0666 /dev/net/tun, as root); or use --network none or --network host",
            if mode.is_empty() { "default" } else { mode }
        )));
    }
    check_ports(bindings, unprivileged_port_start())
}

fn check_ports(bindings: &crate::net::ports::PortBindings, start: u16) -> crate::error::Result<()> {
    for (key, list) in bindings {
        for b in list {
            if let Some(port) = lowest_port(&b.host_port).filter(|p| *p < start) {
                return Err(crate::error::RuntimeError::Invalid(format!(
                    "rootless strata cannot publish {key} on host port {port}: ports below {start} need root (net.ipv4.ip_unprivileged_port_start is {start}); publish on a port >= {start}, e.g. -p {}:{}",
                    u32::from(port) + 8000,
                    key.split('/').next().unwrap_or(key)
                )));
            }
        }
    }
    Ok(())
}

fn wait_byte(fd: OwnedFd) -> bool {
    let mut b = [0u8; 1];
    matches!(std::fs::File::from(fd).read(&mut b), Ok(1) if b[0] == b'1')
}

fn run_map(tool: &str, pid: i32, args: Vec<String>) -> bool {
    let mut argv: Vec<OsString> = vec![pid.to_string().into()];
    argv.extend(args.into_iter().map(OsString::from));
    match Command::new(tool).args(&argv).status() {
        Ok(s) if s.success() => true,
        Ok(s) => {
            eprintln!("strata: {tool} failed ({s})");
            false
        }
        Err(e) => {
            eprintln!("strata: cannot run {tool}: {e} (install Debian's uidmap)");
            false
        }
    }
}

fn map_single(uid: u32, gid: u32) -> Result<(), RootlessError> {
    let write = |path: &str, text: String| {
        std::fs::write(path, text).map_err(|source| RootlessError::Map {
            path: path.to_string(),
            source,
        })
    };
    write("/proc/self/setgroups", "deny".into())?;
    write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    write("/proc/self/gid_map", format!("0 {gid} 1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subids_by_name_or_id() {
        let text = "alice:100000:65536\n1001:300000:10\nbob:200000:65536\nalice:x:1\n";
        assert_eq!(
            parse_subids(text, Some("alice"), 1001),
            vec![
                SubRange {
                    start: 100000,
                    count: 65536
                },
                SubRange {
                    start: 300000,
                    count: 10
                }
            ]
        );
        assert!(parse_subids(text, Some("carol"), 5).is_empty());
    }

    #[test]
    fn low_host_ports_refused() {
        use crate::net::ports::PortBinding;
        let one = |port: &str| {
            let mut m = crate::net::ports::PortBindings::new();
            m.insert(
                "80/tcp".to_string(),
                vec![PortBinding {
                    host_ip: String::new(),
                    host_port: port.to_string(),
                }],
            );
            m
        };
        let err = check_ports(&one("80"), 1024).unwrap_err().to_string();
        assert!(
            err.contains("host port 80") && err.contains("-p 8080:80"),
            "{err}"
        );
        assert!(check_ports(&one("8080"), 1024).is_ok());
        assert!(check_ports(&one(""), 1024).is_ok());
        assert!(check_ports(&one("1000-2000"), 1024).is_err());
        assert!(check_ports(&one("80"), 0).is_ok());
    }

    #[test]
    fn args_put_own_id_at_zero() {
        let r = [
            SubRange {
                start: 100000,
                count: 65536,
            },
            SubRange { start: 9, count: 2 },
        ];
        assert_eq!(
            map_args(1001, &r).join(" "),
            "0 1001 1 1 100000 65536 65537 9 2"
        );
    }
}
