//! Uploading one blob from the content store, the distribution-spec way.
//!
//! ```text
//! HEAD /v2/<repo>/blobs/<digest>            200 → done ("Layer already exists")
//! POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<other repo>
//!                                           201 → done ("Mounted from <other repo>")
//!                                           202 → the registry declined; use the session it opened
//! POST /v2/<repo>/blobs/uploads/            202, Location: <session>
//! small blob:  PUT <session>?digest=<d>     body = the whole blob            → 201
//! large blob:  PATCH <session>              Content-Range: a-b, one chunk    → 202, Location, Range
//!              … (on a broken chunk: GET <session> → 204 Range: 0-n, resume at n+1
//!                 when the registry kept exactly what it acknowledged, else start over)
//!              PUT <session>?digest=<d>     empty body                       → 201
//! ```
//! Bodies stream from the blob file; nothing is read into memory whole.
//! A blob is uploaded byte-for-byte as stored: compressed blobs are never
//! recompressed.

use std::io::{Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use reqwest::{Method, Response, StatusCode};
use strata_oci::Digest;
use tokio::io::AsyncReadExt;
use url::Url;

use crate::client::{Access, RegistryClient};
use crate::error::{RegistryError, Result, io_err};
use crate::progress::{self, LayerStatus, ProgressRef, Throttle};

/// How blobs are sent.
#[derive(Debug, Clone, Copy)]
pub struct UploadOptions {
    /// Blobs up to this size go in one PUT; bigger ones in chunks.
    pub monolithic_max: u64,
    /// Chunk size of a chunked upload.
    pub chunk_size: u64,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            monolithic_max: 32 << 20,
            chunk_size: 32 << 20,
        }
    }
}

/// A blob to upload.
#[derive(Debug, Clone)]
pub struct UploadBlob {
    /// Its digest.
    pub digest: Digest,
    /// Its size.
    pub size: u64,
    /// The file holding it (in the content store).
    pub path: PathBuf,
    /// Short ID for progress (`None`: report nothing, e.g. the config).
    pub id: Option<String>,
    /// Repositories of the same registry that may hold it (mount sources).
    pub mount_from: Vec<String>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uploaded {
    /// The repository had it.
    Existed,
    /// Mounted from another repository.
    Mounted(String),
    /// Sent.
    Pushed,
}

enum Session {
    Mounted(String),
    Open(Url),
}

/// Uploads `blob` to `repo` (HEAD, mount, then monolithic or chunked).
pub async fn upload_blob(
    client: &RegistryClient,
    repo: &str,
    blob: &UploadBlob,
    opts: &UploadOptions,
    progress: &ProgressRef,
) -> Result<Uploaded> {
    if client.blob_exists(repo, &blob.digest).await?.is_some() {
        return Ok(Uploaded::Existed);
    }
    let retry = client.retry_policy();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let session = match start(client, repo, blob).await? {
            Session::Mounted(from) => return Ok(Uploaded::Mounted(from)),
            Session::Open(url) => url,
        };
        let sent = if blob.size <= opts.monolithic_max {
            monolithic(client, repo, blob, session, progress).await
        } else {
            chunked(client, repo, blob, session, opts.chunk_size, progress).await
        };
        match sent {
            Ok(()) => return Ok(Uploaded::Pushed),
            Err(e) if e.is_transient() && attempt < retry.attempts => {
                let d = retry.delay(attempt);
                tracing::warn!("upload {}: {e}; starting over in {d:?}", blob.digest);
                if let Some(id) = &blob.id {
                    progress::layer(
                        progress,
                        id,
                        LayerStatus::Retrying {
                            attempt,
                            reason: e.to_string(),
                        },
                    );
                }
                tokio::time::sleep(d).await;
            }
            Err(e) => return Err(e),
        }
    }
}

fn what(blob: &UploadBlob) -> String {
    format!("upload blob {}", blob.digest)
}

