//! docker's legacy links (`--link NAME[:ALIAS]`), as docker 20.10 makes
//! them (moby `opts.ParseLink`, `daemon/links`, `buildSandboxOptions`,
//! `setupLinkedContainers`):
//!
//! * at create, [`parse_link`] reads the flag and [`check`] finds the
//!   container (following `container:NAME` to the one owning the
//!   namespace); the record keeps `NAME:ALIAS` (`HostConfig.Links`) with
//!   the container's canonical name;
//! * at each start on the default bridge network, every linked container
//!   must run there; the new container gets an `/etc/hosts` line
//!   `IP\tALIAS HOSTNAME [NAME]` and the link environment of [`link_env`]
//!   (`ALIAS_PORT_6379_TCP=tcp://IP:6379`, `…_ADDR`, `…_PORT`, `…_PROTO`,
//!   ranges, `ALIAS_NAME=/parent/alias`, `ALIAS_ENV_*`);
//! * on a user-defined network a link is an alias only this container
//!   sees (docker resolves it in its embedded DNS; here an `/etc/hosts`
//!   line `IP\tALIAS` for a linked container running on that network),
//!   and no environment is set, as in docker.

use strata_store::Store;

use super::NetMode;
use super::networks;
use crate::containers::{self, Container};
use crate::error::{Result, RuntimeError};

/// docker's `ParseLink`: `NAME[:ALIAS]` → (name, alias).
pub fn parse_link(val: &str) -> Result<(String, String)> {
    if val.is_empty() {
        return Err(RuntimeError::Invalid(
            "empty string specified for links".into(),
        ));
    }
    let parts: Vec<&str> = val.split(':').collect();
    match parts.as_slice() {
        [name] => Ok((name.to_string(), name.to_string())),
        // A recorded docker link (`/foo:/c1/bar`).
        [name, alias] if name.starts_with('/') => Ok((
            name[1..].to_string(),
            alias.rsplit('/').next().unwrap_or(alias).to_string(),
        )),
        [name, alias] => Ok((name.to_string(), alias.to_string())),
        _ => Err(RuntimeError::Invalid(format!(
            "bad format for links: {val}"
        ))),
    }
}

/// The container owning `c`'s network namespace (`container:NAME`
/// followed), as docker's `registerLinks` finds it.
fn namespace_owner(store: &Store, mut c: Container) -> Result<Container> {
    for _ in 0..16 {
        match c.spec.host_config.network() {
            NetMode::Container(other) => {
                c = containers::lookup(store, &other).map_err(|_| {
                    RuntimeError::Invalid(format!("Could not get container for {other}"))
                })?
            }
            _ => return Ok(c),
        }
    }
    Err(RuntimeError::Invalid(format!(
        "container {}: network namespace chain too long",
        c.name
    )))
}

/// Checks `--link` values at create for a container of network `mode`;
/// returns them as recorded (`NAME:ALIAS`).
pub fn check(store: &Store, links: &[String], mode: &NetMode) -> Result<Vec<String>> {
    if links.is_empty() {
        return Ok(Vec::new());
    }
    match mode {
        NetMode::Host => {
            return Err(RuntimeError::Invalid(
                "conflicting options: host type networking can't be used with links. This would result in undefined behavior".into(),
            ));
        }
        NetMode::Container(_) => {
            return Err(RuntimeError::Invalid(
                "conflicting options: container type network can't be used with links. This would result in undefined behavior".into(),
            ));
        }
        _ => {}
    }
    let mut out = Vec::new();
    for l in links {
        let (name, alias) = parse_link(l)?;
        let child = containers::lookup(store, &name)
            .map_err(|_| RuntimeError::Invalid(format!("could not get container for {name}")))?;
        let owner = namespace_owner(store, child.clone())?;
        if owner.spec.host_config.network() == NetMode::Host {
            return Err(RuntimeError::Invalid(
                "conflicting options: host type networking can't be used with links. This would result in undefined behavior".into(),
            ));
        }
        out.push(format!("{}:{alias}", child.name));
    }
    Ok(out)
}

/// What the links of a starting container give it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// `/etc/hosts` entries, as `NAMES:IP` (the `--add-host` form).
    pub hosts: Vec<String>,
    /// The link environment (before the container's own).
    pub env: Vec<String>,
}

