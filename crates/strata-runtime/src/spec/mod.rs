//! The OCI runtime `config.json` of a container, from what the image and
//! the user asked for, with docker's defaults (moby `oci/defaults.go`,
//! `daemon/oci_linux.go`):
//!
//! * capabilities: docker's default set (14, `CapBnd=00000000a80425fb`) as
//!   bounding set, and as effective/permitted set for UID 0 only (a
//!   non-root user starts with none, as under docker); no no_new_privs and
//!   docker's seccomp profile unless asked (see [`security`]);
//! * namespaces: pid, ipc, uts, mount, and net unless the host's network
//!   is asked for: a new one, or the one at `netns_path` (a bridge
//!   network's, another container's);
//! * mounts: `/proc`, `/dev` (tmpfs + the standard nodes the runtime
//!   creates), `/dev/pts`, `/dev/shm`, `/dev/mqueue`, `/sys` read-only,
//!   `/sys/fs/cgroup` read-only ([`cgroupfs`]),
//!   `/etc/{hosts,hostname,resolv.conf}` bound
//!   from the container directory, then the user's binds and tmpfs;
//! * masked and read-only `/proc` and `/sys` paths as docker's;
//! * the device cgroup allow-list as docker's; memory, CPU and pids limits
//!   when the controller exists; no rlimits (the runtime inherits its own:
//!   this host lacks CAP_SYS_RESOURCE, so raising them would fail);
//! * an explicit `cgroupsPath` (`/strata/<id>`), never systemd.
//!
//! Submodules: [`process`] (entrypoint/cmd and env rules), [`user`]
//! (`-u` through passwd/group), [`security`] (seccomp, capabilities,
//! namespaces, devices, rlimits: [`security::Confinement`]) with
//! [`caps`], [`seccomp`] and [`cgroupfs`].

pub mod caps;
pub mod cgroupfs;
pub mod process;
pub mod seccomp;
pub mod security;
pub mod user;

use std::path::PathBuf;

use oci_spec::runtime::{
    LinuxBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxMemoryBuilder,
    LinuxNamespaceBuilder, LinuxNamespaceType, LinuxPidsBuilder, LinuxResourcesBuilder, Mount,
    MountBuilder, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};
use serde::{Deserialize, Serialize};

use crate::error::{Result, RuntimeError};
pub use caps::DEFAULT_CAPS;
pub use security::Confinement;
pub use user::ResolvedUser;

/// docker's masked paths (bind-mounted over with /dev/null or an empty
/// read-only tmpfs; absent ones are skipped).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// docker's read-only paths.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The network namespace of a container or build step (docker's
/// `--network` values are [`crate::net::NetMode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// The host's network namespace (build steps' default, as BuildKit's).
    #[default]
    Host,
    /// A namespace of its own: new (only `lo`), or the one at
    /// [`SpecInput::netns_path`].
    None,
}

/// A mount the user (or a build step) adds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MountSpec {
    /// `-v HOST:CTR[:ro]`, `RUN --mount=type=bind|cache`.
    Bind {
        /// Host path.
        source: PathBuf,
        /// Path in the container.
        destination: String,
        /// Read-only.
        readonly: bool,
    },
    /// `--tmpfs /path[:opts]`.
    Tmpfs {
        /// Path in the container.
        destination: String,
        /// Extra mount options (`size=64m`, `mode=1777`, …).
        options: Vec<String>,
    },
}

/// Where `--init` puts the init process in the container, as docker does.
pub const INIT_PATH: &str = "/sbin/docker-init";

/// Cgroup limits (`--memory`, `--cpus`, `--pids-limit`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// Memory + swap limit in bytes (-1: unlimited).
    #[serde(default)]
    pub memory_swap: Option<i64>,
    /// CPUs × 10⁹ (docker's `NanoCpus`).
    pub nano_cpus: Option<i64>,
    /// CPU shares (relative weight).
    #[serde(default)]
    pub cpu_shares: Option<u64>,
    /// Max number of processes.
    pub pids_limit: Option<i64>,
}

/// Files bound over `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcFiles {
    /// Host path of the hosts file.
    pub hosts: PathBuf,
    /// Host path of the hostname file.
    pub hostname: PathBuf,
    /// Host path of the resolv.conf file.
    pub resolv_conf: PathBuf,
}

