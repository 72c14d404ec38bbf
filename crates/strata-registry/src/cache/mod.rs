//! The registry build cache: build results stored in a registry as an OCI
//! artifact, so a clean machine (empty store) can reuse what another one
//! built by pulling layers instead of running steps
//! (`build --cache-to/--cache-from type=registry,ref=R`).
//!
//! # Format, version 1
//!
//! The cache lives at one reference `R` (`registry/repo:tag`) as an OCI
//! image manifest whose `artifactType` and config are strata's:
//!
//! ```text
//! R ──> manifest  application/vnd.oci.image.manifest.v1+json
//!       ├─ artifactType  application/vnd.strata.buildcache.v1
//!       ├─ config        application/vnd.strata.buildcache.config.v1+json ──> cache config (below)
//!       ├─ layers[0..n]  the layer blobs, each once, with their usual media types
//!       │                (…layer.v1.tar+gzip, +zstd, docker's rootfs.diff.tar.gzip)
//!       └─ annotations   org.opencontainers.image.created, dev.strata.buildcache.mode = min|max
//!
//! cache config (JSON)
//! {
//!   "schemaVersion": 1,
//!   "mode": "max",
//!   "layers": [ {"diffID": "sha256:…"}, … ],        ← layers[i] is the diffID of manifest.layers[i]
//!   "records": [
//!     { "key":    "<64 hex>",                       ← the step's cache key (sha256 hex)
//!       "parent": "<64 hex>",                       ← the previous step's key; absent for a stage's first
//!       "config": { "digest": "sha256:…",           ← the image config after the step:
//!                   "data":   "<base64>" },            its exact bytes (digest checked on import)
//!       "layer":  3 },                              ← index into layers, when the step made a layer
//!     …
//!   ]
//! }
//! ```
//!
//! A record's whole layer chain is its config's `rootfs.diff_ids`, bottom
//! first; every diffID in it has an entry in `layers`, so a record can be
//! materialised with nothing but the cache (base-image layers included).
//! Blobs are content-addressed: one blob serves every record that has its
//! layer, and a later export to the same repository re-sends only new
//! blobs (HEAD first).
//!
//! Modes: [`CacheMode::Max`] exports every record given (every stage,
//! every step); [`CacheMode::Min`] only the chain that leads to the final
//! result — the last record given and its ancestors through `parent` —
//! like BuildKit's `mode=min`.
//!
//! Import ([`import_cache`]) fetches the manifest and the cache config,
//! verifies every digest, makes every record's chain present in the store
//! (layers pulled in parallel and unpacked, all or nothing, exactly as a
//! pull does), stores the configs, pins all of it under a lease
//! `buildcache:<R>` (so GC keeps it until the build engine records the
//! entries in its own tables; it expires after [`CacheOptions::lease_ttl`])
//! and returns the records.
//!
//! The same document also travels in an OCI layout directory
//! (`type=local`, [`export_cache_dir`], [`import_cache_dir`]) and inside
//! the image it describes (`type=inline`, [`inline_value`]; imported from
//! the image by [`import_cache`]).

mod export;
mod import;
mod inline;
mod local;

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use strata_oci::Digest;
use strata_store::db::layers::LayerBlob;
use strata_store::layer::Compression;

pub use export::{CacheExport, export_cache};
pub use import::import_cache;
pub use inline::{INLINE_FIELD, inline_value};
pub use local::{export_cache_dir, import_cache_dir};

use crate::config::RegistryOptions;
use crate::error::{RegistryError, Result};
use crate::progress::{self, ProgressRef};
use crate::upload::UploadOptions;

/// `artifactType` of a cache manifest.
pub const ARTIFACT_TYPE: &str = "application/vnd.strata.buildcache.v1";
/// Media type of the cache config blob.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.strata.buildcache.config.v1+json";
/// Annotation naming the export mode.
pub const ANNOTATION_MODE: &str = "dev.strata.buildcache.mode";
/// The cache config's schema version.
pub const SCHEMA_VERSION: u32 = 1;
/// Largest cache config accepted on import.
pub const MAX_CACHE_CONFIG: u64 = 64 << 20;

/// A layer a build step made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheLayer {
    /// Its diffID.
    pub diff_id: Digest,
    /// The blob holding it.
    pub blob: LayerBlob,
}

