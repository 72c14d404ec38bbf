//! `POST /build`: the classic builder's endpoint (what docker's CLI uses
//! without BuildKit) over strata-build. The body is the context as a tar
//! (plain or compressed); the Dockerfile is read from it. The answer is
//! the classic builder's JSON stream, rendered from the build's events
//! (strata-build's classic progress: `Step N/M : …`, ` ---> Running in`,
//! the steps' output, ` ---> <ID>`), then `{"aux": {"ID": …}}`,
//! `Successfully built …` / `Successfully tagged …`; a failure ends it
//! with docker's `{"errorDetail": {"code": …, "message": …}, "error": …}`.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use hyper::Request;
use hyper::body::Incoming;
use serde_json::{Value, json};
use strata_build::BuildRequest;
use strata_build::error::BuildError;
use strata_build::options::ContextSource;
use strata_build::progress::{Progress, ProgressMode};
use strata_oci::Reference;
use tokio::sync::mpsc;

use super::Service;
use super::http::{ApiError, ApiResult, Query, json_line, spool, streamed, unbounded};
use crate::commands::registry;

/// The progress's JSON messages, each complete line sent as written.
struct LineWriter {
    tx: mpsc::UnboundedSender<Bytes>,
    pending: Vec<u8>,
}

impl LineWriter {
    fn emit(&mut self, upto: usize) {
        let line: Vec<u8> = self.pending.drain(..upto).collect();
        let _ = self.tx.send(Bytes::from(line));
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
    let (tx, body) = unbounded();
    tokio::task::spawn_blocking(move || {
        let send = |v: Value| {
            let _ = tx.send(json_line(&v));
        };
        r.registry = match registry::options(svc.ctx.global()) {
            Ok(o) => o,
            Err(e) => {
                let msg = format!("{e:#}");
                return send(json!({"errorDetail": {"message": msg}, "error": msg}));
            }
        };
        let store = match svc.store() {
            Ok(s) => s,
            Err(e) => {
                let msg = format!("{e:#}");
                return send(json!({"errorDetail": {"message": msg}, "error": msg}));
            }
        };
        let progress = if quiet {
            Progress::quiet()
        } else {
            Progress::new(
                ProgressMode::Classic,
                Box::new(LineWriter {
                    tx: tx.clone(),
                    pending: Vec::new(),
                }),
            )
        };
        let result = strata_build::build(store, r, &progress);
        progress.finish(result.is_ok());
        drop(progress);
        match result {
            Ok(out) => {
                for w in &out.warnings {
                    send(json!({"stream": format!("WARNING: {w}\n")}));
                }
                send(json!({"aux": {"ID": out.image_id.to_string()}}));
                if !quiet {
                    let short = &out.image_id.hex()[..12];
                    send(json!({"stream": format!("Successfully built {short}\n")}));
                    for t in &tags {
                        send(json!({"stream": format!("Successfully tagged {}\n", t.familiar())}));
                    }
                }
            }
            Err(e) => send(error_message(&e)),
        }
    });
    Ok(streamed("application/json", body))
}

/// docker's error message for a failed build: a RUN that exited non-zero
/// is `The command '…' returned a non-zero code: N` with that code, as
/// the classic builder says it.
fn error_message(e: &BuildError) -> Value {
    match e.root() {
        BuildError::RunFailed { command, code } => {
            let msg = format!("The command '{command}' returned a non-zero code: {code}");
            json!({"errorDetail": {"code": code, "message": msg}, "error": msg})
        }
        _ => {
            let msg = e.to_string();
            json!({"errorDetail": {"message": msg}, "error": msg})
        }
    }
}
