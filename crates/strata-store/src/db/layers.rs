//! Queries on `layer_blobs` (diffID → compressed blobs) and `snapshots`
//! (chainID → unpacked directory).

use rusqlite::{Connection, OptionalExtension, params};
use strata_oci::Digest;

use crate::error::Result;

/// A blob that holds a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerBlob {
    /// The blob's digest.
    pub digest: Digest,
    /// Its media type (says the compression).
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
}

/// A committed snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRow {
    /// Directory number: `snapshots/<id>/fs`.
    pub id: i64,
    /// The chain it completes.
    pub chain_id: Digest,
    /// The chain below it.
    pub parent_chain_id: Option<Digest>,
    /// The layer unpacked in it.
    pub diff_id: Digest,
    /// Unpacked size (docker's accounting).
    pub size: u64,
    /// Recorded from its blob and unpacked on first use (schema v10): its
    /// `fs` directory may not exist yet.
    pub packed: bool,
}

fn digest(s: String) -> rusqlite::Result<Digest> {
    Digest::parse(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Records that `blob` holds layer `diff_id`.
pub fn add_blob(c: &Connection, diff_id: &Digest, blob: &LayerBlob) -> Result<()> {
    c.execute(
        "INSERT OR IGNORE INTO layer_blobs (diff_id, blob_digest, media_type, size) VALUES (?1, ?2, ?3, ?4)",
        params![diff_id.as_str(), blob.digest.as_str(), blob.media_type, blob.size as i64],
    )?;
    Ok(())
}

/// Blobs known to hold `diff_id`.
pub fn blobs_for(c: &Connection, diff_id: &Digest) -> Result<Vec<LayerBlob>> {
    let mut st = c.prepare_cached(
        "SELECT blob_digest, media_type, size FROM layer_blobs WHERE diff_id = ?1 ORDER BY size",
    )?;
    let rows = st
        .query_map([diff_id.as_str()], |r| {
            Ok(LayerBlob {
                digest: digest(r.get(0)?)?,
                media_type: r.get(1)?,
                size: r.get::<_, i64>(2)? as u64,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The diffID a blob holds.
pub fn diff_id_of_blob(c: &Connection, blob: &Digest) -> Result<Option<Digest>> {
    c.query_row(
        "SELECT diff_id FROM layer_blobs WHERE blob_digest = ?1 LIMIT 1",
        [blob.as_str()],
        |r| digest(r.get(0)?),
    )
    .optional()
    .map_err(Into::into)
}

fn row_to_snapshot(r: &rusqlite::Row<'_>) -> rusqlite::Result<SnapshotRow> {
    Ok(SnapshotRow {
        id: r.get(0)?,
        chain_id: digest(r.get(1)?)?,
        parent_chain_id: r.get::<_, Option<String>>(2)?.map(digest).transpose()?,
        diff_id: digest(r.get(3)?)?,
        size: r.get::<_, i64>(4)? as u64,
        packed: r.get::<_, i64>(5)? != 0,
    })
}

const SNAP_COLS: &str = "id, chain_id, parent_chain_id, diff_id, size, packed";

/// The snapshot completing `chain_id`.
pub fn snapshot(c: &Connection, chain_id: &Digest) -> Result<Option<SnapshotRow>> {
    c.query_row(
        &format!("SELECT {SNAP_COLS} FROM snapshots WHERE chain_id = ?1"),
        [chain_id.as_str()],
        row_to_snapshot,
    )
    .optional()
    .map_err(Into::into)
}

/// The snapshots of layer `diff_id` (one per chain it is in).
pub fn snapshots_of_diff(c: &Connection, diff_id: &Digest) -> Result<Vec<SnapshotRow>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {SNAP_COLS} FROM snapshots WHERE diff_id = ?1"
    ))?;
    let rows = st
        .query_map([diff_id.as_str()], row_to_snapshot)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// All snapshots.
pub fn all_snapshots(c: &Connection) -> Result<Vec<SnapshotRow>> {
    let mut st = c.prepare_cached(&format!("SELECT {SNAP_COLS} FROM snapshots ORDER BY id"))?;
    let rows = st
        .query_map([], row_to_snapshot)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Allocates a snapshot row and returns its id; `packed`: its directory
/// is unpacked from the layer's blob on first use.
pub fn insert_snapshot(
    c: &Connection,
    chain_id: &Digest,
    parent: Option<&Digest>,
    diff_id: &Digest,
    size: u64,
    packed: bool,
    now: i64,
) -> Result<i64> {
    c.execute(
        "INSERT INTO snapshots (chain_id, parent_chain_id, diff_id, size, packed, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![chain_id.as_str(), parent.map(|p| p.as_str()), diff_id.as_str(), size as i64, packed as i64, now],
    )?;
    Ok(c.last_insert_rowid())
}

/// Deletes a snapshot row.
pub fn delete_snapshot(c: &Connection, id: i64) -> Result<()> {
    c.execute("DELETE FROM snapshots WHERE id = ?1", [id])?;
    Ok(())
}
