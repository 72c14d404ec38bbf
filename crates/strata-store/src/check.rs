//! `system check`: verifies that the files of a root and its metadata agree,
//! and repairs what is safe to repair.
//!
//! What is checked, one [`Finding`] per inconsistency:
//!
//! | area | check | repair |
//! |---|---|---|
//! | blobs | every file's sha256 is its name; sizes agree with the layer records and the manifests | a corrupt layer blob (and its record) is deleted — push recompresses from the snapshot; a corrupt manifest or config is reported |
//! | images | manifest and config present and parseable, the manifest names the config, layer counts agree, every layer record and chain is unpacked | none (`rmi` and pull or build again) |
//! | snapshots | every row has its `snapshots/<id>/fs` (a packed one, unpacked on first use, may instead have a stored blob of its layer), its chain ID is its parent's chain plus its diffID, its parent exists | a row nothing needs is deleted |
//! | layer records | every `layer_blobs` row has its blob | the row is deleted |
//! | containers | every row has its directory and every directory its row | an orphan directory is removed, a dangling row of a stopped container deleted |
//! | mounts | nothing under the root is mounted except running containers' rootfs and live scratch | the mount is detached |
//! | build cache | every record's config blob and snapshot exist; a replayed record has its time | the record is deleted |
//! | scratch | nothing is left under `tmp/` by dead processes | swept again |
//!
//! Garbage — blobs, snapshot directories and dead layer records no root
//! reaches — is listed too but is not a problem: garbage collection removes
//! it (and `--repair` runs it).
//!
//! Other strata commands may be running: without the root's GC lock held
//! exclusively, a check skips what a concurrent command may be in the
//! middle of writing (entries younger than [`IN_FLIGHT_GRACE`]) and a
//! repair is refused.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use strata_oci::{Digest, Digester, ImageConfig, chain_id};

use crate::Store;
use crate::db::containers as cq;
use crate::db::images as iq;
use crate::db::layers as lq;
use crate::error::{IoContext, Result, StoreError};
use crate::gc::roots;
use crate::layout::remove_tree;
use crate::{mounts, scratch};

/// How young an unrecorded entry may be and still be a concurrent
/// command's work in progress (only when other commands are running).
pub const IN_FLIGHT_GRACE: Duration = Duration::from_secs(120);

/// How a check runs.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// IDs of containers that are running (their mounts are expected).
    pub running: HashSet<String>,
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Something is broken or will never be cleaned up by itself.
    Problem,
    /// Unreachable content garbage collection removes.
    Garbage,
}

/// What a repair does.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fix {
    DeleteBlob(Digest),
    DeleteLayerBlobRow(String, String),
    DeleteSnapshotRow(i64),
    DeleteContainerRow(String),
    RemoveDir(PathBuf),
    Detach(PathBuf),
    DeleteCacheRecord(String),
    Sweep,
    Gc,
}

/// One inconsistency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Problem or garbage.
    pub severity: Severity,
    /// What is wrong, on one line.
    pub what: String,
    fix: Result<Fix, String>,
}

impl Finding {
    fn problem(what: String, fix: Result<Fix, String>) -> Finding {
        Finding {
            severity: Severity::Problem,
            what,
            fix,
        }
    }

    /// Why it cannot be repaired (`None`: `--repair` fixes it).
    pub fn unrepairable(&self) -> Option<&str> {
        self.fix.as_ref().err().map(String::as_str)
    }
}

/// What a check found.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Findings, in the order found.
    pub findings: Vec<Finding>,
    /// False when other strata commands were running (some in-flight
    /// entries were skipped, and repairs are not possible).
    pub exclusive: bool,
    /// Blobs whose content was verified.
    pub blobs_checked: usize,
}

impl CheckReport {
    /// The findings that are problems.
    pub fn problems(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Problem)
    }
}

/// What a repair did with one finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// Fixed; says how.
    Fixed(String),
    /// Left as it is; says why.
    Left(String),
}

