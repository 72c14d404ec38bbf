//! What strata records about each image it builds (table `build_records`,
//! one JSON document per image, replaced by the latest build of that
//! image ID):
//!
//! ```text
//! { "version": 1,
//!   "context": "/abs/ctx",            ← None for a tar context (`build -`)
//!   "dockerfile_path": "/abs/ctx/Dockerfile", "dockerfile_name": "Dockerfile",
//!   "dockerfile": "<base64 of the bytes built>",
//!   "target", "build_args" (resolved, $SOURCE_DATE_EPOCH included), "labels",
//!   "platform", "network", "secrets" (ids only, never contents),
//!   "source_date_epoch": 1700000000,
//!   "base": { "image": "sha256:…", "reference": "busybox", "history": 2 },
//!   "keys": [null, null, "ab12…", …] }   ← per history row, bottom first:
//!                                          the cache key of the step that wrote it
//! ```
//! `history` shows the keys (`--digests`) and the base image's ID on the
//! base's last row (docker's parent image); `image verify` rebuilds from
//! the rest (see [`crate::verify`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use strata_oci::{Digest, ImageConfig};
use strata_runtime::spec::NetworkMode;
use strata_store::Store;
use strata_store::db::{builds, now_secs};

use crate::error::{BuildError, Result};
use crate::options::BuildRequest;
use crate::plan::{Base, Plan};
use crate::steps::adds_history;

/// The version of the record's layout.
pub const RECORD_VERSION: u32 = 1;

/// The image a build started from (the target's first stage's FROM).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseRecord {
    /// Its image ID.
    pub image: Digest,
    /// The reference as written in FROM (expanded).
    pub reference: String,
    /// How many history rows of the built image are the base's.
    pub history: usize,
}

/// How an image was built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRecord {
    /// [`RECORD_VERSION`].
    pub version: u32,
    /// The context directory (absolute), when it was one.
    pub context: Option<PathBuf>,
    /// The Dockerfile's path (absolute), when read from a file.
    pub dockerfile_path: Option<PathBuf>,
    /// The Dockerfile's name for messages.
    pub dockerfile_name: String,
    /// The Dockerfile's bytes, base64.
    pub dockerfile: String,
    /// `--target`.
    pub target: Option<String>,
    /// `--build-arg`s, resolved.
    pub build_args: BTreeMap<String, String>,
    /// `--label`s.
    pub labels: BTreeMap<String, String>,
    /// The platform built for.
    pub platform: String,
    /// `--network` for RUN: `host` or `none`.
    pub network: String,
    /// Ids of the `--secret`s given (their contents are never recorded).
    pub secrets: Vec<String>,
    /// `SOURCE_DATE_EPOCH`, when set.
    pub source_date_epoch: Option<i64>,
    /// The base image, unless the build started from scratch.
    pub base: Option<BaseRecord>,
    /// Per history row (bottom first): the cache key of the step that
    /// wrote it; `None` for the base image's rows. Empty when the rows
    /// could not be matched to steps.
    pub keys: Vec<Option<String>>,
}

impl BuildRecord {
    /// The record of a build of `req` (context root `context`) whose
    /// target's final config is `config`.
    pub fn new(
        req: &BuildRequest,
        context: Option<PathBuf>,
        plan: &Plan,
        config: &ImageConfig,
        platform: &str,
    ) -> BuildRecord {
        let (base, keys) = rows(plan, config);
        BuildRecord {
            version: RECORD_VERSION,
            context,
            dockerfile_path: req
                .dockerfile_path
                .as_ref()
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone())),
            dockerfile_name: req.dockerfile_name.clone(),
            dockerfile: base64::engine::general_purpose::STANDARD.encode(&req.dockerfile),
            target: req.target.clone(),
            build_args: req.build_args.clone(),
            labels: req.labels.clone(),
            platform: platform.to_string(),
            network: match req.network {
                NetworkMode::None => "none".into(),
                _ => "host".into(),
            },
            secrets: req.secrets.iter().map(|s| s.id.clone()).collect(),
            source_date_epoch: req.source_date_epoch,
            base,
            keys,
        }
    }

    /// The Dockerfile's bytes.
    pub fn dockerfile_bytes(&self) -> Result<Vec<u8>> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.dockerfile)
            .map_err(|e| BuildError::Invalid(format!("build record: bad Dockerfile: {e}")))
    }

    /// The record as stored.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| BuildError::Invalid(format!("build record: {e}")))
    }

    /// Saves the record of image `id` (which must be in the store); a
    /// build saves it in the transaction that tags the image instead
    /// (`export::commit_image`).
    pub fn save(&self, store: &Store, id: &Digest) -> Result<()> {
        let json = self.to_json()?;
        store
            .db()
            .write(|tx| builds::put(tx, id, &json, now_secs()))?;
        Ok(())
    }

    /// The record of image `id`, if strata built it (a record of an
    /// unknown later layout reads as none).
    pub fn load(store: &Store, id: &Digest) -> Result<Option<BuildRecord>> {
        let Some(json) = store.db().with(|c| builds::get(c, id))? else {
            return Ok(None);
        };
        Ok(serde_json::from_str::<BuildRecord>(&json)
            .ok()
            .filter(|r| r.version == RECORD_VERSION))
    }
}

/// The base record and the per-row keys of the target: its stage chain
/// from the root (whose FROM image gives the first rows) to the target,
/// each step that writes history giving one row.
fn rows(plan: &Plan, config: &ImageConfig) -> (Option<BaseRecord>, Vec<Option<String>>) {
    let mut chain = Vec::new();
    let mut at = Some(plan.target);
    while let Some(i) = at.take() {
        let Some(sp) = plan.stages.get(i).and_then(Option::as_ref) else {
            return (None, Vec::new());
        };
        if chain.len() > plan.stages.len() {
            return (None, Vec::new());
        }
        chain.push(sp);
        if let Base::Stage(j) = sp.base {
            at = Some(j);
        }
    }
    chain.reverse();
    let base = match &chain.first().map(|sp| &sp.base) {
        Some(Base::Image {
            reference, image, ..
        }) => Some(BaseRecord {
            image: image.id().clone(),
            reference: reference.clone(),
            history: image.config.history.len(),
        }),
        _ => None,
    };
    let mut keys: Vec<Option<String>> = vec![None; base.as_ref().map_or(0, |b| b.history)];
    for sp in chain {
        keys.extend(
            sp.steps
                .iter()
                .filter(|s| adds_history(s))
                .map(|s| Some(s.key.clone())),
        );
    }
    if keys.len() != config.history.len() {
        tracing::debug!(
            "build record: {} rows for {} history entries; keys not recorded",
            keys.len(),
            config.history.len()
        );
        keys.clear();
    }
    (base, keys)
}
