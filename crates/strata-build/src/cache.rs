//! The build cache: one row of the store's `build_cache` table per step
//! result (schema v2, drawn in `strata_store::db::schema`; its queries are
//! the store's `db::build_cache`, this module owns what the rows mean).
//!
//! ```text
//! build_cache
//!   key           PK  the step's cache key (see [`crate::key`])
//!   parent_key        the previous step's key, or the stage's base key
//!   config_digest     the image config after the step (a blob: the whole
//!                     config, history and rootfs included) — only for steps
//!                     that make a layer and a stage's first and last steps;
//!                     NULL for a metadata step in between (see below)
//!   created           the step's history time (RFC 3339), for the replay
//!   diff_id           the layer the step made (NULL for metadata steps)
//!   chain_id          that layer's chain ID (its snapshot)
//!   blob_digest       that layer's blob (uncompressed tar)
//!   created_at, last_used   seconds since the epoch
//!   description       JSON: {"step": "[2/3] COPY app.js .", "inputs": [[label, value], …],
//!                            "lineage": {"<step lineage>": <ns when last used there>, …}}
//! build_cache_sources (v12)
//!   key           PK  a COPY/ADD record's key
//!   summary           base64 of fileops' SelectionSummary (for `--explain`; kept
//!                     apart so that marking a record used never reads it)
//! ```
//! The lineages say which step of which Dockerfile the record last served
//! (see [`crate::explain`]); at most [`MAX_LINEAGES`], the oldest dropped.
//!
//! A metadata step (ENV, LABEL, CMD, …) in the middle of a stage stores no
//! config: storing one per step made a Dockerfile of n LABELs write n
//! configs of up to n labels (1.1 GB for 4,000 ENV lines). Its config is
//! *replayed*: the nearest earlier step of the stage that stored one, then
//! the metadata steps after it applied again with their recorded history
//! times — the same instruction on the same config at the same time gives
//! the same bytes (see `executor::config_after`).
//!
//! A record is a *hit* only when what it names is still there: its config
//! blob (if it has one) and, for a layer step, its snapshot. Records are GC roots (their
//! config, blob and chain survive `image rm` and GC). `--no-cache` skips
//! lookups but still records results.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use strata_oci::Digest;
use strata_store::Store;
use strata_store::db::build_cache as bc;
use strata_store::db::now_secs;

use crate::key::KeyInputs;

/// One stored step result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The step's key.
    pub key: String,
    /// The previous step's key (or the base key).
    pub parent_key: Option<String>,
    /// The image config after the step (`None`: replayed, see the module docs).
    pub config_digest: Option<Digest>,
    /// The step's history time, for replaying a metadata step.
    pub created: Option<String>,
    /// The layer the step made.
    pub layer: Option<RecordLayer>,
    /// What the step was and its key inputs (JSON, see the module doc).
    pub description: String,
    /// COPY/ADD: [`Description::sources`].
    pub sources: Option<String>,
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
    /// COPY/ADD: base64 of the selection summary, for `--explain` (stored
    /// in `build_cache_sources`, not in the JSON).
    #[serde(skip)]
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
    let rows = store.db().with(|c| bc::lookup(c, keys))?;
    for bc::Found { row, snapshot_ok } in rows {
        let config_digest = match row.config_digest {
            Some(c) => match Digest::parse(&c) {
                Ok(d) if store.content().exists(&d) => Some(d),
                _ => continue,
            },
            // A replayed record needs its history time.
            None if row.created.is_some() => None,
            None => continue,
        };
        if !snapshot_ok {
            continue;
        }
        let layer = match (
            parse_digest(row.diff_id),
            parse_digest(row.chain_id),
            parse_digest(row.blob_digest),
        ) {
            (Some(diff_id), Some(chain_id), Some(blob_digest)) => Some(RecordLayer {
                diff_id,
                chain_id,
                blob_digest,
            }),
            (None, None, None) => None,
            _ => continue,
        };
        out.insert(
            row.key.clone(),
            Record {
                key: row.key,
                parent_key: row.parent_key,
                config_digest,
                created: row.created,
                layer,
                description: String::new(),
                sources: None,
            },
        );
    }
    Ok(out)
}

/// Stores (or replaces) a record.
pub fn insert(store: &Store, r: &Record) -> strata_store::Result<()> {
    insert_all(store, std::slice::from_ref(r))
}

/// Stores (or replaces) records, in order, in one transaction.
pub fn insert_all(store: &Store, records: &[Record]) -> strata_store::Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let rows: Vec<bc::CacheRow> = records
        .iter()
        .map(|r| bc::CacheRow {
            key: r.key.clone(),
            parent_key: r.parent_key.clone(),
            config_digest: r.config_digest.as_ref().map(Digest::to_string),
            created: r.created.clone(),
            diff_id: r.layer.as_ref().map(|l| l.diff_id.to_string()),
            chain_id: r.layer.as_ref().map(|l| l.chain_id.to_string()),
            blob_digest: r.layer.as_ref().map(|l| l.blob_digest.to_string()),
            description: r.description.clone(),
            sources: r.sources.clone(),
        })
        .collect();
    let now = now_secs();
    store.db().write(|tx| bc::put_all(tx, &rows, now))
}