/// Which cgroup controllers this host has (limits on absent ones are
/// dropped with a warning, as docker does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CgroupSupport {
    /// `memory`.
    pub memory: bool,
    /// `cpu`.
    pub cpu: bool,
    /// `pids`.
    pub pids: bool,
    /// Swap accounting (`memory.memsw.*` under v1; v2's memory controller).
    pub swap: bool,
}

impl CgroupSupport {
    /// Probes `/sys/fs/cgroup` (v1 hierarchies, or the v2 root's
    /// `cgroup.controllers`).
    pub fn probe() -> CgroupSupport {
        let v2 = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").ok();
        let has = |name: &str| match &v2 {
            Some(list) => list.split_whitespace().any(|c| c == name),
            None => std::path::Path::new("/sys/fs/cgroup")
                .join(name)
                .join("tasks")
                .exists(),
        };
        CgroupSupport {
            memory: has("memory"),
            cpu: has("cpu"),
            pids: has("pids"),
            swap: match &v2 {
                Some(_) => has("memory"),
                None => std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
                    .exists(),
            },
        }
    }
}

/// Everything that goes into a container's `config.json`.
#[derive(Debug, Clone)]
pub struct SpecInput {
    /// The mounted root filesystem.
    pub rootfs: PathBuf,
    /// `--read-only`.
    pub readonly_rootfs: bool,
    /// argv.
    pub args: Vec<String>,
    /// Full process environment.
    pub env: Vec<String>,
    /// Working directory (absolute).
    pub cwd: String,
    /// The user.
    pub user: ResolvedUser,
    /// `-t`.
    pub terminal: bool,
    /// Hostname (UTS namespace).
    pub hostname: String,
    /// Network mode.
    pub network: NetworkMode,
    /// With [`NetworkMode::None`]: join this namespace instead of a new one.
    pub netns_path: Option<PathBuf>,
    /// `/etc` files to bind, if any.
    pub etc_files: Option<EtcFiles>,
    /// User mounts, in order.
    pub mounts: Vec<MountSpec>,
    /// Limits.
    pub resources: Resources,
    /// Controllers present.
    pub cgroups: CgroupSupport,
    /// `cgroupsPath`.
    pub cgroups_path: String,
    /// Seccomp, capabilities, namespaces, devices, rlimits.
    pub confinement: Confinement,
}

fn oci(e: oci_spec::OciSpecError) -> RuntimeError {
    RuntimeError::Invalid(format!("runtime spec: {e}"))
}

fn strings(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Result<Mount> {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(strings(options))
        .build()
        .map_err(oci)
}

/// docker's default mounts.
fn default_mounts() -> Result<Vec<Mount>> {
    Ok(vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )?,
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["ro", "nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        )?,
    ])
}

fn bind(dest: &str, source: &std::path::Path, readonly: bool) -> Result<Mount> {
    let mut opts = vec!["rbind".to_string(), "rprivate".to_string()];
    if readonly {
        opts.push("ro".to_string());
    }
    MountBuilder::default()
        .destination(dest)
        .typ("bind")
        .source(source)
        .options(opts)
        .build()
        .map_err(oci)
}

/// docker's device cgroup rules: deny all, allow mknod of anything, and
/// read/write of the standard nodes, ttys and `/dev/net/tun`.
fn device_rules() -> Result<Vec<oci_spec::runtime::LinuxDeviceCgroup>> {
    let rule = |allow: bool,
                typ: Option<LinuxDeviceType>,
                major: Option<i64>,
                minor: Option<i64>,
                access: &str| {
        let mut b = LinuxDeviceCgroupBuilder::default()
            .allow(allow)
            .access(access);
        if let Some(t) = typ {
            b = b.typ(t);
        }
        if let Some(m) = major {
            b = b.major(m);
        }
        if let Some(m) = minor {
            b = b.minor(m);
        }
        b.build().map_err(oci)
    };
    let c = Some(LinuxDeviceType::C);
    Ok(vec![
        rule(false, None, None, None, "rwm")?,
        rule(true, c, None, None, "m")?,
        rule(true, Some(LinuxDeviceType::B), None, None, "m")?,
        rule(true, c, Some(1), Some(3), "rwm")?,
        rule(true, c, Some(1), Some(5), "rwm")?,
        rule(true, c, Some(1), Some(7), "rwm")?,
        rule(true, c, Some(1), Some(8), "rwm")?,
        rule(true, c, Some(1), Some(9), "rwm")?,
        rule(true, c, Some(5), Some(0), "rwm")?,
        rule(true, c, Some(5), Some(1), "rwm")?,
        rule(true, c, Some(5), Some(2), "rwm")?,
        rule(true, c, Some(136), None, "rwm")?,
        rule(true, c, Some(10), Some(200), "rwm")?,
    ])
}

