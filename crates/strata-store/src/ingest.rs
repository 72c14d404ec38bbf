//! Ingesting layers: one streaming pass that stores the blob, verifies its
//! digest, decompresses it, hashes the tar (diffID) and unpacks it into a
//! new snapshot. Used by `image load`, `image import` and `image pull`.
//!
//! ```text
//! reader ──tee──> BlobWriter (scratch file, sha256 of the compressed bytes)
//!          └────> decompress ──> layer::apply_layer (sha256 = diffID) ──> scratch snapshot dir
//! ```
//! Ingestion has two phases. [`Store::stage_layer`] does all the work in
//! this process's scratch space and verifies every digest; nothing is
//! visible yet. [`StagedLayer::commit`] then renames the blob and the
//! snapshot into place and records them. A caller ingesting a whole image
//! stages every layer first and commits only when all of them (and the
//! manifest and config) check out, so a bad archive leaves the store
//! exactly as it was. Snapshots are independent directories, so layers can
//! be staged in any order — even before their parents are known.
//!
//! With [`LayerSource::lazy`] (`load`, `pull`) the tar is only scanned
//! (`layer::scan_layer`: same diffID, size and stream checks, nothing
//! written but the blob) and the snapshot is committed packed, to be
//! unpacked from the blob when first needed ([`crate::snapshots`]).

use std::io::{self, Read, Write};

use strata_oci::media::LayerCompression;
use strata_oci::{Digest, Digester, chain_id};

use crate::Store;
use crate::content::FinishedBlob;
use crate::db::layers::{self as lq, LayerBlob, SnapshotRow};
use crate::error::{IoContext, Result, StoreError};
use crate::layer::{self, ApplyMode, ApplyOptions};
use crate::snapshots::Prepared;

/// A layer blob to ingest.
#[derive(Debug, Clone, Default)]
pub struct LayerSource {
    /// The blob's media type (stored with it).
    pub media_type: String,
    /// The digest the blob must have, if known (registry, OCI layout).
    pub blob_digest: Option<Digest>,
    /// The size the blob must have, if known.
    pub blob_size: Option<u64>,
    /// The diffID the uncompressed tar must have, if known (image config).
    pub diff_id: Option<Digest>,
    /// Compression; `None` means sniff it from the first bytes.
    pub compression: Option<LayerCompression>,
    /// Keep the blob in the content store (false when only the snapshot is
    /// wanted).
    pub keep_blob: bool,
    /// Only scan the layer (diffID, size, stream checks) and commit its
    /// snapshot packed: it is unpacked from the kept blob on first use
    /// (see [`crate::snapshots`]). Ignored without `keep_blob`.
    pub lazy: bool,
}

impl LayerSource {
    fn describe(&self) -> String {
        match &self.blob_digest {
            Some(d) => format!("layer {d}"),
            None => "layer".to_string(),
        }
    }
}

/// Whether `load` and `pull` keep layers packed until first use: yes,
/// unless `STRATA_UNPACK=eager` (unpack while ingesting, as before schema
/// v10; for comparisons and benchmarks). See docs/performance.md.
pub fn lazy_by_default() -> bool {
    std::env::var_os("STRATA_UNPACK").is_none_or(|v| v != "eager")
}

/// A layer unpacked and verified in scratch space, not yet visible.
#[derive(Debug)]
pub struct StagedLayer {
    /// The layer's diffID.
    pub diff_id: Digest,
    /// Unpacked size.
    pub size: u64,
    /// Digest and size of the blob as it arrived.
    pub blob_digest: Digest,
    /// Blob size.
    pub blob_size: u64,
    /// Blob media type (the source's, else the OCI type of the compression found).
    pub media_type: String,
    /// The compression found.
    pub compression: LayerCompression,
    blob: Option<FinishedBlob>,
    prepared: Prepared,
}

/// The result of committing one layer.
#[derive(Debug, Clone)]
pub struct IngestedLayer {
    /// The layer's diffID.
    pub diff_id: Digest,
    /// Its chain ID.
    pub chain_id: Digest,
    /// The blob as stored (when kept).
    pub blob: Option<LayerBlob>,
    /// The snapshot holding it.
    pub snapshot: SnapshotRow,
}

