//! strata-oci: the pure vocabulary of images — digests, media types,
//! references, descriptors and image configs — with no I/O.
//!
//! Everything here is shared by the store, the registry client, the runtime
//! and the builder. Foreign types that appear in the public API are
//! re-exported (`oci_spec`).
//!
//! ```
//! use strata_oci::Digest;
//! let d = Digest::of(b"");
//! assert_eq!(d.short(), "e3b0c44298fc");
//! ```

pub mod config;
pub mod digest;
pub mod fuzzing;
pub mod manifest;
pub mod media;
pub mod reference;

pub use config::{
    ContainerConfig, History, ImageConfig, chain_id, chain_ids, host_platform,
    host_platform_string, is_host_platform,
};
pub use digest::{Digest, DigestError, DigestReader, DigestWriter, Digester, VerifyingReader};
pub use oci_spec;
pub use reference::{Reference, ReferenceError};
