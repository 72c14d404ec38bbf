//! `strata container pause` / `unpause` (`pause`, `unpause`): freeze and
//! thaw every process of containers through the cgroup freezer
//! (strata-runtime's `freezer_linux`). A paused container is still running:
//! `inspect` shows `"Status": "paused"`, `"Running": true, "Paused": true`
//! and `ps` `Up 3 seconds (Paused)`, as docker does. `kill`, `stop` and
//! `rm -f` of a paused container thaw it so the signal is delivered
//! ([`thaw_for_signal`]), as docker's daemon resumes a paused container it
//! signals.

use anyhow::anyhow;
use clap::Args;
use strata_runtime::containers::update_state;
use strata_runtime::freezer_linux::ContainerCgroup;
use strata_runtime::{Container, RuntimeError};
use strata_store::Store;

use super::{each, lookup};
use crate::context::Ctx;

/// Flags of `pause` and `unpause`.
#[derive(Debug, Args)]
pub struct PauseArgs {
    /// Containers to pause or unpause
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Runs `pause`.
pub fn pause(ctx: &Ctx, args: PauseArgs) -> anyhow::Result<i32> {
    each(ctx, &args.containers, |store, name| {
        pause_container(store, &lookup(store, name)?)?;
        Ok(Some(name.to_string()))
    })
}

/// Runs `unpause`.
pub fn unpause(ctx: &Ctx, args: PauseArgs) -> anyhow::Result<i32> {
    each(ctx, &args.containers, |store, name| {
        unpause_container(store, &lookup(store, name)?)?;
        Ok(Some(name.to_string()))
    })
}

/// Freezes `c` (the CLI's `pause` and the API's). A state that forbids
/// it is a [`RuntimeError`] (`NotRunning`, `Conflict`: docker's 409).
pub fn pause_container(store: &Store, c: &Container) -> anyhow::Result<()> {
    if !c.is_running() {
        return Err(RuntimeError::NotRunning(c.id.clone()).into());
    }
    if c.state.paused {
        return Err(RuntimeError::Conflict(format!("Container {} is already paused", c.id)).into());
    }
    if c.state.restarting {
        return Err(RuntimeError::Conflict(format!(
            "Container {} is restarting, wait until the container is running",
            c.id
        ))
        .into());
    }
    ContainerCgroup::of(&c.id)
        .freeze()
        .map_err(|e| anyhow!("Cannot pause container {}: {e}", c.id))?;
    set_paused(store, c, true)
}

/// Thaws `c` (the CLI's `unpause` and the API's); one not paused is a
/// [`RuntimeError::Conflict`].
pub fn unpause_container(store: &Store, c: &Container) -> anyhow::Result<()> {
    if !c.state.paused || !c.is_running() {
        return Err(RuntimeError::Conflict(format!("Container {} is not paused", c.id)).into());
    }
    ContainerCgroup::of(&c.id)
        .thaw()
        .map_err(|e| anyhow!("Cannot unpause container {}: {e}", c.id))?;
    set_paused(store, c, false)
}

/// Thaws a paused container about to be signalled (`kill`, `stop`,
/// `rm -f`): a frozen process would not act on the signal.
pub fn thaw_for_signal(store: &Store, c: &Container) -> anyhow::Result<()> {
    if !c.state.paused {
        return Ok(());
    }
    if c.is_running() {
        ContainerCgroup::of(&c.id)
            .thaw()
            .map_err(|e| anyhow!("Cannot unpause container {}: {e}", c.id))?;
    }
    set_paused(store, c, false)
}

fn set_paused(store: &Store, c: &Container, paused: bool) -> anyhow::Result<()> {
    update_state(store, &c.id, |s| {
        // The process may have exited meanwhile: its record stands.
        if s.running {
            s.paused = paused;
            s.status = if paused { "paused" } else { "running" }.into();
        } else {
            s.paused = false;
        }
    })?;
    let action = if paused { "pause" } else { "unpause" };
    strata_runtime::events::container(store, c, action, &[]);
    Ok(())
}
