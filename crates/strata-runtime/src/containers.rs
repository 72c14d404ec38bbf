//! Container records and their directories.
//!
//! ```text
//! containers/<id>/
//!   upper/ work/          the container's writable overlay layer
//!   init/                 mount-point stubs (an extra lower layer)
//!   rootfs/               the overlay mount point while it runs
//!   config.json           the OCI bundle, written at every start
//!   hostname hosts resolv.conf   bound over /etc/… in the container
//!   <id>-json.log         docker's json-file log
//!   runtime/              the OCI runtime's state root (libcontainer or runc)
//!   supervisor.log        the supervisor's own diagnostics
//!   container.lock        who operates on it (see `lock`)
//! ```
//! Creation is one transaction: the directory is prepared in the creating
//! process's scratch, renamed into `containers/`, then the record is
//! inserted — all under the container's lock. Removal deletes the record
//! first, then moves the directory out. A command killed in between leaves
//! a directory without a record whose lock is free, which [`sweep`]
//! removes; a live command's directory is never touched (its lock is held).
//! A record is looked up the way docker does: full ID, then exact name
//! (with or without the leading `/`), then unique ID prefix.

use std::fs;
use std::path::{Path, PathBuf};

use strata_oci::Digest;
use strata_store::Store;
use strata_store::db::containers::{self as q, ContainerRow};

use crate::error::{IoContext, Result, RuntimeError};
use crate::lock::ContainerLock;
use crate::model::{ContainerSpec, State};
use crate::names;
use crate::net::NetMode;
use crate::rootfs_linux::{container_stubs, create_init_layer};
use crate::spec::MountSpec;

/// A container record.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    /// Full 64-hex ID.
    pub id: String,
    /// Name without docker's leading `/`.
    pub name: String,
    /// Image ID (`sha256:…`).
    pub image_id: String,
    /// The image as the user named it.
    pub image_name: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// How it was created.
    pub spec: ContainerSpec,
    /// Its lifecycle state.
    pub state: State,
}

impl Container {
    fn from_row(row: ContainerRow) -> Result<Container> {
        let spec = serde_json::from_str(&row.spec).map_err(|e| {
            RuntimeError::Invalid(format!("container {}: corrupt spec record: {e}", row.id))
        })?;
        let state = serde_json::from_str(&row.state).map_err(|e| {
            RuntimeError::Invalid(format!("container {}: corrupt state record: {e}", row.id))
        })?;
        Ok(Container {
            id: row.id,
            name: row.name,
            image_id: row.image_id,
            image_name: row.image_name,
            created: row.created_at,
            spec,
            state,
        })
    }

    /// The 12-character ID.
    pub fn short_id(&self) -> &str {
        names::short_id(&self.id)
    }

    /// Running, and its supervisor or process still alive.
    pub fn is_running(&self) -> bool {
        self.state.running
            && (self.state.strata.supervisor.is_some_and(|s| s.is_alive())
                || self.state.strata.init.is_some_and(|p| p.is_alive()))
    }
}

/// The files of one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// `containers/<id>`.
    pub dir: PathBuf,
    /// Overlay upper dir.
    pub upper: PathBuf,
    /// Overlay work dir.
    pub work: PathBuf,
    /// Init layer.
    pub init: PathBuf,
    /// Mount point.
    pub rootfs: PathBuf,
    /// OCI bundle config.
    pub config_json: PathBuf,
    /// `/etc/hostname` source.
    pub hostname: PathBuf,
    /// `/etc/hosts` source.
    pub hosts: PathBuf,
    /// `/etc/resolv.conf` source.
    pub resolv_conf: PathBuf,
    /// json-file log.
    pub log: PathBuf,
    /// OCI runtime state root.
    pub runtime_root: PathBuf,
}

/// The paths of container `id`.
pub fn paths(store: &Store, id: &str) -> Paths {
    paths_at(store.container_dir(id), id)
}

/// The paths of container `id` with its directory at `dir`.
fn paths_at(dir: PathBuf, id: &str) -> Paths {
    Paths {
        upper: dir.join("upper"),
        work: dir.join("work"),
        init: dir.join("init"),
        rootfs: dir.join("rootfs"),
        config_json: dir.join("config.json"),
        hostname: dir.join("hostname"),
        hosts: dir.join("hosts"),
        resolv_conf: dir.join("resolv.conf"),
        log: dir.join(format!("{id}-json.log")),
        runtime_root: dir.join("runtime"),
        dir,
    }
}

