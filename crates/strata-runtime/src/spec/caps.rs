//! Capabilities by docker's rules (moby `daemon/pkg/oci/caps`): the names
//! `--cap-add`/`--cap-drop` accept (any case, with or without `CAP_`,
//! plus `ALL`), how they change the default set, what `--privileged`
//! grants, and the `LinuxCapabilities` of a process (bounding set always;
//! effective and permitted only for UID 0, as docker 20.10 gives a
//! non-root user no capabilities).
//!
//! "All capabilities" (`--privileged`, `--cap-add ALL`) are docker 20.10's:
//! those up to `CAP_AUDIT_READ` that the running kernel knows
//! (`/proc/sys/kernel/cap_last_cap`), so `CapEff` is docker's
//! `0000003fffffffff`; the newer `CAP_PERFMON`, `CAP_BPF` and
//! `CAP_CHECKPOINT_RESTORE` are granted when named, as current docker
//! does. Of those, only the ones strata's own bounding set still holds
//! (podman's rule): a runtime cannot grant what it does not have, and
//! docker fails outright on such hosts ("unable to apply caps").

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, LinuxCapabilitiesBuilder};

use crate::error::{Result, RuntimeError};

/// Every capability: its number (linux/capability.h), name and OCI value.
pub const CAPABILITIES: [(u8, &str, Capability); 41] = [
    (0, "CAP_CHOWN", Capability::Chown),
    (1, "CAP_DAC_OVERRIDE", Capability::DacOverride),
    (2, "CAP_DAC_READ_SEARCH", Capability::DacReadSearch),
    (3, "CAP_FOWNER", Capability::Fowner),
    (4, "CAP_FSETID", Capability::Fsetid),
    (5, "CAP_KILL", Capability::Kill),
    (6, "CAP_SETGID", Capability::Setgid),
    (7, "CAP_SETUID", Capability::Setuid),
    (8, "CAP_SETPCAP", Capability::Setpcap),
    (9, "CAP_LINUX_IMMUTABLE", Capability::LinuxImmutable),
    (10, "CAP_NET_BIND_SERVICE", Capability::NetBindService),
    (11, "CAP_NET_BROADCAST", Capability::NetBroadcast),
    (12, "CAP_NET_ADMIN", Capability::NetAdmin),
    (13, "CAP_NET_RAW", Capability::NetRaw),
    (14, "CAP_IPC_LOCK", Capability::IpcLock),
    (15, "CAP_IPC_OWNER", Capability::IpcOwner),
    (16, "CAP_SYS_MODULE", Capability::SysModule),
    (17, "CAP_SYS_RAWIO", Capability::SysRawio),
    (18, "CAP_SYS_CHROOT", Capability::SysChroot),
    (19, "CAP_SYS_PTRACE", Capability::SysPtrace),
    (20, "CAP_SYS_PACCT", Capability::SysPacct),
    (21, "CAP_SYS_ADMIN", Capability::SysAdmin),
    (22, "CAP_SYS_BOOT", Capability::SysBoot),
    (23, "CAP_SYS_NICE", Capability::SysNice),
    (24, "CAP_SYS_RESOURCE", Capability::SysResource),
    (25, "CAP_SYS_TIME", Capability::SysTime),
    (26, "CAP_SYS_TTY_CONFIG", Capability::SysTtyConfig),
    (27, "CAP_MKNOD", Capability::Mknod),
    (28, "CAP_LEASE", Capability::Lease),
    (29, "CAP_AUDIT_WRITE", Capability::AuditWrite),
    (30, "CAP_AUDIT_CONTROL", Capability::AuditControl),
    (31, "CAP_SETFCAP", Capability::Setfcap),
    (32, "CAP_MAC_OVERRIDE", Capability::MacOverride),
    (33, "CAP_MAC_ADMIN", Capability::MacAdmin),
    (34, "CAP_SYSLOG", Capability::Syslog),
    (35, "CAP_WAKE_ALARM", Capability::WakeAlarm),
    (36, "CAP_BLOCK_SUSPEND", Capability::BlockSuspend),
    (37, "CAP_AUDIT_READ", Capability::AuditRead),
    (38, "CAP_PERFMON", Capability::Perfmon),
    (39, "CAP_BPF", Capability::Bpf),
    (40, "CAP_CHECKPOINT_RESTORE", Capability::CheckpointRestore),
];

