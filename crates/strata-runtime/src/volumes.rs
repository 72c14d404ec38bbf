//! Volumes: named and anonymous directories in the store
//! (`volumes/<name>/_data`), recorded in the `volumes` table with the
//! containers that use them (`volume_refs`, see
//! `strata_store::db::volumes`). A volume a container uses is a GC root:
//! `volume rm` refuses it with docker's text and `volume prune` skips it.
//! Anonymous volumes (`-v /path`, an image's `VOLUME`) have a random
//! 64-hex name and go with their container on `rm -v` and `--rm`.
//!
//! Creation is idempotent (docker's `volume create NAME` of an existing
//! volume prints its name): the directory is made, then the row inserted
//! or kept. Removal deletes the row first (in the transaction that checks
//! no container uses it), then moves the directory into scratch and
//! deletes it, so a crash never leaves a row without its directory.
//!
//! [`copy_up`] is docker's first-use copy: an empty volume mounted over a
//! directory of the image gets that directory's contents, owners and modes.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use strata_store::Store;
use strata_store::db::volumes::{self as q, VolumeRow};

use crate::error::{IoContext, Result, RuntimeError};

/// The only driver strata has.
pub const LOCAL: &str = "local";

/// A volume as `volume inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Its name.
    pub name: String,
    /// `local`.
    pub driver: String,
    /// RFC 3339 (seconds, UTC) creation time.
    pub created: String,
    /// Labels (`None`: made by `run`, docker's `null`; `volume create`
    /// gives a map, maybe empty, as docker 20.10's CLI does).
    pub labels: Option<BTreeMap<String, String>>,
    /// Driver options (same rule).
    pub options: Option<BTreeMap<String, String>>,
    /// Made for one container rather than by name.
    pub anonymous: bool,
    /// Host path of its content.
    pub mountpoint: PathBuf,
}

/// The host directory of volume `name`'s content.
pub fn data_dir(store: &Store, name: &str) -> PathBuf {
    store.layout().volumes().join(name).join("_data")
}

/// docker's rule for a local volume's name: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn validate_name(name: &str) -> Result<()> {
    let b = name.as_bytes();
    let ok = b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if ok {
        return Ok(());
    }
    Err(RuntimeError::Invalid(format!(
        "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
    )))
}

fn from_row(store: &Store, r: VolumeRow) -> Volume {
    let map = |s: &str| serde_json::from_str(s).unwrap_or_default();
    Volume {
        mountpoint: data_dir(store, &r.name),
        labels: map(&r.labels),
        options: map(&r.options),
        name: r.name,
        driver: r.driver,
        created: r.created,
        anonymous: r.anonymous,
    }
}

/// Creates volume `name` (a random one when `None`: anonymous) unless it
/// exists; returns it. `labels` is `None` for a volume `run` makes.
pub fn create(
    store: &Store,
    name: Option<&str>,
    labels: Option<BTreeMap<String, String>>,
    anonymous: bool,
) -> Result<Volume> {
    let name = match name {
        Some(n) => {
            validate_name(n)?;
            n.to_string()
        }
        None => hex::encode(crate::names::random_bytes::<32>()),
    };
    if let Some(v) = get(store, &name)? {
        return Ok(v);
    }
    let data = data_dir(store, &name);
    fs::create_dir_all(&data).ctx("create volume directory", &data)?;
    // docker's _data is 0755 root (the volume dir itself 0701).
    let _ = fs::set_permissions(
        data.parent().unwrap_or(&data),
        fs::Permissions::from_mode(0o701),
    );
    let row = VolumeRow {
        name: name.clone(),
        driver: LOCAL.to_string(),
        created: created_now(),
        labels: serde_json::to_string(&labels).unwrap_or_else(|_| "null".into()),
        options: if labels.is_some() { "{}" } else { "null" }.to_string(),
        anonymous,
    };
    store.db().write(|tx| q::insert(tx, &row))?;
    crate::events::record(
        store,
        "volume",
        "create",
        &name,
        &[("driver", LOCAL.into())],
    );
    get(store, &name)?.ok_or_else(|| RuntimeError::Invalid(format!("volume {name} vanished")))
}

/// docker's `CreatedAt`: seconds, UTC.
fn created_now() -> String {
    let full = strata_oci::config::rfc3339_now();
    match full.split_once('.') {
        Some((secs, _)) => format!("{secs}Z"),
        None => full,
    }
}

/// The volume named `name`, if any.
pub fn get(store: &Store, name: &str) -> Result<Option<Volume>> {
    Ok(store
        .db()
        .with(|c| q::get(c, name))?
        .map(|r| from_row(store, r)))
}

/// The volume named `name`, or docker's "no such volume".
pub fn lookup(store: &Store, name: &str) -> Result<Volume> {
    get(store, name)?.ok_or_else(|| RuntimeError::Invalid(format!("get {name}: no such volume")))
}

/// Every volume, by name.
pub fn list(store: &Store) -> Result<Vec<Volume>> {
    Ok(store
        .db()
        .with(q::list)?
        .into_iter()
        .map(|r| from_row(store, r))
        .collect())
}

/// The containers using volume `name`.
pub fn users(store: &Store, name: &str) -> Result<Vec<String>> {
    Ok(store.db().with(|c| q::users(c, name))?)
}

