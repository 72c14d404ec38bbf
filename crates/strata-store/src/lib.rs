//! strata-store: the image store of one root directory — content store,
//! metadata DB, snapshots, layer tars, image records, archives and GC.
//!
//! Main types:
//! - [`Store`]: one open root; [`Store::open`] creates the layout, runs
//!   the DB migrations and sweeps scratch space left by dead processes.
//! - [`content::ContentStore`]: blobs by digest, written verify-then-rename.
//! - [`snapshots::Snapshots`]: unpacked layers by chain ID (overlay lowers).
//! - [`layer`]: deterministic layer tars and safe extraction.
//! - [`inroot_linux`]: paths resolved inside a root directory, or a stack
//!   of overlay layers, as if it were `/` (extraction, mount sources and
//!   mount points, reading a container's files).
//! - [`images`]: image records, references, tags, removal; [`archive`]:
//!   `save`/`load` of docker-archive and OCI-layout tars, and `import`.
//!
//! Several processes may open one root at once: SQLite (WAL) serialises
//! metadata writes, every file is written in the process's own scratch dir
//! and renamed into place, and garbage collection only runs while no other
//! process holds the root (see [`layout`]).
//!
//! ```no_run
//! let store = strata_store::Store::open("/var/lib/strata").unwrap();
//! for img in store.list_images().unwrap() {
//!     println!("{} {}", img.id.short(), img.size);
//! }
//! ```

pub mod archive;
pub mod cancel;
pub mod check;
pub mod content;
pub mod context_dirs;
pub mod context_index;
pub mod db;
pub mod error;
pub mod events;
pub mod fuzzing;
pub mod gc;
pub mod hint;
pub mod images;
pub mod ingest;
pub mod inroot_linux;
pub mod layer;
pub mod layout;
pub mod mounts;
pub mod plainfs_linux;
pub mod prune;
pub mod scratch;
pub mod snapshots;
pub mod tree_blob;
pub mod userns;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use error::{Result, StoreError};
pub use images::Image;
pub use strata_oci;

use content::ContentStore;
use db::Db;
use layout::{FileLock, Layout, LockMode, Scratch};
use snapshots::Snapshots;

/// How to open a store.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Hold the root's shared GC guard while open (every command does; a
    /// long-lived container supervisor does not, so it never blocks GC).
    pub gc_guard: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions { gc_guard: true }
    }
}

/// One open store root.
#[derive(Debug)]
pub struct Store {
    layout: Layout,
    db: Arc<Db>,
    content: ContentStore,
    snapshots: Snapshots,
    scratch: Arc<Scratch>,
    gc_guard: Mutex<Option<FileLock>>,
}

impl Store {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: impl AsRef<Path>) -> Result<Store> {
        Self::open_with(root, &OpenOptions::default())
    }

    /// Opens with options.
    pub fn open_with(root: impl AsRef<Path>, opts: &OpenOptions) -> Result<Store> {
        let layout = Layout::new(root.as_ref());
        layout.create()?;
        let gc_guard = if opts.gc_guard {
            Some(FileLock::lock(&layout.gc_lock(), LockMode::Shared)?)
        } else {
            None
        };
        // Reclaiming dead processes' scratch never fails the open; what it
        // cannot delete now waits for the next open (`system check` lists it).
        let swept = layout::sweep_tmp(&layout.tmp());
        for (path, why) in &swept.deferred {
            tracing::debug!("scratch {} left for later: {why}", path.display());
        }
        let scratch = Arc::new(Scratch::create(&layout.tmp())?);
        let db = Arc::new(Db::open(&layout.db())?);
        let content = ContentStore::new(layout.blobs(), scratch.clone());
        let snapshots = Snapshots::new(
            layout.snapshots(),
            db.clone(),
            scratch.clone(),
            content.clone(),
        );
        Ok(Store {
            layout,
            db,
            content,
            snapshots,
            scratch,
            gc_guard: Mutex::new(gc_guard),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        self.layout.root()
    }

    /// The layout of the root.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The metadata DB.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The metadata DB, shareable.
    pub fn db_arc(&self) -> Arc<Db> {
        self.db.clone()
    }

    /// The content store.
    pub fn content(&self) -> &ContentStore {
        &self.content
    }

    /// The snapshotter.
    pub fn snapshots(&self) -> &Snapshots {
        &self.snapshots
    }

    /// This process's scratch space (removed when the store is dropped, or
    /// by the next process if this one dies).
    pub fn scratch(&self) -> &Scratch {
        &self.scratch
    }

    /// `containers/<id>` for a container ID.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.layout.containers().join(id)
    }
}
