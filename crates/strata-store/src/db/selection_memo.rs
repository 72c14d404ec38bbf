//! Queries on `selection_memo`: the checksum of a `COPY --from` selection
//! taken in an immutable layer chain, so a rebuild need not mount the
//! source and hash its files again. The memo string (what was selected,
//! how, in which chain) is strata-build's; this module only stores rows.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;

/// The checksum remembered for `memo`.
pub fn get(c: &Connection, memo: &str) -> Result<Option<String>> {
    Ok(c.query_row(
        "SELECT checksum FROM selection_memo WHERE memo = ?1",
        [memo],
        |r| r.get(0),
    )
    .optional()?)
}

/// Remembers `checksum` for `memo`, taken in chain `chain_id` ("" for an
/// empty root).
pub fn put(c: &Connection, memo: &str, chain_id: &str, checksum: &str) -> Result<()> {
    c.execute(
        "INSERT OR REPLACE INTO selection_memo (memo, chain_id, checksum) VALUES (?1, ?2, ?3)",
        params![memo, chain_id, checksum],
    )?;
    Ok(())
}

/// Forgets the rows of chains that no longer have a snapshot (GC).
pub fn forget_unreachable(c: &Connection) -> Result<usize> {
    Ok(c.execute(
        "DELETE FROM selection_memo WHERE chain_id <> '' \
         AND chain_id NOT IN (SELECT chain_id FROM snapshots)",
        [],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    #[test]
    fn remembered_until_its_chain_is_gone() {
        let t = tempfile::tempdir().unwrap();
        let db = Db::open(&t.path().join("meta.db")).unwrap();
        db.write(|tx| {
            put(tx, "m1", "sha256:gone", "sha256:aa")?;
            put(tx, "m2", "", "sha256:bb")
        })
        .unwrap();
        assert_eq!(
            db.with(|c| get(c, "m1")).unwrap().as_deref(),
            Some("sha256:aa")
        );
        assert_eq!(db.with(|c| get(c, "nope")).unwrap(), None);
        assert_eq!(db.write(|tx| forget_unreachable(tx)).unwrap(), 1);
        assert_eq!(db.with(|c| get(c, "m1")).unwrap(), None);
        assert_eq!(
            db.with(|c| get(c, "m2")).unwrap().as_deref(),
            Some("sha256:bb")
        );
    }
}