/// Resolves the recorded links of `c` at its start; `network_id`: the
/// network it is attached to first, `default_bridge`: that is docker's
/// default bridge (links with environment) rather than a user network.
pub fn resolve(
    store: &Store,
    c: &Container,
    network_id: &str,
    default_bridge: bool,
) -> Result<Resolved> {
    let mut out = Resolved::default();
    for l in c.spec.host_config.net.links.iter().flatten() {
        let (name, alias) = parse_link(l)?;
        let full = format!("/{}/{alias}", c.name);
        let found = containers::lookup(store, &name).and_then(|x| namespace_owner(store, x));
        let child = match found {
            Ok(x) => x,
            Err(_) if !default_bridge => continue,
            Err(_) => {
                return Err(RuntimeError::Invalid(format!(
                    "could not get container for {name}"
                )));
            }
        };
        if !child.is_running() {
            if !default_bridge {
                continue;
            }
            return Err(RuntimeError::Invalid(format!(
                "Cannot link to a non running container: /{} AS {full}",
                child.name
            )));
        }
        let ip = networks::attachments(store, &child.id)?
            .into_iter()
            .find(|a| a.network.id == network_id)
            .and_then(|a| a.ip);
        let Some(ip) = ip else {
            if !default_bridge {
                continue;
            }
            return Err(RuntimeError::Invalid(format!(
                "Cannot link to /{}, as it does not belong to the default network",
                child.name
            )));
        };
        if !default_bridge {
            out.hosts.push(format!("{alias}:{ip}"));
            continue;
        }
        let mut names = format!("{alias} {}", child.spec.config.hostname);
        if alias != child.name {
            names.push(' ');
            names.push_str(&child.name);
        }
        out.hosts.push(format!("{names}:{ip}"));
        let exposed: Vec<String> = child
            .spec
            .config
            .net
            .exposed_ports
            .iter()
            .flat_map(|m| m.keys().cloned())
            .collect();
        out.env.extend(link_env(
            &full,
            &ip.to_string(),
            &child.spec.config.env,
            &exposed,
        ));
    }
    Ok(out)
}

