//! The store's error type: every variant names what it was about (digest,
//! path, reference) so the CLI can print one clear line.

use std::path::PathBuf;

use strata_oci::Digest;

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The metadata database failed.
    #[error("metadata database: {0}")]
    Db(#[from] rusqlite::Error),
    /// Bytes did not match the digest (or size) they were promised to have.
    #[error("{what} {expected}: {detail}")]
    DigestMismatch {
        /// What was being written (`blob`, `layer`).
        what: &'static str,
        /// The digest the bytes should have had.
        expected: Digest,
        /// What was found instead.
        detail: String,
    },
    /// A blob the store should hold is missing.
    #[error("blob {0} not found in the content store")]
    BlobNotFound(Digest),
    /// No image matches a reference or ID.
    #[error("No such image: {0}")]
    ImageNotFound(String),
    /// A short ID prefix matches several images.
    #[error("{0}: ambiguous image ID prefix, matches several images")]
    AmbiguousImage(String),
    /// A reference is invalid.
    #[error(transparent)]
    Reference(#[from] strata_oci::ReferenceError),
    /// A manifest or config is malformed or unsupported.
    #[error("{context}: {source}")]
    Manifest {
        /// Where (digest or file).
        context: String,
        /// The parse error.
        source: strata_oci::manifest::ManifestError,
    },
    /// A config is not valid JSON of the expected shape.
    #[error("image config {digest}: {source}")]
    Config {
        /// The config digest.
        digest: Digest,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A layer could not be created or applied.
    #[error(transparent)]
    Layer(#[from] crate::layer::LayerError),
    /// Anything else the caller did wrong, with its message.
    #[error("{0}")]
    Invalid(String),
    /// An operation conflicts with the store's state (image in use, …).
    #[error("{0}")]
    Conflict(String),
    /// A container lookup failed.
    #[error("No such container: {0}")]
    ContainerNotFound(String),
}

/// Store result.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Attaches a path and an operation name to an `io::Error`.
pub trait IoContext<T> {
    /// Maps the error to [`StoreError::Io`].
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| StoreError::Io {
            op,
            path: path.into(),
            source,
        })
    }
}