/// Copies everything read through it into a writer.
struct Tee<R, W> {
    reader: R,
    writer: W,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.reader.read(buf)?;
        self.writer.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Where the compressed bytes go: a blob, or only a digest.
enum Sink {
    Blob(Box<crate::content::BlobWriter>),
    Digest(Digester),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Blob(w) => w.write(buf),
            Sink::Digest(d) => {
                d.update(buf);
                Ok(buf.len())
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Blob(w) => w.flush(),
            Sink::Digest(_) => Ok(()),
        }
    }
}

impl Store {
    /// Unpacks and verifies a layer in scratch space (phase one).
    pub fn stage_layer(&self, src: &LayerSource, reader: impl Read) -> Result<StagedLayer> {
        // An uncompressed blob (what `docker save` holds) is its own tar:
        // its digest is the diffID, so it is hashed once, by the tar reader.
        let (head, reader) = layer::peek(reader, 8).map_err(|e| io_err(src, e))?;
        let plain = match src.compression {
            Some(c) => c == LayerCompression::None,
            None => head.len() == 8 && LayerCompression::sniff(&head) == LayerCompression::None,
        };
        let sink = if src.keep_blob {
            let mut w = self.content().writer(None)?;
            if plain {
                w.hashed_by_caller();
            }
            Sink::Blob(Box::new(w))
        } else {
            Sink::Digest(Digester::new())
        };
        let compression = if plain {
            Some(LayerCompression::None)
        } else {
            src.compression
        };
        let mut tee = Tee {
            reader: io::BufReader::with_capacity(1 << 20, reader),
            writer: sink,
        };
        let lazy = src.lazy && src.keep_blob;
        let prepared = if lazy {
            self.snapshots().prepare_packed()?
        } else {
            self.snapshots().prepare()?
        };
        let applied = (|| -> Result<_> {
            let (compression, applied) = {
                let (compression, tar) = open_layer(&mut tee, compression)?;
                let opts = ApplyOptions::new(ApplyMode::Snapshot);
                let applied = if lazy {
                    layer::scan_layer(tar, &opts)?
                } else {
                    layer::apply_layer(tar, prepared.fs(), &opts)?
                };
                (compression, applied)
            };
            // The decompressor may stop before the blob's last bytes.
            io::copy(&mut tee, &mut io::sink()).map_err(|e| io_err(src, e))?;
            Ok((applied, compression))
        })();
        let fail = |sink: Sink, prepared: Prepared, e: StoreError| {
            prepared.abort();
            if let Sink::Blob(w) = sink {
                w.abort();
            }
            Err(e)
        };
        let (applied, compression) = match applied {
            Ok(a) => a,
            Err(e) => return fail(tee.writer, prepared, e),
        };
        if let Some(want) = &src.diff_id
            && want != &applied.diff_id
        {
            let e = StoreError::DigestMismatch {
                what: "layer diffID",
                expected: want.clone(),
                detail: format!("the uncompressed layer hashes to {}", applied.diff_id),
            };
            return fail(tee.writer, prepared, e);
        }
        let (blob, blob_digest, blob_size) = match tee.writer {
            Sink::Blob(w) => match if plain {
                w.finish_hashed(applied.diff_id.clone(), applied.tar_size)
            } else {
                w.finish()
            } {
                Ok(f) => {
                    let (d, s) = (f.digest().clone(), f.size());
                    (Some(f), d, s)
                }
                Err(e) => {
                    prepared.abort();
                    return Err(e);
                }
            },
            Sink::Digest(d) => {
                let s = d.len();
                (None, d.finish(), s)
            }
        };
        let bad = src
            .blob_digest
            .as_ref()
            .filter(|want| **want != blob_digest)
            .cloned();
        let bad_size = src.blob_size.filter(|s| *s != blob_size);
        if bad.is_some() || bad_size.is_some() {
            prepared.abort();
            if let Some(b) = blob {
                b.discard();
            }
            let expected = src
                .blob_digest
                .clone()
                .unwrap_or_else(|| blob_digest.clone());
            let detail = match bad_size {
                Some(s) => format!("expected {s} bytes, got {blob_size}"),
                None => format!("content hashes to {blob_digest}"),
            };
            return Err(StoreError::DigestMismatch {
                what: "blob",
                expected,
                detail,
            });
        }
        Ok(StagedLayer {
            diff_id: applied.diff_id,
            size: applied.size,
            blob_digest,
            blob_size,
            media_type: if src.media_type.is_empty() {
                compression.oci_media_type().to_string()
            } else {
                src.media_type.clone()
            },
            compression,
            blob,
            prepared,
        })
    }

