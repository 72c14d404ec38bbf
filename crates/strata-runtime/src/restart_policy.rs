//! Restart policies (`--restart no|on-failure[:N]|always|unless-stopped`)
//! as docker's daemon applies them, for the per-container supervisor.
//!
//! * [`RestartPolicy`] is docker's `HostConfig.RestartPolicy` (`Name`,
//!   `MaximumRetryCount`); [`RestartPolicy::parse`] reads the flag with the
//!   CLI's and the daemon's errors.
//! * [`Backoff`] decides, at every exit, whether to start the workload
//!   again and after how long: 100 ms, doubling at every restart up to one
//!   minute, back to 100 ms once a run lasted 10 s (moby's restart
//!   manager). `on-failure` restarts a non-zero exit while fewer than `N`
//!   restarts were made (`N` = 0: no limit); `always` restarts every exit;
//!   `unless-stopped` every exit the user did not cause (`kill`).
//!
//! What ends the policy (docker's `ExitOnNext`): `stop`, and `kill` with
//! SIGKILL or the stop signal. They set [`crate::model::Processes`]'
//! `restart_cancelled` before signalling, and wake a supervisor waiting
//! out a backoff. A manual `start`/`restart` clears it and the count.
//!
//! strata has no daemon: nothing restarts containers when the machine
//! boots (docker's daemon restarts `always` ones, and `unless-stopped` ones
//! not stopped by hand). A supervisor killed with its container also ends
//! the policy.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Result, RuntimeError};

/// The first wait before a restart.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait before a restart.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A run at least this long resets the wait to [`FIRST_BACKOFF`].
pub const RESET_AFTER: Duration = Duration::from_secs(10);

/// docker's `HostConfig.RestartPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicy {
    /// `no`, `always`, `unless-stopped`, `on-failure` (or empty: `no`).
    pub name: String,
    /// `on-failure:N`'s `N` (0: no limit).
    #[serde(default)]
    pub maximum_retry_count: i64,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            name: "no".to_string(),
            maximum_retry_count: 0,
        }
    }
}

impl RestartPolicy {
    /// Parses `--restart` with the CLI's format errors and the daemon's
    /// validation (docker's messages).
    pub fn parse(s: &str) -> Result<RestartPolicy> {
        if s.is_empty() {
            return Ok(RestartPolicy::default());
        }
        let (name, count) = match s.split_once(':') {
            None => (s, 0),
            Some((name, n)) => {
                let n = n.parse::<i64>().map_err(|_| {
                    RuntimeError::Invalid(
                        "invalid restart policy format: maximum retry count must be an integer"
                            .to_string(),
                    )
                })?;
                (name, n)
            }
        };
        match name {
            "no" | "always" | "unless-stopped" if count != 0 => Err(RuntimeError::Invalid(
                format!("maximum retry count cannot be used with restart policy '{name}'"),
            )),
            "on-failure" if count < 0 => Err(RuntimeError::Invalid(
                "maximum retry count cannot be negative".to_string(),
            )),
            "no" | "always" | "unless-stopped" | "on-failure" => Ok(RestartPolicy {
                name: name.to_string(),
                maximum_retry_count: count,
            }),
            _ => Err(RuntimeError::Invalid(format!(
                "invalid restart policy '{name}'"
            ))),
        }
    }

    /// True for `no` (or unset).
    pub fn is_none(&self) -> bool {
        self.name.is_empty() || self.name == "no"
    }
}

/// Why the workload ended, as the restart decision needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// Its exit code.
    pub code: i32,
    /// How long it ran.
    pub ran_for: Duration,
    /// The user signalled it (`kill`): `unless-stopped` does not restart.
    pub manually_stopped: bool,
    /// `stop` (or a stopping `kill`) ended the policy.
    pub cancelled: bool,
}

/// The restart decisions of one supervisor: the current wait and the
/// number of restarts made (docker's `RestartCount`).
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    timeout: Duration,
    /// Restarts made so far.
    pub count: u32,
}

impl Backoff {
    /// A supervisor's decisions, `count` restarts having been made.
    pub fn new(count: u32) -> Backoff {
        Backoff {
            timeout: Duration::ZERO,
            count,
        }
    }

