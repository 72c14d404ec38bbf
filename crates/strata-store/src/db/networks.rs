//! Queries on `networks` and `network_endpoints` (this module owns both
//! tables). A network's `spec` and an endpoint's `config` are JSON
//! documents owned by strata-runtime; this module stores them and keeps
//! the two invariants SQLite can check: names are unique, and an address
//! is held by at most one endpoint of a network (`ip` is set while the
//! container runs, NULL otherwise).

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;

/// One network record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRow {
    /// Full 64-hex ID.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// The network's configuration (JSON).
    pub spec: String,
    /// The address IPAM handed out last (its cursor), if any.
    pub last_ip: Option<String>,
}

/// One container's attachment to a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRow {
    /// The network's ID.
    pub network_id: String,
    /// The container's ID.
    pub container_id: String,
    /// Connection order (0 is the container's first interface).
    pub position: i64,
    /// What the user asked for (JSON: aliases, static address).
    pub config: String,
    /// The address while the container runs.
    pub ip: Option<String>,
    /// The MAC address while the container runs.
    pub mac: Option<String>,
}

const NET_COLS: &str = "id, name, driver, created, spec, last_ip";
const EP_COLS: &str = "network_id, container_id, position, config, ip, mac";

fn net_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NetworkRow> {
    Ok(NetworkRow {
        id: r.get(0)?,
        name: r.get(1)?,
        driver: r.get(2)?,
        created: r.get(3)?,
        spec: r.get(4)?,
        last_ip: r.get(5)?,
    })
}

fn ep_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EndpointRow> {
    Ok(EndpointRow {
        network_id: r.get(0)?,
        container_id: r.get(1)?,
        position: r.get(2)?,
        config: r.get(3)?,
        ip: r.get(4)?,
        mac: r.get(5)?,
    })
}

