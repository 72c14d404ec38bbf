//! Reading a build cache from a registry into the store (format: see the
//! parent module).

use std::collections::HashSet;
use std::sync::Arc;

use strata_oci::manifest::{self, DocumentKind, descriptor_digest};
use strata_oci::{Digest, Reference, chain_ids};
use strata_store::Store;
use strata_store::db::layers::LayerBlob;
use strata_store::db::leases::{self, ResourceKind};
use strata_store::db::now_secs;

use super::{
    ARTIFACT_TYPE, CONFIG_MEDIA_TYPE, CacheConfig, CacheOptions, CacheRecord, MAX_CACHE_CONFIG,
};
use crate::client::RegistryClient;
use crate::error::{RegistryError, Result};
use crate::fetch::{Fetcher, LayerJob};
use crate::runtime::with_runtime;

/// The lease that pins what an import brought in.
pub fn lease_id(reference: &Reference) -> String {
    format!("buildcache:{reference}")
}

fn not_cache(shown: &str, why: String) -> RegistryError {
    RegistryError::Manifest {
        context: shown.to_string(),
        reason: format!("not a strata build cache: {why}"),
    }
}

/// Imports the cache at `reference`: every record's layer chain is made
/// present in the store (pulled and unpacked, all or nothing), the
/// configs are stored, everything is pinned by the lease
/// [`lease_id`]`(reference)`, and the records are returned.
pub fn import_cache(
    store: &Store,
    reference: &Reference,
    opts: &CacheOptions,
) -> Result<Vec<CacheRecord>> {
    let repo = reference.path().to_string();
    let shown = reference.familiar();
    let target = reference
        .digest()
        .or(reference.tag())
        .unwrap_or(strata_oci::reference::DEFAULT_TAG)
        .to_string();
    with_runtime(|rt| {
        let client = Arc::new(crate::runtime::block_on(
            rt,
            RegistryClient::connect(reference.domain(), &opts.registry),
        )?);
        let m = crate::runtime::block_on(rt, client.get_manifest(&repo, &target, &shown))?;
        let (kind, _) =
            manifest::classify(&m.bytes, None).map_err(|e| not_cache(&shown, e.to_string()))?;
        if kind != DocumentKind::Manifest {
            return Err(not_cache(&shown, "it is an index".into()));
        }
        let doc: serde_json::Value =
            serde_json::from_slice(&m.bytes).map_err(|e| not_cache(&shown, e.to_string()))?;
        let parsed =
            manifest::parse_manifest(&m.bytes).map_err(|e| not_cache(&shown, e.to_string()))?;
        let cfg_type = parsed.config().media_type().to_string();
        let inline = strata_oci::media::is_config(&cfg_type);
        if cfg_type != CONFIG_MEDIA_TYPE && !inline {
            return Err(not_cache(&shown, format!("its config is {cfg_type:?}")));
        }
        if let Some(at) = doc.get("artifactType").and_then(|v| v.as_str())
            && at != ARTIFACT_TYPE
        {
            return Err(not_cache(&shown, format!("its artifactType is {at:?}")));
        }
        let cfg_digest =
            descriptor_digest(parsed.config()).map_err(|e| not_cache(&shown, e.to_string()))?;
        let cfg_bytes = crate::runtime::block_on(
            rt,
            client.get_small_blob(&repo, &cfg_digest, parsed.config().size(), MAX_CACHE_CONFIG),
        )?;
        let config: CacheConfig = if inline {
            // An image built with `--cache-to type=inline`.
            super::inline::from_image_config(&cfg_bytes).map_err(|e| not_cache(&shown, e))?
        } else {
            serde_json::from_slice(&cfg_bytes).map_err(|e| RegistryError::Manifest {
                context: format!("build cache config {cfg_digest}"),
                reason: e.to_string(),
            })?
        };
        let blobs = parsed
            .layers()
            .iter()
            .map(|d| {
                Ok(LayerBlob {
                    digest: descriptor_digest(d).map_err(|e| not_cache(&shown, e.to_string()))?,
                    media_type: d.media_type().to_string(),
                    size: d.size(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let diff_to_blob: Vec<(Digest, LayerBlob)> = config
            .layers
            .iter()
            .map(|l| l.diff_id.clone())
            .zip(blobs.iter().cloned())
            .collect();
        let records = config.into_records(&blobs)?;
        let jobs = chain_jobs(&records, &diff_to_blob, &shown)?;
        Fetcher {
            store,
            rt,
            client: &client,
            repo: &repo,
            concurrency: opts.max_concurrent,
            progress: &opts.progress,
        }
        .fetch(&jobs)?;
        pin(store, &lease_id(reference), &records, &jobs, opts)?;
        Ok(records)
    })
}

/// The layers every record's chain needs, parents before children.
pub(crate) fn chain_jobs(
    records: &[CacheRecord],
    diff_to_blob: &[(Digest, LayerBlob)],
    shown: &str,
) -> Result<Vec<LayerJob>> {
    let mut jobs: Vec<(usize, LayerJob)> = Vec::new();
    let mut seen = HashSet::new();
    for r in records.iter().filter(|r| r.config_digest.is_some()) {
        let cfg = strata_oci::ImageConfig::from_slice(&r.config).map_err(|e| {
            RegistryError::Manifest {
                context: format!("build cache record {}", r.key),
                reason: e.to_string(),
            }
        })?;
        let diffs = &cfg.rootfs.diff_ids;
        let chains = chain_ids(diffs);
        for (depth, (diff, chain)) in diffs.iter().zip(&chains).enumerate() {
            if !seen.insert(chain.clone()) {
                continue;
            }
            let blob = diff_to_blob
                .iter()
                .find(|(d, _)| d == diff)
                .map(|(_, b)| b.clone())
                .ok_or_else(|| not_cache(shown, format!("layer {diff} is missing")))?;
            jobs.push((
                depth,
                LayerJob {
                    blob: blob.digest,
                    size: blob.size,
                    media_type: blob.media_type,
                    diff_id: diff.clone(),
                    chain: chain.clone(),
                    parent: depth.checked_sub(1).map(|p| chains[p].clone()),
                },
            ));
        }
    }
    jobs.sort_by_key(|(depth, _)| *depth);
    Ok(jobs.into_iter().map(|(_, j)| j).collect())
}

/// Stores the records' configs and pins them, the layers' blobs and their
/// snapshots under `lease` (see the parent module).
pub(crate) fn pin(
    store: &Store,
    lease: &str,
    records: &[CacheRecord],
    jobs: &[LayerJob],
    opts: &CacheOptions,
) -> Result<()> {
    for r in records {
        if let Some(d) = &r.config_digest {
            store.content().put_expected(&r.config, d)?;
        }
    }
    let now = now_secs();
    let expires = now.saturating_add(i64::try_from(opts.lease_ttl.as_secs()).unwrap_or(i64::MAX));
    store.db().write(|tx| {
        leases::delete(tx, lease)?;
        leases::create(tx, lease, now, Some(expires))?;
        for d in records.iter().filter_map(|r| r.config_digest.as_ref()) {
            leases::add(tx, lease, ResourceKind::Blob, d.as_str())?;
        }
        for j in jobs {
            leases::add(tx, lease, ResourceKind::Snapshot, j.chain.as_str())?;
            leases::add(tx, lease, ResourceKind::Blob, j.blob.as_str())?;
        }
        Ok(())
    })?;
    Ok(())
}
