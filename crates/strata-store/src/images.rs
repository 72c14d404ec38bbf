//! Images in the store: recording a manifest + config whose layers are
//! unpacked, resolving what a user typed (reference, ID, short ID) the way
//! docker does, tagging, and removal with docker's rules.

use oci_spec::image::ImageManifest;
use strata_oci::manifest::{self, descriptor, descriptor_digest};
use strata_oci::{Digest, ImageConfig, Reference, media};

use crate::Store;
use crate::db::containers as cq;
use crate::db::images::{self as q, ImageLayer, ImageRow};
use crate::db::layers::{self as lq, LayerBlob};
use crate::db::now_secs;
use crate::error::{Result, StoreError};

/// An image with its parsed manifest and config.
#[derive(Debug, Clone)]
pub struct Image {
    /// The DB record.
    pub row: ImageRow,
    /// The config.
    pub config: ImageConfig,
    /// The config bytes (their digest is the image ID).
    pub config_bytes: Vec<u8>,
    /// The manifest held for the image.
    pub manifest: ImageManifest,
    /// Its bytes.
    pub manifest_bytes: Vec<u8>,
    /// Layers, bottom first.
    pub layers: Vec<ImageLayer>,
}

impl Image {
    /// The image ID (config digest).
    pub fn id(&self) -> &Digest {
        &self.row.id
    }

    /// Chain IDs, bottom first.
    pub fn chain_ids(&self) -> Vec<Digest> {
        self.layers.iter().map(|l| l.chain_id.clone()).collect()
    }
}

/// What `remove_image` did, in docker's output order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// `Untagged: <ref>`.
    Untagged(String),
    /// `Deleted: <id>`.
    Deleted(Digest),
}

impl Store {
    /// Records an image whose manifest names blobs this store holds and
    /// whose layers are all unpacked. The manifest bytes are stored as they
    /// are (its digest never changes). Returns the record (the existing one
    /// if the image was already present).
    pub fn put_image(&self, manifest_bytes: &[u8], config_bytes: &[u8]) -> Result<ImageRow> {
        self.put_image_tagged(manifest_bytes, config_bytes, &[])
    }

    /// [`Store::put_image`], pointing `tags` at it in the same transaction:
    /// the image is never visible untagged, so a concurrent `image prune`
    /// cannot take it for dangling.
    pub fn put_image_tagged(
        &self,
        manifest_bytes: &[u8],
        config_bytes: &[u8],
        tags: &[Reference],
    ) -> Result<ImageRow> {
        for r in tags {
            if r.digest().is_some() {
                return Err(StoreError::Invalid(format!(
                    "refusing to create a tag with a digest reference: {}",
                    r.familiar()
                )));
            }
        }
        let manifest_digest = Digest::of(manifest_bytes);
        let ctx = |source| StoreError::Manifest {
            context: format!("manifest {manifest_digest}"),
            source,
        };
        let (kind, media_type) = manifest::classify(manifest_bytes, None).map_err(ctx)?;
        if kind != manifest::DocumentKind::Manifest {
            return Err(StoreError::Invalid(format!(
                "manifest {manifest_digest}: an index cannot be stored as an image"
            )));
        }
        let m = manifest::parse_manifest(manifest_bytes).map_err(ctx)?;
        let config_digest = descriptor_digest(m.config()).map_err(|e| ctx(e.into()))?;
        if Digest::of(config_bytes) != config_digest {
            return Err(StoreError::DigestMismatch {
                what: "image config",
                expected: config_digest,
                detail: format!("config bytes hash to {}", Digest::of(config_bytes)),
            });
        }
        let config =
            ImageConfig::from_slice(config_bytes).map_err(|source| StoreError::Config {
                digest: config_digest.clone(),
                source,
            })?;
        let diff_ids = &config.rootfs.diff_ids;
        if m.layers().len() != diff_ids.len() {
            return Err(StoreError::Invalid(format!(
                "manifest {manifest_digest} names {} layers but config {config_digest} has {} diffIDs",
                m.layers().len(),
                diff_ids.len()
            )));
        }
        let chains = config.chain_ids();
        let mut size = 0;
        let mut layers = Vec::with_capacity(chains.len());
        for ((desc, diff), chain) in m.layers().iter().zip(diff_ids).zip(&chains) {
            let blob = descriptor_digest(desc).map_err(|e| ctx(e.into()))?;
            if media::LayerCompression::of_media_type(desc.media_type().as_ref()).is_none() {
                return Err(StoreError::Invalid(format!(
                    "layer {blob}: unsupported media type {:?}",
                    desc.media_type().to_string()
                )));
            }
            if !self.has_blob(&blob)? {
                return Err(StoreError::BlobNotFound(blob));
            }
            let snap = self.snapshots().get(chain)?.ok_or_else(|| {
                StoreError::Invalid(format!("layer {diff} (chain {chain}) is not unpacked"))
            })?;
            size += snap.size;
            layers.push(ImageLayer {
                diff_id: diff.clone(),
                chain_id: chain.clone(),
            });
        }
        self.content().put_expected(config_bytes, &config_digest)?;
        self.content()
            .put_expected(manifest_bytes, &manifest_digest)?;
        let row = ImageRow {
            id: config_digest.clone(),
            manifest_digest,
            manifest_media_type: media_type,
            created: config.created.clone(),
            size,
            added_at: now_secs(),
        };
        let now = row.added_at;
        self.db().write(|tx| {
            q::insert(tx, &row, &layers)?;
            for r in tags {
                q::set_tag(tx, &r.to_string(), &row.id, now)?;
            }
            Ok(())
        })?;
        self.db()
            .with(|c| q::get(c, &config_digest))?
            .ok_or(StoreError::ImageNotFound(config_digest.to_string()))
    }

