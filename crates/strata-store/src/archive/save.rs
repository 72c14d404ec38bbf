//! `image save`: write images as a docker-archive or an OCI-layout tar.
//!
//! Both formats carry the blobs exactly as the store holds them — a
//! compressed layer is copied, never recompressed or re-encoded — so the
//! manifest digests inside match the store's. `--format docker` writes
//! docker's `manifest.json` + `repositories` *and* the OCI layout files
//! (`oci-layout`, `index.json`, `blobs/`), like docker 25+'s `save`; docker
//! and skopeo accept compressed layer files in a docker-archive.
//!
//! Blob bytes are copied file-to-file with `std::io::copy`, which on Linux
//! uses `copy_file_range`/`sendfile` when the output is a file or pipe.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Write};

use strata_oci::manifest::{
    ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, DockerArchiveImage, OCI_LAYOUT_FILE, descriptor,
    descriptor_digest,
};
use strata_oci::{Digest, Reference, media};

use crate::Store;
use crate::error::{IoContext, Result, StoreError};
use crate::images::Image;

/// The archive format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveFormat {
    /// docker-archive (`docker save`), also a valid OCI layout.
    Docker,
    /// OCI image layout.
    Oci,
}

/// One image to save, with the tags to record for it.
#[derive(Debug, Clone)]
pub struct SaveItem {
    /// The image.
    pub image: Image,
    /// Tags to name it by (empty when saved by ID).
    pub tags: Vec<Reference>,
}

/// A minimal streaming tar writer: ustar headers, data copied straight
/// from files.
struct TarOut<W: Write> {
    out: W,
    written: HashSet<String>,
}

impl<W: Write> TarOut<W> {
    fn header(&mut self, path: &str, size: u64, kind: tar::EntryType, mode: u32) -> io::Result<()> {
        // A cancelled save (a signal) stops between members.
        crate::cancel::Cancel::global().check()?;
        let mut h = tar::Header::new_ustar();
        h.set_path(path)?;
        h.set_size(size);
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        self.out.write_all(h.as_bytes())
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let rem = (512 - size % 512) % 512;
        self.out.write_all(&[0u8; 512][..rem as usize])
    }

    fn dir(&mut self, path: &str) -> io::Result<()> {
        if self.written.insert(path.to_string()) {
            self.header(path, 0, tar::EntryType::Directory, 0o755)?;
        }
        Ok(())
    }

    fn bytes(&mut self, path: &str, data: &[u8]) -> io::Result<()> {
        if !self.written.insert(path.to_string()) {
            return Ok(());
        }
        self.header(path, data.len() as u64, tar::EntryType::Regular, 0o644)?;
        self.out.write_all(data)?;
        self.pad(data.len() as u64)
    }

    fn file(&mut self, path: &str, f: File, size: u64) -> io::Result<()> {
        if !self.written.insert(path.to_string()) {
            return Ok(());
        }
        self.header(path, size, tar::EntryType::Regular, 0o644)?;
        let n = io::copy(&mut Read::take(f, size), &mut self.out)?;
        if n != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{path}: blob shrank while saving ({n} of {size} bytes)"),
            ));
        }
        self.pad(size)
    }

    fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[0u8; 1024])?;
        self.out.flush()?;
        Ok(self.out)
    }
}

fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

impl Store {
    /// Writes `items` as one archive to `out`.
    pub fn save<W: Write>(&self, items: &[SaveItem], format: SaveFormat, out: W) -> Result<W> {
        let mut tar = TarOut {
            out,
            written: HashSet::new(),
        };
        let io_ctx = |e: io::Error| StoreError::Invalid(format!("writing archive: {e}"));
        tar.dir("blobs/").map_err(io_ctx)?;
        tar.dir("blobs/sha256/").map_err(io_ctx)?;
        let mut index = Vec::new();
        let mut docker_manifest = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for item in items {
            let img = &item.image;
            let mut layer_paths = Vec::new();
            for l in img.manifest.layers() {
                let d = descriptor_digest(l).map_err(|e| StoreError::Invalid(e.to_string()))?;
                let f = self.open_blob(&d)?;
                let size = f
                    .metadata()
                    .ctx("stat blob", self.content().path(&d))?
                    .len();
                if size != l.size() {
                    return Err(StoreError::DigestMismatch {
                        what: "stored blob",
                        expected: d,
                        detail: format!("manifest says {} bytes, store has {size}", l.size()),
                    });
                }
                tar.file(&blob_path(&d), f, size).map_err(io_ctx)?;
                layer_paths.push(blob_path(&d));
            }
            tar.bytes(&blob_path(img.id()), &img.config_bytes)
                .map_err(io_ctx)?;
            tar.bytes(&blob_path(&img.row.manifest_digest), &img.manifest_bytes)
                .map_err(io_ctx)?;
            let mdesc = || {
                descriptor(
                    &img.row.manifest_media_type,
                    &img.row.manifest_digest,
                    img.manifest_bytes.len() as u64,
                )
            };
            if item.tags.is_empty() {
                index.push(mdesc());
            }
            for t in &item.tags {
                let mut d = mdesc();
                let mut ann = std::collections::HashMap::new();
                ann.insert(ANNOTATION_IMAGE_NAME.to_string(), t.to_string());
                if let Some(tag) = t.tag() {
                    ann.insert(ANNOTATION_REF_NAME.to_string(), tag.to_string());
                    if let Some(top) = layer_paths.last() {
                        repositories
                            .entry(t.familiar_repository())
                            .or_default()
                            .insert(
                                tag.to_string(),
                                top.trim_start_matches("blobs/sha256/").to_string(),
                            );
                    }
                }
                d.set_annotations(Some(ann));
                index.push(d);
            }
            docker_manifest.push(DockerArchiveImage {
                config: blob_path(img.id()),
                repo_tags: Some(item.tags.iter().map(Reference::familiar).collect()),
                layers: layer_paths,
                layer_sources: None,
            });
        }
        tar.bytes("oci-layout", OCI_LAYOUT_FILE.as_bytes())
            .map_err(io_ctx)?;
        let index_json = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_INDEX,
            "manifests": index,
        });
        tar.bytes("index.json", &to_json(&index_json)?)
            .map_err(io_ctx)?;
        if format == SaveFormat::Docker {
            tar.bytes("manifest.json", &to_json(&docker_manifest)?)
                .map_err(io_ctx)?;
            if !repositories.is_empty() {
                tar.bytes("repositories", &to_json(&repositories)?)
                    .map_err(io_ctx)?;
            }
        }
        tar.finish().map_err(io_ctx)
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| StoreError::Invalid(format!("encoding JSON: {e}")))
}