/// A container to create.
#[derive(Debug, Clone)]
pub struct NewContainer {
    /// Pre-generated ID ([`names::new_id`]): the hostname derives from it.
    pub id: String,
    /// `--name`, validated here; a random one when `None`.
    pub name: Option<String>,
    /// The image ID.
    pub image_id: Digest,
    /// The image as the user named it.
    pub image_name: String,
    /// The spec document.
    pub spec: ContainerSpec,
    /// Parsed user mounts (for the init layer's stubs).
    pub mounts: Vec<MountSpec>,
}

/// docker's default `/etc/hosts` for a container without the host's network.
pub const DEFAULT_HOSTS: &str = crate::net::hosts::DEFAULT_HOSTS;

/// Creates the record and the directory of a new container, as one
/// transaction (see the module docs). The container's lock stays held by
/// this process (see [`crate::lock::hold`]) until it starts the container
/// or exits.
pub fn create(store: &Store, new: NewContainer) -> Result<Container> {
    let created = strata_oci::config::rfc3339_now();
    let state = State::default();
    let mut row = ContainerRow {
        id: new.id.clone(),
        name: String::new(),
        image_id: new.image_id.to_string(),
        image_name: new.image_name.clone(),
        created_at: created,
        spec: serde_json::to_string(&new.spec).map_err(|e| RuntimeError::Invalid(e.to_string()))?,
        state: serde_json::to_string(&state).map_err(|e| RuntimeError::Invalid(e.to_string()))?,
        running: state.running,
    };
    if let Some(n) = &new.name {
        row.name = names::validate_name(n)?;
    }
    // Prepared in our scratch (a crash leaves it to the scratch sweep),
    // locked before it is visible under containers/.
    let staging = store.scratch().new_dir("container")?;
    let lock = ContainerLock::create(&staging)?;
    if let Err(e) = prepare_dir(store, &paths_at(staging.clone(), &new.id), &new) {
        let _ = strata_store::layout::remove_tree(&staging);
        return Err(e);
    }
    let dir = store.container_dir(&new.id);
    fs::rename(&staging, &dir).ctx("create container directory", &dir)?;
    let result = match &new.name {
        Some(_) => insert(store, &row),
        None => {
            let mut attempt = 0;
            loop {
                row.name = names::random_name(attempt);
                match insert(store, &row) {
                    Err(RuntimeError::NameInUse { .. }) if attempt < 10 => attempt += 1,
                    other => break other,
                }
            }
        }
    };
    if let Err(e) = result {
        discard_dir(store, &dir);
        return Err(e);
    }
    crate::lock::hold(&new.id, lock);
    Container::from_row(row)
}

fn insert(store: &Store, row: &ContainerRow) -> Result<()> {
    let taken = store.db().write(|tx| {
        if let Some(other) = q::by_name(tx, &row.name)? {
            return Ok(Some(other.id));
        }
        q::insert(tx, row)?;
        Ok(None)
    })?;
    match taken {
        Some(id) => Err(RuntimeError::NameInUse {
            name: row.name.clone(),
            id,
        }),
        None => Ok(()),
    }
}

fn prepare_dir(store: &Store, p: &Paths, new: &NewContainer) -> Result<()> {
    for d in [&p.dir, &p.upper, &p.work, &p.rootfs] {
        fs::create_dir_all(d).ctx("create directory", d)?;
    }
    for m in &new.mounts {
        if let MountSpec::Bind { source, .. } = m
            && !source.exists()
        {
            // docker's -v creates a missing host path as a directory.
            fs::create_dir_all(source).ctx("create bind source", source)?;
        }
    }
    // Stubs where the mounts will really be: destinations resolved inside
    // the image's layers (see `mountpoint_linux`).
    let image = store.image(&new.image_id)?;
    let lowers = store.snapshots().lower_dirs(&image.chain_ids())?;
    let planned = crate::mountpoint_linux::plan(lowers, &new.mounts)?;
    let mut stubs = container_stubs();
    stubs.extend(planned.stubs);
    create_init_layer(&p.init, &stubs)?;
    let hostname = &new.spec.config.hostname;
    fs::write(&p.hostname, format!("{hostname}\n")).ctx("write", &p.hostname)?;
    // A private network's files are written again at every start, with
    // the container's address.
    let hc = &new.spec.host_config;
    let resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let (hosts, resolv) = match hc.network() {
        NetMode::Host => (
            fs::read_to_string("/etc/hosts").unwrap_or_else(|_| DEFAULT_HOSTS.to_string()),
            resolv,
        ),
        _ => (
            crate::net::hosts::hosts_file(hc.net.extra_hosts.as_deref().unwrap_or(&[]), &[]),
            crate::net::hosts::resolv_conf(&resolv, &hc.net.dns_flags()),
        ),
    };
    fs::write(&p.hosts, hosts).ctx("write", &p.hosts)?;
    fs::write(&p.resolv_conf, resolv).ctx("write", &p.resolv_conf)?;
    Ok(())
}

