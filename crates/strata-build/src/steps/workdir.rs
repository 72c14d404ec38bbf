//! WORKDIR: sets the config's working directory and, as BuildKit does
//! (`mkdir -p` owned by the current USER), makes a layer holding the
//! directories that did not exist yet — an *empty* layer when the
//! directory already exists. `WORKDIR /` makes no layer.
//!
//! The path is resolved inside the parent image (symlinks followed within
//! its root); existing directories on the way into the new ones are
//! written into the layer with the parent's mode, owner and mtime, so
//! applying the layer changes nothing but the new directories.

use std::fs::FileTimes;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

use strata_oci::ImageConfig;
use strata_runtime::spec::user::resolve_user;
use strata_store::ingest::{DirLayerOptions, IngestedLayer};
use strata_store::layer::{Compression, WhiteoutFormat};

use super::{Exec, push_layer_history};
use crate::error::{BuildError, Result};
use crate::view::View;

/// Most symlinks followed while resolving the path (as Linux's 40).
const MAX_LINKS: usize = 40;

/// Executes WORKDIR (`config` already has the new working dir).
pub fn workdir(
    ex: &Exec<'_>,
    mut config: ImageConfig,
) -> Result<(ImageConfig, Option<IngestedLayer>)> {
    let cc = config.config.clone().unwrap_or_default();
    let wd = cc.working_dir.clone().unwrap_or_else(|| "/".into());
    if wd == "/" {
        super::meta::push_history(
            &mut config,
            "WORKDIR /".into(),
            true,
            &ex.req.history_time(),
        );
        return Ok((config, None));
    }
    let store = ex.store;
    let chain = config.chain_ids();
    let view = View::mount(store, &chain, ex.req.isolation)?;
    let work = store.scratch().new_dir("workdir")?;
    let layer_dir = work.join("layer");
    let result = (|| -> Result<IngestedLayer> {
        std::fs::create_dir(&layer_dir).map_err(BuildError::io("create directory", &layer_dir))?;
        let user = cc.user.clone().unwrap_or_default();
        let (uid, gid) = if user.is_empty() {
            (0, 0)
        } else {
            let read = |p: &str| std::fs::read_to_string(view.root().join(p)).ok();
            let u = resolve_user(
                &user,
                read("etc/passwd").as_deref(),
                read("etc/group").as_deref(),
                &[],
            )?;
            (u.uid, u.gid)
        };
        make_dirs(view.root(), &layer_dir, &wd, uid, gid)?;
        drop(view);
        Ok(store.layer_from_dir(
            &layer_dir,
            chain.last(),
            &DirLayerOptions {
                whiteouts: WhiteoutFormat::Plain,
                compression: Compression::None,
                source_date_epoch: ex.req.source_date_epoch,
                adopt_dir: true,
            },
        )?)
    })();
    let _ = strata_store::layout::remove_tree(&work);
    let layer = result?;
    push_layer_history(
        &mut config,
        &layer,
        format!("WORKDIR {wd}"),
        &ex.req.history_time(),
    );
    Ok((config, Some(layer)))
}

