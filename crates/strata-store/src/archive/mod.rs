//! Image archives: `save` (docker-archive or OCI layout), `load` (either,
//! streamed, verified before anything is committed) and `import` (a rootfs
//! tarball as a one-layer image).

pub mod import;
pub mod load;
pub mod save;

pub use import::ImportOptions;
pub use load::LoadedImage;
pub use save::{SaveFormat, SaveItem};
