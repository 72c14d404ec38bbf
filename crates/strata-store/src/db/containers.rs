//! Queries on `containers`. `spec` (how it was created) and `state` (its
//! lifecycle) are JSON documents owned by strata-runtime; this module only
//! stores them, so the runtime can grow them without a migration. Whether
//! the container runs is also a typed column (`running`), written together
//! with the state, so readers never search the JSON.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;

/// One container record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRow {
    /// Full 64-hex ID.
    pub id: String,
    /// Unique name (without docker's leading `/`).
    pub name: String,
    /// Image ID (`sha256:…`).
    pub image_id: String,
    /// The image as the user named it.
    pub image_name: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// Creation spec (JSON).
    pub spec: String,
    /// Lifecycle state (JSON).
    pub state: String,
    /// The state says the container runs (its `Running`).
    pub running: bool,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ContainerRow> {
    Ok(ContainerRow {
        id: r.get(0)?,
        name: r.get(1)?,
        image_id: r.get(2)?,
        image_name: r.get(3)?,
        created_at: r.get(4)?,
        spec: r.get(5)?,
        state: r.get(6)?,
        running: r.get(7)?,
    })
}

const COLS: &str = "id, name, image_id, image_name, created_at, spec, state, running";

/// Inserts a container; fails if the ID or name is taken.
pub fn insert(c: &Connection, ct: &ContainerRow) -> Result<()> {
    c.execute(
        &format!("INSERT INTO containers ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        params![
            ct.id,
            ct.name,
            ct.image_id,
            ct.image_name,
            ct.created_at,
            ct.spec,
            ct.state,
            ct.running
        ],
    )?;
    Ok(())
}

/// Replaces the state document and whether it says the container runs.
pub fn set_state(c: &Connection, id: &str, state: &str, running: bool) -> Result<()> {
    c.execute(
        "UPDATE containers SET state = ?2, running = ?3 WHERE id = ?1",
        params![id, state, running],
    )?;
    Ok(())
}

/// Replaces the spec document (`update`).
pub fn set_spec(c: &Connection, id: &str, spec: &str) -> Result<()> {
    c.execute(
        "UPDATE containers SET spec = ?2 WHERE id = ?1",
        params![id, spec],
    )?;
    Ok(())
}

/// Renames a container.
pub fn rename(c: &Connection, id: &str, name: &str) -> Result<()> {
    c.execute(
        "UPDATE containers SET name = ?2 WHERE id = ?1",
        params![id, name],
    )?;
    Ok(())
}

/// By exact ID.
pub fn get(c: &Connection, id: &str) -> Result<Option<ContainerRow>> {
    c.query_row(
        &format!("SELECT {COLS} FROM containers WHERE id = ?1"),
        [id],
        row,
    )
    .optional()
    .map_err(Into::into)
}

/// By exact name.
pub fn by_name(c: &Connection, name: &str) -> Result<Option<ContainerRow>> {
    c.query_row(
        &format!("SELECT {COLS} FROM containers WHERE name = ?1"),
        [name],
        row,
    )
    .optional()
    .map_err(Into::into)
}

/// IDs starting with `prefix`.
pub fn by_prefix(c: &Connection, prefix: &str) -> Result<Vec<ContainerRow>> {
    let pattern = format!("{}%", prefix.replace(['%', '_'], ""));
    let mut st = c.prepare_cached(&format!("SELECT {COLS} FROM containers WHERE id LIKE ?1"))?;
    let rows = st
        .query_map([pattern], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// All containers, newest first.
pub fn list(c: &Connection) -> Result<Vec<ContainerRow>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM containers ORDER BY created_at DESC"
    ))?;
    let rows = st
        .query_map([], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Containers using an image.
pub fn using_image(c: &Connection, image_id: &str) -> Result<Vec<ContainerRow>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM containers WHERE image_id = ?1"
    ))?;
    let rows = st
        .query_map([image_id], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Deletes a container record.
pub fn delete(c: &Connection, id: &str) -> Result<()> {
    c.execute("DELETE FROM containers WHERE id = ?1", [id])?;
    Ok(())
}
