//! The supervisor's healthcheck monitor: runs the container's probe every
//! interval as an exec (the same process document `exec` builds, see
//! [`crate::exec_linux::prepare`]), its stdout and stderr into a memfd,
//! kills it at its timeout, and records each result in `State.Health`
//! with docker's rules ([`crate::health`]).
//!
//! It never blocks: the supervisor's poll loop sleeps until
//! [`Monitor::wake`], calls [`Monitor::tick`] each turn, and hands it
//! every SIGCHLD first ([`Monitor::child_exited`]), before its own reaping.
//! A paused container is not probed (docker stops the monitor while
//! paused).

use std::fs::File;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use strata_store::Store;

use crate::containers::{self, Container};
use crate::error::{Result, RuntimeError};
use crate::exec_linux::{ExecRequest, RemoveOnDrop, prepare};
use crate::health::{self, Health, HealthResult, Probe};
use crate::oci_linux::{OciRuntime, Stdio};

/// A probe in flight.
struct Running {
    pid: i32,
    start: String,
    began: Instant,
    deadline: Instant,
    out: File,
    _json: RemoveOnDrop,
}

/// The healthcheck of one running container.
pub struct Monitor {
    probe: Probe,
    started: Instant,
    next: Instant,
    running: Option<Running>,
}

impl Monitor {
    /// The monitor of `c` if it has a healthcheck, its `State.Health`
    /// set to `starting` (call once the container runs).
    pub fn start(store: &Store, c: &Container) -> Result<Option<Monitor>> {
        let shell: Option<Vec<String>> = c
            .spec
            .config
            .extra
            .get("Shell")
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let Some(probe) = Probe::of(c.spec.config.healthcheck.as_ref(), shell.as_deref()) else {
            return Ok(None);
        };
        containers::update_state(store, &c.id, |s| {
            s.health = Some(Health::begin(s.health.take()));
        })?;
        let now = Instant::now();
        Ok(Some(Monitor {
            next: now + probe.interval,
            probe,
            started: now,
            running: None,
        }))
    }

    /// When [`Monitor::tick`] has work next.
    pub fn wake(&self) -> Instant {
        self.running.as_ref().map_or(self.next, |r| r.deadline)
    }

    /// Starts a probe that is due, or ends one past its timeout.
    pub fn tick(&mut self, store: &Store, c: &Container, runtime: &dyn OciRuntime) {
        let now = Instant::now();
        if let Some(r) = &self.running {
            if now >= r.deadline {
                let r = self.running.take().expect("checked above");
                let _ = kill(Pid::from_raw(r.pid), Signal::SIGKILL);
                let output = health::timeout_text(self.probe.timeout, &read_output(&r.out));
                self.finish(store, &c.id, &r, -1, output);
            }
            return;
        }
        if now < self.next {
            return;
        }
        self.next = now + self.probe.interval;
        let current = match containers::get(store, &c.id) {
            Ok(Some(cur)) => cur,
            _ => return,
        };
        if current.state.paused {
            return;
        }
        let start = strata_oci::config::rfc3339_now();
        match self.launch(store, &current, runtime, now) {
            Ok(r) => self.running = Some(r),
            Err(e) => {
                tracing::warn!("health check of {}: {e}", c.id);
                let r = HealthResult {
                    start,
                    end: strata_oci::config::rfc3339_now(),
                    exit_code: -1,
                    output: e.to_string(),
                };
                self.record(store, &c.id, r, now);
            }
        }
    }

