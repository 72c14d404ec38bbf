//! A mounted view of an image's filesystem (a chain of snapshots), for the
//! steps that read one: COPY's destination side (what already exists,
//! `--chown` names), `COPY --from`, `RUN --mount=type=bind,from=…`, and
//! WORKDIR.
//!
//! The view is an overlay of the chain's snapshot dirs with a throw-away
//! upper dir in this process's scratch space, so nothing can write into a
//! snapshot; a chain of one layer is mounted too (never used in place). An
//! empty chain (`FROM scratch`) is an empty directory. The mount is
//! removed when the [`View`] is dropped. The build process runs in its own
//! mount namespace ([`private_mounts`]), so a killed build leaves no mount
//! behind on the host.
//!
//! With chroot isolation (nothing can be mounted) the view is a plain copy
//! of the chain instead (`strata_store::plainfs_linux::materialize`),
//! shared by every view of the same layers in this process and kept (the
//! last [`PLAIN_KEEP`] unused ones) until it exits: the steps only read
//! views, and a COPY checks that the files it copies are the inodes it
//! selected (an overlay view shows the snapshots' own inodes, a copy its
//! own). Under the default isolation a kernel that refuses the overlay
//! mount gets [`RuntimeError::NeedsChroot`].
//!
//! [`RuntimeError::NeedsChroot`]: strata_runtime::RuntimeError::NeedsChroot

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use strata_oci::Digest;
use strata_runtime::isolation::{self, Isolation};
use strata_runtime::rootfs_linux::{Mounter, Overlay, SysMounter};
use strata_store::Store;

use crate::error::{BuildError, Result};

/// A mounted view; unmounted and removed on drop.
#[derive(Debug)]
pub struct View {
    root: PathBuf,
    holder: PathBuf,
    mounted: bool,
    /// A shared plain copy (chroot isolation): left in place on drop.
    shared: Option<Arc<PathBuf>>,
}

/// How many plain copies no view uses are kept.
const PLAIN_KEEP: usize = 4;

/// Plain copies for views: (lower dirs, holder dir), oldest first.
static PLAIN: Mutex<Vec<(Vec<PathBuf>, Arc<PathBuf>)>> = Mutex::new(Vec::new());

impl View {
    /// Mounts the filesystem of the chain ending at `chain` (chain IDs
    /// bottom first; empty for scratch).
    pub fn mount(store: &Store, chain: &[Digest], iso: Isolation) -> Result<View> {
        let lowers = if chain.is_empty() {
            Vec::new()
        } else {
            store.snapshots().lower_dirs(chain)?
        };
        View::mount_dirs(store, lowers, iso)
    }

    /// Mounts an overlay of `lowers` (topmost first; none: an empty
    /// directory) with a throw-away upper dir; with chroot isolation,
    /// copies them.
    pub fn mount_dirs(store: &Store, lowers: Vec<PathBuf>, iso: Isolation) -> Result<View> {
        if iso == Isolation::Chroot && !lowers.is_empty() {
            return View::plain(store, lowers);
        }
        let holder = store.scratch().new_dir("view")?;
        let root = holder.join("root");
        let mut view = View {
            root: root.clone(),
            holder: holder.clone(),
            mounted: false,
            shared: None,
        };
        std::fs::create_dir_all(&root).map_err(BuildError::io("create directory", &root))?;
        if lowers.is_empty() {
            return Ok(view);
        }
        let (upper, work) = (holder.join("upper"), holder.join("work"));
        for d in [&upper, &work] {
            std::fs::create_dir_all(d).map_err(BuildError::io("create directory", d))?;
        }
        Overlay {
            lowers,
            upper,
            work,
        }
        .mount(&SysMounter, &root)
        .map_err(isolation::refused)?;
        view.mounted = true;
        Ok(view)
    }

    /// The shared plain copy of `lowers`, made when missing.
    fn plain(store: &Store, lowers: Vec<PathBuf>) -> Result<View> {
        let mut kept = PLAIN.lock().unwrap_or_else(|e| e.into_inner());
        let holder = match kept.iter().find(|(l, _)| *l == lowers) {
            Some((_, h)) => h.clone(),
            None => {
                let holder = store.scratch().new_dir("view")?;
                let root = holder.join("root");
                let made = std::fs::create_dir(&root)
                    .map_err(BuildError::io("create directory", &root))
                    .and_then(|()| {
                        strata_store::plainfs_linux::materialize(&lowers, &root)
                            .map_err(|e| strata_store::StoreError::from(e).into())
                    });
                if let Err(e) = made {
                    let _ = strata_store::layout::remove_tree(&holder);
                    return Err(e);
                }
                let h = Arc::new(holder);
                kept.push((lowers, h.clone()));
                // Drop the oldest copies no view holds.
                while kept.len() > PLAIN_KEEP {
                    let Some(i) = kept.iter().position(|(_, h)| Arc::strong_count(h) == 1) else {
                        break;
                    };
                    let (_, h) = kept.remove(i);
                    let _ = strata_store::layout::remove_tree(&h);
                }
                h
            }
        };
        Ok(View {
            root: holder.join("root"),
            holder: holder.to_path_buf(),
            mounted: false,
            shared: Some(holder),
        })
    }

    /// The view's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for View {
    fn drop(&mut self) {
        if self.shared.is_some() {
            return;
        }
        if self.mounted {
            let _ = SysMounter.unmount(&self.root);
        }
        let _ = strata_store::layout::remove_tree(&self.holder);
    }
}

/// Moves this process into its own mount namespace (mounts it makes are
/// invisible to the host and vanish when it exits). Must run before any
/// thread is started; a no-op when not root.
pub fn private_mounts() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    strata_runtime::sys_linux::private_mount_namespace()
        .map_err(|e| BuildError::Invalid(format!("make a private mount namespace: {e}")))?;
    Ok(())
}
