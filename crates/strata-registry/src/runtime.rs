//! The sync façade: every public operation builds its own small tokio
//! runtime, so the build engine and `container run` call them from plain
//! threads. Called from inside a runtime, the work moves to a fresh thread
//! (a runtime cannot block inside another).

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
