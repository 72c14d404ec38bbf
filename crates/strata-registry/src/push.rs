//! `image push`: local image → blobs (parallel; HEAD, mount, upload) →
//! manifest last → RepoDigest.
//!
//! ```text
//! for each layer (diffID, manifest descriptor):
//!   blob compressed and present      → sent as is (never recompressed)
//!   blob uncompressed (import/load)  → a recorded gzip/zstd blob of that diffID if the store has one,
//!                                      else gzip once, streaming, into the content store, recorded
//!                                      for the diffID (the next push reuses it)
//!   blob missing                     → another recorded blob of that diffID, else an error
//! upload each blob + the config: HEAD → mount from a repository the image came from → upload
//! manifest: the stored bytes when every blob was used as is (digest unchanged, byte-identical);
//!           otherwise the same manifest with the new layer descriptors, which the image then
//!           points at (db::images::set_manifest) so later pushes and saves agree with the registry
//! PUT manifests/<tag>; RepoDigest <repo>@<digest>
//! ```

use std::io;
use std::sync::Arc;

use futures_util::StreamExt;
use strata_oci::manifest::descriptor_digest;
use strata_oci::media::{self, LayerCompression};
use strata_oci::{Digest, Reference, VerifyingReader};
use strata_store::Store;
use strata_store::content::ContentStore;
use strata_store::db::Db;
use strata_store::db::images as iq;
use strata_store::db::layers::{self as lq, LayerBlob};
use strata_store::layer::{Compression, Compressor};

use crate::client::RegistryClient;
use crate::config::RegistryOptions;
use crate::error::{RegistryError, Result};
use crate::progress::{self, Event, LayerStatus, ProgressRef};
use crate::runtime::with_runtime;
use crate::upload::{UploadBlob, UploadOptions, Uploaded, upload_blob};

/// How to push.
#[derive(Clone)]
pub struct PushOptions {
    /// Registry access.
    pub registry: RegistryOptions,
    /// Progress events.
    pub progress: ProgressRef,
    /// Blobs uploaded at once (docker's default is 5).
    pub max_concurrent_uploads: usize,
    /// Monolithic vs chunked upload.
    pub upload: UploadOptions,
    /// Compression for layers strata holds uncompressed.
    pub compression: Compression,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            registry: RegistryOptions::default(),
            progress: progress::none(),
            max_concurrent_uploads: 5,
            upload: UploadOptions::default(),
            compression: Compression::GZIP,
        }
    }
}

impl std::fmt::Debug for PushOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushOptions")
            .field("registry", &self.registry)
            .field("max_concurrent_uploads", &self.max_concurrent_uploads)
            .field("upload", &self.upload)
            .field("compression", &self.compression)
            .finish()
    }
}

/// What a push did.
#[derive(Debug, Clone)]
pub struct PushReport {
    /// The reference pushed.
    pub reference: Reference,
    /// The tag (docker's `<tag>: digest: … size: …` line).
    pub tag: String,
    /// The image ID.
    pub image_id: Digest,
    /// The manifest's digest.
    pub manifest_digest: Digest,
    /// The manifest's size in bytes.
    pub manifest_size: u64,
    /// Blobs actually sent (not found in, nor mounted into, the registry).
    pub blobs_uploaded: usize,
}

/// One layer as it will be pushed.
#[derive(Debug, Clone)]
pub(crate) struct PushLayer {
    pub diff_id: Digest,
    /// The blob to send, once known.
    pub blob: Option<LayerBlob>,
    /// The uncompressed blob to compress first.
    pub compress_from: Option<Digest>,
}