/// Builds the OCI runtime spec.
pub fn build_spec(input: &SpecInput) -> Result<Spec> {
    let capabilities = caps::process_capabilities(&input.confinement.caps, input.user.uid)?;
    let user = UserBuilder::default()
        .uid(input.user.uid)
        .gid(input.user.gid)
        // With the user's own id alone, setgroups(2) is denied.
        .additional_gids(if strata_store::userns::single_id() {
            Vec::new()
        } else {
            input.user.additional_gids.clone()
        })
        .build()
        .map_err(oci)?;
    let mut process = ProcessBuilder::default()
        .terminal(input.terminal)
        .user(user)
        .args(input.args.clone())
        .env(input.env.clone())
        .cwd(input.cwd.clone())
        .capabilities(capabilities)
        .build()
        .map_err(oci)?;
    process.set_rlimits(None);

    let mut mounts = default_mounts()?;
    if let Some(etc) = &input.etc_files {
        mounts.push(bind("/etc/resolv.conf", &etc.resolv_conf, false)?);
        mounts.push(bind("/etc/hostname", &etc.hostname, false)?);
        mounts.push(bind("/etc/hosts", &etc.hosts, false)?);
    }
    for m in &input.mounts {
        mounts.push(match m {
            MountSpec::Bind {
                source,
                destination,
                readonly,
            } => bind(destination, source, *readonly)?,
            MountSpec::Tmpfs {
                destination,
                options,
            } => {
                let mut opts = strings(&["nosuid", "nodev", "noexec"]);
                opts.extend(options.iter().cloned());
                MountBuilder::default()
                    .destination(destination)
                    .typ("tmpfs")
                    .source("tmpfs")
                    .options(opts)
                    .build()
                    .map_err(oci)?
            }
        });
    }

    // Rootless, sysfs can only be mounted in a network namespace our user
    // namespace owns: a new one, or one a supervisor made and holds (a
    // `/proc/…/fd/N` path; `container:NAME`'s `/proc/PID/ns/net` may be
    // the host's). Otherwise the host's /sys is bound read-only (as podman
    // does).
    let own_netns = match &input.netns_path {
        None => input.network == NetworkMode::None,
        Some(p) => p.to_string_lossy().contains("/fd/"),
    };
    if strata_store::userns::rootless() && !own_netns {
        for m in mounts
            .iter_mut()
            .filter(|m| m.destination() == std::path::Path::new("/sys"))
        {
            *m = bind("/sys", std::path::Path::new("/sys"), true)?;
        }
    }
    // With the user's own id alone, gid 5 (tty) does not exist.
    if strata_store::userns::single_id() {
        for m in mounts
            .iter_mut()
            .filter(|m| m.typ().as_deref() == Some("devpts"))
        {
            let opts = m.options().clone().unwrap_or_default();
            m.set_options(Some(opts.into_iter().filter(|o| o != "gid=5").collect()));
        }
    }
    let mut namespaces = Vec::new();
    let mut ns_types = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
    ];
    if input.network == NetworkMode::None {
        ns_types.push(LinuxNamespaceType::Network);
    }
    for t in ns_types {
        let mut ns = LinuxNamespaceBuilder::default().typ(t);
        if let (LinuxNamespaceType::Network, Some(p)) = (t, &input.netns_path) {
            ns = ns.path(p.clone());
        }
        namespaces.push(ns.build().map_err(oci)?);
    }

    let mut resources = LinuxResourcesBuilder::default().devices(device_rules()?);
    let r = &input.resources;
    if let Some(m) = r.memory.filter(|_| input.cgroups.memory) {
        let mut mem = LinuxMemoryBuilder::default().limit(m);
        if let Some(s) = r.memory_swap.filter(|_| input.cgroups.swap) {
            mem = mem.swap(s);
        }
        resources = resources.memory(mem.build().map_err(oci)?);
    }
    if input.cgroups.cpu && (r.nano_cpus.is_some() || r.cpu_shares.is_some()) {
        let mut cpu = LinuxCpuBuilder::default();
        if let Some(n) = r.nano_cpus {
            let period: u64 = 100_000;
            let quota = (n as i128 * period as i128 / 1_000_000_000) as i64;
            cpu = cpu.period(period).quota(quota);
        }
        if let Some(s) = r.cpu_shares {
            cpu = cpu.shares(s);
        }
        resources = resources.cpu(cpu.build().map_err(oci)?);
    }
    if let Some(p) = r.pids_limit.filter(|_| input.cgroups.pids) {
        resources = resources.pids(LinuxPidsBuilder::default().limit(p).build().map_err(oci)?);
    }

    let linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .resources(resources.build().map_err(oci)?)
        .cgroups_path(PathBuf::from(&input.cgroups_path))
        .masked_paths(strings(MASKED_PATHS))
        .readonly_paths(strings(READONLY_PATHS))
        .build()
        .map_err(oci)?;

    let root = RootBuilder::default()
        .path(&input.rootfs)
        .readonly(input.readonly_rootfs)
        .build()
        .map_err(oci)?;

    let mut spec = SpecBuilder::default()
        .version("1.0.2")
        .root(root)
        .hostname(input.hostname.clone())
        .process(process)
        .mounts(mounts)
        .linux(linux)
        .build()
        .map_err(oci)?;
    security::apply(&mut spec, &input.confinement, &input.cgroups_path)?;
    Ok(spec)
}

