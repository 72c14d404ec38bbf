//! `docker cp` through the API: `HEAD|GET|PUT /containers/{id}/archive`,
//! over strata-runtime's `cp` (the CLI's `cp`): a path's stat in
//! `X-Docker-Container-Path-Stat` (base64 JSON), its tar out, a tar in.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Method, Request, Response, StatusCode};
use strata_runtime::{RuntimeError, containers, cp};
use tokio::sync::mpsc;

use super::Service;
use super::http::{ApiError, ApiResult, Query, channel, empty, streamed};

/// Chunks written to it go out as the response body.
pub struct BodyWriter(pub mpsc::Sender<Bytes>);

impl std::io::Write for BodyWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Bytes::copy_from_slice(buf))
            .map_err(|_| std::io::Error::other("client gone"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A missing path is docker's 404.
fn not_found(e: RuntimeError) -> ApiError {
    match e {
        RuntimeError::Invalid(m) if m.starts_with("Could not find the file") => {
            ApiError::not_found(m)
        }
        other => other.into(),
    }
}

/// `HEAD` and `GET /containers/{id}/archive?path=`; `PUT` with a tar.
pub async fn archive(svc: Arc<Service>, id: String, q: Query, req: Request<Incoming>) -> ApiResult {
    let path = q
        .get("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::bad("path is required"))?
        .to_string();
    let method = req.method().clone();
    if method == Method::PUT {
        let tar = super::http::spool(svc.store()?.scratch().dir(), req.into_body()).await?;
        return tokio::task::spawn_blocking(move || -> ApiResult {
            let store = svc.store()?;
            let c = containers::lookup(store, &id)?;
            cp::copy_in_tar(store, &c, tar, &path).map_err(not_found)?;
            let mut r = Response::new(empty());
            *r.status_mut() = StatusCode::OK;
            Ok(r)
        })
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    }
    let s2 = svc.clone();
    let (id2, path2) = (id.clone(), path.clone());
    let (c, st) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let store = s2.store()?;
        let c = containers::lookup(store, &id2)?;
        let st = cp::stat(store, &c, &path2).map_err(not_found)?;
        Ok((c, st))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    let json = serde_json::to_vec(&st).map_err(|e| ApiError::internal(e.to_string()))?;
    let header = base64::engine::general_purpose::STANDARD.encode(json);
    let mut r = if method == Method::HEAD {
        Response::new(empty())
    } else {
        let (tx, body) = channel();
        tokio::task::spawn_blocking(move || {
            let Ok(store) = svc.store() else { return };
            if let Err(e) = cp::copy_out_tar(store, &c, &path, false, BodyWriter(tx)) {
                tracing::debug!("archive {}: {e}", c.id);
            }
        });
        streamed("application/x-tar", body)
    };
    if let Ok(v) = HeaderValue::from_str(&header) {
        r.headers_mut().insert("X-Docker-Container-Path-Stat", v);
    }
    Ok(r)
}
