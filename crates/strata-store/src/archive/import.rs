//! `image import`: a rootfs tarball (plain, gzip or zstd) becomes a
//! one-layer image, as `docker import` makes it. The tarball's bytes are
//! kept as the layer blob unchanged; its uncompressed stream is the layer
//! (diffID = sha256 of it).

use std::io::Read;

use strata_oci::{ContainerConfig, History, ImageConfig, config::rfc3339_now, host_platform};

use crate::Store;
use crate::db::images::ImageRow;
use crate::error::Result;
use crate::ingest::LayerSource;

/// Options of an import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// `-m`: the commit message (docker default: `Imported from <source>`).
    pub message: Option<String>,
    /// Where the tarball came from (`-` for stdin, a path, a URL).
    pub source: String,
    /// The container config (after `--change`s).
    pub config: ContainerConfig,
}

impl Store {
    /// Imports a rootfs tarball as a new image.
    pub fn import_rootfs(&self, reader: impl Read, opts: &ImportOptions) -> Result<ImageRow> {
        let src = LayerSource {
            keep_blob: true,
            ..LayerSource::default()
        };
        let layer = self.ingest_layer(None, &src, reader)?;
        let blob = layer
            .blob
            .clone()
            .ok_or_else(|| crate::StoreError::Invalid("imported layer kept no blob".into()))?;
        let created = rfc3339_now();
        let comment = opts
            .message
            .clone()
            .unwrap_or_else(|| format!("Imported from {}", opts.source));
        let (os, arch, variant) = host_platform();
        let mut config = ImageConfig {
            architecture: arch.to_string(),
            os: os.to_string(),
            variant: variant.map(str::to_string),
            created: Some(created.clone()),
            config: Some(opts.config.clone()),
            history: vec![History {
                created: Some(created),
                comment: Some(comment.clone()),
                ..History::default()
            }],
            ..ImageConfig::default()
        };
        config
            .extra
            .insert("comment".into(), serde_json::Value::String(comment));
        config.rootfs.diff_ids = vec![layer.diff_id.clone()];
        self.create_image(&config, &[blob])
    }
}
