//! `image verify`: reproducible by proof. The image's build record (see
//! [`crate::record`]) is rebuilt with the cache off — every step runs
//! again, nothing is recorded in the build cache — and the result is
//! compared with the image: layer by layer (diffIDs), then the config.
//! When they differ, the first difference is named: the first differing
//! layer's first differing file (both layer tars walked in path order:
//! type, mode, owner, size, mtime, link target, content), or the first
//! differing config field (`history[4].created`).
//!
//! ```text
//! record ─> BuildRequest (no_cache, record_cache off, no tags) ─> build()
//!        ─> same image ID?  yes: verified
//!                           no:  first layer whose diffID differs ─> walk both tars
//!                                or the config ─> first differing JSON path
//!        ─> the rebuilt image is removed unless it was already in the store
//! ```
//! A build is only reproducible when its times are pinned:
//! `SOURCE_DATE_EPOCH` dates the history and clamps layer mtimes; without
//! it the rebuild's times differ and the report says so.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use serde_json::Value;
use sha2::{Digest as _, Sha256};
use strata_oci::Digest;
use strata_store::{Image, Store};

use crate::error::{BuildError, Result};
use crate::options::{BuildRequest, ContextSource, SecretSpec};
use crate::progress::Progress;
use crate::record::BuildRecord;

/// What `verify` needs besides the record.
#[derive(Debug, Default)]
pub struct VerifyOptions {
    /// `--secret`s, for builds that used some (contents are not recorded).
    pub secrets: Vec<SecretSpec>,
    /// `--runtime` for RUN steps.
    pub runtime: Option<std::path::PathBuf>,
    /// Registry access (only if a base image must be pulled again).
    pub registry: strata_registry::RegistryOptions,
}

/// Where the rebuild first differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// Layer `index` (0 = bottom) differs; `path` is the first differing
    /// file in it (`None`: the tars differ in their encoding only).
    Layer {
        /// Layer index, bottom first.
        index: usize,
        /// The history text of the step that made it.
        created_by: String,
        /// The first differing path and how it differs.
        path: Option<(String, String)>,
    },
    /// The images have different numbers of layers.
    LayerCount {
        /// The image's.
        original: usize,
        /// The rebuild's.
        rebuilt: usize,
    },
    /// The layers agree; the config differs first at `field`.
    Config {
        /// A JSON path (`history[3].created`).
        field: String,
        /// The image's value.
        original: String,
        /// The rebuild's value.
        rebuilt: String,
    },
}

/// The outcome of a verification.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// The image verified.
    pub original: Digest,
    /// The rebuild's image ID.
    pub rebuilt: Digest,
    /// The record it was rebuilt from.
    pub record: BuildRecord,
    /// `None`: identical.
    pub difference: Option<Difference>,
    /// What changed since the build that may explain a difference (the
    /// base reference names another image, the Dockerfile was edited).
    pub notes: Vec<String>,
}

/// Rebuilds `image` from its record and compares.
pub fn verify(
    store: &Store,
    image: &Image,
    opts: VerifyOptions,
    progress: &Progress,
) -> Result<VerifyReport> {
    let id = image.id().clone();
    let record = BuildRecord::load(store, &id)?.ok_or_else(|| {
        BuildError::Invalid(format!(
            "image {} has no build record: only images strata built (in this store) can be verified",
            id.short()
        ))
    })?;
    let notes = changed_since(store, &record);
    let req = request(&record, opts)?;
    let before: BTreeSet<Digest> = store.list_images()?.into_iter().map(|r| r.id).collect();
    let out = crate::build(store, req, progress)?;
    let rebuilt = out.image_id;
    let result = compare(store, image, &rebuilt);
    if rebuilt != id
        && !before.contains(&rebuilt)
        && let Err(e) = store.remove_image(rebuilt.as_str(), false)
    {
        tracing::warn!("removing the rebuilt image {}: {e}", rebuilt.short());
    }
    Ok(VerifyReport {
        original: id,
        rebuilt,
        record,
        difference: result?,
        notes,
    })
}

/// What is no longer as it was when the image was built.
fn changed_since(store: &Store, record: &BuildRecord) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(b) = &record.base {
        match store.resolve_image(&b.reference) {
            Ok(img) if img.id() != &b.image => notes.push(format!(
                "FROM {} now names {}; the image was built from {}",
                b.reference,
                img.id().short(),
                b.image.short()
            )),
            Ok(_) => {}
            Err(_) => notes.push(format!(
                "FROM {}: no longer in the store (the rebuild pulls it)",
                b.reference
            )),
        }
    }
    if let Some(p) = &record.dockerfile_path {
        let now = std::fs::read(p).ok();
        if now.is_some() && now != record.dockerfile_bytes().ok() {
            notes.push(format!(
                "{} was edited since the build; the Dockerfile the image was built from is rebuilt",
                p.display()
            ));
        }
    }
    notes
}