fn location(client: &RegistryClient, blob: &UploadBlob, resp: &Response) -> Result<Url> {
    let loc = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| RegistryError::Protocol {
            what: what(blob),
            registry: client.domain().to_string(),
            reason: format!("HTTP {} without a Location header", resp.status()),
        })?;
    resp.url().join(loc).map_err(|e| RegistryError::Protocol {
        what: what(blob),
        registry: client.domain().to_string(),
        reason: format!("bad Location {loc:?}: {e}"),
    })
}

/// Opens an upload session, trying a cross-repository mount first; a
/// mount the registry refuses outright (no access to the source, say) falls
/// back to a plain upload.
async fn start(client: &RegistryClient, repo: &str, blob: &UploadBlob) -> Result<Session> {
    let from = blob.mount_from.iter().find(|r| r.as_str() != repo);
    if let Some(from) = from {
        match open(client, repo, blob, Some(from)).await {
            Err(e @ RegistryError::Connection { .. }) => return Err(e),
            Err(e) => tracing::debug!("mount of {} from {from} refused: {e}", blob.digest),
            ok => return ok,
        }
    }
    open(client, repo, blob, None).await
}

async fn open(
    client: &RegistryClient,
    repo: &str,
    blob: &UploadBlob,
    from: Option<&String>,
) -> Result<Session> {
    let w = what(blob);
    let mut url = client.url(repo, "blobs/uploads/")?;
    if let Some(from) = from {
        url.query_pairs_mut()
            .append_pair("mount", blob.digest.as_str())
            .append_pair("from", from);
    }
    let resp = client
        .send(&w, repo, Access::Push, true, |c| {
            c.request(Method::POST, url.clone())
                .header(CONTENT_LENGTH, 0)
                .build()
                .map_err(|e| client.connection_error(&w, &e))
        })
        .await?;
    match resp.status() {
        StatusCode::CREATED if from.is_some() => {
            Ok(Session::Mounted(from.cloned().unwrap_or_default()))
        }
        StatusCode::ACCEPTED => Ok(Session::Open(location(client, blob, &resp)?)),
        _ => Err(client.status_error(&w, None, resp).await),
    }
}

/// A streaming body over `len` bytes of the blob file from `offset`.
fn file_body(
    blob: &UploadBlob,
    offset: u64,
    len: u64,
    sent: Arc<AtomicU64>,
    progress: ProgressRef,
) -> Result<reqwest::Body> {
    let mut f = std::fs::File::open(&blob.path).map_err(io_err("open", &blob.path))?;
    f.seek(SeekFrom::Start(offset))
        .map_err(io_err("seek", &blob.path))?;
    let f = tokio::fs::File::from_std(f).take(len);
    let id = blob.id.clone();
    let total = blob.size;
    let mut throttle = Throttle::new();
    let stream = tokio_util::io::ReaderStream::with_capacity(f, 256 << 10).map(move |r| {
        if let Ok(b) = &r {
            let now = sent.fetch_add(b.len() as u64, Ordering::Relaxed) + b.len() as u64;
            if let Some(id) = &id
                && throttle.due(now, total)
            {
                progress::layer(
                    &progress,
                    id,
                    LayerStatus::Pushing {
                        current: now,
                        total,
                    },
                );
            }
        }
        r
    });
    Ok(reqwest::Body::wrap_stream(stream))
}

fn with_digest(mut url: Url, digest: &Digest) -> Url {
    url.query_pairs_mut().append_pair("digest", digest.as_str());
    url
}

async fn finish_response(client: &RegistryClient, blob: &UploadBlob, resp: Response) -> Result<()> {
    if resp.status() != StatusCode::CREATED {
        return Err(client.status_error(&what(blob), None, resp).await);
    }
    if let Some(d) = resp
        .headers()
        .get("Docker-Content-Digest")
        .and_then(|v| v.to_str().ok())
        && d != blob.digest.as_str()
    {
        return Err(RegistryError::Protocol {
            what: what(blob),
            registry: client.domain().to_string(),
            reason: format!("the registry stored the blob as {d}"),
        });
    }
    Ok(())
}

