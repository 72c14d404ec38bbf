//! `cp`: files between a container and the host, both ways, with docker's
//! rules for where the copy lands:
//!
//! * into an existing directory: as `DEST/<basename of SRC>`, or its
//!   contents when SRC ends in `/.`;
//! * onto a missing path: as that path (its parent must exist; a missing
//!   path ending in `/` is an error);
//! * onto an existing file: a file replaces it, a directory is an error.
//!
//! The container side is the container's own view while it runs
//! (`/proc/<pid>/root`, with its volumes) and its overlay, mounted for the
//! copy, when it does not. Paths in the container are resolved inside its
//! root ([`RootDir::resolve`]): a symlink can never lead out of it. Data
//! moves as a tar stream (`-` reads or writes the stream itself) and is
//! extracted with the store's safe extractor, which never writes outside
//! its target either. Symlinks are copied as symlinks. Without `-a`, files
//! copied into a container are owned by root, as under docker.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use strata_store::Store;
use strata_store::layer::{ApplyMode, ApplyOptions, apply_layer};

use crate::containers::{Container, paths};
use crate::error::{IoContext, Result, RuntimeError};
use crate::inroot_linux::RootDir;
use crate::rootfs_linux::{Mounter, Overlay, SysMounter, is_mounted};

/// A container's filesystem, reachable from the host for a copy.
#[derive(Debug)]
pub struct ContainerFs {
    root: RootDir,
    mounted: Option<PathBuf>,
}

impl ContainerFs {
    /// The container's root (running: its own view; stopped: its overlay,
    /// mounted until this value is dropped).
    pub fn open(store: &Store, c: &Container) -> Result<ContainerFs> {
        if let Some(init) = c
            .state
            .strata
            .init
            .filter(|i| c.is_running() && i.is_alive())
        {
            let root = RootDir::open(Path::new(&format!("/proc/{}/root", init.pid)))?;
            return Ok(ContainerFs {
                root,
                mounted: None,
            });
        }
        ContainerFs::open_layers(store, c)
    }

    /// The container's layers alone, without its mounts (`export`): its
    /// rootfs mount while it runs (made in the host's mount namespace;
    /// the container's own mounts live in its namespace), else its overlay,
    /// mounted until this value is dropped.
    pub fn open_layers(store: &Store, c: &Container) -> Result<ContainerFs> {
        let p = paths(store, &c.id);
        if is_mounted(&p.rootfs) {
            return Ok(ContainerFs {
                root: RootDir::open(&p.rootfs)?,
                mounted: None,
            });
        }
        let image = store.image(
            &strata_oci::Digest::parse(&c.image_id)
                .map_err(|e| RuntimeError::Invalid(e.to_string()))?,
        )?;
        let mut lowers = vec![p.init.clone()];
        lowers.extend(store.snapshots().lower_dirs(&image.chain_ids())?);
        Overlay {
            lowers,
            upper: p.upper.clone(),
            work: p.work.clone(),
        }
        .mount(&SysMounter, &p.rootfs)?;
        match RootDir::open(&p.rootfs) {
            Ok(root) => Ok(ContainerFs {
                root,
                mounted: Some(p.rootfs),
            }),
            Err(e) => {
                let _ = SysMounter.unmount(&p.rootfs);
                Err(e)
            }
        }
    }

    /// The root.
    pub fn root(&self) -> &RootDir {
        &self.root
    }
}

impl Drop for ContainerFs {
    fn drop(&mut self) {
        if let Some(m) = &self.mounted {
            let _ = SysMounter.unmount(m);
        }
    }
}

/// Where a copy's tar is extracted, and the name of its top entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landing {
    /// Directory the tar is extracted into.
    pub dir: PathBuf,
    /// Name of the top entry (`None`: the source's contents, no top entry).
    pub top: Option<String>,
}

