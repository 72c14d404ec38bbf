//! Errors of COPY/ADD selection and writing. Texts follow docker/BuildKit
//! where a user would recognise them; each names the source, pattern,
//! path or URL it is about.

use std::path::PathBuf;

use crate::context::ContextError;

/// Why COPY/ADD could not select or write its sources.
#[derive(Debug, thiserror::Error)]
pub enum FileOpError {
    /// A literal source (or the literal prefix of a wildcard) is missing.
    #[error("failed to compute cache key: \"/{path}\": not found{}", hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    NotFound {
        /// COPY, ADD or RUN --mount.
        command: &'static str,
        /// The path, relative to the tree root.
        path: String,
        /// Why (e.g. the ignore pattern that excluded it).
        hint: Option<String>,
    },
    /// A source path climbs out of the context with `..`.
    #[error("{command} source {src:?} is outside the build context")]
    EscapesContext {
        /// COPY or ADD.
        command: &'static str,
        /// The source as written.
        src: String,
    },
    /// Following a symlink leaves the context.
    #[error(
        "{command} source {src:?}: symlink {link:?} points outside the build context (to {target:?})"
    )]
    SymlinkEscape {
        /// COPY or ADD.
        command: &'static str,
        /// The source as written.
        src: String,
        /// The symlink, relative to the context root.
        link: String,
        /// Its target.
        target: String,
    },
    /// Too many levels of symbolic links.
    #[error("{path}: too many levels of symbolic links")]
    SymlinkLoop {
        /// Where resolution gave up.
        path: String,
    },
    /// Docker's rule for several sources.
    #[error(
        "When using {command} with more than one source file, the destination must be a directory and end with a /"
    )]
    DestNotDir {
        /// COPY or ADD.
        command: &'static str,
    },
    /// A directory would be written over a non-directory.
    #[error("cannot copy to non-directory: {path}")]
    CopyToNonDir {
        /// Path in the image.
        path: String,
    },
    /// A file would be written over a directory.
    #[error("cannot replace to directory {path} with file")]
    ReplaceDir {
        /// Path in the image.
        path: String,
    },
    /// A parent of the destination exists and is not a directory.
    #[error("mkdir {path}: not a directory")]
    ParentNotDir {
        /// Path in the image.
        path: String,
    },
    /// `--chown` names a user the image does not have.
    #[error(
        "unable to convert uid/gid chown string to host mapping: can't find uid for user {user}: no such user: {user}"
    )]
    UnknownUser {
        /// The user name.
        user: String,
    },
    /// `--chown` names a group the image does not have.
    #[error(
        "unable to convert uid/gid chown string to host mapping: can't find gid for group {group}: no such group: {group}"
    )]
    UnknownGroup {
        /// The group name.
        group: String,
    },
    /// `--chmod` is not a valid mode.
    #[error("{0}")]
    Chmod(String),
    /// An `--exclude` (or `--parents`) pattern is invalid.
    #[error("invalid pattern {pattern:?}: {error}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// Why.
        error: String,
    },
    /// A URL source given to COPY.
    #[error("source can't be a URL for COPY")]
    UrlInCopy,
    /// A git source: strata cannot fetch git repositories.
    #[error(
        "ADD {url}: strata cannot fetch git sources; clone the repository into the build context and COPY it"
    )]
    GitSource {
        /// The URL.
        url: String,
    },
    /// `--checksum` without a single http(s) source.
    #[error("{0}")]
    Checksum(String),
    /// Downloading a URL failed.
    #[error("ADD {url}: {reason}")]
    Download {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The downloaded content does not match `--checksum`.
    #[error("ADD {url}: checksum mismatch: expected {expected}, got {actual}")]
    ChecksumMismatch {
        /// The URL.
        url: String,
        /// `--checksum`.
        expected: String,
        /// What was downloaded.
        actual: String,
    },
    /// A selected file changed between selection and copy.
    #[error(
        "{path}: file changed during the build (its cache key is no longer valid); build again"
    )]
    Changed {
        /// The source path.
        path: PathBuf,
    },
    /// An ADD archive could not be extracted.
    #[error("ADD {src}: {reason}")]
    Archive {
        /// The source.
        src: String,
        /// What went wrong.
        reason: String,
    },
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
    /// The context or its stat index failed.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// A `.dockerignore` pattern failed when it was evaluated (`[[:foo:]]`);
    /// BuildKit's context transfer fails the build the same way.
    #[error("failed to match excludepatterns: {0}")]
    IgnorePattern(strata_dockerfile::dockerignore::DockerignoreError),
}

impl FileOpError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| FileOpError::Io { op, path, source }
    }
}