    /// Takes the probe's exit if `SIGCHLD` was for it (reaps only the
    /// probe's PID); true if it was.
    pub fn child_exited(&mut self, store: &Store, id: &str) -> bool {
        let Some(r) = &self.running else {
            return false;
        };
        let code = match waitpid(Pid::from_raw(r.pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return false,
            Ok(st) => crate::sys_linux::exit_code(&st).unwrap_or(-1),
            // Reaped elsewhere: its code is lost.
            Err(_) => -1,
        };
        let r = self.running.take().expect("checked above");
        let output = health::output_text(&read_output(&r.out));
        self.finish(store, id, &r, i64::from(code), output);
        true
    }

    /// The container stopped: kills a probe in flight and records
    /// `unhealthy` (docker's rule when its monitor stops).
    pub fn stop(&mut self, store: &Store, id: &str) {
        if let Some(r) = self.running.take() {
            let _ = kill(Pid::from_raw(r.pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(r.pid), Some(WaitPidFlag::WNOHANG));
        }
        let recorded = containers::update_state(store, id, |s| {
            if let Some(h) = &mut s.health {
                h.status = health::UNHEALTHY.into();
            }
        });
        if let Err(e) = recorded {
            tracing::warn!("health check of {id}: {e}");
        }
    }

    fn launch(
        &self,
        store: &Store,
        c: &Container,
        runtime: &dyn OciRuntime,
        now: Instant,
    ) -> Result<Running> {
        let req = ExecRequest {
            args: self.probe.argv.clone(),
            ..ExecRequest::default()
        };
        let prepared = prepare(store, c, &req)?;
        let out = memfd()?;
        let dup = |f: &File| {
            f.try_clone()
                .map(OwnedFd::from)
                .map_err(|e| RuntimeError::Invalid(format!("health check output: {e}")))
        };
        let stdio = Stdio {
            stdin: Some(crate::sys_linux::dev_null()?),
            stdout: Some(dup(&out)?),
            stderr: Some(dup(&out)?),
        };
        let start = strata_oci::config::rfc3339_now();
        let pid = runtime.exec(&c.id, &prepared.json.0, None, stdio)?;
        Ok(Running {
            pid,
            start,
            began: now,
            deadline: now + self.probe.timeout,
            out,
            _json: prepared.json,
        })
    }

    fn finish(&mut self, store: &Store, id: &str, r: &Running, code: i64, output: String) {
        let result = HealthResult {
            start: r.start.clone(),
            end: strata_oci::config::rfc3339_now(),
            exit_code: code,
            output,
        };
        self.next = Instant::now() + self.probe.interval;
        self.record(store, id, result, r.began);
    }

    fn record(&self, store: &Store, id: &str, result: HealthResult, began: Instant) {
        let in_start_period = began.duration_since(self.started) < self.probe.start_period;
        let retries = self.probe.retries;
        let mut change = None;
        let recorded = containers::update_state(store, id, |s| {
            let h = s.health.get_or_insert_with(|| Health::begin(None));
            let before = h.status.clone();
            h.record(result, retries, in_start_period);
            if h.status != before {
                change = Some(h.status.clone());
            }
        });
        match recorded {
            Err(e) => tracing::warn!("health check of {id}: {e}"),
            Ok(_) => {
                if let (Some(status), Ok(Some(c))) = (change, containers::get(store, id)) {
                    crate::events::container(store, &c, &format!("health_status: {status}"), &[]);
                }
            }
        }
    }
}

/// The first [`health::MAX_OUTPUT`] + 1 bytes written (one more tells a
/// cut output).
fn read_output(f: &File) -> Vec<u8> {
    let mut buf = vec![0u8; health::MAX_OUTPUT + 1];
    let mut n = 0;
    while n < buf.len() {
        match f.read_at(&mut buf[n..], n as u64) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    buf.truncate(n);
    buf
}

/// An anonymous in-memory file for a probe's output.
fn memfd() -> Result<File> {
    // SAFETY: memfd_create takes a NUL-terminated name and flags; it
    // returns a new descriptor we own, or -1.
    let fd = unsafe { libc::memfd_create(c"strata-health".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(RuntimeError::Invalid(format!(
            "health check output: memfd_create: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// How long a poll may sleep before the monitor's next work (at least
/// 1 ms; `None` without a monitor).
pub fn sleep_for(m: Option<&Monitor>) -> Option<Duration> {
    m.map(|m| {
        m.wake()
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    })
}
