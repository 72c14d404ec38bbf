//! Seccomp profiles in docker's format, turned into the OCI
//! `linux.seccomp` of one container with the semantics of moby's
//! `profiles/seccomp/seccomp_linux.go`:
//!
//! * `archMap` keeps the native architecture and its sub-architectures
//!   (`architectures` is taken as it is; both at once is an error);
//! * a rule applies only if its `includes` hold — the native arch is
//!   listed, *every* listed capability is in the container's bounding
//!   set, the kernel is at least `minKernel` — and its `excludes` do not:
//!   the arch is listed, *any* listed capability is in the bounding set,
//!   the kernel is at least `minKernel`;
//! * `name` is the old spelling of a one-element `names`;
//! * the x32 sub-architecture is dropped where the kernel has no x32 ABI
//!   (its syscalls fail there anyway; listing it only costs start time).
//!
//! The default profile ([`DEFAULT_PROFILE`], `seccomp-default.json` beside
//! this file) has the allow-list, argument filters and conditions of
//! docker's default profile (moby `profiles/seccomp/default.json`, which
//! Debian's `containers-common` also ships as
//! `/usr/share/containers/seccomp.json`): `ERRNO(EPERM)` for everything
//! not allowed, `clone` without namespace flags and `clone3` failing with
//! `ENOSYS` unless the container has `CAP_SYS_ADMIN`, `mount`, `unshare`,
//! `setns`, `bpf`, `perf_event_open`, `keyctl`/`add_key` (never listed)
//! refused. It follows current moby rather than 20.10's copy: the same
//! rules plus the syscalls of newer kernels, with io_uring and the
//! AF_ALG/AF_VSOCK socket families refused.
//!
//! Filters are loaded by youki's libcontainer through its `libseccomp`
//! feature (the C libseccomp from Debian, the library runc itself uses to
//! compile profiles). Syscall names that library does not know are skipped,
//! so they get the default action (EPERM).

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag, LinuxSyscall,
};
use serde::Deserialize;

use crate::error::{Result, RuntimeError};

/// docker's default profile, in docker's format.
pub const DEFAULT_PROFILE: &str = include_str!("seccomp-default.json");

/// A profile as docker's `--security-opt seccomp=FILE` reads it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// `SCMP_ACT_…`; empty with no syscalls means "no filter".
    #[serde(default)]
    pub default_action: Option<String>,
    /// The errno of `SCMP_ACT_ERRNO` (EPERM when absent).
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    /// Explicit architectures (old profiles).
    #[serde(default)]
    pub architectures: Option<Vec<Arch>>,
    /// Architecture → sub-architectures.
    #[serde(default)]
    pub arch_map: Option<Vec<ArchMapEntry>>,
    /// Filter flags.
    #[serde(default)]
    pub flags: Option<Vec<LinuxSeccompFilterFlag>>,
    /// `SCMP_ACT_NOTIFY` listener.
    #[serde(default)]
    pub listener_path: Option<std::path::PathBuf>,
    /// Data for the listener.
    #[serde(default)]
    pub listener_metadata: Option<String>,
    /// The rules.
    #[serde(default)]
    pub syscalls: Option<Vec<Rule>>,
}

/// One `archMap` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMapEntry {
    /// The architecture.
    pub architecture: Arch,
    /// Its sub-architectures.
    #[serde(default)]
    pub sub_architectures: Option<Vec<Arch>>,
}

/// One rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// Old spelling of a single name.
    #[serde(default)]
    pub name: Option<String>,
    /// Syscall names.
    #[serde(default)]
    pub names: Option<Vec<String>>,
    /// What to do.
    pub action: LinuxSeccompAction,
    /// The errno of `SCMP_ACT_ERRNO`.
    #[serde(default)]
    pub errno_ret: Option<u32>,
    /// Argument conditions (all must hold).
    #[serde(default)]
    pub args: Option<Vec<LinuxSeccompArg>>,
    /// Free text.
    #[serde(default)]
    pub comment: Option<String>,
    /// Conditions for the rule to apply.
    #[serde(default)]
    pub includes: Option<Filter>,
    /// Conditions for the rule not to apply.
    #[serde(default)]
    pub excludes: Option<Filter>,
}

