//! Queries on `build_cache`: one row per build step result, keyed by the
//! step's cache key (the recipe and the meaning of the `description` JSON
//! are owned by strata-build's `key` and `cache` modules; this module only
//! stores them). Columns are drawn in [`super::schema`].

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;

/// One stored step result, as its columns hold it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheRow {
    /// The step's key.
    pub key: String,
    /// The previous step's key (or the stage's base key).
    pub parent_key: Option<String>,
    /// The image config after the step (`None`: a replayed metadata step).
    pub config_digest: Option<String>,
    /// The step's history time (RFC 3339).
    pub created: Option<String>,
    /// The layer's diffID (`None` for metadata steps).
    pub diff_id: Option<String>,
    /// The layer's chain ID (its snapshot).
    pub chain_id: Option<String>,
    /// The layer's blob.
    pub blob_digest: Option<String>,
    /// JSON owned by strata-build.
    pub description: String,
    /// A COPY's selection summary (text owned by strata-build), kept in
    /// `build_cache_sources` so that [`touch`] never reads it.
    pub sources: Option<String>,
}

/// A row found by [`lookup`], with whether its snapshot still exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The row (its `description` is left empty: lookups do not need it).
    pub row: CacheRow,
    /// The row names no snapshot, or the snapshot it names is unpacked.
    pub snapshot_ok: bool,
}

