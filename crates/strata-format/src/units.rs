//! docker's `go-units`: human sizes and durations, and parsing them back.
//!
//! Which spelling docker uses where:
//!
//! | function | go-units | docker uses it for |
//! | --- | --- | --- |
//! | [`human_size`] | `HumanSizeWithPrecision(n, 3)` | `images`, `history`, `ps --size` SIZE |
//! | [`human_size_precise`] | `HumanSize(n)` (4 digits) | `system df`, "Total reclaimed space" |
//! | [`bytes_size`] | `BytesSize(n)` (binary, 4 digits) | `stats` MEM USAGE / LIMIT |
//! | [`human_duration`] | `HumanDuration(d)` | CREATED, STATUS, RUNNING FOR |
//! | [`ram_in_bytes`] | `RAMInBytes(s)` | `--memory`, `--shm-size` |
//! | [`parse_duration`] | Go `time.ParseDuration` | `--health-interval`, `stop -t`-style flags |
//!
//! Sizes are formatted with Go's `%.*g`, quirks included: `999999` bytes is
//! `1e+03kB`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::gofmt;

const DECIMAL_UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY_UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

fn scale(mut size: f64, base: f64, units: &[&'static str]) -> (f64, &'static str) {
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    (size, units[i])
}

/// go-units `HumanSizeWithPrecision(size, precision)`: decimal SI units,
/// `precision` significant digits, Go's `%.*g` spelling.
pub fn human_size_with_precision(size: f64, precision: usize) -> String {
    let (size, unit) = scale(size, 1000.0, &DECIMAL_UNITS);
    format!("{}{unit}", gofmt::format_g(size, Some(precision), false))
}

/// Size as docker's list commands print it: `HumanSizeWithPrecision(n, 3)`.
///
/// ```
/// use strata_format::units::human_size;
/// assert_eq!(human_size(0), "0B");
/// assert_eq!(human_size(1_250), "1.25kB");
/// assert_eq!(human_size(1_990_000), "1.99MB");
/// assert_eq!(human_size(245_000_000), "245MB");
/// ```
pub fn human_size(bytes: u64) -> String {
    human_size_with_precision(bytes as f64, 3)
}

/// go-units `HumanSize`: 4 significant digits (`system df`, prune totals).
pub fn human_size_precise(bytes: u64) -> String {
    human_size_with_precision(bytes as f64, 4)
}

/// go-units `BytesSize`: binary units, 4 significant digits (`1.5KiB`).
pub fn bytes_size(bytes: u64) -> String {
    let (size, unit) = scale(bytes as f64, 1024.0, &BINARY_UNITS);
    format!("{}{unit}", gofmt::format_g(size, Some(4), false))
}

/// `docker ps --size`: `"2B (virtual 245MB)"`, or just the writable layer's
/// size when the root filesystem size is unknown (0).
pub fn container_size(size_rw: u64, size_root_fs: u64) -> String {
    let rw = human_size(size_rw);
    if size_root_fs > 0 {
        format!("{rw} (virtual {})", human_size(size_root_fs))
    } else {
        rw
    }
}

const SECOND: u128 = 1_000_000_000;
const MINUTE: u128 = 60 * SECOND;
const HOUR: u128 = 60 * MINUTE;

/// go-units `HumanDuration`: `Less than a second`, `1 second`,
/// `N seconds`, `About a minute`, `N minutes`, `About an hour`, `N hours`
/// (rounded, up to 47), `N days` (up to 13), `N weeks` (up to 8),
/// `N months` (30 days, up to 23), `N years`.
///
/// ```
/// use std::time::Duration;
/// use strata_format::units::human_duration;
/// assert_eq!(human_duration(Duration::from_millis(450)), "Less than a second");
/// assert_eq!(human_duration(Duration::from_secs(47)), "47 seconds");
/// assert_eq!(human_duration(Duration::from_secs(91 * 60)), "2 hours");
/// ```
pub fn human_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    let seconds = nanos / SECOND;
    if seconds < 1 {
        return "Less than a second".into();
    }
    if seconds == 1 {
        return "1 second".into();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = nanos / MINUTE;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    // Go: int(d.Hours() + 0.5), i.e. hours rounded half up.
    let hours = (nanos + HOUR / 2) / HOUR;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", nanos / HOUR / 24 / 365)
}

/// `now - then` as go-units sees it: a negative difference (clock skew,
/// a time in the future) reads as "Less than a second".
fn elapsed(then: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or(Duration::ZERO)
}

fn from_unix(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))
            .unwrap_or(UNIX_EPOCH)
    }
}

/// 2000-01-01T00:00:00Z: docker prints `N/A` for anything created at or
/// before it (reproducible builds stamp `SOURCE_DATE_EPOCH=0`).
pub const CREATED_EPOCH: i64 = 946_684_800;

