//! Layers: turning a directory into a layer tar, and a layer tar back into
//! a directory.
//!
//! # Terms
//!
//! * A **layer** is a tar stream of changes to a filesystem. Its **diffID**
//!   is the sha256 of the uncompressed tar, every byte including the
//!   end-of-archive blocks; its **blob digest** is the sha256 of the bytes as
//!   stored and transferred (gzip, zstd or plain tar).
//! * A **whiteout** deletes a path of a lower layer. In a tar it is an empty
//!   regular file `.wh.<name>` next to the victim; `.wh..wh..opq` in a
//!   directory makes the directory **opaque** (everything lower layers put in
//!   it is hidden). On disk, in an overlayfs upper dir or lower layer, a
//!   whiteout is a char device 0/0 and an opaque directory carries the xattr
//!   `trusted.overlay.opaque=y`. Whiteouts only ever hide what *lower* layers
//!   contain: entries of the same layer stay, wherever the marker sits in
//!   the stream.
//! * A **snapshot** directory (`snapshots/<id>/fs`) holds one applied layer
//!   in overlayfs form; a chain of them mounts as one overlay.
//!
//! # Creating a layer: [`write_layer`]
//!
//! `write_layer(dir, opts, compression, out)` walks `dir` and writes a
//! deterministic tar, compressed, to `out`, computing both digests in that
//! one pass (`tar → diffID hasher → compressor → blob hasher → out`). The
//! same tree and options give byte-identical output on any machine:
//!
//! * depth-first, names sorted by their bytes within each directory (Go's
//!   `filepath.Walk` order); relative names without `./` or `/`;
//!   directories end in `/`; `dir` itself is not an entry;
//! * POSIX ustar headers; a PAX `x` header only when needed (long path or
//!   link target, uid/gid > 2097151, size ≥ 8 GiB, mtime before 1970 or
//!   after 2242, xattrs as `SCHILY.xattr.<name>`), records sorted by key;
//! * numeric uid/gid, empty uname/gname, no atime/ctime, whole-second mtimes
//!   clamped to [`TarOptions::source_date_epoch`] when set; mode bits
//!   including setuid/setgid/sticky;
//! * a second path to an inode already written (nlink > 1) is a hardlink
//!   entry to the first path; symlinks, char/block devices and FIFOs are
//!   entries; sockets are skipped;
//! * xattrs are copied except overlayfs' own (`trusted.overlay.*`,
//!   `user.overlay.*`) and `security.selinux` (a host label);
//! * with [`WhiteoutFormat::Overlay`], char 0/0 devices become `.wh.<name>`
//!   and an opaque directory's entry is followed by `<dir>/.wh..wh..opq`;
//!   fuse-overlayfs' markers (`.wh.<name>` files, `.wh..wh..opq` files or
//!   a `.wh..opq` device, `user.fuseoverlayfs.*` xattrs) give the same tar.
//!   Upper dirs using overlayfs `redirect_dir`/`metacopy` are refused.
//!
//! With [`TarOptions::contents`] (each regular file's sha256, known to the
//! COPY that made the tree) the tar is checkpointed every [`INTERVAL`]
//! bytes; with [`TarOptions::previous`] a write resumes from the previous
//! tar where the trees agree: its prefix is copied and its SHA-256 state
//! restored instead of the files being read and hashed again (`resume`).
//! The bytes are the same as a plain write's.
//!
//! The blob is compressed with [`Compression`]: gzip (flate2 on zlib-rs,
//! header mtime 0) or zstd (multithreaded; output independent of the thread
//! count). [`Compressor`]/[`compressor`] compress any stream (push, save);
//! [`decompress`]/[`decompress_sniffed`] undo it, failing on a truncated or
//! corrupt stream rather than ending early.
//!
//! # Applying a layer: [`apply_layer`]
//!
//! `apply_layer(tar, target, opts)` applies an *uncompressed* tar stream to
//! the directory `target`, hashing it as it reads and reading it to its real
//! end, so [`Applied::diff_id`] can be checked against the image config.
//! [`ApplyMode::Snapshot`] writes into an empty directory that will be an
//! overlay lower layer: OCI whiteouts become char 0/0 devices and opaque
//! markers set `trusted.overlay.opaque=y`. [`ApplyMode::Merge`] applies onto
//! an existing tree: whiteouts delete, opaque markers empty the directory.
//! On error the target holds part of the layer: apply into a scratch
//! directory and rename it into place only on success.
//!
//! * Regular files are written whole (existing entries of any type at that
//!   name are replaced, a directory recursively; an existing directory is
//!   kept for a directory entry and its metadata updated); then owner (only
//!   when running as root, unless [`ApplyOptions::same_owner`] says
//!   otherwise), mode (after chown, so setuid survives), xattrs (after
//!   chown, so `security.capability` survives), times.
//! * Directories get their mtimes last, deepest first, once all entries are
//!   in. Symlinks are created as given. Devices and FIFOs are made with
//!   `mknodat`; when the kernel refuses (no `CAP_MKNOD`), the entry is
//!   skipped with a warning. xattrs the filesystem does not support, or the
//!   caller may not set, are skipped with a warning.
//! * GNU long names, PAX `path`/`linkpath`/`size`/`uid`/`gid`/`mtime` and GNU
//!   sparse files are understood. PAX records are parsed exactly (binary
//!   xattr values may contain newlines). Global PAX headers are ignored.
//!   Overlayfs-private xattrs in a tar are never applied.
//!
//! ## Nothing is written outside the target
//!
//! Every entry name is cleaned lexically: a leading `/` is dropped and `..`
//! is resolved without ever climbing above the root. **An escaping `..` is
//! clamped to the root** (`../x`, `/x` and `a/../../x` all mean `<target>/x`,
//! with a warning), as containerd does; it is not an error. The parent
//! directory is then opened *inside* the target with `openat2(2)`
//! `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS` (or an equivalent user-space
//! walk where `openat2` is unavailable), so symlinks already in the tree —
//! `s -> /`, `r -> ../../..` — resolve as if the target were `/`. The final
//! component is created with `*at` calls that do not follow it. Hardlink
//! targets are resolved the same way, so a hardlink to `/etc/passwd` links
//! `<target>/etc/passwd` or fails if there is none.
//!
//! Linux only. xattrs of symlinks and special files are read and written
//! through `/proc/self/fd/<dir>/<name>` (there is no `l*xattrat` before
//! 6.13), so `/proc` must be mounted.
//!
//! ```no_run
//! use std::fs::File;
//! use strata_store::layer::{self, ApplyMode, ApplyOptions, Compression, TarOptions};
//! use strata_oci::media::LayerCompression;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let out = File::create("/tmp/layer.tar.gz")?;
//! let written = layer::write_layer("/tmp/rootfs".as_ref(), &TarOptions::default(),
//!                                  Compression::GZIP, out)?;
//! let blob = File::open("/tmp/layer.tar.gz")?;
//! let tar = layer::decompress(blob, LayerCompression::Gzip)?;
//! let applied = layer::apply_layer(tar, "/tmp/snap".as_ref(),
//!                                  &ApplyOptions::new(ApplyMode::Snapshot))?;
//! assert_eq!(applied.diff_id, written.diff_id);
//! # Ok(()) }
//! ```

