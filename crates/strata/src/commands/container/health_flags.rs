//! The healthcheck flags `run` and `create` share, as docker's:
//! `--health-cmd`, `--health-interval`, `--health-timeout`,
//! `--health-retries`, `--health-start-period`, `--no-healthcheck`, with
//! docker's CLI checks; the daemon-side checks and the merge over the
//! image's `HEALTHCHECK` are [`strata_runtime::health`]'s.

use clap::Args;
use strata_oci::config::HealthConfig;

use crate::exit::ExitError;

/// Healthcheck flags (flattened into `CreateFlags`).
#[derive(Debug, Clone, Default, Args)]
pub struct HealthFlags {
    /// Command to run to check health
    #[arg(long, value_name = "string")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 0s)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub health_interval: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long, value_name = "int", allow_hyphen_values = true)]
    pub health_retries: Option<i64>,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub health_start_period: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s)
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub health_timeout: Option<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long)]
    pub no_healthcheck: bool,
}

fn duration(flag: &str, v: Option<&str>) -> anyhow::Result<i64> {
    let Some(v) = v else { return Ok(0) };
    strata_go::duration::parse_go_duration(v).map_err(|e| {
        ExitError::new(
            125,
            format!("invalid argument \"{v}\" for \"--{flag}\" flag: {e}"),
        )
        .into()
    })
}

impl HealthFlags {
    /// The user's `Healthcheck` (`None`: no flag given), checked as
    /// docker's CLI checks it.
    pub fn config(&self) -> anyhow::Result<Option<HealthConfig>> {
        let interval = duration("health-interval", self.health_interval.as_deref())?;
        let timeout = duration("health-timeout", self.health_timeout.as_deref())?;
        let start_period = duration("health-start-period", self.health_start_period.as_deref())?;
        let retries = self.health_retries.unwrap_or(0);
        let cmd = self.health_cmd.clone().unwrap_or_default();
        let any =
            !cmd.is_empty() || interval != 0 || timeout != 0 || start_period != 0 || retries != 0;
        let fail = |m: &str| -> anyhow::Result<Option<HealthConfig>> {
            Err(ExitError::new(125, m.to_string()).into())
        };
        if self.no_healthcheck {
            if any {
                return fail("--no-healthcheck conflicts with --health-* options");
            }
            return Ok(Some(HealthConfig {
                test: Some(vec!["NONE".into()]),
                ..HealthConfig::default()
            }));
        }
        if !any {
            return Ok(None);
        }
        for (name, v) in [
            ("interval", interval),
            ("timeout", timeout),
            ("retries", retries),
            ("start-period", start_period),
        ] {
            if v < 0 {
                return fail(&format!("--health-{name} cannot be negative"));
            }
        }
        Ok(Some(HealthConfig {
            test: (!cmd.is_empty()).then(|| vec!["CMD-SHELL".into(), cmd]),
            interval,
            timeout,
            start_period,
            retries,
            ..HealthConfig::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_as_docker_reads_them() {
        let f = HealthFlags {
            health_cmd: Some("exit 1".into()),
            health_interval: Some("1s".into()),
            health_retries: Some(2),
            ..HealthFlags::default()
        };
        let c = f.config().unwrap().unwrap();
        assert_eq!(c.test.unwrap(), ["CMD-SHELL", "exit 1"]);
        assert_eq!((c.interval, c.retries), (1_000_000_000, 2));
        assert_eq!(HealthFlags::default().config().unwrap(), None);
        let none = HealthFlags {
            no_healthcheck: true,
            ..HealthFlags::default()
        };
        assert_eq!(none.config().unwrap().unwrap().test.unwrap(), ["NONE"]);
        let both = HealthFlags {
            no_healthcheck: true,
            health_cmd: Some("x".into()),
            ..HealthFlags::default()
        };
        assert_eq!(
            both.config().unwrap_err().to_string(),
            "--no-healthcheck conflicts with --health-* options"
        );
        let neg = HealthFlags {
            health_interval: Some("-1s".into()),
            ..HealthFlags::default()
        };
        assert_eq!(
            neg.config().unwrap_err().to_string(),
            "--health-interval cannot be negative"
        );
    }
}
