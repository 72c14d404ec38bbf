//! Progress events of a pull or push, per layer, in docker's vocabulary.
//!
//! The library only reports; the CLI renders (a live view on a terminal,
//! one line per status change otherwise). A layer is named by docker's
//! short ID: the first 12 hex digits of its blob digest on pull, of its
//! diffID on push.
//!
//! ```text
//! pull:  Pulling fs layer ─> Downloading [cur/total]* ─> Verifying Checksum
//!        ─> Download complete ─> Pull complete            (or: Already exists)
//! push:  Preparing ─> Waiting ─> Pushing [cur/total]* ─> Pushed
//!        (or: Layer already exists, Mounted from <repo>)
//! ```
//! `Retrying` may interrupt a transfer (connection lost, resumed).

use std::sync::Arc;

/// What happened to one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerStatus {
    /// Queued for download.
    PullingFsLayer,
    /// Already in the store.
    AlreadyExists,
    /// Waiting for a transfer slot.
    Waiting,
    /// Bytes received (and fed to extraction) so far.
    Downloading {
        /// Bytes so far.
        current: u64,
        /// Blob size.
        total: u64,
    },
    /// The transfer broke and is being retried.
    Retrying {
        /// Retry number.
        attempt: u32,
        /// Why.
        reason: String,
    },
    /// Every byte arrived and hashed to the digest.
    VerifyingChecksum,
    /// The download is done.
    DownloadComplete,
    /// Unpacked and committed.
    PullComplete,
    /// Push: looking at the layer.
    Preparing,
    /// Push: bytes sent so far.
    Pushing {
        /// Bytes so far.
        current: u64,
        /// Blob size.
        total: u64,
    },
    /// Push: compressing a layer strata holds uncompressed.
    Compressing,
    /// Push: uploaded.
    Pushed,
    /// Push: the registry already had it.
    LayerAlreadyExists,
    /// Push: mounted from another repository of the registry.
    MountedFrom(String),
}

impl LayerStatus {
    /// docker's wording (without the progress bar).
    pub fn text(&self) -> String {
        match self {
            LayerStatus::PullingFsLayer => "Pulling fs layer".into(),
            LayerStatus::AlreadyExists => "Already exists".into(),
            LayerStatus::Waiting => "Waiting".into(),
            LayerStatus::Downloading { .. } => "Downloading".into(),
            LayerStatus::Retrying { attempt, .. } => format!("Retrying (attempt {attempt})"),
            LayerStatus::VerifyingChecksum => "Verifying Checksum".into(),
            LayerStatus::DownloadComplete => "Download complete".into(),
            LayerStatus::PullComplete => "Pull complete".into(),
            LayerStatus::Preparing => "Preparing".into(),
            LayerStatus::Pushing { .. } => "Pushing".into(),
            LayerStatus::Compressing => "Compressing".into(),
            LayerStatus::Pushed => "Pushed".into(),
            LayerStatus::LayerAlreadyExists => "Layer already exists".into(),
            LayerStatus::MountedFrom(r) => format!("Mounted from {r}"),
        }
    }

    /// True for the byte-count updates (a terminal view draws them as bars,
    /// a log skips them).
    pub fn is_transfer(&self) -> bool {
        matches!(
            self,
            LayerStatus::Downloading { .. } | LayerStatus::Pushing { .. }
        )
    }
}

/// A progress event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A pull starts: `latest: Pulling from library/node`.
    PullStart {
        /// Tag or digest.
        tag: String,
        /// The repository path in its registry (`library/node`).
        repository: String,
    },
    /// A push starts: `The push refers to repository [127.0.0.1:5000/node]`.
    PushStart {
        /// The full repository name.
        repository: String,
    },
    /// A layer's status changed.
    Layer {
        /// docker's short layer ID.
        id: String,
        /// The new status.
        status: LayerStatus,
    },
}

/// Receives progress events (from several threads at once).
pub trait Progress: Send + Sync {
    /// Called for every event.
    fn event(&self, event: Event);
}

/// Discards every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _: Event) {}
}

/// A shareable progress sink.
pub type ProgressRef = Arc<dyn Progress>;

/// A sink that ignores everything.
pub fn none() -> ProgressRef {
    Arc::new(NoProgress)
}

/// Reports `status` for layer `id`.
pub(crate) fn layer(p: &ProgressRef, id: &str, status: LayerStatus) {
    p.event(Event::Layer {
        id: id.to_string(),
        status,
    });
}

/// Emits byte counts no more often than every `STEP` bytes.
pub(crate) struct Throttle {
    last: u64,
}

impl Throttle {
    const STEP: u64 = 512 << 10;

    pub(crate) fn new() -> Self {
        Throttle { last: 0 }
    }

    /// True when `current` is worth reporting.
    pub(crate) fn due(&mut self, current: u64, total: u64) -> bool {
        if current >= total || current >= self.last + Self::STEP || current < self.last {
            self.last = current;
            true
        } else {
            false
        }
    }
}
