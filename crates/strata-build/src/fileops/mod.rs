//! What COPY and ADD select and write: [`select`] resolves the sources of
//! one instruction to a [`Selection`] (the entries, their content digests,
//! and the cache-key input [`Selection::checksum`]); [`copy_into`] writes a
//! selection into an empty layer directory; ADD's archive and URL sources
//! go through the same two calls ([`SelectOptions::add`]).
//!
//! ```text
//! let tree = SourceTree::context(&ctx);             // or SourceTree::rootfs(stage_root) for --from
//! let opts = SelectOptions::copy(&cmd);              // excludes, --parents  (SelectOptions::add for ADD)
//! let sel  = fileops::select(&tree, &cmd.sources, &opts, &mut index)?;
//! key_input(sel.checksum());                         // never mtimes
//! let dest = fileops::resolve_dest(&workdir, &cmd.dest);
//! fileops::copy_into(&tree, &sel, &layer_dir, &dest, &CopyOptions { chown, chmod, parent: Some(&rootfs), .. })?;
//! store.layer_from_dir(&layer_dir, parent, &DirLayerOptions { whiteouts: Plain, adopt_dir: true, .. })
//! ```
//!
//! # COPY/ADD semantics (BuildKit's dockerfile frontend + fsutil copy)
//!
//! | # | rule | what strata does |
//! |---|------|------------------|
//! | 1 | source path | cleaned relative to the tree root; a leading `/` means the root; `..` climbing above the context is an error naming the source (BuildKit clamps it); for a `--from` rootfs it is clamped at `/` |
//! | 2 | wildcards | a source component with `*`, `?` or `[` is matched with Go `filepath.Match` on the path below the literal prefix (`*` stops at `/`; `**` is just `*`); matches in lexical walk order; a matched directory is not searched further |
//! | 3 | no match | a wildcard that matches nothing selects nothing, no error (BuildKit's AllowEmptyWildcard); a missing literal source (or a missing literal prefix of a wildcard) is `failed to compute cache key: "/x": not found` |
//! | 4 | directory source | its *contents* are copied into the destination; the destination directory gets the source directory's mtime |
//! | 5 | symlinks | a symlink given as a source (or on the way to it) is followed; inside a copied directory symlinks are copied as symlinks |
//! | 6 | context escapes | following a symlink that leaves the context is an error naming the source and the link (a `--from` rootfs resolves it inside the rootfs, like `chroot`) |
//! | 7 | .dockerignore | ignored paths do not exist: never matched, walked, hashed or keyed; a literal ignored source is "not found" plus the pattern that excluded it |
//! | 8 | dest path | relative to WORKDIR ([`resolve_dest`]); a trailing `/` (or `.`) makes it a directory; symlinks in the destination are resolved inside the image |
//! | 9 | dest without `/` | a file source goes *into* the destination when it is an existing directory (in the parent image or written by an earlier source), else it *is* the destination |
//! | 10 | several sources | more than one selected source into a destination that neither ends in `/` nor is an existing directory: `When using COPY with more than one source file, the destination must be a directory and end with a /` |
//! | 11 | parent dirs | missing directories on the way are created 0755, owned by `--chown` or 0:0, mtime now (or [`CopyOptions::timestamp`]); existing ones are written into the layer with the parent image's mode, owner and mtime |
//! | 12 | conflicts | a directory over a non-directory: `cannot copy to non-directory: <path>`; a file over a directory: `cannot replace to directory <path> with file` |
//! | 13 | ownership | context files become 0:0; `--from` files keep their uid/gid; `--chown=u[:g]`: numbers as given (uid only → gid = uid), names from the *image's* `/etc/passwd`/`/etc/group` (name only → the user's primary group); an unknown name is an error |
//! | 14 | `--chmod` | octal (incl. setuid/setgid/sticky) or symbolic (`u+x,go=r`), applied to every copied file and directory, not to symlinks nor to created parent dirs |
//! | 15 | metadata | mode bits and mtimes are kept (atime = mtime); xattrs are copied (not `security.selinux`); hardlinks within one source stay hardlinks; FIFOs and devices are recreated; sockets are skipped |
//! | 16 | `--exclude` | patternmatcher patterns (with `!` exceptions) on paths relative to the source directory, or on the base name of a file source |
//! | 17 | `--parents` | the source is split at `/./` (default: the root) into a pivot and a pattern; matching paths keep their directories below the pivot, which are created with the source directories' metadata; `**` works here |
//! | 18 | ADD archives | a local source that is a tar (plain, gzip, bzip2, xz, zstd; sniffed by content) is extracted *into* the destination (a directory), entries keep their tar owner/mode/mtime unless `--chown`; `--unpack=false` copies it as a file |
//! | 19 | ADD URLs | http(s) downloaded, named after the URL's last path segment (`__unnamed__` if none), mode 0600, mtime from `Last-Modified`; `--checksum=sha256:…` verified; not extracted unless `--unpack=true` |
//! | 20 | ADD git | git URLs are refused: strata does not fetch git sources |
//! | 21 | cache key | [`Selection::checksum`]: per source the written text, then per entry its relative path, type, mode, uid/gid (source owner: 0 for the context), link target, device number and content sha256 — never mtime/atime/ctime. `--chown`/`--chmod`/dest are keyed by the engine through the instruction text, and a `--chown` name's meaning through the parent key |
//! | 22 | heredocs | `COPY <<EOF` bodies ([`Selection::push_inline`]) are 0644 files named after the delimiter |
//!
//! Where strata is stricter than BuildKit (rows 1, 6, 10, 13) it turns a
//! silent surprise (a clamped `..`, an overwritten destination, files owned
//! by root for a misspelt user) into an error that names the cause.