async fn monolithic(
    client: &RegistryClient,
    repo: &str,
    blob: &UploadBlob,
    session: Url,
    progress: &ProgressRef,
) -> Result<()> {
    let w = what(blob);
    let url = with_digest(session, &blob.digest);
    let sent = Arc::new(AtomicU64::new(0));
    let resp = client
        .send(&w, repo, Access::Push, false, |c| {
            sent.store(0, Ordering::Relaxed);
            let body = file_body(blob, 0, blob.size, sent.clone(), progress.clone())?;
            c.request(Method::PUT, url.clone())
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_LENGTH, blob.size)
                .body(body)
                .build()
                .map_err(|e| client.connection_error(&w, &e))
        })
        .await?;
    finish_response(client, blob, resp).await
}

/// The end offset (exclusive) a registry reports in `Range: 0-<last>`.
fn range_end(resp: &Response) -> Option<u64> {
    let r = resp.headers().get(RANGE)?.to_str().ok()?;
    let last = r
        .trim()
        .strip_prefix("bytes=")
        .unwrap_or(r.trim())
        .split_once('-')?
        .1;
    last.parse::<u64>().ok().map(|l| l + 1)
}

async fn chunked(
    client: &RegistryClient,
    repo: &str,
    blob: &UploadBlob,
    session: Url,
    chunk: u64,
    progress: &ProgressRef,
) -> Result<()> {
    let w = what(blob);
    let retry = client.retry_policy();
    let sent = Arc::new(AtomicU64::new(0));
    let mut loc = session;
    let mut offset = 0u64;
    let mut failures = 0u32;
    while offset < blob.size {
        let len = chunk.max(1).min(blob.size - offset);
        sent.store(offset, Ordering::Relaxed);
        let res = client
            .send(&w, repo, Access::Push, false, |c| {
                let body = file_body(blob, offset, len, sent.clone(), progress.clone())?;
                c.request(Method::PATCH, loc.clone())
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_RANGE, format!("{}-{}", offset, offset + len - 1))
                    .header(CONTENT_LENGTH, len)
                    .body(body)
                    .build()
                    .map_err(|e| client.connection_error(&w, &e))
            })
            .await;
        let failure = match res {
            Ok(resp) if resp.status() == StatusCode::ACCEPTED => {
                let next = location(client, blob, &resp)?;
                if let Some(end) = range_end(&resp)
                    && end != offset + len
                {
                    return Err(RegistryError::Protocol {
                        what: w,
                        registry: client.domain().to_string(),
                        reason: format!(
                            "after a chunk ending at {} the registry holds {end} bytes",
                            offset + len
                        ),
                    });
                }
                loc = next;
                offset += len;
                continue;
            }
            Ok(resp) => client.status_error(&w, None, resp).await,
            Err(e) => e,
        };
        failures += 1;
        if !failure.is_transient() || failures >= retry.attempts {
            return Err(failure);
        }
        tokio::time::sleep(retry.delay(failures)).await;
        // Resume only when the registry holds exactly what it acknowledged.
        let status = client
            .send(&w, repo, Access::Push, true, |c| {
                c.request(Method::GET, loc.clone())
                    .build()
                    .map_err(|e| client.connection_error(&w, &e))
            })
            .await?;
        let held = if status.status() == StatusCode::NO_CONTENT {
            range_end(&status).unwrap_or(0)
        } else {
            u64::MAX
        };
        if held != offset {
            return Err(failure);
        }
        if let Some(id) = &blob.id {
            progress::layer(
                progress,
                id,
                LayerStatus::Retrying {
                    attempt: failures,
                    reason: failure.to_string(),
                },
            );
        }
    }
    let url = with_digest(loc, &blob.digest);
    let resp = client
        .send(&w, repo, Access::Push, true, |c| {
            c.request(Method::PUT, url.clone())
                .header(CONTENT_LENGTH, 0)
                .build()
                .map_err(|e| client.connection_error(&w, &e))
        })
        .await?;
    finish_response(client, blob, resp).await
}
