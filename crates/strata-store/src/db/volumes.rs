//! Queries on `volumes` and `volume_refs` (this module owns both tables).
//! A volume's content is the directory `volumes/<name>/_data`; its row
//! says it exists. `volume_refs` records which containers use it: a
//! volume with a reference is a GC root (`volume rm` refuses it, `volume
//! prune` skips it), and SQLite itself refuses to delete a referenced
//! volume row (the foreign key has no cascade). A container's references
//! go with its row (cascade).

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;

/// One volume record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeRow {
    /// Unique name (64 hex digits for an anonymous volume).
    pub name: String,
    /// `local`.
    pub driver: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// Labels (JSON object).
    pub labels: String,
    /// Driver options (JSON object).
    pub options: String,
    /// Made for a container (`-v /path`, an image's `VOLUME`), not by name.
    pub anonymous: bool,
}

const COLS: &str = "name, driver, created, labels, options, anonymous";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<VolumeRow> {
    Ok(VolumeRow {
        name: r.get(0)?,
        driver: r.get(1)?,
        created: r.get(2)?,
        labels: r.get(3)?,
        options: r.get(4)?,
        anonymous: r.get(5)?,
    })
}

/// Inserts a volume unless one of that name exists; true if inserted.
pub fn insert(c: &Connection, v: &VolumeRow) -> Result<bool> {
    let n = c.execute(
        &format!("INSERT OR IGNORE INTO volumes ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        params![
            v.name,
            v.driver,
            v.created,
            v.labels,
            v.options,
            v.anonymous
        ],
    )?;
    Ok(n == 1)
}

/// By exact name.
pub fn get(c: &Connection, name: &str) -> Result<Option<VolumeRow>> {
    c.query_row(
        &format!("SELECT {COLS} FROM volumes WHERE name = ?1"),
        [name],
        row,
    )
    .optional()
    .map_err(Into::into)
}

/// All volumes, by name.
pub fn list(c: &Connection) -> Result<Vec<VolumeRow>> {
    let mut st = c.prepare_cached(&format!("SELECT {COLS} FROM volumes ORDER BY name"))?;
    let rows = st
        .query_map([], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The containers using a volume (distinct IDs, sorted).
pub fn users(c: &Connection, name: &str) -> Result<Vec<String>> {
    let mut st = c.prepare_cached(
        "SELECT DISTINCT container_id FROM volume_refs WHERE volume_name = ?1 ORDER BY container_id",
    )?;
    let rows = st
        .query_map([name], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

/// Records that `container_id` mounts `name` at `destination`.
pub fn add_ref(c: &Connection, name: &str, container_id: &str, destination: &str) -> Result<()> {
    c.execute(
        "INSERT OR IGNORE INTO volume_refs (volume_name, container_id, destination) VALUES (?1, ?2, ?3)",
        params![name, container_id, destination],
    )?;
    Ok(())
}

/// The anonymous volumes a container uses.
pub fn anonymous_of(c: &Connection, container_id: &str) -> Result<Vec<String>> {
    let mut st = c.prepare_cached(
        "SELECT DISTINCT v.name FROM volume_refs r JOIN volumes v ON v.name = r.volume_name
         WHERE r.container_id = ?1 AND v.anonymous = 1 ORDER BY v.name",
    )?;
    let rows = st
        .query_map([container_id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

/// Deletes a volume row if no container uses it; returns the users
/// otherwise (nothing deleted).
pub fn delete_unused(c: &Connection, name: &str) -> Result<std::result::Result<bool, Vec<String>>> {
    let users = users(c, name)?;
    if !users.is_empty() {
        return Ok(Err(users));
    }
    let n = c.execute("DELETE FROM volumes WHERE name = ?1", [name])?;
    Ok(Ok(n == 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.pragma_update(None, "foreign_keys", "ON").unwrap();
        for m in crate::db::schema::MIGRATIONS {
            c.execute_batch(m).unwrap();
        }
        c
    }

    fn vol(name: &str, anonymous: bool) -> VolumeRow {
        VolumeRow {
            name: name.into(),
            driver: "local".into(),
            created: "2026-01-01T00:00:00Z".into(),
            labels: "{}".into(),
            options: "{}".into(),
            anonymous,
        }
    }

    #[test]
    fn referenced_volumes_cannot_be_deleted_and_refs_go_with_the_container() {
        let c = db();
        assert!(insert(&c, &vol("data", false)).unwrap());
        assert!(!insert(&c, &vol("data", false)).unwrap(), "idempotent");
        assert!(insert(&c, &vol("ab12", true)).unwrap());
        c.execute(
            "INSERT INTO containers VALUES ('c1', 'n1', 'img', 'img', 't', '{}', '{}', 0)",
            [],
        )
        .unwrap();
        add_ref(&c, "data", "c1", "/data").unwrap();
        add_ref(&c, "ab12", "c1", "/anon").unwrap();
        assert_eq!(users(&c, "data").unwrap(), ["c1"]);
        assert_eq!(anonymous_of(&c, "c1").unwrap(), ["ab12"]);
        assert_eq!(delete_unused(&c, "data").unwrap(), Err(vec!["c1".into()]));
        // Even a raw DELETE is refused while referenced.
        assert!(
            c.execute("DELETE FROM volumes WHERE name = 'data'", [])
                .is_err()
        );
        c.execute("DELETE FROM containers WHERE id = 'c1'", [])
            .unwrap();
        assert!(users(&c, "data").unwrap().is_empty());
        assert_eq!(delete_unused(&c, "data").unwrap(), Ok(true));
        assert_eq!(delete_unused(&c, "data").unwrap(), Ok(false));
        assert_eq!(list(&c).unwrap().len(), 1);
        assert!(get(&c, "ab12").unwrap().unwrap().anonymous);
    }
}
