//! Streaming one blob from the registry into a synchronous consumer.
//!
//! ```text
//!  tokio task: GET blob ──chunks──> size check ──bounded channel──> ChannelReader (Read)
//!              ^ connection lost at byte N: GET with Range: bytes=N- (or skip N bytes of a 200)
//! ```
//! The channel holds at most [`CHANNEL_CHUNKS`] chunks, so memory stays
//! bounded whatever the blob size; the consumer (a store staging thread:
//! decompress + extract) pulls as fast as it can. The consumer is the one
//! that verifies: the store hashes every byte as it writes the blob and
//! refuses to commit a blob that does not match its descriptor's digest and
//! size (and a layer whose tar does not match its diffID), so hashing here
//! as well would only spend CPU. This side refuses a registry that sends
//! more bytes than promised, and hands the reader an error instead of a
//! clean end of stream when the transfer cannot be completed.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::StatusCode;
use strata_oci::Digest;
use tokio::sync::mpsc;

use crate::client::{MIN_PROGRESS, RegistryClient};
use crate::error::{RegistryError, Result, chain};
use crate::progress::{self, LayerStatus, ProgressRef, Throttle};

/// Chunks buffered between the network and the consumer.
pub const CHANNEL_CHUNKS: usize = 32;

/// The consumer's end: a blocking `Read` over the channel. Use it on a
/// thread outside the tokio runtime.
pub struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
    done: bool,
}

