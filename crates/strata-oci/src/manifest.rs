//! Manifests, indexes and descriptors (via `oci_spec`), plus the small
//! formats of image archives: docker-archive `manifest.json`/`repositories`
//! and the OCI image layout's `oci-layout`/`index.json` annotations.
//!
//! Manifest bytes are never re-serialised once they exist: a manifest's
//! digest is the digest of the bytes it arrived with. The helpers here parse
//! for reading and build new manifests for images strata creates.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, MediaType};
use serde::{Deserialize, Serialize};

use crate::digest::{Digest, DigestError};
use crate::media;

/// `org.opencontainers.image.ref.name` (tag in an OCI layout's index).
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// `io.containerd.image.name` (full image name in an OCI layout's index).
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// `org.opencontainers.image.created`.
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
/// Content of an OCI layout's `oci-layout` file.
pub const OCI_LAYOUT_FILE: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// Errors reading manifests and descriptors.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not valid JSON for the expected document.
    #[error("invalid {what}: {source}")]
    Json {
        /// What was being parsed.
        what: &'static str,
        /// The parser error.
        source: serde_json::Error,
    },
    /// A descriptor's digest is not a sha256 digest.
    #[error(transparent)]
    Digest(#[from] DigestError),
    /// The document's media type is not one strata can use.
    #[error("unsupported media type {0:?}")]
    UnsupportedMediaType(String),
    /// A descriptor claims a size that is negative, not an integer, or
    /// beyond what strata accepts for its kind.
    #[error("{what} descriptor has an invalid size {size}: {reason}")]
    Size {
        /// Which descriptor (`config`, `layer 3`, `manifest 0`).
        what: String,
        /// The size as written.
        size: String,
        /// Why it is refused.
        reason: String,
    },
}

/// Largest manifest or index accepted (docker's limit is 4 MiB).
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;
/// Largest image config accepted.
pub const MAX_CONFIG_SIZE: u64 = 16 << 20;
/// Largest layer a descriptor may claim (1 TiB): anything bigger is a
/// hostile or broken manifest, not an image.
pub const MAX_LAYER_SIZE: u64 = 1 << 40;

/// Checks every descriptor size of a manifest or index *before* it is
/// parsed into typed form (which would reject a negative size with a bare
/// serde message): sizes must be non-negative integers, a config at most
/// `config_limit`, a nested manifest at most [`MAX_MANIFEST_SIZE`] and a
/// layer at most [`MAX_LAYER_SIZE`]. Documents that are not JSON objects
/// are left to the parser to refuse.
pub fn check_sizes(bytes: &[u8], config_limit: u64) -> Result<(), ManifestError> {
    #[derive(Deserialize)]
    struct Desc {
        size: Option<serde_json::Value>,
    }
    #[derive(Deserialize)]
    struct Probe {
        config: Option<Desc>,
        layers: Option<Vec<Desc>>,
        manifests: Option<Vec<Desc>>,
    }
    let Ok(p) = serde_json::from_slice::<Probe>(bytes) else {
        return Ok(());
    };
    let check = |what: String, d: &Desc, limit: u64| -> Result<(), ManifestError> {
        let Some(v) = &d.size else { return Ok(()) };
        let bad = |reason: &str| ManifestError::Size {
            what: what.clone(),
            size: v.to_string(),
            reason: reason.to_string(),
        };
        let n = match v {
            serde_json::Value::Number(n) => n,
            _ => return Err(bad("not a number")),
        };
        if n.as_i64().is_some_and(|i| i < 0) || n.as_f64().is_some_and(|f| f < 0.0) {
            return Err(bad("negative"));
        }
        let Some(size) = n.as_u64() else {
            return Err(bad("not a whole number of bytes"));
        };
        if size > limit {
            return Err(bad(&format!("more than the {limit} bytes allowed")));
        }
        Ok(())
    };
    if let Some(c) = &p.config {
        check("config".into(), c, config_limit)?;
    }
    for (i, l) in p.layers.iter().flatten().enumerate() {
        check(format!("layer {i}"), l, MAX_LAYER_SIZE)?;
    }
    for (i, m) in p.manifests.iter().flatten().enumerate() {
        check(format!("manifest {i}"), m, MAX_MANIFEST_SIZE)?;
    }
    Ok(())
}

/// What a manifest-ish document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// An image manifest (OCI or Docker schema 2).
    Manifest,
    /// An index or manifest list.
    Index,
}