impl Store {
    /// Checks the whole root; see the module docs.
    pub fn check(&self, opts: &CheckOptions) -> Result<CheckReport> {
        self.exclusively(|alone| Checker::new(self, opts, alone).run())?
    }

    /// Checks, then repairs what is safe; returns the report and what was
    /// done with each finding (same order). Refused while other strata
    /// commands use the store.
    pub fn check_and_repair(&self, opts: &CheckOptions) -> Result<(CheckReport, Vec<Repair>)> {
        self.exclusively(|alone| {
            let report = Checker::new(self, opts, alone).run()?;
            if !alone {
                return Err(StoreError::Conflict(
                    "another strata command is using the store; run `strata system check --repair` again when it has finished".into(),
                ));
            }
            let mut done = Vec::new();
            let mut gc = false;
            for f in &report.findings {
                done.push(match &f.fix {
                    Err(why) => Repair::Left(why.clone()),
                    Ok(Fix::Gc) => {
                        gc = true;
                        Repair::Fixed("removed by garbage collection".into())
                    }
                    Ok(fix) => match self.apply(fix) {
                        Ok(how) => Repair::Fixed(how),
                        Err(e) => Repair::Left(e.to_string()),
                    },
                });
            }
            if gc {
                self.collect()?;
            }
            Ok((report, done))
        })?
    }

    fn apply(&self, fix: &Fix) -> Result<String> {
        Ok(match fix {
            Fix::DeleteBlob(d) => {
                // No image needs it; records naming it would dangle.
                self.db().write(|tx| {
                    tx.execute(
                        "DELETE FROM layer_blobs WHERE blob_digest = ?1",
                        [d.as_str()],
                    )?;
                    tx.execute(
                        "DELETE FROM build_cache WHERE config_digest = ?1 OR blob_digest = ?1",
                        [d.as_str()],
                    )?;
                    Ok(())
                })?;
                self.content().delete(d)?;
                format!("deleted blob {d} and the records naming it")
            }
            Fix::DeleteLayerBlobRow(diff, blob) => {
                self.db().write(|tx| {
                    tx.execute(
                        "DELETE FROM layer_blobs WHERE diff_id = ?1 AND blob_digest = ?2",
                        [diff, blob],
                    )?;
                    Ok(())
                })?;
                "deleted the record".into()
            }
            Fix::DeleteSnapshotRow(id) => {
                self.db().write(|tx| lq::delete_snapshot(tx, *id))?;
                self.snapshots().remove_dir(*id)?;
                "deleted the record".into()
            }
            Fix::DeleteContainerRow(id) => {
                self.db().write(|tx| cq::delete(tx, id))?;
                "deleted the record".into()
            }
            Fix::RemoveDir(p) if !fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()) => {
                fs::remove_file(p).ctx("remove", p.clone())?;
                format!("removed {}", p.display())
            }
            Fix::RemoveDir(p) => {
                let table = mounts::read();
                for m in mounts::under(&table, p) {
                    mounts::detach(&m.mount_point).ctx("unmount", m.mount_point.clone())?;
                }
                remove_tree(p).ctx("remove", p.clone())?;
                format!("removed {}", p.display())
            }
            Fix::Detach(p) => {
                if !mounts::read().iter().any(|m| &m.mount_point == p) {
                    return Ok(format!("{} is no longer mounted", p.display()));
                }
                mounts::detach(p).ctx("unmount", p.clone())?;
                format!("unmounted {}", p.display())
            }
            Fix::DeleteCacheRecord(key) => {
                self.db().write(|tx| {
                    tx.execute("DELETE FROM build_cache WHERE key = ?1", [key])?;
                    Ok(())
                })?;
                "deleted the record".into()
            }
            Fix::Sweep => {
                let r = scratch::sweep_tmp(&self.layout().tmp());
                match r.deferred.first() {
                    Some((p, why)) => {
                        return Err(StoreError::Invalid(format!(
                            "{} cannot be deleted yet: {why}",
                            p.display()
                        )));
                    }
                    None => "swept".into(),
                }
            }
            Fix::Gc => "removed by garbage collection".into(),
        })
    }
}

