//! The snapshotter: unpacked layers on disk, one directory per chain ID.
//!
//! Terms (containerd's overlay snapshotter): a *committed* snapshot is an
//! immutable directory `snapshots/<id>/fs` holding exactly one layer's
//! changes (whiteouts as overlay char 0/0 devices and opaque xattrs), keyed
//! by the chain ID it completes; its *parent* is the chain below. Mounting
//! a chain = overlay with the chain's snapshot dirs as lowerdirs, topmost
//! first ([`Snapshots::lower_dirs`]). An *active* snapshot is a directory
//! being filled in this process's scratch space ([`Snapshots::prepare`]);
//! nobody else can see it until [`Snapshots::commit`] renames it into place
//! and records it, in one DB transaction.
//!
//! Importing a layer: `prepare()` → apply the layer tar into the returned
//! dir (`layer::apply_layer`, snapshot mode) → `commit(chain, parent,
//! diff_id, size)`. If another process committed the same chain first, our
//! copy is discarded and theirs is returned. Ids are short integers so the
//! overlay mount option string stays well under the page-size limit even
//! for images with a hundred layers.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_oci::Digest;

use crate::db::layers::{self as q, SnapshotRow};
use crate::db::{Db, now_secs};
use crate::error::{IoContext, Result, StoreError};
use crate::layout::{Scratch, remove_tree, sync_dir};

/// The snapshots of one root.
#[derive(Debug, Clone)]
pub struct Snapshots {
    dir: PathBuf,
    db: Arc<Db>,
    scratch: Arc<Scratch>,
}

/// A snapshot being filled: write into [`Prepared::fs`].
#[derive(Debug)]
pub struct Prepared {
    holder: PathBuf,
    fs: PathBuf,
}

impl Prepared {
    /// The directory to fill.
    pub fn fs(&self) -> &Path {
        &self.fs
    }

    /// Discards it.
    pub fn abort(self) {
        let _ = remove_tree(&self.holder);
    }
}

impl Snapshots {
    /// The snapshotter over `dir` (`snapshots/`).
    pub fn new(dir: PathBuf, db: Arc<Db>, scratch: Arc<Scratch>) -> Self {
        Snapshots { dir, db, scratch }
    }

    /// `snapshots/<id>/fs`.
    pub fn fs_path(&self, id: i64) -> PathBuf {
        self.dir.join(id.to_string()).join("fs")
    }

    /// The committed snapshot completing `chain_id`.
    pub fn get(&self, chain_id: &Digest) -> Result<Option<SnapshotRow>> {
        self.db.with(|c| q::snapshot(c, chain_id))
    }

    /// A fresh, empty active snapshot.
    pub fn prepare(&self) -> Result<Prepared> {
        let holder = self.scratch.new_dir("snap")?;
        let fs_dir = holder.join("fs");
        fs::create_dir(&fs_dir).ctx("create directory", &fs_dir)?;
        Ok(Prepared { holder, fs: fs_dir })
    }

    /// Turns an existing directory (on the store's filesystem, already in
    /// overlay form, e.g. a build step's upperdir) into an active snapshot
    /// by moving it, without copying.
    pub fn adopt(&self, dir: &Path) -> Result<Prepared> {
        let holder = self.scratch.new_dir("snap")?;
        let fs_dir = holder.join("fs");
        if let Err(e) = fs::rename(dir, &fs_dir) {
            let _ = remove_tree(&holder);
            return Err(e).ctx("move directory into a snapshot", dir);
        }
        Ok(Prepared { holder, fs: fs_dir })
    }

    /// Makes an active snapshot durable and visible as `chain_id`.
    pub fn commit(
        &self,
        prepared: Prepared,
        chain_id: &Digest,
        parent: Option<&Digest>,
        diff_id: &Digest,
        size: u64,
    ) -> Result<SnapshotRow> {
        syncfs(&prepared.fs)?;
        let dir = self.dir.clone();
        let result = self.db.write(|tx| {
            if let Some(existing) = q::snapshot(tx, chain_id)? {
                return Ok((existing, false));
            }
            let id = q::insert_snapshot(tx, chain_id, parent, diff_id, size, now_secs())?;
            let dest = dir.join(id.to_string());
            if dest.exists() {
                // Left by a crash between rename and commit; ids are never reused.
                remove_tree(&dest).ctx("remove stale snapshot", &dest)?;
            }
            fs::rename(&prepared.holder, &dest).ctx("rename snapshot into place", &dest)?;
            Ok((
                SnapshotRow {
                    id,
                    chain_id: chain_id.clone(),
                    parent_chain_id: parent.cloned(),
                    diff_id: diff_id.clone(),
                    size,
                },
                true,
            ))
        });
        match result {
            Ok((row, true)) => {
                sync_dir(&self.dir)?;
                Ok(row)
            }
            Ok((row, false)) => {
                prepared.abort();
                Ok(row)
            }
            Err(e) => {
                prepared.abort();
                Err(e)
            }
        }
    }

    /// The lowerdirs for an overlay of `chain_ids` (bottom first, as in an
    /// image's config), returned topmost first as overlayfs wants them.
    /// Every chain must have a committed snapshot.
    pub fn lower_dirs(&self, chain_ids: &[Digest]) -> Result<Vec<PathBuf>> {
        let mut out = Vec::with_capacity(chain_ids.len());
        for chain in chain_ids.iter().rev() {
            let row = self.get(chain)?.ok_or_else(|| {
                StoreError::Invalid(format!("layer chain {chain} is not unpacked in this store"))
            })?;
            out.push(self.fs_path(row.id));
        }
        Ok(out)
    }

    /// Removes a snapshot's directory (after its row is gone).
    pub fn remove_dir(&self, id: i64) -> Result<()> {
        let d = self.dir.join(id.to_string());
        remove_tree(&d).ctx("remove snapshot", d)
    }

    /// Snapshot directory numbers present on disk.
    pub fn dirs_on_disk(&self) -> Result<Vec<i64>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.dir)
            .ctx("read directory", &self.dir)?
            .flatten()
        {
            if let Some(id) = e.file_name().to_str().and_then(|s| s.parse().ok()) {
                out.push(id);
            }
        }
        Ok(out)
    }
}

/// Flushes the filesystem holding `path` (one syscall for a whole unpacked
/// layer, instead of an fsync per file).
fn syncfs(path: &Path) -> Result<()> {
    use std::os::fd::AsRawFd;
    let f = fs::File::open(path).ctx("open", path)?;
    // SAFETY: syncfs on a valid descriptor we own.
    let rc = unsafe { libc::syncfs(f.as_raw_fd()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).ctx("syncfs", path);
    }
    Ok(())
}
