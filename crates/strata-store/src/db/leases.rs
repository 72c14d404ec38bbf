//! Leases: garbage-collection roots for content that no image references
//! yet (or ever): a build cache entry's layers, an import in progress.
//! A lease has an optional expiry; expired leases are dropped by GC.

use rusqlite::{Connection, params};

use crate::error::Result;

/// What a lease pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// A blob, by digest.
    Blob,
    /// A snapshot, by chain ID.
    Snapshot,
    /// An image, by ID.
    Image,
}

impl ResourceKind {
    fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Blob => "blob",
            ResourceKind::Snapshot => "snapshot",
            ResourceKind::Image => "image",
        }
    }
}

/// Creates (or refreshes) lease `id`.
pub fn create(c: &Connection, id: &str, now: i64, expires_at: Option<i64>) -> Result<()> {
    c.execute(
        "INSERT INTO leases (id, created_at, expires_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(id) DO UPDATE SET expires_at = excluded.expires_at",
        params![id, now, expires_at],
    )?;
    Ok(())
}

/// Pins `key` of `kind` under lease `id`.
pub fn add(c: &Connection, id: &str, kind: ResourceKind, key: &str) -> Result<()> {
    c.execute(
        "INSERT OR IGNORE INTO lease_resources (lease_id, kind, key) VALUES (?1, ?2, ?3)",
        params![id, kind.as_str(), key],
    )?;
    Ok(())
}

/// Deletes a lease and its pins.
pub fn delete(c: &Connection, id: &str) -> Result<()> {
    c.execute("DELETE FROM leases WHERE id = ?1", [id])?;
    Ok(())
}

/// Drops expired leases.
pub fn expire(c: &Connection, now: i64) -> Result<usize> {
    Ok(c.execute(
        "DELETE FROM leases WHERE expires_at IS NOT NULL AND expires_at <= ?1",
        [now],
    )?)
}

/// Keys of `kind` pinned by any lease.
pub fn pinned(c: &Connection, kind: ResourceKind) -> Result<Vec<String>> {
    let mut st = c.prepare_cached("SELECT DISTINCT key FROM lease_resources WHERE kind = ?1")?;
    let rows = st
        .query_map([kind.as_str()], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}
