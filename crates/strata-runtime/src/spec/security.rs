//! How a container is confined ([`Confinement`], docker's defaults unless
//! the user asked otherwise) and what that changes in its `config.json`
//! ([`apply`]): the seccomp filter, rlimits, namespaced sysctls, the
//! `/dev/shm` mount, the IPC, PID and cgroup namespaces, extra devices,
//! `--privileged` (no masked or read-only paths, `/sys` and cgroups
//! writable, every device) and the read-only cgroup mounts of
//! [`super::cgroupfs`]. Capabilities and no_new_privs go into the process
//! in [`super::build_spec`] (and into `exec`'s process) through
//! [`super::caps::process_capabilities`].
//!
//! Resolving the user's flags (container names, host devices, the
//! profile file) into a `Confinement` is [`crate::confine`]'s job; this
//! module only writes the spec.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::OnceLock;

use oci_spec::runtime::{
    Capability, LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder,
    LinuxDeviceType, LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType, Mount,
    MountBuilder, PosixRlimit, PosixRlimitBuilder, PosixRlimitType, Spec,
};
use serde::{Deserialize, Serialize};

use super::caps::{self, DEFAULT_CAPS};
use super::cgroupfs::{CGROUP_ROOT, Layout};
use super::seccomp::{self, Profile, Target};
use crate::error::{Result, RuntimeError};

/// docker's default `/dev/shm` size (`ShmSize` 0 means this).
pub const DEFAULT_SHM_SIZE: i64 = 64 << 20;

/// Which seccomp filter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SeccompChoice {
    /// docker's default profile.
    #[default]
    Default,
    /// `--security-opt seccomp=unconfined`.
    Unconfined,
    /// `--security-opt seccomp=FILE`: the profile's JSON.
    Profile(String),
}

/// A namespace: the container's own, the host's, or another container's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Namespace {
    /// A new one.
    #[default]
    Private,
    /// The host's (no namespace in the spec).
    Host,
    /// Join this one (`/proc/<pid>/ns/<type>`).
    Join(PathBuf),
}

/// `/dev/shm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shm {
    /// A private tmpfs of this many bytes.
    Private(i64),
    /// Bind this host directory (the host's `/dev/shm`, a shareable
    /// container's tmpfs).
    Bind(PathBuf),
    /// No `/dev/shm` (`--ipc none`).
    None,
}

/// docker's `Ulimit` (`--ulimit name=soft[:hard]`; -1 is unlimited).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ulimit {
    /// `nofile`, `nproc`, …
    pub name: String,
    /// Hard limit.
    pub hard: i64,
    /// Soft limit.
    pub soft: i64,
}

/// The rlimit a docker ulimit name sets.
pub fn rlimit_type(name: &str) -> Option<PosixRlimitType> {
    Some(match name {
        "core" => PosixRlimitType::RlimitCore,
        "cpu" => PosixRlimitType::RlimitCpu,
        "data" => PosixRlimitType::RlimitData,
        "fsize" => PosixRlimitType::RlimitFsize,
        "locks" => PosixRlimitType::RlimitLocks,
        "memlock" => PosixRlimitType::RlimitMemlock,
        "msgqueue" => PosixRlimitType::RlimitMsgqueue,
        "nice" => PosixRlimitType::RlimitNice,
        "nofile" => PosixRlimitType::RlimitNofile,
        "nproc" => PosixRlimitType::RlimitNproc,
        "rss" => PosixRlimitType::RlimitRss,
        "rtprio" => PosixRlimitType::RlimitRtprio,
        "rttime" => PosixRlimitType::RlimitRttime,
        "sigpending" => PosixRlimitType::RlimitSigpending,
        "stack" => PosixRlimitType::RlimitStack,
        _ => return None,
    })
}

