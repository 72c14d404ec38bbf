//! The sync façade: every public operation builds its own small tokio
//! runtime, so the build engine and `container run` call them from plain
//! threads. Called from inside a runtime, the work moves to a fresh thread
//! (a runtime cannot block inside another).
//!
//! Every wait on the network goes through [`block_on`], which gives up as
//! soon as the command is cancelled (a signal, `strata_store::cancel`):
//! the dropped futures abort their requests, and staged layers and ingests
//! are dropped with them.

use std::future::Future;

use strata_store::cancel::Cancel;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::runtime::{Builder, Runtime};

use crate::error::{RegistryError, Result};

/// Worker threads for network I/O (extraction runs on its own threads).
const WORKERS: usize = 2;

fn build() -> Result<Runtime> {
    Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .thread_name("strata-registry")
        .enable_all()
        .build()
        .map_err(|e| RegistryError::Invalid(format!("cannot start the I/O runtime: {e}")))
}

/// Runs `f` with a runtime of its own.
pub fn with_runtime<T: Send>(f: impl FnOnce(&Runtime) -> Result<T> + Send) -> Result<T> {
    let go = move || -> Result<T> {
        let rt = build()?;
        let out = f(&rt);
        rt.shutdown_timeout(std::time::Duration::from_secs(1));
        out
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(go).join().unwrap_or_else(|_| {
                Err(RegistryError::Invalid(
                    "registry worker thread panicked".into(),
                ))
            })
        })
    } else {
        go()
    }
}

/// Runs `fut` to completion on `rt`, or fails with
/// [`RegistryError::Cancelled`] as soon as the command is cancelled.
pub fn block_on<T>(rt: &Runtime, fut: impl Future<Output = Result<T>>) -> Result<T> {
    rt.block_on(async {
        tokio::select! {
            r = fut => r,
            () = cancelled() => Err(RegistryError::Cancelled),
        }
    })
}

/// Completes when the process's cancel token fires (never, if its
/// descriptor cannot be watched).
pub async fn cancelled() {
    let c = Cancel::global();
    let watched = c
        .fd()
        .and_then(|fd| fd.try_clone_to_owned().ok())
        // SAFETY: `fd` is a fresh, owned duplicate that the AsyncFd owns
        // and closes: it stays open and the same for the AsyncFd's life.
        .and_then(|fd| unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.ok());
    let Some(afd) = watched else {
        return std::future::pending().await;
    };
    loop {
        if c.is_cancelled() {
            return;
        }
        match afd.readable().await {
            Ok(mut guard) => {
                if c.is_cancelled() {
                    return;
                }
                guard.clear_ready();
            }
            Err(_) => return std::future::pending().await,
        }
    }
}
