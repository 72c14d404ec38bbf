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
//!
//! # Packed snapshots (unpacked on first use)
//!
//! `load` and `pull` only verify a layer and store its blob
//! ([`Snapshots::prepare_packed`]: the tar is scanned for its diffID and
//! size, nothing is written but the blob); the committed row says
//! `packed`, and `snapshots/<id>/` exists without `fs`. The one place that
//! hands out snapshot directories, [`Snapshots::lower_dirs`], unpacks what
//! is missing (the layers of one call in parallel) before it returns:
//!
//! ```text
//! flock snapshots/<id>/ (exclusive; another process unpacking it waits here)
//!   fs/ exists? done (someone else finished it)
//!   apply the blob into tmp/<owner>/snap-…/fs, check its diffID, syncfs
//!   rename it to snapshots/<id>/fs, fsync snapshots/<id>/
//! ```
//! `fs` appears only by that rename, after the data is durable, so a
//! half-unpacked snapshot is never seen: a process killed mid-unpack leaves
//! only its scratch directory (swept by the next process that opens the
//! store) and the next use unpacks again. The row never changes, so there
//! is no DB write on the way. Paths that only *name* a snapshot's
//! directory (inspect's `GraphDriver`) use [`Snapshots::dir_names`] and do
//! not unpack.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_oci::Digest;

use crate::content::ContentStore;
use crate::db::layers::{self as q, SnapshotRow};
use crate::db::{Db, now_secs};
use crate::error::{IoContext, Result, StoreError};
use crate::layer::{self, ApplyMode, ApplyOptions};
use crate::layout::{FileLock, Scratch, remove_tree, sync_dir};

/// The snapshots of one root.
#[derive(Debug, Clone)]
pub struct Snapshots {
    dir: PathBuf,
    db: Arc<Db>,
    scratch: Arc<Scratch>,
    content: ContentStore,
}

/// A snapshot being filled: write into [`Prepared::fs`].
#[derive(Debug)]
pub struct Prepared {
    holder: PathBuf,
    fs: PathBuf,
    /// Nothing is written: the layer is unpacked from its blob on first use.
    packed: bool,
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

    /// The file `name` beside its tree, committed with it (see
    /// [`Snapshots::sidecar`]).
    pub fn sidecar(&self, name: &str) -> PathBuf {
        self.holder.join(name)
    }
}

impl Snapshots {
    /// The snapshotter over `dir` (`snapshots/`); packed snapshots are
    /// unpacked from the layer blobs in `content`.
    pub fn new(dir: PathBuf, db: Arc<Db>, scratch: Arc<Scratch>, content: ContentStore) -> Self {
        Snapshots {
            dir,
            db,
            scratch,
            content,
        }
    }

    /// `snapshots/<id>/fs`.
    pub fn fs_path(&self, id: i64) -> PathBuf {
        self.dir.join(id.to_string()).join("fs")
    }

    /// The file `name` kept beside snapshot `id`'s tree (`snapshots/<id>/
    /// <name>`): a hint about the tree, removed with the snapshot.
    pub fn sidecar(&self, id: i64, name: &str) -> PathBuf {
        self.dir.join(id.to_string()).join(name)
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
        Ok(Prepared {
            holder,
            fs: fs_dir,
            packed: false,
        })
    }