/// A device node to create in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Path in the container.
    pub path: PathBuf,
    /// `c` or `b`.
    pub typ: LinuxDeviceType,
    /// Major number.
    pub major: i64,
    /// Minor number.
    pub minor: i64,
    /// Permission bits of the host node.
    pub file_mode: u32,
    /// Owner of the host node.
    pub uid: u32,
    /// Group of the host node.
    pub gid: u32,
    /// Device cgroup access (`rwm`).
    pub permissions: String,
}

/// How a container is confined.
#[derive(Debug, Clone, PartialEq)]
pub struct Confinement {
    /// `--privileged`.
    pub privileged: bool,
    /// The bounding set (effective and permitted too for root).
    pub caps: Vec<Capability>,
    /// The seccomp filter (none when privileged).
    pub seccomp: SeccompChoice,
    /// `--security-opt no-new-privileges`.
    pub no_new_privileges: bool,
    /// `--device`, or every host device when privileged.
    pub devices: Vec<Device>,
    /// `--ulimit`.
    pub ulimits: Vec<Ulimit>,
    /// `--sysctl`.
    pub sysctls: BTreeMap<String, String>,
    /// `/dev/shm`.
    pub shm: Shm,
    /// The IPC namespace.
    pub ipc: Namespace,
    /// The PID namespace.
    pub pid: Namespace,
    /// A cgroup namespace of its own.
    pub cgroupns: bool,
    /// The host's cgroup hierarchies.
    pub cgroup_layout: Layout,
}

/// True when this kernel has cgroup namespaces.
pub fn cgroupns_supported() -> bool {
    std::path::Path::new("/proc/self/ns/cgroup").exists()
}

impl Confinement {
    /// docker's defaults on this host (also what BuildKit gives a `RUN`
    /// step): default capabilities and seccomp profile, no no_new_privs,
    /// private IPC and PID namespaces, 64 MiB `/dev/shm`, a cgroup
    /// namespace on a cgroup v2 host only.
    pub fn defaults() -> Confinement {
        let layout = Layout::probe();
        Confinement {
            cgroupns: layout.v1.is_empty() && cgroupns_supported(),
            cgroup_layout: layout,
            ..Confinement::with_layout(Layout::default())
        }
    }

    /// docker's defaults with a given cgroup layout and no cgroup namespace.
    pub fn with_layout(cgroup_layout: Layout) -> Confinement {
        Confinement {
            privileged: false,
            caps: DEFAULT_CAPS.to_vec(),
            seccomp: SeccompChoice::Default,
            no_new_privileges: false,
            devices: Vec::new(),
            ulimits: Vec::new(),
            sysctls: BTreeMap::new(),
            shm: Shm::Private(DEFAULT_SHM_SIZE),
            ipc: Namespace::Private,
            pid: Namespace::Private,
            cgroupns: false,
            cgroup_layout,
        }
    }

    /// `process.noNewPrivileges`: `Some(true)` or unset. Unset (not
    /// `Some(false)`) makes libcontainer load the seccomp filter while the
    /// process is still privileged, as runc does, so a non-root user's
    /// container gets it too.
    pub fn no_new_privileges(&self) -> Option<bool> {
        self.no_new_privileges.then_some(true)
    }

    /// The seccomp filter for this container on this host.
    pub fn seccomp_filter(&self) -> Result<Option<oci_spec::runtime::LinuxSeccomp>> {
        if self.privileged {
            return Ok(None);
        }
        let target = Target::host(
            self.caps
                .iter()
                .map(|c| caps::name(*c).to_string())
                .collect(),
        );
        match &self.seccomp {
            SeccompChoice::Unconfined => Ok(None),
            SeccompChoice::Default => default_profile()?.resolve(&target),
            SeccompChoice::Profile(json) => seccomp::parse(json)?.resolve(&target),
        }
    }
}

fn default_profile() -> Result<&'static Profile> {
    static PROFILE: OnceLock<std::result::Result<Profile, String>> = OnceLock::new();
    PROFILE
        .get_or_init(|| seccomp::parse(seccomp::DEFAULT_PROFILE).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| RuntimeError::Invalid(e.clone()))
}

