//! `image pull`: reference → manifest (index resolved to the host
//! platform) → config → layers (parallel, streamed, verified, unpacked) →
//! image record, tag and RepoDigest.
//!
//! ```text
//! GET manifests/<tag|digest>  ── index? ──> select linux/<arch> ──> GET manifests/<digest>
//! GET blobs/<config>          (skipped when the store has it)
//! layers: see [`crate::fetch`] — all or nothing
//! store.put_image(manifest bytes as received, config bytes)
//! tag <reference>, RepoDigest <repo>@<digest the reference resolved to>
//! ```
//! The manifest bytes are kept exactly as the registry sent them, so the
//! image's manifest digest is the registry's and `save` writes it back
//! byte-identical. Docker records the digest the *reference* resolved to
//! as RepoDigest (the index digest for a multi-platform tag); so does strata.

use std::sync::Arc;

use strata_oci::manifest::{self, DocumentKind, descriptor_digest};
use strata_oci::{Digest, ImageConfig, Reference, host_platform, media};
use strata_store::{Image, Store};
use tokio::runtime::Runtime;

use crate::client::RegistryClient;
use crate::config::RegistryOptions;
use crate::error::{RegistryError, Result};
use crate::fetch::{Fetcher, LayerJob};
use crate::progress::{self, Event, ProgressRef};
use crate::runtime::with_runtime;

/// Largest image config accepted.
pub const MAX_CONFIG: u64 = manifest::MAX_CONFIG_SIZE;

/// How to pull.
#[derive(Clone)]
pub struct PullOptions {
    /// Registry access (TLS policy, credentials, retries).
    pub registry: RegistryOptions,
    /// `--platform`; must be the host's (strata does not emulate).
    pub platform: Option<String>,
    /// Progress events.
    pub progress: ProgressRef,
    /// Layers downloaded at once (docker's default is 3).
    pub max_concurrent_downloads: usize,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            registry: RegistryOptions::default(),
            platform: None,
            progress: progress::none(),
            max_concurrent_downloads: 3,
        }
    }
}

impl std::fmt::Debug for PullOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullOptions")
            .field("registry", &self.registry)
            .field("platform", &self.platform)
            .field("max_concurrent_downloads", &self.max_concurrent_downloads)
            .finish()
    }
}

/// What a pull did.
#[derive(Debug, Clone)]
pub struct PullReport {
    /// The image now in the store.
    pub image: Image,
    /// The reference pulled (normalised).
    pub reference: Reference,
    /// The digest the reference resolved to (an index's, for a
    /// multi-platform tag): docker's `Digest:` line and RepoDigest.
    pub digest: Digest,
    /// The platform manifest's digest (the image's manifest).
    pub manifest_digest: Digest,
    /// False when the reference already named this image ("Image is up to
    /// date").
    pub updated: bool,
    /// Layers downloaded or unpacked.
    pub layers_fetched: usize,
}

/// `os/arch[/variant]` of `--platform`, checked against the host.
pub fn check_platform(p: &str) -> Result<()> {
    if strata_oci::is_host_platform(p) {
        Ok(())
    } else {
        Err(RegistryError::Platform(p.to_string()))
    }
}

/// Pulls `reference` into `store` and returns the image. Usable from sync
/// code (it runs its own tokio runtime); the build engine's `FROM` and
/// `container run` of a missing image call this.
pub fn pull(store: &Store, reference: &Reference, opts: &PullOptions) -> Result<Image> {
    pull_report(store, reference, opts).map(|r| r.image)
}

/// Like [`pull`], with what happened (for docker's output).
pub fn pull_report(store: &Store, reference: &Reference, opts: &PullOptions) -> Result<PullReport> {
    if let Some(p) = &opts.platform {
        check_platform(p)?;
    }
    with_runtime(|rt| {
        let client = Arc::new(crate::runtime::block_on(
            rt,
            RegistryClient::connect(reference.domain(), &opts.registry),
        )?);
        Puller {
            store,
            rt,
            client: &client,
            opts,
        }
        .pull_one(reference)
    })
    .map_err(|e| e.for_operation(&format!("pull {}", reference.familiar())))
}

/// `--all-tags`: pulls every tag of `repository` (a name without tag).
pub fn pull_all_tags(
    store: &Store,
    repository: &Reference,
    opts: &PullOptions,
) -> Result<Vec<PullReport>> {
    if repository.tag().is_some() || repository.digest().is_some() {
        return Err(RegistryError::Invalid(
            "tag can't be used with --all-tags/-a".to_string(),
        ));
    }
    if let Some(p) = &opts.platform {
        check_platform(p)?;
    }
    with_runtime(|rt| {
        let client = Arc::new(crate::runtime::block_on(
            rt,
            RegistryClient::connect(repository.domain(), &opts.registry),
        )?);
        let mut tags = crate::runtime::block_on(rt, client.list_tags(repository.path()))?;
        tags.sort();
        let puller = Puller {
            store,
            rt,
            client: &client,
            opts,
        };
        let mut out = Vec::new();
        for t in tags {
            let r = repository.with_tag(&t)?;
            out.push(
                puller
                    .pull_one(&r)
                    .map_err(|e| e.for_operation(&format!("pull {}", r.familiar())))?,
            );
        }
        Ok(out)
    })
}

struct Puller<'a> {
    store: &'a Store,
    rt: &'a Runtime,
    client: &'a Arc<RegistryClient>,
    opts: &'a PullOptions,
}

