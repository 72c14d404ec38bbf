//! Queries on `context_files`: the build context's stat index, `(path,
//! dev, ino, size, mtime_ns, ctime_ns) → sha256` (the racy-timestamp rule
//! that decides when an entry can be trusted is strata-build's, in its
//! `context::index` module; this module only stores entries).

use rusqlite::{Connection, params};

use crate::error::Result;

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

/// Calls `each` for every entry under `prefix` (a directory path ending in
/// `/`), after `expect` with how many there are (both with `state`, the
/// caller's collection). Rows that do not decode (a bad hash) are skipped.
pub fn for_each_under<S>(
    c: &Connection,
    prefix: &str,
    state: &mut S,
    expect: impl FnOnce(&mut S, usize),
    mut each: impl FnMut(&mut S, &str, FileStat),
) -> Result<()> {
    // Every path under the root sorts between "<root>/" and "<root>0"
    // ('0' is the byte after '/').
    let upper = format!("{}0", prefix.strip_suffix('/').unwrap_or(prefix));
    // The table is keyed by a TEXT primary key (a separate index), so a
    // range query pays an index seek plus a table seek per row. When this
    // root holds most rows (the usual case: one or a few contexts), a plain
    // table scan is twice as cheap. Both counts come from the covering
    // index.
    let total: i64 = c.query_row("SELECT count(*) FROM context_files", [], |r| r.get(0))?;
    let mine: i64 = c.query_row(
        "SELECT count(*) FROM context_files WHERE path >= ?1 AND path < ?2",
        [prefix, upper.as_str()],
        |r| r.get(0),
    )?;
    let sql = if mine * 2 >= total {
        "SELECT path, dev, ino, size, mtime_ns, ctime_ns, mode, sha256, recorded_ns \
         FROM context_files WHERE +path >= ?1 AND +path < ?2"
    } else {
        "SELECT path, dev, ino, size, mtime_ns, ctime_ns, mode, sha256, recorded_ns \
         FROM context_files WHERE path >= ?1 AND path < ?2"
    };
    if mine == 0 {
        return Ok(());
    }
    expect(state, mine as usize);
    let mut stmt = c.prepare(sql)?;
    let mut rows = stmt.query([prefix, upper.as_str()])?;
    while let Some(r) = rows.next()? {
        let (Ok(path), Ok(sha_hex)) = (r.get_ref(0)?.as_str(), r.get_ref(7)?.as_str()) else {
            continue;
        };
        let mut sha256 = [0u8; 32];
        if hex::decode_to_slice(sha_hex, &mut sha256).is_err() {
            continue;
        }
        each(
            state,
            path,
            FileStat {
                dev: r.get::<_, i64>(1)? as u64,
                ino: r.get::<_, i64>(2)? as u64,
                size: r.get::<_, i64>(3)? as u64,
                mtime_ns: r.get(4)?,
                ctime_ns: r.get(5)?,
                mode: r.get::<_, i64>(6)? as u32,
                sha256,
                recorded_ns: r.get(8)?,
            },
        );
    }
    Ok(())
}

/// Records (or replaces) `put` and forgets `delete`.
pub fn update<'a>(
    c: &Connection,
    put: impl IntoIterator<Item = (&'a str, &'a FileStat)>,
    delete: impl IntoIterator<Item = &'a str>,
) -> Result<()> {
    let mut ins = c.prepare_cached(
        "INSERT OR REPLACE INTO context_files \
         (path, dev, ino, size, mtime_ns, ctime_ns, mode, sha256, recorded_ns) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for (path, e) in put {
        ins.execute(params![
            path,
            e.dev as i64,
            e.ino as i64,
            e.size as i64,
            e.mtime_ns,
            e.ctime_ns,
            i64::from(e.mode),
            hex::encode(e.sha256),
            e.recorded_ns
        ])?;
    }
    let mut del = c.prepare_cached("DELETE FROM context_files WHERE path = ?1")?;
    for p in delete {
        del.execute([p])?;
    }
    Ok(())
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
            mtime_ns: 4,
            ctime_ns: 5,
            mode: 0o100644,
            sha256: [n; 32],
            recorded_ns: 6,
        }
    }

    fn under(db: &Db, prefix: &str) -> (usize, Vec<(String, FileStat)>) {
        let mut n = 0;
        let mut out = Vec::new();
        db.with(|c| {
            for_each_under(
                c,
                prefix,
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
        db.write(|tx| update(tx, [("/ctx/a", &a), ("/ctx/d/b", &b), ("/ctx0/c", &c)], []))
            .unwrap();
        assert_eq!(
            under(&db, "/ctx/"),
            (2, vec![("/ctx/a".into(), a), ("/ctx/d/b".into(), b)])
        );
        db.write(|tx| update(tx, [], ["/ctx/a"])).unwrap();
        assert_eq!(under(&db, "/ctx/"), (1, vec![("/ctx/d/b".into(), b)]));
        assert_eq!(under(&db, "/other/"), (0, vec![]));
    }
}
