//! Writing a build cache to a registry (format: see the parent module).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::StreamExt;
use strata_oci::manifest::descriptor;
use strata_oci::media::{self, LayerCompression};
use strata_oci::{Digest, Reference};
use strata_store::Store;
use strata_store::db::layers::LayerBlob;

use super::{
    ANNOTATION_MODE, ARTIFACT_TYPE, CONFIG_MEDIA_TYPE, CacheConfig, CacheConfigBlob,
    CacheConfigLayer, CacheConfigRecord, CacheMode, CacheOptions, CacheRecord, SCHEMA_VERSION,
    check_record, check_replayed,
};
use crate::client::RegistryClient;
use crate::error::{RegistryError, Result};
use crate::push::compress_layer;
use crate::runtime::with_runtime;
use crate::upload::{UploadBlob, Uploaded, upload_blob};

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheExport {
    /// The cache manifest's digest.
    pub manifest_digest: Digest,
    /// Records written.
    pub records: usize,
    /// Layer blobs the cache references.
    pub blobs: usize,
    /// Blobs actually sent (the rest were in the repository already).
    pub uploaded: usize,
}

/// The records a mode exports, in the order given.
pub(crate) fn select(records: &[CacheRecord], mode: CacheMode) -> Vec<&CacheRecord> {
    match mode {
        CacheMode::Max => {
            let mut seen = HashSet::new();
            records
                .iter()
                .rev()
                .filter(|r| seen.insert(r.key.as_str()))
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect()
        }
        CacheMode::Min => {
            let by_key: HashMap<&str, &CacheRecord> =
                records.iter().map(|r| (r.key.as_str(), r)).collect();
            let mut keep = HashSet::new();
            let mut next = records.last();
            while let Some(r) = next {
                if !keep.insert(r.key.as_str()) {
                    break;
                }
                next = r.parent.as_deref().and_then(|p| by_key.get(p).copied());
            }
            let mut seen = HashSet::new();
            records
                .iter()
                .filter(|r| keep.contains(r.key.as_str()) && seen.insert(r.key.as_str()))
                .collect()
        }
    }
}

fn compressed(b: &LayerBlob) -> bool {
    LayerCompression::of_media_type(&b.media_type).is_some_and(|c| c != LayerCompression::None)
}

/// The blob to export for `diff`, or the uncompressed blob to compress.
fn pick_blob(
    store: &Store,
    diff: &Digest,
    own: Option<&LayerBlob>,
) -> Result<Result<LayerBlob, Digest>> {
    if let Some(b) = own.filter(|b| compressed(b) && store.content().exists(&b.digest)) {
        return Ok(Ok(b.clone()));
    }
    if let Some(b) = store
        .layer_blobs(diff)?
        .into_iter()
        .find(|b| compressed(b) && store.content().exists(&b.digest))
    {
        return Ok(Ok(b));
    }
    if store.ensure_blob(diff)? {
        return Ok(Err(diff.clone()));
    }
    Err(RegistryError::Invalid(format!(
        "build cache: layer {diff}: no blob of it is in the store"
    )))
}

/// What an export writes, before any blob moves: the selected records,
/// every diffID of their chains (bottom first, each once), and for each
/// the blob to send (or the uncompressed blob to compress first).
pub(crate) struct Planned<'a> {
    pub selected: Vec<&'a CacheRecord>,
    pub diffs: Vec<Digest>,
    pub picks: Vec<std::result::Result<LayerBlob, Digest>>,
}

/// Selects and checks the records of `mode`, and picks their blobs.
pub(crate) fn plan<'a>(
    store: &Store,
    records: &'a [CacheRecord],
    mode: CacheMode,
) -> Result<Planned<'a>> {
    let selected = select(records, mode);
    let diffs = chain_of(&selected)?;
    let mut own: HashMap<Digest, LayerBlob> = HashMap::new();
    for r in &selected {
        if let Some(l) = &r.layer {
            own.entry(l.diff_id.clone())
                .or_insert_with(|| l.blob.clone());
        }
    }
    let picks = diffs
        .iter()
        .map(|d| pick_blob(store, d, own.get(d)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Planned {
        selected,
        diffs,
        picks,
    })
}