    /// Decides after an exit: `Some(wait)` to start again after `wait`
    /// (the count is then one more), `None` to stay exited.
    pub fn should_restart(&mut self, policy: &RestartPolicy, exit: Exit) -> Option<Duration> {
        if policy.is_none() || exit.cancelled {
            return None;
        }
        if exit.ran_for >= RESET_AFTER {
            self.timeout = Duration::ZERO;
        }
        self.timeout = if self.timeout.is_zero() {
            FIRST_BACKOFF
        } else {
            (self.timeout * 2).min(MAX_BACKOFF)
        };
        let restart = match policy.name.as_str() {
            "always" => true,
            "unless-stopped" => !exit.manually_stopped,
            "on-failure" => {
                let max = policy.maximum_retry_count;
                (max == 0 || i64::from(self.count) < max) && exit.code != 0
            }
            _ => false,
        };
        if !restart {
            return None;
        }
        self.count += 1;
        Some(self.timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(code: i32) -> Exit {
        Exit {
            code,
            ran_for: Duration::from_millis(5),
            manually_stopped: false,
            cancelled: false,
        }
    }

    #[test]
    fn parses_like_docker() {
        assert_eq!(RestartPolicy::parse("").unwrap(), RestartPolicy::default());
        assert_eq!(
            RestartPolicy::parse("on-failure:3").unwrap(),
            RestartPolicy {
                name: "on-failure".into(),
                maximum_retry_count: 3
            }
        );
        assert_eq!(RestartPolicy::parse("always").unwrap().name, "always");
        let err = |s: &str| RestartPolicy::parse(s).unwrap_err().to_string();
        assert_eq!(err("foo"), "invalid restart policy 'foo'");
        assert_eq!(
            err("on-failure:x"),
            "invalid restart policy format: maximum retry count must be an integer"
        );
        assert_eq!(
            err("a:b:c"),
            "invalid restart policy format: maximum retry count must be an integer"
        );
        assert_eq!(
            err("always:3"),
            "maximum retry count cannot be used with restart policy 'always'"
        );
        assert_eq!(
            err("on-failure:-1"),
            "maximum retry count cannot be negative"
        );
    }

    #[test]
    fn on_failure_stops_after_n() {
        let p = RestartPolicy::parse("on-failure:2").unwrap();
        let mut b = Backoff::new(0);
        assert_eq!(b.should_restart(&p, exit(0)), None);
        assert_eq!(
            b.should_restart(&p, exit(1)),
            Some(Duration::from_millis(200))
        );
        assert_eq!(
            b.should_restart(&p, exit(1)),
            Some(Duration::from_millis(400))
        );
        assert_eq!(b.should_restart(&p, exit(1)), None);
        assert_eq!(b.count, 2);
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let p = RestartPolicy::parse("always").unwrap();
        let mut b = Backoff::new(0);
        let waits: Vec<_> = (0..12)
            .map(|_| b.should_restart(&p, exit(0)).unwrap())
            .collect();
        assert_eq!(waits[0], FIRST_BACKOFF);
        assert_eq!(waits[1], Duration::from_millis(200));
        assert_eq!(waits[11], MAX_BACKOFF);
        let long = Exit {
            ran_for: RESET_AFTER,
            ..exit(0)
        };
        assert_eq!(b.should_restart(&p, long), Some(FIRST_BACKOFF));
        assert_eq!(b.count, 13);
    }

    #[test]
    fn stop_and_kill_as_docker() {
        let always = RestartPolicy::parse("always").unwrap();
        let unless = RestartPolicy::parse("unless-stopped").unwrap();
        let killed = Exit {
            manually_stopped: true,
            ..exit(137)
        };
        assert!(Backoff::new(0).should_restart(&always, killed).is_some());
        assert!(Backoff::new(0).should_restart(&unless, killed).is_none());
        let stopped = Exit {
            cancelled: true,
            ..killed
        };
        assert!(Backoff::new(0).should_restart(&always, stopped).is_none());
        assert!(
            Backoff::new(0)
                .should_restart(&RestartPolicy::default(), exit(1))
                .is_none()
        );
    }
}
