//! The build cache: one row of the store's `build_cache` table per step
//! result (schema v2, drawn in `strata_store::db::schema`).
//!
//! ```text
//! build_cache
//!   key           PK  the step's cache key (see [`crate::key`])
//!   parent_key        the previous step's key, or the stage's base key
//!   config_digest     the image config after the step (a blob: the whole
//!                     config, history and rootfs included)
//!   diff_id           the layer the step made (NULL for metadata steps)
//!   chain_id          that layer's chain ID (its snapshot)
//!   blob_digest       that layer's blob (uncompressed tar)
//!   created_at, last_used   seconds since the epoch
//!   description       JSON: {"step": "[2/3] COPY app.js .", "inputs": [[label, value], …],
//!                            "sources": "<base64 of fileops' SelectionSummary>",
//!                            "lineage": {"<step lineage>": <ns when last used there>, …}}
//! ```
//! The lineages say which step of which Dockerfile the record last served
//! (see [`crate::explain`]); at most [`MAX_LINEAGES`], the oldest dropped.
//! A record is a *hit* only when what it names is still there: its config
//! blob and, for a layer step, its snapshot. Records are GC roots (their
//! config, blob and chain survive `image rm` and GC). `--no-cache` skips
//! lookups but still records results.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use strata_oci::Digest;
use strata_store::Store;
use strata_store::db::now_secs;

use crate::key::KeyInputs;

/// One stored step result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The step's key.
    pub key: String,
    /// The previous step's key (or the base key).
    pub parent_key: Option<String>,
    /// The image config after the step.
    pub config_digest: Digest,
    /// The layer the step made.
    pub layer: Option<RecordLayer>,
    /// What the step was and its key inputs (JSON, see the module doc).
    pub description: String,
}

/// The layer of a [`Record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordLayer {
    /// diffID.
    pub diff_id: Digest,
    /// Chain ID (the snapshot).
    pub chain_id: Digest,
    /// The blob.
    pub blob_digest: Digest,
}

/// The `description` column.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Description {
    /// The step as shown in progress (`[2/3] COPY app.js .`).
    pub step: String,
    /// The key inputs.
    pub inputs: KeyInputs,
    /// COPY/ADD: base64 of the selection summary, for `--explain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<String>,
    /// The step lineages ([`crate::explain::step_lineage`]) this record
    /// served, each with when it last did (nanoseconds since the epoch).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lineage: BTreeMap<String, u128>,
}

/// How many lineages a record remembers.
pub const MAX_LINEAGES: usize = 8;

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

impl Description {
    /// Serialises to the column's JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses the column (`None` for rows written by something else).
    pub fn parse(s: &str) -> Option<Description> {
        serde_json::from_str(s).ok()
    }

    /// Attaches a selection summary's binary form.
    pub fn set_sources(&mut self, summary: &[u8]) {
        self.sources = Some(B64.encode(summary));
    }

    /// The selection summary's binary form.
    pub fn sources_bytes(&self) -> Option<Vec<u8>> {
        B64.decode(self.sources.as_deref()?).ok()
    }

    /// Records that this result served `lineage` now (keeping the
    /// [`MAX_LINEAGES`] most recent).
    pub fn served(&mut self, lineage: &str) {
        self.lineage.insert(lineage.to_string(), now_nanos());
        while self.lineage.len() > MAX_LINEAGES {
            let oldest = self
                .lineage
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.lineage.remove(&k),
                None => break,
            };
        }
    }
}

fn parse_digest(s: Option<String>) -> Option<Digest> {
    s.and_then(|s| Digest::parse(&s).ok())
}

/// Looks up `keys` in one query. Returns the valid hits: records whose
/// config blob exists and whose layer snapshot (if any) is unpacked.
pub fn lookup(store: &Store, keys: &[&str]) -> strata_store::Result<HashMap<String, Record>> {
    let mut out = HashMap::new();
    if keys.is_empty() {
        return Ok(out);
    }
    let rows = store.db().with(|c| {
        let mut rows = Vec::new();
        // SQLite's default limit on host parameters is far above a
        // Dockerfile's step count, but stay well below it anyway.
        for chunk in keys.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT b.key, b.parent_key, b.config_digest, b.diff_id, b.chain_id, b.blob_digest, \
                 b.chain_id IS NULL OR EXISTS (SELECT 1 FROM snapshots s WHERE s.chain_id = b.chain_id) \
                 FROM build_cache b WHERE b.key IN ({marks})"
            );
            let mut st = c.prepare_cached(&sql)?;
            let found = st
                .query_map(rusqlite::params_from_iter(chunk.iter()), |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, bool>(6)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.extend(found);
        }
        Ok(rows)
    })?;
    for (key, parent, config, diff, chain, blob, snapshot_ok) in rows {
        let Ok(config_digest) = Digest::parse(&config) else {
            continue;
        };
        if !snapshot_ok || !store.content().exists(&config_digest) {
            continue;
        }
        let layer = match (parse_digest(diff), parse_digest(chain), parse_digest(blob)) {
            (Some(diff_id), Some(chain_id), Some(blob_digest)) => Some(RecordLayer {
                diff_id,
                chain_id,
                blob_digest,
            }),
            (None, None, None) => None,
            _ => continue,
        };
        out.insert(
            key.clone(),
            Record {
                key,
                parent_key: parent,
                config_digest,
                layer,
                description: String::new(),
            },
        );
    }
    Ok(out)
}