/// Creates in `layer` the directories of image path `wd` missing from
/// `root` (owned `uid:gid`, 0755), with the existing ones on the way
/// copied from `root`.
pub fn make_dirs(root: &Path, layer: &Path, wd: &str, uid: u32, gid: u32) -> Result<()> {
    let mut todo: Vec<String> = wd
        .split('/')
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect();
    todo.reverse();
    let mut resolved: Vec<String> = Vec::new();
    let mut links = 0;
    let mut created = false;
    while let Some(comp) = todo.pop() {
        match comp.as_str() {
            "." => continue,
            ".." => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        let rel = format!("{}/{comp}", resolved.join("/"));
        let rel = rel.trim_start_matches('/');
        let p = root.join(rel);
        match std::fs::symlink_metadata(&p) {
            Ok(md) if md.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(BuildError::Invalid(format!(
                        "WORKDIR {wd}: too many levels of symbolic links"
                    )));
                }
                let target = std::fs::read_link(&p).map_err(BuildError::io("read link", &p))?;
                let t = target.to_string_lossy();
                if t.starts_with('/') {
                    resolved.clear();
                }
                let mut parts: Vec<String> = t
                    .split('/')
                    .filter(|c| !c.is_empty())
                    .map(String::from)
                    .collect();
                parts.reverse();
                todo.extend(parts);
            }
            Ok(md) if md.is_dir() => {
                resolved.push(comp);
                copy_dir_meta(&p, &layer.join(rel), &md)?;
            }
            Ok(_) => {
                return Err(BuildError::Invalid(format!(
                    "WORKDIR {wd}: /{rel} exists and is not a directory"
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                resolved.push(comp);
                let mut rest = vec![resolved.join("/")];
                while let Some(c) = todo.pop() {
                    match c.as_str() {
                        "." => {}
                        ".." => {
                            // `mkdir -p a/../b` creates a and b.
                            resolved.pop();
                        }
                        _ => {
                            resolved.push(c);
                            rest.push(resolved.join("/"));
                        }
                    }
                }
                for r in rest {
                    let d = layer.join(&r);
                    if d.exists() {
                        continue;
                    }
                    std::fs::create_dir(&d).map_err(BuildError::io("create directory", &d))?;
                    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755))
                        .map_err(BuildError::io("chmod", &d))?;
                    std::os::unix::fs::chown(&d, Some(uid), Some(gid))
                        .map_err(BuildError::io("chown", &d))?;
                    created = true;
                }
                break;
            }
            Err(e) => return Err(BuildError::io("stat", &p)(e)),
        }
    }
    if !created {
        // Everything exists: an empty layer, as BuildKit writes.
        for e in std::fs::read_dir(layer)
            .map_err(BuildError::io("read directory", layer))?
            .flatten()
        {
            strata_store::layout::remove_tree(&e.path())
                .map_err(BuildError::io("remove", e.path()))?;
        }
        return Ok(());
    }
    restore_times(root, layer, Path::new(""))
}

fn copy_dir_meta(src: &Path, dst: &Path, md: &std::fs::Metadata) -> Result<()> {
    if !dst.exists() {
        std::fs::create_dir(dst).map_err(BuildError::io("create directory", dst))?;
    }
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(md.mode() & 0o7777))
        .map_err(BuildError::io("chmod", dst))?;
    std::os::unix::fs::chown(dst, Some(md.uid()), Some(md.gid()))
        .map_err(BuildError::io("chown", dst))?;
    let _ = src;
    Ok(())
}

/// Gives the directories copied from the parent their parent's mtime back
/// (creating children changed it), deepest first.
fn restore_times(root: &Path, layer: &Path, rel: &Path) -> Result<()> {
    let dir = layer.join(rel);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    for e in rd.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            restore_times(root, layer, &rel.join(e.file_name()))?;
        }
    }
    if rel.as_os_str().is_empty() {
        return Ok(());
    }
    if let Ok(md) = std::fs::symlink_metadata(root.join(rel))
        && md.is_dir()
    {
        let t = SystemTime::UNIX_EPOCH
            + Duration::new(
                md.mtime().max(0) as u64,
                md.mtime_nsec().clamp(0, 999_999_999) as u32,
            );
        let f = std::fs::File::open(&dir).map_err(BuildError::io("open", &dir))?;
        f.set_times(FileTimes::new().set_modified(t).set_accessed(t))
            .map_err(BuildError::io("set times of", &dir))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_only_missing_dirs_following_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let (root, layer) = (t.path().join("root"), t.path().join("layer"));
        std::fs::create_dir_all(root.join("var/lib")).unwrap();
        std::fs::create_dir_all(root.join("run")).unwrap();
        std::os::unix::fs::symlink("/run", root.join("var/run")).unwrap();
        std::fs::create_dir(&layer).unwrap();
        make_dirs(&root, &layer, "/var/run/app/x", 0, 0).unwrap();
        assert!(layer.join("run/app/x").is_dir());
        assert!(!layer.join("var/run").exists());
        // Existing: nothing new, only the existing path's metadata.
        let layer2 = t.path().join("layer2");
        std::fs::create_dir(&layer2).unwrap();
        make_dirs(&root, &layer2, "/var/lib", 0, 0).unwrap();
        assert_eq!(std::fs::read_dir(&layer2).unwrap().count(), 0);
        let e = {
            std::fs::write(root.join("file"), "x").unwrap();
            make_dirs(&root, &layer2, "/file/sub", 0, 0).unwrap_err()
        };
        assert!(e.to_string().contains("not a directory"), "{e}");
    }
}
