//! `strata container attach` (`attach`): the local terminal or stdio to a
//! running container, through its supervisor's attach socket, until the
//! container exits (its exit code is ours) or the detach keys (default
//! Ctrl-P Ctrl-Q, `--detach-keys`) are typed: then docker's `read escape
//! sequence`, exit 1, and the container runs on.

use std::io::IsTerminal;

use clap::{ArgAction, Args};
use strata_runtime::RuntimeError;
use strata_runtime::client_linux::{AttachOptions, Supervised};
use strata_runtime::containers::paths;
use strata_runtime::detach_keys::{self, DetachKeys};

use super::{lookup, rt};
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `attach`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "string")]
    pub detach_keys: Option<String>,
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long, action = ArgAction::Set, default_value_t = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: bool,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// docker's refusal, printed as its CLI prints it (no prefix), exit 1.
fn refuse(msg: &str) -> anyhow::Error {
    eprintln!("{msg}");
    ExitError::new(1, "").into()
}

/// Runs `attach`.
pub fn run(ctx: &Ctx, args: AttachArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let c = lookup(store, &args.container)?;
    if !c.is_running() {
        return Err(refuse(
            "You cannot attach to a stopped container, start it first",
        ));
    }
    if c.state.restarting {
        return Err(refuse(
            "You cannot attach to a restarting container, wait until it is running",
        ));
    }
    if c.state.paused {
        return Err(refuse(
            "You cannot attach to a paused container, unpause it first",
        ));
    }
    let cfg = &c.spec.config;
    let stdin = !args.no_stdin && cfg.open_stdin;
    if cfg.tty && stdin && !std::io::stdin().is_terminal() {
        return Err(refuse("the input device is not a TTY"));
    }
    let keys = DetachKeys::parse(args.detach_keys.as_deref().unwrap_or(detach_keys::DEFAULT))
        .map_err(|e| ExitError::new(1, format!("Error response from daemon: {e}")))?;
    let mut sup = Supervised::attach(&paths(store, &c.id).dir).map_err(rt)?;
    if cfg.tty {
        sup.send_size();
    }
    if args.sig_proxy && !cfg.tty {
        crate::signals::hand_over();
    }
    let relayed = sup.relay(AttachOptions {
        stdin,
        stdout: true,
        stderr: true,
        tty: cfg.tty,
        sig_proxy: args.sig_proxy,
        detach_keys: Some(keys),
    });
    match relayed {
        Ok(code) => Ok(code),
        Err(RuntimeError::Detached) => Err(refuse("read escape sequence")),
        Err(e) => Err(rt(e)),
    }
}
