//! Layers made by GNU tar apply correctly, and the diffID is the sha256 of
//! the stream exactly as GNU tar wrote it, padding to its 10 KiB record
//! included (hashed here independently of the apply path).

mod layer_common;

use std::path::Path;
use std::process::Command;

use layer_common::*;
use strata_oci::Digest;
use strata_store::layer::{self, ApplyMode, ApplyOptions};

fn gnu_tar(src: &Path, format: &str) -> Vec<u8> {
    let out = Command::new("tar")
        .args([
            &format!("--format={format}"),
            "--xattrs",
            "--xattrs-include=*",
            "--numeric-owner",
            "--sort=name",
            "-C",
        ])
        .arg(src)
        .args(["-cf", "-", "."])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn check(format: &str) {
    let src = tempfile::tempdir().unwrap();
    rich_tree(src.path());
    let stream = gnu_tar(src.path(), format);
    assert_eq!(stream.len() % 10240, 0, "GNU tar pads to its record size");
    let trailing_zeros = stream.iter().rev().take_while(|b| **b == 0).count();
    assert!(trailing_zeros >= 1024);

    let dst = tempfile::tempdir().unwrap();
    let a = layer::apply_layer(
        &stream[..],
        dst.path(),
        &ApplyOptions::new(ApplyMode::Merge),
    )
    .unwrap();
    assert_eq!(
        a.diff_id,
        Digest::of(&stream),
        "{format}: diffID covers every byte"
    );
    assert_eq!(a.tar_size, stream.len() as u64);

    let mut want = describe_no_sockets(src.path());
    let mut got = describe(dst.path());
    if format == "gnu" {
        // The GNU format carries no xattrs.
        for t in [&mut want, &mut got] {
            for n in t.values_mut() {
                n.xattrs.clear();
            }
        }
    }
    assert_same_tree(&want, &got);
}

#[test]
fn layer_posix_format_with_xattrs_and_long_names() {
    check("posix");
}

#[test]
fn layer_gnu_format_with_long_name_headers() {
    check("gnu");
}

#[test]
fn layer_a_stream_with_trailing_garbage_is_hashed_whole() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("f"), b"data").unwrap();
    let mut stream = gnu_tar(src.path(), "posix");
    stream.extend_from_slice(b"trailing bytes after the archive");
    let dst = tempfile::tempdir().unwrap();
    let a = layer::apply_layer(
        &stream[..],
        dst.path(),
        &ApplyOptions::new(ApplyMode::Merge),
    )
    .unwrap();
    assert_eq!(a.diff_id, Digest::of(&stream));
    assert_eq!(std::fs::read(dst.path().join("f")).unwrap(), b"data");
}

#[test]
fn layer_gnu_sparse_files_apply_and_pax_sparse_is_refused() {
    let src = tempfile::tempdir().unwrap();
    let f = std::fs::File::create(src.path().join("sparse")).unwrap();
    f.set_len(8 << 20).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(b"in the middle", 3 << 20).unwrap();
    f.write_all_at(b"at the end", (8 << 20) - 10).unwrap();
    drop(f);
    let out = Command::new("tar")
        .args(["--format=gnu", "--sparse", "-C"])
        .arg(src.path())
        .args(["-cf", "-", "sparse"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        out.stdout.len() < 1 << 20,
        "GNU tar really wrote a sparse entry"
    );
    let dst = tempfile::tempdir().unwrap();
    let a = layer::apply_layer(
        &out.stdout[..],
        dst.path(),
        &ApplyOptions::new(ApplyMode::Merge),
    )
    .unwrap();
    assert_eq!(a.diff_id, Digest::of(&out.stdout));
    assert_eq!(
        std::fs::read(dst.path().join("sparse")).unwrap(),
        std::fs::read(src.path().join("sparse")).unwrap()
    );

    let pax = Command::new("tar")
        .args(["--format=posix", "--sparse", "-C"])
        .arg(src.path())
        .args(["-cf", "-", "sparse"])
        .output()
        .unwrap();
    let dst = tempfile::tempdir().unwrap();
    let err = layer::apply_layer(
        &pax.stdout[..],
        dst.path(),
        &ApplyOptions::new(ApplyMode::Merge),
    )
    .unwrap_err();
    assert!(err.to_string().contains("sparse"), "{err}");
}