/// `CREATED` as `docker image history` / `docker images` print it:
/// `N/A` when `created_unix_secs` ≤ 2000-01-01, else
/// [`human_duration`]`(now - created) + " ago"`.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use strata_format::units::since;
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// assert_eq!(since(1_700_000_000, now), "Less than a second ago");
/// assert_eq!(since(1_700_000_000 - 3 * 86_400, now), "3 days ago");
/// assert_eq!(since(0, now), "N/A");
/// ```
pub fn since(created_unix_secs: i64, now: SystemTime) -> String {
    if created_unix_secs <= CREATED_EPOCH {
        return "N/A".into();
    }
    format!(
        "{} ago",
        human_duration(elapsed(from_unix(created_unix_secs), now))
    )
}

/// `RUNNING FOR` of `docker ps`: `human_duration(now - created) + " ago"`
/// (no `N/A` rule).
pub fn running_for(created: SystemTime, now: SystemTime) -> String {
    format!("{} ago", human_duration(elapsed(created, now)))
}

/// A container's state, enough to spell docker's `STATUS` column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContainerStatus {
    /// Created but never started.
    Created,
    /// Running since `started`; `health` is `starting`, `healthy` or
    /// `unhealthy` when the container has a health check.
    Running {
        started: SystemTime,
        health: Option<String>,
    },
    /// Running but frozen.
    Paused { started: SystemTime },
    /// Being restarted after exiting with `exit_code` at `finished`.
    Restarting {
        exit_code: i64,
        finished: SystemTime,
    },
    /// Exited with `exit_code` at `finished`.
    Exited {
        exit_code: i64,
        finished: SystemTime,
    },
    /// Being removed.
    RemovalInProgress,
    /// Dead.
    Dead,
}

/// The daemon's `State.String()`: `Up 3 seconds`, `Up Less than a second`,
/// `Up 2 hours (healthy)`, `Up 5 minutes (health: starting)`,
/// `Up 1 second (Paused)`, `Restarting (1) 3 seconds ago`,
/// `Exited (0) 2 minutes ago`, `Created`, `Removal In Progress`, `Dead`.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use strata_format::units::{container_status, ContainerStatus};
/// let now = UNIX_EPOCH + Duration::from_secs(1000);
/// let started = UNIX_EPOCH + Duration::from_secs(997);
/// let st = ContainerStatus::Running { started, health: None };
/// assert_eq!(container_status(&st, now), "Up 3 seconds");
/// let st = ContainerStatus::Exited { exit_code: 0, finished: UNIX_EPOCH + Duration::from_secs(880) };
/// assert_eq!(container_status(&st, now), "Exited (0) 2 minutes ago");
/// ```
pub fn container_status(status: &ContainerStatus, now: SystemTime) -> String {
    match status {
        ContainerStatus::Created => "Created".into(),
        ContainerStatus::Running { started, health } => {
            let up = human_duration(elapsed(*started, now));
            match health.as_deref() {
                None => format!("Up {up}"),
                Some("starting") => format!("Up {up} (health: starting)"),
                Some(h) => format!("Up {up} ({h})"),
            }
        }
        ContainerStatus::Paused { started } => {
            format!("Up {} (Paused)", human_duration(elapsed(*started, now)))
        }
        ContainerStatus::Restarting {
            exit_code,
            finished,
        } => format!(
            "Restarting ({exit_code}) {} ago",
            human_duration(elapsed(*finished, now))
        ),
        ContainerStatus::Exited {
            exit_code,
            finished,
        } => format!(
            "Exited ({exit_code}) {} ago",
            human_duration(elapsed(*finished, now))
        ),
        ContainerStatus::RemovalInProgress => "Removal In Progress".into(),
        ContainerStatus::Dead => "Dead".into(),
    }
}

/// `time.Unix(secs, 0).Format(time.RFC3339)` in a zone `offset_secs` east of
/// UTC: `2017-01-01T12:00:03Z`, `2017-01-01T13:00:03+01:00`.
///
/// ```
/// use strata_format::units::rfc3339;
/// assert_eq!(rfc3339(1_483_272_003, 0), "2017-01-01T12:00:03Z");
/// assert_eq!(rfc3339(1_483_272_003, -5 * 3600), "2017-01-01T07:00:03-05:00");
/// ```
pub fn rfc3339(secs: i64, offset_secs: i32) -> String {
    let local = secs.saturating_add(i64::from(offset_secs));
    let days = local.div_euclid(86_400);
    let tod = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let zone = if offset_secs == 0 {
        "Z".to_string()
    } else {
        let sign = if offset_secs < 0 { '-' } else { '+' };
        let a = offset_secs.unsigned_abs();
        format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60)
    };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{zone}",
        tod / 3600,
        tod / 60 % 60,
        tod % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

// Parsing sizes and durations is strata-go's (one copy for the workspace);
// re-exported here beside their formatting counterparts.
pub use strata_go::duration::{ParseDurationError, parse_duration, parse_go_duration};
pub use strata_go::size::{ParseSizeError, from_human_size, ram_in_bytes};
