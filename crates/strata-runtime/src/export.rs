//! `export`: a tar of a container's filesystem, as `docker export` writes
//! it: the merged view of its layers (image, init layer, changes) with
//! neither whiteouts nor the contents of its mounts (volumes, binds,
//! `/proc`, `/sys`, `/dev` are mounted in the container's own namespace,
//! not on the rootfs the host sees). Entries come in path order, a
//! directory before its contents, names relative (`bin/`, `bin/sh`),
//! numeric owners; a second name of a file is a hard link; devices and
//! FIFOs are kept, sockets left out (as docker's archiver does).

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use strata_store::Store;

use crate::containers::Container;
use crate::cp::ContainerFs;
use crate::error::{IoContext, Result, RuntimeError};

/// Writes the tar of container `c` to `out`.
pub fn export(store: &Store, c: &Container, out: impl Write) -> Result<()> {
    let fs = ContainerFs::open_layers(store, c)?;
    write_tree(fs.root().path(), out)
}

/// Writes the tar of the tree at `root` (its contents, no entry for the
/// root itself) to `out`.
pub fn write_tree(root: &Path, out: impl Write) -> Result<()> {
    let mut w = TreeWriter {
        b: tar::Builder::new(out),
        links: HashMap::new(),
    };
    w.b.follow_symlinks(false);
    w.children(root, "")?;
    w.b.into_inner()
        .ctx("write tar", root)?
        .flush()
        .ctx("write tar", root)?;
    Ok(())
}

struct TreeWriter<W: Write> {
    b: tar::Builder<W>,
    /// (device, inode) → the first name of a multiply linked file.
    links: HashMap<(u64, u64), String>,
}

impl<W: Write> TreeWriter<W> {
    fn children(&mut self, dir: &Path, rel: &str) -> Result<()> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .ctx("read directory", dir)?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for n in names {
            let path = dir.join(&n);
            let name = format!("{rel}{}", n.to_string_lossy());
            self.entry(&path, name)?;
        }
        Ok(())
    }

    fn entry(&mut self, path: &Path, name: String) -> Result<()> {
        strata_store::cancel::Cancel::global()
            .check()
            .map_err(|_| RuntimeError::Cancelled)?;
        let md = fs::symlink_metadata(path).ctx("stat", path)?;
        let ft = md.file_type();
        if ft.is_socket() {
            return Ok(());
        }
        let mut h = tar::Header::new_gnu();
        h.set_mode(md.mode() & 0o7777);
        h.set_mtime(md.mtime().max(0) as u64);
        h.set_uid(u64::from(md.uid()));
        h.set_gid(u64::from(md.gid()));
        h.set_size(0);
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            let name = format!("{name}/");
            self.b
                .append_data(&mut h, &name, std::io::empty())
                .ctx("write tar", path)?;
            return self.children(path, &name);
        }
        if md.nlink() > 1 {
            let key = (md.dev(), md.ino());
            if let Some(first) = self.links.get(&key) {
                h.set_entry_type(tar::EntryType::Link);
                let first = first.clone();
                return self
                    .b
                    .append_link(&mut h, &name, &first)
                    .ctx("write tar", path);
            }
            self.links.insert(key, name.clone());
        }
        if ft.is_symlink() {
            let target = fs::read_link(path).ctx("read link", path)?;
            h.set_entry_type(tar::EntryType::Symlink);
            return self
                .b
                .append_link(&mut h, &name, &target)
                .ctx("write tar", path);
        }
        if ft.is_file() {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(md.len());
            let f = fs::File::open(path).ctx("open", path)?;
            return self.b.append_data(&mut h, &name, f).ctx("write tar", path);
        }
        let kind = if ft.is_char_device() {
            tar::EntryType::Char
        } else if ft.is_block_device() {
            tar::EntryType::Block
        } else {
            tar::EntryType::Fifo
        };
        h.set_entry_type(kind);
        if kind != tar::EntryType::Fifo {
            let rdev = md.rdev();
            h.set_device_major(libc::major(rdev))
                .ctx("write tar", path)?;
            h.set_device_minor(libc::minor(rdev))
                .ctx("write tar", path)?;
        }
        self.b
            .append_data(&mut h, &name, std::io::empty())
            .ctx("write tar", path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_relative_dirs_first_and_links_kept() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("bin")).unwrap();
        fs::write(r.join("bin/busybox"), b"elf").unwrap();
        fs::hard_link(r.join("bin/busybox"), r.join("bin/cat")).unwrap();
        std::os::unix::fs::symlink("busybox", r.join("bin/sh")).unwrap();
        fs::write(r.join(".env"), b"").unwrap();
        let mut out = Vec::new();
        write_tree(r, &mut out).unwrap();
        let mut a = tar::Archive::new(&out[..]);
        let got: Vec<(String, tar::EntryType)> = a
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                    e.header().entry_type(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (".env".to_string(), tar::EntryType::Regular),
                ("bin/".to_string(), tar::EntryType::Directory),
                ("bin/busybox".to_string(), tar::EntryType::Regular),
                ("bin/cat".to_string(), tar::EntryType::Link),
                ("bin/sh".to_string(), tar::EntryType::Symlink),
            ]
        );
    }
}