pub mod archive;
mod chown;
mod copy;
mod dest;
mod entries;
mod error;
mod glob;
mod remote;
mod reuse;
mod select;
mod selection;
mod sys;
mod walk;

pub use chown::{Owner, resolve_chown};
pub use copy::{CopyOptions, CopyStats, copy_into};
pub use dest::resolve_dest;
pub use entries::Entries;
pub use error::FileOpError;
pub use glob::go_match;
pub use reuse::{CopiedFile, FileMap, MAP_NAME, Reuse};
pub use select::select;
pub use selection::{
    CHECKSUM_VERSION, EntryKind, SelectStats, SelectedEntry, Selection, SelectionSummary,
    SourceUnit, UnitKind,
};

use std::path::{Path, PathBuf};

use crate::context::BuildContext;
use strata_dockerfile::instructions::{AddCommand, CopyCommand};

/// Fileops result.
pub type Result<T, E = FileOpError> = std::result::Result<T, E>;

/// The threads a walk, a hashing pass or a copy uses at most: one per
/// core, 1 to 8. Asked once per process: `available_parallelism` reads
/// the cgroup's CPU quota (five files) each time.
pub(crate) fn worker_threads() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(1, 8)
    })
}

/// Which instruction a selection is for (error texts, URL and archive rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Command {
    /// COPY.
    #[default]
    Copy,
    /// ADD.
    Add,
    /// A `RUN --mount` source (its cache key and the seed of a cache):
    /// a plain path, never a URL.
    Mount,
}

impl Command {
    /// `COPY` or `ADD`.
    pub fn name(self) -> &'static str {
        match self {
            Command::Copy => "COPY",
            Command::Add => "ADD",
            Command::Mount => "RUN --mount",
        }
    }
}

/// Where sources are read from: the build context (ignore file applied,
/// escapes are errors, ownership reset to 0:0, digests cached in the stat
/// index) or a mounted stage/image rootfs for `--from` (symlinks resolved
/// inside it, ownership kept, nothing persisted in the index).
#[derive(Debug, Clone, Copy)]
pub struct SourceTree<'a> {
    root: &'a Path,
    ignore: Option<&'a BuildContext>,
}

impl<'a> SourceTree<'a> {
    /// The build context.
    pub fn context(ctx: &'a BuildContext) -> SourceTree<'a> {
        SourceTree {
            root: ctx.root(),
            ignore: Some(ctx),
        }
    }

    /// A rootfs (a stage's or an image's, for `COPY --from`).
    pub fn rootfs(root: &'a Path) -> SourceTree<'a> {
        SourceTree { root, ignore: None }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        self.root
    }

    /// The build context, when this tree is one.
    pub fn context_of(&self) -> Option<&'a BuildContext> {
        self.ignore
    }

    pub(crate) fn is_context(&self) -> bool {
        self.ignore.is_some()
    }
}

/// How [`select`] reads the sources of one instruction.
#[derive(Debug, Clone, Default)]
pub struct SelectOptions {
    /// COPY, ADD or a RUN mount.
    pub command: Command,
    /// `--exclude` patterns.
    pub excludes: Vec<String>,
    /// `--parents`.
    pub parents: bool,
    /// ADD `--checksum=sha256:…` (URL sources only).
    pub checksum: Option<String>,
    /// ADD `--unpack` (`None`: local archives only).
    pub unpack: Option<bool>,
    /// Where ADD downloads URL sources (a scratch directory); URL sources
    /// are an error without it.
    pub download_dir: Option<PathBuf>,
}

impl SelectOptions {
    /// The options of a COPY instruction.
    pub fn copy(cmd: &CopyCommand) -> SelectOptions {
        SelectOptions {
            command: Command::Copy,
            excludes: cmd.excludes.clone(),
            parents: cmd.parents,
            ..SelectOptions::default()
        }
    }

    /// The options of an ADD instruction; URL sources are downloaded into
    /// `download_dir`.
    pub fn add(cmd: &AddCommand, download_dir: &Path) -> SelectOptions {
        SelectOptions {
            command: Command::Add,
            excludes: cmd.excludes.clone(),
            parents: false,
            checksum: cmd.checksum.clone(),
            unpack: cmd.unpack,
            download_dir: Some(download_dir.to_path_buf()),
        }
    }
}
