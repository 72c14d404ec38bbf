//! The build engine's error: every failure a user can cause names what it
//! is about (Dockerfile line, image reference, path, flag); failures of a
//! step carry the step and its source lines so the CLI can print BuildKit's
//! block (the step's last output lines and the quoted Dockerfile snippet).

use std::path::PathBuf;

use strata_dockerfile::LineRange;

use crate::context::ContextError;
use crate::fileops::FileOpError;
use crate::graph::GraphError;

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile does not parse or expand (`Dockerfile:LINE: message`).
    #[error(transparent)]
    Dockerfile(#[from] strata_dockerfile::Error),
    /// A stage reference in the Dockerfile is wrong (`Dockerfile:LINE: …`).
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// A flag value is invalid.
    #[error("{0}")]
    Invalid(String),
    /// `--platform` (or `FROM --platform`) names another platform.
    #[error(
        "platform {requested:?} is not supported: strata builds only for the host platform ({host}) and does not emulate others"
    )]
    Platform {
        /// What was asked for.
        requested: String,
        /// The host's platform.
        host: String,
    },
    /// The base image is neither in the store nor pullable.
    #[error("failed to resolve source metadata for {reference}: {reason}")]
    BaseImage {
        /// The image reference as written.
        reference: String,
        /// Why (the registry's answer).
        reason: String,
    },
    /// A RUN step exited non-zero.
    #[error(
        "process {} did not complete successfully: exit code: {code}",
        strata_dockerfile::parser::go_quote(.command)
    )]
    RunFailed {
        /// The argv joined with spaces (BuildKit prints it Go-quoted,
        /// docker's classic builder as is).
        command: String,
        /// Its exit code.
        code: i32,
    },
    /// A secret a RUN mount requires was not given with `--secret`.
    #[error("secret {0} not found (pass it with --secret id={0},src=FILE)")]
    SecretMissing(String),
    /// The build context could not be opened or indexed.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// COPY/ADD could not select or write its sources.
    #[error(transparent)]
    FileOp(#[from] FileOpError),
    /// The image store failed.
    #[error(transparent)]
    Store(#[from] strata_store::StoreError),
    /// Running a step failed.
    #[error(transparent)]
    Runtime(#[from] strata_runtime::RuntimeError),
    /// A registry operation (pull, cache import/export) failed.
    #[error(transparent)]
    Registry(#[from] strata_registry::RegistryError),
    /// A filesystem operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another stage failed first; this one stopped.
    #[error("canceled")]
    Canceled,
    /// A step failed: the step (`[2/3] RUN make`), where it is in the
    /// Dockerfile, its last output lines, and why.
    #[error("{source}")]
    Step {
        /// The step as shown in progress.
        step: String,
        /// Its lines in the Dockerfile.
        range: LineRange,
        /// The last lines it printed.
        log: Vec<String>,
        /// Why it failed.
        source: Box<BuildError>,
    },
}

impl BuildError {
    /// An I/O error on `path`.
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| BuildError::Io { op, path, source }
    }

    /// Attaches the failing step (unless already attached).
    pub fn at_step(self, step: &str, range: LineRange, log: Vec<String>) -> BuildError {
        match self {
            e @ (BuildError::Step { .. }
            | BuildError::Canceled
            | BuildError::Dockerfile(_)
            | BuildError::Graph(_)) => e,
            e => BuildError::Step {
                step: step.to_string(),
                range,
                log,
                source: Box::new(e),
            },
        }
    }

    /// The Dockerfile lines the error is about, if any.
    pub fn range(&self) -> Option<LineRange> {
        match self {
            BuildError::Dockerfile(e) => Some(e.range()),
            BuildError::Graph(e) => Some(e.range),
            BuildError::Step { range, .. } => Some(*range),
            _ => None,
        }
    }

    /// BuildKit's quoted source block for the error (`Dockerfile:3`,
    /// `-----`, `   3 | >>> RUN false`), given the Dockerfile text.
    pub fn snippet(&self, source: &str, filename: &str) -> Option<String> {
        strata_dockerfile::render_snippet(source, filename, self.range()?)
    }

    /// The failing step's output block (` > [2/3] RUN make:` and its last
    /// lines), as BuildKit prints it above the snippet.
    pub fn step_log(&self) -> Option<String> {
        let BuildError::Step { step, log, .. } = self else {
            return None;
        };
        let mut out = String::from("------\n");
        out.push_str(&format!(" > {step}:\n"));
        for l in log {
            out.push_str(l);
            out.push('\n');
        }
        out.push_str("------\n");
        Some(out)
    }

    /// The innermost cause (through [`BuildError::Step`]).
    pub fn root(&self) -> &BuildError {
        match self {
            BuildError::Step { source, .. } => source.root(),
            e => e,
        }
    }
}

/// Build result.
pub type Result<T, E = BuildError> = std::result::Result<T, E>;
