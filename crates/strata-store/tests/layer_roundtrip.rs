//! Create → compress → decompress → apply gives back the same tree: modes
//! (setuid/setgid/sticky), owners, mtimes, xattrs (incl. a binary
//! `security.capability` with a newline byte), symlinks, hardlinks, devices,
//! FIFOs, long and non-UTF-8-safe names; and both digests agree.

mod layer_common;

use std::io::Read;

use layer_common::*;
use strata_oci::Digest;
use strata_store::layer::{
    self, ApplyMode, ApplyOptions, Compression, TarOptions, decompress_sniffed,
};

fn round_trip(c: Compression, mode: ApplyMode) {
    let src = tempfile::tempdir().unwrap();
    rich_tree(src.path());
    let mut blob = Vec::new();
    let w = layer::write_layer(src.path(), &TarOptions::default(), c, &mut blob).unwrap();
    assert_eq!(w.blob_digest, Digest::of(&blob));
    assert_eq!(w.blob_size, blob.len() as u64);

    let (found, mut tar) = decompress_sniffed(&blob[..]).unwrap();
    assert_eq!(found, c.layer_compression());
    let mut raw = Vec::new();
    tar.read_to_end(&mut raw).unwrap();
    assert_eq!(w.diff_id, Digest::of(&raw), "diffID is the sha of the tar");
    assert_eq!(w.tar_size, raw.len() as u64);

    let dst = tempfile::tempdir().unwrap();
    let (_, tar) = decompress_sniffed(&blob[..]).unwrap();
    let a = layer::apply_layer(tar, dst.path(), &ApplyOptions::new(mode)).unwrap();
    assert_eq!(a.diff_id, w.diff_id);
    assert_eq!(a.tar_size, w.tar_size);
    assert_eq!(a.entries, w.entries);
    let want = describe_no_sockets(src.path());
    assert_same_tree(&want, &describe(dst.path()));

    // size, as docker counts it: regular files (a hardlinked inode once)
    // plus each symlink's lstat size, its target's length.
    let files: u64 = want
        .iter()
        .filter(|(k, n)| n.kind == "file" && n.link_group.as_deref().is_none_or(|g| g == *k))
        .map(|(_, n)| n.detail.split(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    let links: u64 = want
        .values()
        .filter(|n| n.kind == "symlink")
        .map(|n| n.detail.len() as u64)
        .sum();
    assert!(links > 0, "the fixture has symlinks");
    assert_eq!(a.size, files + links);
    // The writer's count is the tar's file data only: docker's size of a
    // layer registered from its diff (BuildKit's steps). See: issue 14.
    assert_eq!(w.content_size, files);
}

#[test]
fn layer_round_trip_plain_tar_merge() {
    round_trip(Compression::None, ApplyMode::Merge);
}

#[test]
fn layer_round_trip_gzip_snapshot() {
    round_trip(Compression::GZIP, ApplyMode::Snapshot);
}

#[test]
fn layer_round_trip_zstd_merge() {
    round_trip(Compression::ZSTD, ApplyMode::Merge);
}

#[test]
fn layer_rich_tree_really_has_the_hard_parts() {
    // Guards the fixture: if these vanish, the round trip proves less.
    let src = tempfile::tempdir().unwrap();
    rich_tree(src.path());
    let t = describe(src.path());
    assert_eq!(t["usr/bin/tool"].mode, 0o4755);
    assert_eq!(t["tmp"].mode, 0o1777);
    assert_eq!(t["empty"].mtime, -86_400);
    assert_eq!(
        t["etc/tool-too"].link_group.as_deref(),
        Some("etc/tool-too")
    );
    assert_eq!(t["etc"].xattrs["user.dirattr"], b"on a directory");
    assert!(t.values().any(|n| n.kind == "fifo"));
    if is_root() {
        assert_eq!(
            t["usr/bin/tool"].xattrs["security.capability"],
            CAP_WITH_NEWLINE
        );
        assert_eq!(t["etc/ssl"].uid, 3_000_000);
        assert_eq!(t["null"].detail, "1:3");
        assert_eq!(t["loop9"].kind, "block");
    }
}

#[test]
fn layer_merge_replaces_entries_of_another_type() {
    // The layer: a dir where the tree has a file, a file where it has a
    // dir (with content), a symlink where it has a dir, a dir over a dir.
    let src = tempfile::tempdir().unwrap();
    let s = src.path();
    std::fs::create_dir_all(s.join("was-file/inner")).unwrap();
    std::fs::write(s.join("was-dir"), b"now a file").unwrap();
    std::os::unix::fs::symlink("target", s.join("was-dir2")).unwrap();
    std::fs::create_dir_all(s.join("kept")).unwrap();
    std::fs::write(s.join("kept/new"), b"n").unwrap();
    chmod(&s.join("kept"), 0o750);
    stamp_times(s, 1_500_000_000);
    let mut blob = Vec::new();
    layer::write_layer(s, &TarOptions::default(), Compression::None, &mut blob).unwrap();

    let dst = tempfile::tempdir().unwrap();
    let d = dst.path();
    std::fs::write(d.join("was-file"), b"old").unwrap();
    std::fs::create_dir_all(d.join("was-dir/deep/er")).unwrap();
    std::fs::write(d.join("was-dir/deep/er/f"), b"old").unwrap();
    std::fs::create_dir_all(d.join("was-dir2/x")).unwrap();
    std::fs::create_dir_all(d.join("kept")).unwrap();
    std::fs::write(d.join("kept/old"), b"stays").unwrap();
    layer::apply_layer(&blob[..], d, &ApplyOptions::new(ApplyMode::Merge)).unwrap();

    assert!(d.join("was-file/inner").is_dir());
    assert_eq!(std::fs::read(d.join("was-dir")).unwrap(), b"now a file");
    assert_eq!(
        std::fs::read_link(d.join("was-dir2")).unwrap().to_str(),
        Some("target")
    );
    assert_eq!(std::fs::read(d.join("kept/old")).unwrap(), b"stays");
    assert_eq!(std::fs::read(d.join("kept/new")).unwrap(), b"n");
    let t = describe(d);
    let want = describe(s);
    assert_eq!(t["kept"].mode, 0o750);
    assert_eq!(
        t["kept"].mtime, want["kept"].mtime,
        "dir mtime set after its entries"
    );
}

#[test]
fn layer_applies_as_non_owner_without_chown() {
    // same_owner = false: ownership is not taken from the tar.
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("f"), b"x").unwrap();
    if is_root() {
        lchown(&src.path().join("f"), 4242, 4242);
    }
    let mut blob = Vec::new();
    layer::write_layer(
        src.path(),
        &TarOptions::default(),
        Compression::None,
        &mut blob,
    )
    .unwrap();
    let dst = tempfile::tempdir().unwrap();
    let mut o = ApplyOptions::new(ApplyMode::Merge);
    o.same_owner = Some(false);
    layer::apply_layer(&blob[..], dst.path(), &o).unwrap();
    use std::os::unix::fs::MetadataExt;
    // SAFETY: no preconditions.
    let me = unsafe { libc::geteuid() };
    assert_eq!(std::fs::metadata(dst.path().join("f")).unwrap().uid(), me);
}

#[test]
fn layer_disk_usage_counts_like_docker() {
    let src = tempfile::tempdir().unwrap();
    rich_tree(src.path());
    let t = describe(src.path());
    let mut want = 0u64;
    let mut seen = std::collections::HashSet::new();
    for (k, n) in &t {
        if n.kind == "dir" || !seen.insert(n.link_group.clone().unwrap_or(k.clone())) {
            continue;
        }
        want += std::fs::symlink_metadata(src.path().join(k)).unwrap().len();
    }
    assert_eq!(layer::disk_usage(src.path()).unwrap(), want);
}

#[test]
fn layer_devices_off_skips_device_nodes_but_not_fifos() {
    if skip_unless_root("layer_devices_off_skips_device_nodes_but_not_fifos") {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    rich_tree(src.path());
    let mut blob = Vec::new();
    layer::write_layer(
        src.path(),
        &TarOptions::default(),
        Compression::None,
        &mut blob,
    )
    .unwrap();
    let dst = tempfile::tempdir().unwrap();
    let mut o = ApplyOptions::new(ApplyMode::Snapshot);
    o.devices = false;
    layer::apply_layer(&blob[..], dst.path(), &o).unwrap();
    let t = describe(dst.path());
    assert!(!t.contains_key("null") && !t.contains_key("loop9"));
    assert_eq!(t["fifo"].kind, "fifo");
    assert_eq!(
        t["etc/hostname"].detail,
        describe(src.path())["etc/hostname"].detail
    );
}