/// `includes`/`excludes`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    /// Capability names (`CAP_SYS_ADMIN`).
    #[serde(default)]
    pub caps: Option<Vec<String>>,
    /// libseccomp arch names (`amd64`, `s390x`).
    #[serde(default)]
    pub arches: Option<Vec<String>>,
    /// `"<kernel>.<major>"`.
    #[serde(default)]
    pub min_kernel: Option<String>,
}

/// The facts a profile's conditions test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// libseccomp's name of the native arch (`amd64`, `arm64`, …).
    pub arch: &'static str,
    /// Kernel version and major revision (`6.18`).
    pub kernel: (u64, u64),
    /// The container's bounding set, by name (`CAP_CHOWN`, …).
    pub caps: Vec<String>,
    /// The kernel runs x32 syscalls (most do not; then the x32
    /// sub-architecture is left out of the filter: it could never match,
    /// and each architecture costs milliseconds to compile at every start).
    pub x32: bool,
}

impl Target {
    /// This host, for a container with bounding set `caps`.
    pub fn host(caps: Vec<String>) -> Target {
        Target {
            arch: native_arch(),
            kernel: host_kernel(),
            caps,
            x32: kernel_runs_x32(),
        }
    }
}

/// True if this kernel accepts x32 syscalls (asked once, with the x32
/// `getpid`, which fails with ENOSYS where the ABI is off).
pub fn kernel_runs_x32() -> bool {
    static X32: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *X32.get_or_init(|| {
        if native_arch() != "amd64" {
            return false;
        }
        const X32_SYSCALL_BIT: libc::c_long = 0x4000_0000;
        // SAFETY: getpid (x32 number 39) takes no arguments and changes
        // nothing; an unsupported ABI just returns ENOSYS.
        unsafe { libc::syscall(X32_SYSCALL_BIT | libc::SYS_getpid) >= 0 }
    })
}

/// libseccomp's name of the architecture strata was built for (moby's
/// `goToNative`).
pub fn native_arch() -> &'static str {
    let little = cfg!(target_endian = "little");
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" if little => "ppc64le",
        "powerpc64" => "ppc64",
        "powerpc" => "ppc",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "loongarch64" => "loongarch64",
        "mips64" if little => "mipsel64",
        "mips64" => "mips64",
        "mips" if little => "mipsle",
        other => other,
    }
}

fn seccomp_arch(native: &str) -> Option<Arch> {
    Some(match native {
        "x86" => Arch::ScmpArchX86,
        "amd64" => Arch::ScmpArchX86_64,
        "arm" => Arch::ScmpArchArm,
        "arm64" => Arch::ScmpArchAarch64,
        "loongarch64" => Arch::ScmpArchLoongarch64,
        "mips64" => Arch::ScmpArchMips64,
        "mips64n32" => Arch::ScmpArchMips64n32,
        "mipsel64" => Arch::ScmpArchMipsel64,
        "mips3l64n32" => Arch::ScmpArchMipsel64n32,
        "mipsle" => Arch::ScmpArchMipsel,
        "ppc" => Arch::ScmpArchPpc,
        "ppc64" => Arch::ScmpArchPpc64,
        "ppc64le" => Arch::ScmpArchPpc64le,
        "riscv64" => Arch::ScmpArchRiscv64,
        "s390" => Arch::ScmpArchS390,
        "s390x" => Arch::ScmpArchS390x,
        _ => return None,
    })
}

/// The running kernel's version and major revision (`uname -r`).
pub fn host_kernel() -> (u64, u64) {
    nix::sys::utsname::uname()
        .ok()
        .and_then(|u| parse_release(&u.release().to_string_lossy()))
        .unwrap_or((0, 0))
}

