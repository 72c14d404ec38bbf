//! Options every registry operation takes, and where they come from.
//!
//! # The strata config file
//!
//! Registry settings that outlive one command live in a JSON file whose
//! keys follow docker's `daemon.json`:
//!
//! ```json
//! { "insecure-registries": ["registry.lan:5000", "10.0.0.0/8"] }
//! ```
//!
//! It is read from `$STRATA_CONFIG` when that is set, otherwise from both
//! `/etc/strata/config.json` (system-wide) and
//! `$XDG_CONFIG_HOME/strata/config.json` (default
//! `~/.config/strata/config.json`); a missing file is not an error, an
//! unreadable or malformed one is. Unknown keys are ignored. Command-line
//! `--insecure-registry HOST` and `STRATA_INSECURE_REGISTRY=HOST[,HOST…]`
//! add to the list. Loopback registries are always insecure (see
//! [`crate::host`]).
//!
//! Credentials are docker's: `$DOCKER_CONFIG/config.json`, default
//! `~/.docker/config.json` (see [`crate::auth`]).
//!
//! # Timeouts and retries
//!
//! Every request is bounded; a registry that never answers, or answers a
//! byte at a time, fails the command with an error naming the registry
//! instead of hanging it. Durations are seconds (`30`, `1.5`) or carry a
//! unit (`500ms`, `2m`).
//!
//! | variable | default | bounds |
//! |---|---|---|
//! | `STRATA_REGISTRY_CONNECT_TIMEOUT` | 30s | establishing a connection (TCP and TLS) |
//! | `STRATA_REGISTRY_IDLE_TIMEOUT` | 60s | silence on an open connection; a blob transfer that moves less than 1 KiB in this long is stalled |
//! | `STRATA_REGISTRY_TIMEOUT` | 120s | one whole request and its answer (auth, manifests, configs, tag lists, HEAD; a blob's headers — not its body) |
//! | `STRATA_REGISTRY_RETRIES` | 4 | retries of a failed attempt (connection errors, timeouts, 5xx, 429), with exponential backoff from 200 ms to 5 s |

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{RegistryError, Result, io_err};
use crate::host::InsecureRegistries;

/// Environment variable naming extra insecure registries.
pub const ENV_INSECURE: &str = "STRATA_INSECURE_REGISTRY";
/// Environment variable naming the strata config file.
pub const ENV_CONFIG: &str = "STRATA_CONFIG";
/// Connect timeout (see the module docs).
pub const ENV_CONNECT_TIMEOUT: &str = "STRATA_REGISTRY_CONNECT_TIMEOUT";
/// Idle (read) timeout.
pub const ENV_IDLE_TIMEOUT: &str = "STRATA_REGISTRY_IDLE_TIMEOUT";
/// Overall timeout of one request.
pub const ENV_TIMEOUT: &str = "STRATA_REGISTRY_TIMEOUT";
/// Retries after a failed attempt.
pub const ENV_RETRIES: &str = "STRATA_REGISTRY_RETRIES";

/// Retries with exponential backoff on connection errors, 5xx and 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// Delay before the first retry; doubled each time.
    pub base_delay: Duration,
    /// Upper bound of one delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `n` (1-based).
    pub fn delay(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// How to reach registries: TLS policy, credentials, retries.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Registries that may be reached without verified TLS.
    pub insecure: InsecureRegistries,
    /// The docker config file holding credentials (default: docker's).
    pub docker_config: Option<PathBuf>,
    /// Retry policy for transient failures.
    pub retry: RetryPolicy,
    /// Timeout for establishing a connection.
    pub connect_timeout: Duration,
    /// Idle timeout: the longest silence on an open connection (and the
    /// window in which a blob transfer must move at least 1 KiB).
    pub read_timeout: Duration,
    /// Timeout of one whole request and its answer (not blob bodies).
    pub request_timeout: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure: InsecureRegistries::new(),
            docker_config: None,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(120),
        }
    }
}

impl RegistryOptions {
    /// Defaults plus the strata config file(s) and `STRATA_INSECURE_REGISTRY`.
    pub fn from_env() -> Result<Self> {
        let mut o = RegistryOptions::default();
        for path in config_files() {
            o.apply_config_file(&path)?;
        }
        if let Ok(list) = std::env::var(ENV_INSECURE) {
            o.insecure.add_list(&list)?;
        }
        o.apply_env(|k| std::env::var(k).ok())?;
        Ok(o)
    }

