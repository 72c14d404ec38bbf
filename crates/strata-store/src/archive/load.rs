//! `image load`: read a docker-archive or OCI-layout tar (optionally gzip
//! or zstd compressed) in one streaming pass.
//!
//! The outer tar is read once, in whatever order its entries come (docker
//! writes `manifest.json` last): every entry that is not JSON is staged as
//! a layer (blob kept, unpacked into a scratch snapshot, diffID computed)
//! and small JSON entries are kept in memory. At the end the archive's
//! index (`manifest.json`, else `index.json`) says which staged layers form
//! which images; every digest is checked, and only then is anything
//! committed. A bad or interrupted load leaves the store as it was.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, Read};
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};

use strata_oci::manifest::{
    self, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, DockerArchiveImage, DocumentKind, descriptor,
    descriptor_digest,
};
use strata_oci::media::{self, LayerCompression};
use strata_oci::{Digest, ImageConfig, Reference, host_platform};

use crate::Store;
use crate::content::MAX_INLINE_BLOB;
use crate::error::{Result, StoreError};
use crate::ingest::{LayerSource, StagedLayer};
use crate::layer;

/// One image an archive held.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    /// The image ID.
    pub id: Digest,
    /// Tags it was given (may be empty).
    pub tags: Vec<Reference>,
}

/// Everything read from the outer tar.
#[derive(Default)]
struct Entries {
    json: HashMap<PathBuf, Vec<u8>>,
    staged: HashMap<PathBuf, StagedLayer>,
    failed: HashMap<PathBuf, String>,
    links: HashMap<PathBuf, PathBuf>,
}

impl Entries {
    fn resolve(&self, p: &Path) -> PathBuf {
        let mut p = clean(p);
        for _ in 0..16 {
            match self.links.get(&p) {
                Some(t) => p = t.clone(),
                None => break,
            }
        }
        p
    }

    fn abort(self) {
        for (_, s) in self.staged {
            s.abort();
        }
    }
}

/// A layer an image needs, found in the archive or already in the store.
struct NeededLayer {
    path: PathBuf,
    diff_id: Digest,
}

struct PlannedImage {
    manifest: Vec<u8>,
    config: Vec<u8>,
    layers: Vec<NeededLayer>,
    tags: Vec<Reference>,
}

impl Store {
    /// Loads every image of an archive; returns them in archive order.
    pub fn load(&self, reader: impl Read) -> Result<Vec<LoadedImage>> {
        let mut input = io::BufReader::with_capacity(1 << 20, reader);
        let head = input
            .fill_buf()
            .map_err(|e| StoreError::Invalid(format!("reading archive: {e}")))?;
        if head.is_empty() {
            return Err(StoreError::Invalid("empty archive: no input".into()));
        }
        let compression = LayerCompression::sniff(head);
        let tar = layer::decompress(input, compression)?;
        let mut entries = Entries::default();
        let read = self.read_entries(tar, &mut entries);
        self.finish_load(entries, read)
    }

    /// Plans and commits what was read; on any error (`read`'s included)
    /// drops everything staged.
    fn finish_load(&self, entries: Entries, read: Result<()>) -> Result<Vec<LoadedImage>> {
        match read.and_then(|()| plan_images(self, &entries)) {
            Ok(plan) => self.commit_plan(entries, plan),
            Err(e) => {
                entries.abort();
                Err(e)
            }
        }
    }

    fn read_entries(&self, tar: impl Read, out: &mut Entries) -> Result<()> {
        let mut archive = tar::Archive::new(tar);
        for entry in archive.entries().map_err(bad_archive)? {
            let mut entry = entry.map_err(bad_archive)?;
            let Some((path, head)) = classify(&mut entry, out)? else {
                continue;
            };
            let whole = io::Cursor::new(head).chain(&mut entry);
            match self.stage_member(whole) {
                Ok(staged) => {
                    out.staged.insert(path, staged);
                }
                Err(e @ StoreError::Io { .. }) => return Err(e),
                Err(e) => {
                    io::copy(&mut entry, &mut io::sink()).map_err(bad_archive)?;
                    out.failed.insert(path, e.to_string());
                }
            }
        }
        Ok(())
    }