    /// Stages and commits one layer on top of chain `parent`.
    pub fn ingest_layer(
        &self,
        parent: Option<&Digest>,
        src: &LayerSource,
        reader: impl Read,
    ) -> Result<IngestedLayer> {
        self.stage_layer(src, reader)?.commit(self, parent)
    }

    /// Stores a layer blob without unpacking it, after checking that its
    /// uncompressed stream hashes to `diff_id` (for a layer whose snapshot
    /// already exists, arriving in another compression).
    pub fn ingest_blob_only(
        &self,
        diff_id: &Digest,
        src: &LayerSource,
        reader: impl Read,
    ) -> Result<LayerBlob> {
        let expected = src.blob_digest.clone().map(|d| (d, src.blob_size));
        let mut tee = Tee {
            reader: io::BufReader::with_capacity(1 << 20, reader),
            writer: self.content().writer(expected)?,
        };
        let check = (|| -> Result<Digest> {
            let got = {
                let (_, tar) = open_layer(&mut tee, src.compression)?;
                let (_, got, _) = strata_oci::DigestReader::new(tar)
                    .finish()
                    .map_err(|e| io_err(src, e))?;
                got
            };
            io::copy(&mut tee, &mut io::sink()).map_err(|e| io_err(src, e))?;
            Ok(got)
        })();
        let got = match check {
            Ok(g) => g,
            Err(e) => {
                tee.writer.abort();
                return Err(e);
            }
        };
        if &got != diff_id {
            tee.writer.abort();
            return Err(StoreError::DigestMismatch {
                what: "layer diffID",
                expected: diff_id.clone(),
                detail: format!("the uncompressed layer hashes to {got}"),
            });
        }
        let (digest, size) = tee.writer.commit()?;
        let blob = LayerBlob {
            digest,
            media_type: src.media_type.clone(),
            size,
        };
        self.db().write(|tx| lq::add_blob(tx, diff_id, &blob))?;
        Ok(blob)
    }
}

impl StagedLayer {
    /// Makes the layer visible on top of chain `parent` (phase two).
    pub fn commit(self, store: &Store, parent: Option<&Digest>) -> Result<IngestedLayer> {
        let chain = match parent {
            None => self.diff_id.clone(),
            Some(p) => chain_id(p, &self.diff_id),
        };
        let blob = match self.blob {
            Some(b) => {
                let (digest, size) = b.publish()?;
                Some(LayerBlob {
                    digest,
                    media_type: self.media_type.clone(),
                    size,
                })
            }
            None => None,
        };
        let snapshot =
            store
                .snapshots()
                .commit(self.prepared, &chain, parent, &self.diff_id, self.size)?;
        if let Some(b) = &blob {
            store.db().write(|tx| lq::add_blob(tx, &self.diff_id, b))?;
        }
        Ok(IngestedLayer {
            diff_id: self.diff_id,
            chain_id: chain,
            blob,
            snapshot,
        })
    }

    /// Drops everything staged.
    pub fn abort(self) {
        self.prepared.abort();
        if let Some(b) = self.blob {
            b.discard();
        }
    }
}

/// The uncompressed tar stream of a blob: with the given compression, or
/// the one its first bytes show.
fn open_layer<'a>(
    blob: impl Read + 'a,
    compression: Option<LayerCompression>,
) -> Result<(LayerCompression, Box<dyn Read + 'a>)> {
    Ok(match compression {
        Some(c) => (c, layer::decompress(blob, c)?),
        None => layer::decompress_sniffed(blob)?,
    })
}

fn io_err(src: &LayerSource, e: io::Error) -> StoreError {
    StoreError::Invalid(format!("{}: {e}", src.describe()))
}

/// How to turn a directory into a layer with [`Store::layer_from_dir`].
#[derive(Debug, Clone)]
pub struct DirLayerOptions {
    /// Plain directory, or overlay upperdir (whiteouts as char 0/0).
    pub whiteouts: crate::layer::WhiteoutFormat,
    /// Blob compression.
    pub compression: crate::layer::Compression,
    /// `SOURCE_DATE_EPOCH` clamp for mtimes.
    pub source_date_epoch: Option<i64>,
    /// Move `dir` itself into the snapshot (it must be in this store's
    /// filesystem, already in overlay form, and not used afterwards);
    /// otherwise the blob is unpacked into a fresh snapshot.
    ///
    /// This also picks the layer's size, as docker 20.10 does for the two
    /// ways it makes a layer: an adopted directory is a layer registered
    /// from its diff (BuildKit's steps: the sum of the tar's file data,
    /// symlinks 0), an unpacked blob one whose tar was applied (`docker
    /// commit`, pull, load: the graphdriver's `directory.Size`, where a
    /// symlink counts its target's length).
    pub adopt_dir: bool,
}

