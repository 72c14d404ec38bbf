//! `--cache-to type=inline`: the cache rides in the image it describes,
//! as BuildKit's inline cache does: a top-level field
//! `moby.buildkit.cache.v0` of the image config (BuildKit's
//! `exporter/containerimage` `patchImageConfig`), holding base64 (Go's
//! JSON form of `[]byte`) of a cache config document (the parent module's
//! format, mode `min`: the final result's chain only). Its `layers` are the
//! image's own `rootfs.diff_ids`, so the image's manifest layers are the
//! cache's blobs; `--cache-from type=registry,ref=IMAGE` imports it.
//!
//! BuildKit's own inline caches (keyed by LLB digests) cannot serve a
//! strata build: such an image is refused as "not a strata build cache".

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use strata_oci::Digest;

use super::export::{chain_of, document, select};
use super::{CacheConfig, CacheMode, CacheRecord};
use crate::error::{RegistryError, Result};

/// The image config field that holds an inline cache.
pub const INLINE_FIELD: &str = "moby.buildkit.cache.v0";

/// The value of [`INLINE_FIELD`] for an image whose layers are `diff_ids`
/// and whose last step is the last of `records`.
pub fn inline_value(records: &[CacheRecord], diff_ids: &[Digest]) -> Result<String> {
    let selected = select(records, CacheMode::Min);
    for d in chain_of(&selected)? {
        if !diff_ids.contains(&d) {
            return Err(RegistryError::Invalid(format!(
                "inline cache: layer {d} is not one of the image's"
            )));
        }
    }
    let doc = document(&selected, diff_ids, CacheMode::Min);
    let json = serde_json::to_vec(&doc)
        .map_err(|e| RegistryError::Invalid(format!("encoding the inline cache: {e}")))?;
    Ok(B64.encode(json))
}

/// The cache document inside image config `bytes`, checked to describe
/// the image's own layers (manifest order).
pub(crate) fn from_image_config(bytes: &[u8]) -> std::result::Result<CacheConfig, String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let field = v
        .get(INLINE_FIELD)
        .and_then(|f| f.as_str())
        .ok_or("it is an image without an inline cache")?;
    let json = B64
        .decode(field)
        .map_err(|e| format!("its inline cache is not base64: {e}"))?;
    let doc: CacheConfig = serde_json::from_slice(&json)
        .map_err(|_| "its inline cache is not strata's (BuildKit's?)".to_string())?;
    let diff_ids = strata_oci::ImageConfig::from_slice(bytes)
        .map_err(|e| e.to_string())?
        .rootfs
        .diff_ids;
    let layers: Vec<&Digest> = doc.layers.iter().map(|l| &l.diff_id).collect();
    if layers != diff_ids.iter().collect::<Vec<_>>() {
        return Err("its inline cache names other layers than the image's".into());
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_an_image_config() {
        let d0 = Digest::of(b"l0");
        let mut c = strata_oci::ImageConfig::default();
        c.rootfs.diff_ids = vec![d0.clone()];
        let cfg = c.to_vec();
        let rec = CacheRecord {
            key: "b".repeat(64),
            parent: None,
            config_digest: Digest::of(&cfg),
            config: cfg.clone(),
            layer: None,
        };
        let value = inline_value(std::slice::from_ref(&rec), std::slice::from_ref(&d0)).unwrap();
        let mut image: serde_json::Value = serde_json::from_slice(&cfg).unwrap();
        image[INLINE_FIELD] = value.into();
        let doc = from_image_config(&serde_json::to_vec(&image).unwrap()).unwrap();
        assert_eq!(doc.records[0].key, rec.key);
        assert!(from_image_config(&cfg).is_err(), "no field");
        image[INLINE_FIELD] = B64
            .encode(br#"{"layers":[],"records":[{"digest":"x"}]}"#)
            .into();
        let e = from_image_config(&serde_json::to_vec(&image).unwrap()).unwrap_err();
        assert!(e.contains("not strata's"), "{e}");
        assert!(inline_value(&[rec], &[]).is_err(), "layer not in the image");
    }
}