    /// Loads an archive from a file. An uncompressed one (what `docker
    /// save` writes) is indexed first, seeking past the layer data, and its
    /// layers are then staged in parallel, each worker reading its own byte
    /// range: unpacking is bound by the filesystem's inode creation, which
    /// scales with cores. Anything else streams through [`Store::load`].
    pub fn load_file(&self, file: &File) -> Result<Vec<LoadedImage>> {
        let mut head = [0u8; 8];
        let n = file.read_at(&mut head, 0).unwrap_or(0);
        let regular = file.metadata().is_ok_and(|m| m.is_file());
        if !regular || n == 0 || LayerCompression::sniff(&head[..n]) != LayerCompression::None {
            return self.load(file);
        }
        let mut entries = Entries::default();
        let staged = self
            .index_entries(file, &mut entries)
            .and_then(|members| self.stage_in_parallel(file, members, &mut entries));
        self.finish_load(entries, staged)
    }

    /// Reads the outer tar's headers and JSON documents; returns the other
    /// members (candidate layers) as byte ranges of the file.
    fn index_entries(&self, file: &File, out: &mut Entries) -> Result<Vec<Member>> {
        let mut archive = tar::Archive::new(file);
        let mut members = Vec::new();
        for entry in archive.entries_with_seek().map_err(bad_archive)? {
            let mut entry = entry.map_err(bad_archive)?;
            let offset = entry.raw_file_position();
            let size = entry.header().size().map_err(bad_archive)?;
            if let Some((path, _)) = classify(&mut entry, out)? {
                members.push(Member { path, offset, size });
            }
        }
        Ok(members)
    }

