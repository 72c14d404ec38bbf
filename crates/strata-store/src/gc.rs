//! Garbage collection: remove blobs, layer records and snapshots that no
//! image, container or lease reaches.
//!
//! Roots: every image (its manifest, config, layers' chains and all blobs
//! recorded for its diffIDs), every image a container uses, every build
//! cache record (its config and its layer's chain), and every unexpired
//! lease. GC runs only while this process can take the root's
//! `gc.lock` exclusively, i.e. while no other strata command has the store
//! open; otherwise it is skipped and the garbage waits for the next run.
//! That is what makes "exists on disk" safe for every other process to rely
//! on: nothing is ever deleted under a live command.

use std::collections::HashSet;

use strata_oci::Digest;

use crate::Store;
use crate::db::images as iq;
use crate::db::layers as lq;
use crate::db::leases::{self, ResourceKind};
use crate::db::now_secs;
use crate::error::Result;
use crate::layout::{FileLock, LockMode};

/// What a GC run removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcStats {
    /// False when another process held the store and GC was skipped.
    pub ran: bool,
    /// Blobs deleted.
    pub blobs: usize,
    /// Snapshots deleted.
    pub snapshots: usize,
    /// Bytes freed (blob sizes + snapshot sizes).
    pub bytes: u64,
}

/// What the build cache holds on disk (`system df`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildCacheUsage {
    /// Records (one per step result).
    pub records: u64,
    /// Bytes only the build cache keeps alive: its records in the metadata
    /// DB, its config blobs, and the unpacked layers and layer blobs of
    /// chains no image uses.
    pub bytes: u64,
}

impl Store {
    /// The build cache's records and the bytes only it keeps alive.
    pub fn build_cache_usage(&self) -> Result<BuildCacheUsage> {
        let (records, row_bytes, configs, layers) = self.db().with(|c| {
            let (records, row_bytes): (i64, i64) = c.query_row(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(key) + COALESCE(LENGTH(parent_key), 0) \
                 + COALESCE(LENGTH(config_digest), 0) + COALESCE(LENGTH(created), 0) \
                 + COALESCE(LENGTH(diff_id), 0) + COALESCE(LENGTH(chain_id), 0) \
                 + COALESCE(LENGTH(blob_digest), 0) + LENGTH(description) + 16), 0) \
                 FROM build_cache",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let configs = c
                .prepare(
                    "SELECT DISTINCT config_digest FROM build_cache \
                     WHERE config_digest IS NOT NULL AND config_digest NOT IN (SELECT id FROM images)",
                )?
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let layers = c
                .prepare(
                    "SELECT DISTINCT b.blob_digest, s.size FROM build_cache b \
                     JOIN snapshots s ON s.chain_id = b.chain_id \
                     WHERE b.chain_id NOT IN (SELECT chain_id FROM image_layers)",
                )?
                .query_map([], |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((records, row_bytes, configs, layers))
        })?;
        let blob_size = |d: &str| {
            Digest::parse(d)
                .ok()
                .and_then(|d| self.content().size(&d).ok())
                .unwrap_or(0)
        };
        let mut bytes: u64 = u64::try_from(row_bytes).unwrap_or(0);
        bytes += configs.iter().map(|d| blob_size(d)).sum::<u64>();
        for (blob, unpacked) in layers {
            bytes += u64::try_from(unpacked).unwrap_or(0) + blob.as_deref().map_or(0, blob_size);
        }
        Ok(BuildCacheUsage {
            records: u64::try_from(records).unwrap_or(0),
            bytes,
        })
    }

    /// Collects garbage if no other process has the store open.
    pub fn gc(&self) -> Result<GcStats> {
        self.exclusively(|alone| {
            if alone {
                self.collect()
            } else {
                Ok(GcStats::default())
            }
        })?
    }

    /// Runs `f(alone)`: `alone` is true when this process holds the root's
    /// `gc.lock` exclusively for the call (no other strata command has the
    /// store open; container supervisors do not count). Never waits for the
    /// lock; this process's shared hold is restored afterwards.
    pub fn exclusively<T>(&self, f: impl FnOnce(bool) -> T) -> Result<T> {
        let mut guard = self.gc_guard.lock().unwrap_or_else(|e| e.into_inner());
        // Release our shared hold, try for exclusive, and always end up
        // holding the shared lock again.
        let had_guard = guard.take().is_some();
        let path = self.layout().gc_lock();
        let out = match FileLock::try_lock(&path, LockMode::Exclusive)? {
            Some(exclusive) => {
                let out = f(true);
                drop(exclusive);
                out
            }
            None => f(false),
        };
        if had_guard {
            *guard = Some(FileLock::lock(&path, LockMode::Shared)?);
        }
        Ok(out)
    }