/// Classifies manifest bytes: by `mediaType` when present, else by shape
/// (`manifests` → index, `layers`/`config` → manifest), as the OCI spec
/// allows documents without a `mediaType`.
pub fn classify(
    bytes: &[u8],
    declared: Option<&str>,
) -> Result<(DocumentKind, String), ManifestError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        schema_version: Option<u32>,
        manifests: Option<serde_json::Value>,
        config: Option<serde_json::Value>,
    }
    let p: Probe = serde_json::from_slice(bytes).map_err(|source| ManifestError::Json {
        what: "manifest",
        source,
    })?;
    let mt = p
        .media_type
        .or_else(|| declared.map(str::to_string))
        .unwrap_or_else(|| {
            if p.manifests.is_some() {
                media::OCI_INDEX.to_string()
            } else {
                media::OCI_MANIFEST.to_string()
            }
        });
    if p.schema_version == Some(1) {
        return Err(ManifestError::UnsupportedMediaType(
            "application/vnd.docker.distribution.manifest.v1+json (schema 1)".into(),
        ));
    }
    if media::is_index(&mt) {
        Ok((DocumentKind::Index, mt))
    } else if media::is_manifest(&mt) && p.config.is_some() {
        Ok((DocumentKind::Manifest, mt))
    } else {
        Err(ManifestError::UnsupportedMediaType(mt))
    }
}

/// Parses an image manifest (OCI or Docker schema 2).
pub fn parse_manifest(bytes: &[u8]) -> Result<ImageManifest, ManifestError> {
    serde_json::from_slice(bytes).map_err(|source| ManifestError::Json {
        what: "image manifest",
        source,
    })
}

/// Parses an index / manifest list.
pub fn parse_index(bytes: &[u8]) -> Result<ImageIndex, ManifestError> {
    serde_json::from_slice(bytes).map_err(|source| ManifestError::Json {
        what: "image index",
        source,
    })
}

/// A descriptor's digest as a validated strata digest.
pub fn descriptor_digest(d: &Descriptor) -> Result<Digest, DigestError> {
    Digest::try_from(d.digest())
}

/// Builds a descriptor.
pub fn descriptor(media_type: &str, digest: &Digest, size: u64) -> Descriptor {
    Descriptor::new(
        MediaType::from(media_type),
        size,
        oci_spec::image::Digest::from(digest),
    )
}

/// The platform of an index entry as `os/arch[/variant]`.
pub fn platform_string(d: &Descriptor) -> Option<String> {
    let p = d.platform().as_ref()?;
    let mut s = format!("{}/{}", p.os(), p.architecture());
    if let Some(v) = p.variant() {
        s.push('/');
        s.push_str(v);
    }
    Some(s)
}

/// Picks the manifest for `os/arch[/variant]` from an index, the way docker
/// does: exact variant first, then an entry without a variant. Attestation
/// manifests (`unknown/unknown`) never match.
pub fn select_platform<'a>(
    index: &'a ImageIndex,
    os: &str,
    arch: &str,
    variant: Option<&str>,
) -> Option<&'a Descriptor> {
    let candidates: Vec<&Descriptor> = index
        .manifests()
        .iter()
        .filter(|d| media::is_manifest(d.media_type().as_ref()))
        .filter(|d| {
            d.platform()
                .as_ref()
                .is_some_and(|p| p.os().to_string() == os && p.architecture().to_string() == arch)
        })
        .collect();
    candidates
        .iter()
        .find(|d| d.platform().as_ref().and_then(|p| p.variant().as_deref()) == variant)
        .or_else(|| {
            candidates
                .iter()
                .find(|d| d.platform().as_ref().is_some_and(|p| p.variant().is_none()))
        })
        .or_else(|| candidates.first())
        .copied()
}

/// Serialises a new OCI image manifest for a config and its layers.
pub fn new_manifest(
    media_type: &str,
    config: Descriptor,
    layers: Vec<Descriptor>,
    annotations: Option<HashMap<String, String>>,
) -> Vec<u8> {
    // Built as JSON so field order is the spec's and no builder can fail.
    let mut m = serde_json::Map::new();
    m.insert("schemaVersion".into(), 2.into());
    m.insert("mediaType".into(), media_type.into());
    m.insert(
        "config".into(),
        serde_json::to_value(config).unwrap_or_default(),
    );
    m.insert(
        "layers".into(),
        serde_json::to_value(layers).unwrap_or_default(),
    );
    if let Some(a) = annotations {
        let sorted: BTreeMap<_, _> = a.into_iter().collect();
        m.insert(
            "annotations".into(),
            serde_json::to_value(sorted).unwrap_or_default(),
        );
    }
    serde_json::to_vec(&m).unwrap_or_default()
}