mod apply;
mod compress;
mod create;
mod entry;
mod error;
mod meta;
mod path;
mod resume;
mod scan;
pub(crate) mod sys_linux;
mod tap;
mod tarfmt;
mod tree_linux;
mod xattrs;

pub use apply::apply_layer;
pub use compress::{
    Compression, Compressor, FinishWrite, compressor, decompress, decompress_sniffed, peek,
};
pub use create::{digest_layer, write_layer};
pub use error::LayerError;
pub use path::{WHITEOUT_OPAQUE, WHITEOUT_PREFIX};
pub use resume::{Checkpoint, Checkpoints, ContentDigests, INTERVAL, Previous};
pub use scan::scan_layer;
pub use tree_linux::disk_usage;
pub use xattrs::{copy_xattrs, has_copied_xattrs};

use strata_oci::Digest;

/// How whiteouts are represented in a source directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhiteoutFormat {
    /// A plain directory: every file is content.
    #[default]
    Plain,
    /// An overlayfs upper dir or snapshot: char 0/0 devices are whiteouts
    /// and `trusted.overlay.opaque=y` (or `user.overlay.opaque=y`) marks an
    /// opaque directory.
    Overlay,
}

/// Options for [`write_layer`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TarOptions {
    /// How to read whiteouts in the source.
    pub whiteouts: WhiteoutFormat,
    /// `SOURCE_DATE_EPOCH`: mtimes later than this are written as this.
    pub source_date_epoch: Option<i64>,
    /// With [`WhiteoutFormat::Overlay`], the upper dir's lower dirs,
    /// topmost first (empty: unknown). An opaque mark on a directory none
    /// of them has hides nothing and is dropped: fuse-overlayfs marks every
    /// directory it creates, the kernel only one made over a whiteout.
    pub lowers: Vec<std::path::PathBuf>,
    /// The content sha256 of the tree's regular files, by tar path, when
    /// the caller knows them: the tar is then checkpointed
    /// ([`LayerWritten::checkpoints`]) so a later write can resume it.
    pub contents: Option<std::sync::Arc<ContentDigests>>,
    /// The previous write of a tree that may start the same way (an
    /// uncompressed tar and its checkpoints): its equal prefix is copied,
    /// not re-read and re-hashed (see `resume`). Needs `contents`; only
    /// for [`Compression::None`].
    pub previous: Option<Previous>,
}