    /// Deletes what no root reaches; the caller holds the GC lock.
    pub(crate) fn collect(&self) -> Result<GcStats> {
        let mut stats = GcStats {
            ran: true,
            ..GcStats::default()
        };
        let now = now_secs();
        let live = self.db().write(|tx| {
            leases::expire(tx, now)?;
            let live = roots(tx)?;
            // Blob records of dead layers go.
            let mut st = tx.prepare("SELECT diff_id, blob_digest FROM layer_blobs")?;
            let rows = st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            drop(st);
            for (diff, blob) in rows {
                if !live.diffs.contains(&diff) {
                    tx.execute(
                        "DELETE FROM layer_blobs WHERE diff_id = ?1 AND blob_digest = ?2",
                        rusqlite::params![diff, blob],
                    )?;
                }
            }
            Ok(live)
        })?;
        // Snapshots: rows no live chain reaches, then dirs without rows.
        let rows = self.db().with(lq::all_snapshots)?;
        let mut kept_ids = HashSet::new();
        for row in rows {
            if live.chains.contains(row.chain_id.as_str()) {
                kept_ids.insert(row.id);
                continue;
            }
            self.db().write(|tx| lq::delete_snapshot(tx, row.id))?;
            self.snapshots().remove_dir(row.id)?;
            stats.snapshots += 1;
            stats.bytes += row.size;
        }
        self.db()
            .write(|tx| crate::db::selection_memo::forget_unreachable(tx))?;
        for id in self.snapshots().dirs_on_disk()? {
            if !kept_ids.contains(&id) {
                self.snapshots().remove_dir(id)?;
            }
        }
        for d in self.content().list()? {
            if !live.blobs.contains(d.as_str()) {
                stats.bytes += self.content().size(&d).unwrap_or(0);
                self.content().delete(&d)?;
                stats.blobs += 1;
            }
        }
        Ok(stats)
    }
}

/// What GC keeps: every blob, chain and diffID some root reaches.
#[derive(Debug, Default)]
pub(crate) struct Roots {
    /// Blob digests.
    pub blobs: HashSet<String>,
    /// Chain IDs (snapshots), parents included.
    pub chains: HashSet<String>,
    /// diffIDs of live chains (their recorded blobs stay).
    pub diffs: HashSet<String>,
}

/// Computes the roots (read only; GC expires leases first).
pub(crate) fn roots(tx: &rusqlite::Connection) -> Result<Roots> {
    let mut blobs: HashSet<String> = HashSet::new();
    let mut chains: HashSet<String> = HashSet::new();
    let mut diffs: HashSet<String> = HashSet::new();
    for img in iq::list(tx)? {
        blobs.insert(img.id.to_string());
        blobs.insert(img.manifest_digest.to_string());
        for l in iq::layers(tx, &img.id)? {
            chains.insert(l.chain_id.to_string());
            diffs.insert(l.diff_id.to_string());
        }
    }
    for d in leases::pinned(tx, ResourceKind::Image)? {
        blobs.insert(d);
    }
    // Build cache records keep their config and their layer's chain.
    let mut st = tx.prepare("SELECT config_digest, chain_id, blob_digest FROM build_cache")?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    drop(st);
    let mut cache_chains = Vec::new();
    for (config, chain, blob) in rows {
        // Metadata steps in mid-stage store no config (schema v3).
        if let Some(c) = config {
            blobs.insert(c);
        }
        if let Some(b) = blob {
            blobs.insert(b);
        }
        if let Some(c) = chain {
            cache_chains.push(c);
        }
    }
    for d in leases::pinned(tx, ResourceKind::Blob)? {
        blobs.insert(d);
    }
    for c in leases::pinned(tx, ResourceKind::Snapshot)?
        .into_iter()
        .chain(cache_chains)
    {
        // A pinned chain keeps its parents too.
        let mut next = Some(c);
        while let Some(chain) = next.take() {
            let Ok(d) = Digest::parse(&chain) else { break };
            if let Some(row) = lq::snapshot(tx, &d)? {
                diffs.insert(row.diff_id.to_string());
                next = row.parent_chain_id.map(|p| p.to_string());
            }
            chains.insert(chain);
        }
    }
    // Every blob recorded for a live diffID stays.
    let mut st = tx.prepare("SELECT diff_id, blob_digest FROM layer_blobs")?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    drop(st);
    for (diff, blob) in rows {
        if diffs.contains(&diff) {
            blobs.insert(blob);
        }
    }
    Ok(Roots {
        blobs,
        chains,
        diffs,
    })
}