/// Every diffID of the records' chains, bottom first, each once; checks
/// each record and that its own layer is in its chain.
pub(crate) fn chain_of(selected: &[&CacheRecord]) -> Result<Vec<Digest>> {
    let mut diffs: Vec<Digest> = Vec::new();
    for r in selected {
        let Some(config_digest) = &r.config_digest else {
            check_replayed(&r.key, r.parent.as_deref(), r.created.as_deref(), None)?;
            continue;
        };
        for d in check_record(&r.key, r.parent.as_deref(), config_digest, &r.config)? {
            if !diffs.contains(&d) {
                diffs.push(d);
            }
        }
    }
    for r in selected {
        if let Some(l) = &r.layer
            && !diffs.contains(&l.diff_id)
        {
            return Err(RegistryError::Invalid(format!(
                "build cache record {}: its layer {} is not in its config's chain",
                r.key, l.diff_id
            )));
        }
    }
    Ok(diffs)
}

/// The cache config document of `selected`, whose layers are `diffs`.
pub(crate) fn document(
    selected: &[&CacheRecord],
    diffs: &[Digest],
    mode: CacheMode,
) -> CacheConfig {
    let index: HashMap<&Digest, usize> = diffs.iter().enumerate().map(|(i, d)| (d, i)).collect();
    CacheConfig {
        schema_version: SCHEMA_VERSION,
        mode: mode.as_str().to_string(),
        layers: diffs
            .iter()
            .map(|d| CacheConfigLayer { diff_id: d.clone() })
            .collect(),
        records: selected
            .iter()
            .map(|r| CacheConfigRecord {
                key: r.key.clone(),
                parent: r.parent.clone(),
                config: r.config_digest.as_ref().map(|d| CacheConfigBlob {
                    digest: d.clone(),
                    data: B64.encode(&r.config),
                }),
                // Only a replayed record needs its time (a config has its
                // own): the document then does not depend on whether the
                // local record kept one, so an inline cache is reproducible.
                created: r
                    .config_digest
                    .is_none()
                    .then(|| r.created.clone())
                    .flatten(),
                layer: r
                    .layer
                    .as_ref()
                    .and_then(|l| index.get(&l.diff_id).copied()),
            })
            .collect(),
    }
}

/// Exports `records` to `reference` (see the parent module for the format
/// and for what `mode` selects).
pub fn export_cache(
    store: &Store,
    reference: &Reference,
    records: &[CacheRecord],
    mode: CacheMode,
    opts: &CacheOptions,
) -> Result<CacheExport> {
    let Planned {
        selected,
        diffs,
        picks,
    } = plan(store, records, mode)?;
    let repo = reference.path().to_string();
    let tag = reference
        .tag()
        .or(reference.digest())
        .unwrap_or(strata_oci::reference::DEFAULT_TAG)
        .to_string();
    with_runtime(|rt| {
        crate::runtime::block_on(rt, async {
            let client =
                Arc::new(RegistryClient::connect(reference.domain(), &opts.registry).await?);
            let content = store.content().clone();
            let db = store.db_arc();
            let jobs = picks.into_iter().enumerate().map(|(i, pick)| {
                let (content, db, client, repo) =
                    (content.clone(), db.clone(), client.clone(), repo.clone());
                let (compression, upload, progress) =
                    (opts.compression, opts.upload, opts.progress.clone());
                async move {
                    let blob = match pick {
                        Ok(b) => b,
                        Err(src) => {
                            let content = content.clone();
                            tokio::task::spawn_blocking(move || {
                                compress_layer(&content, &db, &src, compression)
                            })
                        }
                        .await
                        .map_err(|e| RegistryError::Invalid(format!("compression task: {e}")))??,
                    };
                    let ub = UploadBlob {
                        digest: blob.digest.clone(),
                        size: blob.size,
                        path: content.path(&blob.digest),
                        id: Some(blob.digest.short().to_string()),
                        mount_from: Vec::new(),
                    };
                    let done = upload_blob(&client, &repo, &ub, &upload, &progress)
                        .await
                        .map_err(|e| e.in_layer(&blob.digest))?;
                    Ok::<_, RegistryError>((i, blob, done == Uploaded::Pushed))
                }
            });
            let results: Vec<Result<(usize, LayerBlob, bool)>> = futures_util::stream::iter(jobs)
                .buffer_unordered(opts.max_concurrent.max(1))
                .collect()
                .await;
            let mut blobs: Vec<Option<LayerBlob>> = vec![None; diffs.len()];
            let mut uploaded = 0;
            for r in results {
                let (i, b, sent) = r?;
                uploaded += usize::from(sent);
                blobs[i] = Some(b);
            }
            let blobs: Vec<LayerBlob> = blobs.into_iter().flatten().collect();
            let doc = document(&selected, &diffs, mode);
            let config_bytes = serde_json::to_vec(&doc)
                .map_err(|e| RegistryError::Invalid(format!("encoding the cache config: {e}")))?;
            let config_digest = store.content().put(&config_bytes)?;
            let cb = UploadBlob {
                digest: config_digest.clone(),
                size: config_bytes.len() as u64,
                path: store.content().path(&config_digest),
                id: None,
                mount_from: Vec::new(),
            };
            if upload_blob(&client, &repo, &cb, &opts.upload, &opts.progress).await?
                == Uploaded::Pushed
            {
                uploaded += 1;
            }
            let manifest = cache_manifest(&config_digest, config_bytes.len() as u64, &blobs, mode);
            let digest = client
                .put_manifest(
                    &repo,
                    &tag,
                    &manifest,
                    media::OCI_MANIFEST,
                    &reference.familiar(),
                )
                .await?;
            Ok(CacheExport {
                manifest_digest: digest,
                records: selected.len(),
                blobs: blobs.len(),
                uploaded,
            })
        })
    })
}

