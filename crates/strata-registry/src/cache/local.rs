//! `--cache-to type=local,dest=DIR` and `--cache-from type=local,src=DIR`:
//! the registry form's manifest, cache config and layer blobs, kept in an
//! OCI image layout directory, as BuildKit keeps its local cache:
//!
//! ```text
//! DIR/oci-layout            {"imageLayoutVersion":"1.0.0"}
//! DIR/index.json            one descriptor per tag: the cache manifest, annotated
//!                           org.opencontainers.image.ref.name = TAG (`latest` unless tag=)
//! DIR/blobs/sha256/<hex>    the manifest, the cache config, the layer blobs
//! ```
//! An export replaces the tag's entry in an existing `index.json` and keeps
//! the other entries and every blob already there. An import reads the
//! tag's manifest, checks every digest, and unpacks the layers into the
//! store all or nothing, as a registry import does.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use strata_oci::Digest;
use strata_oci::manifest::{self, descriptor_digest};
use strata_oci::media::{self, LayerCompression};
use strata_store::Store;
use strata_store::db::layers::LayerBlob;
use strata_store::ingest::{LayerSource, StagedLayer};

use super::export::{Planned, cache_manifest, document, plan};
use super::import::{chain_jobs, pin};
use super::{
    CONFIG_MEDIA_TYPE, CacheConfig, CacheExport, CacheMode, CacheOptions, CacheRecord,
    MAX_CACHE_CONFIG,
};
use crate::error::{RegistryError, Result};
use crate::push::compress_layer;

/// The annotation naming a tag in `index.json`.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

fn io_err(op: &str, path: &Path, e: std::io::Error) -> RegistryError {
    RegistryError::Invalid(format!("{op} {}: {e}", path.display()))
}

fn blob_path(dir: &Path, d: &Digest) -> PathBuf {
    dir.join("blobs").join(d.algorithm()).join(d.hex())
}

/// Writes `data` to `path` through a temporary file and a rename.
fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let res = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    res.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err("write", path, e)
    })
}

/// Puts a blob into the layout unless it is there; true when written.
fn put_blob(dir: &Path, d: &Digest, src: &Path) -> Result<bool> {
    let dst = blob_path(dir, d);
    if dst.is_file() {
        return Ok(false);
    }
    let tmp = dst.with_extension(format!("tmp-{}", std::process::id()));
    let res = fs::hard_link(src, &tmp)
        .or_else(|_| fs::copy(src, &tmp).map(|_| ()))
        .and_then(|()| fs::rename(&tmp, &dst));
    res.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err("write", &dst, e)
    })?;
    Ok(true)
}

/// Exports `records` to the OCI layout `dir` under `tag`.
pub fn export_cache_dir(
    store: &Store,
    dir: &Path,
    tag: &str,
    records: &[CacheRecord],
    mode: CacheMode,
    opts: &CacheOptions,
) -> Result<CacheExport> {
    let Planned {
        selected,
        diffs,
        picks,
    } = plan(store, records, mode)?;
    let blobs_dir = dir.join("blobs").join("sha256");
    fs::create_dir_all(&blobs_dir).map_err(|e| io_err("create", &blobs_dir, e))?;
    let content = store.content();
    let mut blobs: Vec<LayerBlob> = Vec::with_capacity(picks.len());
    let mut written = 0;
    for pick in picks {
        let b = match pick {
            Ok(b) => b,
            Err(src) => compress_layer(content, &store.db_arc(), &src, opts.compression)?,
        };
        written += usize::from(put_blob(dir, &b.digest, &content.path(&b.digest))?);
        blobs.push(b);
    }
    let doc = document(&selected, &diffs, mode);
    let cfg = serde_json::to_vec(&doc)
        .map_err(|e| RegistryError::Invalid(format!("encoding the cache config: {e}")))?;
    let cfg_digest = Digest::of(&cfg);
    let man = cache_manifest(&cfg_digest, cfg.len() as u64, &blobs, mode);
    let man_digest = Digest::of(&man);
    for (d, data) in [(&cfg_digest, &cfg), (&man_digest, &man)] {
        let p = blob_path(dir, d);
        if !p.is_file() {
            write_atomic(&p, data)?;
            written += 1;
        }
    }
    let index_path = dir.join("index.json");
    let mut manifests: Vec<serde_json::Value> = match fs::read(&index_path) {
        Ok(b) => serde_json::from_slice::<serde_json::Value>(&b)
            .ok()
            .and_then(|v| v.get("manifests").and_then(|m| m.as_array()).cloned())
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    manifests.retain(|m| m["annotations"][REF_NAME].as_str() != Some(tag));
    manifests.push(serde_json::json!({
        "mediaType": media::OCI_MANIFEST,
        "digest": man_digest.as_str(),
        "size": man.len(),
        "annotations": { REF_NAME: tag },
    }));
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_INDEX,
        "manifests": manifests,
    });
    write_atomic(
        &dir.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    write_atomic(&index_path, &serde_json::to_vec(&index).unwrap_or_default())?;
    Ok(CacheExport {
        manifest_digest: man_digest,
        records: selected.len(),
        blobs: blobs.len(),
        uploaded: written,
    })
}