/// `6.18.44-fc-v1300` → `(6, 18)`.
fn parse_release(release: &str) -> Option<(u64, u64)> {
    let mut parts = release.split(['.', '-']);
    let digits = |s: &str| -> Option<u64> {
        let d: String = s.chars().take_while(char::is_ascii_digit).collect();
        d.parse().ok()
    };
    Some((digits(parts.next()?)?, digits(parts.next()?)?))
}

fn decode_err(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Invalid(format!("Decoding seccomp profile failed: {e}"))
}

/// `"<kernel>.<major>"`, with docker's errors.
fn parse_min_kernel(v: &str) -> Result<(u64, u64)> {
    let bad = |why: &str| {
        decode_err(format!(
            "invalid kernel version: {v}, expected \"<kernel>.<major>\"{why}"
        ))
    };
    let parts: Vec<&str> = v.splitn(3, '.').collect();
    if parts.len() != 2 {
        return Err(bad(""));
    }
    let k: u8 = parts[0].parse().map_err(|_| bad(": not a number"))?;
    let m: u8 = parts[1].parse().map_err(|_| bad(": not a number"))?;
    if k == 0 && m == 0 {
        return Err(bad(": version cannot be 0.0"));
    }
    Ok((k.into(), m.into()))
}

/// Parses a profile (docker's JSON format).
pub fn parse(json: &str) -> Result<Profile> {
    serde_json::from_str(json).map_err(decode_err)
}

impl Profile {
    /// The OCI filter for `target`, or `None` when the profile asks for
    /// none (no default action and no rules).
    pub fn resolve(&self, target: &Target) -> Result<Option<LinuxSeccomp>> {
        let rules = self.syscalls.as_deref().unwrap_or(&[]);
        let action = self.default_action.as_deref().unwrap_or("");
        if action.is_empty() && rules.is_empty() {
            return Ok(None);
        }
        let default_action: LinuxSeccompAction =
            serde_json::from_value(serde_json::Value::String(action.to_string()))
                .map_err(decode_err)?;
        let arch_map = self.arch_map.as_deref().unwrap_or(&[]);
        let mut arches = self.architectures.clone().unwrap_or_default();
        if !arches.is_empty() && !arch_map.is_empty() {
            return Err(decode_err(
                "both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'",
            ));
        }
        if let Some(native) = seccomp_arch(target.arch)
            && let Some(entry) = arch_map.iter().find(|a| a.architecture == native)
        {
            arches.push(entry.architecture);
            arches.extend(
                entry
                    .sub_architectures
                    .iter()
                    .flatten()
                    .filter(|a| target.x32 || **a != Arch::ScmpArchX32)
                    .copied(),
            );
        }
        let mut syscalls = Vec::new();
        for rule in rules {
            if let Some(call) = rule.resolve(target)? {
                syscalls.push(call);
            }
        }
        let mut out = LinuxSeccomp::default();
        out.set_default_action(default_action);
        out.set_default_errno_ret(self.default_errno_ret);
        out.set_architectures((!arches.is_empty()).then_some(arches));
        out.set_flags(self.flags.clone());
        out.set_listener_path(self.listener_path.clone());
        out.set_listener_metadata(self.listener_metadata.clone());
        out.set_syscalls(Some(syscalls));
        Ok(Some(out))
    }
}

