//! Healthchecks as docker runs them (moby's `daemon/health.go`), the part
//! without processes: the `Healthcheck` config (image `HEALTHCHECK`
//! merged with `--health-*`), the recorded `State.Health` document and
//! its state machine. The supervisor drives probes with
//! [`crate::health_linux::Monitor`].
//!
//! ```text
//!  start ──> starting ──probe exit 0──────────────────────> healthy
//!               │   failure inside --start-period: no count     │
//!               └─ failure: FailingStreak+1; ≥ retries ──> unhealthy
//!  healthy/unhealthy: exit 0 resets the streak (healthy); a failure
//!  counts, and at `retries` the container is unhealthy.
//!  container exits: unhealthy (docker's rule when the monitor stops).
//! ```
//! The log keeps the last [`MAX_LOG`] probes, each output cut to
//! [`MAX_OUTPUT`] bytes with `...` appended when cut.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use strata_oci::config::HealthConfig;

/// Bytes of a probe's output kept (docker's `maxOutputLen`).
pub const MAX_OUTPUT: usize = 4096;
/// Probes kept in the log (docker's `maxLogEntries`).
pub const MAX_LOG: usize = 5;
/// `--health-interval` when unset.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// `--health-timeout` when unset.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// `--health-retries` when unset.
pub const DEFAULT_RETRIES: i64 = 3;

/// `Status` while the first successes are awaited.
pub const STARTING: &str = "starting";
/// `Status` after a successful probe.
pub const HEALTHY: &str = "healthy";
/// `Status` after `retries` failures in a row, or once stopped.
pub const UNHEALTHY: &str = "unhealthy";

/// docker's `State.Health`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    /// Failed probes in a row (counting on past `retries`, as docker).
    pub failing_streak: i64,
    /// The last [`MAX_LOG`] probes, oldest first.
    #[serde(default)]
    pub log: Vec<HealthResult>,
}

/// One probe (docker's `HealthcheckResult`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    /// RFC 3339 (nanoseconds) start.
    pub start: String,
    /// RFC 3339 (nanoseconds) end.
    pub end: String,
    /// The probe's exit code; -1 when it timed out or could not run.
    pub exit_code: i64,
    /// Its stdout and stderr, cut to [`MAX_OUTPUT`] bytes.
    pub output: String,
}

impl Health {
    /// The state at a start: `starting`, the streak reset, the log kept
    /// (docker's `initHealthMonitor`).
    pub fn begin(previous: Option<Health>) -> Health {
        let mut h = previous.unwrap_or_default();
        h.status = STARTING.into();
        h.failing_streak = 0;
        h
    }

    /// Records one probe (docker's `handleProbeResult`); `in_start_period`
    /// says the probe began inside `--start-period`.
    pub fn record(&mut self, result: HealthResult, retries: i64, in_start_period: bool) {
        if self.log.len() >= MAX_LOG {
            self.log.drain(..=self.log.len() - MAX_LOG);
        }
        let ok = result.exit_code == 0;
        self.log.push(result);
        if ok {
            self.failing_streak = 0;
            self.status = HEALTHY.into();
            return;
        }
        if self.status == STARTING && in_start_period {
            return;
        }
        self.failing_streak += 1;
        if self.failing_streak >= retries {
            self.status = UNHEALTHY.into();
        }
    }
}

/// A probe to run: the command and docker's timing rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The argv (`CMD-SHELL` already wrapped in the shell).
    pub argv: Vec<String>,
    /// Between the end of one probe and the start of the next.
    pub interval: Duration,
    /// A probe running longer is killed and fails.
    pub timeout: Duration,
    /// Failures starting inside it do not count while `starting`.
    pub start_period: Duration,
    /// Failures in a row that make the container unhealthy.
    pub retries: i64,
}

fn or_default(nanos: i64, default: Duration) -> Duration {
    if nanos > 0 {
        Duration::from_nanos(nanos as u64)
    } else {
        default
    }
}