    /// Writes a config and an OCI manifest over `layers` (blobs this store
    /// holds, bottom first) and records the image.
    pub fn create_image(&self, config: &ImageConfig, layers: &[LayerBlob]) -> Result<ImageRow> {
        self.create_image_tagged(config, layers, &[])
    }

    /// [`Store::create_image`] with `tags` pointed at it in the same
    /// transaction (see [`Store::put_image_tagged`]).
    pub fn create_image_tagged(
        &self,
        config: &ImageConfig,
        layers: &[LayerBlob],
        tags: &[Reference],
    ) -> Result<ImageRow> {
        let config_bytes = config.to_vec();
        let config_digest = self.content().put(&config_bytes)?;
        let descs = layers
            .iter()
            .map(|l| descriptor(&l.media_type, &l.digest, l.size))
            .collect();
        let manifest_bytes = manifest::new_manifest(
            media::OCI_MANIFEST,
            descriptor(media::OCI_CONFIG, &config_digest, config_bytes.len() as u64),
            descs,
            None,
        );
        self.content().put(&manifest_bytes)?;
        self.put_image_tagged(&manifest_bytes, &config_bytes, tags)
    }

    /// The image `id` was committed from, while it is in the store.
    pub fn image_parent(&self, id: &Digest) -> Result<Option<Digest>> {
        self.db()
            .with(|c| Ok(q::parent(c, id)?.filter(|p| q::get(c, p).ok().flatten().is_some())))
    }

    /// Records that image `id` was committed from `parent` (docker's
    /// `Parent`).
    pub fn set_image_parent(&self, id: &Digest, parent: &Digest) -> Result<()> {
        self.db().write(|tx| q::set_parent(tx, id, parent))
    }

    /// Loads an image record with its manifest and config.
    pub fn image(&self, id: &Digest) -> Result<Image> {
        let row = self
            .db()
            .with(|c| q::get(c, id))?
            .ok_or_else(|| StoreError::ImageNotFound(id.to_string()))?;
        self.load_image(row)
    }

    fn load_image(&self, row: ImageRow) -> Result<Image> {
        let manifest_bytes = self.content().read(&row.manifest_digest)?;
        let manifest =
            manifest::parse_manifest(&manifest_bytes).map_err(|source| StoreError::Manifest {
                context: format!("manifest {}", row.manifest_digest),
                source,
            })?;
        let config_bytes = self.content().read(&row.id)?;
        let config =
            ImageConfig::from_slice(&config_bytes).map_err(|source| StoreError::Config {
                digest: row.id.clone(),
                source,
            })?;
        let layers = self.db().with(|c| q::layers(c, &row.id))?;
        Ok(Image {
            row,
            config,
            config_bytes,
            manifest,
            manifest_bytes,
            layers,
        })
    }