/// The rows of `keys` (missing keys are simply absent), in one query per
/// 500 keys.
pub fn lookup(c: &Connection, keys: &[&str]) -> Result<Vec<Found>> {
    let mut out = Vec::new();
    // SQLite's default limit on host parameters is far above a
    // Dockerfile's step count, but stay well below it anyway.
    for chunk in keys.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql = format!(
            "SELECT b.key, b.parent_key, b.config_digest, b.diff_id, b.chain_id, b.blob_digest, \
             b.chain_id IS NULL OR EXISTS (SELECT 1 FROM snapshots s WHERE s.chain_id = b.chain_id), \
             b.created FROM build_cache b WHERE b.key IN ({marks})"
        );
        let mut st = c.prepare_cached(&sql)?;
        let found = st
            .query_map(rusqlite::params_from_iter(chunk.iter()), |r| {
                Ok(Found {
                    row: CacheRow {
                        key: r.get(0)?,
                        parent_key: r.get(1)?,
                        config_digest: r.get(2)?,
                        diff_id: r.get(3)?,
                        chain_id: r.get(4)?,
                        blob_digest: r.get(5)?,
                        created: r.get(7)?,
                        description: String::new(),
                        sources: None,
                    },
                    snapshot_ok: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        out.extend(found);
    }
    Ok(out)
}

/// Stores (or replaces) rows, in order; `now` (seconds since the epoch)
/// becomes their `created_at` and `last_used`.
pub fn put_all(c: &Connection, rows: &[CacheRow], now: i64) -> Result<()> {
    let mut st = c.prepare_cached(
        "INSERT OR REPLACE INTO build_cache (key, parent_key, config_digest, created, diff_id, \
         chain_id, blob_digest, created_at, last_used, description) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
    )?;
    let mut put_sources = c.prepare_cached(
        "INSERT OR REPLACE INTO build_cache_sources (key, summary) VALUES (?1, ?2)",
    )?;
    let mut drop_sources = c.prepare_cached("DELETE FROM build_cache_sources WHERE key = ?1")?;
    for r in rows {
        st.execute(params![
            r.key,
            r.parent_key,
            r.config_digest,
            r.created,
            r.diff_id,
            r.chain_id,
            r.blob_digest,
            now,
            r.description,
        ])?;
        match &r.sources {
            Some(summary) => put_sources.execute(params![r.key, summary])?,
            None => drop_sources.execute([&r.key])?,
        };
    }
    Ok(())
}

/// Marks `key` used at `now`; `describe` may replace its description
/// (given the current one; `None` keeps it).
pub fn touch(
    c: &Connection,
    key: &str,
    now: i64,
    describe: impl FnOnce(&str) -> Option<String>,
) -> Result<()> {
    let mut get = c.prepare_cached("SELECT description FROM build_cache WHERE key = ?1")?;
    let desc: Option<String> = get.query_row([key], |r| r.get(0)).optional()?;
    let desc = desc.as_deref().and_then(describe);
    let mut set = c.prepare_cached(
        "UPDATE build_cache SET last_used = ?1, description = coalesce(?2, description) WHERE key = ?3",
    )?;
    set.execute(params![now, desc, key])?;
    Ok(())
}

/// A row found by [`describing`].
pub type Described = (Option<String>, String, Option<String>);

/// `(parent_key, description, sources)` of every row whose description
/// contains `needle` (a cheap text filter; the caller decides on the
/// parsed JSON).
pub fn describing(c: &Connection, needle: &str) -> Result<Vec<Described>> {
    let mut st = c.prepare_cached(
        "SELECT b.parent_key, b.description, s.summary FROM build_cache b \
         LEFT JOIN build_cache_sources s ON s.key = b.key WHERE instr(b.description, ?1) > 0",
    )?;
    let rows = st
        .query_map([needle], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The chain IDs of the layer rows whose description contains `needle`,
/// the most recently used first, at most `limit`.
pub fn chains_describing(c: &Connection, needle: &str, limit: usize) -> Result<Vec<String>> {
    let mut st = c.prepare_cached(
        "SELECT chain_id FROM build_cache WHERE chain_id IS NOT NULL \
         AND instr(description, ?1) > 0 ORDER BY last_used DESC, created_at DESC LIMIT ?2",
    )?;
    let rows = st
        .query_map(params![needle, limit as i64], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

/// The full row of `key`.
pub fn get(c: &Connection, key: &str) -> Result<Option<CacheRow>> {
    let mut st = c.prepare_cached(
        "SELECT b.key, b.parent_key, b.config_digest, b.diff_id, b.chain_id, b.blob_digest, \
         b.description, b.created, s.summary FROM build_cache b \
         LEFT JOIN build_cache_sources s ON s.key = b.key WHERE b.key = ?1",
    )?;
    Ok(st
        .query_row([key], |r| {
            Ok(CacheRow {
                key: r.get(0)?,
                parent_key: r.get(1)?,
                config_digest: r.get(2)?,
                diff_id: r.get(3)?,
                chain_id: r.get(4)?,
                blob_digest: r.get(5)?,
                description: r.get(6)?,
                created: r.get(7)?,
                sources: r.get(8)?,
            })
        })
        .optional()?)
}

/// One row as `system df` lists it: the record, when it was made and
/// last used, and its layer's unpacked bytes and whether an image uses
/// that layer too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    /// The step's key.
    pub key: String,
    /// The previous step's key (or the stage's base key).
    pub parent_key: Option<String>,
    /// The layer's chain ID (`None` for metadata steps).
    pub chain_id: Option<String>,
    /// JSON owned by strata-build.
    pub description: String,
    /// Seconds since the epoch.
    pub created_at: i64,
    /// Seconds since the epoch.
    pub last_used: i64,
    /// The layer's unpacked bytes (0 without a layer or snapshot).
    pub size: i64,
    /// An image uses the layer too.
    pub shared: bool,
}

/// Every row, oldest first, with its layer's size and sharing.
pub fn usage_rows(c: &Connection) -> Result<Vec<UsageRow>> {
    let mut st = c.prepare(
        "SELECT b.key, b.parent_key, b.chain_id, b.description, b.created_at, b.last_used, \
         COALESCE((SELECT s.size FROM snapshots s WHERE s.chain_id = b.chain_id), 0), \
         b.chain_id IS NOT NULL AND EXISTS (SELECT 1 FROM image_layers l WHERE l.chain_id = b.chain_id) \
         FROM build_cache b ORDER BY b.created_at, b.key",
    )?;
    let rows = st
        .query_map([], |r| {
            Ok(UsageRow {
                key: r.get(0)?,
                parent_key: r.get(1)?,
                chain_id: r.get(2)?,
                description: r.get(3)?,
                created_at: r.get(4)?,
                last_used: r.get(5)?,
                size: r.get(6)?,
                shared: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Deletes every row; returns their keys.
pub fn delete_all(c: &Connection) -> Result<Vec<String>> {
    let mut st = c.prepare("DELETE FROM build_cache RETURNING key")?;
    let keys = st
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    #[test]
    fn put_lookup_touch_and_delete() {
        let t = tempfile::tempdir().unwrap();
        let db = Db::open(&t.path().join("m.db")).unwrap();
        let row = CacheRow {
            key: "k1".into(),
            parent_key: Some("p".into()),
            config_digest: Some("sha256:c".into()),
            description: r#"{"lineage":{"L":1}}"#.into(),
            sources: Some("c3VtbWFyeQ==".into()),
            ..CacheRow::default()
        };
        let layered = CacheRow {
            key: "k2".into(),
            chain_id: Some("sha256:missing".into()),
            diff_id: Some("sha256:d".into()),
            blob_digest: Some("sha256:b".into()),
            created: Some("2024-01-01T00:00:00Z".into()),
            description: "{}".into(),
            ..CacheRow::default()
        };
        db.write(|tx| put_all(tx, &[row.clone(), layered.clone()], 7))
            .unwrap();
        let found = db.with(|c| lookup(c, &["k1", "k2", "nope"])).unwrap();
        assert_eq!(found.len(), 2);
        let k1 = found.iter().find(|f| f.row.key == "k1").unwrap();
        assert!(k1.snapshot_ok);
        assert_eq!(k1.row.config_digest.as_deref(), Some("sha256:c"));
        let k2 = found.iter().find(|f| f.row.key == "k2").unwrap();
        assert!(!k2.snapshot_ok, "no snapshot row for its chain");
        assert_eq!(db.with(|c| get(c, "k2")).unwrap(), Some(layered));
        assert_eq!(db.with(|c| get(c, "k1")).unwrap(), Some(row.clone()));
        assert_eq!(
            db.with(|c| describing(c, "\"L\"")).unwrap(),
            vec![(
                Some("p".into()),
                row.description.clone(),
                row.sources.clone()
            )]
        );
        db.write(|tx| {
            touch(tx, "k1", 9, |d| {
                assert_eq!(d, row.description);
                Some("{}".into())
            })
        })
        .unwrap();
        let desc = |db: &Db| db.with(|c| get(c, "k1")).unwrap().unwrap().description;
        assert_eq!(desc(&db), "{}");
        db.write(|tx| touch(tx, "k1", 10, |_| None)).unwrap();
        assert_eq!(desc(&db), "{}");
        // system df's rows: times kept, no snapshot means no size.
        let rows = db.with(usage_rows).unwrap();
        assert_eq!(rows.len(), 2);
        let (k1, k2) = (&rows[0], &rows[1]);
        assert_eq!(
            (k1.key.as_str(), k1.created_at, k1.last_used),
            ("k1", 7, 10)
        );
        assert_eq!(
            (k2.chain_id.as_deref(), k2.size, k2.shared),
            (Some("sha256:missing"), 0, false)
        );
        // A record put again without sources loses them; deleted records
        // take theirs along.
        let plain = CacheRow {
            sources: None,
            ..row.clone()
        };
        db.write(|tx| put_all(tx, std::slice::from_ref(&plain), 11))
            .unwrap();
        assert_eq!(db.with(|c| get(c, "k1")).unwrap().unwrap().sources, None);
        db.write(|tx| put_all(tx, std::slice::from_ref(&row), 12))
            .unwrap();
        assert_eq!(db.write(|tx| delete_all(tx)).unwrap().len(), 2);
        assert_eq!(db.with(|c| get(c, "k1")).unwrap(), None);
        let left: i64 = db
            .with(
                |c| Ok(c.query_row("SELECT count(*) FROM build_cache_sources", [], |r| r.get(0))?),
            )
            .unwrap();
        assert_eq!(left, 0);
    }
}