/// The name of a snapshot's tar checkpoints, beside its `fs` directory.
const CHECKPOINTS: &str = "tar-checkpoints";

/// What lets [`Store::layer_from_dir_resuming`] resume a tar.
#[derive(Debug, Clone)]
pub struct Resume {
    /// The content sha256 of the directory's regular files, by tar path.
    pub contents: std::sync::Arc<layer::ContentDigests>,
    /// The chain of an earlier layer whose tree may start as this one does.
    pub previous: Option<Digest>,
}

impl Store {
    /// The uncompressed tar and checkpoints of the layer of chain `chain`,
    /// when the store has both (`need_blob`: the tar's bytes are needed).
    fn previous_tar(&self, chain: &Digest, need_blob: bool) -> Result<Option<layer::Previous>> {
        let Some(row) = self.snapshots().get(chain)? else {
            return Ok(None);
        };
        let path = self.snapshots().sidecar(row.id, CHECKPOINTS);
        let Some(checkpoints) = layer::Checkpoints::read(&path) else {
            return Ok(None);
        };
        if need_blob && !self.content().exists(&row.diff_id) {
            return Ok(None);
        }
        Ok(Some(layer::Previous {
            blob: self.content().path(&row.diff_id),
            checkpoints,
        }))
    }

    /// [`Store::layer_from_dir_resuming`] for a plain directory whose blob
    /// is left to be written on demand (see [`crate::tree_blob`]): the tar
    /// is only hashed, the directory becomes the snapshot with its marker.
    fn layer_from_tree(
        &self,
        dir: &std::path::Path,
        parent: Option<&Digest>,
        opts: &DirLayerOptions,
        resume: &Resume,
    ) -> Result<IngestedLayer> {
        let previous = match &resume.previous {
            Some(prev) => self.previous_tar(prev, false)?,
            None => None,
        };
        let written = layer::digest_layer(
            dir,
            &layer::TarOptions {
                whiteouts: layer::WhiteoutFormat::Plain,
                source_date_epoch: opts.source_date_epoch,
                contents: Some(resume.contents.clone()),
                previous,
                ..layer::TarOptions::default()
            },
        )?;
        let blob = LayerBlob {
            digest: written.diff_id.clone(),
            media_type: layer::Compression::None
                .layer_compression()
                .oci_media_type()
                .to_string(),
            size: written.tar_size,
        };
        let chain = match parent {
            None => written.diff_id.clone(),
            Some(p) => chain_id(p, &written.diff_id),
        };
        let snapshot = match self.snapshots().get(&chain)? {
            // The same layer on the same chain is already here.
            Some(row) => row,
            None => {
                let prepared = self.snapshots().adopt(dir)?;
                let marker = crate::tree_blob::marker(opts.source_date_epoch);
                let p = prepared.sidecar(crate::tree_blob::BLOB_FROM_TREE);
                if let Err(e) = std::fs::write(&p, marker) {
                    prepared.abort();
                    return Err(e).ctx("write", &p);
                }
                if let Some(cp) = written.checkpoints.as_ref().filter(|c| !c.list.is_empty()) {
                    let p = prepared.sidecar(CHECKPOINTS);
                    if let Err(e) = cp.write(&p) {
                        tracing::debug!("{}: {e}", p.display());
                    }
                }
                self.snapshots().commit(
                    prepared,
                    &chain,
                    parent,
                    &written.diff_id,
                    written.content_size,
                )?
            }
        };
        self.db()
            .write(|tx| lq::add_blob(tx, &written.diff_id, &blob))?;
        Ok(IngestedLayer {
            diff_id: written.diff_id,
            chain_id: chain,
            blob: Some(blob),
            snapshot,
        })
    }

    /// The snapshot dirs of chain `top` and the chains below it, topmost
    /// first (an upper dir's lowers).
    fn chain_dir_names(&self, top: &Digest) -> Result<Vec<std::path::PathBuf>> {
        let mut chains = Vec::new();
        let mut next = Some(top.clone());
        while let Some(c) = next {
            let Some(row) = self.snapshots().get(&c)? else {
                break;
            };
            next = row.parent_chain_id.clone();
            chains.push(c);
        }
        chains.reverse();
        self.snapshots().dir_names(&chains)
    }

