//! `strata`: a daemonless, Docker-compatible image builder, image store,
//! registry client and container runner.
//!
//! This binary is thin: [`cli`] declares docker's command tree with clap
//! ([`help`] adds examples, man pages and completions to it),
//! each file under [`commands`] turns its flags into a call on a library
//! crate (strata-store, strata-runtime, strata-registry, strata-build) and
//! prints the result the way docker prints it (strata-format). Errors are
//! printed once, with their context, and mapped to docker's exit codes in
//! [`exit`].

mod cli;
mod commands;
mod context;
mod exit;
mod help;

fn main() {
    let cli = help::parse();
    context::init_logging(&cli.global);
    let code = match commands::dispatch(cli) {
        Ok(code) => code,
        Err(err) => exit::report(&err),
    };
    std::process::exit(code);
}
