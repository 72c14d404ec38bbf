//! `update`: changes a container's limits (`--memory`, `--memory-swap`,
//! `--cpus`, `--cpu-shares`, `--pids-limit`) and restart policy, on a
//! running or a stopped container, with docker's rules and messages.
//!
//! The new values go into the container's `HostConfig` (so `inspect`
//! shows them and the next start applies them); a running container's
//! cgroup files get the requested values at once (cgroup v1: the
//! `memory`, `cpu` and `pids` hierarchies under `strata/<id>`; v2: the
//! unified group's `memory.max`, `memory.swap.max`, `cpu.max`,
//! `cpu.weight`, `pids.max`). A container waiting to be restarted has no
//! cgroup: its next run starts with the new values. The supervisor reads
//! the restart policy at every exit, so a new one applies from the next.

use std::fs;
use std::path::{Path, PathBuf};

use crate::containers::{self, Container};
use crate::error::{IoContext, Result, RuntimeError};
use crate::launch_linux::CGROUP_PARENT;
use crate::restart_policy::RestartPolicy;

/// docker's smallest memory limit.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;
/// The CFS period `--cpus` uses (µs).
const CPU_PERIOD: i64 = 100_000;

/// What `update` changes (`None`: left as it is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateOptions {
    /// `-m`/`--memory` in bytes.
    pub memory: Option<i64>,
    /// `--memory-swap` in bytes (-1: unlimited).
    pub memory_swap: Option<i64>,
    /// `--cpus` × 10⁹.
    pub nano_cpus: Option<i64>,
    /// `-c`/`--cpu-shares`.
    pub cpu_shares: Option<i64>,
    /// `--pids-limit` (-1 or 0: unlimited).
    pub pids_limit: Option<i64>,
    /// `--restart`.
    pub restart: Option<RestartPolicy>,
}

impl UpdateOptions {
    /// True when no flag was given (docker: "you must provide one or more
    /// flags").
    pub fn is_empty(&self) -> bool {
        *self == UpdateOptions::default()
    }
}

/// Parses `--memory-swap` (`-1` is unlimited).
pub fn parse_swap(s: &str) -> Result<i64> {
    if s.trim() == "-1" {
        return Ok(-1);
    }
    crate::spec::parse_bytes(s)
}

/// The limits docker's daemon checks at create and at update alike.
fn check_memory_floor(memory: i64, swap: i64) -> Result<()> {
    if memory != 0 && memory < MIN_MEMORY {
        return Err(RuntimeError::Invalid(
            "Minimum memory limit allowed is 6MB".to_string(),
        ));
    }
    if memory > 0 && swap > 0 && swap < memory {
        return Err(RuntimeError::Invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage".to_string(),
        ));
    }
    Ok(())
}

/// Checks `--memory`/`--memory-swap` as docker's daemon does at create and
/// returns the swap limit to record (twice the memory when unset).
pub fn check_memory(memory: i64, swap: i64) -> Result<i64> {
    check_memory_floor(memory, swap)?;
    if memory == 0 && swap > 0 {
        return Err(RuntimeError::Invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
                .to_string(),
        ));
    }
    Ok(if memory > 0 && swap == 0 {
        memory * 2
    } else {
        swap
    })
}

/// Updates container `c` (docker's `update` of one container).
pub fn update(store: &strata_store::Store, c: &Container, opts: &UpdateOptions) -> Result<()> {
    let memory = opts.memory.unwrap_or(0);
    let swap = opts.memory_swap.unwrap_or(0);
    check_memory_floor(memory, swap)?;
    let cannot =
        |msg: &str| RuntimeError::Invalid(format!("Cannot update container {}: {msg}", c.id));
    let mut previous = None;
    let spec = containers::update_spec(store, &c.id, |spec| {
        previous = Some(spec.clone());
        let hc = &mut spec.host_config;
        if let Some(s) = opts.cpu_shares.filter(|s| *s != 0) {
            hc.cpu_shares = s;
        }
        if let Some(n) = opts.nano_cpus.filter(|n| *n != 0) {
            hc.nano_cpus = n;
        }
        if memory != 0 {
            if memory > hc.memory_swap && swap == 0 {
                return Err(cannot(
                    "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time",
                ));
            }
            hc.memory = memory;
        }
        if swap != 0 {
            hc.memory_swap = swap;
        }
        if let Some(p) = opts.pids_limit {
            hc.pids_limit = Some(p);
        }
        if let Some(r) = &opts.restart {
            if hc.auto_remove && !r.is_none() {
                return Err(cannot(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container",
                ));
            }
            hc.restart_policy = r.clone();
        }
        Ok(())
    })?;
    let now = containers::get(store, &c.id)?;
    let live = now
        .as_ref()
        .is_some_and(|n| n.is_running() && !n.state.restarting);
    if !live {
        return Ok(());
    }
    let applied = CgroupFiles::of(&c.id).apply(opts, spec.host_config.memory_swap);
    if let Err(e) = applied {
        // docker puts the old configuration back when the cgroup refuses.
        if let Some(old) = previous {
            let _ = containers::update_spec(store, &c.id, |s| {
                s.host_config = old.host_config;
                Ok(())
            });
        }
        return Err(cannot(&e.to_string()));
    }
    Ok(())
}

