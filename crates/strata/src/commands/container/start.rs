//! `strata container start` (`start`): starts created or exited
//! containers (a running one is left alone); with `-a` stays attached to
//! the (single) container's output, `-i` also forwards stdin.

use clap::Args;
use strata_runtime::client_linux::AttachOptions;
use strata_runtime::detach_keys::{self, DetachKeys};
use strata_runtime::ops;

use super::{lookup, rt};
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "string")]
    pub detach_keys: Option<String>,
    /// Containers to start
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Runs `start`.
pub fn run(ctx: &Ctx, args: StartArgs) -> anyhow::Result<i32> {
    if args.attach || args.interactive {
        if args.containers.len() > 1 {
            return Err(ExitError::new(
                1,
                "you cannot start and attach multiple containers at once",
            )
            .into());
        }
        let keys = DetachKeys::parse(args.detach_keys.as_deref().unwrap_or(detach_keys::DEFAULT))
            .map_err(|e| ExitError::new(1, e.to_string()))?;
        let store = ctx.store()?;
        let c = lookup(store, &args.containers[0])?;
        if c.state.paused {
            eprintln!(
                "Error response from daemon: cannot start a paused container, try unpause instead"
            );
            return Err(ExitError::new(
                1,
                format!("failed to start containers: {}", args.containers[0]),
            )
            .into());
        }
        if c.is_running() {
            return Ok(0);
        }
        let mut sup = ops::start(store, &c).map_err(rt)?;
        if c.spec.config.tty {
            sup.send_size();
        }
        sup.wait_started().map_err(rt)?;
        if !c.spec.config.tty {
            // From now on signals go to the container (docker's --sig-proxy).
            crate::signals::hand_over();
        }
        let relayed = sup.relay(AttachOptions {
            stdin: args.interactive && c.spec.config.open_stdin,
            stdout: true,
            stderr: true,
            tty: c.spec.config.tty,
            sig_proxy: true,
            detach_keys: Some(keys),
        });
        return match relayed {
            Err(strata_runtime::RuntimeError::Detached) => Ok(0),
            other => other.map_err(rt),
        };
    }
    // docker: each failure on a line of its own, then one line naming them.
    let store = ctx.store()?;
    let mut failed = Vec::new();
    for name in &args.containers {
        match start_detached(store, name) {
            Ok(()) => println!("{name}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e:#}");
                failed.push(name.as_str());
            }
        }
    }
    if !failed.is_empty() {
        return Err(ExitError::new(
            1,
            format!("failed to start containers: {}", failed.join(", ")),
        )
        .into());
    }
    Ok(0)
}

/// Starts `name` unless it runs; a paused container is docker's conflict.
pub(crate) fn start_detached(store: &strata_store::Store, name: &str) -> anyhow::Result<()> {
    let c = lookup(store, name)?;
    if c.state.paused {
        return Err(anyhow::anyhow!(
            "cannot start a paused container, try unpause instead"
        ));
    }
    if !c.is_running() {
        ops::reconcile(store, &c).map_err(rt)?;
        match ops::start(store, &c) {
            Ok(mut sup) => {
                sup.wait_started().map_err(rt)?;
            }
            // Started by another command meanwhile: docker's no-op.
            Err(strata_runtime::RuntimeError::AlreadyRunning(_)) => {}
            Err(e) => return Err(rt(e)),
        }
    }
    Ok(())
}