/// The rebuild's request: the recorded inputs, the cache off.
fn request(record: &BuildRecord, opts: VerifyOptions) -> Result<BuildRequest> {
    let context = record.context.clone().ok_or_else(|| {
        BuildError::Invalid(
            "the image was built from a context on stdin: there is nothing to rebuild it from"
                .into(),
        )
    })?;
    if !context.is_dir() {
        return Err(BuildError::Invalid(format!(
            "the build context {} is gone: cannot rebuild",
            context.display()
        )));
    }
    let missing: Vec<&str> = record
        .secrets
        .iter()
        .filter(|s| !opts.secrets.iter().any(|o| &o.id == *s))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(BuildError::Invalid(format!(
            "the build used secrets it does not record ({}): pass them again with --secret",
            missing.join(", ")
        )));
    }
    let mut req = BuildRequest::new(record.dockerfile_bytes()?, ContextSource::Dir(context));
    req.dockerfile_name = record.dockerfile_name.clone();
    req.dockerfile_path = record.dockerfile_path.clone();
    req.build_args = record.build_args.clone();
    req.target = record.target.clone();
    req.labels = record.labels.clone();
    req.platform = Some(record.platform.clone());
    req.network = match record.network.as_str() {
        "none" => strata_runtime::spec::NetworkMode::None,
        _ => strata_runtime::spec::NetworkMode::Host,
    };
    req.no_cache = true;
    req.record_cache = false;
    req.secrets = opts.secrets;
    req.runtime = opts.runtime;
    req.registry = opts.registry;
    Ok(req)
}

/// The first difference between `image` and the image `rebuilt`.
fn compare(store: &Store, image: &Image, rebuilt: &Digest) -> Result<Option<Difference>> {
    if rebuilt == image.id() {
        return Ok(None);
    }
    let other = store.image(rebuilt)?;
    let (a, b) = (&image.config.rootfs.diff_ids, &other.config.rootfs.diff_ids);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x != y {
            let created_by = layer_history(&image.config, i);
            let path = first_file_difference(store, x, y)?;
            return Ok(Some(Difference::Layer {
                index: i,
                created_by,
                path,
            }));
        }
    }
    if a.len() != b.len() {
        return Ok(Some(Difference::LayerCount {
            original: a.len(),
            rebuilt: b.len(),
        }));
    }
    let parse = |bytes: &[u8]| serde_json::from_slice::<Value>(bytes).unwrap_or(Value::Null);
    let (x, y) = (parse(&image.config_bytes), parse(&other.config_bytes));
    Ok(Some(match first_json_difference(&x, &y, String::new()) {
        Some((field, original, rebuilt)) => Difference::Config {
            field,
            original,
            rebuilt,
        },
        None => Difference::Config {
            field: "(encoding)".into(),
            original: image.id().to_string(),
            rebuilt: rebuilt.to_string(),
        },
    }))
}

/// The `created_by` of the history entry of layer `index`.
fn layer_history(config: &strata_oci::ImageConfig, index: usize) -> String {
    config
        .history
        .iter()
        .filter(|h| !h.empty_layer)
        .nth(index)
        .and_then(|h| h.created_by.clone())
        .unwrap_or_default()
}

/// One tar entry, as compared.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    kind: String,
    mode: u32,
    owner: (u64, u64),
    size: u64,
    mtime: u64,
    link: Option<String>,
    content: Option<String>,
    xattrs: BTreeMap<String, Vec<u8>>,
}

