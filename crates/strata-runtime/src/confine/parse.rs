//! The confinement flags of `run`/`create` parsed with docker's rules and
//! error messages (docker's CLI `opts` package and the daemon's
//! `parseSecurityOpt`): `--security-opt`, `--device`, `--ulimit`,
//! `--sysctl`, `--shm-size` and the namespace modes. Pure functions; the
//! caller supplies file reading for seccomp profiles.

use std::collections::BTreeMap;

use super::DeviceMapping;
use crate::error::{Result, RuntimeError};
use crate::spec::seccomp;
use crate::spec::security::{Ulimit, rlimit_type};

fn invalid(msg: impl Into<String>) -> RuntimeError {
    RuntimeError::Invalid(msg.into())
}

fn flag_err(value: &str, flag: &str, why: impl std::fmt::Display) -> RuntimeError {
    invalid(format!(
        "invalid argument \"{value}\" for \"{flag}\" flag: {why}"
    ))
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// One `--security-opt` as docker's CLI and daemon check it; a
/// `seccomp=FILE` is replaced by `seccomp=<the profile's compact JSON>`
/// (what docker stores in `HostConfig.SecurityOpt`). `read` reads a
/// profile file.
pub fn security_opt(opt: &str, read: &dyn Fn(&str) -> std::io::Result<String>) -> Result<String> {
    let (key, value) = match opt.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None if opt == "no-new-privileges" => (opt, None),
        None => match opt.split_once(':') {
            Some((k, v)) => (k, Some(v)),
            None => return Err(invalid(format!("Invalid --security-opt: {opt:?}"))),
        },
    };
    match (key, value) {
        ("no-new-privileges", None) => Ok(opt.to_string()),
        ("no-new-privileges", Some(v)) => match parse_bool(v) {
            Some(_) => Ok(opt.to_string()),
            None => Err(invalid(format!("invalid --security-opt 2: {opt:?}"))),
        },
        ("seccomp", Some("unconfined")) => Ok(opt.to_string()),
        ("seccomp", Some(path)) => {
            let text = read(path).map_err(|e| {
                invalid(format!(
                    "opening seccomp profile ({path}) failed: open {path}: {}",
                    io_text(&e)
                ))
            })?;
            let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                invalid(format!(
                    "compacting json for seccomp profile ({path}) failed: {e}"
                ))
            })?;
            let compact = value.to_string();
            seccomp::parse(&compact)?;
            Ok(format!("seccomp={compact}"))
        }
        // No AppArmor or SELinux here: accepted and unused, as docker does
        // on such hosts.
        ("label" | "apparmor", Some(_)) => Ok(opt.to_string()),
        _ => Err(invalid(format!("invalid --security-opt 2: {opt:?}"))),
    }
}

/// Go's wording of common I/O errors (`no such file or directory`).
pub fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_ascii_lowercase(),
        None => e.to_string(),
    }
}

/// What the security options ask for: (no_new_privileges, seccomp) where
/// seccomp is `None` (default), `Some(None)` (unconfined) or
/// `Some(Some(json))`. The last of each kind wins.
pub fn security_choices(opts: &[String]) -> (bool, Option<Option<String>>) {
    let mut nnp = false;
    let mut seccomp = None;
    for o in opts {
        let (k, v) = match o.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => match o.split_once(':') {
                Some((k, v)) if o != "no-new-privileges" => (k, Some(v)),
                _ => (o.as_str(), None),
            },
        };
        match (k, v) {
            ("no-new-privileges", None) => nnp = true,
            ("no-new-privileges", Some(v)) => nnp = parse_bool(v).unwrap_or(nnp),
            ("seccomp", Some("unconfined")) => seccomp = Some(None),
            ("seccomp", Some(json)) => seccomp = Some(Some(json.to_string())),
            _ => {}
        }
    }
    (nnp, seccomp)
}

fn valid_device_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return false;
    }
    let mut seen = [false; 3];
    mode.chars().all(|c| {
        let i = match c {
            'r' => 0,
            'w' => 1,
            'm' => 2,
            _ => return false,
        };
        !std::mem::replace(&mut seen[i], true)
    })
}

