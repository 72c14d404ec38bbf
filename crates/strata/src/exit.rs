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
    let msg = message(err);
    if !msg.is_empty() {
        // An error may quote what a user wrote (a Dockerfile line, a path):
        // never let it drive the terminal.
        eprintln!("Error: {}", strata_dockerfile::escape_controls(&msg, true));
    }
    code
}

/// The error and its causes on one line (`a: b: c`), leaving out a cause
/// whose text the line already holds: library errors often print their
/// source in their own message, and would otherwise print it twice
/// (`File name too long (os error 36): File name too long (os error 36)`).
pub fn message(err: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in err.chain() {
        let c = cause.to_string();
        if c.is_empty() || msg.contains(&c) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&c);
    }
    msg
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("open {path}: {source}")]
    struct Wrapped {
        path: String,
        source: io::Error,
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let e = Wrapped {
            path: "/x".into(),
            source: io::Error::from_raw_os_error(36),
        };
        let err = anyhow::Error::new(e).context("opening the store at /r");
        assert_eq!(
            message(&err),
            "opening the store at /r: open /x: File name too long (os error 36)"
        );
        let plain = anyhow::anyhow!("one").context("two");
        assert_eq!(message(&plain), "two: one");
    }
}
