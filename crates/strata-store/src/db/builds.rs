//! Queries on `build_records` (schema v3): per built image, the JSON
//! record strata-build keeps of how it was built (see
//! `strata_build::record`). The store does not read the record; it goes
//! with its image (`ON DELETE CASCADE`).

use rusqlite::{Connection, OptionalExtension, params};
use strata_oci::Digest;

use crate::error::Result;

/// Records (or replaces) the build record of image `id`, which must exist.
pub fn put(c: &Connection, id: &Digest, record: &str, now: i64) -> Result<()> {
    c.execute(
        "INSERT INTO build_records (image_id, record, recorded_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(image_id) DO UPDATE SET record = excluded.record, recorded_at = excluded.recorded_at",
        params![id.as_str(), record, now],
    )?;
    Ok(())
}

/// The build record of image `id`, if strata built it.
pub fn get(c: &Connection, id: &Digest) -> Result<Option<String>> {
    Ok(c.query_row(
        "SELECT record FROM build_records WHERE image_id = ?1",
        [id.as_str()],
        |r| r.get(0),
    )
    .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_go_with_their_image() {
        let t = tempfile::tempdir().unwrap();
        let db = crate::db::Db::open(&t.path().join("metadata.db")).unwrap();
        let id = Digest::of(b"config");
        let row = crate::db::images::ImageRow {
            id: id.clone(),
            manifest_digest: Digest::of(b"manifest"),
            manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            created: None,
            size: 0,
            added_at: 0,
        };
        db.write(|tx| {
            crate::db::images::insert(tx, &row, &[])?;
            put(tx, &id, "{\"a\":1}", 1)?;
            put(tx, &id, "{\"a\":2}", 2)
        })
        .unwrap();
        assert_eq!(
            db.with(|c| get(c, &id)).unwrap().as_deref(),
            Some("{\"a\":2}")
        );
        db.write(|tx| crate::db::images::delete(tx, &id)).unwrap();
        assert_eq!(db.with(|c| get(c, &id)).unwrap(), None);
    }
}
