//! The metadata database: SQLite (bundled) in WAL mode with a busy timeout,
//! so several strata processes can share one root. The schema and its
//! migrations are in [`schema`]; one module per table family holds the
//! queries.

pub mod build_cache;
pub mod builds;
pub mod containers;
pub mod images;
pub mod layers;
pub mod leases;
pub mod networks;
pub mod schema;
pub mod selection_memo;
pub mod volumes;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{Result, StoreError};

/// How long a writer waits for another process's transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// The WAL length (in frames) above which a process that skips the
/// checkpoint on close empties it instead. Every process that opens the
/// DB first reads the whole WAL to rebuild its index, and SQLite only
/// restarts a WAL from its start in the process that checkpointed it: a
/// run of builds, each skipping the close checkpoint, grew it without
/// bound (the many-files bench: 1.2 MB after the cold build, 3.1 MB after
/// 450 no-op rebuilds, each of which read it all: 5 % of a no-op).
const WAL_TRIM_FRAMES: u64 = 64;

/// The metadata DB of one root. Cheap to share behind an `Arc`; the
/// connection is used by one thread at a time.
#[derive(Debug)]
pub struct Db {
    conn: Mutex<Connection>,
    /// Set by [`Db::skip_checkpoint_on_close`].
    trim_on_close: AtomicBool,
}