/// Reads blob `d` of the layout, checking its digest (at most `max` bytes).
fn read_blob(dir: &Path, d: &Digest, max: u64) -> Result<Vec<u8>> {
    let p = blob_path(dir, d);
    let len = fs::metadata(&p).map_err(|e| io_err("read", &p, e))?.len();
    if len > max {
        return Err(RegistryError::Invalid(format!(
            "{}: {len} bytes, more than {max}",
            p.display()
        )));
    }
    let data = fs::read(&p).map_err(|e| io_err("read", &p, e))?;
    let got = Digest::of(&data);
    if &got != d {
        return Err(RegistryError::DigestMismatch {
            what: "blob",
            expected: d.clone(),
            detail: format!("{} hashes to {got}", p.display()),
        });
    }
    Ok(data)
}

fn not_cache(dir: &Path, why: impl Into<String>) -> RegistryError {
    RegistryError::Manifest {
        context: dir.display().to_string(),
        reason: format!("not a strata build cache: {}", why.into()),
    }
}

/// Imports the cache tagged `tag` in the OCI layout `dir` (see the module
/// doc); pinned under the lease `buildcache:<dir>:<tag>`.
pub fn import_cache_dir(
    store: &Store,
    dir: &Path,
    tag: &str,
    opts: &CacheOptions,
) -> Result<Vec<CacheRecord>> {
    let index_path = dir.join("index.json");
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(&index_path).map_err(|e| io_err("read", &index_path, e))?)
            .map_err(|e| not_cache(dir, format!("index.json: {e}")))?;
    let entry = index["manifests"]
        .as_array()
        .and_then(|ms| {
            ms.iter()
                .find(|m| m["annotations"][REF_NAME].as_str() == Some(tag))
        })
        .ok_or_else(|| not_cache(dir, format!("no manifest is tagged {tag:?}")))?;
    let man_digest = entry["digest"]
        .as_str()
        .and_then(|d| Digest::parse(d).ok())
        .ok_or_else(|| not_cache(dir, "a manifest descriptor has no valid digest"))?;
    let man = read_blob(dir, &man_digest, MAX_CACHE_CONFIG)?;
    let parsed = manifest::parse_manifest(&man).map_err(|e| not_cache(dir, e.to_string()))?;
    let cfg_type = parsed.config().media_type().to_string();
    let cfg_digest =
        descriptor_digest(parsed.config()).map_err(|e| not_cache(dir, e.to_string()))?;
    let cfg_bytes = read_blob(dir, &cfg_digest, MAX_CACHE_CONFIG)?;
    let config: CacheConfig = if cfg_type == CONFIG_MEDIA_TYPE {
        serde_json::from_slice(&cfg_bytes).map_err(|e| not_cache(dir, e.to_string()))?
    } else if media::is_config(&cfg_type) {
        super::inline::from_image_config(&cfg_bytes).map_err(|e| not_cache(dir, e))?
    } else {
        return Err(not_cache(dir, format!("its config is {cfg_type:?}")));
    };
    let blobs = parsed
        .layers()
        .iter()
        .map(|d| {
            Ok(LayerBlob {
                digest: descriptor_digest(d).map_err(|e| not_cache(dir, e.to_string()))?,
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
    let shown = dir.display().to_string();
    let jobs = chain_jobs(&records, &diff_to_blob, &shown)?;
    // All or nothing: stage every missing layer, then commit bottom first.
    let mut staged: Vec<(StagedLayer, Option<Digest>)> = Vec::new();
    let res = (|| -> Result<()> {
        for j in &jobs {
            let src = LayerSource {
                media_type: j.media_type.clone(),
                blob_digest: Some(j.blob.clone()),
                blob_size: Some(j.size),
                diff_id: Some(j.diff_id.clone()),
                compression: LayerCompression::of_media_type(&j.media_type),
                keep_blob: true,
                lazy: false,
            };
            let path = blob_path(dir, &j.blob);
            let open = || fs::File::open(&path).map_err(|e| io_err("read", &path, e));
            if store.snapshots().get(&j.chain)?.is_some() {
                if !store.content().exists(&j.blob) {
                    store.ingest_blob_only(&j.diff_id, &src, open()?)?;
                }
                continue;
            }
            staged.push((store.stage_layer(&src, open()?)?, j.parent.clone()));
        }
        Ok(())
    })();
    if let Err(e) = res {
        for (s, _) in staged {
            s.abort();
        }
        return Err(e);
    }
    let mut staged = staged.into_iter();
    while let Some((s, parent)) = staged.next() {
        if let Err(e) = s.commit(store, parent.as_ref()) {
            for (rest, _) in staged {
                rest.abort();
            }
            return Err(e.into());
        }
    }
    pin(
        store,
        &format!("buildcache:{}:{tag}", dir.display()),
        &records,
        &jobs,
        opts,
    )?;
    Ok(records)
}
