//! Layer blobs written from their snapshot's tree when first needed.
//!
//! A COPY layer is a directory strata wrote itself and keeps, immutable,
//! as the layer's snapshot. Its uncompressed tar is a deterministic
//! function of that tree (`layer::write_layer`), so the build only
//! *hashes* the tar (diffID, size: all an image needs) and does not keep
//! it: no second copy of every byte, no fsync of it. The blob is written
//! the first time something needs its bytes — `push`, `save`, an export,
//! `image verify`, a cache export — through [`Store::ensure_blob`], checked
//! against the diffID, and kept from then on. docker keeps a built layer
//! the same way (its graphdriver's diff directory, tarred on push).
//!
//! The snapshot carries a `blob-from-tree` file beside its tree, written
//! before the snapshot is committed, with the options that decided the
//! tar's bytes (`SOURCE_DATE_EPOCH`). `STRATA_LAYER_BLOBS=eager` keeps
//! writing the blob at build time.

use std::fs::File;
use std::path::PathBuf;

use strata_oci::Digest;

use crate::Store;
use crate::db::layers as lq;
use crate::error::{Result, StoreError};
use crate::layer::{self, Compression, TarOptions, WhiteoutFormat};

/// The marker beside a snapshot whose layer blob is written on demand.
pub(crate) const BLOB_FROM_TREE: &str = "blob-from-tree";

const MAGIC: &[u8; 8] = b"STRBFT01";

/// Whether builds leave their layers' blobs to be written on demand
/// (unless `STRATA_LAYER_BLOBS=eager`).
pub(crate) fn on_demand() -> bool {
    std::env::var("STRATA_LAYER_BLOBS").map_or(true, |v| v != "eager")
}

/// The marker's bytes for a tar written with `source_date_epoch`.
pub(crate) fn marker(source_date_epoch: Option<i64>) -> Vec<u8> {
    let mut b = MAGIC.to_vec();
    match source_date_epoch {
        Some(e) => {
            b.push(1);
            b.extend_from_slice(&e.to_le_bytes());
        }
        None => b.push(0),
    }
    b
}

/// The `SOURCE_DATE_EPOCH` a marker records; `None` for anything else.
fn parse_marker(b: &[u8]) -> Option<Option<i64>> {
    match b.strip_prefix(MAGIC.as_slice())? {
        [0] => Some(None),
        [1, rest @ ..] => Some(Some(i64::from_le_bytes(rest.try_into().ok()?))),
        _ => None,
    }
}

impl Store {
    /// The tree (and its `SOURCE_DATE_EPOCH`) that layer `diff_id`'s blob
    /// can be written from, if a snapshot keeps it that way.
    fn blob_tree(&self, diff_id: &Digest) -> Result<Option<(PathBuf, Option<i64>)>> {
        let rows = self.db().with(|c| lq::snapshots_of_diff(c, diff_id))?;
        for row in rows.iter().filter(|r| !r.packed) {
            let Ok(b) = std::fs::read(self.snapshots().sidecar(row.id, BLOB_FROM_TREE)) else {
                continue;
            };
            let fs = self.snapshots().fs_path(row.id);
            if let Some(sde) = parse_marker(&b)
                && fs.is_dir()
            {
                return Ok(Some((fs, sde)));
            }
        }
        Ok(None)
    }

    /// Whether blob `digest` is in the store or can be written on demand.
    pub fn has_blob(&self, digest: &Digest) -> Result<bool> {
        Ok(self.content().exists(digest) || self.blob_tree(digest)?.is_some())
    }

    /// Makes sure blob `digest` is in the content store: a layer blob left
    /// to be written on demand is written now from its snapshot's tree and
    /// checked against its diffID. `false`: it is not, and cannot be.
    pub fn ensure_blob(&self, digest: &Digest) -> Result<bool> {
        if self.content().exists(digest) {
            return Ok(true);
        }
        let Some((tree, source_date_epoch)) = self.blob_tree(digest)? else {
            return Ok(false);
        };
        let t = std::time::Instant::now();
        let mut w = self.content().writer(None)?;
        w.hashed_by_caller();
        let opts = TarOptions {
            whiteouts: WhiteoutFormat::Plain,
            source_date_epoch,
            ..TarOptions::default()
        };
        let written = match layer::write_layer(&tree, &opts, Compression::None, &mut w) {
            Ok(x) => x,
            Err(e) => {
                w.abort();
                return Err(e.into());
            }
        };
        if written.diff_id != *digest {
            w.abort();
            return Err(StoreError::DigestMismatch {
                what: "layer blob written from its snapshot",
                expected: digest.clone(),
                detail: format!(
                    "{} writes {} (the store is corrupt)",
                    tree.display(),
                    written.diff_id
                ),
            });
        }
        w.finish_hashed(written.diff_id, written.tar_size)?
            .publish()?;
        tracing::debug!(
            "layer blob {digest} written from {} in {:?}",
            tree.display(),
            t.elapsed()
        );
        Ok(true)
    }

    /// Opens blob `digest`, written first if it is a layer blob left to be
    /// written on demand.
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        self.ensure_blob(digest)?;
        self.content().open(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip() {
        for sde in [None, Some(0), Some(-1), Some(1_700_000_000)] {
            assert_eq!(parse_marker(&marker(sde)), Some(sde));
        }
        assert_eq!(parse_marker(b"STRBFT01"), None);
        assert_eq!(parse_marker(b"STRBFT01\x01\x00"), None);
        assert_eq!(parse_marker(b"nonsense"), None);
    }
}
