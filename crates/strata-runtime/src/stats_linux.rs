//! `stats`: a running container's resource use read straight from its
//! cgroup and network namespace, computed as docker's CLI computes it.
//!
//! * cgroup v2 (a unified hierarchy at `/sys/fs/cgroup`):
//!   `strata/<id>/{cpu.stat usage_usec, memory.current, memory.stat
//!   inactive_file, memory.max, pids.current, io.stat rbytes/wbytes}`.
//! * cgroup v1 (also the v1/v2 hybrid, where the unified tree holds no
//!   controllers): `cpuacct/strata/<id>/cpuacct.usage`,
//!   `memory/…/memory.{usage_in_bytes,limit_in_bytes,stat
//!   total_inactive_file}`, `pids/…/pids.current`,
//!   `blkio/…/blkio{,.throttle}.io_service_bytes_recursive`.
//! * network: `/proc/<pid>/net/dev` of the container's init (its own
//!   namespace), every interface but `lo`; nothing for `--network host`
//!   (docker reports no networks there).
//!
//! CPU % needs two samples: `(cpu delta / wall delta) × 100`, which is
//! docker's `cpu delta / system delta × online CPUs × 100` with the system
//! delta (all CPUs' time from `/proc/stat`) taken as wall time × CPUs.
//! Memory use leaves out the inactive file cache; an unlimited container's
//! limit is the machine's memory (docker's daemon does the same).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::containers::Container;
use crate::launch_linux::CGROUP_PARENT;

const ROOT: &str = "/sys/fs/cgroup";

/// One reading of a container's counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When it was read.
    pub at: Instant,
    /// CPU time used, in nanoseconds.
    pub cpu_ns: u64,
    /// Memory charged, in bytes.
    pub mem_usage: u64,
    /// Of which inactive file cache.
    pub mem_inactive_file: u64,
    /// The memory limit (the machine's memory when unlimited).
    pub mem_limit: u64,
    /// Processes in the group.
    pub pids: u64,
    /// Bytes read from block devices.
    pub blk_read: u64,
    /// Bytes written to block devices.
    pub blk_write: u64,
    /// Bytes received over the container's interfaces.
    pub net_rx: u64,
    /// Bytes sent.
    pub net_tx: u64,
    /// The container was running.
    pub running: bool,
}

impl Sample {
    /// A stopped container's (all zero).
    pub fn stopped() -> Sample {
        Sample {
            at: Instant::now(),
            cpu_ns: 0,
            mem_usage: 0,
            mem_inactive_file: 0,
            mem_limit: 0,
            pids: 0,
            blk_read: 0,
            blk_write: 0,
            net_rx: 0,
            net_tx: 0,
            running: false,
        }
    }
}

/// What `stats` shows of one container.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// CPU %, of one CPU (docker's: 200% is two CPUs busy).
    pub cpu_percent: f64,
    /// Memory in use without the inactive file cache.
    pub mem: u64,
    /// Memory limit.
    pub mem_limit: u64,
    /// `mem / mem_limit` in %.
    pub mem_percent: f64,
    /// Network bytes received / sent.
    pub net: (u64, u64),
    /// Block bytes read / written.
    pub blk: (u64, u64),
    /// Processes.
    pub pids: u64,
}

/// One interface's counters (a line of `/proc/<pid>/net/dev`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetDev {
    /// The interface (`eth0`).
    pub name: String,
    /// Bytes, packets, errors and drops received.
    pub rx: [u64; 4],
    /// Bytes, packets, errors and drops sent.
    pub tx: [u64; 4],
}

/// What docker's stats API shows beyond a [`Sample`]: the cgroup's
/// `memory.stat`, CPU time by mode, the pids limit and each interface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    /// Every `memory.stat` counter (v1: `total_inactive_file`, …; v2:
    /// `inactive_file`, …).
    pub memory_stat: std::collections::BTreeMap<String, u64>,
    /// The hierarchy is cgroup v2 (the counters' names differ).
    pub cgroup_v2: bool,
    /// The memory cgroup's key [`Sample::mem_inactive_file`] came from.
    pub inactive_file_key: &'static str,
    /// CPU time in user mode, in nanoseconds.
    pub cpu_user_ns: u64,
    /// CPU time in kernel mode, in nanoseconds.
    pub cpu_system_ns: u64,
    /// `pids.max` (0: unlimited).
    pub pids_limit: u64,
    /// The container's interfaces but `lo` (none with `--network host`).
    pub interfaces: Vec<NetDev>,
}

/// Where the cgroup files are on this host.
#[derive(Debug, Clone)]
pub struct Cgroups {
    root: PathBuf,
    v2: bool,
    machine_memory: u64,
}

impl Cgroups {
    /// The host's hierarchy at `/sys/fs/cgroup`.
    pub fn host() -> Cgroups {
        Cgroups::under(Path::new(ROOT))
    }