/// `--device HOST[:CONTAINER][:PERMS]` (docker's `validateDevice` +
/// `parseDevice`).
pub fn device(spec: &str) -> Result<DeviceMapping> {
    if spec.matches(':').count() > 2 {
        return Err(invalid(format!("bad format for path: {spec}")));
    }
    let parts: Vec<&str> = spec.splitn(3, ':').collect();
    if parts[0].is_empty() {
        return Err(invalid(format!("bad format for path: {spec}")));
    }
    let (host, container, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, x] if valid_device_mode(x) => (*h, *h, *x),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => {
            if !valid_device_mode(p) {
                return Err(invalid(format!("bad mode specified: {p}")));
            }
            (*h, *c, *p)
        }
        _ => unreachable!("splitn(3) gives 1 to 3 parts"),
    };
    if !container.starts_with('/') {
        return Err(invalid(format!("{container} is not an absolute path")));
    }
    Ok(DeviceMapping {
        path_on_host: host.to_string(),
        path_in_container: container.to_string(),
        cgroup_permissions: perms.to_string(),
    })
}

/// `--ulimit name=soft[:hard]` (go-units `ParseUlimit`).
pub fn ulimit(spec: &str) -> Result<Ulimit> {
    let err = |why: String| flag_err(spec, "--ulimit", why);
    let Some((name, values)) = spec.split_once('=') else {
        return Err(err(format!("invalid ulimit argument: {spec}")));
    };
    if rlimit_type(name).is_none() {
        return Err(err(format!("invalid ulimit type: {name}")));
    }
    let num = |s: &str| -> Result<i64> {
        s.parse::<i64>().map_err(|_| {
            err(format!(
                "strconv.ParseInt: parsing {}: invalid syntax",
                strata_go::quote::go_quote(s)
            ))
        })
    };
    let parts: Vec<&str> = values.split(':').collect();
    let (soft, hard) = match parts.as_slice() {
        [s] => {
            let s = num(s)?;
            (s, s)
        }
        [s, h] => {
            let h = num(h)?;
            (num(s)?, h)
        }
        _ => {
            return Err(err(format!(
                "too many limit value arguments - {values}, can only have up to two, `soft[:hard]`"
            )));
        }
    };
    if hard != -1 && soft > hard {
        return Err(err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )));
    }
    Ok(Ulimit {
        name: name.to_string(),
        hard,
        soft,
    })
}

/// True for the sysctls that live in the IPC namespace.
pub fn is_ipc_sysctl(key: &str) -> bool {
    matches!(
        key,
        "kernel.msgmax"
            | "kernel.msgmnb"
            | "kernel.msgmni"
            | "kernel.sem"
            | "kernel.shmall"
            | "kernel.shmmax"
            | "kernel.shmmni"
            | "kernel.shm_rmid_forced"
    ) || key.starts_with("fs.mqueue.")
}