/// docker's default set, in docker's order (`CapBnd=00000000a80425fb`).
pub const DEFAULT_CAPS: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// The name (`CAP_CHOWN`) of a capability.
pub fn name(cap: Capability) -> &'static str {
    CAPABILITIES
        .iter()
        .find(|(_, _, c)| *c == cap)
        .map_or("CAP_UNKNOWN", |(_, n, _)| n)
}

/// The bit number of a capability.
pub fn bit(cap: Capability) -> u8 {
    CAPABILITIES
        .iter()
        .find(|(_, _, c)| *c == cap)
        .map_or(63, |(b, _, _)| *b)
}

/// The capability named `CAP_X` (already normalised).
pub fn by_name(name: &str) -> Option<Capability> {
    CAPABILITIES
        .iter()
        .find(|(_, n, _)| *n == name)
        .map(|(_, _, c)| *c)
}

/// The mask of a set (bit n = capability n), as `/proc/self/status` shows it.
pub fn mask(caps: &[Capability]) -> u64 {
    caps.iter().fold(0, |m, c| m | (1u64 << bit(*c)))
}

/// What the host lets strata grant: the kernel's capabilities
/// (`cap_last_cap`) that this process's bounding set holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCaps {
    /// The highest capability number the kernel knows.
    pub last_cap: u8,
    /// This process's bounding set.
    pub bounding: u64,
}

impl HostCaps {
    /// Reads `/proc/sys/kernel/cap_last_cap` and `CapBnd` of this process.
    pub fn probe() -> HostCaps {
        let last_cap = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40);
        let bounding = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("CapBnd:"))
                    .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            })
            .unwrap_or(u64::MAX);
        HostCaps { last_cap, bounding }
    }

    /// "All capabilities" (`--privileged`, `--cap-add ALL`).
    pub fn all(&self) -> Vec<Capability> {
        let last = self.last_cap.min(bit(Capability::AuditRead));
        CAPABILITIES
            .iter()
            .filter(|(b, _, _)| *b <= last && self.bounding & (1u64 << b) != 0)
            .map(|(_, _, c)| *c)
            .collect()
    }

    /// Fails, naming them, if `caps` holds capabilities strata cannot
    /// grant (docker only fails with "unable to apply caps").
    pub fn check(&self, caps: &[Capability]) -> Result<()> {
        let missing: Vec<&str> = caps
            .iter()
            .filter(|c| bit(**c) > self.last_cap || self.bounding & (1u64 << bit(**c)) == 0)
            .map(|c| name(*c))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(RuntimeError::Invalid(format!(
            "cannot grant {}: not in strata's own capability bounding set (CapBnd {:016x})",
            missing.join(", "),
            self.bounding
        )))
    }
}

/// docker's `NormalizeLegacyCapabilities`: upper-case, `CAP_` prefix,
/// `ALL` kept; `what` (`CapAdd`/`CapDrop`) names the list in errors.
pub fn normalize(list: &[String], what: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for c in list {
        let up = c.to_ascii_uppercase();
        if up == "ALL" {
            out.push(up);
            continue;
        }
        let full = if up.starts_with("CAP_") {
            up
        } else {
            format!("CAP_{up}")
        };
        if by_name(&full).is_none() {
            return Err(RuntimeError::Invalid(format!(
                "invalid {what}: unknown capability: {full:?}"
            )));
        }
        out.push(full);
    }
    Ok(out)
}

/// docker's `TweakCapabilities`: the bounding set of a container from the
/// defaults, the normalised `--cap-add`/`--cap-drop` lists and
/// `--privileged`; `all` is what "all capabilities" means here.
pub fn tweak(
    add: &[String],
    drop: &[String],
    privileged: bool,
    all: &[Capability],
) -> Vec<Capability> {
    if privileged {
        return all.to_vec();
    }
    let named = |list: &[String]| -> Vec<Capability> {
        list.iter().filter_map(|n| by_name(n)).collect::<Vec<_>>()
    };
    let (add_caps, drop_caps) = (named(add), named(drop));
    let mut out: Vec<Capability> = if add.iter().any(|c| c == "ALL") {
        all.iter()
            .filter(|c| !drop_caps.contains(c))
            .copied()
            .collect()
    } else if drop.iter().any(|c| c == "ALL") {
        add_caps
    } else {
        let mut v: Vec<Capability> = DEFAULT_CAPS
            .iter()
            .filter(|c| !drop_caps.contains(c))
            .copied()
            .collect();
        v.extend(add_caps);
        v
    };
    let mut seen = Vec::new();
    out.retain(|c| {
        let new = !seen.contains(c);
        seen.push(*c);
        new
    });
    out
}

