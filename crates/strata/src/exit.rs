//! Errors to exit codes, as docker maps them: 125 when strata itself
//! fails around a container, 126 when the command cannot be invoked, 127
//! when it is not found, the container's own code otherwise; 1 for every
//! other command error. A closed stdout (`strata images | head`) is success.

use std::io;

/// An error that carries its own exit code (container commands).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ExitError {
    /// The process exit code.
    pub code: i32,
    /// What to print (may be empty: the error was already reported).
    pub message: String,
}

impl ExitError {
    /// An error with a code.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        ExitError {
            code,
            message: message.into(),
        }
    }
}

/// Prints `err` once, with its chain of causes, and returns the exit code.
pub fn report(err: &anyhow::Error) -> i32 {
    if is_broken_pipe(err) {
        return 0;
    }
    let code = err.downcast_ref::<ExitError>().map_or(1, |e| e.code);
    let msg = format!("{err:#}");
    if !msg.is_empty() {
        eprintln!("Error: {msg}");
    }
    code
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
