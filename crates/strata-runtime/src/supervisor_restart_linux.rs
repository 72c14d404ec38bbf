//! The supervisor's half of the restart policy (see
//! [`crate::restart_policy`] for the rules): after every exit it decides
//! from the records — the policy as `update` may have changed it, whether
//! `stop`/`kill` came meanwhile — records docker's `restarting` state
//! (`Running` and `Restarting` true, `Pid` 0, the exit code, `FinishedAt`,
//! `RestartCount` + 1) or the exited one, and waits out the backoff, woken
//! early by a signal (`stop` sends one to end the wait).

use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use strata_store::Store;

use crate::containers;
use crate::error::Result;
use crate::restart_policy::{Backoff, Exit};
use crate::sys_linux::SignalPipe;

/// Decides whether container `id`, whose workload ended with `code` after
/// running `ran_for`, starts again; records the outcome (restarting or
/// exited) and returns the wait before the restart.
pub(crate) fn record_exit(
    store: &Store,
    id: &str,
    backoff: &mut Backoff,
    code: i32,
    ran_for: Duration,
) -> Result<Option<Duration>> {
    let now = containers::get(store, id)?;
    let wait = now.as_ref().and_then(|c| {
        backoff.should_restart(
            &c.spec.host_config.restart_policy,
            Exit {
                code,
                ran_for,
                manually_stopped: c.state.strata.manually_stopped,
                cancelled: c.state.strata.restart_cancelled,
            },
        )
    });
    let finished = strata_oci::config::rfc3339_now();
    let count = backoff.count;
    containers::update_state(store, id, |s| {
        // A `stop` that came while we decided wins (docker's Cancel).
        let restart = wait.is_some() && !s.strata.restart_cancelled;
        s.status = if restart { "restarting" } else { "exited" }.into();
        s.running = restart;
        s.restarting = restart;
        s.paused = false;
        s.pid = 0;
        s.exit_code = code;
        s.finished_at = finished;
        s.restart_count = count;
        s.strata.init = None;
        if !restart {
            s.strata.supervisor = None;
        }
        s.net = Default::default();
    })
    .map(|s| wait.filter(|_| s.restarting))
}

/// Waits `wait` before a restart; returns false when the restart was
/// called off meanwhile (`stop`, a stopping `kill`, the record removed),
/// after recording the container as exited.
pub(crate) fn wait_out(store: &Store, id: &str, wait: Duration, sfd: &SignalPipe) -> Result<bool> {
    let deadline = Instant::now() + wait;
    loop {
        let cancelled =
            containers::get(store, id)?.is_none_or(|c| c.state.strata.restart_cancelled);
        if cancelled {
            if containers::get(store, id)?.is_some() {
                containers::update_state(store, id, |s| {
                    s.status = "exited".into();
                    s.running = false;
                    s.restarting = false;
                    s.strata.supervisor = None;
                })?;
            }
            return Ok(false);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(true);
        }
        let ms = left.as_millis().clamp(1, 60_000) as i32;
        let mut fds = [PollFd::new(sfd.fd(), PollFlags::POLLIN)];
        if let Ok(n) = poll(
            &mut fds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        ) && n > 0
        {
            // Any signal (stop's wake-up, a proxied one with no process
            // to take it): look at the records again.
            let _ = sfd.take();
        }
    }
}