/// Inserts a network unless one of that name exists; returns whether it
/// was inserted.
pub fn insert(c: &Connection, n: &NetworkRow) -> Result<bool> {
    let changed = c.execute(
        &format!("INSERT OR IGNORE INTO networks ({NET_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        params![n.id, n.name, n.driver, n.created, n.spec, n.last_ip],
    )?;
    Ok(changed == 1)
}

/// By exact ID.
pub fn get(c: &Connection, id: &str) -> Result<Option<NetworkRow>> {
    c.query_row(
        &format!("SELECT {NET_COLS} FROM networks WHERE id = ?1"),
        [id],
        net_row,
    )
    .optional()
    .map_err(Into::into)
}

/// By exact name.
pub fn by_name(c: &Connection, name: &str) -> Result<Option<NetworkRow>> {
    c.query_row(
        &format!("SELECT {NET_COLS} FROM networks WHERE name = ?1"),
        [name],
        net_row,
    )
    .optional()
    .map_err(Into::into)
}

/// IDs starting with `prefix`.
pub fn by_prefix(c: &Connection, prefix: &str) -> Result<Vec<NetworkRow>> {
    let pattern = format!("{}%", prefix.replace(['%', '_'], ""));
    let mut st = c.prepare_cached(&format!("SELECT {NET_COLS} FROM networks WHERE id LIKE ?1"))?;
    let rows = st
        .query_map([pattern], net_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// All networks, by name.
pub fn list(c: &Connection) -> Result<Vec<NetworkRow>> {
    let mut st = c.prepare_cached(&format!("SELECT {NET_COLS} FROM networks ORDER BY name"))?;
    let rows = st
        .query_map([], net_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Moves a network's IPAM cursor.
pub fn set_last_ip(c: &Connection, id: &str, ip: &str) -> Result<()> {
    c.execute(
        "UPDATE networks SET last_ip = ?2 WHERE id = ?1",
        params![id, ip],
    )?;
    Ok(())
}

/// Deletes a network and (by cascade) the attachments of stopped
/// containers to it.
pub fn delete(c: &Connection, id: &str) -> Result<()> {
    c.execute("DELETE FROM networks WHERE id = ?1", [id])?;
    Ok(())
}

/// Attaches a container to a network (replacing an earlier attachment).
pub fn attach(c: &Connection, e: &EndpointRow) -> Result<()> {
    c.execute(
        &format!(
            "INSERT INTO network_endpoints ({EP_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (network_id, container_id) DO UPDATE SET
             position = excluded.position, config = excluded.config,
             ip = excluded.ip, mac = excluded.mac"
        ),
        params![
            e.network_id,
            e.container_id,
            e.position,
            e.config,
            e.ip,
            e.mac
        ],
    )?;
    Ok(())
}

/// Detaches a container from a network.
pub fn detach(c: &Connection, network_id: &str, container_id: &str) -> Result<()> {
    c.execute(
        "DELETE FROM network_endpoints WHERE network_id = ?1 AND container_id = ?2",
        params![network_id, container_id],
    )?;
    Ok(())
}

/// A container's attachments, in connection order.
pub fn endpoints_of_container(c: &Connection, container_id: &str) -> Result<Vec<EndpointRow>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {EP_COLS} FROM network_endpoints WHERE container_id = ?1 ORDER BY position, network_id"
    ))?;
    let rows = st
        .query_map([container_id], ep_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// A network's attachments (running or not), by container ID.
pub fn endpoints_of_network(c: &Connection, network_id: &str) -> Result<Vec<EndpointRow>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {EP_COLS} FROM network_endpoints WHERE network_id = ?1 ORDER BY container_id"
    ))?;
    let rows = st
        .query_map([network_id], ep_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Every attachment, for listing many containers at once.
pub fn all_endpoints(c: &Connection) -> Result<Vec<EndpointRow>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {EP_COLS} FROM network_endpoints ORDER BY container_id, position, network_id"
    ))?;
    let rows = st
        .query_map([], ep_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The addresses held on a network.
pub fn used_ips(c: &Connection, network_id: &str) -> Result<Vec<String>> {
    let mut st = c.prepare_cached(
        "SELECT ip FROM network_endpoints WHERE network_id = ?1 AND ip IS NOT NULL",
    )?;
    let rows = st
        .query_map([network_id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Records (or, with `None`, releases) an endpoint's address.
pub fn set_address(
    c: &Connection,
    network_id: &str,
    container_id: &str,
    ip: Option<&str>,
    mac: Option<&str>,
) -> Result<()> {
    c.execute(
        "UPDATE network_endpoints SET ip = ?3, mac = ?4 WHERE network_id = ?1 AND container_id = ?2",
        params![network_id, container_id, ip, mac],
    )?;
    Ok(())
}

/// Releases every address a container holds.
pub fn release_container(c: &Connection, container_id: &str) -> Result<()> {
    c.execute(
        "UPDATE network_endpoints SET ip = NULL, mac = NULL WHERE container_id = ?1",
        [container_id],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::db::containers::{self, ContainerRow};

    fn net(id: &str, name: &str) -> NetworkRow {
        NetworkRow {
            id: id.into(),
            name: name.into(),
            driver: "bridge".into(),
            created: "2024-01-01T00:00:00Z".into(),
            spec: "{}".into(),
            last_ip: None,
        }
    }

    fn ctr(id: &str) -> ContainerRow {
        ContainerRow {
            id: id.into(),
            name: format!("n{id}"),
            image_id: "sha256:x".into(),
            image_name: "x".into(),
            created_at: "2024".into(),
            spec: "{}".into(),
            state: "{}".into(),
            running: false,
        }
    }

    fn ep(net: &str, ctr: &str, ip: Option<&str>) -> EndpointRow {
        EndpointRow {
            network_id: net.into(),
            container_id: ctr.into(),
            position: 0,
            config: "{}".into(),
            ip: ip.map(Into::into),
            mac: None,
        }
    }

    #[test]
    fn names_unique_addresses_unique_per_network_and_cascades() {
        let t = tempfile::tempdir().unwrap();
        let db = Db::open(&t.path().join("m.db")).unwrap();
        db.write(|tx| {
            assert!(insert(tx, &net("a1", "one"))?);
            assert!(!insert(tx, &net("a2", "one"))?, "duplicate name ignored");
            assert!(insert(tx, &net("b1", "two"))?);
            containers::insert(tx, &ctr("c1"))?;
            containers::insert(tx, &ctr("c2"))?;
            attach(tx, &ep("a1", "c1", Some("10.0.0.2")))?;
            attach(tx, &ep("b1", "c1", Some("10.0.0.2")))?;
            Ok(())
        })
        .unwrap();
        let dup = db.write(|tx| attach(tx, &ep("a1", "c2", Some("10.0.0.2"))));
        assert!(dup.is_err(), "one address per network");
        db.write(|tx| {
            attach(tx, &ep("a1", "c2", None))?;
            assert_eq!(used_ips(tx, "a1")?, vec!["10.0.0.2".to_string()]);
            release_container(tx, "c1")?;
            assert!(used_ips(tx, "a1")?.is_empty());
            set_address(tx, "a1", "c2", Some("10.0.0.3"), Some("02:42:0a:00:00:03"))?;
            set_last_ip(tx, "a1", "10.0.0.3")?;
            assert_eq!(get(tx, "a1")?.unwrap().last_ip.as_deref(), Some("10.0.0.3"));
            assert_eq!(endpoints_of_network(tx, "a1")?.len(), 2);
            containers::delete(tx, "c2")?;
            assert_eq!(endpoints_of_network(tx, "a1")?.len(), 1);
            delete(tx, "a1")?;
            assert_eq!(endpoints_of_container(tx, "c1")?.len(), 1);
            assert_eq!(by_prefix(tx, "b")?.len(), 1);
            assert_eq!(list(tx)?.len(), 1);
            Ok(())
        })
        .unwrap();
    }
}