    /// Applies the timeout and retry variables (see the module docs) read
    /// through `get`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<()> {
        let dur = |k: &str| -> Result<Option<Duration>> {
            match get(k).filter(|v| !v.trim().is_empty()) {
                None => Ok(None),
                Some(v) => parse_duration(v.trim()).map(Some).ok_or_else(|| {
                    RegistryError::Invalid(format!(
                        "{k}={v}: not a duration (seconds, or with a unit: 500ms, 30s, 2m)"
                    ))
                }),
            }
        };
        if let Some(d) = dur(ENV_CONNECT_TIMEOUT)? {
            self.connect_timeout = d;
        }
        if let Some(d) = dur(ENV_IDLE_TIMEOUT)? {
            self.read_timeout = d;
        }
        if let Some(d) = dur(ENV_TIMEOUT)? {
            self.request_timeout = d;
        }
        if let Some(v) = get(ENV_RETRIES).filter(|v| !v.trim().is_empty()) {
            let n: u32 = v.trim().parse().ok().filter(|n| *n <= 100).ok_or_else(|| {
                RegistryError::Invalid(format!(
                    "{ENV_RETRIES}={v}: not a number of retries (0-100)"
                ))
            })?;
            self.retry.attempts = n + 1;
        }
        Ok(())
    }

    /// Reads one strata config file (missing is fine).
    pub fn apply_config_file(&mut self, path: &Path) -> Result<()> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("read", path)(e)),
        };
        #[derive(serde::Deserialize)]
        struct File {
            #[serde(default, rename = "insecure-registries")]
            insecure_registries: Vec<String>,
        }
        let f: File = serde_json::from_slice(&bytes).map_err(|e| {
            RegistryError::Invalid(format!("strata config {}: {e}", path.display()))
        })?;
        for e in &f.insecure_registries {
            self.insecure.add(e).map_err(|e| {
                RegistryError::Invalid(format!("strata config {}: {e}", path.display()))
            })?;
        }
        Ok(())
    }
}

/// A positive duration: seconds (`30`, `1.5`) or a number with `ms`, `s`,
/// `m` or `h`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let v: f64 = num.trim().parse().ok()?;
    let secs = v * match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    (secs.is_finite() && secs > 0.0 && secs < 1e9).then(|| Duration::from_secs_f64(secs))
}

/// The strata config files to read, in order.
pub fn config_files() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os(ENV_CONFIG).filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(p)];
    }
    let mut out = vec![PathBuf::from("/etc/strata/config.json")];
    let user = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|x| !x.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(u) = user {
        out.push(u.join("strata/config.json"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1), Duration::from_millis(200));
        assert_eq!(p.delay(2), Duration::from_millis(400));
        assert_eq!(p.delay(4), Duration::from_millis(1600));
        assert_eq!(p.delay(40), Duration::from_secs(5));
    }

    #[test]
    fn timeouts_and_retries_come_from_the_environment() {
        let mut o = RegistryOptions::default();
        assert_eq!(o.read_timeout, Duration::from_secs(60));
        let env = |k: &str| match k {
            ENV_CONNECT_TIMEOUT => Some("1.5".to_string()),
            ENV_IDLE_TIMEOUT => Some("500ms".to_string()),
            ENV_TIMEOUT => Some("2m".to_string()),
            ENV_RETRIES => Some("0".to_string()),
            _ => None,
        };
        o.apply_env(env).unwrap();
        assert_eq!(o.connect_timeout, Duration::from_millis(1500));
        assert_eq!(o.read_timeout, Duration::from_millis(500));
        assert_eq!(o.request_timeout, Duration::from_secs(120));
        assert_eq!(o.retry.attempts, 1);
        let bad = |k: &'static str, v: &'static str| {
            let mut o = RegistryOptions::default();
            o.apply_env(|x| (x == k).then(|| v.to_string()))
                .unwrap_err()
                .to_string()
        };
        assert!(bad(ENV_TIMEOUT, "soon").contains("STRATA_REGISTRY_TIMEOUT=soon"));
        assert!(bad(ENV_TIMEOUT, "-1").contains("not a duration"));
        assert!(bad(ENV_RETRIES, "many").contains("STRATA_REGISTRY_RETRIES"));
    }

    #[test]
    fn config_file_adds_insecure_registries() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("config.json");
        std::fs::write(
            &p,
            r#"{"insecure-registries":["registry.lan:5000","10.0.0.0/8"],"other":1}"#,
        )
        .unwrap();
        let mut o = RegistryOptions::default();
        o.apply_config_file(&p).unwrap();
        o.apply_config_file(&t.path().join("absent.json")).unwrap();
        assert!(o.insecure.allows("registry.lan:5000"));
        assert!(o.insecure.allows("10.1.1.1"));
        assert!(!o.insecure.allows("registry.example"));
        std::fs::write(&p, "{not json").unwrap();
        let err = o.apply_config_file(&p).unwrap_err().to_string();
        assert!(err.contains("config.json"), "{err}");
    }
}
