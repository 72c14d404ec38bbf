//! `strata system service [--time SECS] [unix://PATH]`: the Docker Engine
//! API on a unix socket, so docker's CLI, compose and the SDKs can drive
//! strata. It is one more front end over the same store, container locks
//! and per-container supervisors the CLI uses — no state of its own that
//! outlives it: the CLI and the service work side by side, and containers
//! keep running when the service exits (as with podman's service).
//!
//! The socket is root-equivalent (whoever reaches it runs containers as
//! root): it is made 0660, group `strata` when that group exists, as
//! dockerd does with its `docker` group.
//!
//! [`http`] is the plumbing (bodies, errors, queries, API versions);
//! [`router`] maps requests to the handlers in [`system`], [`images`],
//! [`image_archive`] (save/load), [`build`], [`containers`], [`attach`],
//! [`exec`], [`archive`], [`inspection`] (pause, top, changes, export,
//! rename, update), [`stats`], [`networks`], [`volumes`] and [`usage`]
//! (events, df, prunes); [`spare`] keeps a supervisor ready for the next
//! container start.

mod archive;
mod attach;
mod build;
mod containers;
mod create;
mod exec;
mod http;
mod image_archive;
mod images;
mod inspection;
mod networks;
mod router;
mod spare;
mod stats;
mod system;
mod usage;
mod volumes;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::UnixListener;

use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `system service`.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// Seconds without a connection before the service exits (0: never)
    #[arg(short = 't', long = "time", value_name = "SECS", default_value_t = 5)]
    pub time: u64,
    /// Where to listen: unix://PATH (default /run/strata/strata.sock as root, $XDG_RUNTIME_DIR/strata/strata.sock otherwise)
    #[arg(value_name = "URI")]
    pub uri: Option<String>,
}

/// What every handler shares: the store (through the CLI's context) and
/// the containers this service started (their supervisors' sockets).
pub struct Service {
    ctx: Ctx,
    attach: Arc<attach::Attachments>,
    execs: exec::Execs,
    spares: Arc<spare::SparePool>,
}

impl Service {
    /// The store.
    fn store(&self) -> anyhow::Result<&strata_store::Store> {
        self.ctx.store()
    }
}

/// The default socket path.
fn default_socket() -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/run/strata/strata.sock");
    }
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    base.join("strata").join("strata.sock")
}

/// The socket path of `unix://PATH` (or a bare path).
fn socket_path(uri: Option<&str>) -> anyhow::Result<PathBuf> {
    match uri {
        None => Ok(default_socket()),
        Some(u) => {
            let p = u.strip_prefix("unix://").unwrap_or(u);
            if p.contains("://") || p.is_empty() {
                return Err(ExitError::new(
                    125,
                    format!("{u}: only unix://PATH sockets are served"),
                )
                .into());
            }
            Ok(PathBuf::from(p))
        }
    }
}

/// Binds the socket: a stale one (nobody answering) is replaced, a live
/// one refused; made 0660 with group `strata` when it exists.
fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if std::fs::symlink_metadata(path).is_ok() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(ExitError::new(
                125,
                format!("{}: a service already listens there", path.display()),
            )
            .into());
        }
        std::fs::remove_file(path).with_context(|| format!("removing stale {}", path.display()))?;
    }
    let listener =
        UnixListener::bind(path).with_context(|| format!("listening on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("chmod {}", path.display()))?;
    if let Ok(Some(g)) = nix::unistd::Group::from_name("strata") {
        nix::unistd::chown(path, None, Some(g.gid))
            .with_context(|| format!("chown {} to group strata", path.display()))?;
    }
    Ok(listener)
}

/// Runs `system service`.
pub fn run(ctx: Ctx, args: ServiceArgs) -> anyhow::Result<i32> {
    let path = socket_path(args.uri.as_deref())?;
    // Open the store first: a broken store fails here, not per request.
    let spares = spare::SparePool::new(ctx.store()?.root().to_path_buf());
    spares.refill_later();
    let svc = Arc::new(Service {
        ctx,
        attach: Arc::default(),
        execs: exec::Execs::default(),
        spares,
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(64)
        .enable_all()
        .build()
        .context("starting the service's runtime")?;
    let result = rt.block_on(serve(svc, &path, args.time));
    let _ = std::fs::remove_file(&path);
    rt.shutdown_timeout(Duration::from_millis(200));
    result.map(|()| 0)
}

/// Connections and hijacked sessions open now.
static OPEN: AtomicUsize = AtomicUsize::new(0);
/// When the last one ended.
static LAST: std::sync::Mutex<Option<Instant>> = std::sync::Mutex::new(None);

/// Keeps the service from idling out while it lives (a connection, or an
/// attach/exec session whose connection was handed over).
pub struct Busy(());

impl Busy {
    /// Marks the service busy.
    pub fn new() -> Busy {
        OPEN.fetch_add(1, Ordering::SeqCst);
        Busy(())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *LAST.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        OPEN.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether nothing has been open for `secs`.
fn idle_for(secs: u64, since_start: Instant) -> bool {
    let last = LAST
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .unwrap_or(since_start);
    OPEN.load(Ordering::SeqCst) == 0 && last.elapsed() >= Duration::from_secs(secs)
}

async fn serve(svc: Arc<Service>, path: &Path, idle_secs: u64) -> anyhow::Result<()> {
    let listener = bind(path)?;
    tracing::info!("API listening on {}", path.display());
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let cancel = strata_store::cancel::Cancel::global();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!("accept: {e}");
                        continue;
                    }
                };
                let busy = Busy::new();
                let svc = svc.clone();
                tokio::spawn(async move {
                    let io = TokioIo::new(stream);
                    let handler = service_fn(move |req| {
                        let svc = svc.clone();
                        async move { Ok::<_, std::convert::Infallible>(router::handle(svc, req).await) }
                    });
                    if let Err(e) = http1::Builder::new()
                        .serve_connection(io, handler)
                        .with_upgrades()
                        .await
                    {
                        tracing::debug!("connection: {e}");
                    }
                    drop(busy);
                });
            }
            _ = tick.tick() => {
                if cancel.is_cancelled() {
                    return Ok(());
                }
                if idle_secs > 0 && idle_for(idle_secs, started) {
                    tracing::info!("no connection for {idle_secs}s: exiting");
                    return Ok(());
                }
            }
        }
    }
}