/// The container with exactly this ID, if any.
pub fn get(store: &Store, id: &str) -> Result<Option<Container>> {
    store
        .db()
        .with(|c| q::get(c, id))?
        .map(Container::from_row)
        .transpose()
}

/// Finds a container by full ID, name (`x` or `/x`) or unique ID prefix.
pub fn lookup(store: &Store, input: &str) -> Result<Container> {
    let not_found = || RuntimeError::NoSuchContainer(input.to_string());
    if input.is_empty() {
        return Err(not_found());
    }
    let row = store.db().with(|c| {
        if let Some(r) = q::get(c, input)? {
            return Ok(Ok(r));
        }
        let name = input.strip_prefix('/').unwrap_or(input);
        if let Some(r) = q::by_name(c, name)? {
            return Ok(Ok(r));
        }
        if input.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut rows = q::by_prefix(c, &input.to_ascii_lowercase())?;
            return Ok(match rows.len() {
                0 => Err(not_found()),
                1 => Ok(rows.remove(0)),
                _ => Err(RuntimeError::AmbiguousContainer(input.to_string())),
            });
        }
        Ok(Err(not_found()))
    })??;
    Container::from_row(row)
}

/// All containers, newest first.
pub fn list(store: &Store) -> Result<Vec<Container>> {
    store
        .db()
        .with(q::list)?
        .into_iter()
        .map(Container::from_row)
        .collect()
}

/// Read-modify-write of a container's state in one transaction; returns
/// the new state.
pub fn update_state(store: &Store, id: &str, f: impl FnOnce(&mut State)) -> Result<State> {
    store.db().write(|tx| {
        let Some(row) = q::get(tx, id)? else {
            return Ok(Err(RuntimeError::NoSuchContainer(id.to_string())));
        };
        let mut state: State = match serde_json::from_str(&row.state) {
            Ok(s) => s,
            Err(e) => {
                return Ok(Err(RuntimeError::Invalid(format!(
                    "container {id}: corrupt state record: {e}"
                ))));
            }
        };
        f(&mut state);
        let doc = serde_json::to_string(&state).unwrap_or_default();
        q::set_state(tx, id, &doc, state.running)?;
        Ok(Ok(state))
    })?
}

/// Changes a container's spec in one transaction (`update`): `f` sees
/// the stored spec and may refuse the change.
pub fn update_spec(
    store: &Store,
    id: &str,
    f: impl FnOnce(&mut ContainerSpec) -> Result<()>,
) -> Result<ContainerSpec> {
    store.db().write(|tx| {
        let Some(row) = q::get(tx, id)? else {
            return Ok(Err(RuntimeError::NoSuchContainer(id.to_string())));
        };
        let mut spec: ContainerSpec = match serde_json::from_str(&row.spec) {
            Ok(s) => s,
            Err(e) => {
                return Ok(Err(RuntimeError::Invalid(format!(
                    "container {id}: corrupt spec record: {e}"
                ))));
            }
        };
        if let Err(e) = f(&mut spec) {
            return Ok(Err(e));
        }
        let doc = serde_json::to_string(&spec).unwrap_or_default();
        q::set_spec(tx, id, &doc)?;
        Ok(Ok(spec))
    })?
}