/// The process capabilities of a container with bounding set `caps`:
/// effective and permitted as well for UID 0, none for anyone else.
pub fn process_capabilities(caps: &[Capability], uid: u32) -> Result<LinuxCapabilities> {
    let set: Capabilities = caps.iter().copied().collect();
    let none = Capabilities::new();
    let granted = if uid == 0 { set.clone() } else { none.clone() };
    LinuxCapabilitiesBuilder::default()
        .bounding(set)
        .effective(granted.clone())
        .permitted(granted)
        .inheritable(none.clone())
        .ambient(none)
        .build()
        .map_err(|e| RuntimeError::Invalid(format!("runtime spec: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    const HOST: HostCaps = HostCaps {
        last_cap: 40,
        bounding: 0x1ff_feff_ffff, // this VM: no CAP_SYS_RESOURCE
    };

    #[test]
    fn table_is_complete_and_ordered() {
        for (i, (b, n, c)) in CAPABILITIES.iter().enumerate() {
            assert_eq!(*b as usize, i);
            assert_eq!(name(*c), *n);
            // oci-spec serialises the same names.
            assert_eq!(serde_json::to_string(c).unwrap(), format!("\"{n}\""));
        }
        assert_eq!(mask(&DEFAULT_CAPS), 0xa80425fb);
    }

    #[test]
    fn names_normalise_like_docker() {
        assert_eq!(
            normalize(
                &s(&["net_admin", "CAP_SYS_ADMIN", "all", "Chown"]),
                "CapAdd"
            )
            .unwrap(),
            s(&["CAP_NET_ADMIN", "CAP_SYS_ADMIN", "ALL", "CAP_CHOWN"])
        );
        assert_eq!(
            normalize(&s(&["foo"]), "CapAdd").unwrap_err().to_string(),
            "invalid CapAdd: unknown capability: \"CAP_FOO\""
        );
        assert!(normalize(&s(&["cap_bpf"]), "CapDrop").is_ok());
    }

    #[test]
    fn tweak_follows_dockers_rules() {
        let all = HOST.all();
        assert_eq!(
            mask(&all),
            0x3f_feff_ffff,
            "docker 20.10's all, without SYS_RESOURCE"
        );
        let t = |a: &[&str], d: &[&str], p: bool| {
            let a = normalize(&s(a), "CapAdd").unwrap();
            let d = normalize(&s(d), "CapDrop").unwrap();
            mask(&tweak(&a, &d, p, &all))
        };
        assert_eq!(t(&[], &[], false), 0xa80425fb);
        assert_eq!(t(&["NET_ADMIN"], &[], false), 0xa80435fb);
        assert_eq!(t(&[], &["ALL"], false), 0);
        assert_eq!(t(&["chown"], &["all"], false), 1);
        assert_eq!(t(&[], &["chown"], false), 0xa80425fa);
        assert_eq!(t(&["ALL"], &["NET_RAW"], false), 0x3f_feff_dfff);
        assert_eq!(t(&["BPF", "perfmon"], &[], false), 0xa80425fb | 3 << 38);
        assert_eq!(t(&[], &["ALL"], true), 0x3f_feff_ffff, "privileged wins");
        let a = normalize(&s(&["chown"]), "CapAdd").unwrap();
        assert_eq!(tweak(&a, &[], false, &all).len(), 14, "no duplicates");
    }

    #[test]
    fn ungrantable_caps_are_named() {
        let e = HOST.check(&[Capability::SysResource, Capability::Chown]);
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("cannot grant CAP_SYS_RESOURCE"),
            "names the capability"
        );
        assert!(HOST.check(&DEFAULT_CAPS).is_ok());
        let old = HostCaps {
            last_cap: 36,
            bounding: u64::MAX,
        };
        assert_eq!(mask(&old.all()), 0x1f_ffff_ffff);
        assert!(old.check(&[Capability::Bpf]).is_err());
    }

    #[test]
    fn only_root_gets_effective_caps() {
        let c = process_capabilities(&DEFAULT_CAPS, 0).unwrap();
        assert_eq!(c.effective().as_ref().unwrap().len(), 14);
        let c = process_capabilities(&DEFAULT_CAPS, 1000).unwrap();
        assert!(c.effective().as_ref().unwrap().is_empty());
        assert!(c.permitted().as_ref().unwrap().is_empty());
        assert_eq!(c.bounding().as_ref().unwrap().len(), 14);
    }
}