    /// A hierarchy mounted at `root`.
    pub fn under(root: &Path) -> Cgroups {
        Cgroups {
            root: root.to_path_buf(),
            v2: root.join("cgroup.controllers").exists(),
            machine_memory: machine_memory(),
        }
    }

    fn dir(&self, controller: &str, id: &str) -> PathBuf {
        if self.v2 {
            self.root.join(CGROUP_PARENT).join(id)
        } else {
            self.root.join(controller).join(CGROUP_PARENT).join(id)
        }
    }

    /// Reads `c`'s counters now (zeros when it does not run).
    pub fn sample(&self, c: &Container) -> Sample {
        if !c.is_running() {
            return Sample::stopped();
        }
        let id = &c.id;
        let at = Instant::now();
        let mut s = Sample {
            at,
            running: true,
            ..Sample::stopped()
        };
        if self.v2 {
            let d = self.dir("", id);
            s.cpu_ns = keyed(&d.join("cpu.stat"), "usage_usec").saturating_mul(1000);
            s.mem_usage = number(&d.join("memory.current"));
            s.mem_inactive_file = keyed(&d.join("memory.stat"), "inactive_file");
            s.mem_limit = number(&d.join("memory.max"));
            s.pids = number(&d.join("pids.current"));
            (s.blk_read, s.blk_write) = io_stat(&d.join("io.stat"));
        } else {
            s.cpu_ns = number(&self.dir("cpuacct", id).join("cpuacct.usage"));
            let m = self.dir("memory", id);
            s.mem_usage = number(&m.join("memory.usage_in_bytes"));
            s.mem_inactive_file = keyed(&m.join("memory.stat"), "total_inactive_file");
            s.mem_limit = number(&m.join("memory.limit_in_bytes"));
            s.pids = number(&self.dir("pids", id).join("pids.current"));
            let b = self.dir("blkio", id);
            let plain = b.join("blkio.io_service_bytes_recursive");
            (s.blk_read, s.blk_write) = if plain.exists() {
                blkio(&plain)
            } else {
                blkio(&b.join("blkio.throttle.io_service_bytes_recursive"))
            };
        }
        if s.mem_limit == 0 || s.mem_limit > self.machine_memory {
            s.mem_limit = self.machine_memory;
        }
        if c.spec.host_config.network() != crate::net::NetMode::Host && c.state.pid > 0 {
            (s.net_rx, s.net_tx) = net_dev(&format!("/proc/{}/net/dev", c.state.pid));
        }
        s
    }

    /// Reads `c`'s [`Details`] now (empty when it does not run).
    pub fn details(&self, c: &Container) -> Details {
        let mut d = Details {
            cgroup_v2: self.v2,
            inactive_file_key: if self.v2 {
                "inactive_file"
            } else {
                "total_inactive_file"
            },
            ..Details::default()
        };
        if !c.is_running() {
            return d;
        }
        let id = &c.id;
        let (memory_stat, pids_max) = if self.v2 {
            let g = self.dir("", id);
            let cpu = read(&g.join("cpu.stat"));
            d.cpu_user_ns = parse_keyed(&cpu, "user_usec").saturating_mul(1000);
            d.cpu_system_ns = parse_keyed(&cpu, "system_usec").saturating_mul(1000);
            (g.join("memory.stat"), g.join("pids.max"))
        } else {
            let acct = read(&self.dir("cpuacct", id).join("cpuacct.stat"));
            // SAFETY: sysconf has no preconditions.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
            let ns = |k| parse_keyed(&acct, k).saturating_mul(1_000_000_000 / hz);
            (d.cpu_user_ns, d.cpu_system_ns) = (ns("user"), ns("system"));
            (
                self.dir("memory", id).join("memory.stat"),
                self.dir("pids", id).join("pids.max"),
            )
        };
        d.memory_stat = read(&memory_stat)
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(' ')?;
                Some((k.to_string(), v.trim().parse().ok()?))
            })
            .collect();
        d.pids_limit = number(&pids_max);
        if c.spec.host_config.network() != crate::net::NetMode::Host && c.state.pid > 0 {
            d.interfaces =
                parse_interfaces(&read(Path::new(&format!("/proc/{}/net/dev", c.state.pid))));
        }
        d
    }
}

