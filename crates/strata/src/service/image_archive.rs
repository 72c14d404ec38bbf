//! Image archives: `GET /images/get?names=…` and `GET /images/{name}/get`
//! (`docker save`: a docker-archive tar, streamed as it is written) and
//! `POST /images/load` (`docker load`: the tar body spooled to scratch,
//! then loaded; docker's `{"stream": "Loaded image: …\n"}` lines) — front
//! ends over the store's save/load and the CLI's image selection and
//! report ([`save::select`], [`load::loaded_lines`]).

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use hyper::Request;
use hyper::body::Incoming;
use serde_json::json;
use strata_store::archive::SaveFormat;
use tokio::sync::mpsc;

use super::Service;
use super::http::{ApiError, ApiResult, Query, channel, full, json_line, spool, streamed};
use super::router::blocking;
use crate::commands::image::{load, save};

/// Bytes written to it go to the response in chunks of [`CHUNK`].
struct ChunkWriter {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

/// Bytes per response chunk.
const CHUNK: usize = 256 * 1024;

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(data)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// `GET /images/get?names=A&names=B` and `GET /images/{name}/get`: the
/// images (a repository without a tag: all its tags) as one docker-archive
/// tar. A name that resolves to nothing is a 404 before any byte is sent;
/// a failure while streaming ends the body early (the client sees a
/// truncated tar, as with dockerd).
pub async fn save(svc: Arc<Service>, names: Vec<String>) -> ApiResult {
    if names.is_empty() {
        return Err(ApiError::bad("no images given: names is empty"));
    }
    let (tx, body) = channel();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<(), ApiError>>();
    tokio::task::spawn_blocking(move || {
        let store = match svc.store() {
            Ok(s) => s,
            Err(e) => return drop(ready_tx.send(Err(e.into()))),
        };
        let items = match save::select(store, &names) {
            Ok(i) => i,
            Err(e) => return drop(ready_tx.send(Err(e.into()))),
        };
        let _ = ready_tx.send(Ok(()));
        let out = ChunkWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        match store.save(&items, SaveFormat::Docker, out) {
            Ok(mut w) => {
                let _ = w.flush();
            }
            Err(e) => tracing::warn!("save {}: {e}", names.join(" ")),
        }
    });
    ready_rx
        .await
        .unwrap_or_else(|_| Err(ApiError::internal("save failed")))?;
    Ok(streamed("application/x-tar", body))
}

/// The `names` of `GET /images/get`.
pub fn names(q: &Query) -> Vec<String> {
    q.all("names").to_vec()
}

/// `POST /images/load?quiet=`: the tar (plain or compressed) spooled to
/// scratch, then loaded; one `Loaded image: …` message per tag (`quiet`
/// only drops progress, which strata does not send).
pub async fn load_images(svc: Arc<Service>, req: Request<Incoming>) -> ApiResult {
    let file = spool(svc.store()?.scratch().dir(), req.into_body()).await?;
    blocking(move || {
        let loaded = svc.store()?.load_file(&file)?;
        let mut out = Vec::new();
        for line in load::loaded_lines(&loaded) {
            out.extend_from_slice(&json_line(&json!({ "stream": format!("{line}\n") })));
        }
        Ok(streamed("application/json", full(out)))
    })
    .await
}
