//! `POST /build`: the classic builder's endpoint (what docker's CLI uses
//! without BuildKit) over strata-build. The body is the context as a tar
//! (plain or compressed); the Dockerfile is read from it. The answer is
//! the classic builder's JSON stream, rendered from the build's events
//! (strata-build's classic progress: `Step N/M : …`, ` ---> Running in`,
//! the steps' output, a base image's pull as `POST /images/create`
//! streams it, ` ---> <ID>`), then `{"aux": {"ID": …}}`,
//! `Successfully built …` / `Successfully tagged …`; a failure ends it
//! with docker's `{"errorDetail": {"code": …, "message": …}, "error": …}`
//! in the classic builder's words ([`classic::error_message`]). As
//! dockerd: a failure before anything was sent (a Dockerfile that does
//! not parse: 400) is the response's status and `{"message": …}`
//! instead, and a quiet build (`q`) sends only the image ID, or what it
//! held and the error when it fails.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hyper::Request;
use hyper::body::Incoming;
use serde_json::{Value, json};
use strata_build::error::BuildError;
use strata_build::options::{ContextSource, ImagePuller};
use strata_build::progress::{Progress, ProgressMode};
use strata_build::{BuildRequest, classic};
use strata_oci::Reference;
use tokio::sync::{mpsc, oneshot};

use super::Service;
use super::http::{ApiError, ApiResult, Query, body_from, json_line, spool, streamed};
use super::images::{JsonProgress, pull_error};
use crate::commands::image::pull;
use crate::commands::registry;

/// Where the build's messages go: the response body, or (`q`, docker's
/// quiet build) held, and sent only if the build fails.
struct Lines {
    tx: mpsc::UnboundedSender<Bytes>,
    held: Option<Mutex<Vec<Bytes>>>,
    /// Whether anything was sent (then the response has begun).
    sent: AtomicBool,
}

impl Lines {
    fn send(&self, line: Bytes) {
        match &self.held {
            Some(h) => h.lock().unwrap_or_else(|e| e.into_inner()).push(line),
            None => self.now(line),
        }
    }

    fn now(&self, line: Bytes) {
        self.sent.store(true, Ordering::SeqCst);
        let _ = self.tx.send(line);
    }

    /// Sends what was held.
    fn release(&self) {
        if let Some(h) = &self.held {
            for line in std::mem::take(&mut *h.lock().unwrap_or_else(|e| e.into_inner())) {
                self.now(line);
            }
        }
    }
}

/// The progress's JSON messages, each complete line sent as written.
struct LineWriter {
    lines: Arc<Lines>,
    pending: Vec<u8>,
}

impl LineWriter {
    fn emit(&mut self, upto: usize) {
        let line: Vec<u8> = self.pending.drain(..upto).collect();
        self.lines.send(Bytes::from(line));
    }
}

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(i) = self.pending.iter().position(|b| *b == b'\n') {
            self.emit(i + 1);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            let n = self.pending.len();
            self.emit(n);
        }
        Ok(())
    }
}

/// The build's pulls, through the same pull and JSON progress as `POST
/// /images/create`: docker's pull messages in the build's output.
struct Puller(Arc<Service>);

impl std::fmt::Debug for Puller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Puller")
    }
}

impl ImagePuller for Puller {
    fn pull(
        &self,
        reference: &Reference,
        messages: std::sync::mpsc::Sender<Value>,
    ) -> Result<strata_store::Image, String> {
        // `Pulling from …` is held until the registry answered, as dockerd
        // shows nothing of a pull that found no manifest.
        let held: Mutex<Option<Value>> = Mutex::new(None);
        let progress = Arc::new(JsonProgress::new(move |v| {
            let mut h = held.lock().unwrap_or_else(|e| e.into_inner());
            let header = v
                .get("status")
                .and_then(Value::as_str)
                .is_some_and(|s| s.starts_with("Pulling from "));
            if header {
                *h = Some(v);
                return;
            }
            if let Some(first) = h.take() {
                let _ = messages.send(first);
            }
            let _ = messages.send(v);
        }));
        let ctx = &self.0.ctx;
        pull::pull_with(
            ctx,
            ctx.global(),
            reference,
            None,
            progress.clone(),
            &|| {},
            &|l| progress.send(json!({ "status": l })),
        )
        .map(|r| r.image)
        .map_err(|e| pull_error(&e))
    }
}

/// A JSON map query value (`buildargs`, `labels`); `null` values are
/// dropped (docker's "take it from the environment", which a service does
/// not have).
fn string_map(q: &Query, k: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    if let Some(v) = q.json(k)? {
        let Some(m) = v.as_object() else {
            return Err(ApiError::bad(format!(
                "invalid {k} parameter: not an object"
            )));
        };
        for (key, val) in m {
            if let Some(s) = val.as_str() {
                out.insert(key.clone(), s.to_string());
            }
        }
    }
    Ok(out)
}

