//! Errors of the build context and its stat index: each names the path or
//! the ignore file it is about.

use std::path::PathBuf;

use strata_dockerfile::dockerignore::DockerignoreError;
use strata_store::StoreError;

/// Why a build context could not be opened, unpacked or indexed.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
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
    /// The context path is not a directory.
    #[error("unable to prepare context: path {0:?} not found or not a directory")]
    NotADirectory(PathBuf),
    /// A `.dockerignore` could not be read.
    #[error("{file}: {error}")]
    Ignore {
        /// The ignore file.
        file: PathBuf,
        /// What is wrong in it.
        error: DockerignoreError,
    },
    /// A Dockerfile or ignore file named inside the context is a symlink
    /// that leads out of it.
    #[error(
        "{file}: it is a symlink to {target}, outside the build context; strata does not read it"
    )]
    OutsideContext {
        /// The file as named.
        file: PathBuf,
        /// Where its symlinks lead.
        target: PathBuf,
    },
    /// The context tar given on stdin is not a valid (compressed) tar.
    #[error("build context from stdin: {0}")]
    Tar(String),
    /// The metadata DB failed (stat index load or write-back).
    #[error("build context stat index: {0}")]
    Store(#[from] StoreError),
}

impl ContextError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| ContextError::Io { op, path, source }
    }
}
