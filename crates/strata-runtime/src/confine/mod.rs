//! Container confinement from the user's flags, in two steps:
//!
//! 1. at `create`, [`host_config`] checks the flags as docker does (same
//!    errors) and records them in `HostConfig` under docker's names
//!    ([`SecurityConfig`]: `Privileged`, `CapAdd`, `CapDrop`,
//!    `SecurityOpt`, `Devices`, `Ulimits`, `Sysctls`, `ShmSize`,
//!    `IpcMode`, `PidMode`, `UsernsMode`, `CgroupnsMode`), so `inspect`
//!    shows them and the container does not depend on files named at
//!    create (a seccomp profile is stored inline, as docker does);
//! 2. at each start, [`resolve`] turns the record into the
//!    [`Confinement`] the spec is written from: capabilities, the seccomp
//!    choice, host devices, rlimits checked against what strata may
//!    raise, and the namespaces of `--ipc`/`--pid container:NAME` (the
//!    donor must run; an IPC donor must be `shareable`). A `shareable`
//!    container gets a tmpfs of its own on the host (`<dir>/shm`, bound
//!    as its `/dev/shm` and into the containers that join it);
//!    [`release`] unmounts it when the container stops.
//!
//! `exec` processes get the container's capabilities and no_new_privs
//! through [`exec_settings`]; the seccomp filter comes with the
//! container's `config.json`.

pub mod devices;
pub mod parse;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use oci_spec::runtime::Capability;
use serde::{Deserialize, Serialize};
use strata_store::Store;

use crate::containers::{self, Container, paths};
use crate::error::{Result, RuntimeError};
use crate::model::HostConfig;
use crate::rootfs_linux::{Mounter, SysMounter, is_mounted};
use crate::spec::caps::{self, HostCaps};
use crate::spec::cgroupfs::Layout;
use crate::spec::security::{
    Confinement, DEFAULT_SHM_SIZE, Namespace, SeccompChoice, Shm, Ulimit, cgroupns_supported,
    rlimit_type,
};

/// docker's `DeviceMapping`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceMapping {
    /// The host node (or directory).
    pub path_on_host: String,
    /// Where it appears in the container.
    pub path_in_container: String,
    /// Device cgroup access (`rwm`).
    pub cgroup_permissions: String,
}

/// The confinement part of docker's `HostConfig` (flattened into
/// [`HostConfig`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityConfig {
    /// `--privileged`.
    #[serde(default)]
    pub privileged: bool,
    /// `--cap-add`, normalised (`CAP_NET_ADMIN`).
    #[serde(default)]
    pub cap_add: Option<Vec<String>>,
    /// `--cap-drop`, normalised.
    #[serde(default)]
    pub cap_drop: Option<Vec<String>>,
    /// `--security-opt` (`seccomp=<json>` inline).
    #[serde(default)]
    pub security_opt: Option<Vec<String>>,
    /// `--device`.
    #[serde(default)]
    pub devices: Vec<DeviceMapping>,
    /// `--ulimit`.
    #[serde(default)]
    pub ulimits: Vec<Ulimit>,
    /// `--sysctl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sysctls: Option<BTreeMap<String, String>>,
    /// `/dev/shm` size in bytes (0: 64 MiB).
    #[serde(default)]
    pub shm_size: i64,
    /// `--ipc` (`private` by default).
    #[serde(default)]
    pub ipc_mode: String,
    /// `--pid` (empty: private).
    #[serde(default)]
    pub pid_mode: String,
    /// `--userns` (empty or `host`).
    #[serde(default)]
    pub userns_mode: String,
    /// `--cgroupns` (`host` on a cgroup v1 host, `private` on v2).
    #[serde(default)]
    pub cgroupns_mode: String,
}