    /// A snapshot that will be committed packed: its layer stays in its
    /// blob until [`Snapshots::lower_dirs`] first needs it.
    pub fn prepare_packed(&self) -> Result<Prepared> {
        let holder = self.scratch.new_dir("snap")?;
        let fs_dir = holder.join("fs");
        Ok(Prepared {
            holder,
            fs: fs_dir,
            packed: true,
        })
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
        Ok(Prepared {
            holder,
            fs: fs_dir,
            packed: false,
        })
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
        let packed = prepared.packed;
        if !packed {
            syncfs(&prepared.fs)?;
        }
        let dir = self.dir.clone();
        let result = self.db.write(|tx| {
            if let Some(existing) = q::snapshot(tx, chain_id)? {
                return Ok((existing, false));
            }
            let id = q::insert_snapshot(tx, chain_id, parent, diff_id, size, packed, now_secs())?;
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
                    packed,
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
    /// Every chain must have a committed snapshot; packed ones are unpacked
    /// first (in parallel), so every returned directory is complete.
    pub fn lower_dirs(&self, chain_ids: &[Digest]) -> Result<Vec<PathBuf>> {
        let rows = self.rows(chain_ids)?;
        let todo: Vec<&SnapshotRow> = rows
            .iter()
            .filter(|r| r.packed && !self.is_unpacked(r))
            .collect();
        self.unpack_all(&todo)?;
        Ok(rows.iter().map(|r| self.fs_path(r.id)).collect())
    }

    /// The same directories as [`Snapshots::lower_dirs`], only named: a
    /// packed snapshot's may not exist yet (for display, e.g. inspect's
    /// `GraphDriver`).
    pub fn dir_names(&self, chain_ids: &[Digest]) -> Result<Vec<PathBuf>> {
        Ok(self
            .rows(chain_ids)?
            .iter()
            .map(|r| self.fs_path(r.id))
            .collect())
    }

    fn rows(&self, chain_ids: &[Digest]) -> Result<Vec<SnapshotRow>> {
        let mut rows = Vec::with_capacity(chain_ids.len());
        for chain in chain_ids.iter().rev() {
            let row = self.get(chain)?.ok_or_else(|| {
                StoreError::Invalid(format!("layer chain {chain} is not unpacked in this store"))
            })?;
            rows.push(row);
        }
        Ok(rows)
    }

    /// True when the snapshot's `fs` directory exists (always, for one that
    /// is not packed).
    pub fn is_unpacked(&self, row: &SnapshotRow) -> bool {
        self.fs_path(row.id).is_dir()
    }

    /// Unpacks packed snapshots, several at once (inode creation scales
    /// with cores).
    fn unpack_all(&self, rows: &[&SnapshotRow]) -> Result<()> {
        match rows {
            [] => return Ok(()),
            [one] => return self.unpack(one),
            _ => {}
        }
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get().min(4))
            .min(rows.len());
        let queue = std::sync::Mutex::new(rows.iter());
        let first_err = std::sync::Mutex::new(None);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    loop {
                        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                        let Some(row) = next else { break };
                        if let Err(e) = self.unpack(row) {
                            first_err
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get_or_insert(e);
                        }
                    }
                });
            }
        });
        match first_err.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Unpacks one packed snapshot from its layer's blob (see the module
    /// doc: under the snapshot's lock, into scratch, then renamed).
    pub fn unpack(&self, row: &SnapshotRow) -> Result<()> {
        let holder = self.dir.join(row.id.to_string());
        let fs_dir = holder.join("fs");
        fs::create_dir_all(&holder).ctx("create directory", &holder)?;
        let _lock = FileLock::lock_dir(&holder)?;
        if fs_dir.is_dir() {
            return Ok(());
        }
        let t = std::time::Instant::now();
        let blobs = self.db.with(|c| q::blobs_for(c, &row.diff_id))?;
        let blob = blobs
            .iter()
            .find(|b| self.content.exists(&b.digest))
            .ok_or_else(|| {
                StoreError::Invalid(format!(
                    "layer {} (snapshot {}) is not unpacked and no blob holding it is stored; remove the image and pull or load it again",
                    row.diff_id, row.id
                ))
            })?;
        let prepared = self.prepare()?;
        let applied = (|| -> Result<layer::Applied> {
            // A layer error names the entry; say which layer it is in.
            let in_layer = |e: layer::LayerError| {
                StoreError::Invalid(format!(
                    "unpacking layer {} (blob {}): {e}",
                    row.diff_id, blob.digest
                ))
            };
            let tar = layer::decompress_sniffed(self.content.open(&blob.digest)?)
                .map_err(in_layer)?
                .1;
            layer::apply_layer(tar, prepared.fs(), &ApplyOptions::new(ApplyMode::Snapshot))
                .map_err(in_layer)
        })();
        let applied = match applied {
            Ok(a) => a,
            Err(e) => {
                prepared.abort();
                return Err(e);
            }
        };
        if applied.diff_id != row.diff_id {
            prepared.abort();
            return Err(StoreError::DigestMismatch {
                what: "layer diffID",
                expected: row.diff_id.clone(),
                detail: format!(
                    "stored blob {} unpacks to {} (the store is corrupt)",
                    blob.digest, applied.diff_id
                ),
            });
        }
        let done = syncfs(prepared.fs())
            .and_then(|()| {
                fs::rename(prepared.fs(), &fs_dir).ctx("rename snapshot into place", &fs_dir)
            })
            .and_then(|()| sync_dir(&holder));
        prepared.abort();
        done?;
        tracing::debug!(
            "snapshot {} ({}): unpacked {} entries in {:?}",
            row.id,
            row.diff_id,
            applied.entries,
            t.elapsed()
        );
        Ok(())
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