impl Probe {
    /// The probe of a container's `Healthcheck` (`None`: no healthcheck,
    /// `NONE`, or a test docker would not run); `shell` is the container's
    /// `SHELL` (default `/bin/sh -c`).
    pub fn of(cfg: Option<&HealthConfig>, shell: Option<&[String]>) -> Option<Probe> {
        let cfg = cfg?;
        let test = cfg.test.as_deref()?;
        let (kind, rest) = test.split_first()?;
        let argv: Vec<String> = match kind.as_str() {
            "CMD" => rest.to_vec(),
            "CMD-SHELL" => {
                let shell: Vec<String> = match shell {
                    Some(s) if !s.is_empty() => s.to_vec(),
                    _ => vec!["/bin/sh".into(), "-c".into()],
                };
                shell.into_iter().chain(rest.iter().cloned()).collect()
            }
            _ => return None,
        };
        if rest.is_empty() {
            return None;
        }
        Some(Probe {
            argv,
            interval: or_default(cfg.interval, DEFAULT_INTERVAL),
            timeout: or_default(cfg.timeout, DEFAULT_TIMEOUT),
            start_period: or_default(cfg.start_period, Duration::ZERO),
            retries: if cfg.retries > 0 {
                cfg.retries
            } else {
                DEFAULT_RETRIES
            },
        })
    }
}

