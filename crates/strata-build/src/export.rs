//! What a finished build produces: the image in the store (its config is
//! the target's last cached config, `--label`s merged, so a no-op rebuild
//! yields the very same image ID), its tags (set together with the cache
//! records' `last_used` in one transaction, and only after everything
//! succeeded), `--iidfile`, `--output` (OCI/docker archives, or the rootfs
//! as files) and the registry build cache (`--cache-to`, `--cache-from`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use strata_oci::media::LayerCompression;
use strata_oci::{Digest, ImageConfig, Reference};
use strata_registry::cache::{
    CacheLayer, CacheOptions, CacheRecord, INLINE_FIELD, export_cache, export_cache_dir,
    import_cache, import_cache_dir, inline_value,
};
use strata_store::Store;
use strata_store::archive::{SaveFormat, SaveItem};
use strata_store::db::images as iq;
use strata_store::db::layers::LayerBlob;
use strata_store::db::now_secs;
use strata_store::layer::{self, ApplyMode, ApplyOptions};

use crate::cache::{self, Description, Record, RecordLayer};
use crate::error::{BuildError, Result};
use crate::options::{CacheSpec, OutputSpec};

/// The final config: the target's config with `--label`s, and a
/// `created` time (the last step's) when it has none.
pub fn final_config(config: &ImageConfig, labels: &BTreeMap<String, String>) -> ImageConfig {
    let mut c = config.clone();
    if !labels.is_empty() {
        let l = c.config_mut().labels.get_or_insert_with(BTreeMap::new);
        for (k, v) in labels {
            l.insert(k.clone(), v.clone());
        }
    }
    if c.created.is_none() {
        c.created = c.history.iter().rev().find_map(|h| h.created.clone());
    }
    c
}

/// The layer blobs of `config`, bottom first (the smallest blob of each).
fn layer_blobs(store: &Store, config: &ImageConfig) -> Result<Vec<LayerBlob>> {
    config
        .rootfs
        .diff_ids
        .iter()
        .map(|d| {
            store.layer_blobs(d)?.into_iter().next().ok_or_else(|| {
                BuildError::Invalid(format!("layer {d} of the build result has no blob"))
            })
        })
        .collect()
}

/// Records the image (unless present), then, in one transaction, marks
/// the `used` cache records (`(key, step lineage)`), records how it was
/// built (`record`, see [`crate::record`]) and points every tag at it.
/// Returns the image ID.
pub fn commit_image(
    store: &Store,
    config: &ImageConfig,
    tags: &[Reference],
    used: &[(&str, String)],
    record: Option<&str>,
) -> Result<Digest> {
    let bytes = config.to_vec();
    let id = Digest::of(&bytes);
    for t in tags {
        if t.tag().is_none() || t.digest().is_some() {
            return Err(BuildError::Invalid(format!(
                "invalid tag {}: a tag cannot name a digest",
                t.familiar()
            )));
        }
    }
    let now = now_secs();
    // Tagged in the transaction that finds the image, or recorded and
    // tagged at once: a concurrent `image prune` never sees it dangling
    // in between.
    let tagged = store.db().write(|tx| {
        for (key, lineage) in used {
            strata_store::db::build_cache::touch(tx, key, now, |d| {
                cache::served_description(d, lineage)
            })?;
        }
        if iq::get(tx, &id)?.is_none() {
            return Ok(false);
        }
        if let Some(r) = record {
            strata_store::db::builds::put(tx, &id, r, now)?;
        }
        for t in tags {
            iq::set_tag(tx, &t.to_string(), &id, now)?;
        }
        Ok(true)
    })?;
    if !tagged {
        let blobs = layer_blobs(store, config)?;
        let row = store.create_image_tagged(config, &blobs, tags)?;
        debug_assert_eq!(row.id, id);
        if let Some(r) = record {
            store
                .db()
                .write(|tx| strata_store::db::builds::put(tx, &id, r, now))?;
        }
    }
    Ok(id)
}

/// Writes `--output`s of image `id`.
pub fn write_outputs(
    store: &Store,
    id: &Digest,
    tags: &[Reference],
    outputs: &[OutputSpec],
) -> Result<()> {
    for o in outputs {
        match o {
            OutputSpec::Oci(dest) => save(store, id, tags, SaveFormat::Oci, dest)?,
            OutputSpec::Docker(dest) => save(store, id, tags, SaveFormat::Docker, dest)?,
            OutputSpec::Local(dest) => export_rootfs(store, id, dest)?,
        }
    }
    Ok(())
}