/// One build step's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRecord {
    /// The step's cache key (64 lowercase hex).
    pub key: String,
    /// The previous step's key.
    pub parent: Option<String>,
    /// Digest of the image config after the step.
    pub config_digest: Digest,
    /// That config's bytes.
    pub config: Vec<u8>,
    /// The layer the step made, if it made one.
    pub layer: Option<CacheLayer>,
}

/// Which records an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// The final result's chain only.
    #[default]
    Min,
    /// Every record.
    Max,
}

impl CacheMode {
    /// `min` / `max`.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheMode::Min => "min",
            CacheMode::Max => "max",
        }
    }

    /// Parses `min` / `max`.
    pub fn parse(s: &str) -> Result<CacheMode> {
        match s {
            "min" => Ok(CacheMode::Min),
            "max" => Ok(CacheMode::Max),
            _ => Err(RegistryError::Invalid(format!(
                "invalid cache mode {s:?}: expected min or max"
            ))),
        }
    }
}

/// Options of an export or import.
#[derive(Clone)]
pub struct CacheOptions {
    /// Registry access.
    pub registry: RegistryOptions,
    /// Progress events.
    pub progress: ProgressRef,
    /// Blobs transferred at once.
    pub max_concurrent: usize,
    /// Upload strategy.
    pub upload: UploadOptions,
    /// Compression for layers the store holds uncompressed.
    pub compression: Compression,
    /// How long an import's lease keeps the cache content from GC.
    pub lease_ttl: Duration,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            registry: RegistryOptions::default(),
            progress: progress::none(),
            max_concurrent: 4,
            upload: UploadOptions::default(),
            compression: Compression::GZIP,
            lease_ttl: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl std::fmt::Debug for CacheOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheOptions")
            .field("registry", &self.registry)
            .field("max_concurrent", &self.max_concurrent)
            .field("lease_ttl", &self.lease_ttl)
            .finish()
    }
}

/// The cache config document (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheConfig {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `min` or `max`.
    pub mode: String,
    /// The diffID of each manifest layer, in manifest order.
    pub layers: Vec<CacheConfigLayer>,
    /// The records.
    pub records: Vec<CacheConfigRecord>,
}

/// A `layers[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheConfigLayer {
    /// The layer's diffID.
    #[serde(rename = "diffID")]
    pub diff_id: Digest,
}

/// A `records[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheConfigRecord {
    /// The step's cache key.
    pub key: String,
    /// The previous step's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The resulting image config.
    pub config: CacheConfigBlob,
    /// Index into `layers` of the layer the step made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
}

/// An embedded config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheConfigBlob {
    /// Its digest.
    pub digest: Digest,
    /// Its bytes, base64.
    pub data: String,
}