/// The figures `stats` shows from two samples of one container.
pub fn usage(prev: &Sample, cur: &Sample) -> Usage {
    let wall = cur.at.saturating_duration_since(prev.at).as_nanos() as f64;
    let cpu = cur.cpu_ns.saturating_sub(prev.cpu_ns) as f64;
    let cpu_percent = if cur.running && prev.running && wall > 0.0 {
        cpu / wall * 100.0
    } else {
        0.0
    };
    let mem = if cur.mem_inactive_file < cur.mem_usage {
        cur.mem_usage - cur.mem_inactive_file
    } else {
        cur.mem_usage
    };
    let mem_percent = if cur.mem_limit > 0 {
        mem as f64 / cur.mem_limit as f64 * 100.0
    } else {
        0.0
    };
    Usage {
        cpu_percent,
        mem,
        mem_limit: cur.mem_limit,
        mem_percent,
        net: (cur.net_rx, cur.net_tx),
        blk: (cur.blk_read, cur.blk_write),
        pids: cur.pids,
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// A file holding one number (`max` and errors read as 0).
fn number(path: &Path) -> u64 {
    read(path).trim().parse().unwrap_or(0)
}

/// `key value` lines (`memory.stat`, `cpu.stat`).
fn keyed(path: &Path, key: &str) -> u64 {
    parse_keyed(&read(path), key)
}

fn parse_keyed(text: &str, key: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

fn io_stat(path: &Path) -> (u64, u64) {
    parse_io_stat(&read(path))
}

/// v2 `io.stat`: `8:0 rbytes=1 wbytes=2 …` per device, summed.
fn parse_io_stat(text: &str) -> (u64, u64) {
    let mut out = (0, 0);
    for field in text.split_whitespace() {
        if let Some(v) = field.strip_prefix("rbytes=") {
            out.0 += v.parse::<u64>().unwrap_or(0);
        } else if let Some(v) = field.strip_prefix("wbytes=") {
            out.1 += v.parse::<u64>().unwrap_or(0);
        }
    }
    out
}

fn blkio(path: &Path) -> (u64, u64) {
    parse_blkio(&read(path))
}

/// v1 `…io_service_bytes_recursive`: `8:0 Read 123` per device and op.
fn parse_blkio(text: &str) -> (u64, u64) {
    let mut out = (0, 0);
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if let [_, op, v] = f.as_slice() {
            let v: u64 = v.parse().unwrap_or(0);
            if op.eq_ignore_ascii_case("read") {
                out.0 += v;
            } else if op.eq_ignore_ascii_case("write") {
                out.1 += v;
            }
        }
    }
    out
}

fn net_dev(path: &str) -> (u64, u64) {
    parse_net_dev(&read(Path::new(path)))
}

/// `/proc/<pid>/net/dev`: received and sent bytes of every interface but
/// `lo`.
fn parse_net_dev(text: &str) -> (u64, u64) {
    parse_interfaces(text)
        .iter()
        .fold((0, 0), |(r, t), i| (r + i.rx[0], t + i.tx[0]))
}

/// `/proc/<pid>/net/dev`: every interface but `lo`, with its bytes,
/// packets, errors and drops each way.
fn parse_interfaces(text: &str) -> Vec<NetDev> {
    let mut out = Vec::new();
    for l in text.lines().skip(2) {
        let Some((name, rest)) = l.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        if f.len() >= 12 {
            out.push(NetDev {
                name: name.trim().to_string(),
                rx: [f[0], f[1], f[2], f[3]],
                tx: [f[8], f[9], f[10], f[11]],
            });
        }
    }
    out
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn machine_memory() -> u64 {
    read(Path::new("/proc/meminfo"))
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn parsers_read_the_kernel_formats() {
        let dev = "Inter-|   Receive |  Transmit\n face |bytes packets|bytes\n    lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n  eth0: 1500 3 0 0 0 0 0 0 700 2 0 0 0 0 0 0\n";
        assert_eq!(parse_net_dev(dev), (1500, 700));
        assert_eq!(
            parse_interfaces(dev),
            [NetDev {
                name: "eth0".into(),
                rx: [1500, 3, 0, 0],
                tx: [700, 2, 0, 0],
            }]
        );
        assert_eq!(
            parse_blkio(
                "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 1\n8:0 Total 12288\nTotal 12288\n"
            ),
            (4096, 8192)
        );
        assert_eq!(
            parse_io_stat("8:0 rbytes=10 wbytes=20 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n"),
            (11, 22)
        );
        assert_eq!(
            parse_keyed("cache 5\ntotal_inactive_file 7\n", "total_inactive_file"),
            7
        );
        assert!(machine_memory() > 0);
    }

    #[test]
    fn usage_as_dockers_cli_computes_it() {
        let t0 = Instant::now();
        let prev = Sample {
            at: t0,
            cpu_ns: 1_000_000_000,
            running: true,
            ..Sample::stopped()
        };
        let cur = Sample {
            at: t0 + Duration::from_millis(100),
            cpu_ns: 1_050_000_000,
            mem_usage: 2048,
            mem_inactive_file: 1024,
            mem_limit: 4096,
            running: true,
            ..Sample::stopped()
        };
        let u = usage(&prev, &cur);
        assert!((u.cpu_percent - 50.0).abs() < 1e-9, "{u:?}");
        assert_eq!(u.mem, 1024);
        assert!((u.mem_percent - 25.0).abs() < 1e-9);
        let z = usage(&Sample::stopped(), &Sample::stopped());
        assert_eq!((z.cpu_percent, z.mem, z.mem_percent), (0.0, 0, 0.0));
    }
}
