//! The service's spare supervisor (see `strata_runtime::spare_linux`):
//! one made ahead, so a container start hands it the container instead
//! of starting a process and opening the store on the request's path.
//! Taken by a start, it is replaced after that start answered; the spare
//! exits with the service (its control socket closes) unless it got a
//! container, which it then supervises like any other supervisor.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use strata_runtime::spare_linux::Spare;

/// At most one spare supervisor, for the service's store.
pub struct SparePool {
    root: PathBuf,
    slot: Mutex<Option<Spare>>,
}

impl SparePool {
    /// A pool for the store at `root` (empty until [`Self::refill`]).
    pub fn new(root: PathBuf) -> Arc<SparePool> {
        Arc::new(SparePool {
            root,
            slot: Mutex::new(None),
        })
    }

    /// The spare, if one waits (a dead one is dropped).
    pub fn take(&self) -> Option<Spare> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.take().and_then(|mut s| s.is_alive().then_some(s))
    }

    /// Tells the waiting spare that a start is likely to follow (a
    /// container is being created), so it warms cgroup moves meanwhile.
    pub fn warm(&self) {
        if let Some(s) = self.slot.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            s.warm();
        }
    }

    /// Makes a spare if none waits (spawn errors are logged: a start then
    /// spawns its supervisor itself).
    pub fn refill(&self) {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_mut().is_some_and(Spare::is_alive) {
            return;
        }
        match Spare::spawn(&self.root) {
            Ok(s) => *slot = Some(s),
            Err(e) => tracing::warn!("spare supervisor: {e}"),
        }
    }

    /// [`Self::refill`] on a thread of its own, off the request's path.
    pub fn refill_later(self: &Arc<Self>) {
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("strata-spare".into())
            .spawn(move || me.refill());
        if let Err(e) = spawned {
            tracing::warn!("spare supervisor: {e}");
        }
    }
}