struct Checker<'a> {
    store: &'a Store,
    opts: &'a CheckOptions,
    alone: bool,
    now: SystemTime,
    out: Vec<Finding>,
    blobs_checked: usize,
}

impl<'a> Checker<'a> {
    fn new(store: &'a Store, opts: &'a CheckOptions, alone: bool) -> Self {
        Checker {
            store,
            opts,
            alone,
            now: SystemTime::now(),
            out: Vec::new(),
            blobs_checked: 0,
        }
    }

    fn problem(&mut self, what: String, fix: Result<Fix, String>) {
        self.out.push(Finding::problem(what, fix));
    }

    fn garbage(&mut self, what: String) {
        self.out.push(Finding {
            severity: Severity::Garbage,
            what,
            fix: Ok(Fix::Gc),
        });
    }

    /// True when `p` may be a concurrent command's work in progress.
    fn in_flight(&self, p: &Path) -> bool {
        !self.alone
            && fs::symlink_metadata(p)
                .and_then(|m| m.modified())
                .is_ok_and(|t| self.now.duration_since(t).unwrap_or_default() < IN_FLIGHT_GRACE)
    }

    fn run(mut self) -> Result<CheckReport> {
        let db = self.store.db();
        let live = db.with(roots)?;
        let images = db.with(iq::list)?;
        let snapshots = db.with(lq::all_snapshots)?;
        let layer_blobs = db.with(all_layer_blobs)?;
        // Who needs each chain and each blob (for the repair decisions).
        let mut image_of_chain: HashMap<String, String> = HashMap::new();
        let mut image_of_blob: HashMap<String, String> = HashMap::new();
        for img in &images {
            image_of_blob.insert(img.id.to_string(), img.id.short().to_string());
            image_of_blob.insert(img.manifest_digest.to_string(), img.id.short().to_string());
            for l in db.with(|c| iq::layers(c, &img.id))? {
                image_of_chain.insert(l.chain_id.to_string(), img.id.short().to_string());
            }
        }
        let mut image_of_diff: HashMap<String, String> = HashMap::new();
        for img in &images {
            for l in db.with(|c| iq::layers(c, &img.id))? {
                image_of_diff.insert(l.diff_id.to_string(), img.id.short().to_string());
            }
        }
        let mut sizes: HashMap<String, u64> = HashMap::new();
        for (diff, blob, size) in &layer_blobs {
            sizes.insert(blob.clone(), *size);
            // Any recorded blob of an image's layer may be what save and
            // push send: never deleted by a repair.
            if let Some(img) = image_of_diff.get(diff) {
                image_of_blob.insert(blob.clone(), img.clone());
            }
        }
        self.images(&images, &snapshots, &mut sizes, &mut image_of_blob)?;
        self.blobs(&live.blobs, &image_of_blob, &sizes)?;
        for (diff, blob, _) in &layer_blobs {
            let d = Digest::parse(blob).ok();
            if !d.as_ref().map_or(Ok(false), |d| self.store.has_blob(d))? {
                self.problem(
                    format!("layer record {diff}: its blob {blob} is missing"),
                    Ok(Fix::DeleteLayerBlobRow(diff.clone(), blob.clone())),
                );
            }
        }
        self.snapshots(&snapshots, &image_of_chain)?;
        self.containers()?;
        self.build_cache(&snapshots)?;
        self.scratch()?;
        Ok(CheckReport {
            findings: self.out,
            exclusive: self.alone,
            blobs_checked: self.blobs_checked,
        })
    }

