//! Queries on `context_index`: the build context's stat index, `(path,
//! dev, ino, size, mtime_ns, ctime_ns) → sha256`, one row per context root
//! holding all of its entries as one compact blob (the racy-timestamp rule
//! that decides when an entry can be trusted is strata-build's, in its
//! `context::index` module; this module only stores entries).
//!
//! One blob rather than a row per file: a no-op rebuild of a 20,000-file
//! context reads its index as one value (a few MB, ~2 ms) instead of
//! stepping through 20,000 rows (~25 ms), and a rebuild that hashed
//! something writes it back as one value.
//!
//! ```text
//! blob    = "STRCIX01" count:u64 entry*         (little-endian)
//! entry   = len:u32 path-below-root:len dev:u64 ino:u64 size:u64
//!           mtime_ns:i64 ctime_ns:i64 mode:u32 sha256:32 recorded_ns:i64
//! ```
//! A blob that does not decode is an empty index (everything is hashed
//! again and the index rewritten).

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;
use crate::hint::take;

const MAGIC: &[u8; 8] = b"STRCIX01";

/// One recorded file (everything but its path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
    /// `st_size`.
    pub size: u64,
    /// mtime, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// ctime, nanoseconds since the epoch.
    pub ctime_ns: i64,
    /// `st_mode`.
    pub mode: u32,
    /// The content's SHA-256.
    pub sha256: [u8; 32],
    /// When the entry was hashed, nanoseconds since the epoch.
    pub recorded_ns: i64,
}

/// Calls `each` for every entry of the index of `root` (a directory path
/// ending in `/`) with the entry's absolute path, after `expect` with how
/// many there are (both with `state`, the caller's collection).
pub fn for_each_under<S>(
    c: &Connection,
    root: &str,
    state: &mut S,
    expect: impl FnOnce(&mut S, usize),
    mut each: impl FnMut(&mut S, &str, FileStat),
) -> Result<()> {
    let blob: Option<Vec<u8>> = c
        .query_row(
            "SELECT entries FROM context_index WHERE root = ?1",
            [root],
            |r| r.get(0),
        )
        .optional()?;
    let Some(blob) = blob else { return Ok(()) };
    let Some(entries) = decode(&blob) else {
        tracing::debug!("stat index of {root}: not valid, ignored");
        return Ok(());
    };
    expect(state, entries.len());
    let mut path = String::with_capacity(root.len() + 128);
    for (rel, stat) in entries {
        path.truncate(0);
        path.push_str(root);
        path.push_str(rel);
        each(state, &path, stat);
    }
    Ok(())
}

/// Replaces the index of `root` with `entries` (absolute paths under it;
/// others are left out).
pub fn replace<'a>(
    c: &Connection,
    root: &str,
    entries: impl IntoIterator<Item = (&'a str, &'a FileStat)>,
) -> Result<()> {
    let mut blob = MAGIC.to_vec();
    blob.extend_from_slice(&0u64.to_le_bytes());
    let mut n = 0u64;
    for (path, e) in entries {
        let Some(rel) = path.strip_prefix(root) else {
            continue;
        };
        blob.extend_from_slice(&(rel.len() as u32).to_le_bytes());
        blob.extend_from_slice(rel.as_bytes());
        blob.extend_from_slice(&e.dev.to_le_bytes());
        blob.extend_from_slice(&e.ino.to_le_bytes());
        blob.extend_from_slice(&e.size.to_le_bytes());
        blob.extend_from_slice(&e.mtime_ns.to_le_bytes());
        blob.extend_from_slice(&e.ctime_ns.to_le_bytes());
        blob.extend_from_slice(&e.mode.to_le_bytes());
        blob.extend_from_slice(&e.sha256);
        blob.extend_from_slice(&e.recorded_ns.to_le_bytes());
        n += 1;
    }
    blob[8..16].copy_from_slice(&n.to_le_bytes());
    c.execute(
        "INSERT OR REPLACE INTO context_index (root, entries) VALUES (?1, ?2)",
        params![root, blob],
    )?;
    Ok(())
}

/// Forgets every context's index (`builder prune --all`).
pub fn clear(c: &Connection) -> Result<()> {
    c.execute("DELETE FROM context_index", [])?;
    Ok(())
}