/// Decides, for each layer of an image, which blob to send.
pub(crate) fn plan_layers(
    store: &Store,
    image: &strata_store::Image,
) -> Result<(Vec<PushLayer>, bool)> {
    let mut out = Vec::new();
    let mut rewrite = false;
    for (desc, layer) in image.manifest.layers().iter().zip(&image.layers) {
        let digest = descriptor_digest(desc).map_err(|e| RegistryError::Manifest {
            context: format!("manifest {}", image.row.manifest_digest),
            reason: e.to_string(),
        })?;
        let mt = desc.media_type().to_string();
        let compressed =
            LayerCompression::of_media_type(&mt).is_some_and(|c| c != LayerCompression::None);
        if compressed && store.content().exists(&digest) {
            out.push(PushLayer {
                diff_id: layer.diff_id.clone(),
                blob: Some(LayerBlob {
                    digest,
                    media_type: mt,
                    size: desc.size(),
                }),
                compress_from: None,
            });
            continue;
        }
        rewrite = true;
        let known = store.layer_blobs(&layer.diff_id)?;
        let other = known.iter().find(|b| {
            LayerCompression::of_media_type(&b.media_type)
                .is_some_and(|c| c != LayerCompression::None)
                && store.content().exists(&b.digest)
        });
        if let Some(b) = other {
            out.push(PushLayer {
                diff_id: layer.diff_id.clone(),
                blob: Some(b.clone()),
                compress_from: None,
            });
            continue;
        }
        // The uncompressed tar's digest is the diffID itself.
        if !store.ensure_blob(&layer.diff_id)? {
            return Err(RegistryError::Invalid(format!(
                "layer {}: no blob of it is in the store (cannot push image {})",
                layer.diff_id,
                image.row.id.short()
            )));
        }
        out.push(PushLayer {
            diff_id: layer.diff_id.clone(),
            blob: None,
            compress_from: Some(layer.diff_id.clone()),
        });
    }
    Ok((out, rewrite))
}

/// Compresses the uncompressed layer blob `src` (whose digest is its
/// diffID) into the content store and records it for the diffID.
pub(crate) fn compress_layer(
    content: &ContentStore,
    db: &Db,
    src: &Digest,
    compression: Compression,
) -> Result<LayerBlob> {
    let file = content.open(src)?;
    let mut reader = VerifyingReader::new(
        io::BufReader::with_capacity(256 << 10, file),
        src.clone(),
        None,
    );
    let mut w = content.writer(None)?;
    let res = (|| -> io::Result<()> {
        let mut c = Compressor::new(&mut w, compression).map_err(io::Error::other)?;
        io::copy(&mut reader, &mut c)?;
        c.finish()?;
        Ok(())
    })();
    if let Err(e) = res {
        w.abort();
        return Err(RegistryError::Invalid(format!(
            "compressing layer {src}: {e}"
        )));
    }
    let (digest, size) = w.commit()?;
    let blob = LayerBlob {
        digest,
        media_type: compression.layer_compression().oci_media_type().to_string(),
        size,
    };
    db.write(|tx| lq::add_blob(tx, src, &blob))?;
    Ok(blob)
}

/// The manifest with `layers` as its layer descriptors (media types in
/// the manifest's family: Docker or OCI).
pub(crate) fn rewrite_manifest(
    bytes: &[u8],
    media_type: &str,
    layers: &[LayerBlob],
) -> Result<Vec<u8>> {
    let bad = |r: String| RegistryError::Manifest {
        context: "manifest".into(),
        reason: r,
    };
    let mut doc: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let docker = media_type == media::DOCKER_MANIFEST;
    let descs = doc
        .get_mut("layers")
        .and_then(|l| l.as_array_mut())
        .ok_or_else(|| bad("no layers".into()))?;
    if descs.len() != layers.len() {
        return Err(bad("layer count changed".into()));
    }
    for (d, l) in descs.iter_mut().zip(layers) {
        let c = LayerCompression::of_media_type(&l.media_type).unwrap_or(LayerCompression::Gzip);
        let mt = if docker {
            c.docker_media_type()
        } else {
            c.oci_media_type()
        };
        if let Some(obj) = d.as_object_mut() {
            obj.insert("mediaType".into(), mt.into());
            obj.insert("digest".into(), l.digest.as_str().into());
            obj.insert("size".into(), l.size.into());
            obj.remove("urls");
        }
    }
    serde_json::to_vec(&doc).map_err(|e| bad(e.to_string()))
}

