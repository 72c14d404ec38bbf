//! The registry client's error type. Every variant names what it was about
//! (reference, repository, digest, registry host) so the CLI prints one
//! clear line, and the variants a user can act on say how: a 401 names
//! `strata login <registry>`.

use strata_oci::Digest;
use strata_store::StoreError;

/// Errors from talking to a registry, pulling, pushing and the build cache.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry wants credentials we do not have, or rejected ours.
    #[error("{what}: unauthorized: {reason}; log in with `{login}`")]
    Unauthorized {
        /// What was being done (`pull access to 127.0.0.1:5101/app`).
        what: String,
        /// The registry's reason, or ours.
        reason: String,
        /// The login command to run (`strata login 127.0.0.1:5101`).
        login: String,
    },
    /// Authenticated, but not allowed (HTTP 403, `DENIED`).
    #[error("{what}: denied: {reason}")]
    Forbidden {
        /// What was being done.
        what: String,
        /// The registry's message.
        reason: String,
    },
    /// The manifest (tag or digest) does not exist.
    #[error("manifest unknown: {reference} was not found on {registry}")]
    ManifestUnknown {
        /// The reference as the user wrote it (familiar form).
        reference: String,
        /// The registry host.
        registry: String,
    },
    /// The repository does not exist (`NAME_UNKNOWN`) or another 404.
    #[error("{what}: not found on {registry}: {reason}")]
    NotFound {
        /// What was looked for.
        what: String,
        /// The registry host.
        registry: String,
        /// The registry's message.
        reason: String,
    },
    /// Any other unexpected HTTP status.
    #[error("{what}: {registry} answered HTTP {status}: {message}")]
    Status {
        /// What was being done.
        what: String,
        /// The registry host.
        registry: String,
        /// The status code.
        status: u16,
        /// The registry's message (error envelope or body).
        message: String,
    },
    /// The registry could not be reached, or the connection broke, after
    /// every retry.
    #[error("{what}: cannot talk to {registry}: {reason}")]
    Connection {
        /// What was being done.
        what: String,
        /// The registry host.
        registry: String,
        /// The transport error, with its causes.
        reason: String,
    },
    /// The registry answered something that breaks the distribution spec.
    #[error("{what}: {registry}: {reason}")]
    Protocol {
        /// What was being done.
        what: String,
        /// The registry host.
        registry: String,
        /// What was wrong.
        reason: String,
    },
    /// Bytes from the registry did not hash to the digest they were
    /// promised to have; nothing was stored.
    #[error("{what} {expected}: digest mismatch: {detail}")]
    DigestMismatch {
        /// `blob`, `manifest`, `config`.
        what: &'static str,
        /// The digest the bytes should have had.
        expected: Digest,
        /// What was found.
        detail: String,
    },
    /// A layer failed to download, verify or unpack.
    #[error("layer {digest}: {error}")]
    Layer {
        /// The layer's blob digest.
        digest: Digest,
        /// Why (shown in the message, so not a `source`: the chain would
        /// print it twice).
        error: Box<RegistryError>,
    },
    /// An index has no manifest for the requested platform.
    #[error("{reference}: no matching manifest for {platform} in the manifest list entries")]
    NoMatchingPlatform {
        /// The reference.
        reference: String,
        /// `linux/amd64`.
        platform: String,
    },
    /// A `--platform` strata cannot run.
    #[error("platform {0:?} is not supported: strata pulls images of the host platform only")]
    Platform(String),
    /// A manifest, index or config is malformed or of an unsupported kind.
    #[error("{context}: {reason}")]
    Manifest {
        /// Which document (reference or digest).
        context: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A reference does not parse.
    #[error(transparent)]
    Reference(#[from] strata_oci::ReferenceError),
    /// The docker config file or a credential helper failed.
    #[error("credentials: {0}")]
    Credentials(String),
    /// A local file could not be read or written.
    #[error("{op} {path}: {error}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On what.
        path: std::path::PathBuf,
        /// The OS error (in the message, not a `source`).
        error: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An invalid argument or state, with its message.
    #[error("{0}")]
    Invalid(String),
    /// The command was cancelled (a signal; see `strata_store::cancel`).
    #[error("cancelled")]
    Cancelled,
}

impl RegistryError {
    /// True for errors worth retrying (connection trouble).
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::Connection { .. } => true,
            RegistryError::Status { status, .. } => *status >= 500 || *status == 429,
            RegistryError::Layer { error, .. } => error.is_transient(),
            _ => false,
        }
    }

    /// Says that retries ran out (`… (gave up after 3 attempts)`) on a
    /// connection or server error; other errors are returned as they are.
    pub fn after_attempts(self, attempts: u32) -> RegistryError {
        let note = format!(" (gave up after {attempts} attempts)");
        match self {
            RegistryError::Connection {
                what,
                registry,
                reason,
            } if !reason.ends_with(" attempts)") => RegistryError::Connection {
                what,
                registry,
                reason: reason + &note,
            },
            RegistryError::Status {
                what,
                registry,
                status,
                message,
            } if !message.ends_with(" attempts)") => RegistryError::Status {
                what,
                registry,
                status,
                message: message + &note,
            },
            e => e,
        }
    }

    /// Names the user's operation (`push 127.0.0.1:5101/app:v1`) in an
    /// access error, which would otherwise name the request that failed.
    pub fn for_operation(self, op: &str) -> RegistryError {
        match self {
            RegistryError::Unauthorized { reason, login, .. } => RegistryError::Unauthorized {
                what: op.to_string(),
                reason,
                login,
            },
            RegistryError::Forbidden { reason, .. } => RegistryError::Forbidden {
                what: op.to_string(),
                reason,
            },
            RegistryError::Layer { error, digest } => match *error {
                e @ (RegistryError::Unauthorized { .. } | RegistryError::Forbidden { .. }) => {
                    e.for_operation(op)
                }
                other => RegistryError::Layer {
                    digest,
                    error: Box::new(other),
                },
            },
            e => e,
        }
    }

    /// Wraps an error as belonging to layer `digest` (unless it already names it).
    pub fn in_layer(self, digest: &Digest) -> RegistryError {
        match &self {
            RegistryError::Layer { .. } => self,
            e if e.to_string().contains(digest.as_str()) => self,
            _ => RegistryError::Layer {
                digest: digest.clone(),
                error: Box::new(self),
            },
        }
    }
}

/// Registry result.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// Attaches a path and an operation to an `io::Error`.
pub(crate) fn io_err(
    op: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> RegistryError {
    let path = path.to_path_buf();
    move |error| RegistryError::Io { op, path, error }
}

/// The error chain of `e` on one line (`a: b: c`).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}
