//! `strata login [-u USER] [-p PASS | --password-stdin] [SERVER]`: check
//! the credentials with the registry, then store them as docker does
//! (`~/.docker/config.json`, or its credential helper). Without `-u`/`-p`
//! on a terminal it prompts, the password without echo.

use std::io::{BufRead, IsTerminal, Read, Write};

use anyhow::{Context as _, bail};
use clap::Args;
use strata_registry::auth::StoredIn;

use crate::cli::GlobalArgs;
use crate::commands::registry;

/// Flags of `login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Username
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// The registry (default: Docker Hub)
    pub server: Option<String>,
}

fn prompt(label: &str) -> anyhow::Result<String> {
    eprint!("{label}");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading from the terminal")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

fn prompt_hidden(label: &str) -> anyhow::Result<String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    let old = tcgetattr(&stdin).context("reading terminal settings")?;
    let mut quiet = old.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet).context("turning off echo")?;
    let got = prompt(label);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &old);
    eprintln!();
    got
}

/// Runs `login`.
pub fn run(global: &GlobalArgs, args: LoginArgs) -> anyhow::Result<i32> {
    if args.password.is_some() && args.password_stdin {
        bail!("--password and --password-stdin are mutually exclusive");
    }
    let interactive = std::io::stdin().is_terminal();
    let mut password = args.password.clone();
    if password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    if args.password_stdin {
        if args.username.is_none() {
            bail!("Must provide --username with --password-stdin");
        }
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the password from stdin")?;
        password = Some(s.trim_end_matches(['\n', '\r']).to_string());
    }
    let username = match args.username.clone() {
        Some(u) => u,
        None if interactive => prompt("Username: ")?,
        None => bail!("Cannot perform an interactive login from a non TTY device"),
    };
    let password = match password {
        Some(p) => p,
        None if interactive => prompt_hidden("Password: ")?,
        None => bail!("Cannot perform an interactive login from a non TTY device"),
    };
    let opts = registry::options(global)?;
    let done = strata_registry::login(args.server.as_deref(), username.trim(), &password, &opts)?;
    if let StoredIn::File(path) = &done.stored_in {
        eprintln!(
            "WARNING! Your password will be stored unencrypted in {}.\n\
             Configure a credential helper to remove this warning. See\n\
             https://docs.docker.com/go/credential-store/\n",
            path.display()
        );
    }
    println!("Login Succeeded");
    Ok(0)
}