    fn stage_in_parallel(
        &self,
        file: &File,
        members: Vec<Member>,
        out: &mut Entries,
    ) -> Result<()> {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
        let queue = std::sync::Mutex::new(members.into_iter());
        let results = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    loop {
                        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                        let Some(m) = next else { break };
                        let reader = io::BufReader::with_capacity(
                            1 << 20,
                            RangeReader::new(file, m.offset, m.size),
                        );
                        let r = self.stage_member(reader);
                        results
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push((m.path, r));
                    }
                });
            }
        });
        let mut first_err = None;
        for (path, r) in results.into_inner().unwrap_or_else(|p| p.into_inner()) {
            match r {
                Ok(staged) => {
                    out.staged.insert(path, staged);
                }
                Err(e @ StoreError::Io { .. }) => {
                    first_err.get_or_insert(e);
                }
                Err(e) => {
                    out.failed.insert(path, e.to_string());
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Stages one archive member as a layer (blob kept, unpacked).
    fn stage_member(&self, reader: impl Read) -> Result<StagedLayer> {
        let src = LayerSource {
            media_type: String::new(),
            keep_blob: true,
            lazy: crate::ingest::lazy_by_default(),
            ..LayerSource::default()
        };
        self.stage_layer(&src, reader)
    }

    fn commit_plan(
        &self,
        mut entries: Entries,
        plan: Vec<PlannedImage>,
    ) -> Result<Vec<LoadedImage>> {
        let mut loaded = Vec::new();
        let result = (|| -> Result<()> {
            for img in &plan {
                let mut parent: Option<Digest> = None;
                for l in &img.layers {
                    let chain = match &parent {
                        None => l.diff_id.clone(),
                        Some(p) => strata_oci::chain_id(p, &l.diff_id),
                    };
                    let have = self.snapshots().get(&chain)?.is_some();
                    match entries.staged.remove(&l.path) {
                        // If the snapshot exists, commit keeps the blob and
                        // discards the duplicate unpacked copy.
                        Some(staged) => {
                            staged.commit(self, parent.as_ref())?;
                        }
                        None if have => {}
                        None => {
                            // Committed earlier under another chain: unpack
                            // again from the stored blob.
                            self.unpack_again(&l.diff_id, parent.as_ref())?;
                        }
                    }
                    parent = Some(chain);
                }
                self.content().put(&img.config)?;
                self.content().put(&img.manifest)?;
                let row = self.put_image_tagged(&img.manifest, &img.config, &img.tags)?;
                loaded.push(LoadedImage {
                    id: row.id,
                    tags: img.tags.clone(),
                });
            }
            Ok(())
        })();
        entries.abort();
        result.map(|()| loaded)
    }

    fn unpack_again(&self, diff_id: &Digest, parent: Option<&Digest>) -> Result<()> {
        let blob = self
            .layer_blobs(diff_id)?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Invalid(format!("layer {diff_id} has no stored blob")))?;
        let src = LayerSource {
            media_type: blob.media_type.clone(),
            blob_digest: Some(blob.digest.clone()),
            diff_id: Some(diff_id.clone()),
            keep_blob: false,
            ..LayerSource::default()
        };
        self.ingest_layer(parent, &src, self.content().open(&blob.digest)?)?;
        Ok(())
    }
}

/// Works out the images of the archive and checks every digest.
fn plan_images(store: &Store, e: &Entries) -> Result<Vec<PlannedImage>> {
    if let Some(m) = e.json.get(Path::new("manifest.json")) {
        plan_docker_archive(store, e, m)
    } else if let Some(i) = e.json.get(Path::new("index.json")) {
        plan_oci_layout(store, e, i)
    } else {
        Err(StoreError::Invalid(
            "not an image archive: neither manifest.json (docker-archive) nor index.json (OCI layout) found".into(),
        ))
    }
}

fn layer_for(
    store: &Store,
    e: &Entries,
    path: &Path,
    diff_id: &Digest,
    expected_blob: Option<&Digest>,
) -> Result<NeededLayer> {
    let p = e.resolve(path);
    if let Some(s) = e.staged.get(&p) {
        if &s.diff_id != diff_id {
            return Err(StoreError::DigestMismatch {
                what: "layer diffID",
                expected: diff_id.clone(),
                detail: format!("archive entry {} hashes to {}", p.display(), s.diff_id),
            });
        }
        if let Some(b) = expected_blob
            && b != &s.blob_digest
        {
            return Err(StoreError::DigestMismatch {
                what: "blob",
                expected: b.clone(),
                detail: format!("archive entry {} hashes to {}", p.display(), s.blob_digest),
            });
        }
        return Ok(NeededLayer {
            path: p,
            diff_id: diff_id.clone(),
        });
    }
    if let Some(why) = e.failed.get(&p) {
        return Err(StoreError::Invalid(format!("layer {}: {why}", p.display())));
    }
    // Not in the archive: fine if the store already has it.
    if let Some(b) = expected_blob
        && store.content().exists(b)
        && store.layer_blobs(diff_id)?.iter().any(|x| &x.digest == b)
    {
        return Ok(NeededLayer {
            path: p,
            diff_id: diff_id.clone(),
        });
    }
    Err(StoreError::Invalid(format!(
        "archive is missing layer {} ({})",
        p.display(),
        expected_blob.map_or_else(|| diff_id.to_string(), |b| b.to_string())
    )))
}

fn plan_docker_archive(
    store: &Store,
    e: &Entries,
    manifest_json: &[u8],
) -> Result<Vec<PlannedImage>> {
    let items: Vec<DockerArchiveImage> = serde_json::from_slice(manifest_json)
        .map_err(|err| StoreError::Invalid(format!("invalid manifest.json: {err}")))?;
    let mut out = Vec::new();
    for item in items {
        let cfg_path = e.resolve(Path::new(&item.config));
        let config = e.json.get(&cfg_path).ok_or_else(|| {
            StoreError::Invalid(format!(
                "manifest.json names missing config {}",
                item.config
            ))
        })?;
        let config_digest = Digest::of(config);
        let cfg = ImageConfig::from_slice(config).map_err(|source| StoreError::Config {
            digest: config_digest.clone(),
            source,
        })?;
        if cfg.rootfs.diff_ids.len() != item.layers.len() {
            return Err(StoreError::Invalid(format!(
                "manifest.json lists {} layers for config {} which has {} diffIDs",
                item.layers.len(),
                item.config,
                cfg.rootfs.diff_ids.len()
            )));
        }
        let mut layers = Vec::new();
        let mut descs = Vec::new();
        for (path, diff) in item.layers.iter().zip(&cfg.rootfs.diff_ids) {
            let needed = layer_for(store, e, Path::new(path), diff, None)?;
            let s = e
                .staged
                .get(&needed.path)
                .ok_or_else(|| StoreError::Invalid(format!("archive is missing layer {path}")))?;
            let desc = descriptor(s.compression.oci_media_type(), &s.blob_digest, s.blob_size);
            descs.push(desc);
            layers.push(needed);
        }
        let manifest = manifest::new_manifest(
            media::OCI_MANIFEST,
            descriptor(media::OCI_CONFIG, &config_digest, config.len() as u64),
            descs,
            None,
        );
        let mut tags = Vec::new();
        for t in item.repo_tags.unwrap_or_default() {
            tags.push(Reference::parse(&t)?);
        }
        out.push(PlannedImage {
            manifest,
            config: config.clone(),
            layers,
            tags,
        });
    }
    Ok(out)
}

fn blob_path(d: &Digest) -> PathBuf {
    PathBuf::from(format!("blobs/sha256/{}", d.hex()))
}

fn json_blob<'a>(
    store: &Store,
    e: &'a Entries,
    d: &Digest,
    owned: &'a mut Vec<u8>,
) -> Result<&'a [u8]> {
    let bytes = match e.json.get(&blob_path(d)) {
        Some(b) => b.as_slice(),
        None if store.content().exists(d) => {
            *owned = store.content().read(d)?;
            owned.as_slice()
        }
        None => {
            return Err(StoreError::Invalid(format!("archive is missing blob {d}")));
        }
    };
    if &Digest::of(bytes) != d {
        return Err(StoreError::DigestMismatch {
            what: "blob",
            expected: d.clone(),
            detail: format!("archive entry hashes to {}", Digest::of(bytes)),
        });
    }
    Ok(bytes)
}