/// Renames a container (docker's `rename`).
pub fn rename(store: &Store, c: &Container, new_name: &str) -> Result<()> {
    // docker's daemon: the same name is refused before the new one is
    // checked, and the new one's errors say they came from allocating it.
    let allocating = |e: RuntimeError| format!("Error when allocating new name: {e}");
    if new_name.is_empty() {
        return Err(RuntimeError::Invalid(
            "Neither old nor new names may be empty".to_string(),
        ));
    }
    if new_name.strip_prefix('/').unwrap_or(new_name) == c.name {
        return Err(RuntimeError::Invalid(
            "Renaming a container with the same name as its current name".to_string(),
        ));
    }
    let slashed = format!("/{}", new_name.strip_prefix('/').unwrap_or(new_name));
    let name = names::validate_name(new_name)
        .map_err(|_| RuntimeError::Invalid(allocating(RuntimeError::InvalidName(slashed))))?;
    let taken = store.db().write(|tx| {
        if let Some(other) = q::by_name(tx, &name)? {
            return Ok(Some(other.id));
        }
        q::rename(tx, &c.id, &name)?;
        Ok(None)
    })?;
    match taken {
        Some(id) => Err(RuntimeError::Conflict(allocating(
            RuntimeError::NameInUse { name, id },
        ))),
        None => {
            let old = format!("/{}", c.name);
            crate::events::container(store, c, "rename", &[("name", name), ("oldName", old)]);
            Ok(())
        }
    }
}

/// Deletes a stopped container's record and directory. The caller holds
/// its lock, has unmounted its rootfs and released its runtime state. The
/// record goes first: should the directory not be removable now, it is
/// left without a record, for [`sweep`].
pub fn delete(store: &Store, id: &str) -> Result<()> {
    let p = paths(store, id);
    let rootfs = p.dir.join("rootfs");
    if crate::rootfs_linux::is_mounted(&rootfs) {
        return Err(RuntimeError::Invalid(format!(
            "{} is still mounted; refusing to remove it",
            rootfs.display()
        )));
    }
    let gone = get(store, id).ok().flatten();
    store.db().write(|tx| q::delete(tx, id))?;
    discard_dir(store, &p.dir);
    if let Some(c) = gone {
        crate::events::container(store, &c, "destroy", &[]);
    }
    Ok(())
}

/// [`delete`], then removes the container's anonymous volumes that no
/// other container uses (`rm -v`, `run --rm`, as docker).
pub fn delete_with_volumes(store: &Store, id: &str) -> Result<()> {
    let anonymous = crate::volumes::anonymous_of(store, id)?;
    delete(store, id)?;
    crate::volumes::remove_unused(store, &anonymous);
    Ok(())
}

/// Moves a container directory out of `containers/` (into this process's
/// scratch: atomic, so nobody sees half of it) and deletes it. What
/// cannot be deleted now goes with the scratch.
fn discard_dir(store: &Store, dir: &Path) {
    if crate::rootfs_linux::is_mounted(&dir.join("rootfs")) {
        tracing::warn!("{}: rootfs still mounted; left for later", dir.display());
        return;
    }
    let aside = store.scratch().unique_path("removed-container");
    let target = match fs::rename(dir, &aside) {
        Ok(()) => aside,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(_) => dir.to_path_buf(),
    };
    if let Err(e) = strata_store::layout::remove_tree(&target) {
        tracing::warn!("remove {}: {e}", target.display());
    }
}

/// Removes container directories that have no record and no holder (left
/// by a command that died creating or removing them); returns how many.
/// Never fails: what cannot be removed now stays for the next sweep.
pub fn sweep(store: &Store) -> usize {
    let base = store.layout().containers();
    let Ok(rd) = fs::read_dir(&base) else {
        return 0;
    };
    let dirs: Vec<String> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    if dirs.is_empty() {
        return 0;
    }
    let Ok(rows) = store.db().with(q::list) else {
        return 0;
    };
    let known: std::collections::HashSet<String> = rows.into_iter().map(|r| r.id).collect();
    let mut removed = 0;
    for name in dirs.iter().filter(|n| !known.contains(*n)) {
        let dir = base.join(name);
        let Ok(Some(_lock)) = ContainerLock::try_acquire(&dir) else {
            continue; // being created or removed right now
        };
        // Its creator may have inserted the record just before we locked.
        if store
            .db()
            .with(|c| q::get(c, name))
            .ok()
            .flatten()
            .is_some()
        {
            continue;
        }
        tracing::debug!("removing {}: no record, no owner", dir.display());
        discard_dir(store, &dir);
        removed += 1;
    }
    removed
}