/// docker's rules: where a source (`src_is_dir`, `contents` for `/.`,
/// named `src_name`) lands for a destination `dest` (host path, already
/// resolved; `dest_raw` as typed).
pub fn landing(
    src_is_dir: bool,
    contents: bool,
    src_name: &str,
    dest: &Path,
    dest_raw: &str,
) -> Result<Landing> {
    let not_dir = |p: &Path| RuntimeError::Invalid(format!("no such directory: {}", p.display()));
    match fs::metadata(dest) {
        Ok(m) if m.is_dir() => Ok(Landing {
            dir: dest.to_path_buf(),
            top: (!contents).then(|| src_name.to_string()),
        }),
        Ok(_) => {
            if src_is_dir {
                return Err(RuntimeError::Invalid(format!(
                    "cannot copy a directory to a file: {dest_raw}"
                )));
            }
            if dest_raw.ends_with('/') {
                return Err(not_dir(dest));
            }
            into_parent(dest)
        }
        Err(_) => {
            if dest_raw.ends_with('/') && !src_is_dir {
                return Err(RuntimeError::Invalid(format!(
                    "destination directory {dest_raw} does not exist"
                )));
            }
            let parent = dest.parent().unwrap_or(Path::new("/"));
            if !parent.is_dir() {
                return Err(not_dir(parent));
            }
            into_parent(dest)
        }
    }
}

fn into_parent(dest: &Path) -> Result<Landing> {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| RuntimeError::Invalid(format!("invalid destination {}", dest.display())))?;
    Ok(Landing {
        dir: dest.parent().unwrap_or(Path::new("/")).to_path_buf(),
        top: Some(name),
    })
}

/// Writes a tar of `src` (a host path; symlinks archived as links) to
/// `out`, its top entry named `top` (`None`: the contents of a directory).
/// `root_owned`: uid/gid 0 instead of the files' own.
pub fn write_tar(src: &Path, top: Option<&str>, root_owned: bool, out: impl Write) -> Result<()> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    let md = fs::symlink_metadata(src).ctx("stat", src)?;
    match top {
        Some(name) => append(&mut b, src, Path::new(name), &md, root_owned)?,
        None => {
            if !md.is_dir() {
                return Err(RuntimeError::Invalid(format!(
                    "{} is not a directory",
                    src.display()
                )));
            }
            append_children(&mut b, src, Path::new(""), root_owned)?;
        }
    }
    b.finish().ctx("write tar", src)?;
    Ok(())
}

fn append_children<W: Write>(
    b: &mut tar::Builder<W>,
    dir: &Path,
    rel: &Path,
    root_owned: bool,
) -> Result<()> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .ctx("read directory", dir)?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    names.sort();
    for n in names {
        let p = dir.join(&n);
        let md = fs::symlink_metadata(&p).ctx("stat", &p)?;
        append(b, &p, &rel.join(&n), &md, root_owned)?;
    }
    Ok(())
}

fn append<W: Write>(
    b: &mut tar::Builder<W>,
    path: &Path,
    name: &Path,
    md: &fs::Metadata,
    root_owned: bool,
) -> Result<()> {
    // A cancelled `cp` (a signal) stops between entries.
    strata_store::cancel::Cancel::global()
        .check()
        .map_err(|_| RuntimeError::Cancelled)?;
    let ft = md.file_type();
    let mut h = tar::Header::new_gnu();
    h.set_mode(md.permissions().mode() & 0o7777);
    h.set_mtime(md.mtime().max(0) as u64);
    let (uid, gid) = if root_owned {
        (0, 0)
    } else {
        (md.uid(), md.gid())
    };
    h.set_uid(uid as u64);
    h.set_gid(gid as u64);
    if ft.is_dir() {
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        b.append_data(&mut h, name, std::io::empty())
            .ctx("write tar", path)?;
        append_children(b, path, name, root_owned)?;
    } else if ft.is_symlink() {
        let target = fs::read_link(path).ctx("read link", path)?;
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, name, &target)
            .ctx("write tar", path)?;
    } else if ft.is_file() {
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(md.len());
        let f = fs::File::open(path).ctx("open", path)?;
        b.append_data(&mut h, name, f).ctx("write tar", path)?;
    }
    // Sockets, devices and FIFOs are not copied (docker cp skips sockets;
    // devices do not belong in a copy).
    Ok(())
}

/// Extracts a tar stream into `dir` (never outside it). `same_owner`:
/// keep the tar's uid/gid.
pub fn extract(tar: impl Read, dir: &Path, same_owner: bool) -> Result<()> {
    let mut opts = ApplyOptions::new(ApplyMode::Merge);
    opts.same_owner = Some(same_owner);
    opts.devices = false;
    apply_layer(tar, dir, &opts).map_err(|e| RuntimeError::Store(e.into()))?;
    Ok(())
}

