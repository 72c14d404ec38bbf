//! What every command shares: the store root (`--root`, `STRATA_ROOT`,
//! default `/var/lib/strata` as root and `$XDG_DATA_HOME/strata`
//! otherwise), the store opened on first use, and logging.

use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::Context as _;
use strata_store::Store;

use crate::cli::GlobalArgs;

/// Per-invocation context.
pub struct Ctx {
    root: PathBuf,
    global: GlobalArgs,
    store: OnceLock<Store>,
}

impl Ctx {
    /// The context for the given global flags.
    pub fn new(global: &GlobalArgs) -> Ctx {
        Ctx {
            root: global.root.clone().unwrap_or_else(default_root),
            global: global.clone(),
            store: OnceLock::new(),
        }
    }

    /// The global flags (registry options for `run`'s pull).
    pub fn global(&self) -> &GlobalArgs {
        &self.global
    }

    /// The store, opened on first use.
    pub fn store(&self) -> anyhow::Result<&Store> {
        if let Some(s) = self.store.get() {
            return Ok(s);
        }
        // Helpers of dead commands first (their processes, cgroups and
        // mounts), so the store's sweep finds their scratch released.
        let reaped = strata_runtime::reaper_linux::sweep();
        if reaped > 0 {
            tracing::debug!("reaped {reaped} helper(s) of dead commands");
        }
        let s = Store::open(&self.root)
            .with_context(|| format!("opening the store at {}", self.root.display()))?;
        // Container directories a dead command left without a record.
        let swept = strata_runtime::containers::sweep(&s);
        if swept > 0 {
            tracing::debug!("removed {swept} container director(ies) without a record");
        }
        Ok(self.store.get_or_init(|| s))
    }
}

/// `/var/lib/strata` for root, `$XDG_DATA_HOME/strata` (or
/// `~/.local/share/strata`) for everyone else.
pub fn default_root() -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 && !strata_store::userns::rootless() {
        return PathBuf::from("/var/lib/strata");
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("strata");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/".into());
    PathBuf::from(home).join(".local/share/strata")
}

/// Logging to stderr; `--log-level` or `STRATA_LOG` (tracing filter syntax).
pub fn init_logging(global: &GlobalArgs) {
    let filter = global
        .log_level
        .clone()
        .or_else(|| std::env::var("STRATA_LOG").ok())
        .unwrap_or_else(|| {
            if global.debug {
                "debug".into()
            } else {
                // The embedded runtime's warnings are about this host's
                // cgroup controllers and the like on every start (and a
                // foreground `run --rm` runs it in this process, whose
                // stderr its children share): errors only, as helpers log.
                "warn,libcontainer=error,libcgroups=error,pathrs=error".into()
            }
        });
    // Colour only for a terminal (a CI log or a pipe gets plain text), and
    // never with NO_COLOR set.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        // A closed stderr (a helper whose command died) must not turn a
        // log line into a panic (the fallback is an `eprintln!`).
        .log_internal_errors(false)
        .without_time()
        .try_init();
}