/// `--sysctl key=value`, against docker's list of namespaced sysctls.
pub fn sysctls(list: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for s in list {
        let not_listed = || flag_err(s, "--sysctl", format!("sysctl '{s}' is not whitelisted"));
        let Some((k, v)) = s.split_once('=') else {
            return Err(not_listed());
        };
        if !is_ipc_sysctl(k) && !k.starts_with("net.") {
            return Err(not_listed());
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// Checks the sysctls against the namespaces the container gets (runc's
/// rule, checked here at create instead of at start).
pub fn check_sysctl_namespaces(
    sysctls: &BTreeMap<String, String>,
    ipc_mode: &str,
    network_mode: &str,
) -> Result<()> {
    for k in sysctls.keys() {
        if is_ipc_sysctl(k) && ipc_mode == "host" {
            return Err(invalid(format!(
                "sysctl {k:?} is not allowed in the hosts ipc namespace"
            )));
        }
        if k.starts_with("net.") && network_mode == "host" {
            return Err(invalid(format!(
                "sysctl {k:?} not allowed in host network namespace"
            )));
        }
    }
    Ok(())
}

/// `--shm-size` in bytes (0 and absent: docker's 64 MiB default).
pub fn shm_size(s: &str) -> Result<i64> {
    crate::spec::parse_bytes(s)
        .map_err(|_| flag_err(s, "--shm-size", format!("invalid size: '{s}'")))
}

/// `--ipc`: docker's `IpcMode` values.
pub fn ipc_mode(s: &str) -> Result<String> {
    match s {
        "" => Ok("private".to_string()),
        "private" | "shareable" | "host" | "none" => Ok(s.to_string()),
        c if c.strip_prefix("container:").is_some_and(|n| !n.is_empty()) => Ok(s.to_string()),
        _ => Err(invalid(format!("Invalid IPC mode: {s}"))),
    }
}

/// `--pid`: `host` or `container:NAME` (docker 20.10 has no `private`).
pub fn pid_mode(s: &str) -> Result<String> {
    match s {
        "" | "host" => Ok(s.to_string()),
        c if c.strip_prefix("container:").is_some_and(|n| !n.is_empty()) => Ok(s.to_string()),
        _ => Err(invalid("--pid: invalid PID mode")),
    }
}

/// `--userns`: only `host` without user-namespace remapping.
pub fn userns_mode(s: &str) -> Result<String> {
    match s {
        "" | "host" => Ok(s.to_string()),
        _ => Err(invalid("--userns: invalid USER mode")),
    }
}

/// `--cgroupns`: `host` or `private`.
pub fn cgroupns_mode(s: &str) -> Result<String> {
    match s {
        "" | "host" | "private" => Ok(s.to_string()),
        _ => Err(invalid("--cgroupns: invalid CGROUP mode")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_files(_: &str) -> std::io::Result<String> {
        Err(std::io::Error::from_raw_os_error(libc::ENOENT))
    }

    #[test]
    fn security_opts_like_docker() {
        let ok = |o: &str| security_opt(o, &no_files).unwrap();
        let err = |o: &str| security_opt(o, &no_files).unwrap_err().to_string();
        assert_eq!(ok("no-new-privileges"), "no-new-privileges");
        assert_eq!(ok("no-new-privileges=false"), "no-new-privileges=false");
        assert_eq!(ok("seccomp=unconfined"), "seccomp=unconfined");
        assert_eq!(ok("seccomp:unconfined"), "seccomp:unconfined");
        assert_eq!(ok("apparmor=foo"), "apparmor=foo");
        assert_eq!(ok("label=disable"), "label=disable");
        assert_eq!(ok("label:user:x"), "label:user:x");
        assert_eq!(err("bogus"), "Invalid --security-opt: \"bogus\"");
        assert_eq!(err("disable"), "Invalid --security-opt: \"disable\"");
        assert_eq!(err("foo=bar"), "invalid --security-opt 2: \"foo=bar\"");
        assert_eq!(
            err("no-new-privileges=maybe"),
            "invalid --security-opt 2: \"no-new-privileges=maybe\""
        );
        assert_eq!(
            err("seccomp=/nonexistent.json"),
            "opening seccomp profile (/nonexistent.json) failed: open /nonexistent.json: no such file or directory"
        );
    }

    #[test]
    fn seccomp_files_are_inlined_compact() {
        let read = |_: &str| {
            Ok("{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"syscalls\": []\n}\n".to_string())
        };
        assert_eq!(
            security_opt("seccomp=/p.json", &read).unwrap(),
            "seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[]}"
        );
        let bad = |_: &str| Ok("{nope".to_string());
        assert!(
            security_opt("seccomp=/p.json", &bad)
                .unwrap_err()
                .to_string()
                .starts_with("compacting json for seccomp profile (/p.json) failed:")
        );
        let wrong = |_: &str| Ok("{\"defaultAction\":7}".to_string());
        assert!(
            security_opt("seccomp=/p.json", &wrong)
                .unwrap_err()
                .to_string()
                .starts_with("Decoding seccomp profile failed:")
        );
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(security_choices(&s(&[])), (false, None));
        assert_eq!(
            security_choices(&s(&["no-new-privileges", "seccomp=unconfined"])),
            (true, Some(None))
        );
        assert_eq!(
            security_choices(&s(&[
                "no-new-privileges=true",
                "no-new-privileges=false",
                "seccomp={}"
            ])),
            (false, Some(Some("{}".into())))
        );
    }

    #[test]
    fn devices_like_docker() {
        let d = device("/dev/null:/dev/mynull").unwrap();
        assert_eq!(
            (
                d.path_on_host.as_str(),
                d.path_in_container.as_str(),
                d.cgroup_permissions.as_str()
            ),
            ("/dev/null", "/dev/mynull", "rwm")
        );
        let d = device("/dev/zero").unwrap();
        assert_eq!(
            (d.path_in_container.as_str(), d.cgroup_permissions.as_str()),
            ("/dev/zero", "rwm")
        );
        let d = device("/dev/zero:r").unwrap();
        assert_eq!(
            (d.path_in_container.as_str(), d.cgroup_permissions.as_str()),
            ("/dev/zero", "r")
        );
        assert_eq!(
            device("/dev/null:/dev/x:rw").unwrap().cgroup_permissions,
            "rw"
        );
        assert_eq!(
            device("/dev/null:/dev/x:rwx").unwrap_err().to_string(),
            "bad mode specified: rwx"
        );
        assert_eq!(
            device("/dev/null:/dev/x:rr").unwrap_err().to_string(),
            "bad mode specified: rr"
        );
        assert_eq!(
            device("/dev/null:mynull").unwrap_err().to_string(),
            "mynull is not an absolute path"
        );
        assert_eq!(
            device("/dev/null:/dev/x:rw:x").unwrap_err().to_string(),
            "bad format for path: /dev/null:/dev/x:rw:x"
        );
        assert_eq!(
            device(":/x").unwrap_err().to_string(),
            "bad format for path: :/x"
        );
    }

    #[test]
    fn ulimits_like_docker() {
        let u = ulimit("nofile=512:1024").unwrap();
        assert_eq!((u.name.as_str(), u.soft, u.hard), ("nofile", 512, 1024));
        let u = ulimit("nofile=512").unwrap();
        assert_eq!((u.soft, u.hard), (512, 512));
        assert_eq!(ulimit("core=-1").unwrap().hard, -1);
        assert_eq!(ulimit("nofile=100:-1").unwrap().hard, -1);
        let e = |s: &str| ulimit(s).unwrap_err().to_string();
        assert_eq!(
            e("nofile=1024:512"),
            "invalid argument \"nofile=1024:512\" for \"--ulimit\" flag: ulimit soft limit must be less than or equal to hard limit: 1024 > 512"
        );
        assert_eq!(
            e("foo=1"),
            "invalid argument \"foo=1\" for \"--ulimit\" flag: invalid ulimit type: foo"
        );
        assert_eq!(
            e("nofile"),
            "invalid argument \"nofile\" for \"--ulimit\" flag: invalid ulimit argument: nofile"
        );
        assert_eq!(
            e("nofile=a:b"),
            "invalid argument \"nofile=a:b\" for \"--ulimit\" flag: strconv.ParseInt: parsing \"b\": invalid syntax"
        );
        assert!(e("nofile=1:2:3").contains("too many limit value arguments"));
    }

    #[test]
    fn sysctls_like_docker() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let m = sysctls(&s(&[
            "kernel.shmmax=1048576",
            "net.ipv4.ip_forward=1",
            "fs.mqueue.msg_max=20",
        ]))
        .unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(
            sysctls(&s(&["kernel.domainname=x"]))
                .unwrap_err()
                .to_string(),
            "invalid argument \"kernel.domainname=x\" for \"--sysctl\" flag: sysctl 'kernel.domainname=x' is not whitelisted"
        );
        assert!(sysctls(&s(&["foo"])).is_err());
        assert!(sysctls(&s(&["vm.swappiness=1"])).is_err());
        assert_eq!(
            check_sysctl_namespaces(&m, "private", "host")
                .unwrap_err()
                .to_string(),
            "sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace"
        );
        assert!(check_sysctl_namespaces(&m, "private", "none").is_ok());
        assert_eq!(
            check_sysctl_namespaces(&m, "host", "none")
                .unwrap_err()
                .to_string(),
            "sysctl \"fs.mqueue.msg_max\" is not allowed in the hosts ipc namespace"
        );
    }

    #[test]
    fn modes_like_docker() {
        assert_eq!(ipc_mode("").unwrap(), "private");
        assert_eq!(ipc_mode("container:db").unwrap(), "container:db");
        assert_eq!(
            ipc_mode("bogus").unwrap_err().to_string(),
            "Invalid IPC mode: bogus"
        );
        assert!(ipc_mode("container:").is_err());
        assert_eq!(pid_mode("host").unwrap(), "host");
        assert_eq!(
            pid_mode("private").unwrap_err().to_string(),
            "--pid: invalid PID mode"
        );
        assert_eq!(userns_mode("host").unwrap(), "host");
        assert_eq!(
            userns_mode("private").unwrap_err().to_string(),
            "--userns: invalid USER mode"
        );
        assert_eq!(
            cgroupns_mode("bogus").unwrap_err().to_string(),
            "--cgroupns: invalid CGROUP mode"
        );
        assert_eq!(shm_size("1m").unwrap(), 1 << 20);
        assert_eq!(
            shm_size("-1").unwrap_err().to_string(),
            "invalid argument \"-1\" for \"--shm-size\" flag: invalid size: '-1'"
        );
    }
}