/// The `description` of a record that served step lineage `lineage` now
/// (`None` for a description written by something else): what
/// `strata_store::db::build_cache::touch` stores when a build uses it.
pub fn served_description(description: &str, lineage: &str) -> Option<String> {
    Description::parse(description).map(|mut d| {
        d.served(lineage);
        d.to_json()
    })
}

/// The record that last served step lineage `lineage` (the step as last
/// built or reused by the same Dockerfile): its parent key and description.
pub fn last_built(
    store: &Store,
    lineage: &str,
) -> strata_store::Result<Option<(Option<String>, Description)>> {
    // A cheap text filter first; the JSON decides.
    let rows = store
        .db()
        .with(|c| bc::describing(c, &format!("\"{lineage}\"")))?;
    Ok(rows
        .into_iter()
        .filter_map(|(p, d, sources)| {
            let mut d = Description::parse(&d)?;
            d.sources = sources;
            let t = *d.lineage.get(lineage)?;
            Some((t, p, d))
        })
        .max_by_key(|(t, _, _)| *t)
        .map(|(_, p, d)| (p, d)))
}

/// The layers (chain IDs) of the records that served step lineage
/// `lineage`, the most recently used first (at most `limit`): where a
/// re-run COPY finds the files it may reuse (`fileops::Reuse`).
pub fn recent_layers(
    store: &Store,
    lineage: &str,
    limit: usize,
) -> strata_store::Result<Vec<Digest>> {
    let rows = store
        .db()
        .with(|c| bc::chains_describing(c, &format!("\"{lineage}\""), limit))?;
    Ok(rows.iter().filter_map(|c| Digest::parse(c).ok()).collect())
}

/// Every record reachable from `keys` (for `--cache-to`): the records
/// themselves; the caller adds config bytes and layer blobs.
pub fn records(store: &Store, keys: &[&str]) -> strata_store::Result<Vec<Record>> {
    let mut out = Vec::new();
    store.db().with(|c| {
        for k in keys {
            let Some(row) = bc::get(c, k)? else {
                continue;
            };
            let config_digest = match row.config_digest.map(|c| Digest::parse(&c)) {
                Some(Ok(d)) => Some(d),
                Some(Err(_)) => continue,
                None => None,
            };
            let layer = match (
                parse_digest(row.diff_id),
                parse_digest(row.chain_id),
                parse_digest(row.blob_digest),
            ) {
                (Some(diff_id), Some(chain_id), Some(blob_digest)) => Some(RecordLayer {
                    diff_id,
                    chain_id,
                    blob_digest,
                }),
                _ => None,
            };
            out.push(Record {
                key: row.key,
                parent_key: row.parent_key,
                config_digest,
                created: row.created,
                layer,
                description: row.description,
                sources: row.sources,
            });
        }
        Ok(())
    })?;
    Ok(out)
}

/// A record as `system df` lists it (docker's build cache rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The step's key.
    pub key: String,
    /// The previous step's record, when it is one (a stage's first step
    /// has the base's key, which names no record).
    pub parent: Option<String>,
    /// The step as shown in progress (`[2/3] COPY app.js .`).
    pub step: String,
    /// Whether the step made a layer (else it is a metadata step).
    pub layer: bool,
    /// The layer's unpacked bytes.
    pub size: u64,
    /// An image uses the layer too.
    pub shared: bool,
    /// Seconds since the epoch.
    pub created_at: i64,
    /// Seconds since the epoch.
    pub last_used: i64,
    /// How many step lineages (a step of a Dockerfile, see
    /// [`crate::explain`]) it served, at least 1: strata keeps no count of
    /// uses, and at most [`MAX_LINEAGES`] lineages.
    pub lineages: usize,
}

/// Every record, oldest first.
pub fn entries(store: &Store) -> strata_store::Result<Vec<Entry>> {
    let rows = store.db().with(bc::usage_rows)?;
    let keys: std::collections::HashSet<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    Ok(rows
        .iter()
        .map(|r| {
            let d = Description::parse(&r.description).unwrap_or_default();
            Entry {
                key: r.key.clone(),
                parent: r.parent_key.clone().filter(|p| keys.contains(p.as_str())),
                step: d.step,
                layer: r.chain_id.is_some(),
                size: u64::try_from(r.size).unwrap_or(0),
                shared: r.shared,
                created_at: r.created_at,
                last_used: r.last_used,
                lineages: d.lineage.len().max(1),
            }
        })
        .collect())
}

/// Deletes every build cache record (`builder prune`); returns their
/// keys. The layers and configs only they kept alive go at the next GC.
pub fn prune(store: &Store) -> strata_store::Result<Vec<String>> {
    store.db().write(|tx| bc::delete_all(tx))
}