/// Stores (or replaces) a record.
pub fn insert(store: &Store, r: &Record) -> strata_store::Result<()> {
    let now = now_secs();
    store.db().write(|tx| {
        tx.execute(
            "INSERT OR REPLACE INTO build_cache (key, parent_key, config_digest, diff_id, chain_id, \
             blob_digest, created_at, last_used, description) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)",
            params![
                r.key,
                r.parent_key,
                r.config_digest.as_str(),
                r.layer.as_ref().map(|l| l.diff_id.as_str()),
                r.layer.as_ref().map(|l| l.chain_id.as_str()),
                r.layer.as_ref().map(|l| l.blob_digest.as_str()),
                now,
                r.description,
            ],
        )?;
        Ok(())
    })
}

/// Marks the records of `used` (`(key, step lineage)`) used now, and
/// notes the lineage each served (inside the caller's transaction).
pub fn touch(tx: &rusqlite::Connection, used: &[(&str, String)]) -> strata_store::Result<()> {
    let now = now_secs();
    let mut get = tx.prepare_cached("SELECT description FROM build_cache WHERE key = ?1")?;
    let mut set = tx.prepare_cached(
        "UPDATE build_cache SET last_used = ?1, description = coalesce(?2, description) WHERE key = ?3",
    )?;
    for (key, lineage) in used {
        let desc: Option<String> = get.query_row([key], |r| r.get(0)).optional()?;
        let desc = desc.as_deref().and_then(Description::parse).map(|mut d| {
            d.served(lineage);
            d.to_json()
        });
        set.execute(params![now, desc, key])?;
    }
    Ok(())
}

/// The record that last served step lineage `lineage` (the step as last
/// built or reused by the same Dockerfile): its parent key and description.
pub fn last_built(
    store: &Store,
    lineage: &str,
) -> strata_store::Result<Option<(Option<String>, Description)>> {
    store.db().with(|c| {
        // A cheap text filter first; the JSON decides.
        let mut st = c.prepare_cached(
            "SELECT parent_key, description FROM build_cache WHERE instr(description, ?1) > 0",
        )?;
        let rows = st
            .query_map([format!("\"{lineage}\"")], |r| {
                Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(p, d)| {
                let d = Description::parse(&d)?;
                let t = *d.lineage.get(lineage)?;
                Some((t, p, d))
            })
            .max_by_key(|(t, _, _)| *t)
            .map(|(_, p, d)| (p, d)))
    })
}

/// Every record reachable from `keys` (for `--cache-to`): the records
/// themselves; the caller adds config bytes and layer blobs.
pub fn records(store: &Store, keys: &[&str]) -> strata_store::Result<Vec<Record>> {
    let mut out = Vec::new();
    store.db().with(|c| {
        let mut st = c.prepare_cached(
            "SELECT key, parent_key, config_digest, diff_id, chain_id, blob_digest, description \
             FROM build_cache WHERE key = ?1",
        )?;
        for k in keys {
            let row = st
                .query_row([k], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, String>(6)?,
                    ))
                })
                .optional()?;
            let Some((key, parent_key, config, diff, chain, blob, description)) = row else {
                continue;
            };
            let Ok(config_digest) = Digest::parse(&config) else {
                continue;
            };
            let layer = match (parse_digest(diff), parse_digest(chain), parse_digest(blob)) {
                (Some(diff_id), Some(chain_id), Some(blob_digest)) => Some(RecordLayer {
                    diff_id,
                    chain_id,
                    blob_digest,
                }),
                _ => None,
            };
            out.push(Record {
                key,
                parent_key,
                config_digest,
                layer,
                description,
            });
        }
        Ok(())
    })?;
    Ok(out)
}

/// Deletes every build cache record (`builder prune`); returns how many.
/// The layers and configs only they kept alive go at the next GC.
pub fn prune(store: &Store) -> strata_store::Result<usize> {
    store
        .db()
        .write(|tx| Ok(tx.execute("DELETE FROM build_cache", [])?))
}
