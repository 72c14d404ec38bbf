//! How a build's RUN steps are isolated (`build --isolation`, or
//! `STRATA_ISOLATION`).
//!
//! * [`Isolation::Oci`] (`default`, `oci`): an OCI container, as BuildKit's
//!   RUN — namespaces, overlay rootfs, docker's capabilities and seccomp
//!   profile, a cgroup.
//! * [`Isolation::Chroot`] (`chroot`): for environments that allow neither
//!   mounts nor user namespaces (an unprivileged CI container, Kaniko's
//!   case). The step runs chrooted into a plain copy of its parent
//!   layers, with the caller's namespaces, capabilities and seccomp
//!   filter; its layer is the difference found afterwards
//!   (`strata_store::plainfs_linux`). See `crate::chroot_linux` and
//!   docs/rootless.md for what it does not isolate.
//!
//! Isolation is never weakened silently: when the default one meets a
//! kernel that refuses mounts, the build stops with
//! [`RuntimeError::NeedsChroot`], naming the flag.

use serde::{Deserialize, Serialize};

use crate::error::RuntimeError;

/// The environment variable that picks the isolation when the flag is
/// not given.
pub const ENV: &str = "STRATA_ISOLATION";

/// How RUN steps are isolated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Isolation {
    /// An OCI container (the default).
    #[default]
    Oci,
    /// chroot into a plain copy of the rootfs; nothing mounted or unshared
    /// that the kernel refuses.
    Chroot,
}

impl Isolation {
    /// Parses a flag value: `default`, `oci` or `chroot` (any case).
    pub fn parse(s: &str) -> Result<Isolation, RuntimeError> {
        match s.to_ascii_lowercase().as_str() {
            "" | "default" | "oci" => Ok(Isolation::Oci),
            "chroot" => Ok(Isolation::Chroot),
            _ => Err(RuntimeError::Invalid(format!(
                "invalid isolation {s:?}: expected default, oci or chroot"
            ))),
        }
    }

    /// `flag`, else `$STRATA_ISOLATION`, else the default.
    pub fn choose(flag: Option<&str>) -> Result<Isolation, RuntimeError> {
        match flag {
            Some(f) => Isolation::parse(f),
            None => std::env::var(ENV).map_or(Ok(Isolation::Oci), |v| Isolation::parse(&v)),
        }
    }
}

/// The error for a mount or namespace the kernel refused (`EPERM`,
/// `EACCES`) under the default isolation: the user is told to choose
/// chroot isolation. Other errors come back unchanged.
pub fn refused(e: RuntimeError) -> RuntimeError {
    let errno = match &e {
        RuntimeError::Io { source, .. } => source.raw_os_error(),
        RuntimeError::Sys { source, .. } => Some(*source as i32),
        _ => None,
    };
    match errno {
        Some(libc::EPERM) | Some(libc::EACCES) => RuntimeError::NeedsChroot(e.to_string()),
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flag_values() {
        assert_eq!(Isolation::parse("default").unwrap(), Isolation::Oci);
        assert_eq!(Isolation::parse("OCI").unwrap(), Isolation::Oci);
        assert_eq!(Isolation::parse("chroot").unwrap(), Isolation::Chroot);
        assert!(Isolation::parse("hyperv").is_err());
    }

    #[test]
    fn only_refusals_ask_for_chroot() {
        let io = |errno| RuntimeError::Io {
            op: "mount overlay at",
            path: "/r".into(),
            source: std::io::Error::from_raw_os_error(errno),
        };
        let e = refused(io(libc::EPERM));
        assert!(matches!(e, RuntimeError::NeedsChroot(_)), "{e}");
        assert!(e.to_string().contains("--isolation chroot"), "{e}");
        assert!(matches!(refused(io(libc::ENOENT)), RuntimeError::Io { .. }));
    }
}
