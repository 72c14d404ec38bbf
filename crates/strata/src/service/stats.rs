//! `GET /containers/{id}/stats?stream=&one-shot=`: docker's stats JSON
//! from the very samples the CLI's `stats` reads
//! ([`strata_runtime::stats_linux`]). `stream=false` reads two samples
//! the CLI's `--no-stream` window apart (so `precpu_stats` is filled and
//! a client computes the CPU % the CLI shows); `one-shot` reads one;
//! streaming sends one object a second, each with the previous reading
//! as its `pre…` fields, as dockerd does.
//!
//! The system CPU counter is the monotonic clock × online CPUs: docker's
//! client computes `cpu delta / system delta × CPUs`, which then equals
//! the CLI's `cpu delta / wall time` exactly. Block I/O is the sample's
//! totals (one `Read`/`Write` pair); `memory.stat`, CPU time by mode, the
//! pids limit and each interface's counters come from
//! [`Details`](strata_runtime::stats_linux::Details), read with it.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bollard_stubs::models::{
    ContainerBlkioStatEntry, ContainerBlkioStats, ContainerCpuStats, ContainerCpuUsage,
    ContainerMemoryStats, ContainerNetworkStats, ContainerPidsStats, ContainerStatsResponse,
    ContainerThrottlingData,
};
use strata_runtime::stats_linux::{Cgroups, Details, Sample};
use strata_runtime::{Container, containers as rc};

use super::Service;
use super::http::{ApiError, ApiResult, Query, channel, json_line, json_ok, streamed};
use crate::commands::container::stats::NO_STREAM_WINDOW;

/// The cgroup v1 `memory.stat` counters dockerd passes on (each also as
/// `total_…`); the kernel's others (`shmem`, `swap`, …) it leaves out.
const V1_MEMORY_KEYS: &[&str] = &[
    "cache",
    "rss",
    "rss_huge",
    "mapped_file",
    "dirty",
    "writeback",
    "pgpgin",
    "pgpgout",
    "pgfault",
    "pgmajfault",
    "inactive_anon",
    "active_anon",
    "inactive_file",
    "active_file",
    "unevictable",
    "hierarchical_memory_limit",
    "hierarchical_memsw_limit",
];

/// docker's time of a reading never taken.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A sample, its details and the wall-clock time it was read.
#[derive(Clone)]
struct Reading {
    sample: Sample,
    details: Details,
    read: chrono::DateTime<chrono::Utc>,
}

fn read(cg: &Cgroups, c: &Container) -> Reading {
    Reading {
        sample: cg.sample(c),
        details: cg.details(c),
        read: chrono::Utc::now(),
    }
}

/// Online CPUs (as dockerd reports them).
fn online_cpus() -> u32 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    u32::try_from(n).unwrap_or(1).max(1)
}

/// `at` on the monotonic clock, in nanoseconds (`Instant` carries no
/// absolute value: one reference pair converts every reading alike).
fn monotonic_ns(at: Instant) -> u64 {
    static BASE: OnceLock<(Instant, u64)> = OnceLock::new();
    let (base, base_ns) = *BASE.get_or_init(|| {
        let now = Instant::now();
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec for the call.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let ns = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
        (now, ns)
    });
    match at.checked_duration_since(base) {
        Some(d) => base_ns.saturating_add(d.as_nanos() as u64),
        None => base_ns.saturating_sub(base.duration_since(at).as_nanos() as u64),
    }
}

/// The CPU figures of a reading (zeros for none).
fn cpu(r: Option<&Reading>, cpus: u32) -> ContainerCpuStats {
    let running = r.filter(|r| r.sample.running);
    ContainerCpuStats {
        cpu_usage: Some(ContainerCpuUsage {
            total_usage: Some(running.map_or(0, |r| r.sample.cpu_ns)),
            usage_in_kernelmode: Some(running.map_or(0, |r| r.details.cpu_system_ns)),
            usage_in_usermode: Some(running.map_or(0, |r| r.details.cpu_user_ns)),
            percpu_usage: None,
        }),
        system_cpu_usage: running.map(|r| monotonic_ns(r.sample.at).saturating_mul(cpus as u64)),
        online_cpus: running.map(|_| cpus),
        throttling_data: Some(ContainerThrottlingData {
            periods: Some(0),
            throttled_periods: Some(0),
            throttled_time: Some(0),
        }),
    }
}

