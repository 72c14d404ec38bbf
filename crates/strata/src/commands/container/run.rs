//! `strata container run` (`run`): create, start, and — unless `-d` —
//! stay attached until the container exits, with its exit code as ours.
//! `-d` prints the full ID once the container runs; a container that
//! cannot start fails the command with docker's message and code.

use std::io::IsTerminal;

use clap::{ArgAction, Args};
use strata_runtime::client_linux::AttachOptions;
use strata_runtime::detach_keys::{self, DetachKeys};
use strata_runtime::foreground_linux::Foreground;
use strata_runtime::ops;

use super::create::{CreateFlags, create};
use super::rt;
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `run`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Create flags.
    #[command(flatten)]
    pub flags: CreateFlags,
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Proxy received signals to the process
    #[arg(long, action = ArgAction::Set, default_value_t = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "string")]
    pub detach_keys: Option<String>,
    /// The image
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Command and arguments
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub args: Vec<String>,
}

/// Runs `run`.
pub fn run(ctx: &Ctx, args: RunArgs) -> anyhow::Result<i32> {
    let f = &args.flags;
    if args.detach && f.rm && !f.attach.is_empty() {
        return Err(ExitError::new(125, "Conflicting options: -a and -d").into());
    }
    if !args.detach && f.tty && f.interactive && !std::io::stdin().is_terminal() {
        return Err(ExitError::new(1, "the input device is not a TTY").into());
    }
    let keys = DetachKeys::parse(args.detach_keys.as_deref().unwrap_or(detach_keys::DEFAULT))
        .map_err(rt)?;
    let foreground_rm = !args.detach && f.rm && args.sig_proxy && !f.tty && !f.interactive;
    // Started now, it overlaps the create (see the function).
    let warm = if foreground_rm {
        strata_runtime::launch_linux::warm_cgroup_moves()
    } else {
        None
    };
    let c = create(ctx, f, &args.image, &args.args, !args.detach)?;
    let store = ctx.store()?;
    let cfg = &c.spec.config;
    if foreground_rm && !cfg.tty && !cfg.attach_stdin {
        // The common `run --rm IMAGE CMD`: started and waited for here,
        // without a supervisor process (nothing outlives this command
        // anyway); signals go to the container from now on (one that came
        // during the create cancels it, as before a supervisor's start).
        if strata_store::cancel::Cancel::global().is_cancelled() {
            let _ = ops::remove(store, &c, true, true);
            return Err(rt(strata_runtime::RuntimeError::Cancelled));
        }
        crate::signals::hand_over();
        let end = ops::run_in_process(store, &c, cfg.attach_stdout, cfg.attach_stderr, warm);
        return match end.map_err(rt)? {
            Foreground::Exited(code) => Ok(code),
            Foreground::Cancelled(sig) => {
                eprintln!("Error: {}", crate::signals::message(sig));
                Ok(crate::signals::exit_code(sig))
            }
        };
    }
    if let Some(h) = warm {
        let _ = h.join();
    }
    let mut sup = ops::start(store, &c).map_err(rt)?;
    if cfg.tty && !args.detach {
        sup.send_size();
    }
    sup.wait_started().map_err(rt)?;
    if args.detach {
        println!("{}", c.id);
        return Ok(0);
    }
    if args.sig_proxy && !cfg.tty {
        // From now on signals go to the container (docker's --sig-proxy).
        crate::signals::hand_over();
    }
    let relayed = sup.relay(AttachOptions {
        stdin: cfg.attach_stdin,
        stdout: cfg.attach_stdout,
        stderr: cfg.attach_stderr,
        tty: cfg.tty,
        sig_proxy: args.sig_proxy,
        detach_keys: Some(keys),
    });
    match relayed {
        Ok(code) => Ok(code),
        // docker's `run` leaves quietly; the container runs on.
        Err(strata_runtime::RuntimeError::Detached) => Ok(0),
        Err(e) => Err(rt(e)),
    }
}