    /// Resolves what a user typed, as docker does: a reference (tag or
    /// `repo@digest`) first, then a full or short image ID (`sha256:` prefix
    /// optional, at least one hex digit).
    pub fn resolve_image(&self, input: &str) -> Result<Image> {
        let id = self.resolve_image_id(input)?;
        self.image(&id)
    }

    /// Like [`Store::resolve_image`], returning only the ID.
    pub fn resolve_image_id(&self, input: &str) -> Result<Digest> {
        let not_found = || StoreError::ImageNotFound(input.to_string());
        if let Some(hex) = input.strip_prefix("sha256:") {
            return self.find_id_prefix(input, hex)?.ok_or_else(not_found);
        }
        match Reference::parse(input) {
            Ok(r) => {
                if let Some(id) = self.lookup_reference(&r)? {
                    return Ok(id);
                }
            }
            Err(e) => {
                if !is_hex(input) {
                    return Err(e.into());
                }
            }
        }
        if is_hex(input)
            && let Some(id) = self.find_id_prefix(input, input)?
        {
            return Ok(id);
        }
        Err(not_found())
    }

    /// The image a normalised reference names, if any.
    pub fn lookup_reference(&self, r: &Reference) -> Result<Option<Digest>> {
        if let Some(d) = r.digest() {
            let digest = Digest::parse(d).map_err(|e| StoreError::Invalid(e.to_string()))?;
            return self.db().with(|c| {
                if let Some(id) = q::find_repo_digest(c, &r.repository(), &digest)? {
                    return Ok(Some(id));
                }
                q::find_by_manifest(c, &digest)
            });
        }
        self.db().with(|c| q::tag_target(c, &r.to_string()))
    }

    fn find_id_prefix(&self, input: &str, hex: &str) -> Result<Option<Digest>> {
        if hex.is_empty() || !is_hex(hex) {
            return Ok(None);
        }
        let ids = self.db().with(|c| q::find_by_prefix(c, hex))?;
        match ids.len() {
            0 => Ok(None),
            1 => Ok(ids.into_iter().next()),
            _ => Err(StoreError::AmbiguousImage(input.to_string())),
        }
    }

    /// All images, newest first.
    pub fn list_images(&self) -> Result<Vec<ImageRow>> {
        self.db().with(q::list)
    }

    /// Tags (`Reference`s) of an image.
    pub fn image_tags(&self, id: &Digest) -> Result<Vec<Reference>> {
        let names = self.db().with(|c| q::tags_of(c, id))?;
        Ok(names
            .iter()
            .filter_map(|n| Reference::parse(n).ok())
            .collect())
    }

    /// `repo@digest` references of an image.
    pub fn image_repo_digests(&self, id: &Digest) -> Result<Vec<Reference>> {
        let rows = self.db().with(|c| q::repo_digests_of(c, id))?;
        Ok(rows
            .iter()
            .filter_map(|(repo, d)| {
                Reference::parse_name_only(repo)
                    .ok()?
                    .with_digest(d.as_str())
                    .ok()
            })
            .collect())
    }

    /// Points `r` (a tagged reference) at image `id`.
    pub fn tag_image(&self, id: &Digest, r: &Reference) -> Result<()> {
        if r.tag().is_none() || r.digest().is_some() {
            return Err(StoreError::Invalid(format!(
                "refusing to create a tag with a digest reference: {}",
                r.familiar()
            )));
        }
        self.db().write(|tx| {
            if q::get(tx, id)?.is_none() {
                return Err(StoreError::ImageNotFound(id.to_string()));
            }
            q::set_tag(tx, &r.to_string(), id, now_secs())?;
            Ok(())
        })
    }

    /// Records `repo@manifest` for an image (after a pull or push).
    pub fn add_repo_digest(&self, id: &Digest, repo: &Reference, manifest: &Digest) -> Result<()> {
        self.db()
            .write(|tx| q::add_repo_digest(tx, &repo.repository(), manifest, id))
    }

