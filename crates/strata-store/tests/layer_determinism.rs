//! Same tree + same options ⇒ the same bytes, whatever the atimes, ctimes,
//! inode numbers or creation order; SOURCE_DATE_EPOCH clamps mtimes; the
//! header format is the one the module documents.

mod layer_common;

use std::io::Read;
use std::path::Path;

use layer_common::*;
use strata_store::layer::{self, Compression, LayerWritten, TarOptions};

fn write(dir: &Path, opts: &TarOptions, c: Compression) -> (LayerWritten, Vec<u8>) {
    let mut blob = Vec::new();
    let w = layer::write_layer(dir, opts, c, &mut blob).unwrap();
    (w, blob)
}

/// Copies a tree with `cp -a` after creating decoy files, so inode numbers
/// and directory order differ from the original.
fn copy_tree(src: &Path, dst: &Path) {
    for i in 0..50 {
        std::fs::write(dst.join(format!("decoy{i}")), b"d").unwrap();
    }
    let st = std::process::Command::new("cp")
        .args(["-a", "--"])
        .arg(src.join("."))
        .arg(dst)
        .status()
        .unwrap();
    assert!(st.success());
    for i in 0..50 {
        std::fs::remove_file(dst.join(format!("decoy{i}"))).unwrap();
    }
    // Removing decoys touched the root only; the root is not in the tar.
}

#[test]
fn layer_same_tree_same_bytes_despite_atime_ctime_and_inodes() {
    let src = tempfile::tempdir().unwrap();
    rich_tree(src.path());
    let opts = TarOptions::default();
    for c in [Compression::None, Compression::GZIP, Compression::ZSTD] {
        let (w1, b1) = write(src.path(), &opts, c);
        // New atimes (read everything) and ctimes (chmod to the same mode).
        for p in walk(src.path()) {
            let abs = src.path().join(&p);
            let md = std::fs::symlink_metadata(&abs).unwrap();
            if md.is_file() {
                let mut s = Vec::new();
                std::fs::File::open(&abs)
                    .unwrap()
                    .read_to_end(&mut s)
                    .unwrap();
            }
            if !md.file_type().is_symlink() && !md.is_dir() {
                use std::os::unix::fs::PermissionsExt;
                let mtime = {
                    use std::os::unix::fs::MetadataExt;
                    (md.mtime(), md.mtime_nsec())
                };
                chmod(&abs, md.permissions().mode() & 0o7777);
                set_mtime(&abs, mtime.0, mtime.1);
            }
        }
        let (w2, b2) = write(src.path(), &opts, c);
        assert_eq!(w1, w2, "{c:?}");
        assert!(b1 == b2, "{c:?}: bytes differ");

        let copy = tempfile::tempdir().unwrap();
        copy_tree(src.path(), copy.path());
        let (w3, _) = write(copy.path(), &opts, c);
        assert_eq!(w1.diff_id, w3.diff_id, "{c:?}: copy of the tree");
        assert_eq!(w1.blob_digest, w3.blob_digest, "{c:?}: copy of the tree");
    }
}

#[test]
fn layer_subsecond_mtimes_are_not_written() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("f"), b"x").unwrap();
    set_mtime(&src.path().join("f"), 1_700_000_000, 999_999_999);
    let (a, _) = write(src.path(), &TarOptions::default(), Compression::None);
    set_mtime(&src.path().join("f"), 1_700_000_000, 1);
    let (b, tar) = write(src.path(), &TarOptions::default(), Compression::None);
    assert_eq!(a.diff_id, b.diff_id);
    // One ustar header, data block, two zero blocks: no PAX record at all.
    assert_eq!(tar.len(), 512 * 4);
}