impl Rule {
    /// The rule for `target`, or `None` when its conditions leave it out.
    fn resolve(&self, target: &Target) -> Result<Option<LinuxSyscall>> {
        let names = match (&self.name, &self.names) {
            (Some(n), Some(ns)) if !n.is_empty() && !ns.is_empty() => {
                return Err(decode_err(
                    "both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'",
                ));
            }
            (Some(n), _) if !n.is_empty() => vec![n.clone()],
            (_, ns) => ns.clone().unwrap_or_default(),
        };
        let has = |c: &String| target.caps.contains(c);
        if let Some(ex) = &self.excludes {
            if ex.arches.iter().flatten().any(|a| a == target.arch) {
                return Ok(None);
            }
            if ex.caps.iter().flatten().any(has) {
                return Ok(None);
            }
            if let Some(v) = ex.min_kernel.as_deref().filter(|v| !v.is_empty())
                && target.kernel >= parse_min_kernel(v)?
            {
                return Ok(None);
            }
        }
        if let Some(inc) = &self.includes {
            if let Some(a) = inc.arches.as_ref().filter(|a| !a.is_empty())
                && !a.iter().any(|a| a == target.arch)
            {
                return Ok(None);
            }
            if !inc.caps.iter().flatten().all(has) {
                return Ok(None);
            }
            if let Some(v) = inc.min_kernel.as_deref().filter(|v| !v.is_empty())
                && target.kernel < parse_min_kernel(v)?
            {
                return Ok(None);
            }
        }
        let mut call = LinuxSyscall::default();
        call.set_names(names);
        call.set_action(self.action);
        call.set_errno_ret(self.errno_ret);
        call.set_args(self.args.clone().filter(|a| !a.is_empty()));
        Ok(Some(call))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxSeccompOperator;

    fn target(arch: &'static str, caps: &[&str]) -> Target {
        Target {
            arch,
            kernel: (6, 18),
            caps: caps.iter().map(|c| c.to_string()).collect(),
            x32: true,
        }
    }

    const DEFAULT_CAPS: &[&str] = &[
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE",
    ];

    fn default_for(t: &Target) -> LinuxSeccomp {
        parse(DEFAULT_PROFILE).unwrap().resolve(t).unwrap().unwrap()
    }

    /// Every (name, action, errno, args) the filter has for `name`.
    fn rules_for(s: &LinuxSeccomp, name: &str) -> Vec<LinuxSyscall> {
        s.syscalls()
            .iter()
            .flatten()
            .filter(|c| c.names().iter().any(|n| n == name))
            .cloned()
            .collect()
    }

    fn allowed(s: &LinuxSeccomp, name: &str) -> bool {
        rules_for(s, name)
            .iter()
            .any(|c| c.action() == LinuxSeccompAction::ScmpActAllow && c.args().is_none())
    }

    #[test]
    fn default_profile_on_amd64_with_dockers_caps() {
        let s = default_for(&target("amd64", DEFAULT_CAPS));
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(s.default_errno_ret(), Some(1));
        assert_eq!(
            s.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
        );
        let mut no_x32 = target("amd64", DEFAULT_CAPS);
        no_x32.x32 = false;
        assert_eq!(
            default_for(&no_x32).architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86][..])
        );
        for name in [
            "read",
            "execve",
            "arch_prctl",
            "modify_ldt",
            "chroot",
            "ptrace",
        ] {
            assert!(allowed(&s, name), "{name} allowed");
        }
        for name in [
            "keyctl",
            "add_key",
            "request_key",
            "mount",
            "unshare",
            "setns",
            "bpf",
            "perf_event_open",
            "reboot",
            "init_module",
            "io_uring_setup",
            "s390_runtime_instr",
            "open_by_handle_at",
        ] {
            assert!(!allowed(&s, name), "{name} refused");
        }
        // clone only without namespace flags; clone3 says ENOSYS.
        let clone = rules_for(&s, "clone");
        assert_eq!(clone.len(), 1);
        let arg = clone[0].args().as_ref().unwrap()[0];
        assert_eq!(
            (arg.index(), arg.value(), arg.op()),
            (0, 0x7E02_0000, LinuxSeccompOperator::ScmpCmpMaskedEq)
        );
        let clone3 = rules_for(&s, "clone3");
        assert_eq!(clone3.len(), 1);
        assert_eq!(clone3[0].action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(clone3[0].errno_ret(), Some(38));
        // socket: three argument rules, no unconditional one.
        assert_eq!(rules_for(&s, "socket").len(), 3);
        assert!(!allowed(&s, "socket"));
    }

