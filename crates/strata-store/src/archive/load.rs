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
use std::io::{self, BufRead, Read};
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
        if let Err(e) = self.read_entries(tar, &mut entries) {
            entries.abort();
            return Err(e);
        }
        let plan = match plan_images(self, &entries) {
            Ok(p) => p,
            Err(e) => {
                entries.abort();
                return Err(e);
            }
        };
        self.commit_plan(entries, plan)
    }

    fn read_entries(&self, tar: impl Read, out: &mut Entries) -> Result<()> {
        let mut archive = tar::Archive::new(tar);
        let bad = |e: io::Error| StoreError::Invalid(format!("invalid archive: {e}"));
        for entry in archive.entries().map_err(bad)? {
            let mut entry = entry.map_err(bad)?;
            let path = clean(&entry.path().map_err(bad)?);
            let kind = entry.header().entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                if let Some(target) = entry.link_name().map_err(bad)? {
                    let base = if kind.is_symlink() {
                        path.parent().unwrap_or(Path::new("")).join(target)
                    } else {
                        target.into_owned()
                    };
                    out.links.insert(path, clean(&base));
                }
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            let size = entry.header().size().map_err(bad)?;
            let mut first = [0u8; 8];
            let n = read_full(&mut entry, &mut first).map_err(bad)?;
            let whole = io::Cursor::new(first[..n].to_vec()).chain(&mut entry);
            if n == 0 || first[0] == b'{' || first[0] == b'[' || path.as_os_str() == "oci-layout" {
                if size > MAX_INLINE_BLOB {
                    return Err(StoreError::Invalid(format!(
                        "archive entry {} is a {size}-byte JSON document, too large",
                        path.display()
                    )));
                }
                let mut buf = Vec::with_capacity(size as usize);
                let mut whole = whole;
                whole.read_to_end(&mut buf).map_err(bad)?;
                out.json.insert(path, buf);
                continue;
            }
            let src = LayerSource {
                media_type: String::new(),
                keep_blob: true,
                ..LayerSource::default()
            };
            match self.stage_layer(&src, whole) {
                Ok(staged) => {
                    out.staged.insert(path, staged);
                }
                Err(e @ StoreError::Io { .. }) => return Err(e),
                Err(e) => {
                    // Not a layer (or a corrupt one): an error only if an
                    // image turns out to need it.
                    io::copy(&mut entry, &mut io::sink()).map_err(bad)?;
                    out.failed.insert(path, e.to_string());
                }
            }
        }
        Ok(())
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
                let row = self.put_image(&img.manifest, &img.config)?;
                for t in &img.tags {
                    self.tag_image(&row.id, t)?;
                }
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

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
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