/// The link environment an `exec` in running container `c` gets (docker
/// computes it for every exec too): on the default bridge only, and
/// nothing when a linked container went away since the start.
pub fn exec_env(store: &Store, c: &Container) -> Vec<String> {
    let first = networks::attachments(store, &c.id)
        .ok()
        .and_then(|a| a.into_iter().find(|a| a.ip.is_some()));
    match first {
        Some(a) if a.network.is_default_bridge() => resolve(store, c, &a.network.id, true)
            .map(|r| r.env)
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// A port of docker's `nat.Port` (`6379/tcp`).
#[derive(Debug, Clone)]
struct Port {
    num: i64,
    port: String,
    proto: String,
}

impl Port {
    fn parse(key: &str) -> Port {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        Port {
            num: port.parse().unwrap_or(0),
            port: port.to_string(),
            proto: proto.to_string(),
        }
    }
}

/// docker 20.10's `nextContiguous`: the last index of the run of
/// consecutive port numbers starting at `index`.
fn next_contiguous(ports: &[Port], mut value: i64, index: usize) -> usize {
    if index + 1 == ports.len() {
        return index;
    }
    for (i, p) in ports.iter().enumerate().skip(index + 1) {
        if p.num > value + 1 {
            return i - 1;
        }
        value += 1;
    }
    ports.len() - 1
}

/// The environment of link `name` (`/parent/alias`) to a container at
/// `ip` with `Config.Env` `child_env` and `ExposedPorts` keys `exposed`:
/// docker 20.10's `Link.ToEnv`, line for line in its order.
pub fn link_env(name: &str, ip: &str, child_env: &[String], exposed: &[String]) -> Vec<String> {
    let last = name.rsplit('/').next().unwrap_or(name);
    let alias = last.to_uppercase().replace('-', "_");
    let mut ports: Vec<Port> = exposed.iter().map(|k| Port::parse(k)).collect();
    // Port number order, tcp first among equal numbers.
    ports.sort_by(|a, b| {
        a.num
            .cmp(&b.num)
            .then_with(|| (b.proto == "tcp").cmp(&(a.proto == "tcp")))
    });
    let mut env = Vec::new();
    if let Some(p) = ports.first() {
        env.push(format!("{alias}_PORT={}://{ip}:{}", p.proto, p.port));
    }
    let mut i = 0;
    while i < ports.len() {
        let p = &ports[i];
        let j = next_contiguous(&ports, p.num, i);
        if j > i + 1 {
            let up = p.proto.to_uppercase();
            let pre = format!("{alias}_PORT_{}_{up}", p.port);
            env.push(format!("{pre}_START={}://{ip}:{}", p.proto, p.port));
            env.push(format!("{pre}_ADDR={ip}"));
            env.push(format!("{pre}_PROTO={}", p.proto));
            env.push(format!("{pre}_PORT_START={}", p.port));
            let q = &ports[j];
            let pre_end = format!("{alias}_PORT_{}_{}", p.port, q.proto.to_uppercase());
            env.push(format!("{pre_end}_END={}://{ip}:{}", q.proto, q.port));
            env.push(format!("{pre_end}_PORT_END={}", q.port));
            i = j + 1;
        } else {
            i += 1;
        }
    }
    for p in &ports {
        let pre = format!("{alias}_PORT_{}_{}", p.port, p.proto.to_uppercase());
        env.push(format!("{pre}={}://{ip}:{}", p.proto, p.port));
        env.push(format!("{pre}_ADDR={ip}"));
        env.push(format!("{pre}_PORT={}", p.port));
        env.push(format!("{pre}_PROTO={}", p.proto));
    }
    env.push(format!("{alias}_NAME={name}"));
    for v in child_env {
        let Some((k, val)) = v.split_once('=') else {
            continue;
        };
        // docker leaves out what every build adds.
        if k == "HOME" || k == "PATH" {
            continue;
        }
        env.push(format!("{alias}_ENV_{k}={val}"));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn links_parse_as_dockers() {
        assert_eq!(
            parse_link("redis").unwrap(),
            ("redis".into(), "redis".into())
        );
        assert_eq!(
            parse_link("redis:db").unwrap(),
            ("redis".into(), "db".into())
        );
        assert_eq!(
            parse_link("/redis:/web/db").unwrap(),
            ("redis".into(), "db".into())
        );
        assert!(parse_link("").is_err());
        assert_eq!(
            parse_link("a:b:c").unwrap_err().to_string(),
            "bad format for links: a:b:c"
        );
    }

    /// moby 20.10 `daemon/links/links_test.go` `TestLinkNaming` and
    /// `TestLinkEnv`, the same inputs and lines.
    #[test]
    fn env_as_moby_20_10() {
        let env = link_env("/db/docker-1", "172.0.17.2", &[], &s(&["6379/tcp"]));
        assert!(env.contains(&"DOCKER_1_PORT=tcp://172.0.17.2:6379".to_string()));
        let env = link_env(
            "/db/docker",
            "172.0.17.2",
            &s(&["PASSWORD=gordon", "PATH=/x", "HOME=/root", "NOVALUE"]),
            &s(&["6379/tcp"]),
        );
        assert_eq!(
            env,
            s(&[
                "DOCKER_PORT=tcp://172.0.17.2:6379",
                "DOCKER_PORT_6379_TCP=tcp://172.0.17.2:6379",
                "DOCKER_PORT_6379_TCP_ADDR=172.0.17.2",
                "DOCKER_PORT_6379_TCP_PORT=6379",
                "DOCKER_PORT_6379_TCP_PROTO=tcp",
                "DOCKER_NAME=/db/docker",
                "DOCKER_ENV_PASSWORD=gordon",
            ])
        );
    }

    /// moby 20.10 `TestLinkMultipleEnv`: a run of three ports.
    #[test]
    fn port_ranges_as_moby_20_10() {
        let env = link_env(
            "/db/docker",
            "172.0.17.2",
            &s(&["PASSWORD=gordon"]),
            &s(&["6380/tcp", "6379/tcp", "6381/tcp"]),
        );
        for want in [
            "DOCKER_PORT=tcp://172.0.17.2:6379",
            "DOCKER_PORT_6379_TCP_START=tcp://172.0.17.2:6379",
            "DOCKER_PORT_6379_TCP_END=tcp://172.0.17.2:6381",
            "DOCKER_PORT_6379_TCP_PROTO=tcp",
            "DOCKER_PORT_6379_TCP_ADDR=172.0.17.2",
            "DOCKER_PORT_6379_TCP_PORT_START=6379",
            "DOCKER_PORT_6379_TCP_PORT_END=6381",
            "DOCKER_PORT_6380_TCP=tcp://172.0.17.2:6380",
            "DOCKER_PORT_6381_TCP_PORT=6381",
            "DOCKER_NAME=/db/docker",
            "DOCKER_ENV_PASSWORD=gordon",
        ] {
            assert!(env.contains(&want.to_string()), "{want} in {env:?}");
        }
        // No run of three numbers, no range; tcp first at one number.
        let env = link_env("/a/b", "1.2.3.4", &[], &s(&["53/udp", "53/tcp", "80/tcp"]));
        assert_eq!(env[0], "B_PORT=tcp://1.2.3.4:53");
        assert!(!env.iter().any(|e| e.contains("_START")), "{env:?}");
        assert_eq!(env[1], "B_PORT_53_TCP=tcp://1.2.3.4:53");
    }
}