#[test]
fn layer_source_date_epoch_clamps_only_newer_mtimes() {
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir(src.path().join("d")).unwrap();
    std::fs::write(src.path().join("d/new"), b"x").unwrap();
    std::fs::write(src.path().join("old"), b"y").unwrap();
    set_mtime(&src.path().join("d/new"), 2_000_000_000, 0);
    set_mtime(&src.path().join("old"), 1_000_000_000, 0);
    set_mtime(&src.path().join("d"), 1_900_000_000, 5);
    let opts = TarOptions {
        source_date_epoch: Some(1_500_000_000),
        ..TarOptions::default()
    };
    let (_, tar) = write(src.path(), &opts, Compression::None);
    let mut ar = tar::Archive::new(&tar[..]);
    let got: Vec<(String, u64)> = ar
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                String::from_utf8(e.path_bytes().into_owned()).unwrap(),
                e.header().mtime().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("d/".to_string(), 1_500_000_000),
            ("d/new".to_string(), 1_500_000_000),
            ("old".to_string(), 1_000_000_000),
        ]
    );
    // Without the epoch the same tree gives other digests.
    let (plain, _) = write(src.path(), &TarOptions::default(), Compression::None);
    let (clamped, _) = write(src.path(), &opts, Compression::None);
    assert_ne!(plain.diff_id, clamped.diff_id);
}

#[test]
fn layer_header_format_is_as_documented() {
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("b/sub")).unwrap();
    std::fs::write(src.path().join("b/sub/z"), b"z").unwrap();
    std::fs::write(src.path().join("a"), b"a").unwrap();
    std::fs::write(src.path().join("b.txt"), b"b").unwrap();
    std::fs::write(src.path().join("B"), b"B").unwrap();
    if is_root() {
        lchown(&src.path().join("a"), 1234, 5678);
    }
    let (w, tar) = write(src.path(), &TarOptions::default(), Compression::None);
    assert_eq!(w.entries, 6);
    let mut ar = tar::Archive::new(&tar[..]);
    let mut names = Vec::new();
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        assert!(h.as_ustar().is_some(), "POSIX ustar magic");
        assert_eq!(h.username_bytes(), Some(&b""[..]));
        assert_eq!(h.groupname_bytes(), Some(&b""[..]));
        if &*e.path_bytes() == b"a" && is_root() {
            assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (1234, 5678));
        }
        names.push(String::from_utf8(e.path_bytes().into_owned()).unwrap());
    }
    // Byte order within each directory, depth first, "b/" before "b.txt"
    // because the walk sorts names ("b" < "b.txt"), no "./", dirs end in "/".
    assert_eq!(names, ["B", "a", "b/", "b/sub/", "b/sub/z", "b.txt"]);
    // The stream ends with exactly two zero blocks.
    assert!(tar[tar.len() - 1024..].iter().all(|b| *b == 0));
    assert!(
        tar[tar.len() - 1536..tar.len() - 1024]
            .iter()
            .any(|b| *b != 0)
    );
}

#[test]
fn layer_gnu_tar_reads_our_layers() {
    let src = tempfile::tempdir().unwrap();
    rich_tree(src.path());
    let (_, tar) = write(src.path(), &TarOptions::default(), Compression::None);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("layer.tar");
    std::fs::write(&file, &tar).unwrap();
    let out_dir = dir.path().join("x");
    std::fs::create_dir(&out_dir).unwrap();
    let st = std::process::Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf"])
        .arg(&file)
        .arg("-C")
        .arg(&out_dir)
        .status()
        .unwrap();
    assert!(st.success(), "GNU tar extracts the layer");
    let mut want = describe_no_sockets(src.path());
    let mut got = describe(&out_dir);
    // GNU tar does not restore xattrs on symlinks or special files, nor
    // trusted.* without extra flags; compare the rest.
    for t in [&mut want, &mut got] {
        for n in t.values_mut() {
            n.xattrs.retain(|k, _| k.starts_with("user."));
            if n.kind != "file" && n.kind != "dir" {
                n.xattrs.clear();
            }
        }
    }
    assert_same_tree(&want, &got);
}