/// Removes volume `name`; fails with docker's text while a container uses
/// it (`force` only forgives a missing volume, as docker's `-f`).
pub fn remove(store: &Store, name: &str, force: bool) -> Result<()> {
    let res = store.db().write(|tx| q::delete_unused(tx, name))?;
    match res {
        Ok(true) => {}
        Ok(false) if force => return Ok(()),
        Ok(false) => {
            return Err(RuntimeError::Invalid(format!("get {name}: no such volume")));
        }
        Err(users) => {
            return Err(RuntimeError::Invalid(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(", ")
            )));
        }
    }
    discard(store, name);
    Ok(())
}

/// Moves a volume's directory into scratch and deletes it (its record is
/// gone).
fn discard(store: &Store, name: &str) {
    crate::events::record(
        store,
        "volume",
        "destroy",
        name,
        &[("driver", LOCAL.into())],
    );
    let dir = store.layout().volumes().join(name);
    let aside = store.scratch().unique_path("removed-volume");
    let target = match fs::rename(&dir, &aside) {
        Ok(()) => aside,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(_) => dir,
    };
    if let Err(e) = strata_store::layout::remove_tree(&target) {
        tracing::warn!("remove {}: {e}", target.display());
    }
}

/// `volume prune`: removes every volume no container uses; returns the
/// names and the bytes they held.
pub fn prune(store: &Store) -> Result<(Vec<String>, u64)> {
    prune_where(store, &|_| true)
}

/// [`prune`] of the volumes `select` accepts (a prune `--filter`).
pub fn prune_where(store: &Store, select: &dyn Fn(&Volume) -> bool) -> Result<(Vec<String>, u64)> {
    let mut names = Vec::new();
    let mut bytes = 0;
    for v in list(store)? {
        if !select(&v) {
            continue;
        }
        let size = strata_store::layer::disk_usage(&v.mountpoint).unwrap_or(0);
        if let Ok(true) = store.db().write(|tx| q::delete_unused(tx, &v.name))? {
            discard(store, &v.name);
            bytes += size;
            names.push(v.name);
        }
    }
    Ok((names, bytes))
}

/// Records the volumes container `id` uses (`(name, destination)`).
pub fn add_refs(store: &Store, id: &str, refs: &[(String, String)]) -> Result<()> {
    store.db().write(|tx| {
        for (name, dest) in refs {
            q::add_ref(tx, name, id, dest)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// The anonymous volumes container `id` uses (before its record goes).
pub fn anonymous_of(store: &Store, id: &str) -> Result<Vec<String>> {
    Ok(store.db().with(|c| q::anonymous_of(c, id))?)
}

/// Removes the given anonymous volumes that no container uses any more
/// (after their container's record went: `rm -v`, `--rm`).
pub fn remove_unused(store: &Store, names: &[String]) {
    for n in names {
        if let Err(e) = remove(store, n, true) {
            tracing::debug!("volume {n} kept: {e}");
        }
    }
}

/// docker's copy-up: when the volume at `data` is empty, gives it the
/// contents, owners and modes of `src` (the image's directory at the
/// mount point, a host path inside the container's mounted rootfs that
/// the caller resolved inside the root). `scratch` holds the tar between
/// the two halves. Symlinks are copied as links, never followed.
pub fn copy_up(src: &Path, data: &Path, scratch: &Path) -> Result<()> {
    let Ok(md) = fs::symlink_metadata(src) else {
        return Ok(());
    };
    if !md.is_dir() {
        return Ok(());
    }
    let empty = fs::read_dir(data)
        .ctx("read volume", data)?
        .next()
        .is_none();
    if !empty {
        return Ok(());
    }
    let has_children = fs::read_dir(src).ctx("read", src)?.next().is_some();
    if has_children {
        let tmp = scratch.join(format!(
            "copyup-{}.tar",
            hex::encode(crate::names::random_bytes::<6>())
        ));
        let res = (|| {
            let f = fs::File::create(&tmp).ctx("create", &tmp)?;
            crate::cp::write_tar(src, None, false, std::io::BufWriter::new(f))?;
            let f = fs::File::open(&tmp).ctx("open", &tmp)?;
            crate::cp::extract(std::io::BufReader::new(f), data, true)
        })();
        let _ = fs::remove_file(&tmp);
        res?;
    }
    std::os::unix::fs::chown(data, Some(md.uid()), Some(md.gid())).ctx("chown volume", data)?;
    fs::set_permissions(data, fs::Permissions::from_mode(md.mode() & 0o7777))
        .ctx("chmod volume", data)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_docker() {
        for ok in ["ab", "data", "my_vol.1-x", "0a"] {
            validate_name(ok).unwrap();
        }
        for bad in ["a", "", "../x", "a/b", "-x", ".x", "x y", "é1"] {
            let e = validate_name(bad).unwrap_err().to_string();
            assert!(e.contains("includes invalid characters"), "{bad}: {e}");
        }
    }

    #[test]
    fn copy_up_keeps_contents_modes_and_only_fills_empty_volumes() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("sub/f"), b"hello").unwrap();
        fs::set_permissions(src.join("sub/f"), fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("link")).unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(0o1777)).unwrap();
        let data = t.path().join("data");
        fs::create_dir_all(&data).unwrap();
        copy_up(&src, &data, t.path()).unwrap();
        assert_eq!(fs::read(data.join("sub/f")).unwrap(), b"hello");
        let m = fs::metadata(data.join("sub/f")).unwrap().mode() & 0o7777;
        assert_eq!(m, 0o640);
        assert_eq!(
            fs::read_link(data.join("link")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert_eq!(fs::metadata(&data).unwrap().mode() & 0o7777, 0o1777);
        // Not empty any more: a second copy changes nothing.
        fs::write(src.join("new"), b"x").unwrap();
        copy_up(&src, &data, t.path()).unwrap();
        assert!(!data.join("new").exists());
    }
}