fn oci(e: oci_spec::OciSpecError) -> RuntimeError {
    RuntimeError::Invalid(format!("runtime spec: {e}"))
}

fn namespace(typ: LinuxNamespaceType, path: Option<&PathBuf>) -> Result<LinuxNamespace> {
    let mut b = LinuxNamespaceBuilder::default().typ(typ);
    if let Some(p) = path {
        b = b.path(p.clone());
    }
    b.build().map_err(oci)
}

fn set_namespace(
    list: &mut Vec<LinuxNamespace>,
    typ: LinuxNamespaceType,
    ns: &Namespace,
) -> Result<()> {
    list.retain(|n| n.typ() != typ);
    match ns {
        Namespace::Private => list.push(namespace(typ, None)?),
        Namespace::Host => {}
        Namespace::Join(p) => list.push(namespace(typ, Some(p))?),
    }
    Ok(())
}

fn shm_mount(shm: &Shm) -> Result<Option<Mount>> {
    let opts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    Ok(match shm {
        Shm::None => None,
        Shm::Private(size) => {
            let mut o = opts(&["nosuid", "noexec", "nodev", "mode=1777"]);
            o.push(format!("size={size}"));
            Some(
                MountBuilder::default()
                    .destination("/dev/shm")
                    .typ("tmpfs")
                    .source("shm")
                    .options(o)
                    .build()
                    .map_err(oci)?,
            )
        }
        Shm::Bind(src) => Some(
            MountBuilder::default()
                .destination("/dev/shm")
                .typ("bind")
                .source(src)
                .options(opts(&["rbind", "rprivate"]))
                .build()
                .map_err(oci)?,
        ),
    })
}

fn linux_device(d: &Device) -> Result<LinuxDevice> {
    LinuxDeviceBuilder::default()
        .path(d.path.clone())
        .typ(d.typ)
        .major(d.major)
        .minor(d.minor)
        .file_mode(d.file_mode)
        .uid(d.uid)
        .gid(d.gid)
        .build()
        .map_err(oci)
}

fn device_rule(d: &Device) -> Result<LinuxDeviceCgroup> {
    LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(d.typ)
        .major(d.major)
        .minor(d.minor)
        .access(d.permissions.clone())
        .build()
        .map_err(oci)
}

fn rlimits(ulimits: &[Ulimit]) -> Result<Vec<PosixRlimit>> {
    ulimits
        .iter()
        .map(|u| {
            let typ = rlimit_type(&u.name)
                .ok_or_else(|| RuntimeError::Invalid(format!("invalid ulimit type: {}", u.name)))?;
            PosixRlimitBuilder::default()
                .typ(typ)
                .soft(u.soft as u64)
                .hard(u.hard as u64)
                .build()
                .map_err(oci)
        })
        .collect()
}