/// The cache manifest's bytes.
pub(crate) fn cache_manifest(
    config: &Digest,
    size: u64,
    blobs: &[LayerBlob],
    mode: CacheMode,
) -> Vec<u8> {
    let mut m = serde_json::Map::new();
    m.insert("schemaVersion".into(), 2.into());
    m.insert("mediaType".into(), media::OCI_MANIFEST.into());
    m.insert("artifactType".into(), ARTIFACT_TYPE.into());
    m.insert(
        "config".into(),
        serde_json::to_value(descriptor(CONFIG_MEDIA_TYPE, config, size)).unwrap_or_default(),
    );
    let layers: Vec<serde_json::Value> = blobs
        .iter()
        .map(|b| {
            serde_json::to_value(descriptor(&b.media_type, &b.digest, b.size)).unwrap_or_default()
        })
        .collect();
    m.insert("layers".into(), layers.into());
    let mut ann = serde_json::Map::new();
    ann.insert(ANNOTATION_MODE.into(), mode.as_str().into());
    ann.insert(
        "org.opencontainers.image.created".into(),
        strata_oci::config::rfc3339_now().into(),
    );
    m.insert("annotations".into(), ann.into());
    serde_json::to_vec(&m).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: char, parent: Option<char>) -> CacheRecord {
        let config = format!("{{\"k\":\"{key}\"}}").into_bytes();
        CacheRecord {
            key: key.to_string().repeat(64),
            parent: parent.map(|p| p.to_string().repeat(64)),
            config_digest: Some(Digest::of(&config)),
            config,
            created: None,
            layer: None,
        }
    }

    #[test]
    fn min_follows_the_final_chain_max_keeps_all() {
        // a ← b ← d (final), a ← c (another stage)
        let records = vec![
            rec('a', None),
            rec('b', Some('a')),
            rec('c', Some('a')),
            rec('d', Some('b')),
        ];
        let keys = |v: Vec<&CacheRecord>| {
            v.iter()
                .map(|r| r.key.chars().next().unwrap())
                .collect::<String>()
        };
        assert_eq!(keys(select(&records, CacheMode::Min)), "abd");
        assert_eq!(keys(select(&records, CacheMode::Max)), "abcd");
        assert!(select(&[], CacheMode::Min).is_empty());
    }

    #[test]
    fn manifest_names_our_types() {
        let cfg = Digest::of(b"{}");
        let b = LayerBlob {
            digest: Digest::of(b"x"),
            media_type: media::OCI_LAYER_GZIP.into(),
            size: 1,
        };
        let bytes = cache_manifest(&cfg, 2, &[b], CacheMode::Max);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["artifactType"], ARTIFACT_TYPE);
        assert_eq!(v["config"]["mediaType"], CONFIG_MEDIA_TYPE);
        assert_eq!(v["layers"][0]["mediaType"], media::OCI_LAYER_GZIP);
        assert_eq!(v["annotations"][ANNOTATION_MODE], "max");
        strata_oci::manifest::parse_manifest(&bytes).unwrap();
    }
}