    fn images(
        &mut self,
        images: &[iq::ImageRow],
        snapshots: &[lq::SnapshotRow],
        sizes: &mut HashMap<String, u64>,
        image_of_blob: &mut HashMap<String, String>,
    ) -> Result<()> {
        let unpacked: HashMap<&str, &lq::SnapshotRow> =
            snapshots.iter().map(|s| (s.chain_id.as_str(), s)).collect();
        let content = self.store.content();
        for img in images {
            let name = format!("image {}", img.id.short());
            let fix = || {
                Err(format!(
                    "remove it (`strata rmi {}`) and pull or build it again",
                    img.id.short()
                ))
            };
            let unreadable = |what: &str, d: &Digest, e: StoreError| match e {
                StoreError::DigestMismatch { .. } => format!("{name}: its {what} {d} is corrupt"),
                _ if !content.exists(d) => format!("{name}: its {what} {d} is missing"),
                e => format!("{name}: its {what} {d} cannot be read: {e}"),
            };
            let manifest = match content.read(&img.manifest_digest) {
                Ok(b) => b,
                Err(e) => {
                    let what = unreadable("manifest", &img.manifest_digest, e);
                    self.problem(what, fix());
                    continue;
                }
            };
            let config = match content.read(&img.id) {
                Ok(b) => b,
                Err(e) => {
                    let what = unreadable("config", &img.id, e);
                    self.problem(what, fix());
                    continue;
                }
            };
            let m = match strata_oci::manifest::parse_manifest(&manifest) {
                Ok(m) => m,
                Err(e) => {
                    self.problem(
                        format!("{name}: manifest {}: {e}", img.manifest_digest),
                        fix(),
                    );
                    continue;
                }
            };
            if strata_oci::manifest::descriptor_digest(m.config())
                .ok()
                .as_ref()
                != Some(&img.id)
            {
                self.problem(
                    format!(
                        "{name}: its manifest names another config ({})",
                        m.config().digest()
                    ),
                    fix(),
                );
            }
            sizes.entry(img.id.to_string()).or_insert(m.config().size());
            let cfg = match ImageConfig::from_slice(&config) {
                Ok(c) => c,
                Err(e) => {
                    self.problem(format!("{name}: config: {e}"), fix());
                    continue;
                }
            };
            if m.layers().len() != cfg.rootfs.diff_ids.len() {
                self.problem(
                    format!(
                        "{name}: its manifest has {} layers, its config {}",
                        m.layers().len(),
                        cfg.rootfs.diff_ids.len()
                    ),
                    fix(),
                );
            }
            for l in m.layers() {
                if let Ok(d) = strata_oci::manifest::descriptor_digest(l) {
                    sizes.entry(d.to_string()).or_insert(l.size());
                    image_of_blob.insert(d.to_string(), img.id.short().to_string());
                }
            }
            let recorded = self.store.db().with(|c| iq::layers(c, &img.id))?;
            let chains = cfg.chain_ids();
            let want: Vec<(&Digest, &Digest)> = cfg.rootfs.diff_ids.iter().zip(&chains).collect();
            let got: Vec<(&Digest, &Digest)> =
                recorded.iter().map(|l| (&l.diff_id, &l.chain_id)).collect();
            if want != got {
                self.problem(
                    format!("{name}: its layer records do not match its config"),
                    fix(),
                );
            }
            for (i, chain) in chains.iter().enumerate() {
                match unpacked.get(chain.as_str()) {
                    None => self.problem(
                        format!("{name}: layer {i} ({chain}) is not unpacked"),
                        fix(),
                    ),
                    Some(s) if !self.store.snapshots().fs_path(s.id).is_dir() => {
                        // Reported once, by the snapshot check.
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    fn blobs(
        &mut self,
        live: &HashSet<String>,
        image_of_blob: &HashMap<String, String>,
        sizes: &HashMap<String, u64>,
    ) -> Result<()> {
        let dir = self.store.layout().blobs();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => return Err(e).ctx("read directory", dir),
        };
        let mut names: Vec<(String, PathBuf)> = entries
            .flatten()
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect();
        names.sort();
        for (name, path) in names {
            let Ok(want) = Digest::from_hex(&name) else {
                if !self.in_flight(&path) {
                    self.problem(
                        format!("blobs/sha256/{name}: not a blob (a stray file)"),
                        Ok(Fix::RemoveDir(path)),
                    );
                }
                continue;
            };
            let (got, len) = match hash_file(&path) {
                Ok(x) => x,
                Err(e) => {
                    self.problem(
                        format!("blob {want}: cannot read it: {e}"),
                        Err(e.to_string()),
                    );
                    continue;
                }
            };
            self.blobs_checked += 1;
            let needed_by = image_of_blob.get(want.as_str());
            let fix = || match needed_by {
                Some(img) => Err(format!(
                    "image {img} needs it: remove the image and pull or build it again"
                )),
                None => Ok(Fix::DeleteBlob(want.clone())),
            };
            if got != want {
                self.problem(
                    format!("blob {want}: its content hashes to {got} (corrupt)"),
                    fix(),
                );
                continue;
            }
            if let Some(&size) = sizes.get(want.as_str())
                && size != len
            {
                self.problem(
                    format!("blob {want}: {len} bytes, but it is recorded as {size}"),
                    fix(),
                );
                continue;
            }
            if !live.contains(want.as_str()) && !self.in_flight(&path) {
                self.garbage(format!("blob {want}: nothing uses it ({len} bytes)"));
            }
        }
        Ok(())
    }

    fn snapshots(
        &mut self,
        rows: &[lq::SnapshotRow],
        image_of_chain: &HashMap<String, String>,
    ) -> Result<()> {
        let by_chain: HashSet<&str> = rows.iter().map(|s| s.chain_id.as_str()).collect();
        let parents: HashSet<&str> = rows
            .iter()
            .filter_map(|s| s.parent_chain_id.as_ref().map(Digest::as_str))
            .collect();
        let mut ids = HashSet::new();
        for s in rows {
            ids.insert(s.id);
            let name = format!("snapshot {} ({})", s.id, s.chain_id);
            let fix = || match image_of_chain.get(s.chain_id.as_str()) {
                Some(img) => Err(format!(
                    "image {img} needs it: remove the image and pull or build it again"
                )),
                None if parents.contains(s.chain_id.as_str()) => {
                    Err("another snapshot is built on it".to_string())
                }
                None => Ok(Fix::DeleteSnapshotRow(s.id)),
            };
            if !self.snapshot_present(s)? {
                let what = if s.packed {
                    "it is packed (unpacked on first use) but no blob holding its layer is stored"
                } else {
                    "its directory is missing"
                };
                self.problem(format!("{name}: {what}"), fix());
                continue;
            }
            let expected = match &s.parent_chain_id {
                Some(p) => chain_id(p, &s.diff_id),
                None => s.diff_id.clone(),
            };
            if expected != s.chain_id {
                self.problem(
                    format!("{name}: its parent and diffID make chain {expected}"),
                    fix(),
                );
            }
            if let Some(p) = &s.parent_chain_id
                && !by_chain.contains(p.as_str())
            {
                self.problem(
                    format!("{name}: its parent chain {p} has no snapshot"),
                    fix(),
                );
            }
        }
        for id in self.store.snapshots().dirs_on_disk()? {
            let d = self.store.layout().snapshots().join(id.to_string());
            if !ids.contains(&id) && !self.in_flight(&d) {
                self.garbage(format!("snapshots/{id}: a directory without a record"));
            }
        }
        Ok(())
    }

    fn containers(&mut self) -> Result<()> {
        let rows = self.store.db().with(cq::list)?;
        let known: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let dir = self.store.layout().containers();
        for r in &rows {
            if !dir.join(&r.id).is_dir() {
                let fix = if self.opts.running.contains(&r.id) {
                    Err("it is running".to_string())
                } else {
                    Ok(Fix::DeleteContainerRow(r.id.clone()))
                };
                self.problem(
                    format!(
                        "container {} ({}): its directory is missing",
                        short(&r.id),
                        r.name
                    ),
                    fix,
                );
            }
        }
        let mut orphans = Vec::new();
        if let Ok(rd) = fs::read_dir(&dir) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !known.contains(name.as_str()) && !self.in_flight(&e.path()) {
                    orphans.push((name, e.path()));
                }
            }
        }
        orphans.sort();
        for (name, path) in orphans {
            self.problem(
                format!("containers/{name}: a directory without a container record"),
                Ok(Fix::RemoveDir(path)),
            );
        }
        // Mounts under the root: only running containers' are expected.
        let root = self.store.root();
        let root = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let tmp = root.join("tmp");
        let live_scratch = tmp.join(self.store.scratch().dir().file_name().unwrap_or_default());
        for m in mounts::under(&mounts::read(), &root) {
            let mp = &m.mount_point;
            if mp == &root {
                continue;
            }
            let rel = mp.strip_prefix(&root).unwrap_or(mp);
            let mut parts = rel.components().map(|c| c.as_os_str().to_string_lossy());
            let expected = match (parts.next().as_deref(), parts.next()) {
                (Some("containers"), Some(id)) => self.opts.running.contains(id.as_ref()),
                (Some("tmp"), Some(owner)) => {
                    mp.starts_with(&live_scratch)
                        || (!owner.starts_with(scratch::TRASH_PREFIX)
                            && !scratch::leftovers(&tmp)?.iter().any(|l| mp.starts_with(l)))
                }
                _ => false,
            };
            if !expected {
                self.problem(
                    format!("{} ({}): left mounted", mp.display(), m.fs_type),
                    Ok(Fix::Detach(mp.clone())),
                );
            }
        }
        Ok(())
    }

    /// A snapshot is present when its directory is, or (packed, not yet
    /// unpacked) when a blob holding its layer is stored to unpack it from.
    fn snapshot_present(&self, s: &lq::SnapshotRow) -> Result<bool> {
        if self.store.snapshots().is_unpacked(s) {
            return Ok(true);
        }
        if !s.packed {
            return Ok(false);
        }
        let blobs = self.store.db().with(|c| lq::blobs_for(c, &s.diff_id))?;
        Ok(blobs.iter().any(|b| self.store.content().exists(&b.digest)))
    }

    fn build_cache(&mut self, snapshots: &[lq::SnapshotRow]) -> Result<()> {
        let unpacked: HashMap<&str, &lq::SnapshotRow> =
            snapshots.iter().map(|s| (s.chain_id.as_str(), s)).collect();
        let rows = self.store.db().with(|c| {
            let mut st = c.prepare(
                "SELECT key, config_digest, created, chain_id FROM build_cache ORDER BY key",
            )?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?;
        for (key, config, created, chain) in rows {
            let name = format!("build cache record {}", &key[..key.len().min(12)]);
            let fix = Ok(Fix::DeleteCacheRecord(key.clone()));
            match (&config, &created) {
                (Some(c), _) => {
                    let ok = Digest::parse(c).is_ok_and(|d| self.store.content().exists(&d));
                    if !ok {
                        self.problem(format!("{name}: its config {c} is missing"), fix.clone());
                        continue;
                    }
                }
                (None, None) => {
                    self.problem(
                        format!("{name}: it has neither a config nor a time"),
                        fix.clone(),
                    );
                    continue;
                }
                (None, Some(_)) => {}
            }
            if let Some(c) = &chain {
                match unpacked.get(c.as_str()) {
                    None => self.problem(format!("{name}: its layer {c} is not unpacked"), fix),
                    Some(s) if !self.snapshot_present(s)? => {
                        self.problem(format!("{name}: its layer {c} is missing on disk"), fix)
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    fn scratch(&mut self) -> Result<()> {
        for p in scratch::leftovers(&self.store.layout().tmp())? {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            self.problem(
                format!("tmp/{name}: scratch of a process that is gone, not deleted yet"),
                Ok(Fix::Sweep),
            );
        }
        Ok(())
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

fn all_layer_blobs(c: &rusqlite::Connection) -> Result<Vec<(String, String, u64)>> {
    let mut st =
        c.prepare("SELECT diff_id, blob_digest, size FROM layer_blobs ORDER BY diff_id")?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn hash_file(p: &Path) -> std::io::Result<(Digest, u64)> {
    let mut f = fs::File::open(p)?;
    let mut d = Digester::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        d.update(&buf[..n]);
    }
    let len = d.len();
    Ok((d.finish(), len))
}