fn decode(b: &[u8]) -> Option<Vec<(&str, FileStat)>> {
    let mut r = b.strip_prefix(MAGIC.as_slice())?;
    let n = u64::from_le_bytes(take(&mut r)?);
    // Each entry takes at least 4 + 8*6 + 32 bytes: a count the blob
    // cannot hold is not believed.
    if n > (r.len() / 84) as u64 {
        return None;
    }
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let len = u32::from_le_bytes(take(&mut r)?) as usize;
        let (p, rest) = r.split_at_checked(len)?;
        r = rest;
        let rel = std::str::from_utf8(p).ok()?;
        let stat = FileStat {
            dev: u64::from_le_bytes(take(&mut r)?),
            ino: u64::from_le_bytes(take(&mut r)?),
            size: u64::from_le_bytes(take(&mut r)?),
            mtime_ns: i64::from_le_bytes(take(&mut r)?),
            ctime_ns: i64::from_le_bytes(take(&mut r)?),
            mode: u32::from_le_bytes(take(&mut r)?),
            sha256: take(&mut r)?,
            recorded_ns: i64::from_le_bytes(take(&mut r)?),
        };
        out.push((rel, stat));
    }
    r.is_empty().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    fn stat(n: u8) -> FileStat {
        FileStat {
            dev: u64::MAX,
            ino: 2,
            size: 3,
            mtime_ns: -4,
            ctime_ns: 5,
            mode: 0o100644,
            sha256: [n; 32],
            recorded_ns: 6,
        }
    }

    fn under(db: &Db, root: &str) -> (usize, Vec<(String, FileStat)>) {
        let mut n = 0;
        let mut out = Vec::new();
        db.with(|c| {
            for_each_under(
                c,
                root,
                &mut out,
                |_, e| n = e,
                |out, p, s| out.push((p.to_string(), s)),
            )
        })
        .unwrap();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        (n, out)
    }

    #[test]
    fn entries_round_trip_per_root() {
        let t = tempfile::tempdir().unwrap();
        let db = Db::open(&t.path().join("m.db")).unwrap();
        let (a, b, c) = (stat(1), stat(2), stat(3));
        db.write(|tx| {
            replace(
                tx,
                "/ctx/",
                [("/ctx/a", &a), ("/ctx/d/b", &b), ("/ctx0/c", &c)],
            )
        })
        .unwrap();
        db.write(|tx| replace(tx, "/other/", [("/other/é", &c)]))
            .unwrap();
        assert_eq!(
            under(&db, "/ctx/"),
            (2, vec![("/ctx/a".into(), a), ("/ctx/d/b".into(), b)])
        );
        db.write(|tx| replace(tx, "/ctx/", [("/ctx/d/b", &b)]))
            .unwrap();
        assert_eq!(under(&db, "/ctx/"), (1, vec![("/ctx/d/b".into(), b)]));
        assert_eq!(under(&db, "/other/"), (1, vec![("/other/é".into(), c)]));
        assert_eq!(under(&db, "/none/"), (0, vec![]));
        db.write(|tx| clear(tx)).unwrap();
        assert_eq!(under(&db, "/other/"), (0, vec![]));
    }

    #[test]
    fn a_blob_that_does_not_decode_is_an_empty_index() {
        let t = tempfile::tempdir().unwrap();
        let db = Db::open(&t.path().join("m.db")).unwrap();
        let a = stat(1);
        db.write(|tx| replace(tx, "/ctx/", [("/ctx/a", &a)]))
            .unwrap();
        let good: Vec<u8> = db
            .with(|c| Ok(c.query_row("SELECT entries FROM context_index", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(decode(&good).unwrap().len(), 1);
        let mut huge = good.clone();
        huge[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        for bad in [
            &good[..good.len() - 1],
            &good[..10],
            b"STRCIX02".as_slice(),
            &huge[..],
        ] {
            assert!(decode(bad).is_none());
            db.write(|tx| {
                tx.execute("UPDATE context_index SET entries = ?1", [bad])?;
                Ok(())
            })
            .unwrap();
            assert_eq!(under(&db, "/ctx/"), (0, vec![]));
        }
    }
}