/// The limit files of one container's cgroup.
#[derive(Debug, Clone)]
struct CgroupFiles {
    /// The v2 group, or `None` under v1.
    v2: Option<PathBuf>,
    root: PathBuf,
    id: String,
}

impl CgroupFiles {
    fn of(id: &str) -> CgroupFiles {
        let root = Path::new("/sys/fs/cgroup");
        let v2 = root
            .join("cgroup.controllers")
            .exists()
            .then(|| root.join(CGROUP_PARENT).join(id));
        CgroupFiles {
            v2,
            root: root.to_path_buf(),
            id: id.to_string(),
        }
    }

    /// The file `name` of v1 controller `ctrl` (or of the v2 group).
    fn file(&self, ctrl: &str, name: &str) -> PathBuf {
        match &self.v2 {
            Some(dir) => dir.join(name),
            None => self
                .root
                .join(ctrl)
                .join(CGROUP_PARENT)
                .join(&self.id)
                .join(name),
        }
    }

    fn write(&self, ctrl: &str, name: &str, value: &str) -> Result<()> {
        let f = self.file(ctrl, name);
        fs::write(&f, value).ctx("write", &f)
    }

    /// Writes the requested limits; `swap` is the recorded memory+swap.
    fn apply(&self, opts: &UpdateOptions, swap: i64) -> Result<()> {
        let v2 = self.v2.is_some();
        if let Some(m) = opts.memory.filter(|m| *m != 0) {
            let (mem_file, value) = if v2 {
                ("memory.max", m.to_string())
            } else {
                ("memory.limit_in_bytes", m.to_string())
            };
            let swap_given = opts.memory_swap.filter(|s| *s != 0);
            let swap_value = |s: i64| -> (String, &'static str) {
                if v2 {
                    let v = if s < 0 {
                        "max".to_string()
                    } else {
                        (s - m).max(0).to_string()
                    };
                    (v, "memory.swap.max")
                } else {
                    (s.to_string(), "memory.memsw.limit_in_bytes")
                }
            };
            match swap_given {
                Some(s) if self.file("memory", swap_value(s).1).exists() => {
                    let (sv, sf) = swap_value(s);
                    // v1 wants memory ≤ memsw at every step: raise the one
                    // that must be larger first.
                    if v2 || self.write("memory", mem_file, &value).is_err() {
                        self.write("memory", sf, &sv)?;
                        self.write("memory", mem_file, &value)?;
                    } else {
                        self.write("memory", sf, &sv)?;
                    }
                }
                _ => {
                    self.write("memory", mem_file, &value)?;
                    if v2 && swap > 0 && self.file("memory", "memory.swap.max").exists() {
                        let (sv, sf) = swap_value(swap);
                        self.write("memory", sf, &sv)?;
                    }
                }
            }
        } else if let Some(s) = opts.memory_swap.filter(|s| *s != 0) {
            let f = if v2 {
                "memory.swap.max"
            } else {
                "memory.memsw.limit_in_bytes"
            };
            if self.file("memory", f).exists() {
                self.write("memory", f, &s.to_string())?;
            }
        }
        if let Some(n) = opts.nano_cpus.filter(|n| *n != 0) {
            let quota = (i128::from(n) * i128::from(CPU_PERIOD) / 1_000_000_000) as i64;
            if v2 {
                self.write("cpu", "cpu.max", &format!("{quota} {CPU_PERIOD}"))?;
            } else {
                self.write("cpu", "cpu.cfs_period_us", &CPU_PERIOD.to_string())?;
                self.write("cpu", "cpu.cfs_quota_us", &quota.to_string())?;
            }
        }
        if let Some(s) = opts.cpu_shares.filter(|s| *s != 0) {
            if v2 {
                // runc's conversion of shares [2, 262144] to weight [1, 10000].
                let s = s.clamp(2, 262_144);
                let weight = 1 + ((s - 2) * 9999) / 262_142;
                self.write("cpu", "cpu.weight", &weight.to_string())?;
            } else {
                self.write("cpu", "cpu.shares", &s.to_string())?;
            }
        }
        if let Some(p) = opts.pids_limit {
            let v = if p > 0 {
                p.to_string()
            } else {
                "max".to_string()
            };
            self.write("pids", "pids.max", &v)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_memory_rules_are_dockers() {
        assert_eq!(check_memory(64 << 20, 0).unwrap(), 128 << 20);
        assert_eq!(check_memory(64 << 20, -1).unwrap(), -1);
        assert_eq!(check_memory(0, 0).unwrap(), 0);
        assert!(check_memory(1 << 20, 0).is_err());
        assert!(check_memory(64 << 20, 32 << 20).is_err());
        assert!(check_memory(0, 32 << 20).is_err());
        assert_eq!(parse_swap("-1").unwrap(), -1);
        assert_eq!(parse_swap("1g").unwrap(), 1 << 30);
    }

    #[test]
    fn v1_files_are_per_controller() {
        let f = CgroupFiles {
            v2: None,
            root: "/sys/fs/cgroup".into(),
            id: "abc".into(),
        };
        assert_eq!(
            f.file("pids", "pids.max"),
            Path::new("/sys/fs/cgroup/pids/strata/abc/pids.max")
        );
    }
}