/// What [`write_layer`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerWritten {
    /// sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// Bytes of uncompressed tar.
    pub tar_size: u64,
    /// sha256 of the bytes written to `out`.
    pub blob_digest: Digest,
    /// Bytes written to `out`.
    pub blob_size: u64,
    /// Tar entries written (PAX headers not counted).
    pub entries: u64,
    /// Sum of the data sizes of the tar's entries: regular files only, a
    /// hardlink's second name and a symlink count 0. This is the size
    /// docker gives a layer it registers from a diff without re-applying
    /// it, as BuildKit's layers are (docker 20.10's `ChecksumForGraphID`
    /// sums tar-split file entries); see [`crate::ingest::DirLayerOptions`].
    pub content_size: u64,
    /// Where a later write of a similar tree can resume this tar (when
    /// [`TarOptions::contents`] was given).
    pub checkpoints: Option<Checkpoints>,
    /// Leading tar bytes copied from [`TarOptions::previous`] (0: none).
    pub resumed: u64,
}

/// Where [`apply_layer`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyMode {
    /// Into an empty directory that becomes an overlay lower layer: OCI
    /// whiteouts become char 0/0 devices, opaque markers set
    /// `trusted.overlay.opaque=y` on their directory.
    Snapshot,
    /// Onto an existing tree: whiteouts delete their victim, opaque markers
    /// delete what the directory held before this layer.
    Merge,
}

/// Options for [`apply_layer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Snapshot or merge.
    pub mode: ApplyMode,
    /// Chown entries to the tar's numeric uid/gid. `None` (the default):
    /// only when running as root.
    pub same_owner: Option<bool>,
    /// Create char/block device nodes (default true). Either way, a device
    /// the kernel refuses to create is skipped with a warning.
    pub devices: bool,
    /// Apply xattrs from `SCHILY.xattr.*` records (default true).
    pub xattrs: bool,
}

impl ApplyOptions {
    /// Defaults for `mode`.
    pub fn new(mode: ApplyMode) -> Self {
        ApplyOptions {
            mode,
            same_owner: None,
            devices: true,
            xattrs: true,
        }
    }
}

/// What [`apply_layer`] applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// sha256 of the whole tar stream as read.
    pub diff_id: Digest,
    /// Bytes of tar read.
    pub tar_size: u64,
    /// Sum of regular file sizes (hardlinks once) and symlink target
    /// lengths: docker's size of a layer it applied (`directory.Size`).
    pub size: u64,
    /// Tar entries seen (extension headers not counted).
    pub entries: u64,
}