/// Parses docker's memory syntax (`512m`, `1g`, `1048576`, `64k`,
/// `1GiB`) with go-units' `RAMInBytes` (strata-go's, as the docker 20.10
/// CLI has it: `inf`, `NaN`, exponents and signs are invalid sizes). A
/// value beyond an int64 reaches docker's daemon negative, and it refuses
/// it with the message given here.
pub fn parse_bytes(s: &str) -> Result<i64> {
    match strata_go::size::ram_in_bytes(s) {
        Ok(n) if n < 0 => Err(RuntimeError::Invalid(
            "Minimum memory limit allowed is 6MB".to_string(),
        )),
        Ok(n) => Ok(n),
        Err(e) => Err(RuntimeError::Invalid(e.to_string())),
    }
}

/// Parses `--cpus` (`1.5`) into nano-CPUs.
pub fn parse_cpus(s: &str) -> Result<i64> {
    let v: f64 = s.parse().map_err(|_| {
        RuntimeError::Invalid(format!("invalid argument {s:?} for \"--cpus\" flag"))
    })?;
    if v <= 0.0 || !v.is_finite() {
        return Err(RuntimeError::Invalid(format!(
            "invalid argument {s:?} for \"--cpus\" flag: must be positive"
        )));
    }
    Ok((v * 1e9).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::Capability;

    /// A plain `SpecInput` (also for [`super::security`]'s tests).
    pub(crate) fn input() -> SpecInput {
        SpecInput {
            rootfs: "/r/rootfs".into(),
            readonly_rootfs: false,
            args: vec!["sh".into()],
            env: vec!["PATH=/bin".into()],
            cwd: "/".into(),
            user: ResolvedUser::default(),
            terminal: false,
            hostname: "abc".into(),
            network: NetworkMode::Host,
            netns_path: None,
            etc_files: None,
            mounts: vec![],
            resources: Resources::default(),
            cgroups: CgroupSupport {
                memory: true,
                cpu: true,
                pids: false,
                swap: false,
            },
            cgroups_path: "/strata/x".into(),
            confinement: Confinement::with_layout(cgroupfs::Layout::default()),
        }
    }

    fn caps_mask(set: &oci_spec::runtime::Capabilities) -> u64 {
        // Bit numbers from linux/capability.h.
        set.iter()
            .map(|c| match c {
                Capability::Chown => 0,
                Capability::DacOverride => 1,
                Capability::Fowner => 3,
                Capability::Fsetid => 4,
                Capability::Kill => 5,
                Capability::Setgid => 6,
                Capability::Setuid => 7,
                Capability::Setpcap => 8,
                Capability::NetBindService => 10,
                Capability::NetRaw => 13,
                Capability::SysChroot => 18,
                Capability::Mknod => 27,
                Capability::AuditWrite => 29,
                Capability::Setfcap => 31,
                other => panic!("unexpected capability {other:?}"),
            })
            .fold(0u64, |m, b| m | (1 << b))
    }

    #[test]
    fn default_caps_are_dockers() {
        let spec = build_spec(&input()).unwrap();
        let caps = spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .clone()
            .unwrap();
        assert_eq!(caps_mask(caps.bounding().as_ref().unwrap()), 0xa80425fb);
        assert_eq!(caps_mask(caps.effective().as_ref().unwrap()), 0xa80425fb);
        let mut i = input();
        i.user.uid = 1000;
        let spec = build_spec(&i).unwrap();
        let caps = spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .clone()
            .unwrap();
        assert_eq!(caps_mask(caps.bounding().as_ref().unwrap()), 0xa80425fb);
        assert!(caps.effective().as_ref().unwrap().is_empty());
        assert!(caps.permitted().as_ref().unwrap().is_empty());
    }

    #[test]
    fn network_none_adds_a_netns_and_limits_follow_controllers() {
        let mut i = input();
        let ns = |s: &Spec| -> Vec<LinuxNamespaceType> {
            s.linux()
                .as_ref()
                .unwrap()
                .namespaces()
                .as_ref()
                .unwrap()
                .iter()
                .map(|n| n.typ())
                .collect()
        };
        assert!(!ns(&build_spec(&i).unwrap()).contains(&LinuxNamespaceType::Network));
        i.network = NetworkMode::None;
        i.resources = Resources {
            memory: Some(64 << 20),
            nano_cpus: Some(1_500_000_000),
            pids_limit: Some(10),
            ..Resources::default()
        };
        let spec = build_spec(&i).unwrap();
        assert!(ns(&spec).contains(&LinuxNamespaceType::Network));
        let res = spec.linux().as_ref().unwrap().resources().clone().unwrap();
        assert_eq!(res.memory().unwrap().limit(), Some(64 << 20));
        assert_eq!(res.cpu().as_ref().unwrap().quota(), Some(150_000));
        assert!(res.pids().is_none(), "no pids controller: limit dropped");
        assert!(spec.process().as_ref().unwrap().rlimits().is_none());
        assert_eq!(spec.process().as_ref().unwrap().no_new_privileges(), None);
    }

    #[test]
    fn user_mounts_follow_defaults() {
        let mut i = input();
        i.readonly_rootfs = true;
        i.etc_files = Some(EtcFiles {
            hosts: "/c/hosts".into(),
            hostname: "/c/hostname".into(),
            resolv_conf: "/c/resolv.conf".into(),
        });
        i.mounts = vec![
            MountSpec::Bind {
                source: "/host/data".into(),
                destination: "/data".into(),
                readonly: true,
            },
            MountSpec::Tmpfs {
                destination: "/run".into(),
                options: vec!["size=1m".into()],
            },
        ];
        let spec = build_spec(&i).unwrap();
        let dests: Vec<String> = spec
            .mounts()
            .as_ref()
            .unwrap()
            .iter()
            .map(|m| m.destination().display().to_string())
            .collect();
        assert_eq!(
            dests,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/sys",
                "/sys/fs/cgroup",
                "/dev/mqueue",
                "/dev/shm",
                "/etc/resolv.conf",
                "/etc/hostname",
                "/etc/hosts",
                "/data",
                "/run"
            ]
        );
        let data = &spec.mounts().as_ref().unwrap()[10];
        assert!(data.options().as_ref().unwrap().contains(&"ro".to_string()));
        assert_eq!(spec.root().as_ref().unwrap().readonly(), Some(true));
    }

    #[test]
    fn sizes_and_cpus() {
        assert_eq!(parse_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes("64KB").unwrap(), 64 << 10);
        assert!(parse_bytes("lots").is_err());
        // go-units' RAMInBytes, with what it lets through rejected.
        assert_eq!(parse_bytes("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("10 MB").unwrap(), 10 << 20);
        assert_eq!(parse_bytes("1p").unwrap(), 1 << 50);
        assert_eq!(parse_bytes("1GiB").unwrap(), 1 << 30);
        let err = |s: &str| parse_bytes(s).unwrap_err().to_string();
        assert_eq!(
            err("99999999999999999999g"),
            "Minimum memory limit allowed is 6MB"
        );
        assert_eq!(
            err("9223372036854775808"),
            "Minimum memory limit allowed is 6MB"
        );
        assert_eq!(
            parse_bytes("9223372036854774784").unwrap(),
            9223372036854774784
        );
        for bad in ["inf", "NaN", "-1", "1q", "1kbb", "1e3", "1e999"] {
            assert_eq!(err(bad), format!("invalid size: '{bad}'"));
        }
        assert_eq!(parse_cpus("0.5").unwrap(), 500_000_000);
        assert!(parse_cpus("-1").is_err());
    }
}