    #[test]
    fn capabilities_switch_rules() {
        let mut caps = DEFAULT_CAPS.to_vec();
        caps.push("CAP_SYS_ADMIN");
        let s = default_for(&target("amd64", &caps));
        for name in ["mount", "unshare", "setns", "bpf", "clone", "clone3"] {
            assert!(allowed(&s, name), "{name} allowed with CAP_SYS_ADMIN");
        }
        assert!(
            rules_for(&s, "clone3")
                .iter()
                .all(|c| c.action() == LinuxSeccompAction::ScmpActAllow),
            "no ENOSYS rule with CAP_SYS_ADMIN"
        );
        let s = default_for(&target("amd64", &["CAP_BPF", "CAP_PERFMON"]));
        assert!(allowed(&s, "bpf") && allowed(&s, "perf_event_open"));
        assert!(!allowed(&s, "chroot"), "chroot needs CAP_SYS_CHROOT");
        assert!(!allowed(&s, "mount"));
    }

    #[test]
    fn arch_conditions() {
        let s = default_for(&target("s390x", DEFAULT_CAPS));
        assert_eq!(
            s.architectures().as_deref(),
            Some(&[Arch::ScmpArchS390x, Arch::ScmpArchS390][..])
        );
        assert!(allowed(&s, "s390_runtime_instr"));
        assert!(!allowed(&s, "arch_prctl"));
        let clone = rules_for(&s, "clone");
        assert_eq!(clone.len(), 1, "s390 has its own clone rule only");
        assert_eq!(clone[0].args().as_ref().unwrap()[0].index(), 1);
        let s = default_for(&target("arm64", DEFAULT_CAPS));
        assert!(allowed(&s, "arm_fadvise64_64"));
        assert!(!allowed(&s, "modify_ldt"));
    }

    #[test]
    fn kernel_conditions() {
        let mut t = target("amd64", DEFAULT_CAPS);
        t.kernel = (4, 4);
        assert!(!allowed(&default_for(&t), "ptrace"), "ptrace needs 4.8");
        let p = parse(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"name":"getcwd","action":"SCMP_ACT_ERRNO","excludes":{"minKernel":"5.0"}}]}"#,
        )
        .unwrap();
        assert!(
            p.resolve(&t).unwrap().unwrap().syscalls().as_ref().unwrap()[0].names()[0] == "getcwd"
        );
        t.kernel = (5, 0);
        assert!(
            p.resolve(&t)
                .unwrap()
                .unwrap()
                .syscalls()
                .as_ref()
                .unwrap()
                .is_empty()
        );
        assert_eq!(parse_release("6.18.44-fc-v1300"), Some((6, 18)));
        assert_eq!(parse_release("5.10-1-amd64"), Some((5, 10)));
    }

    #[test]
    fn dockers_errors_and_old_profiles() {
        let t = target("amd64", DEFAULT_CAPS);
        let bad = parse(r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}"#)
            .unwrap();
        assert!(
            bad.resolve(&t)
                .unwrap_err()
                .to_string()
                .contains("use either 'architectures' or 'archMap'")
        );
        let both = parse(r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"read","names":["write"],"action":"SCMP_ACT_ALLOW"}]}"#)
            .unwrap();
        assert!(both.resolve(&t).is_err());
        assert!(
            parse("{not json")
                .unwrap_err()
                .to_string()
                .starts_with("Decoding seccomp profile failed:")
        );
        assert!(
            parse(r#"{"defaultAction":"SCMP_ACT_NOPE","syscalls":[]}"#)
                .unwrap()
                .resolve(&t)
                .is_err()
        );
        assert!(parse(r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"read","action":"SCMP_ACT_ALLOW","includes":{"minKernel":"0.0"}}]}"#).unwrap().resolve(&t).is_err());
        // An empty profile means no filter; the old single-name form works.
        assert!(parse("{}").unwrap().resolve(&t).unwrap().is_none());
        let old = parse(r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"name":"read","action":"SCMP_ACT_ALLOW","args":null}]}"#)
            .unwrap()
            .resolve(&t)
            .unwrap()
            .unwrap();
        assert_eq!(
            old.syscalls().as_ref().unwrap()[0].names(),
            &["read".to_string()]
        );
        assert_eq!(
            old.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64][..])
        );
        assert_eq!(old.default_errno_ret(), None);
    }
}
