//! `diff`: a container's changes to its image's filesystem, as `docker
//! diff` lists them (`A` added, `C` changed, `D` deleted).
//!
//! docker 20.10 compares the container's merged tree with the merged tree
//! of its init layer (the image plus the mount-point stubs): a name absent
//! below is `A` (and so is everything under it), a name whose `lstat`
//! differs (type and mode, owner, device; for non-directories also size
//! and mtime) is `C`, a name gone is `D`, and a directory not itself
//! listed gets a `C` line before the first change below it. strata's upper
//! dir is exactly the container's changes, so only its entries are
//! compared, each with what the lower layers (init layer, then the image's
//! snapshots) hold at that path: a whiteout (char device 0/0) is a `D`, an
//! opaque directory deletes every lower name it does not hold. Within a
//! directory, names come in byte order and deletions after the rest (docker
//! walks a Go map there, so its sibling order varies from run to run).

use std::collections::BTreeSet;
use std::ffi::{CString, OsString};
use std::fs::{self, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use strata_store::Store;

use crate::containers::{Container, paths};
use crate::error::{IoContext, Result, RuntimeError};

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `C`.
    Changed,
    /// `A`.
    Added,
    /// `D`.
    Deleted,
}

/// One line of `diff`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Absolute path in the container.
    pub path: String,
    /// What happened to it.
    pub kind: Kind,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let k = match self.kind {
            Kind::Changed => 'C',
            Kind::Added => 'A',
            Kind::Deleted => 'D',
        };
        write!(f, "{k} {}", self.path)
    }
}

/// The changes of container `c`.
pub fn changes(store: &Store, c: &Container) -> Result<Vec<Change>> {
    let p = paths(store, &c.id);
    let image =
        store
            .image(&strata_oci::Digest::parse(&c.image_id).map_err(|e| {
                RuntimeError::Invalid(format!("container {}: image ID: {e}", c.id))
            })?)?;
    let mut lowers = vec![p.init.clone()];
    lowers.extend(store.snapshots().lower_dirs(&image.chain_ids())?);
    changes_between(&p.upper, &lowers)
}

/// The changes an overlay upper dir makes over `lowers` (topmost first).
pub fn changes_between(upper: &Path, lowers: &[PathBuf]) -> Result<Vec<Change>> {
    let mut out = Vec::new();
    let w = Walk { upper, lowers };
    w.dir("", true, true, &mut out)?;
    Ok(out)
}

struct Walk<'a> {
    upper: &'a Path,
    lowers: &'a [PathBuf],
}

impl Walk<'_> {
    /// The changes inside directory `rel` (`""`: the root), which exists
    /// below when `below`; `listed`: the directory has a line of its own.
    fn dir(&self, rel: &str, below: bool, listed: bool, out: &mut Vec<Change>) -> Result<()> {
        let dir = self.upper.join(rel.trim_start_matches('/'));
        let start = out.len();
        let mut deleted = Vec::new();
        let mut names: Vec<OsString> = fs::read_dir(&dir)
            .ctx("read directory", &dir)?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for n in &names {
            let path = format!("{rel}/{}", n.to_string_lossy());
            let host = dir.join(n);
            let md = fs::symlink_metadata(&host).ctx("stat", &host)?;
            let old = if below { self.lower(&path) } else { None };
            if is_whiteout(&md) {
                if old.is_some() {
                    deleted.push(path);
                }
                continue;
            }
            match old {
                None => {
                    out.push(Change {
                        path: path.clone(),
                        kind: Kind::Added,
                    });
                    if md.is_dir() {
                        self.dir(&path, false, true, out)?;
                    }
                }
                Some(old) => {
                    let changed = stat_different(&old, &md);
                    if changed {
                        out.push(Change {
                            path: path.clone(),
                            kind: Kind::Changed,
                        });
                    }
                    if md.is_dir() {
                        self.dir(&path, old.is_dir(), changed, out)?;
                    }
                }
            }
        }
        if below && is_opaque(&dir) {
            let kept: BTreeSet<&[u8]> = names.iter().map(|n| n.as_bytes()).collect();
            for n in self.lower_names(rel) {
                if !kept.contains(n.as_bytes()) {
                    deleted.push(format!("{rel}/{}", n.to_string_lossy()));
                }
            }
        }
        out.extend(deleted.into_iter().map(|path| Change {
            path,
            kind: Kind::Deleted,
        }));
        if out.len() > start && !listed && !rel.is_empty() {
            out.insert(
                start,
                Change {
                    path: rel.to_string(),
                    kind: Kind::Changed,
                },
            );
        }
        Ok(())
    }

    /// The layers (indexes) that make up directory `rel` below, topmost
    /// first, as overlayfs merges them.
    fn dir_layers(&self, rel: &str) -> Vec<usize> {
        let mut active: Vec<usize> = (0..self.lowers.len()).collect();
        let mut prefix = PathBuf::new();
        for comp in rel.split('/').filter(|c| !c.is_empty()) {
            prefix.push(comp);
            let mut next = Vec::new();
            for &i in &active {
                let p = self.lowers[i].join(&prefix);
                let Ok(md) = fs::symlink_metadata(&p) else {
                    continue;
                };
                if !md.is_dir() {
                    // A whiteout or a non-directory hides the rest.
                    break;
                }
                next.push(i);
                if is_opaque(&p) {
                    break;
                }
            }
            active = next;
            if active.is_empty() {
                break;
            }
        }
        active
    }

    /// What the lower layers hold at `path`, if anything.
    fn lower(&self, path: &str) -> Option<Metadata> {
        let (parent, name) = path.rsplit_once('/')?;
        for i in self.dir_layers(parent) {
            if let Ok(md) = fs::symlink_metadata(
                self.lowers[i]
                    .join(parent.trim_start_matches('/'))
                    .join(name),
            ) {
                return (!is_whiteout(&md)).then_some(md);
            }
        }
        None
    }

    /// The names directory `rel` holds below (whiteouts applied).
    fn lower_names(&self, rel: &str) -> Vec<OsString> {
        let mut seen = BTreeSet::new();
        let mut names = Vec::new();
        for i in self.dir_layers(rel) {
            let d = self.lowers[i].join(rel.trim_start_matches('/'));
            let Ok(rd) = fs::read_dir(&d) else { continue };
            for e in rd.flatten() {
                let n = e.file_name();
                if !seen.insert(n.clone()) {
                    continue;
                }
                if e.metadata().is_ok_and(|md| !is_whiteout(&md)) {
                    names.push(n);
                }
            }
        }
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        names
    }
}