/// Splits `path` as docker's cp does: (path, ends with `/.`).
fn contents_flag(path: &str) -> (&str, bool) {
    match path.strip_suffix("/.") {
        Some(p) => (if p.is_empty() { "/" } else { p }, true),
        None => (path, false),
    }
}

fn base_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".".to_string())
}

/// `cp [-L] CONTAINER:SRC DEST` (DEST a host path; `follow`: copy what a
/// symlink SRC points to rather than the link).
pub fn copy_out(
    store: &Store,
    c: &Container,
    src: &str,
    follow: bool,
    dest: &Path,
    archive: bool,
) -> Result<()> {
    let fs_ = ContainerFs::open(store, c)?;
    let (src, contents) = contents_flag(src);
    let host_src = fs_.root().resolve(src, follow).ctx("resolve", src)?;
    let md = fs::symlink_metadata(&host_src).map_err(|_| {
        RuntimeError::Invalid(format!(
            "Could not find the file {src} in container {}",
            c.name
        ))
    })?;
    let dest_raw = dest.to_string_lossy().into_owned();
    let land = landing(
        md.is_dir(),
        contents,
        &base_name(&host_src),
        dest,
        &dest_raw,
    )?;
    pipe_copy(&host_src, land.top.as_deref(), false, &land.dir, archive)
}

/// `cp [-L] CONTAINER:SRC -`: a tar of SRC to `out`.
pub fn copy_out_tar(
    store: &Store,
    c: &Container,
    src: &str,
    follow: bool,
    out: impl Write,
) -> Result<()> {
    let fs_ = ContainerFs::open(store, c)?;
    let (src, contents) = contents_flag(src);
    let host_src = fs_.root().resolve(src, follow).ctx("resolve", src)?;
    if fs::symlink_metadata(&host_src).is_err() {
        return Err(RuntimeError::Invalid(format!(
            "Could not find the file {src} in container {}",
            c.name
        )));
    }
    let top = (!contents).then(|| base_name(&host_src));
    write_tar(&host_src, top.as_deref(), false, out)
}

/// `cp SRC CONTAINER:DEST` (SRC a host path).
pub fn copy_in(store: &Store, c: &Container, src: &Path, dest: &str, archive: bool) -> Result<()> {
    let src_s = src.to_string_lossy().into_owned();
    let (src_path, contents) = contents_flag(&src_s);
    let src_path = Path::new(src_path);
    let md = fs::metadata(src_path).ctx("stat", src_path)?;
    let fs_ = ContainerFs::open(store, c)?;
    let host_dest = fs_.root().resolve(dest, true).ctx("resolve", dest)?;
    let land = landing(
        md.is_dir(),
        contents,
        &base_name(src_path),
        &host_dest,
        dest,
    )?;
    pipe_copy(src_path, land.top.as_deref(), !archive, &land.dir, true)
}

/// `cp - CONTAINER:DEST`: extracts a tar from `input` into DEST (a
/// directory).
pub fn copy_in_tar(store: &Store, c: &Container, input: impl Read, dest: &str) -> Result<()> {
    let fs_ = ContainerFs::open(store, c)?;
    let host_dest = fs_.root().resolve(dest, true).ctx("resolve", dest)?;
    if !host_dest.is_dir() {
        return Err(RuntimeError::Invalid(format!(
            "destination \"{dest}\" must be a directory"
        )));
    }
    extract(input, &host_dest, true)
}

