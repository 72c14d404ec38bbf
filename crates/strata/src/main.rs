//! `strata`: a daemonless, Docker-compatible image builder, image store,
//! registry client and container runner.
//!
//! This binary is thin: [`cli`] declares docker's command tree with clap
//! ([`grammar`] makes it read arguments as docker does, [`help`] adds
//! examples, man pages and completions to it),
//! each file under [`commands`] turns its flags into a call on a library
//! crate (strata-store, strata-runtime, strata-registry, strata-build) and
//! prints the result the way docker prints it (strata-format). Errors are
//! printed once, with their context, and mapped to docker's exit codes in
//! [`exit`].

mod cli;
mod commands;
mod context;
mod exit;
mod grammar;
mod help;
mod service;
mod signals;

fn main() {
    // First, while the process has one thread: an ordinary user's strata
    // runs in a user namespace of its own (rootless).
    match strata_runtime::rootless_linux::enter() {
        Ok(Some(strata_runtime::rootless_linux::Mapping::Single(why))) => eprintln!(
            "WARNING: {why}: rootless with a single id; files owned by other users are stored as root (add subordinate ids: see the README's rootless section)"
        ),
        Ok(_) => {}
        Err(e) => {
            eprintln!("Error: {e}");
            if matches!(e, strata_runtime::rootless_linux::RootlessError::Sys { .. }) {
                // The Kaniko case: no user namespace for an ordinary user.
                eprintln!(
                    "strata needs a user namespace when not run as root; where none can be made (an unprivileged container), run it as root there and build with --isolation chroot (see docs/rootless.md)"
                );
            }
            std::process::exit(125);
        }
    }
    let (cli, matches) = help::parse();
    context::init_logging(&cli.global);
    // Helpers (`__shim`) handle their own signals.
    let words = subcommand_words(&matches);
    if words.first().is_some_and(|w| w != "__shim") {
        signals::install(&format!("strata {}", words.join(" ")));
    }
    let code = match commands::dispatch(cli) {
        Ok(code) => code,
        Err(err) => match signals::cancelled() {
            // Cancelled: one line saying so, and docker's code.
            Some(sig) => {
                tracing::debug!("cancelled: {err:#}");
                eprintln!("Error: {}", signals::message(sig));
                signals::exit_code(sig)
            }
            None => exit::report(&err),
        },
    };
    std::process::exit(code);
}

/// The subcommand path (`["image", "pull"]`).
fn subcommand_words(m: &clap::ArgMatches) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = m;
    while let Some((name, sub)) = cur.subcommand() {
        out.push(name.to_string());
        cur = sub;
    }
    out
}