/// The flags as the user gave them (`run`/`create`).
#[derive(Debug, Clone, Default)]
pub struct SecurityOptions {
    /// `--privileged`.
    pub privileged: bool,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--security-opt`.
    pub security_opt: Vec<String>,
    /// `--device`.
    pub devices: Vec<String>,
    /// `--ulimit`.
    pub ulimits: Vec<String>,
    /// `--sysctl`.
    pub sysctls: Vec<String>,
    /// `--shm-size`.
    pub shm_size: Option<String>,
    /// `--ipc`.
    pub ipc: Option<String>,
    /// `--pid`.
    pub pid: Option<String>,
    /// `--userns`.
    pub userns: Option<String>,
    /// `--cgroupns`.
    pub cgroupns: Option<String>,
}

/// docker's default `--cgroupns` on this host: `private` where cgroup v2
/// is the only hierarchy, `host` otherwise.
fn default_cgroupns() -> &'static str {
    if Layout::probe().v1.is_empty() && cgroupns_supported() {
        "private"
    } else {
        "host"
    }
}

/// The donor of `container:NAME`, if the mode names one.
fn donor_name(mode: &str) -> Option<&str> {
    mode.strip_prefix("container:")
}

/// Checks the flags and records them (step 1 of the module docs);
/// `network_mode` is the container's `HostConfig.NetworkMode` (`net.*`
/// sysctls need a network namespace of the container's own).
pub fn host_config(
    store: &Store,
    o: &SecurityOptions,
    network_mode: &str,
) -> Result<SecurityConfig> {
    let cap_add = caps::normalize(&o.cap_add, "CapAdd")?;
    let cap_drop = caps::normalize(&o.cap_drop, "CapDrop")?;
    let read = |p: &str| std::fs::read_to_string(p);
    let mut security_opt = o
        .security_opt
        .iter()
        .map(|s| parse::security_opt(s, &read))
        .collect::<Result<Vec<_>>>()?;
    if o.privileged && !security_opt.iter().any(|s| s == "label=disable") {
        security_opt.push("label=disable".to_string());
    }
    let devices = o
        .devices
        .iter()
        .map(|d| parse::device(d))
        .collect::<Result<Vec<_>>>()?;
    for d in &devices {
        devices::from_mapping(d)?;
    }
    let ulimits = o
        .ulimits
        .iter()
        .map(|u| parse::ulimit(u))
        .collect::<Result<Vec<_>>>()?;
    let sysctls = parse::sysctls(&o.sysctls)?;
    let shm_size = match o.shm_size.as_deref().map(parse::shm_size).transpose()? {
        Some(n) if n > 0 => n,
        _ => DEFAULT_SHM_SIZE,
    };
    let ipc_mode = parse::ipc_mode(o.ipc.as_deref().unwrap_or(""))?;
    let pid_mode = parse::pid_mode(o.pid.as_deref().unwrap_or(""))?;
    let userns_mode = parse::userns_mode(o.userns.as_deref().unwrap_or(""))?;
    let cgroupns_mode = match parse::cgroupns_mode(o.cgroupns.as_deref().unwrap_or(""))?.as_str() {
        "" => default_cgroupns().to_string(),
        m => m.to_string(),
    };
    for mode in [&ipc_mode, &pid_mode] {
        if let Some(name) = donor_name(mode) {
            containers::lookup(store, name)?;
        }
    }
    parse::check_sysctl_namespaces(&sysctls, &ipc_mode, network_mode)?;
    Ok(SecurityConfig {
        privileged: o.privileged,
        cap_add: (!cap_add.is_empty()).then_some(cap_add),
        cap_drop: (!cap_drop.is_empty()).then_some(cap_drop),
        security_opt: (!security_opt.is_empty()).then_some(security_opt),
        devices,
        ulimits,
        sysctls: (!sysctls.is_empty()).then_some(sysctls),
        shm_size,
        ipc_mode,
        pid_mode,
        userns_mode,
        cgroupns_mode,
    })
}

/// Writes the recorded flags into `inspect`'s `HostConfig` as docker shows
/// them (`null` for unset lists, no masked paths when privileged);
/// records older than these fields keep docker's defaults.
pub fn inspect_into(s: &SecurityConfig, obj: &mut serde_json::Map<String, serde_json::Value>) {
    use serde_json::{Value, json};
    let mut set = |k: &str, v: Value| {
        obj.insert(k.to_string(), v);
    };
    set("Privileged", json!(s.privileged));
    set("CapAdd", json!(s.cap_add));
    set("CapDrop", json!(s.cap_drop));
    set("SecurityOpt", json!(s.security_opt));
    set("Devices", json!(s.devices));
    set(
        "Ulimits",
        if s.ulimits.is_empty() {
            Value::Null
        } else {
            json!(s.ulimits)
        },
    );
    set("Sysctls", json!(s.sysctls));
    if s.shm_size > 0 {
        set("ShmSize", json!(s.shm_size));
    }
    for (k, v) in [("IpcMode", &s.ipc_mode), ("CgroupnsMode", &s.cgroupns_mode)] {
        if !v.is_empty() {
            set(k, json!(v));
        }
    }
    set("PidMode", json!(s.pid_mode));
    set("UsernsMode", json!(s.userns_mode));
    if s.privileged {
        set("MaskedPaths", Value::Null);
        set("ReadonlyPaths", Value::Null);
    }
}

/// The bounding set a container's `HostConfig` asks for, on this host.
fn container_caps(s: &SecurityConfig, host: &HostCaps) -> Vec<Capability> {
    caps::tweak(
        s.cap_add.as_deref().unwrap_or(&[]),
        s.cap_drop.as_deref().unwrap_or(&[]),
        s.privileged,
        &host.all(),
    )
}

/// What `exec` needs of the container's confinement: its bounding set and
/// `process.noNewPrivileges`.
pub fn exec_settings(hc: &HostConfig) -> (Vec<Capability>, Option<bool>) {
    let s = &hc.security;
    let caps = container_caps(s, &HostCaps::probe());
    let (nnp, _) = parse::security_choices(s.security_opt.as_deref().unwrap_or(&[]));
    (caps, nnp.then_some(true))
}

/// This process's hard limit of a resource, and whether it may raise it.
fn hard_limit(name: &str) -> Option<u64> {
    use nix::sys::resource::{Resource, getrlimit};
    let r = match name {
        "core" => Resource::RLIMIT_CORE,
        "cpu" => Resource::RLIMIT_CPU,
        "data" => Resource::RLIMIT_DATA,
        "fsize" => Resource::RLIMIT_FSIZE,
        "locks" => Resource::RLIMIT_LOCKS,
        "memlock" => Resource::RLIMIT_MEMLOCK,
        "msgqueue" => Resource::RLIMIT_MSGQUEUE,
        "nice" => Resource::RLIMIT_NICE,
        "nofile" => Resource::RLIMIT_NOFILE,
        "nproc" => Resource::RLIMIT_NPROC,
        "rss" => Resource::RLIMIT_RSS,
        "rtprio" => Resource::RLIMIT_RTPRIO,
        "rttime" => Resource::RLIMIT_RTTIME,
        "sigpending" => Resource::RLIMIT_SIGPENDING,
        "stack" => Resource::RLIMIT_STACK,
        _ => return None,
    };
    getrlimit(r).ok().map(|(_, hard)| hard)
}

/// Fails clearly when a ulimit raises a hard limit above strata's own
/// without `CAP_SYS_RESOURCE` (the runtime would fail with EPERM).
fn check_ulimits(ulimits: &[Ulimit], host: &HostCaps) -> Result<()> {
    if host.bounding & (1 << caps::bit(Capability::SysResource)) != 0 {
        return Ok(());
    }
    for u in ulimits {
        let Some(own) = hard_limit(&u.name) else {
            continue;
        };
        debug_assert!(rlimit_type(&u.name).is_some());
        if (u.hard as u64) > own {
            let shown = |v: i64| {
                if v < 0 {
                    "unlimited".to_string()
                } else {
                    v.to_string()
                }
            };
            let own_s = if own == u64::MAX {
                "unlimited".to_string()
            } else {
                own.to_string()
            };
            return Err(RuntimeError::Invalid(format!(
                "--ulimit {}={}:{}: cannot raise the hard limit above strata's own ({own_s}) without CAP_SYS_RESOURCE",
                u.name,
                shown(u.soft),
                shown(u.hard)
            )));
        }
    }
    Ok(())
}

/// A running container named by `container:NAME`.
fn running_donor(store: &Store, name: &str) -> Result<(Container, i32)> {
    let c = containers::lookup(store, name)?;
    match c
        .state
        .strata
        .init
        .filter(|p| c.is_running() && p.is_alive())
    {
        Some(init) => Ok((c, init.pid)),
        None => Err(RuntimeError::Invalid(format!(
            "container {} is not running",
            c.id
        ))),
    }
}

/// The host directory bound as `/dev/shm` of a `shareable` container.
pub fn shm_dir(container_dir: &Path) -> PathBuf {
    container_dir.join("shm")
}

/// Mounts a shareable container's `/dev/shm` tmpfs on the host.
fn mount_shareable_shm(dir: &Path, size: i64) -> Result<()> {
    if is_mounted(dir) {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| RuntimeError::Io {
        op: "create",
        path: dir.to_path_buf(),
        source: e,
    })?;
    nix::mount::mount(
        Some("shm"),
        dir,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(format!("mode=1777,size={size}").as_str()),
    )
    .map_err(|e| RuntimeError::Io {
        op: "mount shm tmpfs at",
        path: dir.to_path_buf(),
        source: e.into(),
    })
}

/// Unmounts what [`resolve`] mounted on the host for a container (its
/// shareable `/dev/shm`). Idempotent.
pub fn release(container_dir: &Path) -> Result<()> {
    let dir = shm_dir(container_dir);
    if is_mounted(&dir) {
        SysMounter.unmount(&dir)?;
    }
    Ok(())
}

/// The confinement of container `c` for this start (step 2 of the module
/// docs).
pub fn resolve(store: &Store, c: &Container) -> Result<Confinement> {
    let s = &c.spec.host_config.security;
    let host = HostCaps::probe();
    let caps = container_caps(s, &host);
    host.check(&caps)?;
    let (no_new_privileges, seccomp) =
        parse::security_choices(s.security_opt.as_deref().unwrap_or(&[]));
    let seccomp = match seccomp {
        None => SeccompChoice::Default,
        Some(None) => SeccompChoice::Unconfined,
        Some(Some(json)) => SeccompChoice::Profile(json),
    };
    let devices = if s.privileged {
        devices::host_devices()
    } else {
        let mut out = Vec::new();
        for m in &s.devices {
            out.extend(devices::from_mapping(m)?);
        }
        out
    };
    check_ulimits(&s.ulimits, &host)?;
    let shm_size = if s.shm_size > 0 {
        s.shm_size
    } else {
        DEFAULT_SHM_SIZE
    };
    let (ipc, shm) = match s.ipc_mode.as_str() {
        "host" => {
            if !is_mounted(Path::new("/dev/shm")) {
                return Err(RuntimeError::Invalid(
                    "/dev/shm is not mounted, but must be for --ipc=host".into(),
                ));
            }
            (Namespace::Host, Shm::Bind("/dev/shm".into()))
        }
        "none" => (Namespace::Private, Shm::None),
        "shareable" => {
            let dir = shm_dir(&paths(store, &c.id).dir);
            mount_shareable_shm(&dir, shm_size)?;
            (Namespace::Private, Shm::Bind(dir))
        }
        mode => match donor_name(mode) {
            Some(name) => {
                let fail = |id: &str, why: String| {
                    RuntimeError::Invalid(format!("can't join IPC of container {id}: {why}"))
                };
                let donor = containers::lookup(store, name)?;
                let (donor, pid) =
                    running_donor(store, &donor.id).map_err(|e| fail(&donor.id, e.to_string()))?;
                let shm = match donor.spec.host_config.security.ipc_mode.as_str() {
                    "shareable" => shm_dir(&paths(store, &donor.id).dir),
                    "host" => PathBuf::from("/dev/shm"),
                    _ => {
                        return Err(fail(
                            &donor.id,
                            "non-shareable IPC (hint: use IpcMode:shareable for the donor container)"
                                .into(),
                        ));
                    }
                };
                (
                    Namespace::Join(PathBuf::from(format!("/proc/{pid}/ns/ipc"))),
                    Shm::Bind(shm),
                )
            }
            None => (Namespace::Private, Shm::Private(shm_size)),
        },
    };
    let pid = match s.pid_mode.as_str() {
        "host" => Namespace::Host,
        mode => match donor_name(mode) {
            Some(name) => {
                let (_, pid) = running_donor(store, name)?;
                Namespace::Join(PathBuf::from(format!("/proc/{pid}/ns/pid")))
            }
            None => Namespace::Private,
        },
    };
    let layout = Layout::probe();
    let cgroupns = match s.cgroupns_mode.as_str() {
        "private" => true,
        "host" => false,
        _ => layout.v1.is_empty() && cgroupns_supported(),
    };
    Ok(Confinement {
        privileged: s.privileged,
        caps,
        seccomp,
        no_new_privileges,
        devices,
        ulimits: s.ulimits.clone(),
        sysctls: {
            let mut all = default_sysctls(&c.spec.host_config.network());
            all.extend(s.sysctls.clone().unwrap_or_default());
            all
        },
        shm,
        ipc,
        pid,
        cgroupns,
        cgroup_layout: layout,
    })
}

/// docker 20.10's default sysctls (moby `daemon/oci_linux.go`) for a
/// container with a network namespace of its own (not `host`, not
/// `container:NAME`): binding ports below 1024 without
/// `CAP_NET_BIND_SERVICE`, and ICMP echo sockets for every group (not in
/// a user namespace, whose unmapped groups the kernel refuses). Each only
/// where the kernel has it; `--sysctl` overrides them.
pub fn default_sysctls(mode: &crate::net::NetMode) -> BTreeMap<String, String> {
    use crate::net::NetMode;
    let mut out = BTreeMap::new();
    if matches!(mode, NetMode::Host | NetMode::Container(_)) {
        return out;
    }
    let exists = |k: &str| Path::new("/proc/sys").join(k.replace('.', "/")).exists();
    if !in_user_namespace() && exists("net.ipv4.ping_group_range") {
        out.insert(
            "net.ipv4.ping_group_range".to_string(),
            "0 2147483647".to_string(),
        );
    }
    if exists("net.ipv4.ip_unprivileged_port_start") {
        out.insert(
            "net.ipv4.ip_unprivileged_port_start".to_string(),
            "0".to_string(),
        );
    }
    out
}

/// True inside a user namespace (the identity map is the initial one's).
fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| {
        let f: Vec<&str> = m.split_whitespace().collect();
        f != ["0", "0", "4294967295"]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_sysctls_only_with_a_namespace_of_its_own() {
        use crate::net::NetMode;
        assert!(default_sysctls(&NetMode::Host).is_empty());
        assert!(default_sysctls(&NetMode::Container("x".into())).is_empty());
        let own = default_sysctls(&NetMode::Default);
        if Path::new("/proc/sys/net/ipv4/ip_unprivileged_port_start").exists() {
            assert_eq!(own["net.ipv4.ip_unprivileged_port_start"], "0");
        }
        assert_eq!(default_sysctls(&NetMode::None), own);
    }

    #[test]
    fn host_config_round_trips_with_dockers_names() {
        let s = SecurityConfig {
            privileged: false,
            cap_add: Some(vec!["CAP_NET_ADMIN".into()]),
            cap_drop: None,
            security_opt: Some(vec!["no-new-privileges".into()]),
            devices: vec![DeviceMapping {
                path_on_host: "/dev/null".into(),
                path_in_container: "/dev/mynull".into(),
                cgroup_permissions: "rwm".into(),
            }],
            ulimits: vec![Ulimit {
                name: "nofile".into(),
                hard: 1024,
                soft: 512,
            }],
            sysctls: Some([("kernel.shmmax".to_string(), "1".to_string())].into()),
            shm_size: DEFAULT_SHM_SIZE,
            ipc_mode: "private".into(),
            pid_mode: String::new(),
            userns_mode: String::new(),
            cgroupns_mode: "host".into(),
        };
        let hc = HostConfig {
            network_mode: "none".into(),
            security: s.clone(),
            ..HostConfig::default()
        };
        let v = serde_json::to_value(&hc).unwrap();
        assert_eq!(v["CapAdd"][0], "CAP_NET_ADMIN");
        assert_eq!(v["Devices"][0]["PathInContainer"], "/dev/mynull");
        assert_eq!(v["Ulimits"][0]["Soft"], 512);
        assert_eq!(v["Sysctls"]["kernel.shmmax"], "1");
        assert_eq!(v["ShmSize"], DEFAULT_SHM_SIZE);
        assert_eq!(v["IpcMode"], "private");
        assert_eq!(v["CgroupnsMode"], "host");
        assert_eq!(v["NetworkMode"], "none");
        assert!(v.get("Security").is_none(), "flattened");
        let back: HostConfig = serde_json::from_value(v).unwrap();
        assert_eq!(back.security, s);
        assert!(back.extra.is_empty(), "{:?}", back.extra);
        // Records written before these fields existed read as defaults.
        let old: HostConfig = serde_json::from_str(r#"{"NetworkMode":"host","Future":1}"#).unwrap();
        assert_eq!(old.security, SecurityConfig::default());
        assert_eq!(old.extra["Future"], 1);
    }

    #[test]
    fn exec_gets_the_containers_caps_and_nnp() {
        let mut hc = HostConfig::default();
        let (caps, nnp) = exec_settings(&hc);
        assert_eq!(caps::mask(&caps), 0xa80425fb);
        assert_eq!(nnp, None);
        hc.security.cap_drop = Some(vec!["ALL".into()]);
        hc.security.security_opt = Some(vec!["no-new-privileges=true".into()]);
        let (caps, nnp) = exec_settings(&hc);
        assert!(caps.is_empty());
        assert_eq!(nnp, Some(true));
    }

    #[test]
    fn ulimits_above_our_own_hard_limit_are_refused() {
        let host = HostCaps {
            last_cap: 40,
            bounding: 0,
        };
        let own = hard_limit("nofile").unwrap();
        let lower = Ulimit {
            name: "nofile".into(),
            soft: 64,
            hard: 64,
        };
        assert!(check_ulimits(std::slice::from_ref(&lower), &host).is_ok());
        if own != u64::MAX {
            let raise = Ulimit {
                name: "nofile".into(),
                soft: own as i64 + 1,
                hard: own as i64 + 1,
            };
            let e = check_ulimits(&[raise], &host).unwrap_err().to_string();
            assert!(e.contains("cannot raise the hard limit"), "{e}");
        }
        let unlimited = Ulimit {
            name: "nofile".into(),
            soft: -1,
            hard: -1,
        };
        assert!(check_ulimits(&[unlimited], &host).is_err() || own == u64::MAX);
    }
}
