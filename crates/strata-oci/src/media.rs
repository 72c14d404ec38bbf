//! Media types strata reads and writes (OCI image-spec and Docker v2 schema 2).
//!
//! Layers are classified by [`LayerCompression`] so the rest of the code never
//! compares media-type strings itself.

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI uncompressed layer.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI gzip layer.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI zstd layer.
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// OCI empty descriptor (artifacts).
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// Docker v2 schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker gzip layer.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker uncompressed layer (rare, but valid).
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Docker foreign (non-distributable) gzip layer.
pub const DOCKER_LAYER_FOREIGN: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
/// OCI non-distributable layers (deprecated in the spec, still seen).
pub const OCI_LAYER_NONDIST_TAR: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
/// OCI non-distributable gzip layer.
pub const OCI_LAYER_NONDIST_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
/// OCI non-distributable zstd layer.
pub const OCI_LAYER_NONDIST_ZSTD: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayerCompression {
    /// A plain tar.
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

/// The compression of any stream, by its magic bytes: the workspace's one
/// sniffer, docker's `DetectCompression` (pkg/archive): layers, ADD's local
/// archives and `build -` contexts all use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// None of the below.
    Plain,
    /// gzip (`1f 8b 08`).
    Gzip,
    /// bzip2 (`BZh`).
    Bzip2,
    /// xz (`fd 37 7a 58 5a 00`).
    Xz,
    /// zstd (`28 b5 2f fd`).
    Zstd,
}

impl Compression {
    /// How many bytes [`Compression::sniff`] wants to see.
    pub const MAGIC_LEN: usize = 6;

    /// Sniffs the compression from the first bytes of a stream (fewer
    /// than [`Compression::MAGIC_LEN`] bytes only match shorter magics).
    pub fn sniff(head: &[u8]) -> Compression {
        const MAGICS: [(&[u8], Compression); 4] = [
            (&[0x1f, 0x8b, 0x08], Compression::Gzip),
            (b"BZh", Compression::Bzip2),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], Compression::Xz),
            (&[0x28, 0xb5, 0x2f, 0xfd], Compression::Zstd),
        ];
        MAGICS
            .iter()
            .find(|(m, _)| head.starts_with(m))
            .map_or(Compression::Plain, |(_, c)| *c)
    }
}

impl LayerCompression {
    /// The compression of a layer media type, or `None` for a media type
    /// that is not a layer strata can unpack.
    pub fn of_media_type(media_type: &str) -> Option<LayerCompression> {
        match media_type {
            OCI_LAYER_TAR | DOCKER_LAYER_TAR | OCI_LAYER_NONDIST_TAR => {
                Some(LayerCompression::None)
            }
            OCI_LAYER_GZIP | DOCKER_LAYER_GZIP | DOCKER_LAYER_FOREIGN | OCI_LAYER_NONDIST_GZIP => {
                Some(LayerCompression::Gzip)
            }
            OCI_LAYER_ZSTD | OCI_LAYER_NONDIST_ZSTD => Some(LayerCompression::Zstd),
            _ => None,
        }
    }

    /// Sniffs the compression from the first bytes of a blob (see
    /// [`Compression::sniff`]; bzip2 and xz are no layer compression, so
    /// such a blob reads as uncompressed, and fails as a tar).
    pub fn sniff(head: &[u8]) -> LayerCompression {
        match Compression::sniff(head) {
            Compression::Gzip => LayerCompression::Gzip,
            Compression::Zstd => LayerCompression::Zstd,
            Compression::Plain | Compression::Bzip2 | Compression::Xz => LayerCompression::None,
        }
    }

    /// The OCI layer media type for this compression.
    pub fn oci_media_type(self) -> &'static str {
        match self {
            LayerCompression::None => OCI_LAYER_TAR,
            LayerCompression::Gzip => OCI_LAYER_GZIP,
            LayerCompression::Zstd => OCI_LAYER_ZSTD,
        }
    }

    /// The Docker schema 2 layer media type (zstd has none; OCI's is used).
    pub fn docker_media_type(self) -> &'static str {
        match self {
            LayerCompression::None => DOCKER_LAYER_TAR,
            LayerCompression::Gzip => DOCKER_LAYER_GZIP,
            LayerCompression::Zstd => OCI_LAYER_ZSTD,
        }
    }
}

/// True for an image manifest media type (OCI or Docker schema 2).
pub fn is_manifest(media_type: &str) -> bool {
    matches!(media_type, OCI_MANIFEST | DOCKER_MANIFEST)
}

/// True for an index / manifest list media type.
pub fn is_index(media_type: &str) -> bool {
    matches!(media_type, OCI_INDEX | DOCKER_MANIFEST_LIST)
}

/// True for an image config media type.
pub fn is_config(media_type: &str) -> bool {
    matches!(media_type, OCI_CONFIG | DOCKER_CONFIG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_layers() {
        assert_eq!(
            LayerCompression::of_media_type(DOCKER_LAYER_GZIP),
            Some(LayerCompression::Gzip)
        );
        assert_eq!(
            LayerCompression::of_media_type(OCI_LAYER_ZSTD),
            Some(LayerCompression::Zstd)
        );
        assert_eq!(
            LayerCompression::of_media_type(OCI_LAYER_TAR),
            Some(LayerCompression::None)
        );
        assert_eq!(LayerCompression::of_media_type("text/plain"), None);
        assert_eq!(
            LayerCompression::sniff(&[0x1f, 0x8b, 8]),
            LayerCompression::Gzip
        );
        assert_eq!(LayerCompression::sniff(b"ustar"), LayerCompression::None);
        assert_eq!(LayerCompression::sniff(b"BZh91AY"), LayerCompression::None);
    }

    /// docker's pkg/archive TestDetectCompression magics, and near misses.
    #[test]
    fn sniffs_every_compression() {
        for (head, want) in [
            (&[0x1f, 0x8b, 0x08, 0x00][..], Compression::Gzip),
            (b"BZh91AY&SY", Compression::Bzip2),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0x00, 0x00], Compression::Xz),
            (&[0x28, 0xb5, 0x2f, 0xfd, 0x04], Compression::Zstd),
            (b"hello", Compression::Plain),
            (&[0x1f, 0x8b], Compression::Plain),
            (&[0xfd, b'7', b'z', b'X', b'Z'], Compression::Plain),
            (b"", Compression::Plain),
        ] {
            assert_eq!(Compression::sniff(head), want, "{head:02x?}");
        }
    }
}
