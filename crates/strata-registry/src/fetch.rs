//! Getting a set of layers into the store, in parallel, all or nothing.
//!
//! Each wanted layer (blob + diffID + the chain it completes) is planned
//! against the store first:
//!
//! ```text
//! snapshot for chain?  blob in content store?  →  work
//! yes                  yes                        none ("Already exists")
//! yes                  no                         download the blob only (digest + diffID checked)
//! no                   yes                        unpack the local blob
//! no                   no                         download: stream → verify → decompress → extract
//! ```
//! Work runs on up to `concurrency` threads; each download streams from a
//! tokio task straight into [`strata_store::Store::stage_layer`] (scratch
//! snapshot + scratch blob, every digest verified), so there is no temp
//! copy of a whole blob and memory stays bounded. Only when every layer
//! staged cleanly are they committed, bottom first; on any failure every
//! staged layer is dropped and the store is as it was (a blob fetched
//! for an existing snapshot is the one exception: it is verified and
//! committed on its own).

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use strata_oci::Digest;
use strata_oci::media::LayerCompression;
use strata_store::Store;
use strata_store::ingest::{LayerSource, StagedLayer};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

use crate::client::RegistryClient;
use crate::download::{BlobRequest, CHANNEL_CHUNKS, ChannelReader, stream_blob};
use crate::error::{RegistryError, Result};
use crate::progress::{self, LayerStatus, ProgressRef};

/// One layer to have in the store.
#[derive(Debug, Clone)]
pub struct LayerJob {
    /// The blob's digest.
    pub blob: Digest,
    /// Its size.
    pub size: u64,
    /// Its media type (says the compression).
    pub media_type: String,
    /// The layer's diffID.
    pub diff_id: Digest,
    /// The chain ID it completes.
    pub chain: Digest,
    /// The chain below it.
    pub parent: Option<Digest>,
}

impl LayerJob {
    fn id(&self) -> String {
        self.blob.short().to_string()
    }