fn manifest_err(context: &str, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Manifest {
        context: context.to_string(),
        reason: e.to_string(),
    }
}

impl Puller<'_> {
    fn pull_one(&self, reference: &Reference) -> Result<PullReport> {
        let repo = reference.path();
        let shown = reference.familiar();
        let target = reference
            .digest()
            .or(reference.tag())
            .unwrap_or(strata_oci::reference::DEFAULT_TAG)
            .to_string();
        self.opts.progress.event(Event::PullStart {
            tag: target.clone(),
            repository: repo.to_string(),
        });
        let before = self.store.lookup_reference(reference)?;
        let top =
            crate::runtime::block_on(self.rt, self.client.get_manifest(repo, &target, &shown))?;
        let (kind, _) = manifest::classify(&top.bytes, Some(&top.media_type))
            .map_err(|e| manifest_err(&shown, e))?;
        let platform = match kind {
            DocumentKind::Manifest => top.clone(),
            DocumentKind::Index => {
                let index =
                    manifest::parse_index(&top.bytes).map_err(|e| manifest_err(&shown, e))?;
                let (os, arch, variant) = host_platform();
                let desc =
                    manifest::select_platform(&index, os, arch, variant).ok_or_else(|| {
                        RegistryError::NoMatchingPlatform {
                            reference: shown.clone(),
                            platform: strata_oci::host_platform_string(),
                        }
                    })?;
                let d = descriptor_digest(desc).map_err(|e| manifest_err(&shown, e))?;
                let m = crate::runtime::block_on(
                    self.rt,
                    self.client
                        .get_manifest(repo, d.as_str(), &format!("{shown}@{d}")),
                )?;
                if manifest::classify(&m.bytes, None).map(|k| k.0).ok()
                    != Some(DocumentKind::Manifest)
                {
                    return Err(manifest_err(
                        &format!("{shown}@{d}"),
                        "the index entry is not an image manifest",
                    ));
                }
                m
            }
        };
        let ctx = format!("manifest {}", platform.digest);
        // Absurd descriptor sizes (negative, a config over its limit, a
        // layer over 1 TiB) are refused before anything is fetched.
        manifest::check_sizes(&top.bytes, MAX_CONFIG).map_err(|e| manifest_err(&shown, e))?;
        manifest::check_sizes(&platform.bytes, MAX_CONFIG).map_err(|e| manifest_err(&ctx, e))?;
        let m = manifest::parse_manifest(&platform.bytes).map_err(|e| manifest_err(&ctx, e))?;
        let cfg_digest = descriptor_digest(m.config()).map_err(|e| manifest_err(&ctx, e))?;
        let cfg_type = m.config().media_type().to_string();
        if !media::is_config(&cfg_type) {
            return Err(manifest_err(
                &shown,
                format!("not a container image (config media type {cfg_type:?})"),
            ));
        }
        let config_bytes = match self.store.content().read(&cfg_digest) {
            Ok(b) => b,
            Err(_) => crate::runtime::block_on(
                self.rt,
                self.client
                    .get_small_blob(repo, &cfg_digest, m.config().size(), MAX_CONFIG),
            )?,
        };
        let config = ImageConfig::from_slice(&config_bytes)
            .map_err(|e| manifest_err(&format!("image config {cfg_digest}"), e))?;
        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != m.layers().len() {
            return Err(manifest_err(
                &ctx,
                format!(
                    "{} layers but the config lists {} diffIDs",
                    m.layers().len(),
                    diff_ids.len()
                ),
            ));
        }
        let chains = config.chain_ids();
        let mut jobs = Vec::with_capacity(diff_ids.len());
        for (i, desc) in m.layers().iter().enumerate() {
            let blob = descriptor_digest(desc).map_err(|e| manifest_err(&ctx, e))?;
            jobs.push(LayerJob {
                blob,
                size: desc.size(),
                media_type: desc.media_type().to_string(),
                diff_id: diff_ids[i].clone(),
                chain: chains[i].clone(),
                parent: i.checked_sub(1).map(|p| chains[p].clone()),
            });
        }
        let fetched = Fetcher {
            store: self.store,
            rt: self.rt,
            client: self.client,
            repo,
            concurrency: self.opts.max_concurrent_downloads,
            progress: &self.opts.progress,
        }
        .fetch(&jobs)?;
        // Recorded and tagged at once: never dangling for `image prune`.
        let tags: Vec<Reference> = (reference.tag().is_some() && reference.digest().is_none())
            .then(|| reference.clone())
            .into_iter()
            .collect();
        let row = self
            .store
            .put_image_tagged(&platform.bytes, &config_bytes, &tags)?;
        self.store
            .add_repo_digest(&row.id, reference, &top.digest)?;
        let image = self.store.image(&row.id)?;
        Ok(PullReport {
            updated: before.as_ref() != Some(&row.id),
            image,
            reference: reference.clone(),
            digest: top.digest,
            manifest_digest: platform.digest,
            layers_fetched: fetched,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_host_platform_is_accepted() {
        let host = strata_oci::host_platform_string();
        check_platform(&host).unwrap();
        let (os, arch, _) = host_platform();
        check_platform(&format!("{os}/{arch}")).unwrap();
        let other = if arch == "amd64" {
            "linux/arm64"
        } else {
            "linux/amd64"
        };
        let err = check_platform(other).unwrap_err().to_string();
        assert!(err.contains(other), "{err}");
        assert!(check_platform("windows/amd64").is_err());
        assert!(check_platform(&format!("{host}/extra/parts")).is_err());
    }
}