/// docker's `statDifferent`.
fn stat_different(old: &Metadata, new: &Metadata) -> bool {
    old.mode() != new.mode()
        || old.uid() != new.uid()
        || old.gid() != new.gid()
        || old.rdev() != new.rdev()
        || (!old.is_dir() && (!same_time(old, new) || old.len() != new.len()))
}

/// docker's `sameFsTime`: equal, or equal seconds where one side has no
/// nanoseconds (a tar without them).
fn same_time(a: &Metadata, b: &Metadata) -> bool {
    (a.mtime() == b.mtime())
        && (a.mtime_nsec() == b.mtime_nsec() || a.mtime_nsec() == 0 || b.mtime_nsec() == 0)
}

fn is_whiteout(md: &Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

/// Whether directory `p` carries overlayfs' opaque mark.
fn is_opaque(p: &Path) -> bool {
    let Ok(c) = CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    [c"trusted.overlay.opaque", c"user.overlay.opaque"]
        .iter()
        .any(|name| {
            let mut v = [0u8; 2];
            // SAFETY: both names are NUL-terminated C strings that outlive
            // the call, and the buffer pointer and length describe `v`.
            let n = unsafe {
                libc::lgetxattr(c.as_ptr(), name.as_ptr(), v.as_mut_ptr().cast(), v.len())
            };
            n == 1 && v[0] == b'y'
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(c: &[Change]) -> Vec<String> {
        c.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn added_and_changed_as_docker_lists_them() {
        let t = tempfile::tempdir().unwrap();
        let (upper, image) = (t.path().join("upper"), t.path().join("image"));
        for d in ["etc", "tmp", "usr/lib"] {
            fs::create_dir_all(image.join(d)).unwrap();
        }
        fs::write(image.join("etc/motd"), "hi").unwrap();
        fs::write(image.join("etc/group"), "root:x:0:").unwrap();
        fs::write(image.join("usr/lib/a"), "a").unwrap();
        // The container: a new dir with a file, /etc/motd rewritten.
        // (Deletions need a 0/0 device, which only root can make: the CLI
        // suite covers them.)
        fs::create_dir_all(upper.join("tmp/new")).unwrap();
        fs::write(upper.join("tmp/new/f"), "x").unwrap();
        fs::create_dir_all(upper.join("etc")).unwrap();
        fs::write(upper.join("etc/motd"), "changed").unwrap();
        let got = changes_between(&upper, std::slice::from_ref(&image)).unwrap();
        assert_eq!(
            lines(&got),
            [
                "C /etc",
                "C /etc/motd",
                "C /tmp",
                "A /tmp/new",
                "A /tmp/new/f"
            ]
        );
    }

    #[test]
    fn an_unchanged_copy_up_is_no_change() {
        let t = tempfile::tempdir().unwrap();
        let (upper, image) = (t.path().join("upper"), t.path().join("image"));
        fs::create_dir_all(image.join("etc")).unwrap();
        fs::create_dir_all(upper.join("etc")).unwrap();
        let m = fs::metadata(image.join("etc")).unwrap();
        fs::set_permissions(upper.join("etc"), m.permissions()).unwrap();
        assert!(changes_between(&upper, &[image]).unwrap().is_empty());
    }
}