    /// Removes an image or a reference to it, with docker's rules (see
    /// `docker image rm`): removing a reference untags; the image itself is
    /// deleted when its last reference goes, unless a container uses it.
    /// Garbage collection of the freed layers follows.
    pub fn remove_image(&self, input: &str, force: bool) -> Result<Vec<Removal>> {
        let id = self.resolve_image_id(input)?;
        let by_reference = Reference::parse(input)
            .ok()
            .filter(|r| self.lookup_reference(r).ok().flatten().as_ref() == Some(&id));
        let out = self.db().write(|tx| {
            let tags = q::tags_of(tx, &id)?;
            let digests = q::repo_digests_of(tx, &id)?;
            let containers = cq::using_image(tx, id.as_str())?;
            let mut out = Vec::new();
            let refs: Vec<String> = tags
                .iter()
                .cloned()
                .chain(digests.iter().map(|(r, d)| format!("{r}@{d}")))
                .collect();
            let untag = |out: &mut Vec<Removal>, name: &str| -> Result<()> {
                if let Some((repo, d)) = name.split_once('@') {
                    if let Ok(d) = Digest::parse(d) {
                        tx.execute(
                            "DELETE FROM repo_digests WHERE repo = ?1 AND digest = ?2",
                            rusqlite::params![repo, d.as_str()],
                        )?;
                    }
                } else {
                    q::remove_tag(tx, name)?;
                }
                out.push(Removal::Untagged(familiar(name)));
                Ok(())
            };
            if let Some(r) = &by_reference {
                let name = r.to_string();
                let repo = r.repository();
                let others: Vec<&String> = refs.iter().filter(|n| **n != name).collect();
                // Digest references of the same repository go with the tag.
                let same_repo_digests: Vec<&String> = others
                    .iter()
                    .copied()
                    .filter(|n| n.split_once('@').is_some_and(|(rp, _)| rp == repo))
                    .collect();
                let remaining = others.len() - same_repo_digests.len();
                if remaining > 0 {
                    untag(&mut out, &name)?;
                    return Ok(out);
                }
                if let Some(c) = containers.first()
                    && !force
                {
                    return Err(StoreError::Conflict(format!(
                        "conflict: unable to remove repository reference \"{}\" (must force) - container {} is using its referenced image {}",
                        r.familiar(),
                        &c.id[..12.min(c.id.len())],
                        id.short()
                    )));
                }
                untag(&mut out, &name)?;
                for n in same_repo_digests {
                    untag(&mut out, n)?;
                }
            } else {
                let repos: std::collections::BTreeSet<String> = refs
                    .iter()
                    .map(|n| n.split_once('@').map_or_else(|| repo_of(n), |(r, _)| r.to_string()))
                    .collect();
                if repos.len() > 1 && !force {
                    return Err(StoreError::Conflict(format!(
                        "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                        id.short()
                    )));
                }
                if let Some(c) = containers.first() {
                    let running = c.running;
                    if running || !force {
                        return Err(StoreError::Conflict(format!(
                            "conflict: unable to delete {} ({}) - image is being used by {} container {}",
                            id.short(),
                            if running { "cannot be forced" } else { "must be forced" },
                            if running { "running" } else { "stopped" },
                            &c.id[..12.min(c.id.len())]
                        )));
                    }
                }
                for n in &refs {
                    untag(&mut out, n)?;
                }
            }
            if containers.is_empty() {
                q::delete(tx, &id)?;
                out.push(Removal::Deleted(id.clone()));
            }
            Ok(out)
        })?;
        for r in &out {
            // docker's: an untag names the image by its ID.
            let (action, id) = match r {
                Removal::Untagged(_) => ("untag", id.to_string()),
                Removal::Deleted(d) => ("delete", d.to_string()),
            };
            let name = std::collections::BTreeMap::from([("name".to_string(), id.clone())]);
            self.record_event(&crate::events::Event::now("image", action, &id, name));
        }
        self.gc()?;
        Ok(out)
    }

    /// Layer blobs recorded for a diffID (smallest first).
    pub fn layer_blobs(&self, diff_id: &Digest) -> Result<Vec<LayerBlob>> {
        self.db().with(|c| lq::blobs_for(c, diff_id))
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn repo_of(tag: &str) -> String {
    Reference::parse(tag)
        .map(|r| r.repository())
        .unwrap_or_else(|_| tag.to_string())
}

fn familiar(name: &str) -> String {
    match name.split_once('@') {
        Some((repo, d)) => Reference::parse_name_only(repo)
            .map(|r| format!("{}@{d}", r.familiar_repository()))
            .unwrap_or_else(|_| name.to_string()),
        None => Reference::parse(name)
            .map(|r| r.familiar())
            .unwrap_or_else(|_| name.to_string()),
    }
}