impl Db {
    /// Opens (creating if needed) and migrates the DB at `path`.
    pub fn open(path: &Path) -> Result<Db> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // WAL lets readers run beside one writer, across processes.
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Invalid(format!(
                "metadata database {}: cannot enable WAL (journal_mode={mode})",
                path.display()
            )));
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut db = Db {
            conn: Mutex::new(conn),
            trim_on_close: AtomicBool::new(false),
        };
        db.migrate()?;
        Ok(db)
    }

    fn migrate(&mut self) -> Result<()> {
        let conn = self.conn.get_mut().unwrap_or_else(|e| e.into_inner());
        let known = schema::MIGRATIONS.len() as i64;
        // The common case, a current schema, needs no write lock.
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version == known {
            return Ok(());
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > known {
            return Err(StoreError::Invalid(format!(
                "metadata schema version {version} is newer than this strata ({known}); upgrade strata"
            )));
        }
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The schema version.
    pub fn version(&self) -> Result<i64> {
        Ok(self
            .lock()
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Runs `f` with the connection (reads, or single statements).
    pub fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        f(&self.lock())
    }

    /// Runs `f` in a write transaction (`BEGIN IMMEDIATE`), committing when
    /// it returns `Ok` and rolling back otherwise.
    pub fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Lets this process exit without checkpointing the WAL (SQLite's
    /// default costs two fsyncs per process) while the WAL is short; a
    /// longer one is checkpointed and truncated on close, unless another
    /// process is using the DB (see [`WAL_TRIM_FRAMES`]).
    pub fn skip_checkpoint_on_close(&self) -> Result<()> {
        self.lock().set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )?;
        self.trim_on_close.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Checkpoints and truncates the WAL if it is longer than
    /// [`WAL_TRIM_FRAMES`], without waiting for other processes: when one
    /// is reading or writing, the WAL is left to a later close.
    fn trim_wal(conn: &Connection) -> Result<()> {
        let Some(db) = conn.path().filter(|p| !p.is_empty()) else {
            return Ok(());
        };
        let len = std::fs::metadata(format!("{db}-wal")).map_or(0, |m| m.len());
        let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        let frame = page.unsigned_abs() + 24;
        if len <= 32 + WAL_TRIM_FRAMES * frame {
            return Ok(());
        }
        conn.busy_timeout(Duration::ZERO)?;
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        tracing::debug!(wal_bytes = len, busy, "WAL checkpointed on close");
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: SQLite
        // rolls back any open transaction when it is dropped.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if *self.trim_on_close.get_mut() {
            let conn = self.conn.get_mut().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = Db::trim_wal(conn) {
                tracing::debug!("WAL left as it is: {e}");
            }
        }
    }
}

/// Seconds since the epoch.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database at `path` migrated to schema `version` only, as an
    /// older strata left it.
    fn at_version(path: &Path, version: usize) -> Connection {
        let c = Connection::open(path).unwrap();
        for sql in &schema::MIGRATIONS[..version] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", version as i64)
            .unwrap();
        c
    }

    #[test]
    fn migrates_once_and_reopens() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("m.db");
        let db = Db::open(&p).unwrap();
        assert_eq!(db.version().unwrap(), schema::MIGRATIONS.len() as i64);
        drop(db);
        let db = Db::open(&p).unwrap();
        assert_eq!(db.version().unwrap(), schema::MIGRATIONS.len() as i64);
    }

    #[test]
    fn wal_stays_short_across_many_commits() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("m.db");
        let db = Db::open(&p).unwrap();
        db.with(|c| Ok(c.execute_batch("CREATE TABLE t (v BLOB)")?))
            .unwrap();
        drop(db);
        // One commit per "process", each skipping the close checkpoint, as
        // builds do; each commit adds a page or two.
        let wal_len = || std::fs::metadata(t.path().join("m.db-wal")).map_or(0, |m| m.len());
        let mut longest = 0;
        for _ in 0..200 {
            let db = Db::open(&p).unwrap();
            db.skip_checkpoint_on_close().unwrap();
            db.write(|tx| Ok(tx.execute("INSERT INTO t VALUES (zeroblob(3000))", [])?))
                .unwrap();
            drop(db);
            longest = longest.max(wal_len());
        }
        let frame = 4096 + 24;
        assert!(
            longest <= (WAL_TRIM_FRAMES + 4) * frame + 32,
            "WAL grew to {longest} bytes"
        );
        // A reader in another connection holds the WAL: the close leaves it.
        let reader = Connection::open(&p).unwrap();
        reader
            .execute_batch("BEGIN; SELECT count(*) FROM t;")
            .unwrap();
        for _ in 0..80 {
            let db = Db::open(&p).unwrap();
            db.skip_checkpoint_on_close().unwrap();
            db.write(|tx| Ok(tx.execute("INSERT INTO t VALUES (zeroblob(3000))", [])?))
                .unwrap();
        }
        assert!(
            wal_len() > (WAL_TRIM_FRAMES + 4) * frame,
            "WAL is {} bytes",
            wal_len()
        );
        drop(reader);
        let db = Db::open(&p).unwrap();
        let n: i64 = db
            .with(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(n, 280);
    }

    #[test]
    fn v3_keeps_build_cache_rows_and_allows_replayed_ones() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("m.db");
        // A v2 database with one record.
        let c = at_version(&p, 2);
        c.execute(
            "INSERT INTO build_cache (key, parent_key, config_digest, created_at, last_used, description) \
             VALUES ('k', 'p', 'sha256:c', 1, 2, '{}')",
            [],
        )
        .unwrap();
        drop(c);
        let db = Db::open(&p).unwrap();
        assert_eq!(db.version().unwrap(), schema::MIGRATIONS.len() as i64);
        db.with(|c| {
            let (cfg, created): (Option<String>, Option<String>) = c.query_row(
                "SELECT config_digest, created FROM build_cache WHERE key = 'k'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            assert_eq!((cfg.as_deref(), created), (Some("sha256:c"), None));
            c.execute(
                "INSERT INTO build_cache (key, config_digest, created, created_at, last_used, description) \
                 VALUES ('m', NULL, '2024-01-01T00:00:00Z', 1, 1, '{}')",
                [],
            )?;
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn v6_types_running_from_the_state_json() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("m.db");
        let c = at_version(&p, 5);
        for (id, state) in [
            ("up", r#"{"Status":"running","Running":true,"Pid":3}"#),
            ("down", r#"{"Status":"exited","Running":false}"#),
            // Text search would have called this one running.
            ("liar", r#"{"Running":false,"Note":"\"Running\":true"}"#),
            ("bad", "not json"),
        ] {
            c.execute(
                "INSERT INTO containers (id, name, image_id, image_name, created_at, spec, state) \
                 VALUES (?1, ?1, 'sha256:x', 'x', '2024', '{}', ?2)",
                [id, state],
            )
            .unwrap();
        }
        drop(c);
        let db = Db::open(&p).unwrap();
        let rows = db.with(containers::list).unwrap();
        let running: Vec<&str> = rows
            .iter()
            .filter(|r| r.running)
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(running, ["up"]);
        db.write(|tx| containers::set_state(tx, "down", "{}", true))
            .unwrap();
        assert!(
            db.with(|c| containers::get(c, "down"))
                .unwrap()
                .unwrap()
                .running
        );
    }

    #[test]
    fn v12_moves_selection_summaries_out_of_descriptions() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("m.db");
        let c = at_version(&p, 11);
        for (key, desc) in [
            (
                "copy",
                r#"{"step":"COPY . .","sources":"c3Vt","lineage":{"L":1700000000000000000}}"#,
            ),
            ("meta", r#"{"step":"ENV a=b"}"#),
            ("odd", r#"{"sources":7}"#),
            ("bad", "not json"),
        ] {
            c.execute(
                "INSERT INTO build_cache (key, created_at, last_used, description) \
                 VALUES (?1, 1, 1, ?2)",
                [key, desc],
            )
            .unwrap();
        }
        drop(c);
        let db = Db::open(&p).unwrap();
        let row = |k: &str| db.with(|c| build_cache::get(c, k)).unwrap().unwrap();
        let copy = row("copy");
        assert_eq!(copy.sources.as_deref(), Some("c3Vt"));
        assert_eq!(
            copy.description,
            r#"{"step":"COPY . .","lineage":{"L":1700000000000000000}}"#
        );
        assert_eq!(
            (row("meta").description, row("meta").sources),
            (r#"{"step":"ENV a=b"}"#.to_string(), None)
        );
        assert_eq!(
            (row("odd").description, row("odd").sources),
            ("{}".to_string(), None)
        );
        assert_eq!(row("bad").description, "not json");
    }

    #[test]
    fn refuses_newer_schema() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("m.db");
        drop(Db::open(&p).unwrap());
        let c = Connection::open(&p).unwrap();
        c.pragma_update(None, "user_version", 999).unwrap();
        drop(c);
        assert!(Db::open(&p).unwrap_err().to_string().contains("newer"));
    }
}
