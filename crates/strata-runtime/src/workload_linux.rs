//! The last step inside the container: `execve` of the process with its
//! environment exactly as the spec orders it.
//!
//! libcontainer's default executor passes the environment through a
//! `HashMap` and `execvp`, which scrambles the order (`env` inside the
//! container would list `PATH` anywhere); runc keeps the spec's order, and
//! so does docker's output. This executor looks the program up on the
//! spec's `PATH` (strata already checked it exists, with docker's
//! messages) and calls `execve` with the spec's `env` as is.
//!
//! It also loads the seccomp filter, compiled once and cached (see
//! [`crate::seccomp_bpf_linux`]): libcontainer would compile the profile
//! with libseccomp in every container's init (and builds a tenant's spec
//! for `exec` without the filter at all). [`OrderedEnvExecutor::confined`]
//! loads the program here, while the process still holds the
//! `CAP_SYS_ADMIN` it was started with for the purpose, then drops the
//! capabilities to the process's real sets — the same order as runc's
//! (filter first while privileged, then caps).

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use libcontainer::workload::{
    Executor, ExecutorError, ExecutorSetEnvsError, ExecutorValidationError,
};
use oci_spec::runtime::{Capability, LinuxCapabilities, Spec};

use crate::seccomp_bpf_linux::Bpf;

/// Executes the spec's process with its environment in order.
#[derive(Debug, Clone, Default)]
pub struct OrderedEnvExecutor {
    /// A seccomp filter to load, then the capabilities to drop to.
    confine: Option<(Bpf, LinuxCapabilities)>,
}

/// What [`OrderedEnvExecutor::confined`] needs the process to hold until
/// it has loaded the filter and dropped to the real sets.
pub const CONFINE_CAPS: [Capability; 2] = [Capability::SysAdmin, Capability::Setpcap];

impl OrderedEnvExecutor {
    /// Loads `seccomp`, then drops to `caps`, before the `execve`.
    pub fn confined(seccomp: Bpf, caps: LinuxCapabilities) -> OrderedEnvExecutor {
        OrderedEnvExecutor {
            confine: Some((seccomp, caps)),
        }
    }

    fn apply_confinement(&self) -> Result<(), ExecutorError> {
        let Some((seccomp, caps)) = &self.confine else {
            return Ok(());
        };
        seccomp
            .load()
            .map_err(|e| ExecutorError::Other(format!("load seccomp filter: {e}")))?;
        let syscall = libcontainer::syscall::syscall::create_syscall();
        libcontainer::capabilities::drop_privileges(caps, syscall.as_ref())
            .map_err(|e| ExecutorError::Other(format!("drop capabilities: {e}")))
    }
}

fn cstr(s: &str) -> Result<CString, ExecutorError> {
    CString::new(s).map_err(|_| ExecutorError::InvalidArg)
}

/// The program `name` resolves to on `path` (a name with a `/` is used as
/// is); `None` if nothing executable is found.
pub fn resolve_program(name: &str, path: &str) -> Option<String> {
    if name.contains('/') {
        return Some(name.to_string());
    }
    path.split(':')
        .map(|d| if d.is_empty() { "." } else { d })
        .map(|d| format!("{}/{name}", d.trim_end_matches('/')))
        .find(|p| {
            std::fs::metadata(Path::new(p))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

impl Executor for OrderedEnvExecutor {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        let process = spec.process().as_ref().ok_or(ExecutorError::InvalidArg)?;
        let args = process.args().as_ref().ok_or(ExecutorError::InvalidArg)?;
        let name = args.first().ok_or(ExecutorError::InvalidArg)?;
        let env: Vec<String> = process.env().clone().unwrap_or_default();
        let path = env
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        let program = resolve_program(name, path).ok_or_else(|| {
            ExecutorError::Other(format!(
                "exec: \"{name}\": executable file not found in $PATH"
            ))
        })?;
        let argv: Vec<CString> = args.iter().map(|a| cstr(a)).collect::<Result<_, _>>()?;
        let envp: Vec<CString> = env.iter().map(|e| cstr(e)).collect::<Result<_, _>>()?;
        let program = cstr(&program)?;
        self.apply_confinement()?;
        let err = nix::unistd::execve(&program, &argv, &envp).unwrap_err();
        Err(ExecutorError::Other(format!(
            "exec: \"{name}\": {}",
            err.desc()
        )))
    }

    fn validate(&self, _spec: &Spec) -> Result<(), ExecutorValidationError> {
        // strata checks the command before creating the container, with
        // docker's messages and exit codes.
        Ok(())
    }

    fn setup_envs(
        &self,
        _envs: std::collections::HashMap<String, String>,
    ) -> Result<(), ExecutorSetEnvsError> {
        // The environment goes to execve as the spec orders it.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_resolve_on_the_given_path() {
        assert_eq!(resolve_program("/bin/x", "/nope"), Some("/bin/x".into()));
        let sh = resolve_program("sh", "/nonexistent:/bin:/usr/bin").unwrap();
        assert!(sh.ends_with("/sh"));
        assert_eq!(resolve_program("definitely-not-here-xyz", "/bin"), None);
    }
}
