//! The rootfs of a RUN step under `--isolation chroot`: a plain directory
//! holding the parent image's files, changed in place by the step, and the
//! record its layer is diffed against (`strata_store::plainfs_linux`).
//!
//! Copying the whole image for every step would make each RUN cost the
//! image's size, so the copies are reused, as Kaniko keeps one filesystem
//! for a whole stage: after a step, its rootfs is brought up to date by
//! applying the step's own layer back (the diff moved the changed entries
//! out) and kept, keyed by the new chain ID, for the next RUN. A RUN whose
//! parent chain extends a kept one (a COPY or WORKDIR in between, or the
//! cached steps of a rebuild) takes it and applies only the missing
//! layers. Only RUN steps take kept copies (they hold the step's
//! `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf` and `/dev`, which the
//! next RUN rewrites or leaves out anyway; views for COPY and WORKDIR are
//! fresh copies). A copy is used by one step at a time (taken out of the
//! list), at most [`KEEP`] are kept per store, and they live in the
//! process's scratch space, which goes when the process ends.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use strata_oci::Digest;
use strata_runtime::spec::NetworkMode;
use strata_store::Store;
use strata_store::inroot_linux::Root;
use strata_store::plainfs_linux::{Record, materialize};

use crate::error::{BuildError, Result};

/// Paths of a chroot step's rootfs left out of its layer, as an overlay
/// step's are (mounts there, never in the upper dir).
const IGNORED: &[&str] = &["dev", "proc", "sys"];

/// How many up-to-date copies are kept per store.
const KEEP: usize = 2;

/// Kept copies: (store root, chain ID, directory), oldest first.
static KEPT: Mutex<Vec<(PathBuf, Digest, PathBuf)>> = Mutex::new(Vec::new());

/// A RUN step's rootfs; removed on drop unless [`Rootfs::keep`] kept it.
#[derive(Debug)]
pub(super) struct Rootfs {
    dir: PathBuf,
    record: Option<Record>,
    kept: bool,
}

impl Rootfs {
    /// The image of `chain` (chain IDs, bottom first) as a plain
    /// directory, with the step's `/etc/hosts`, `/etc/hostname` and
    /// `/etc/resolv.conf` written into it, recorded.
    pub(super) fn prepare(store: &Store, chain: &[Digest], network: NetworkMode) -> Result<Rootfs> {
        let mut r = match take(store, chain) {
            Some((dir, from)) => {
                let r = Rootfs {
                    dir,
                    record: None,
                    kept: false,
                };
                // The layers above the kept copy, bottom first.
                let rest = store.snapshots().lower_dirs(&chain[from..])?;
                materialize(&rest, &r.dir).map_err(strata_store::StoreError::from)?;
                r
            }
            None => {
                let r = Rootfs {
                    dir: store.scratch().new_dir("chroot-rootfs")?,
                    record: None,
                    kept: false,
                };
                let lowers = store.snapshots().lower_dirs(chain)?;
                materialize(&lowers, &r.dir).map_err(strata_store::StoreError::from)?;
                r
            }
        };
        let ignore = write_etc(&r.dir, network)?;
        let ignore: Vec<&str> = ignore.iter().map(String::as_str).collect();
        r.record = Some(Record::take(&r.dir, &ignore).map_err(BuildError::io("record", &r.dir))?);
        Ok(r)
    }

    /// The directory.
    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Moves what the step changed into the empty `upper` dir.
    pub(super) fn diff_into(&self, upper: &Path) -> Result<()> {
        let Some(record) = &self.record else {
            return Err(BuildError::Invalid("chroot rootfs not recorded".into()));
        };
        record
            .diff_into(&self.dir, upper)
            .map_err(BuildError::io("find the changes in", &self.dir))?;
        Ok(())
    }

    /// Brings the copy up to date with the step's layer (its committed
    /// snapshot `chain_id`) and keeps it for a later step. Best effort: a
    /// copy that cannot be updated is dropped.
    pub(super) fn keep(mut self, store: &Store, chain_id: &Digest) {
        let updated = store
            .snapshots()
            .lower_dirs(std::slice::from_ref(chain_id))
            .map_err(|e| e.to_string())
            .and_then(|dirs| materialize(&dirs, &self.dir).map_err(|e| e.to_string()));
        if let Err(e) = updated {
            tracing::debug!("chroot rootfs not kept: {e}");
            return;
        }
        let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
        kept.push((
            store.root().to_path_buf(),
            chain_id.clone(),
            self.dir.clone(),
        ));
        self.kept = true;
        let root = store.root();
        while kept.iter().filter(|(r, _, _)| r == root).count() > KEEP {
            let Some(i) = kept.iter().position(|(r, _, _)| r == root) else {
                break;
            };
            let (_, _, dir) = kept.remove(i);
            let _ = strata_store::layout::remove_tree(&dir);
        }
    }
}

impl Drop for Rootfs {
    fn drop(&mut self) {
        if !self.kept {
            let _ = strata_store::layout::remove_tree(&self.dir);
        }
    }
}

/// Takes the kept copy of the longest prefix of `chain`: its directory
/// and how many layers of `chain` it holds.
fn take(store: &Store, chain: &[Digest]) -> Option<(PathBuf, usize)> {
    let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    let root = store.root();
    let (i, n) = kept
        .iter()
        .enumerate()
        .filter(|(_, (r, _, _))| r == root)
        .filter_map(|(i, (_, c, _))| Some((i, chain.iter().position(|x| x == c)? + 1)))
        .max_by_key(|(_, n)| *n)?;
    let (_, _, dir) = kept.remove(i);
    Some((dir, n))
}

/// Writes the step's `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf`
/// into the rootfs (`/etc` resolved inside it, so a symlink never leads
/// out; made when missing). Returns the paths the record leaves out.
fn write_etc(rootfs: &Path, network: NetworkMode) -> Result<Vec<String>> {
    let r = Root::open(rootfs).map_err(BuildError::io("open", rootfs))?;
    let top = r.host_path("/").map_err(BuildError::io("open", rootfs))?;
    let etc = match r.host_path("/etc") {
        Ok(p) if p.is_dir() => p,
        _ => {
            let p = rootfs.join("etc");
            let _ = std::fs::remove_file(&p);
            std::fs::create_dir(&p).map_err(BuildError::io("create directory", &p))?;
            p
        }
    };
    let rel = etc
        .strip_prefix(&top)
        .unwrap_or(Path::new("etc"))
        .to_path_buf();
    let mut ignore: Vec<String> = IGNORED.iter().map(|s| s.to_string()).collect();
    for (name, data) in strata_runtime::step::etc_files(network, "buildkitsandbox") {
        let p = etc.join(name);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&p),
            Ok(_) => std::fs::remove_file(&p),
            Err(_) => Ok(()),
        }
        .map_err(BuildError::io("remove", &p))?;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&p)
            .and_then(|mut f| f.write_all(&data))
            .map_err(BuildError::io("write", &p))?;
        ignore.push(rel.join(name).display().to_string());
    }
    Ok(ignore)
}