/// A probe's output as docker keeps it: the first [`MAX_OUTPUT`] bytes,
/// `...` appended when more were written.
pub fn output_text(bytes: &[u8]) -> String {
    if bytes.len() > MAX_OUTPUT {
        let mut s = String::from_utf8_lossy(&bytes[..MAX_OUTPUT]).into_owned();
        s.push_str("...");
        s
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// The output of a probe killed at its timeout (docker's text).
pub fn timeout_text(timeout: Duration, output: &[u8]) -> String {
    let t = strata_go::duration::format_go_duration(timeout.as_nanos() as i64);
    if output.is_empty() {
        format!("Health check exceeded timeout ({t})")
    } else {
        format!(
            "Health check exceeded timeout ({t}): {}",
            output_text(output)
        )
    }
}

/// docker's merge of `--health-*` (`user`) over the image's `HEALTHCHECK`:
/// the user's test if any, each unset duration or retry count from the
/// image.
pub fn merge(user: Option<HealthConfig>, image: Option<&HealthConfig>) -> Option<HealthConfig> {
    let Some(mut u) = user else {
        return image.cloned();
    };
    if let Some(i) = image {
        if u.test.as_ref().is_none_or(Vec::is_empty) {
            u.test = i.test.clone();
        }
        for (mine, theirs) in [
            (&mut u.interval, i.interval),
            (&mut u.timeout, i.timeout),
            (&mut u.start_period, i.start_period),
            (&mut u.start_interval, i.start_interval),
            (&mut u.retries, i.retries),
        ] {
            if *mine == 0 {
                *mine = theirs;
            }
        }
    }
    Some(u)
}

/// docker's daemon-side check of a `Healthcheck` (durations at least
/// 1ms, retries not negative); the message is docker's.
pub fn validate(cfg: Option<&HealthConfig>) -> Result<(), String> {
    const MIN: i64 = 1_000_000;
    let Some(c) = cfg else { return Ok(()) };
    for (name, v) in [
        ("Interval", c.interval),
        ("Timeout", c.timeout),
        ("StartPeriod", c.start_period),
    ] {
        if v != 0 && v < MIN {
            return Err(format!("{name} in Healthcheck cannot be less than 1ms"));
        }
    }
    if c.retries < 0 {
        return Err("Retries in Healthcheck cannot be negative".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: i64) -> HealthResult {
        HealthResult {
            exit_code: code,
            ..HealthResult::default()
        }
    }

    #[test]
    fn failures_count_to_unhealthy_and_one_success_heals() {
        let mut h = Health::begin(None);
        assert_eq!(h.status, STARTING);
        h.record(result(1), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), (STARTING, 1));
        h.record(result(1), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), (UNHEALTHY, 2));
        // docker keeps counting past the retries.
        h.record(result(1), 2, false);
        assert_eq!(h.failing_streak, 3);
        h.record(result(0), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), (HEALTHY, 0));
        assert_eq!(h.log.len(), 4);
    }

    #[test]
    fn start_period_failures_do_not_count_while_starting() {
        let mut h = Health::begin(None);
        h.record(result(1), 1, true);
        assert_eq!((h.status.as_str(), h.failing_streak), (STARTING, 0));
        h.record(result(0), 1, true);
        h.record(result(1), 1, true);
        assert_eq!((h.status.as_str(), h.failing_streak), (UNHEALTHY, 1));
    }

    #[test]
    fn log_keeps_the_last_five_and_a_restart_keeps_it() {
        let mut h = Health::begin(None);
        for code in 0..7 {
            h.record(result(code), 3, false);
        }
        let codes: Vec<i64> = h.log.iter().map(|r| r.exit_code).collect();
        assert_eq!(codes, [2, 3, 4, 5, 6]);
        let again = Health::begin(Some(h));
        assert_eq!(
            (again.status.as_str(), again.failing_streak, again.log.len()),
            (STARTING, 0, 5)
        );
    }

    #[test]
    fn json_shape_is_dockers() {
        let h = Health::begin(None);
        assert_eq!(
            serde_json::to_string(&h).unwrap(),
            r#"{"Status":"starting","FailingStreak":0,"Log":[]}"#
        );
    }

    #[test]
    fn output_cut_like_docker() {
        assert_eq!(output_text(b"fine\n"), "fine\n");
        let long = vec![b'y'; 5000];
        let t = output_text(&long);
        assert_eq!(t.len(), MAX_OUTPUT + 3);
        assert!(t.ends_with("y..."));
        assert_eq!(
            timeout_text(Duration::from_secs(1), b""),
            "Health check exceeded timeout (1s)"
        );
        assert_eq!(
            timeout_text(Duration::from_millis(1500), b"x"),
            "Health check exceeded timeout (1.5s): x"
        );
    }

    #[test]
    fn probes_of_configs() {
        let cfg = |test: &[&str]| HealthConfig {
            test: Some(test.iter().map(|s| s.to_string()).collect()),
            ..HealthConfig::default()
        };
        let p = Probe::of(Some(&cfg(&["CMD-SHELL", "exit 1"])), None).unwrap();
        assert_eq!(p.argv, ["/bin/sh", "-c", "exit 1"]);
        assert_eq!(
            (p.interval, p.timeout, p.retries),
            (DEFAULT_INTERVAL, DEFAULT_TIMEOUT, 3)
        );
        let p = Probe::of(Some(&cfg(&["CMD", "true", "x"])), None).unwrap();
        assert_eq!(p.argv, ["true", "x"]);
        assert!(Probe::of(Some(&cfg(&["NONE"])), None).is_none());
        assert!(Probe::of(Some(&cfg(&["CMD"])), None).is_none());
        assert!(Probe::of(None, None).is_none());
    }

    #[test]
    fn flags_merge_over_the_image() {
        let image = HealthConfig {
            test: Some(vec!["CMD".into(), "a".into()]),
            interval: 5,
            retries: 2,
            ..HealthConfig::default()
        };
        let user = HealthConfig {
            interval: 7,
            ..HealthConfig::default()
        };
        let m = merge(Some(user), Some(&image)).unwrap();
        assert_eq!(
            (m.test.unwrap()[1].as_str(), m.interval, m.retries),
            ("a", 7, 2)
        );
        assert_eq!(merge(None, Some(&image)), Some(image.clone()));
        assert_eq!(merge(None, None), None);
    }
}