fn save(
    store: &Store,
    id: &Digest,
    tags: &[Reference],
    fmt: SaveFormat,
    dest: &Path,
) -> Result<()> {
    let items = [SaveItem {
        image: store.image(id)?,
        tags: tags.to_vec(),
    }];
    if dest.as_os_str() == "-" {
        let out = std::io::BufWriter::new(std::io::stdout().lock());
        let mut out = store.save(&items, fmt, out)?;
        out.flush().map_err(BuildError::io("write", "stdout"))?;
        return Ok(());
    }
    // Written beside the destination and renamed over it when complete: a
    // failed or cancelled export never leaves a partial archive there.
    let tmp = dest.with_extension("strata-tmp");
    let written = (|| -> Result<()> {
        let f = std::fs::File::create(&tmp).map_err(BuildError::io("create", &tmp))?;
        let mut f = store.save(&items, fmt, std::io::BufWriter::new(f))?;
        f.flush().map_err(BuildError::io("write", &tmp))?;
        std::fs::rename(&tmp, dest).map_err(BuildError::io("rename", dest))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// `type=local`: the image's layers applied, in order, onto `dest`.
fn export_rootfs(store: &Store, id: &Digest, dest: &Path) -> Result<()> {
    std::fs::create_dir_all(dest).map_err(BuildError::io("create directory", dest))?;
    let img = store.image(id)?;
    for blob in layer_blobs(store, &img.config)? {
        let comp =
            LayerCompression::of_media_type(&blob.media_type).unwrap_or(LayerCompression::None);
        let f = store.open_blob(&blob.digest)?;
        let tar = layer::decompress(std::io::BufReader::new(f), comp)
            .map_err(|e| BuildError::Invalid(format!("layer {}: {e}", blob.digest)))?;
        layer::apply_layer(tar, dest, &ApplyOptions::new(ApplyMode::Merge)).map_err(|e| {
            BuildError::Invalid(format!(
                "export layer {} to {}: {e}",
                blob.digest,
                dest.display()
            ))
        })?;
    }
    Ok(())
}

/// `--cache-from`: imports the records (and their layers) into this
/// store's build cache. Returns how many records came in.
pub fn import(store: &Store, spec: &CacheSpec, opts: &CacheOptions) -> Result<usize> {
    let records = match spec {
        CacheSpec::Registry { reference, .. } => import_cache(store, reference, opts)?,
        CacheSpec::Local { dir, tag, .. } => import_cache_dir(store, dir, tag, opts)?,
        CacheSpec::Inline => {
            return Err(BuildError::Invalid(
                "an inline cache is imported with type=registry,ref=IMAGE".into(),
            ));
        }
    };
    for r in &records {
        let layer = match &r.layer {
            Some(l) => {
                let cfg = ImageConfig::from_slice(&r.config).map_err(|e| {
                    BuildError::Invalid(format!("build cache record {}: {e}", r.key))
                })?;
                let Some(chain) = cfg.chain_ids().last().cloned() else {
                    continue;
                };
                Some(RecordLayer {
                    diff_id: l.diff_id.clone(),
                    chain_id: chain,
                    blob_digest: l.blob.digest.clone(),
                })
            }
            None => None,
        };
        cache::insert(
            store,
            &Record {
                key: r.key.clone(),
                parent_key: r.parent.clone(),
                config_digest: r.config_digest.clone(),
                created: r.created.clone(),
                layer,
                description: Description::default().to_json(),
                sources: None,
            },
        )?;
    }
    // The records are GC roots now; the import's lease just expires.
    Ok(records.len())
}

/// The cache records of `keys`, with their configs and layer blobs.
fn cache_records(store: &Store, keys: &[&str]) -> Result<Vec<CacheRecord>> {
    let mut out = Vec::new();
    for r in cache::records(store, keys)? {
        let config = match &r.config_digest {
            Some(d) => store.content().read(d)?,
            None => Vec::new(),
        };
        let layer = match &r.layer {
            Some(l) => {
                let blob = store
                    .layer_blobs(&l.diff_id)?
                    .into_iter()
                    .find(|b| b.digest == l.blob_digest)
                    .ok_or_else(|| {
                        BuildError::Invalid(format!("build cache layer {} has no blob", l.diff_id))
                    })?;
                Some(CacheLayer {
                    diff_id: l.diff_id.clone(),
                    blob,
                })
            }
            None => None,
        };
        out.push(CacheRecord {
            key: r.key,
            parent: r.parent_key,
            config_digest: r.config_digest,
            config,
            created: r.created,
            layer,
        });
    }
    Ok(out)
}

/// `--cache-to type=registry|local`: exports the records of `keys` (the
/// target's last key last, for `mode=min`). `type=inline` is written into
/// the image instead ([`with_inline_cache`]).
pub fn export(store: &Store, keys: &[&str], spec: &CacheSpec, opts: &CacheOptions) -> Result<()> {
    let records = cache_records(store, keys)?;
    match spec {
        CacheSpec::Registry { reference, mode } => {
            export_cache(store, reference, &records, *mode, opts)?;
        }
        CacheSpec::Local { dir, tag, mode } => {
            export_cache_dir(store, dir, tag, &records, *mode, opts)?;
        }
        CacheSpec::Inline => {}
    }
    Ok(())
}

/// `--cache-to type=inline`: `config` with the cache of its own chain
/// (`keys`, the target's last key last) in BuildKit's inline field.
pub fn with_inline_cache(
    store: &Store,
    config: &ImageConfig,
    keys: &[&str],
) -> Result<ImageConfig> {
    let records = cache_records(store, keys)?;
    let value = inline_value(&records, &config.rootfs.diff_ids)?;
    let mut c = config.clone();
    c.extra.insert(INLINE_FIELD.into(), value.into());
    Ok(c)
}