/// Every entry of layer `diff_id`'s tar, by path.
fn entries(store: &Store, diff_id: &Digest) -> Result<BTreeMap<String, Entry>> {
    let blob = store
        .layer_blobs(diff_id)?
        .into_iter()
        .next()
        .ok_or_else(|| BuildError::Invalid(format!("layer {diff_id} has no blob in the store")))?;
    let f = store.open_blob(&blob.digest)?;
    let bad = |e: String| BuildError::Invalid(format!("layer {diff_id}: {e}"));
    let (_, r) = strata_store::layer::decompress_sniffed(std::io::BufReader::new(f))
        .map_err(|e| bad(e.to_string()))?;
    let mut tar = tar::Archive::new(r);
    let mut out = BTreeMap::new();
    for e in tar.entries().map_err(|e| bad(e.to_string()))? {
        let mut e = e.map_err(|e| bad(e.to_string()))?;
        let path = e
            .path()
            .map_err(|e| bad(e.to_string()))?
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        let h = e.header().clone();
        let mut xattrs = BTreeMap::new();
        if let Ok(Some(exts)) = e.pax_extensions() {
            for x in exts.flatten() {
                if let Ok(k) = x.key()
                    && k.starts_with("SCHILY.xattr.")
                {
                    xattrs.insert(k.to_string(), x.value_bytes().to_vec());
                }
            }
        }
        let content = if h.entry_type().is_file() {
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = e.read(&mut buf).map_err(|e| bad(e.to_string()))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            Some(format!("sha256:{}", hex::encode(hasher.finalize())))
        } else {
            None
        };
        let link = e
            .link_name()
            .ok()
            .flatten()
            .map(|l| l.to_string_lossy().into_owned());
        out.insert(
            format!("/{path}"),
            Entry {
                kind: format!("{:?}", h.entry_type()),
                mode: h.mode().unwrap_or(0),
                owner: (h.uid().unwrap_or(0), h.gid().unwrap_or(0)),
                size: h.size().unwrap_or(0),
                mtime: h.mtime().unwrap_or(0),
                link,
                content,
                xattrs,
            },
        );
    }
    Ok(out)
}

/// The first path (in path order) whose entry differs between the two
/// layers, and how.
fn first_file_difference(
    store: &Store,
    original: &Digest,
    rebuilt: &Digest,
) -> Result<Option<(String, String)>> {
    let (a, b) = (entries(store, original)?, entries(store, rebuilt)?);
    let paths: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for p in paths {
        let why = match (a.get(p), b.get(p)) {
            (Some(_), None) => "only in the image, not in the rebuild".to_string(),
            (None, Some(_)) => "only in the rebuild, not in the image".to_string(),
            (Some(x), Some(y)) if x != y => describe(x, y),
            _ => continue,
        };
        return Ok(Some((p.clone(), why)));
    }
    Ok(None)
}

fn describe(x: &Entry, y: &Entry) -> String {
    let time = |t: u64| {
        i64::try_from(t)
            .ok()
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map_or_else(|| t.to_string(), |d| d.to_rfc3339())
    };
    if x.kind != y.kind {
        format!("type {} != {}", x.kind, y.kind)
    } else if x.content != y.content || x.size != y.size {
        format!(
            "content differs ({} bytes {} != {} bytes {})",
            x.size,
            x.content.as_deref().unwrap_or("-"),
            y.size,
            y.content.as_deref().unwrap_or("-")
        )
    } else if x.link != y.link {
        format!("link target {:?} != {:?}", x.link, y.link)
    } else if x.mode != y.mode {
        format!("mode {:o} != {:o}", x.mode, y.mode)
    } else if x.owner != y.owner {
        format!(
            "owner {}:{} != {}:{}",
            x.owner.0, x.owner.1, y.owner.0, y.owner.1
        )
    } else if x.mtime != y.mtime {
        format!("mtime {} != {}", time(x.mtime), time(y.mtime))
    } else {
        "extended attributes differ".into()
    }
}

/// The first JSON path where `a` and `b` differ, with both values.
fn first_json_difference(a: &Value, b: &Value, at: String) -> Option<(String, String, String)> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                let null = Value::Null;
                first_json_difference(x.get(k).unwrap_or(&null), y.get(k).unwrap_or(&null), path)
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_json_difference(p, q, format!("{at}[{i}]"))),
        _ if a == b => None,
        _ => Some((at, a.to_string(), b.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_difference_names_the_first_field() {
        let a = json!({"created": "1", "history": [{"created": "a"}, {"created": "b"}]});
        let b = json!({"created": "1", "history": [{"created": "a"}, {"created": "c"}]});
        let (f, x, y) = first_json_difference(&a, &b, String::new()).unwrap();
        assert_eq!(
            (f.as_str(), x.as_str(), y.as_str()),
            ("history[1].created", "\"b\"", "\"c\"")
        );
        assert_eq!(first_json_difference(&a, &a, String::new()), None);
    }

    #[test]
    fn entry_differences_say_what() {
        let e = Entry {
            kind: "Regular".into(),
            mode: 0o644,
            owner: (0, 0),
            size: 3,
            mtime: 0,
            link: None,
            content: Some("sha256:a".into()),
            xattrs: BTreeMap::new(),
        };
        let mut f = e.clone();
        f.mtime = 60;
        assert!(
            describe(&e, &f).starts_with("mtime 1970-01-01T00:00:00"),
            "{}",
            describe(&e, &f)
        );
        f.content = Some("sha256:b".into());
        assert!(describe(&e, &f).starts_with("content differs"));
    }
}