/// Repositories of the same registry this image is known in (mount sources).
fn mount_sources(store: &Store, id: &Digest, target: &Reference) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let refs = store
        .image_repo_digests(id)?
        .into_iter()
        .chain(store.image_tags(id)?);
    for r in refs {
        if r.domain() == target.domain()
            && r.path() != target.path()
            && !out.iter().any(|p| p == r.path())
        {
            out.push(r.path().to_string());
        }
    }
    Ok(out)
}

/// Pushes the local image `reference` names to that reference.
pub fn push(store: &Store, reference: &Reference, opts: &PushOptions) -> Result<PushReport> {
    with_runtime(|rt| {
        let client = Arc::new(crate::runtime::block_on(
            rt,
            RegistryClient::connect(reference.domain(), &opts.registry),
        )?);
        crate::runtime::block_on(rt, push_one(store, &client, reference, opts))
    })
    .map_err(|e| e.for_operation(&format!("push {}", reference.familiar())))
}

/// `--all-tags`: pushes every local tag of `repository`.
pub fn push_all_tags(
    store: &Store,
    repository: &Reference,
    opts: &PushOptions,
) -> Result<Vec<PushReport>> {
    let repo = repository.repository();
    let mut refs: Vec<Reference> = Vec::new();
    for row in store.list_images()? {
        for t in store.image_tags(&row.id)? {
            if t.repository() == repo {
                refs.push(t);
            }
        }
    }
    refs.sort();
    if refs.is_empty() {
        return Err(RegistryError::Invalid(format!(
            "An image does not exist locally with the tag: {}",
            repository.familiar_repository()
        )));
    }
    with_runtime(|rt| {
        let client = Arc::new(crate::runtime::block_on(
            rt,
            RegistryClient::connect(repository.domain(), &opts.registry),
        )?);
        refs.iter()
            .map(|r| {
                crate::runtime::block_on(rt, push_one(store, &client, r, opts))
                    .map_err(|e| e.for_operation(&format!("push {}", r.familiar())))
            })
            .collect()
    })
}

