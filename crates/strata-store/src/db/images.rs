//! Queries on `images`, `image_layers`, `tags` and `repo_digests`.

use rusqlite::{Connection, OptionalExtension, params};
use strata_oci::Digest;

use crate::error::Result;

/// One stored image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    /// Config digest: docker's image ID.
    pub id: Digest,
    /// The manifest held for it.
    pub manifest_digest: Digest,
    /// That manifest's media type.
    pub manifest_media_type: String,
    /// RFC 3339 creation time from the config.
    pub created: Option<String>,
    /// Sum of the layers' unpacked sizes.
    pub size: u64,
    /// When it was added to this store (seconds since epoch).
    pub added_at: i64,
}

/// One layer of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLayer {
    /// The layer's diffID.
    pub diff_id: Digest,
    /// The chain ID up to and including this layer.
    pub chain_id: Digest,
}

fn digest(s: String) -> rusqlite::Result<Digest> {
    Digest::parse(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn row_to_image(r: &rusqlite::Row<'_>) -> rusqlite::Result<ImageRow> {
    Ok(ImageRow {
        id: digest(r.get(0)?)?,
        manifest_digest: digest(r.get(1)?)?,
        manifest_media_type: r.get(2)?,
        created: r.get(3)?,
        size: r.get::<_, i64>(4)? as u64,
        added_at: r.get(5)?,
    })
}

const IMAGE_COLS: &str = "id, manifest_digest, manifest_media_type, created, size, added_at";

/// Inserts an image and its layers; returns false when it already existed
/// (the existing row is kept).
pub fn insert(c: &Connection, row: &ImageRow, layers: &[ImageLayer]) -> Result<bool> {
    let n = c.execute(
        "INSERT OR IGNORE INTO images (id, manifest_digest, manifest_media_type, created, size, added_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            row.id.as_str(),
            row.manifest_digest.as_str(),
            row.manifest_media_type,
            row.created,
            row.size as i64,
            row.added_at
        ],
    )?;
    if n == 0 {
        return Ok(false);
    }
    let mut st = c.prepare_cached(
        "INSERT INTO image_layers (image_id, position, diff_id, chain_id) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (i, l) in layers.iter().enumerate() {
        st.execute(params![
            row.id.as_str(),
            i as i64,
            l.diff_id.as_str(),
            l.chain_id.as_str()
        ])?;
    }
    Ok(true)
}

/// Points an existing image at another manifest (e.g. after a push wrote a
/// compressed one).
pub fn set_manifest(
    c: &Connection,
    id: &Digest,
    manifest: &Digest,
    media_type: &str,
) -> Result<()> {
    c.execute(
        "UPDATE images SET manifest_digest = ?2, manifest_media_type = ?3 WHERE id = ?1",
        params![id.as_str(), manifest.as_str(), media_type],
    )?;
    Ok(())
}

/// The image with this ID.
pub fn get(c: &Connection, id: &Digest) -> Result<Option<ImageRow>> {
    Ok(c.query_row(
        &format!("SELECT {IMAGE_COLS} FROM images WHERE id = ?1"),
        [id.as_str()],
        row_to_image,
    )
    .optional()?)
}

/// Image IDs whose hex starts with `prefix`.
pub fn find_by_prefix(c: &Connection, prefix: &str) -> Result<Vec<Digest>> {
    let pattern = format!("sha256:{}%", prefix.replace(['%', '_'], ""));
    let mut st = c.prepare_cached("SELECT id FROM images WHERE id LIKE ?1")?;
    let ids = st
        .query_map([pattern], |r| digest(r.get(0)?))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(ids)
}

/// All images, newest first.
pub fn list(c: &Connection) -> Result<Vec<ImageRow>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {IMAGE_COLS} FROM images ORDER BY created DESC, added_at DESC"
    ))?;
    let rows = st
        .query_map([], row_to_image)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The layers of an image, bottom first.