fn is_key(k: &str) -> bool {
    k.len() == 64 && k.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn invalid(what: &str, reason: impl Into<String>) -> RegistryError {
    RegistryError::Manifest {
        context: what.to_string(),
        reason: reason.into(),
    }
}

/// Checks a record's key, parent and config; returns its config's chain
/// of diffIDs, bottom first.
pub(crate) fn check_record(
    key: &str,
    parent: Option<&str>,
    digest: &Digest,
    config: &[u8],
) -> Result<Vec<Digest>> {
    let ctx = format!("build cache record {key}");
    if !is_key(key) {
        return Err(invalid(&ctx, "the key is not 64 lowercase hex digits"));
    }
    if parent.is_some_and(|p| !is_key(p)) {
        return Err(invalid(
            &ctx,
            "the parent key is not 64 lowercase hex digits",
        ));
    }
    let got = Digest::of(config);
    if &got != digest {
        return Err(RegistryError::DigestMismatch {
            what: "config",
            expected: digest.clone(),
            detail: format!("record {key}: the config bytes hash to {got}"),
        });
    }
    let cfg = strata_oci::ImageConfig::from_slice(config)
        .map_err(|e| invalid(&ctx, format!("config: {e}")))?;
    Ok(cfg.rootfs.diff_ids)
}

impl CacheConfig {
    /// Parses and validates against the manifest's layer count; returns the
    /// records with their layer blobs (from `blobs`, manifest order).
    pub(crate) fn into_records(self, blobs: &[LayerBlob]) -> Result<Vec<CacheRecord>> {
        let ctx = "build cache config";
        if self.schema_version != SCHEMA_VERSION {
            return Err(invalid(
                ctx,
                format!("unsupported schemaVersion {}", self.schema_version),
            ));
        }
        if self.layers.len() != blobs.len() {
            return Err(invalid(
                ctx,
                format!(
                    "{} layer entries for {} manifest layers",
                    self.layers.len(),
                    blobs.len()
                ),
            ));
        }
        let by_diff: HashMap<&Digest, usize> = self
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| (&l.diff_id, i))
            .collect();
        let mut out = Vec::with_capacity(self.records.len());
        for r in self.records {
            let config = B64.decode(r.config.data.as_bytes()).map_err(|e| {
                invalid(
                    ctx,
                    format!("record {}: config data is not base64: {e}", r.key),
                )
            })?;
            let chain = check_record(&r.key, r.parent.as_deref(), &r.config.digest, &config)?;
            if let Some(d) = chain.iter().find(|d| !by_diff.contains_key(d)) {
                return Err(invalid(
                    ctx,
                    format!(
                        "record {}: layer {d} of its chain is not in the cache",
                        r.key
                    ),
                ));
            }
            let layer = match r.layer {
                None => None,
                Some(i) => {
                    let l = self.layers.get(i).ok_or_else(|| {
                        invalid(
                            ctx,
                            format!("record {}: layer index {i} out of range", r.key),
                        )
                    })?;
                    if !chain.contains(&l.diff_id) {
                        return Err(invalid(
                            ctx,
                            format!(
                                "record {}: its layer {} is not in its config's chain",
                                r.key, l.diff_id
                            ),
                        ));
                    }
                    Some(CacheLayer {
                        diff_id: l.diff_id.clone(),
                        blob: blobs[i].clone(),
                    })
                }
            };
            out.push(CacheRecord {
                key: r.key,
                parent: r.parent,
                config_digest: r.config.digest,
                config,
                layer,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with(diffs: &[Digest]) -> Vec<u8> {
        let mut c = strata_oci::ImageConfig::default();
        c.rootfs.diff_ids = diffs.to_vec();
        c.to_vec()
    }

    #[test]
    fn config_round_trips_and_validates() {
        let d0 = Digest::of(b"layer0");
        let cfg = config_with(std::slice::from_ref(&d0));
        let blob = LayerBlob {
            digest: Digest::of(b"gz0"),
            media_type: strata_oci::media::OCI_LAYER_GZIP.into(),
            size: 3,
        };
        let key = "a".repeat(64);
        let doc = CacheConfig {
            schema_version: 1,
            mode: "max".into(),
            layers: vec![CacheConfigLayer {
                diff_id: d0.clone(),
            }],
            records: vec![CacheConfigRecord {
                key: key.clone(),
                parent: None,
                config: CacheConfigBlob {
                    digest: Digest::of(&cfg),
                    data: B64.encode(&cfg),
                },
                layer: Some(0),
            }],
        };
        let json = serde_json::to_string(&doc).unwrap();
        assert!(
            json.contains(r#""schemaVersion":1"#) && json.contains(r#""diffID""#),
            "{json}"
        );
        let back: CacheConfig = serde_json::from_str(&json).unwrap();
        let recs = back
            .clone()
            .into_records(std::slice::from_ref(&blob))
            .unwrap();
        assert_eq!(recs[0].key, key);
        assert_eq!(recs[0].config, cfg);
        assert_eq!(recs[0].layer.as_ref().unwrap().blob, blob);

        let mut tampered = back.clone();
        tampered.records[0].config.data = B64.encode(config_with(&[]));
        assert!(matches!(
            tampered.into_records(std::slice::from_ref(&blob)),
            Err(RegistryError::DigestMismatch { .. })
        ));
        let mut bad_key = back.clone();
        bad_key.records[0].key = "xyz".into();
        assert!(bad_key.into_records(std::slice::from_ref(&blob)).is_err());
        assert!(back.clone().into_records(&[]).is_err());
        let mut missing = back;
        missing.layers[0].diff_id = Digest::of(b"other");
        assert!(missing.into_records(&[blob]).is_err());
    }

    #[test]
    fn modes_parse() {
        assert_eq!(CacheMode::parse("max").unwrap(), CacheMode::Max);
        assert_eq!(CacheMode::parse("min").unwrap().as_str(), "min");
        assert!(CacheMode::parse("all").is_err());
    }
}