    fn source(&self, keep_blob: bool) -> Result<LayerSource> {
        let compression = LayerCompression::of_media_type(&self.media_type).ok_or_else(|| {
            RegistryError::Manifest {
                context: format!("layer {}", self.blob),
                reason: format!("unsupported layer media type {:?}", self.media_type),
            }
        })?;
        Ok(LayerSource {
            media_type: self.media_type.clone(),
            blob_digest: Some(self.blob.clone()),
            blob_size: Some(self.size),
            diff_id: Some(self.diff_id.clone()),
            compression: Some(compression),
            keep_blob,
            lazy: keep_blob && strata_store::ingest::lazy_by_default(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Present,
    BlobOnly,
    FromLocalBlob,
    Download,
}

/// Where layers come from.
pub struct Fetcher<'a> {
    /// The store.
    pub store: &'a Store,
    /// The runtime the downloads run on.
    pub rt: &'a Runtime,
    /// The registry.
    pub client: &'a Arc<RegistryClient>,
    /// Repository path holding the blobs.
    pub repo: &'a str,
    /// Parallel layers.
    pub concurrency: usize,
    /// Progress sink.
    pub progress: &'a ProgressRef,
}

impl Fetcher<'_> {
    /// Makes every job's chain (and blob) present; jobs must come parents
    /// first. Returns how many layers were transferred or unpacked.
    pub fn fetch(&self, jobs: &[LayerJob]) -> Result<usize> {
        let mut seen = HashSet::new();
        let jobs: Vec<&LayerJob> = jobs
            .iter()
            .filter(|j| seen.insert(j.chain.clone()))
            .collect();
        let mut plans = Vec::with_capacity(jobs.len());
        for j in &jobs {
            let snap = self.store.snapshots().get(&j.chain)?.is_some();
            let blob = self.store.content().exists(&j.blob);
            let plan = match (snap, blob) {
                (true, true) => Plan::Present,
                (true, false) => Plan::BlobOnly,
                (false, true) => Plan::FromLocalBlob,
                (false, false) => Plan::Download,
            };
            plans.push(plan);
        }
        let work: Vec<usize> = (0..jobs.len())
            .filter(|&i| plans[i] != Plan::Present)
            .collect();
        let workers = self.concurrency.max(1).min(work.len());
        for (i, j) in jobs.iter().enumerate() {
            let s = match plans[i] {
                Plan::Present => LayerStatus::AlreadyExists,
                _ => LayerStatus::PullingFsLayer,
            };
            progress::layer(self.progress, &j.id(), s);
        }
        for &i in work.iter().skip(workers) {
            progress::layer(self.progress, &jobs[i].id(), LayerStatus::Waiting);
        }
        let queue = Mutex::new(work.iter().copied().collect::<VecDeque<usize>>());
        let results: Vec<Mutex<Option<Result<Option<StagedLayer>>>>> =
            (0..jobs.len()).map(|_| Mutex::new(None)).collect();
        let cancel = Arc::new(AtomicBool::new(false));
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    loop {
                        if cancel.load(Ordering::Relaxed) {
                            break;
                        }
                        let Some(i) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
                        else {
                            break;
                        };
                        let t = std::time::Instant::now();
                        let r = self.run(jobs[i], plans[i], &cancel);
                        tracing::debug!(
                            "layer {}: {:?} in {:?}",
                            jobs[i].blob,
                            plans[i],
                            t.elapsed()
                        );
                        if r.is_err() {
                            cancel.store(true, Ordering::Relaxed);
                        }
                        *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                    }
                });
            }
        });
        let mut staged: Vec<Option<StagedLayer>> = Vec::with_capacity(jobs.len());
        let mut errors: Vec<RegistryError> = Vec::new();
        for r in results {
            match r.into_inner().unwrap_or_else(|e| e.into_inner()) {
                Some(Ok(s)) => staged.push(s),
                Some(Err(e)) => {
                    staged.push(None);
                    errors.push(e);
                }
                None => staged.push(None),
            }
        }
        if !errors.is_empty() {
            for s in staged.into_iter().flatten() {
                s.abort();
            }
            // A worker stopped by another's failure reports "cancelled".
            let first = errors
                .iter()
                .position(|e| !e.to_string().ends_with("cancelled"))
                .unwrap_or(0);
            return Err(errors.swap_remove(first));
        }
        let mut staged: VecDeque<Option<StagedLayer>> = staged.into();
        for (i, j) in jobs.iter().enumerate() {
            let Some(s) = staged.pop_front().flatten() else {
                if plans[i] != Plan::Present {
                    progress::layer(self.progress, &j.id(), LayerStatus::PullComplete);
                }
                continue;
            };
            let t = std::time::Instant::now();
            let committed = s.commit(self.store, j.parent.as_ref());
            tracing::debug!("layer {}: committed in {:?}", j.blob, t.elapsed());
            if let Err(e) = committed {
                for rest in staged.into_iter().flatten() {
                    rest.abort();
                }
                return Err(RegistryError::from(e).in_layer(&j.blob));
            }
            progress::layer(self.progress, &j.id(), LayerStatus::PullComplete);
        }
        Ok(work.len())
    }

    fn run(
        &self,
        job: &LayerJob,
        plan: Plan,
        cancel: &Arc<AtomicBool>,
    ) -> Result<Option<StagedLayer>> {
        let r = match plan {
            Plan::Present => Ok(None),
            Plan::FromLocalBlob => {
                let src = job.source(false)?;
                let f = self.store.content().open(&job.blob)?;
                self.store
                    .stage_layer(&src, f)
                    .map(Some)
                    .map_err(RegistryError::from)
            }
            Plan::BlobOnly => self.download(job, cancel, |src, r| {
                self.store
                    .ingest_blob_only(&job.diff_id, src, r)
                    .map(|_| None)
            }),
            Plan::Download => self.download(job, cancel, |src, r| {
                self.store.stage_layer(src, r).map(Some)
            }),
        };
        r.map_err(|e| e.in_layer(&job.blob))
    }

    /// Streams the job's blob into `consume` (on this thread) while a
    /// runtime task downloads it.
    fn download<T>(
        &self,
        job: &LayerJob,
        cancel: &Arc<AtomicBool>,
        consume: impl FnOnce(&LayerSource, ChannelReader) -> strata_store::Result<T>,
    ) -> Result<T> {
        let src = job.source(true)?;
        let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
        let req = BlobRequest {
            repo: self.repo.to_string(),
            digest: job.blob.clone(),
            size: job.size,
            id: job.id(),
        };
        let task = self.rt.spawn(stream_blob(
            self.client.clone(),
            req,
            tx,
            self.progress.clone(),
            cancel.clone(),
        ));
        let consumed = consume(&src, ChannelReader::new(rx));
        let downloaded = self
            .rt
            .block_on(task)
            .unwrap_or_else(|e| Err(RegistryError::Invalid(format!("download task failed: {e}"))));
        match (consumed, downloaded) {
            (Ok(v), Ok(_)) => Ok(v),
            // The download's own error (digest, connection) is the cause.
            (_, Err(e)) => Err(e),
            (Err(e), Ok(_)) => {
                // Nothing hashes on the happy path but the store; when the
                // layer could not be unpacked, find out whether the registry's
                // bytes are even the blob they claim to be.
                if matches!(e, strata_store::StoreError::DigestMismatch { .. }) {
                    return Err(e.into());
                }
                match crate::runtime::block_on(
                    self.rt,
                    self.client.blob_digest(self.repo, &job.blob, job.size),
                ) {
                    Ok(got) if got != job.blob => Err(RegistryError::DigestMismatch {
                        what: "blob",
                        expected: job.blob.clone(),
                        detail: format!(
                            "the registry sends bytes hashing to {got} (unpacking them failed: {e})"
                        ),
                    }),
                    _ => Err(e.into()),
                }
            }
        }
    }
}
