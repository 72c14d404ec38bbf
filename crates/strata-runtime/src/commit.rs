//! `commit`: a new image from a container's changes, as `docker commit`.
//!
//! The container's upper dir is exactly its changes in overlay form, so
//! the new layer is `Store::layer_from_dir(upper, parent chain, Overlay
//! whiteouts)` — no tree comparison. The image config is the container's
//! `Config` (its env, cmd, entrypoint, working dir, user, labels) over the
//! parent image's, with `--change` instructions applied by the caller, plus
//! one history entry (`created_by` = the container's cmd, `comment` = `-m`,
//! `author` = `-a`). A container without changes adds an `empty_layer`
//! history entry and no layer, as docker does. A running container is
//! frozen (cgroup freezer) while its upper dir is read, unless `--pause=false`.

use strata_oci::manifest::descriptor_digest;
use strata_oci::{ContainerConfig, Digest, History, Reference};
use strata_store::Store;
use strata_store::db::layers::LayerBlob;
use strata_store::ingest::DirLayerOptions;
use strata_store::layer::{Compression, WhiteoutFormat};

use crate::containers::{Container, paths};
use crate::error::{IoContext, Result, RuntimeError};
use crate::freezer_linux::ContainerCgroup;

/// `commit` flags.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// `REPOSITORY[:TAG]`.
    pub reference: Option<Reference>,
    /// `-m`.
    pub message: Option<String>,
    /// `-a`.
    pub author: Option<String>,
    /// The config to record (from [`container_config`], after `--change`).
    pub config: Option<ContainerConfig>,
    /// Freeze a running container while committing (`-p`, default true).
    pub pause: bool,
}

/// The container's config as `commit` records it before `--change`: the
/// parent image's config with the container's own settings over it.
pub fn container_config(store: &Store, c: &Container) -> Result<ContainerConfig> {
    let image = store.image(&parse_id(c)?)?;
    let mut cfg = image.config.config.clone().unwrap_or_default();
    let cc = &c.spec.config;
    cfg.user = (!cc.user.is_empty()).then(|| cc.user.clone());
    cfg.env = (!cc.env.is_empty()).then(|| cc.env.clone());
    cfg.cmd = cc.cmd.clone();
    cfg.entrypoint = cc.entrypoint.clone();
    cfg.working_dir = (!cc.working_dir.is_empty()).then(|| cc.working_dir.clone());
    cfg.labels = (!cc.labels.is_empty()).then(|| cc.labels.clone());
    if cc.stop_signal.is_some() {
        cfg.stop_signal = cc.stop_signal.clone();
    }
    // The merged healthcheck (`--health-*` over the image's), as docker's.
    if cc.healthcheck.is_some() {
        cfg.healthcheck = cc.healthcheck.clone();
    }
    // docker records the whole container config: the terminal and stdin
    // settings (so `run` of the image behaves as the container did), the
    // host and domain names and the image the container was made from.
    for (k, v) in [
        ("Hostname", serde_json::json!(cc.hostname)),
        ("Domainname", serde_json::json!(cc.domainname)),
        ("AttachStdin", serde_json::json!(cc.attach_stdin)),
        ("AttachStdout", serde_json::json!(cc.attach_stdout)),
        ("AttachStderr", serde_json::json!(cc.attach_stderr)),
        ("Tty", serde_json::json!(cc.tty)),
        ("OpenStdin", serde_json::json!(cc.open_stdin)),
        ("StdinOnce", serde_json::json!(cc.stdin_once)),
        ("Image", serde_json::json!(cc.image)),
    ] {
        cfg.extra.insert(k.to_string(), v);
    }
    Ok(cfg)
}

fn parse_id(c: &Container) -> Result<Digest> {
    Digest::parse(&c.image_id)
        .map_err(|e| RuntimeError::Invalid(format!("container {}: image ID: {e}", c.id)))
}

/// Commits `c`; returns the new image's ID.
pub fn commit(store: &Store, c: &Container, opts: &CommitOptions) -> Result<Digest> {
    let image = store.image(&parse_id(c)?)?;
    let p = paths(store, &c.id);
    let config = match &opts.config {
        Some(cfg) => cfg.clone(),
        None => container_config(store, c)?,
    };
    let mut layers: Vec<LayerBlob> = Vec::with_capacity(image.manifest.layers().len() + 1);
    for d in image.manifest.layers() {
        layers.push(LayerBlob {
            digest: descriptor_digest(d).map_err(|e| RuntimeError::Invalid(e.to_string()))?,
            media_type: d.media_type().to_string(),
            size: d.size(),
        });
    }
    let empty = std::fs::read_dir(&p.upper)
        .ctx("read", &p.upper)?
        .next()
        .is_none();
    let mut new = image.config.clone();
    let now = strata_oci::config::rfc3339_now();
    if !empty {
        // A container paused by `pause` stays paused (and is not thawed
        // after the commit).
        let _frozen = if opts.pause && c.is_running() && !c.state.paused {
            Freeze::cgroup(&c.id)
        } else {
            None
        };
        let parent = image.chain_ids().last().cloned();
        let layer = store.layer_from_dir(
            &p.upper,
            parent.as_ref(),
            &DirLayerOptions {
                whiteouts: WhiteoutFormat::Overlay,
                compression: Compression::GZIP,
                source_date_epoch: None,
                adopt_dir: false,
            },
        )?;
        let blob = layer.blob.ok_or_else(|| {
            RuntimeError::Invalid(format!("container {}: the new layer has no blob", c.id))
        })?;
        new.rootfs.diff_ids.push(layer.diff_id);
        layers.push(blob);
    }
    new.history.push(History {
        created: Some(now.clone()),
        created_by: Some(c.spec.config.cmd.clone().unwrap_or_default().join(" ")),
        author: opts.author.clone(),
        comment: opts.message.clone(),
        empty_layer: empty,
    });
    new.created = Some(now);
    new.author = opts.author.clone();
    new.config = Some(config);
    new.extra
        .insert("container".into(), serde_json::Value::String(c.id.clone()));
    // docker's image `Comment` is the commit message (the parent's, e.g.
    // "Imported from -", does not carry over).
    match &opts.message {
        Some(m) => {
            new.extra
                .insert("comment".into(), serde_json::Value::String(m.clone()));
        }
        None => {
            new.extra.remove("comment");
        }
    }
    let tags: Vec<_> = opts.reference.iter().cloned().collect();
    let row = store.create_image_tagged(&new, &layers, &tags)?;
    if row.id != *image.id() {
        store.set_image_parent(&row.id, image.id())?;
    }
    Ok(row.id)
}

/// A frozen cgroup, thawed on drop.
struct Freeze(ContainerCgroup);

impl Freeze {
    fn cgroup(id: &str) -> Option<Freeze> {
        let cg = ContainerCgroup::of(id);
        cg.freeze().ok()?;
        Some(Freeze(cg))
    }
}

impl Drop for Freeze {
    fn drop(&mut self) {
        let _ = self.0.thaw();
    }
}