/// docker's stats object of `c` from this reading and the one before.
fn document(c: &Container, cur: &Reading, pre: Option<&Reading>) -> ContainerStatsResponse {
    let cpus = online_cpus();
    let s = &cur.sample;
    let time = |r: Option<&Reading>| {
        r.filter(|r| r.sample.running).map_or_else(
            || ZERO_TIME.to_string(),
            |r| strata_oci::config::format_rfc3339_nanos(r.read),
        )
    };
    let mut doc = ContainerStatsResponse {
        id: Some(c.id.clone()),
        name: Some(format!("/{}", c.name)),
        read: Some(time(Some(cur))),
        preread: Some(time(pre)),
        cpu_stats: Some(cpu(Some(cur), cpus)),
        precpu_stats: Some(cpu(pre, cpus)),
        num_procs: Some(0),
        pids_stats: Some(ContainerPidsStats::default()),
        memory_stats: Some(ContainerMemoryStats::default()),
        blkio_stats: Some(ContainerBlkioStats::default()),
        ..ContainerStatsResponse::default()
    };
    if !s.running {
        return doc;
    }
    let d = &cur.details;
    doc.pids_stats = Some(ContainerPidsStats {
        current: Some(s.pids),
        limit: Some(d.pids_limit).filter(|l| *l > 0),
    });
    // The counter the CLI's `stats` subtracts is the sample's.
    let mut stat: HashMap<String, u64> = d
        .memory_stat
        .iter()
        .filter(|(k, _)| {
            d.cgroup_v2 || V1_MEMORY_KEYS.contains(&k.strip_prefix("total_").unwrap_or(k))
        })
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    stat.insert(d.inactive_file_key.to_string(), s.mem_inactive_file);
    doc.memory_stats = Some(ContainerMemoryStats {
        usage: Some(s.mem_usage),
        limit: Some(s.mem_limit),
        stats: Some(stat),
        ..ContainerMemoryStats::default()
    });
    let entry = |op: &str, value: u64| ContainerBlkioStatEntry {
        major: Some(0),
        minor: Some(0),
        op: Some(op.to_string()),
        value: Some(value),
    };
    doc.blkio_stats = Some(ContainerBlkioStats {
        io_service_bytes_recursive: Some(vec![
            entry("Read", s.blk_read),
            entry("Write", s.blk_write),
        ]),
        ..ContainerBlkioStats::default()
    });
    // No interface but `lo` (`--network none`, `host`): no `networks`.
    if !d.interfaces.is_empty() {
        let nets = d.interfaces.iter().map(|i| {
            let net = ContainerNetworkStats {
                rx_bytes: Some(i.rx[0]),
                rx_packets: Some(i.rx[1]),
                rx_errors: Some(i.rx[2]),
                rx_dropped: Some(i.rx[3]),
                tx_bytes: Some(i.tx[0]),
                tx_packets: Some(i.tx[1]),
                tx_errors: Some(i.tx[2]),
                tx_dropped: Some(i.tx[3]),
                ..ContainerNetworkStats::default()
            };
            (i.name.clone(), net)
        });
        doc.networks = Some(nets.collect());
    }
    doc
}

/// `GET /containers/{id}/stats?stream=&one-shot=`.
pub async fn stats(svc: Arc<Service>, id: String, q: Query) -> ApiResult {
    // docker's default is to stream.
    let stream = q.get("stream").is_none_or(|_| q.flag("stream"));
    let one_shot = q.flag("one-shot");
    if one_shot && stream {
        return Err(ApiError::bad("cannot have stream=true and one-shot=true"));
    }
    let s2 = svc.clone();
    let c = tokio::task::spawn_blocking(move || -> Result<Container, ApiError> {
        Ok(rc::lookup(s2.store()?, &id)?)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    if !stream {
        return tokio::task::spawn_blocking(move || {
            let cg = Cgroups::host();
            let first = read(&cg, &c);
            if one_shot || !c.is_running() {
                return json_ok(&document(&c, &first, None));
            }
            std::thread::sleep(NO_STREAM_WINDOW);
            json_ok(&document(&c, &read(&cg, &c), Some(&first)))
        })
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    }
    // One task per stream, on a blocking thread only while it reads: a
    // client watching many containers holds no thread between readings.
    let (tx, body) = channel();
    let cg = Arc::new(Cgroups::host());
    tokio::spawn(async move {
        let mut c = c;
        let mut pre: Option<Reading> = None;
        loop {
            let (cg2, c2) = (cg.clone(), c.clone());
            let Ok(cur) = tokio::task::spawn_blocking(move || read(&cg2, &c2)).await else {
                return;
            };
            let doc = serde_json::to_value(document(&c, &cur, pre.as_ref())).unwrap_or_default();
            if tx.send(json_line(&doc)).await.is_err() {
                return;
            }
            pre = Some(cur);
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                () = tx.closed() => return,
            }
            // The state moves on; a removed container ends the stream.
            let (s2, id) = (svc.clone(), c.id.clone());
            let now = tokio::task::spawn_blocking(move || {
                s2.store()
                    .ok()
                    .and_then(|st| rc::get(st, &id).ok().flatten())
            })
            .await;
            match now {
                Ok(Some(now)) => c = now,
                _ => return,
            }
        }
    });
    Ok(streamed("application/json", body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_delta_is_wall_time_times_cpus() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(250);
        assert_eq!(monotonic_ns(t1) - monotonic_ns(t0), 250_000_000);
        let reading = |at, cpu_ns| Reading {
            sample: Sample {
                at,
                cpu_ns,
                running: true,
                ..Sample::stopped()
            },
            details: Details::default(),
            read: chrono::Utc::now(),
        };
        let (a, b) = (reading(t0, 1_000), reading(t1, 1_000 + 125_000_000));
        let (pre, cur) = (cpu(Some(&a), 4), cpu(Some(&b), 4));
        let sys = cur.system_cpu_usage.unwrap() - pre.system_cpu_usage.unwrap();
        let used = cur.cpu_usage.unwrap().total_usage.unwrap()
            - pre.cpu_usage.unwrap().total_usage.unwrap();
        // docker's client: used / sys × CPUs × 100 = the CLI's 50 %.
        let percent = used as f64 / sys as f64 * 4.0 * 100.0;
        assert!((percent - 50.0).abs() < 1e-9, "{percent}");
    }

    #[test]
    fn a_stopped_container_reads_as_dockers_zero_stats() {
        let none = cpu(None, 2);
        assert_eq!(none.system_cpu_usage, None);
        assert_eq!(none.cpu_usage.unwrap().total_usage, Some(0));
    }
}