/// `POST /build`.
pub async fn build(svc: Arc<Service>, q: Query, req: Request<Incoming>) -> ApiResult {
    if q.get("remote").is_some_and(|r| !r.is_empty()) {
        return Err(ApiError::new(
            hyper::StatusCode::NOT_IMPLEMENTED,
            "remote build contexts are not served yet",
        ));
    }
    let mut tags = Vec::new();
    for t in q.all("t") {
        tags.push(
            Reference::parse(t)
                .map_err(|e| ApiError::bad(format!("invalid reference format: {t:?}: {e}")))?,
        );
    }
    let dockerfile = q
        .get("dockerfile")
        .filter(|d| !d.is_empty())
        .unwrap_or("Dockerfile")
        .to_string();
    let build_args = string_map(&q, "buildargs")?;
    let labels = string_map(&q, "labels")?;
    let network = match q.get("networkmode").unwrap_or("default") {
        "" | "default" | "host" | "bridge" => strata_runtime::spec::NetworkMode::Host,
        "none" => strata_runtime::spec::NetworkMode::None,
        other => {
            return Err(ApiError::bad(format!(
                "network mode {other:?} not supported by strata (host, none)"
            )));
        }
    };
    // The whole context first (a client sends it before reading), spooled
    // to disk rather than held in memory.
    let context = spool(svc.store()?.scratch().dir(), req.into_body()).await?;
    let mut r = BuildRequest::new(Vec::new(), ContextSource::Tar(Box::new(context)));
    r.dockerfile_name = dockerfile;
    r.tags = tags.clone();
    r.build_args = build_args;
    r.labels = labels;
    r.target = q
        .get("target")
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    r.no_cache = q.flag("nocache");
    r.pull = q.flag("pull");
    r.platform = q
        .get("platform")
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    r.network = network;
    // docker's `isolation` (empty from its CLI); else $STRATA_ISOLATION.
    r.isolation = strata_runtime::isolation::Isolation::choose(
        q.get("isolation")
            .filter(|i| !i.is_empty() && *i != "default"),
    )
    .map_err(|e| ApiError::bad(e.to_string()))?;
    let quiet = q.flag("q");
    r.puller = Some(Arc::new(Puller(svc.clone())));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (early_tx, mut early) = oneshot::channel::<ApiError>();
    tokio::task::spawn_blocking(move || {
        let lines = Arc::new(Lines {
            tx,
            held: quiet.then(|| Mutex::new(Vec::new())),
            sent: AtomicBool::new(false),
        });
        let send = |v: Value| lines.now(json_line(&v));
        // A failure before anything was sent is the response's status, as
        // dockerd answers (400 for a Dockerfile that does not parse).
        let fail = |e: ApiError| {
            lines.release();
            if lines.sent.load(Ordering::SeqCst) {
                send(json!({"errorDetail": {"message": e.message}, "error": e.message}));
            } else {
                let _ = early_tx.send(e);
            }
        };
        r.registry = match registry::options(svc.ctx.global()) {
            Ok(o) => o,
            Err(e) => return fail(ApiError::internal(format!("{e:#}"))),
        };
        let store = match svc.store() {
            Ok(s) => s,
            Err(e) => return fail(ApiError::internal(format!("{e:#}"))),
        };
        let progress = Progress::new(
            ProgressMode::Classic,
            Box::new(LineWriter {
                lines: lines.clone(),
                pending: Vec::new(),
            }),
        );
        let result = strata_build::build(store, r, &progress);
        progress.finish(result.is_ok());
        drop(progress);
        match result {
            Ok(out) if quiet => {
                send(json!({"stream": format!("{}\n", out.image_id)}));
            }
            Ok(out) => {
                for w in &out.warnings {
                    send(json!({"stream": format!("WARNING: {w}\n")}));
                }
                send(json!({"aux": {"ID": out.image_id.to_string()}}));
                let short = &out.image_id.hex()[..12];
                send(json!({"stream": format!("Successfully built {short}\n")}));
                for t in &tags {
                    send(json!({"stream": format!("Successfully tagged {}\n", t.familiar())}));
                }
            }
            Err(e) => {
                lines.release();
                if lines.sent.load(Ordering::SeqCst) {
                    send(error_message(&e));
                } else {
                    let status = if classic::is_bad_request(&e) {
                        hyper::StatusCode::BAD_REQUEST
                    } else {
                        hyper::StatusCode::INTERNAL_SERVER_ERROR
                    };
                    fail(ApiError::new(status, classic::error_message(&e)));
                }
            }
        }
    });
    let first = tokio::select! {
        biased;
        e = &mut early => match e {
            Ok(e) => return Err(e),
            Err(_) => rx.recv().await,
        },
        m = rx.recv() => m,
    };
    let Some(first) = first else {
        // Ended without a message: its failure was sent just before.
        return match early.try_recv() {
            Ok(e) => Err(e),
            Err(_) => Ok(streamed("application/json", super::http::empty())),
        };
    };
    Ok(streamed("application/json", body_from(first, rx)))
}

/// docker's error message for a failed build (see
/// [`classic::error_message`]); a RUN that exited non-zero carries its
/// code, which docker's CLI exits with.
fn error_message(e: &BuildError) -> Value {
    let msg = classic::error_message(e);
    match e.root() {
        BuildError::RunFailed { code, .. } => {
            json!({"errorDetail": {"code": code, "message": msg}, "error": msg})
        }
        _ => json!({"errorDetail": {"message": msg}, "error": msg}),
    }
}