async fn push_one(
    store: &Store,
    client: &Arc<RegistryClient>,
    reference: &Reference,
    opts: &PushOptions,
) -> Result<PushReport> {
    let id = store.lookup_reference(reference)?.ok_or_else(|| {
        RegistryError::Invalid(format!(
            "An image does not exist locally with the tag: {}",
            reference.familiar()
        ))
    })?;
    let image = store.image(&id)?;
    let repo = reference.path().to_string();
    opts.progress.event(Event::PushStart {
        repository: reference.familiar_repository(),
    });
    let (mut layers, rewrite) = plan_layers(store, &image)?;
    for l in layers.iter().rev() {
        progress::layer(&opts.progress, l.diff_id.short(), LayerStatus::Preparing);
    }
    let sources = mount_sources(store, &id, reference)?;
    let content = store.content().clone();
    let db = store.db_arc();
    // Every layer: compress if needed, then upload; the config alongside.
    let jobs = layers.iter().enumerate().map(|(i, l)| {
        let l = l.clone();
        let (content, db, client, sources, repo) = (
            content.clone(),
            db.clone(),
            client.clone(),
            sources.clone(),
            repo.clone(),
        );
        let progress = opts.progress.clone();
        let (upload_opts, compression) = (opts.upload, opts.compression);
        async move {
            let id = l.diff_id.short().to_string();
            let blob = match (l.blob, l.compress_from) {
                (Some(b), _) => b,
                (None, Some(src)) => {
                    progress::layer(&progress, &id, LayerStatus::Compressing);
                    {
                        let content = content.clone();
                        tokio::task::spawn_blocking(move || {
                            compress_layer(&content, &db, &src, compression)
                        })
                    }
                    .await
                    .map_err(|e| RegistryError::Invalid(format!("compression task: {e}")))??
                }
                (None, None) => {
                    return Err(RegistryError::Invalid(format!(
                        "layer {}: nothing to push",
                        l.diff_id
                    )));
                }
            };
            let ub = UploadBlob {
                digest: blob.digest.clone(),
                size: blob.size,
                path: content.path(&blob.digest),
                id: Some(id.clone()),
                mount_from: sources,
            };
            let done = upload_blob(&client, &repo, &ub, &upload_opts, &progress)
                .await
                .map_err(|e| e.in_layer(&blob.digest))?;
            let status = match &done {
                Uploaded::Existed => LayerStatus::LayerAlreadyExists,
                Uploaded::Mounted(from) => LayerStatus::MountedFrom(from.clone()),
                Uploaded::Pushed => LayerStatus::Pushed,
            };
            progress::layer(&progress, &id, status);
            Ok::<_, RegistryError>((i, blob, done == Uploaded::Pushed))
        }
    });
    let config = UploadBlob {
        digest: id.clone(),
        size: image.config_bytes.len() as u64,
        path: store.content().path(&id),
        id: None,
        mount_from: sources.clone(),
    };
    let config_job = upload_blob(client, &repo, &config, &opts.upload, &opts.progress);
    let results: Vec<Result<(usize, LayerBlob, bool)>> = futures_util::stream::iter(jobs)
        .buffer_unordered(opts.max_concurrent_uploads.max(1))
        .collect()
        .await;
    let config_done = config_job.await?;
    let mut uploaded = usize::from(config_done == Uploaded::Pushed);
    for r in results {
        let (i, blob, sent) = r?;
        uploaded += usize::from(sent);
        layers[i].blob = Some(blob);
    }
    let (bytes, media_type) = if rewrite {
        let blobs: Vec<LayerBlob> = layers.iter().filter_map(|l| l.blob.clone()).collect();
        let mt = image.row.manifest_media_type.clone();
        (rewrite_manifest(&image.manifest_bytes, &mt, &blobs)?, mt)
    } else {
        (
            image.manifest_bytes.clone(),
            image.row.manifest_media_type.clone(),
        )
    };
    let tag = reference
        .tag()
        .unwrap_or(strata_oci::reference::DEFAULT_TAG)
        .to_string();
    let target = reference.digest().unwrap_or(&tag).to_string();
    let digest = client
        .put_manifest(&repo, &target, &bytes, &media_type, &reference.familiar())
        .await?;
    if rewrite {
        store.content().put_expected(&bytes, &digest)?;
        store
            .db()
            .write(|tx| iq::set_manifest(tx, &id, &digest, &media_type))?;
    }
    store.add_repo_digest(&id, reference, &digest)?;
    Ok(PushReport {
        reference: reference.clone(),
        tag,
        image_id: id,
        manifest_digest: digest,
        manifest_size: bytes.len() as u64,
        blobs_uploaded: uploaded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_keeps_family_and_fields() {
        let old = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar","size":5,"digest":"sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}]}"#;
        let blob = LayerBlob {
            digest: Digest::of(b"gz"),
            media_type: media::OCI_LAYER_GZIP.into(),
            size: 2,
        };
        let new =
            rewrite_manifest(old, media::DOCKER_MANIFEST, std::slice::from_ref(&blob)).unwrap();
        let m = strata_oci::manifest::parse_manifest(&new).unwrap();
        assert_eq!(
            m.layers()[0].media_type().to_string(),
            media::DOCKER_LAYER_GZIP
        );
        assert_eq!(descriptor_digest(&m.layers()[0]).unwrap(), blob.digest);
        assert_eq!(m.config().size(), 2);
        let oci = rewrite_manifest(
            &String::from_utf8_lossy(old)
                .replace(media::DOCKER_MANIFEST, media::OCI_MANIFEST)
                .into_bytes(),
            media::OCI_MANIFEST,
            &[blob],
        )
        .unwrap();
        let m = strata_oci::manifest::parse_manifest(&oci).unwrap();
        assert_eq!(
            m.layers()[0].media_type().to_string(),
            media::OCI_LAYER_GZIP
        );
        assert!(rewrite_manifest(old, media::OCI_MANIFEST, &[]).is_err());
    }
}
