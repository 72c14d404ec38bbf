//! A container run in the CLI's own process: the supervisor's work (see
//! [`crate::supervisor_linux`]) without the supervisor process, for a
//! foreground `run --rm` without a terminal or stdin — the common case,
//! whose start-up time is what users feel. What the supervisor would send
//! a client goes straight to this process's stdout/stderr ([`Local`]).

use std::io::Write;
use std::time::Instant;

use strata_store::Store;

use crate::attach::Frame;
use crate::error::{Result, RuntimeError};
use crate::supervisor_linux::supervise_with;

/// Runs container `id` inside the calling process, attached: what the
/// supervisor does, without spawning one — for a foreground `run --rm`
/// without a terminal or stdin, the common case, whose every millisecond
/// counts. Its output goes to this process's stdout/stderr (as chosen)
/// besides the log; the signals docker proxies go to the container from
/// the moment this is called; the container is recorded (visible to `ps`,
/// `stop`, `exec`, `logs`), waited for, cleaned up and removed as by a
/// supervisor. Returns the container's exit code, or docker's start error.
///
/// The caller must not run other threads that could hold a lock the
/// runtime's forked children need (the CLI's only other thread is its idle
/// signal watcher, whose handlers this replaces; `warm`, from
/// [`crate::launch_linux::warm_cgroup_moves`], is joined before the runtime forks).
/// `lock` is the container's lock, held until the container is removed.
pub fn run_in_process(
    store: &Store,
    id: &str,
    lock: crate::lock::ContainerLock,
    stdout: bool,
    stderr: bool,
    warm: Option<std::thread::JoinHandle<()>>,
) -> Result<Foreground> {
    let _lock = lock;
    let local = Local {
        stdout,
        stderr,
        end: None,
        cancelled: None,
        warm,
    };
    let local = supervise_with(store, id, &mut None, Some(local), Instant::now())?;
    if let Some(sig) = local.as_ref().and_then(|l| l.cancelled) {
        return Ok(Foreground::Cancelled(sig));
    }
    match local.and_then(|l| l.end) {
        Some(Frame::Exit(code)) => Ok(Foreground::Exited(code)),
        Some(Frame::Error { code, message }) => Err(RuntimeError::Start { code, message }),
        _ => Err(RuntimeError::Start {
            code: 125,
            message: format!("container {id} ended without an exit status"),
        }),
    }
}

/// What a supervisor running in the CLI's process does with the frames it
/// would send a client: output to this process's stdout/stderr, the end
/// (`Exit`/`Error`) kept for the caller.
#[derive(Debug)]
pub(crate) struct Local {
    stdout: bool,
    stderr: bool,
    end: Option<Frame>,
    /// The signal that cancelled the start.
    pub(crate) cancelled: Option<i32>,
    /// See [`crate::launch_linux::warm_cgroup_moves`]; joined before the runtime
    /// forks.
    pub(crate) warm: Option<std::thread::JoinHandle<()>>,
}

/// How a container run by [`run_in_process`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Foreground {
    /// It ran; its exit code.
    Exited(i32),
    /// A signal came before it started: it never ran (and went, with
    /// `--rm`), as after a cancelled supervisor start.
    Cancelled(i32),
}

impl Local {
    /// Takes a frame the supervisor would send a client.
    pub(crate) fn take(&mut self, f: &Frame) {
        match f {
            Frame::Stdout(b) if self.stdout => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(b);
                let _ = out.flush();
            }
            Frame::Stderr(b) if self.stderr => {
                let _ = std::io::stderr().write_all(b);
            }
            Frame::Exit(_) | Frame::Error { .. } => self.end = Some(f.clone()),
            _ => {}
        }
    }
}