pub fn layers(c: &Connection, id: &Digest) -> Result<Vec<ImageLayer>> {
    let mut st = c.prepare_cached(
        "SELECT diff_id, chain_id FROM image_layers WHERE image_id = ?1 ORDER BY position",
    )?;
    let rows = st
        .query_map([id.as_str()], |r| {
            Ok(ImageLayer {
                diff_id: digest(r.get(0)?)?,
                chain_id: digest(r.get(1)?)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The image `id` was committed from (`None`: not a committed image).
pub fn parent(c: &Connection, id: &Digest) -> Result<Option<Digest>> {
    let p: Option<Option<String>> = c
        .query_row(
            "SELECT parent FROM images WHERE id = ?1",
            [id.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    Ok(p.flatten().and_then(|s| Digest::parse(&s).ok()))
}

/// Records that image `id` was committed from `parent`.
pub fn set_parent(c: &Connection, id: &Digest, parent: &Digest) -> Result<()> {
    c.execute(
        "UPDATE images SET parent = ?2 WHERE id = ?1",
        params![id.as_str(), parent.as_str()],
    )?;
    Ok(())
}

/// Deletes an image (its tags, digests and layer rows go with it).
pub fn delete(c: &Connection, id: &Digest) -> Result<()> {
    c.execute("DELETE FROM images WHERE id = ?1", [id.as_str()])?;
    Ok(())
}

/// Points tag `name` (fully qualified) at `id`; returns the image it
/// pointed at before, if another.
pub fn set_tag(c: &Connection, name: &str, id: &Digest, now: i64) -> Result<Option<Digest>> {
    let old = tag_target(c, name)?;
    c.execute(
        "INSERT INTO tags (name, image_id, added_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id, added_at = excluded.added_at",
        params![name, id.as_str(), now],
    )?;
    Ok(old.filter(|o| o != id))
}

/// Removes a tag; true when it existed.
pub fn remove_tag(c: &Connection, name: &str) -> Result<bool> {
    Ok(c.execute("DELETE FROM tags WHERE name = ?1", [name])? > 0)
}

/// The image a tag points at.
pub fn tag_target(c: &Connection, name: &str) -> Result<Option<Digest>> {
    c.query_row("SELECT image_id FROM tags WHERE name = ?1", [name], |r| {
        digest(r.get(0)?)
    })
    .optional()
    .map_err(Into::into)
}

/// Tags of an image (fully qualified), oldest first.
pub fn tags_of(c: &Connection, id: &Digest) -> Result<Vec<String>> {
    let mut st =
        c.prepare_cached("SELECT name FROM tags WHERE image_id = ?1 ORDER BY added_at, name")?;
    let rows = st
        .query_map([id.as_str()], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

/// Every tag with its image.
pub fn all_tags(c: &Connection) -> Result<Vec<(String, Digest)>> {
    let mut st = c.prepare_cached("SELECT name, image_id FROM tags ORDER BY name")?;
    let rows = st
        .query_map([], |r| Ok((r.get(0)?, digest(r.get(1)?)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Records `repo@digest` for an image.
pub fn add_repo_digest(c: &Connection, repo: &str, manifest: &Digest, id: &Digest) -> Result<()> {
    c.execute(
        "INSERT INTO repo_digests (repo, digest, image_id) VALUES (?1, ?2, ?3)
         ON CONFLICT(repo, digest) DO UPDATE SET image_id = excluded.image_id",
        params![repo, manifest.as_str(), id.as_str()],
    )?;
    Ok(())
}

/// `repo@digest` strings of an image (fully qualified repo).
pub fn repo_digests_of(c: &Connection, id: &Digest) -> Result<Vec<(String, Digest)>> {
    let mut st = c.prepare_cached(
        "SELECT repo, digest FROM repo_digests WHERE image_id = ?1 ORDER BY repo, digest",
    )?;
    let rows = st
        .query_map([id.as_str()], |r| Ok((r.get(0)?, digest(r.get(1)?)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The image recorded for `repo@digest`.
pub fn find_repo_digest(c: &Connection, repo: &str, manifest: &Digest) -> Result<Option<Digest>> {
    c.query_row(
        "SELECT image_id FROM repo_digests WHERE repo = ?1 AND digest = ?2",
        params![repo, manifest.as_str()],
        |r| digest(r.get(0)?),
    )
    .optional()
    .map_err(Into::into)
}

/// Removes `repo@digest` records of an image in `repo`; returns how many.
pub fn remove_repo_digests(c: &Connection, repo: &str, id: &Digest) -> Result<usize> {
    Ok(c.execute(
        "DELETE FROM repo_digests WHERE repo = ?1 AND image_id = ?2",
        params![repo, id.as_str()],
    )?)
}

/// The image that has `manifest` as its held manifest.
pub fn find_by_manifest(c: &Connection, manifest: &Digest) -> Result<Option<Digest>> {
    c.query_row(
        "SELECT id FROM images WHERE manifest_digest = ?1",
        [manifest.as_str()],
        |r| digest(r.get(0)?),
    )
    .optional()
    .map_err(Into::into)
}