/// Writes `c` into `spec` (built by [`super::build_spec`] with docker's
/// default mounts, namespaces and device rules); `cgroups_path` is the
/// container's cgroup.
pub fn apply(spec: &mut Spec, c: &Confinement, cgroups_path: &str) -> Result<()> {
    let seccomp = c.seccomp_filter()?;
    if let Some(p) = spec.process_mut() {
        if !c.ulimits.is_empty() {
            p.set_rlimits(Some(rlimits(&c.ulimits)?));
        }
        p.set_no_new_privileges(c.no_new_privileges());
    }

    let mut mounts = spec.mounts().clone().unwrap_or_default();
    let mut out = Vec::with_capacity(mounts.len() + 12);
    for mut m in mounts.drain(..) {
        let dest = m.destination().to_string_lossy().into_owned();
        match dest.as_str() {
            "/dev/shm" => out.extend(shm_mount(&c.shm)?),
            CGROUP_ROOT => {
                if c.privileged
                    && let Some(o) = m.options_mut()
                {
                    o.retain(|o| o != "ro");
                }
                match c.cgroup_layout.mounts(cgroups_path, !c.privileged)? {
                    Some(v1) => out.extend(v1),
                    None => out.push(m),
                }
            }
            "/sys" if c.privileged => {
                if let Some(o) = m.options_mut() {
                    o.retain(|o| o != "ro");
                }
                out.push(m);
            }
            _ => out.push(m),
        }
    }
    spec.set_mounts(Some(out));

    let linux = spec
        .linux_mut()
        .as_mut()
        .ok_or_else(|| RuntimeError::Invalid("runtime spec: no linux section".into()))?;
    let mut namespaces = linux.namespaces().clone().unwrap_or_default();
    set_namespace(&mut namespaces, LinuxNamespaceType::Ipc, &c.ipc)?;
    set_namespace(&mut namespaces, LinuxNamespaceType::Pid, &c.pid)?;
    namespaces.retain(|n| n.typ() != LinuxNamespaceType::Cgroup);
    if c.cgroupns {
        namespaces.push(namespace(LinuxNamespaceType::Cgroup, None)?);
    }
    linux.set_namespaces(Some(namespaces));

    if !c.sysctls.is_empty() {
        let map: HashMap<String, String> = c.sysctls.clone().into_iter().collect();
        linux.set_sysctl(Some(map));
    }
    linux.set_seccomp(seccomp);

    if !c.devices.is_empty() {
        let devices = c
            .devices
            .iter()
            .map(linux_device)
            .collect::<Result<Vec<_>>>()?;
        linux.set_devices(Some(devices));
    }
    if let Some(res) = linux.resources_mut() {
        let mut rules = res.devices().clone().unwrap_or_default();
        if c.privileged {
            rules = vec![
                LinuxDeviceCgroupBuilder::default()
                    .allow(true)
                    .access("rwm")
                    .build()
                    .map_err(oci)?,
            ];
        } else {
            for d in &c.devices {
                rules.push(device_rule(d)?);
            }
        }
        res.set_devices(Some(rules));
    }
    if c.privileged {
        linux.set_masked_paths(None);
        linux.set_readonly_paths(None);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal spec as build_spec makes it.
    fn spec() -> Spec {
        let input = super::super::tests::input();
        super::super::build_spec(&input).unwrap()
    }

    fn mount_dests(s: &Spec) -> Vec<String> {
        s.mounts()
            .as_ref()
            .unwrap()
            .iter()
            .map(|m| m.destination().display().to_string())
            .collect()
    }

    fn ns(s: &Spec) -> Vec<(LinuxNamespaceType, Option<PathBuf>)> {
        s.linux()
            .as_ref()
            .unwrap()
            .namespaces()
            .as_ref()
            .unwrap()
            .iter()
            .map(|n| (n.typ(), n.path().clone()))
            .collect()
    }

    #[test]
    fn defaults_are_dockers() {
        let s = spec();
        let p = s.process().as_ref().unwrap();
        assert_eq!(
            p.no_new_privileges(),
            None,
            "docker leaves no_new_privs off"
        );
        let sec = s.linux().as_ref().unwrap().seccomp().clone().unwrap();
        assert!(sec.syscalls().as_ref().unwrap().len() > 10);
        let shm = s
            .mounts()
            .as_ref()
            .unwrap()
            .iter()
            .find(|m| m.destination().to_str() == Some("/dev/shm"))
            .unwrap()
            .clone();
        assert!(
            shm.options()
                .as_ref()
                .unwrap()
                .contains(&"size=67108864".to_string())
        );
        assert!(ns(&s).contains(&(LinuxNamespaceType::Ipc, None)));
        assert!(ns(&s).contains(&(LinuxNamespaceType::Pid, None)));
        assert!(!ns(&s).iter().any(|(t, _)| *t == LinuxNamespaceType::Cgroup));
        assert!(s.linux().as_ref().unwrap().masked_paths().is_some());
    }

    #[test]
    fn flags_change_the_spec() {
        let mut s = spec();
        let mut c = Confinement::with_layout(Layout::default());
        c.no_new_privileges = true;
        c.seccomp = SeccompChoice::Unconfined;
        c.ulimits = vec![Ulimit {
            name: "nofile".into(),
            soft: 512,
            hard: -1,
        }];
        c.sysctls.insert("kernel.shmmax".into(), "1048576".into());
        c.shm = Shm::None;
        c.ipc = Namespace::Join("/proc/42/ns/ipc".into());
        c.pid = Namespace::Host;
        c.cgroupns = true;
        c.devices = vec![Device {
            path: "/dev/mynull".into(),
            typ: LinuxDeviceType::C,
            major: 1,
            minor: 3,
            file_mode: 0o666,
            uid: 0,
            gid: 0,
            permissions: "rwm".into(),
        }];
        apply(&mut s, &c, "/strata/x").unwrap();
        let p = s.process().as_ref().unwrap();
        assert_eq!(p.no_new_privileges(), Some(true));
        let r = &p.rlimits().as_ref().unwrap()[0];
        assert_eq!(
            (r.typ(), r.soft(), r.hard()),
            (PosixRlimitType::RlimitNofile, 512, u64::MAX)
        );
        let l = s.linux().as_ref().unwrap();
        assert!(l.seccomp().is_none());
        assert_eq!(l.sysctl().as_ref().unwrap()["kernel.shmmax"], "1048576");
        assert!(!mount_dests(&s).contains(&"/dev/shm".to_string()));
        let n = ns(&s);
        assert!(n.contains(&(LinuxNamespaceType::Ipc, Some("/proc/42/ns/ipc".into()))));
        assert!(!n.iter().any(|(t, _)| *t == LinuxNamespaceType::Pid));
        assert!(n.contains(&(LinuxNamespaceType::Cgroup, None)));
        assert_eq!(
            l.devices().as_ref().unwrap()[0].path(),
            &PathBuf::from("/dev/mynull")
        );
        let rules = l.resources().as_ref().unwrap().devices().as_ref().unwrap();
        assert_eq!(rules.last().unwrap().major(), Some(1));
        assert!(!rules[0].allow(), "deny-all stays first");
    }

    #[test]
    fn privileged_lifts_everything() {
        let mut s = spec();
        let mut c = Confinement::with_layout(Layout::parse(
            "32 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
        ));
        c.privileged = true;
        apply(&mut s, &c, "/strata/x").unwrap();
        let l = s.linux().as_ref().unwrap();
        assert!(l.seccomp().is_none());
        assert!(l.masked_paths().is_none() && l.readonly_paths().is_none());
        let rules = l.resources().as_ref().unwrap().devices().as_ref().unwrap();
        assert_eq!(rules.len(), 1);
        assert!(rules[0].allow() && rules[0].major().is_none());
        for m in s.mounts().as_ref().unwrap() {
            let d = m.destination().display().to_string();
            if d == "/sys" || d.starts_with("/sys/fs/cgroup") {
                assert!(
                    !m.options().as_ref().unwrap().contains(&"ro".to_string()),
                    "{d} rw"
                );
            }
        }
    }

    #[test]
    fn v1_cgroups_are_bound_read_only() {
        let mut s = spec();
        let c = Confinement::with_layout(Layout::parse(
            "32 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             33 30 0:29 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n",
        ));
        apply(&mut s, &c, "/strata/x").unwrap();
        let cg: Vec<&Mount> = s
            .mounts()
            .as_ref()
            .unwrap()
            .iter()
            .filter(|m| m.destination().starts_with(CGROUP_ROOT))
            .collect();
        assert_eq!(cg.len(), 3);
        assert_eq!(cg[0].typ().as_deref(), Some("tmpfs"));
        assert_eq!(
            cg[1].source().as_ref().unwrap(),
            &PathBuf::from("/sys/fs/cgroup/memory/strata/x")
        );
        assert!(
            cg[2]
                .options()
                .as_ref()
                .unwrap()
                .contains(&"ro".to_string())
        );
    }
}