fn plan_oci_layout(store: &Store, e: &Entries, index_json: &[u8]) -> Result<Vec<PlannedImage>> {
    let index = manifest::parse_index(index_json).map_err(|source| StoreError::Manifest {
        context: "index.json".into(),
        source,
    })?;
    let (os, arch, variant) = host_platform();
    let mut out = Vec::new();
    for desc in index.manifests() {
        let annotations = desc.annotations().clone().unwrap_or_default();
        let mut d = descriptor_digest(desc).map_err(|err| StoreError::Invalid(err.to_string()))?;
        let mut owned = Vec::new();
        let mut bytes = json_blob(store, e, &d, &mut owned)?.to_vec();
        // Follow nested indexes down to this platform's manifest.
        for _ in 0..4 {
            let (kind, _) =
                manifest::classify(&bytes, Some(desc.media_type().as_ref())).map_err(|source| {
                    StoreError::Manifest {
                        context: format!("manifest {d}"),
                        source,
                    }
                })?;
            if kind == DocumentKind::Manifest {
                break;
            }
            let idx = manifest::parse_index(&bytes).map_err(|source| StoreError::Manifest {
                context: format!("index {d}"),
                source,
            })?;
            let pick = manifest::select_platform(&idx, os, arch, variant).ok_or_else(|| {
                StoreError::Invalid(format!("index {d} has no manifest for {os}/{arch}"))
            })?;
            d = descriptor_digest(pick).map_err(|err| StoreError::Invalid(err.to_string()))?;
            let mut owned = Vec::new();
            bytes = json_blob(store, e, &d, &mut owned)?.to_vec();
        }
        let m = manifest::parse_manifest(&bytes).map_err(|source| StoreError::Manifest {
            context: format!("manifest {d}"),
            source,
        })?;
        let cd =
            descriptor_digest(m.config()).map_err(|err| StoreError::Invalid(err.to_string()))?;
        let mut owned = Vec::new();
        let config = json_blob(store, e, &cd, &mut owned)?.to_vec();
        let cfg = ImageConfig::from_slice(&config).map_err(|source| StoreError::Config {
            digest: cd.clone(),
            source,
        })?;
        if m.layers().len() != cfg.rootfs.diff_ids.len() {
            return Err(StoreError::Invalid(format!(
                "manifest {d} names {} layers but config {cd} has {} diffIDs",
                m.layers().len(),
                cfg.rootfs.diff_ids.len()
            )));
        }
        let mut layers = Vec::new();
        for (ld, diff) in m.layers().iter().zip(&cfg.rootfs.diff_ids) {
            let mt = ld.media_type().to_string();
            if LayerCompression::of_media_type(&mt).is_none() {
                return Err(StoreError::Invalid(format!(
                    "manifest {d}: layer has unsupported media type {mt:?}"
                )));
            }
            let bd = descriptor_digest(ld).map_err(|err| StoreError::Invalid(err.to_string()))?;
            let needed = layer_for(store, e, &blob_path(&bd), diff, Some(&bd))?;
            layers.push(needed);
        }
        let tags = annotations
            .get(ANNOTATION_IMAGE_NAME)
            .or_else(|| {
                annotations
                    .get(ANNOTATION_REF_NAME)
                    .filter(|n| n.contains(['/', ':']))
            })
            .and_then(|n| Reference::parse(n).ok())
            .filter(|r| r.tag().is_some() && r.digest().is_none())
            .into_iter()
            .collect();
        out.push(PlannedImage {
            manifest: bytes,
            config,
            layers,
            tags,
        });
    }
    Ok(out)
}