    /// Writes `dir` as a deterministic layer blob on top of chain `parent`
    /// and commits its snapshot; returns the committed layer.
    pub fn layer_from_dir(
        &self,
        dir: &std::path::Path,
        parent: Option<&Digest>,
        opts: &DirLayerOptions,
    ) -> Result<IngestedLayer> {
        self.layer_from_dir_resuming(dir, parent, opts, None)
    }

    /// [`Store::layer_from_dir`], resuming the tar from a previous layer's
    /// where `resume` allows (see [`layer::Previous`]) and keeping this
    /// tar's checkpoints beside an adopted snapshot for the next one.
    pub fn layer_from_dir_resuming(
        &self,
        dir: &std::path::Path,
        parent: Option<&Digest>,
        opts: &DirLayerOptions,
        resume: Option<&Resume>,
    ) -> Result<IngestedLayer> {
        let uncompressed = opts.compression == layer::Compression::None;
        if let Some(r) = resume
            && uncompressed
            && opts.adopt_dir
            && opts.whiteouts == layer::WhiteoutFormat::Plain
            && crate::tree_blob::on_demand()
        {
            return self.layer_from_tree(dir, parent, opts, r);
        }
        let previous = match resume.and_then(|r| r.previous.as_ref()) {
            Some(prev) if uncompressed => self.previous_tar(prev, true)?,
            _ => None,
        };
        let lowers = match (opts.whiteouts, parent) {
            (layer::WhiteoutFormat::Overlay, Some(p)) => self.chain_dir_names(p)?,
            _ => Vec::new(),
        };
        let mut w = self.content().writer(None)?;
        // An uncompressed blob is the tar: write_layer's diffID is its
        // digest, so the writer does not hash the same bytes again.
        if uncompressed {
            w.hashed_by_caller();
        }
        let written = layer::write_layer(
            dir,
            &layer::TarOptions {
                whiteouts: opts.whiteouts,
                source_date_epoch: opts.source_date_epoch,
                lowers,
                contents: resume.map(|r| r.contents.clone()),
                previous,
            },
            opts.compression,
            &mut w,
        );
        let written = match written {
            Ok(x) => x,
            Err(e) => {
                w.abort();
                return Err(e.into());
            }
        };
        let (blob_digest, blob_size) = if uncompressed {
            w.finish_hashed(written.diff_id.clone(), written.tar_size)?
                .publish()?
        } else {
            w.commit()?
        };
        let media_type = opts
            .compression
            .layer_compression()
            .oci_media_type()
            .to_string();
        let blob = LayerBlob {
            digest: blob_digest.clone(),
            media_type: media_type.clone(),
            size: blob_size,
        };
        let chain = match parent {
            None => written.diff_id.clone(),
            Some(p) => chain_id(p, &written.diff_id),
        };
        if opts.adopt_dir && self.snapshots().get(&chain)?.is_none() {
            let prepared = self.snapshots().adopt(dir)?;
            let snapshot = self.snapshots().commit(
                prepared,
                &chain,
                parent,
                &written.diff_id,
                written.content_size,
            )?;
            self.db()
                .write(|tx| lq::add_blob(tx, &written.diff_id, &blob))?;
            if let Some(cp) = written.checkpoints.as_ref().filter(|c| !c.list.is_empty()) {
                let path = self.snapshots().sidecar(snapshot.id, CHECKPOINTS);
                if let Err(e) = cp.write(&path) {
                    tracing::debug!("{}: {e}", path.display());
                }
            }
            return Ok(IngestedLayer {
                diff_id: written.diff_id,
                chain_id: chain,
                blob: Some(blob),
                snapshot,
            });
        }
        let src = LayerSource {
            media_type,
            blob_digest: Some(blob_digest.clone()),
            blob_size: Some(blob_size),
            diff_id: Some(written.diff_id.clone()),
            compression: Some(opts.compression.layer_compression()),
            keep_blob: false,
            lazy: false,
        };
        let mut ingested = self.ingest_layer(parent, &src, self.content().open(&blob_digest)?)?;
        self.db()
            .write(|tx| lq::add_blob(tx, &written.diff_id, &blob))?;
        ingested.blob = Some(blob);
        Ok(ingested)
    }
}
