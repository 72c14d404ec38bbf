//! The runtime's error type. Messages follow docker's wording where a user
//! can cause them (name conflicts, unknown users, missing executables), and
//! [`RuntimeError::exit_code`] maps each to docker's CLI exit code: 125 when
//! strata fails around the container, 126 when the command cannot be
//! invoked, 127 when it is not found.

use std::path::PathBuf;

use strata_store::StoreError;

/// Result with [`RuntimeError`].
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// Why a container's command could not be started (docker's `exec: "x": …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum ExecError {
    /// A bare name not found on `$PATH` (exit 127).
    #[error("exec: \"{0}\": executable file not found in $PATH")]
    NotFound(String),
    /// A path that does not exist (exit 127).
    #[error("exec: \"{0}\": stat {0}: no such file or directory")]
    NoSuchFile(String),
    /// A path that is not executable (exit 126).
    #[error("exec: \"{0}\": permission denied")]
    PermissionDenied(String),
    /// A directory (exit 126).
    #[error("exec: \"{0}\": is a directory")]
    IsDirectory(String),
}

impl ExecError {
    /// docker's exit code for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            ExecError::NotFound(_) | ExecError::NoSuchFile(_) => 127,
            ExecError::PermissionDenied(_) | ExecError::IsDirectory(_) => 126,
        }
    }
}

/// Errors of the container runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No container has this name or ID (prefix).
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    /// An ID prefix matches several containers.
    #[error("Multiple IDs found with provided prefix: {0}")]
    AmbiguousContainer(String),
    /// `--name` is taken.
    #[error(
        "Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
    )]
    NameInUse {
        /// The name asked for.
        name: String,
        /// The container holding it.
        id: String,
    },
    /// `--name` is not a valid container name.
    #[error("Invalid container name ({0}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName(String),
    /// `-u` names a user the image does not have.
    #[error("unable to find user {0}: no matching entries in passwd file")]
    UnknownUser(String),
    /// `-u user:group` names a group the image does not have.
    #[error("unable to find group {0}: no matching entries in group file")]
    UnknownGroup(String),
    /// `-u`/`--group-add` gives a numeric ID outside runc's range.
    #[error("uids and gids must be in range 0-2147483647")]
    IdOutOfRange,
    /// Neither an entrypoint nor a command.
    #[error("No command specified")]
    NoCommand,
    /// The command cannot be started.
    #[error("OCI runtime create failed: unable to start container process: {0}")]
    Exec(#[from] ExecError),
    /// The OCI runtime (embedded or external) failed.
    #[error("OCI runtime {op} failed for container {id}: {message}")]
    Oci {
        /// create, start, kill, delete, exec.
        op: &'static str,
        /// The container.
        id: String,
        /// What the runtime said.
        message: String,
    },
    /// The supervisor reported that the container could not start.
    #[error("{message}")]
    Start {
        /// docker's exit code.
        code: i32,
        /// The supervisor's message.
        message: String,
    },
    /// The container is not running (exec, kill, …).
    #[error("Container {0} is not running")]
    NotRunning(String),
    /// `--network NAME` names no network.
    #[error("network {0} not found")]
    NoSuchNetwork(String),
    /// `rm` of a running (or restarting) container without `-f`.
    #[error(
        "You cannot remove a {state} container {id}. Stop the container before attempting removal or force remove"
    )]
    RemoveRunning {
        /// `running` or `restarting` (docker's state word).
        state: &'static str,
        /// The container's ID.
        id: String,
    },
    /// The container's state forbids the operation (docker's 409: pause
    /// of a paused container, a name taken by another).
    #[error("{0}")]
    Conflict(String),
    /// The container is already running (`start` is a no-op for docker,
    /// but some operations refuse).
    #[error("container {0} is already running")]
    AlreadyRunning(String),
    /// A file system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// A system call failed.
    #[error("{op}: {source}")]
    Sys {
        /// What was being done.
        op: &'static str,
        /// Why it failed.
        #[source]
        source: nix::Error,
    },
    /// Bad user input or a corrupt record.
    #[error("{0}")]
    Invalid(String),
    /// The operation was cancelled (a signal; see `strata_store::cancel`).
    #[error("cancelled")]
    Cancelled,
    /// The attached client typed the detach keys; the container runs on.
    #[error("read escape sequence")]
    Detached,
    /// The default isolation met a kernel that refuses mounts or
    /// namespaces here (what failed, with the OS error).
    #[error(
        "{0}: this environment allows no mounts or namespaces (an unprivileged container?); build with --isolation chroot (or STRATA_ISOLATION=chroot), which isolates less (see docs/rootless.md)"
    )]
    NeedsChroot(String),
}

impl RuntimeError {
    /// docker's CLI exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            RuntimeError::Exec(e) => e.exit_code(),
            RuntimeError::Start { code, .. } => *code,
            _ => 125,
        }
    }
}

/// Adds the operation and path to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| RuntimeError::Io {
            op,
            path: path.into(),
            source,
        })
    }
}

/// Adds the operation to a `nix::Error`.
pub(crate) trait SysContext<T> {
    fn sys(self, op: &'static str) -> Result<T>;
}

impl<T> SysContext<T> for nix::Result<T> {
    fn sys(self, op: &'static str) -> Result<T> {
        self.map_err(|source| RuntimeError::Sys { op, source })
    }
}
