//! The helper processes: every fork-heavy job (supervising a container,
//! running a build step, exec) runs in a fresh, single-threaded re-exec of
//! the strata binary, entered through a hidden subcommand:
//!
//! ```text
//! strata __shim supervise <root> <id> <attach-fd|-> [<lock-fd>]
//! strata __shim spare <root> <ctl-fd>    (a supervisor waiting for its container)
//! strata __shim step                     (request on stdin, result on fd 3)
//! strata __shim exec <root> <id> <request-json>
//! strata __shim infra <root> <ready-fd>  (a store root's network namespace)
//! strata __shim proxy <spec-json>        (a container's -p, sockets on fd 3…)
//! ```
//! The binary hands everything after `__shim` to [`main`]. The program
//! spawned is [`helper_binary`]: the running executable, unless
//! [`set_helper_binary`] chose another (tests of this crate use a test
//! binary that dispatches `__shim` itself).

use std::ffi::{OsStr, OsString};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The hidden subcommand.
pub const SHIM: &str = "__shim";

static HELPER: OnceLock<PathBuf> = OnceLock::new();

/// Uses `path` as the helper binary (once, before any helper starts).
pub fn set_helper_binary(path: impl Into<PathBuf>) {
    let _ = HELPER.set(path.into());
}

/// The helper binary: as set, else the current executable.
pub fn helper_binary() -> PathBuf {
    HELPER
        .get()
        .cloned()
        .or_else(|| std::env::current_exe().ok())
        .unwrap_or_else(|| PathBuf::from("/proc/self/exe"))
}

/// The log filter for helper processes: the user's `STRATA_LOG`, else
/// errors only. A helper's log goes to its stderr, and the container's
/// init inherits it until its stdio is set up, so anything chattier
/// (libcontainer warns about seccomp on every start) would end up in the
/// container's output.
pub fn log_filter() -> String {
    std::env::var("STRATA_LOG")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "error".to_string())
}

/// Arguments for a supervisor with its attach socket on `fd` and the
/// container's lock on `lock_fd`.
pub fn supervise_args(root: &Path, id: &str, fd: i32, lock_fd: i32) -> Vec<OsString> {
    vec![
        SHIM.into(),
        "supervise".into(),
        root.as_os_str().to_owned(),
        id.into(),
        fd.to_string().into(),
        lock_fd.to_string().into(),
    ]
}

/// Arguments for a spare supervisor (see [`crate::spare_linux`]) with its
/// control socket on `fd`.
pub fn spare_args(root: &Path, fd: i32) -> Vec<OsString> {
    vec![
        SHIM.into(),
        "spare".into(),
        root.as_os_str().to_owned(),
        fd.to_string().into(),
    ]
}

/// Arguments for a build-step helper.
pub fn step_args() -> Vec<OsString> {
    vec![SHIM.into(), "step".into()]
}

/// Arguments for an exec helper.
pub fn exec_args(root: &Path, id: &str, req: &crate::exec_linux::ExecRequest) -> Vec<OsString> {
    vec![
        SHIM.into(),
        "exec".into(),
        root.as_os_str().to_owned(),
        id.into(),
        serde_json::to_string(req).unwrap_or_default().into(),
    ]
}

/// Runs a helper; `args` are the arguments after `__shim`. Returns the
/// process exit code.
pub fn main(args: &[OsString]) -> i32 {
    let s = |i: usize| {
        args.get(i)
            .map(OsString::as_os_str)
            .unwrap_or(OsStr::new(""))
    };
    match s(0).to_str() {
        Some("supervise") if args.len() == 4 || args.len() == 5 => {
            let attach = s(3).to_str().and_then(|v| v.parse::<i32>().ok()).map(|fd| {
                // SAFETY: the spawner put our end of the socket pair on this
                // descriptor and nothing else owns it.
                unsafe { OwnedFd::from_raw_fd(fd) }
            });
            let lock = s(4).to_str().and_then(|v| v.parse::<i32>().ok()).map(|fd| {
                // SAFETY: the spawner put the container's lock on this
                // descriptor and nothing else owns it.
                unsafe { crate::lock::ContainerLock::from_raw_fd(fd) }
            });
            crate::supervisor_linux::run(Path::new(s(1)), &s(2).to_string_lossy(), attach, lock)
        }
        Some("spare") if args.len() == 3 => {
            match s(2).to_str().and_then(|v| v.parse::<i32>().ok()) {
                Some(fd) if fd >= 3 => {
                    // SAFETY: the spawner put our end of the control socket
                    // on this descriptor and nothing else owns it.
                    let ctl = unsafe { OwnedFd::from_raw_fd(fd) };
                    crate::spare_linux::main(Path::new(s(1)), ctl)
                }
                _ => {
                    eprintln!("strata {SHIM} spare: bad control descriptor");
                    125
                }
            }
        }
        Some("step") => crate::step::helper_main(),
        Some("infra") if args.len() == 3 => {
            match s(2).to_str().and_then(|v| v.parse::<i32>().ok()) {
                Some(fd) if fd >= 3 => {
                    // SAFETY: the spawner put the write end of its ready
                    // pipe on this descriptor and nothing else owns it.
                    let ready = unsafe { OwnedFd::from_raw_fd(fd) };
                    crate::net::infra_linux::main(Path::new(s(1)), ready)
                }
                _ => {
                    eprintln!("strata {SHIM} infra: bad ready descriptor");
                    125
                }
            }
        }
        Some("proxy") if args.len() == 2 => {
            match serde_json::from_str::<crate::net::proxy_linux::ProxySpec>(
                &s(1).to_string_lossy(),
            ) {
                Ok(spec) => crate::net::proxy_linux::main(&spec),
                Err(e) => {
                    eprintln!("strata {SHIM} proxy: bad spec: {e}");
                    125
                }
            }
        }
        Some("exec") if args.len() == 4 => {
            match serde_json::from_str::<crate::exec_linux::ExecRequest>(&s(3).to_string_lossy()) {
                Ok(req) => crate::exec_linux::run(Path::new(s(1)), &s(2).to_string_lossy(), &req),
                Err(e) => {
                    eprintln!("strata {SHIM} exec: bad request: {e}");
                    125
                }
            }
        }
        _ => {
            eprintln!("strata {SHIM}: internal helper; not for direct use");
            125
        }
    }
}