/// Parses a media type string into oci-spec's type.
pub fn media_type(s: &str) -> MediaType {
    MediaType::from(s)
}

/// Parses a digest string into oci-spec's type.
pub fn oci_digest(d: &Digest) -> oci_spec::image::Digest {
    oci_spec::image::Digest::from_str(d.as_str())
        .unwrap_or_else(|_| oci_spec::image::Digest::from(d))
}

/// One image in a docker-archive `manifest.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DockerArchiveImage {
    /// Path of the config JSON inside the archive.
    pub config: String,
    /// Tags (`busybox:latest`), familiar form.
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    /// Paths of the layer tars, bottom first.
    pub layers: Vec<String>,
    /// Descriptors of foreign layers, by diffID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_sources: Option<BTreeMap<String, Descriptor>>,
}

/// A docker-archive `repositories` file: repo → tag → top layer v1 ID.
pub type DockerRepositories = BTreeMap<String, BTreeMap<String, String>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_descriptor_sizes_are_refused() {
        let doc = |cfg: &str, layer: &str| {
            format!(
                r#"{{"schemaVersion":2,"config":{{"mediaType":"x","digest":"sha256:1","size":{cfg}}},"layers":[{{"size":{layer}}}]}}"#
            )
        };
        check_sizes(doc("10", "100").as_bytes(), 100).unwrap();
        let e = check_sizes(doc("10", "-1").as_bytes(), 100).unwrap_err();
        assert_eq!(
            e.to_string(),
            "layer 0 descriptor has an invalid size -1: negative"
        );
        let e = check_sizes(doc("101", "1").as_bytes(), 100).unwrap_err();
        assert!(e.to_string().contains("config descriptor"), "{e}");
        assert!(e.to_string().contains("more than the 100 bytes"), "{e}");
        let e = check_sizes(doc("1", "1e300").as_bytes(), 100).unwrap_err();
        assert!(e.to_string().contains("whole number"), "{e}");
        let e = check_sizes(doc("1", "\"1\"").as_bytes(), 100).unwrap_err();
        assert!(e.to_string().contains("not a number"), "{e}");
        let huge = (MAX_LAYER_SIZE + 1).to_string();
        assert!(check_sizes(doc("1", &huge).as_bytes(), 100).is_err());
        let ix = br#"{"manifests":[{"size":99999999999}]}"#;
        assert!(check_sizes(ix, 100).is_err());
        assert!(check_sizes(b"not json", 1).is_ok());
    }

    #[test]
    fn classify_documents() {
        let m = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0},"layers":[]}"#;
        assert_eq!(classify(m, None).unwrap().0, DocumentKind::Manifest);
        let i = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert_eq!(classify(i, None).unwrap().0, DocumentKind::Index);
        let bad = br#"{"schemaVersion":2,"mediaType":"text/plain"}"#;
        assert!(matches!(
            classify(bad, None),
            Err(ManifestError::UnsupportedMediaType(_))
        ));
        assert!(classify(b"not json", None).is_err());
        let v1 = br#"{"schemaVersion":1,"name":"x"}"#;
        assert!(classify(v1, None).is_err());
    }

    #[test]
    fn new_manifest_round_trips() {
        let cfg = Digest::of(b"{}");
        let layer = Digest::of(b"layer");
        let bytes = new_manifest(
            media::OCI_MANIFEST,
            descriptor(media::OCI_CONFIG, &cfg, 2),
            vec![descriptor(media::OCI_LAYER_GZIP, &layer, 5)],
            None,
        );
        let m = parse_manifest(&bytes).unwrap();
        assert_eq!(descriptor_digest(m.config()).unwrap(), cfg);
        assert_eq!(m.layers().len(), 1);
        let s = String::from_utf8(bytes).unwrap();
        assert!(
            s.starts_with(
                r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json""#
            ),
            "{s}"
        );
    }

    #[test]
    fn selects_amd64() {
        let idx = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":1,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}},
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":1,"platform":{"architecture":"amd64","os":"linux"}},
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:3333333333333333333333333333333333333333333333333333333333333333","size":1,"platform":{"architecture":"unknown","os":"unknown"}}]}"#;
        let i = parse_index(idx).unwrap();
        let d = select_platform(&i, "linux", "amd64", None).unwrap();
        assert!(d.digest().to_string().ends_with("2222"));
        assert!(select_platform(&i, "linux", "s390x", None).is_none());
        assert!(select_platform(&i, "linux", "arm64", Some("v8")).is_some());
    }
}