/// Streams `src` as a tar through a pipe into `dir`.
fn pipe_copy(
    src: &Path,
    top: Option<&str>,
    root_owned: bool,
    dir: &Path,
    same_owner: bool,
) -> Result<()> {
    let (r, w) = crate::sys_linux::pipe()?;
    let src = src.to_path_buf();
    let top = top.map(str::to_string);
    let writer = std::thread::spawn(move || {
        let f = fs::File::from(w);
        write_tar(&src, top.as_deref(), root_owned, f)
    });
    let res = extract(fs::File::from(r), dir, same_owner);
    let wres = writer
        .join()
        .unwrap_or_else(|_| Err(RuntimeError::Invalid("tar writer panicked".into())));
    res.and(wres)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn landing_rules_match_docker() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        fs::create_dir(d.join("dir")).unwrap();
        fs::write(d.join("file"), b"x").unwrap();
        let l = landing(false, false, "a.txt", &d.join("dir"), "dir").unwrap();
        assert_eq!(
            l,
            Landing {
                dir: d.join("dir"),
                top: Some("a.txt".into())
            }
        );
        let l = landing(true, true, "src", &d.join("dir"), "dir").unwrap();
        assert_eq!(l.top, None);
        let l = landing(false, false, "a.txt", &d.join("new.txt"), "new.txt").unwrap();
        assert_eq!(
            l,
            Landing {
                dir: d.to_path_buf(),
                top: Some("new.txt".into())
            }
        );
        let l = landing(false, false, "a.txt", &d.join("file"), "file").unwrap();
        assert_eq!(l.top.as_deref(), Some("file"));
        assert!(landing(true, false, "src", &d.join("file"), "file").is_err());
        assert!(landing(false, false, "a", &d.join("missing/x"), "missing/x").is_err());
        assert!(landing(false, false, "a", &d.join("nodir"), "nodir/").is_err());
        assert_eq!(contents_flag("/src/."), ("/src", true));
        assert_eq!(contents_flag("/src"), ("/src", false));
    }

    #[test]
    fn tar_round_trip_keeps_links_and_modes() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("sub/f"), b"hello").unwrap();
        fs::set_permissions(src.join("sub/f"), fs::Permissions::from_mode(0o751)).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("link")).unwrap();
        let dest = t.path().join("dest");
        fs::create_dir(&dest).unwrap();
        pipe_copy(&src, Some("copy"), false, &dest, false).unwrap();
        assert_eq!(fs::read(dest.join("copy/sub/f")).unwrap(), b"hello");
        let m = fs::metadata(dest.join("copy/sub/f")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o751);
        assert_eq!(
            fs::read_link(dest.join("copy/link")).unwrap(),
            Path::new("/etc/passwd")
        );
    }
}

/// What docker's archive API says of a path in a container
/// (`X-Docker-Container-Path-Stat`): Go's `os.FileMode` bits for `mode`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PathStat {
    /// Base name.
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// Go's `os.FileMode`: permission bits plus type bits.
    pub mode: u32,
    /// RFC 3339 modification time.
    pub mtime: String,
    /// The link's target, for a symlink.
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// Stats `path` in the container (resolved inside its root; the last
/// component not followed), as docker's `HEAD /containers/{id}/archive`.
pub fn stat(store: &Store, c: &Container, path: &str) -> Result<PathStat> {
    let fs_ = ContainerFs::open(store, c)?;
    let (p, _) = contents_flag(path);
    let host = fs_.root().resolve(p, false).ctx("resolve", p)?;
    let md = fs::symlink_metadata(&host).map_err(|_| {
        RuntimeError::Invalid(format!(
            "Could not find the file {path} in container {}",
            c.name
        ))
    })?;
    const DIR: u32 = 1 << 31;
    const SYMLINK: u32 = 1 << 27;
    const DEVICE: u32 = 1 << 26;
    const PIPE: u32 = 1 << 25;
    const SOCKET: u32 = 1 << 24;
    const SETUID: u32 = 1 << 23;
    const SETGID: u32 = 1 << 22;
    const CHARDEV: u32 = 1 << 21;
    const STICKY: u32 = 1 << 20;
    let ft = md.file_type();
    use std::os::unix::fs::FileTypeExt;
    let mut mode = md.permissions().mode() & 0o777;
    if ft.is_dir() {
        mode |= DIR;
    } else if ft.is_symlink() {
        mode |= SYMLINK;
    } else if ft.is_block_device() {
        mode |= DEVICE;
    } else if ft.is_char_device() {
        mode |= DEVICE | CHARDEV;
    } else if ft.is_fifo() {
        mode |= PIPE;
    } else if ft.is_socket() {
        mode |= SOCKET;
    }
    let raw = md.permissions().mode();
    if raw & 0o4000 != 0 {
        mode |= SETUID;
    }
    if raw & 0o2000 != 0 {
        mode |= SETGID;
    }
    if raw & 0o1000 != 0 {
        mode |= STICKY;
    }
    let link_target = if ft.is_symlink() {
        fs::read_link(&host)
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        String::new()
    };
    let mtime = chrono::DateTime::from_timestamp(md.mtime(), md.mtime_nsec() as u32)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        .unwrap_or_default();
    Ok(PathStat {
        name: base_name(Path::new(p)),
        size: md.size() as i64,
        mode,
        mtime,
        link_target,
    })
}