fn bad_archive(e: io::Error) -> StoreError {
    StoreError::Invalid(format!("invalid archive: {e}"))
}

/// A member of the outer tar that may be a layer: where its bytes are.
struct Member {
    path: PathBuf,
    offset: u64,
    size: u64,
}

/// Sorts one outer-tar entry: links and JSON documents go into `out`;
/// a regular file that may be a layer is returned with its first bytes
/// (already read from `entry`). Not a layer, or a corrupt one: an error
/// only if an image turns out to need it.
fn classify<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    out: &mut Entries,
) -> Result<Option<(PathBuf, Vec<u8>)>> {
    let path = clean(&entry.path().map_err(bad_archive)?);
    let kind = entry.header().entry_type();
    if kind.is_symlink() || kind.is_hard_link() {
        if let Some(target) = entry.link_name().map_err(bad_archive)? {
            let base = if kind.is_symlink() {
                path.parent().unwrap_or(Path::new("")).join(target)
            } else {
                target.into_owned()
            };
            out.links.insert(path, clean(&base));
        }
        return Ok(None);
    }
    if !kind.is_file() {
        return Ok(None);
    }
    let size = entry.header().size().map_err(bad_archive)?;
    let (first, mut whole) = layer::peek(entry, 8).map_err(bad_archive)?;
    let json = first.first().is_none_or(|b| *b == b'{' || *b == b'[');
    if json || path.as_os_str() == "oci-layout" {
        if size > MAX_INLINE_BLOB {
            return Err(StoreError::Invalid(format!(
                "archive entry {} is a {size}-byte JSON document, too large",
                path.display()
            )));
        }
        let mut buf = Vec::with_capacity(size as usize);
        whole.read_to_end(&mut buf).map_err(bad_archive)?;
        out.json.insert(path, buf);
        return Ok(None);
    }
    Ok(Some((path, first)))
}

/// Reads `len` bytes of `file` from `offset` with positioned reads (the
/// file is shared by the workers).
struct RangeReader<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl<'a> RangeReader<'a> {
    fn new(file: &'a File, offset: u64, len: u64) -> Self {
        RangeReader {
            file,
            pos: offset,
            end: offset + len,
        }
    }
}

impl Read for RangeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = (self.end - self.pos).min(buf.len() as u64) as usize;
        if left == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..left], self.pos)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// Lexically cleans an archive path (no leading `/` or `./`, no `..`).
fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(x) => out.push(x),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}
