//! `strata container exec` (`exec`): resolves the container, then turns
//! this process into strata-runtime's exec helper (an `execve` of this
//! binary's hidden `__shim exec`), which owns the terminal and signals from
//! then on; its exit code is ours (the command's, or 126 when it cannot
//! start, as docker).

use std::io::IsTerminal;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use clap::Args;
use strata_runtime::exec_linux::ExecRequest;
use strata_runtime::helper;
use strata_runtime::spec::process::{normalize_user_env, parse_env_file};

use super::{lookup, rt};
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long, value_name = "list")]
    pub env_file: Vec<PathBuf>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long, value_name = "string", allow_hyphen_values = true)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long, value_name = "string")]
    pub workdir: Option<String>,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Command and arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

/// Runs `exec`.
pub fn run(ctx: &Ctx, args: ExecArgs) -> anyhow::Result<i32> {
    if args.tty && args.interactive && !args.detach && !std::io::stdin().is_terminal() {
        return Err(ExitError::new(1, "the input device is not a TTY").into());
    }
    let store = ctx.store()?;
    let c = lookup(store, &args.container)?;
    // The daemon's refusals, as docker's CLI prints them.
    let refusal = if !c.is_running() {
        Some(format!("Container {} is not running", c.id))
    } else if c.state.paused {
        Some(format!(
            "Container {} is paused, unpause the container before exec",
            args.container
        ))
    } else if c.state.restarting {
        Some(format!(
            "Container {} is restarting, wait until the container is running",
            c.id
        ))
    } else {
        None
    };
    if let Some(r) = refusal {
        eprintln!("Error response from daemon: {r}");
        return Err(ExitError::new(1, "").into());
    }
    let mut env = Vec::new();
    for file in &args.env_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| ExitError::new(1, format!("open {}: {}", file.display(), e.kind())))?;
        env.extend(parse_env_file(&text).map_err(rt)?);
    }
    env.extend(args.env.iter().cloned());
    let env = normalize_user_env(&env, |k| std::env::var(k).ok()).map_err(rt)?;
    let req = ExecRequest {
        args: args.command.clone(),
        env,
        user: args.user.clone(),
        workdir: args.workdir.clone(),
        tty: args.tty,
        interactive: args.interactive,
        detach: args.detach,
    };
    let root = store.root().to_path_buf();
    let err = std::process::Command::new(helper::helper_binary())
        .args(helper::exec_args(&root, &c.id, &req))
        .env("STRATA_LOG", helper::log_filter())
        .exec();
    Err(ExitError::new(126, format!("exec the helper: {err}")).into())
}