impl ChannelReader {
    /// Wraps the receiving end.
    pub fn new(rx: mpsc::Receiver<io::Result<Bytes>>) -> Self {
        ChannelReader {
            rx,
            cur: Bytes::new(),
            done: false,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.cur.is_empty() {
                let n = buf.len().min(self.cur.len());
                buf[..n].copy_from_slice(&self.cur[..n]);
                let _ = self.cur.split_to(n);
                return Ok(n);
            }
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            strata_store::cancel::Cancel::global().check()?;
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                None => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
    }
}

/// What to download.
#[derive(Debug, Clone)]
pub struct BlobRequest {
    /// Repository path in the registry.
    pub repo: String,
    /// The blob.
    pub digest: Digest,
    /// Its size from the descriptor.
    pub size: u64,
    /// Short ID for progress.
    pub id: String,
}

/// Downloads `req` into `tx`, resuming after broken connections. Returns
/// the bytes sent. On failure the reader gets an error too; when the
/// reader goes away (the consumer failed) or `cancel` is set, it stops.
pub async fn stream_blob(
    client: Arc<RegistryClient>,
    req: BlobRequest,
    tx: mpsc::Sender<io::Result<Bytes>>,
    progress: ProgressRef,
    cancel: Arc<AtomicBool>,
) -> Result<u64> {
    let result = stream_inner(&client, &req, &tx, &progress, &cancel).await;
    if let Err(e) = &result {
        let _ = tx.send(Err(io::Error::other(e.to_string()))).await;
    }
    result
}

async fn stream_inner(
    client: &RegistryClient,
    req: &BlobRequest,
    tx: &mpsc::Sender<io::Result<Bytes>>,
    progress: &ProgressRef,
    cancel: &AtomicBool,
) -> Result<u64> {
    let what = format!("download blob {}", req.digest);
    let retry = client.retry_policy();
    let mut offset: u64 = 0;
    let mut throttle = Throttle::new();
    let mut failures = 0u32;
    let mismatch = |detail: String| RegistryError::DigestMismatch {
        what: "blob",
        expected: req.digest.clone(),
        detail,
    };
    // A transfer must move MIN_PROGRESS bytes per idle timeout: a server
    // trickling a byte every few seconds never trips the idle timeout.
    let window = client.idle_timeout();
    'attempts: loop {
        let resp = client.blob_response(&req.repo, &req.digest, offset).await?;
        let mut window_start = tokio::time::Instant::now();
        let mut window_bytes = 0u64;
        // A server that ignores Range answers 200 with the whole blob.
        let mut skip = if offset > 0 && resp.status() != StatusCode::PARTIAL_CONTENT {
            offset
        } else {
            0
        };
        let mut body = resp.bytes_stream();
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(RegistryError::Invalid(format!("{what}: cancelled")));
            }
            let timed = tokio::select! {
                n = tokio::time::timeout_at(window_start + window, body.next()) => n,
                () = crate::runtime::cancelled() => return Err(RegistryError::Cancelled),
            };
            let next = match timed {
                Ok(n) => n.map(|r| r.map_err(|e| chain(&e))),
                Err(_) if window_bytes >= MIN_PROGRESS => {
                    window_start = tokio::time::Instant::now();
                    window_bytes = 0;
                    continue;
                }
                // Empty: stalled (the reason is spelled out below).
                Err(_) => Some(Err(String::new())),
            };
            let chunk = match next {
                None => break,
                Some(Ok(c)) => c,
                Some(Err(reason)) => {
                    let reason = if reason.is_empty() {
                        format!("stalled: {window_bytes} bytes in {window:?}")
                    } else {
                        reason
                    };
                    failures += 1;
                    if failures >= retry.attempts {
                        return Err(RegistryError::Connection {
                            what,
                            registry: client.domain().to_string(),
                            reason: format!(
                                "{reason} at byte {offset} (gave up after {failures} attempts)"
                            ),
                        });
                    }
                    let d = retry.delay(failures);
                    tracing::warn!("{what}: {reason} at byte {offset}; resuming in {d:?}");
                    progress::layer(
                        progress,
                        &req.id,
                        LayerStatus::Retrying {
                            attempt: failures,
                            reason,
                        },
                    );
                    tokio::time::sleep(d).await;
                    continue 'attempts;
                }
            };
            window_bytes += chunk.len() as u64;
            if window_start.elapsed() >= window {
                window_start = tokio::time::Instant::now();
                window_bytes = 0;
            }
            let mut chunk = chunk;
            if skip > 0 {
                let n = (skip as usize).min(chunk.len());
                let _ = chunk.split_to(n);
                skip -= n as u64;
                if chunk.is_empty() {
                    continue;
                }
            }
            if offset + chunk.len() as u64 > req.size {
                return Err(mismatch(format!(
                    "the registry sent more than the {} bytes promised",
                    req.size
                )));
            }
            offset += chunk.len() as u64;
            if tx.send(Ok(chunk)).await.is_err() {
                // The consumer stopped (it failed); its error is the story.
                return Ok(offset);
            }
            if throttle.due(offset, req.size) {
                progress::layer(
                    progress,
                    &req.id,
                    LayerStatus::Downloading {
                        current: offset,
                        total: req.size,
                    },
                );
            }
        }
        if offset < req.size {
            failures += 1;
            if failures >= retry.attempts {
                return Err(RegistryError::Connection {
                    what,
                    registry: client.domain().to_string(),
                    reason: format!("the blob ended after {offset} of {} bytes", req.size),
                });
            }
            tokio::time::sleep(retry.delay(failures)).await;
            continue 'attempts;
        }
        break;
    }
    progress::layer(progress, &req.id, LayerStatus::VerifyingChecksum);
    progress::layer(progress, &req.id, LayerStatus::DownloadComplete);
    Ok(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_yields_chunks_then_eof_or_error() {
        let (tx, rx) = mpsc::channel(4);
        tx.try_send(Ok(Bytes::from_static(b"hello "))).unwrap();
        tx.try_send(Ok(Bytes::from_static(b"world"))).unwrap();
        drop(tx);
        let mut s = String::new();
        ChannelReader::new(rx).read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello world");

        let (tx, rx) = mpsc::channel(4);
        tx.try_send(Ok(Bytes::from_static(b"part"))).unwrap();
        tx.try_send(Err(io::Error::other("digest mismatch")))
            .unwrap();
        let mut out = Vec::new();
        let err = ChannelReader::new(rx).read_to_end(&mut out).unwrap_err();
        assert!(err.to_string().contains("digest mismatch"));
        assert_eq!(out, b"part");
    }
}
