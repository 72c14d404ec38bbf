//! Whiteouts in both directions: a real overlayfs upper dir (kernel-made
//! char 0/0 whiteouts and opaque xattrs) becomes OCI `.wh.` entries; OCI
//! entries applied in Snapshot mode mount as a real overlay that hides the
//! deleted file and the opaque directory's old content; Merge mode deletes.

mod layer_common;

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use layer_common::*;
use strata_store::layer::{self, ApplyMode, ApplyOptions, Compression, TarOptions, WhiteoutFormat};

fn overlay_opts() -> TarOptions {
    TarOptions {
        whiteouts: WhiteoutFormat::Overlay,
        source_date_epoch: None,
        ..TarOptions::default()
    }
}

/// Names, sizes and any overlay xattr records of a tar's entries.
fn entries(tar: &[u8]) -> Vec<(String, char, u64)> {
    let mut ar = tar::Archive::new(tar);
    let mut out = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if let Some(pax) = e.pax_extensions().unwrap() {
            for r in pax.flatten() {
                assert!(
                    !r.key_bytes().starts_with(b"SCHILY.xattr.trusted.overlay."),
                    "overlay-private xattr leaked into the tar"
                );
            }
        }
        out.push((
            String::from_utf8(e.path_bytes().into_owned()).unwrap(),
            e.header().entry_type().as_byte() as char,
            e.size(),
        ));
    }
    out
}

/// The base layer's tree: keep, gone, dir/{a,b}, other/x.
fn base_tree(d: &Path) {
    std::fs::create_dir_all(d.join("dir")).unwrap();
    std::fs::create_dir_all(d.join("other")).unwrap();
    std::fs::write(d.join("keep"), b"keep").unwrap();
    std::fs::write(d.join("gone"), b"gone").unwrap();
    std::fs::write(d.join("dir/a"), b"a").unwrap();
    std::fs::write(d.join("dir/b"), b"b").unwrap();
    std::fs::write(d.join("other/x"), b"x").unwrap();
    stamp_times(d, 1_400_000_000);
}

/// Makes a real upper dir: on an overlay of `lower`, delete `gone` and
/// `other/x`, replace `dir` with a new directory holding `c`, add `new`.
fn kernel_upper(lower: &Path, scratch: &Path) -> std::path::PathBuf {
    let (upper, work, merged) = (
        scratch.join("upper"),
        scratch.join("work"),
        scratch.join("merged"),
    );
    for d in [&upper, &work, &merged] {
        std::fs::create_dir(d).unwrap();
    }
    {
        let _m = OverlayMount::with_upper(lower, &upper, &work, &merged);
        std::fs::remove_file(merged.join("gone")).unwrap();
        std::fs::remove_file(merged.join("other/x")).unwrap();
        std::fs::remove_dir_all(merged.join("dir")).unwrap();
        std::fs::create_dir(merged.join("dir")).unwrap();
        std::fs::write(merged.join("dir/c"), b"c").unwrap();
        std::fs::write(merged.join("new"), b"new").unwrap();
    }
    stamp_times(&upper, 1_700_000_000);
    upper
}

#[test]
fn layer_overlay_upper_dir_becomes_oci_whiteouts() {
    if skip_unless_root("overlay_upper_dir_becomes_oci_whiteouts") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let lower = t.path().join("lower");
    std::fs::create_dir(&lower).unwrap();
    base_tree(&lower);
    let upper = kernel_upper(&lower, t.path());
    // The kernel really wrote overlay whiteouts.
    let d = describe(&upper);
    assert_eq!((d["gone"].kind, d["gone"].detail.as_str()), ("char", "0:0"));
    assert_eq!(
        lgetxattr(&upper.join("dir"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );

    let mut tar = Vec::new();
    layer::write_layer(&upper, &overlay_opts(), Compression::None, &mut tar).unwrap();
    assert_eq!(
        entries(&tar),
        vec![
            ("dir/".into(), '5', 0),
            ("dir/.wh..wh..opq".into(), '0', 0),
            ("dir/c".into(), '0', 1),
            (".wh.gone".into(), '0', 0),
            ("new".into(), '0', 3),
            ("other/".into(), '5', 0),
            ("other/.wh.x".into(), '0', 0),
        ]
    );
    // With Plain, the same dir is just content (a char device, an xattr-less dir).
    let mut plain = Vec::new();
    layer::write_layer(
        &upper,
        &TarOptions::default(),
        Compression::None,
        &mut plain,
    )
    .unwrap();
    let names: Vec<_> = entries(&plain).into_iter().map(|e| (e.0, e.1)).collect();
    assert!(names.contains(&("gone".to_string(), '3')));
    assert!(!names.iter().any(|n| n.0.contains(".wh.")));
}

#[test]
fn layer_shared_whiteout_inodes_are_not_hardlinks_and_redirects_are_refused() {
    if skip_unless_root("shared_whiteout_inodes_are_not_hardlinks") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let u = t.path();
    mknod(&u.join("w1"), libc::S_IFCHR, 0, 0, 0);
    std::fs::hard_link(u.join("w1"), u.join("w2")).unwrap();
    let mut tar = Vec::new();
    layer::write_layer(u, &overlay_opts(), Compression::None, &mut tar).unwrap();
    let e = entries(&tar);
    assert_eq!(
        e,
        vec![(".wh.w1".into(), '0', 0), (".wh.w2".into(), '0', 0)]
    );

    std::fs::create_dir(u.join("moved")).unwrap();
    lsetxattr(&u.join("moved"), "trusted.overlay.redirect", b"/elsewhere");
    let err = layer::write_layer(u, &overlay_opts(), Compression::None, std::io::sink())
        .unwrap_err()
        .to_string();
    assert!(err.contains("moved") && err.contains("redirect"), "{err}");
}

fn tar_of(dir: &Path, opts: &TarOptions) -> Vec<u8> {
    let mut tar = Vec::new();
    layer::write_layer(dir, opts, Compression::GZIP, &mut tar).unwrap();
    let mut raw = Vec::new();
    std::io::Read::read_to_end(
        &mut layer::decompress(&tar[..], strata_oci::media::LayerCompression::Gzip).unwrap(),
        &mut raw,
    )
    .unwrap();
    raw
}

/// Drops overlay bookkeeping xattrs (origin, impure...) and, for whiteouts,
/// the inode sharing the kernel does.
fn comparable(mut t: BTreeMap<String, Node>) -> BTreeMap<String, Node> {
    for n in t.values_mut() {
        n.xattrs
            .retain(|k, _| !k.starts_with("trusted.overlay.") || k == "trusted.overlay.opaque");
        if n.kind == "char" && n.detail == "0:0" {
            n.link_group = None;
        }
    }
    t
}

#[test]
fn layer_oci_whiteouts_apply_as_overlay_snapshots_and_as_merge() {
    if skip_unless_root("oci_whiteouts_apply_as_overlay_snapshots_and_as_merge") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let lower = t.path().join("lower");
    std::fs::create_dir(&lower).unwrap();
    base_tree(&lower);
    let upper = kernel_upper(&lower, t.path());
    let base_tar = tar_of(&lower, &TarOptions::default());
    let top_tar = tar_of(&upper, &overlay_opts());

    // Snapshot mode: two lower layers of a real overlay.
    let (s1, s2) = (t.path().join("s1"), t.path().join("s2"));
    std::fs::create_dir(&s1).unwrap();
    std::fs::create_dir(&s2).unwrap();
    let snap = ApplyOptions::new(ApplyMode::Snapshot);
    layer::apply_layer(&base_tar[..], &s1, &snap).unwrap();
    layer::apply_layer(&top_tar[..], &s2, &snap).unwrap();
    let d2 = describe(&s2);
    assert_eq!(
        (d2["gone"].kind, d2["gone"].detail.as_str()),
        ("char", "0:0")
    );
    assert_eq!(
        lgetxattr(&s2.join("dir"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    // The snapshot is the upper dir again.
    assert_same_tree(&comparable(describe(&upper)), &comparable(d2));

    let view = t.path().join("view");
    std::fs::create_dir(&view).unwrap();
    let merged_view = {
        let _m = OverlayMount::lowers(&[&s2, &s1], &view);
        assert!(!view.join("gone").exists(), "whiteout hides the file");
        assert!(!view.join("other/x").exists());
        assert!(view.join("keep").exists());
        let mut dir: Vec<_> = std::fs::read_dir(view.join("dir"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        dir.sort();
        assert_eq!(dir, ["c"], "opaque dir hides the lower a and b");
        describe(&view)
    };

    // Merge mode: the same two layers on one tree give the overlay's view.
    let m = t.path().join("merge");
    std::fs::create_dir(&m).unwrap();
    let merge = ApplyOptions::new(ApplyMode::Merge);
    layer::apply_layer(&base_tar[..], &m, &merge).unwrap();
    layer::apply_layer(&top_tar[..], &m, &merge).unwrap();
    assert!(!m.join("gone").exists() && !m.join("dir/a").exists());
    assert_same_tree(&comparable(merged_view), &comparable(describe(&m)));
}

#[test]
fn layer_whiteouts_never_hide_entries_of_their_own_layer() {
    let t = tempfile::tempdir().unwrap();
    let m = t.path();
    std::fs::create_dir_all(m.join("d/olddir")).unwrap();
    std::fs::write(m.join("d/old"), b"old").unwrap();
    std::fs::write(m.join("x"), b"lower x").unwrap();
    std::fs::write(m.join("y"), b"lower y").unwrap();
    // "-early" sorts before ".wh..wh..opq"; "x" is both written and
    // whited out in this layer, in that order.
    let tar = RawTar::default()
        .dir("d/")
        .file("d/-early", b"e")
        .file("d/.wh..wh..opq", b"")
        .file("d/late", b"l")
        .file("x", b"new x")
        .file(".wh.x", b"")
        .file(".wh.y", b"")
        .file(".wh..wh.plnk", b"")
        .finish();
    layer::apply_layer(&tar[..], m, &ApplyOptions::new(ApplyMode::Merge)).unwrap();
    let mut d: Vec<_> = std::fs::read_dir(m.join("d"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    d.sort();
    assert_eq!(d, ["-early", "late"]);
    assert_eq!(std::fs::read(m.join("x")).unwrap(), b"new x");
    assert!(!m.join("y").exists());
    assert!(!m.join(".wh.x").exists() && !m.join(".wh..wh.plnk").exists());
}

#[test]
fn layer_whiteout_naming_its_parent_is_rejected() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("d")).unwrap();
    std::fs::write(t.path().join("d/f"), b"f").unwrap();
    for name in ["d/.wh..", "d/.wh...", "d/.wh."] {
        let tar = RawTar::default().file(name, b"").finish();
        let err = layer::apply_layer(&tar[..], t.path(), &ApplyOptions::new(ApplyMode::Merge))
            .unwrap_err();
        assert!(err.to_string().contains("whiteout"), "{name}: {err}");
        assert!(t.path().join("d/f").exists());
    }
}

/// Rewrites a kernel upper dir with fuse-overlayfs' fallback markers:
/// `.wh.NAME` files for 0/0 devices (same owner and mtime), and the
/// opaque xattr replaced by `opaque` (when `None`, what 1.10 makes: a
/// `.wh..wh..opq` file and a `.wh..opq` whiteout device), also on the
/// new directory `fresh` (fuse-overlayfs marks every directory it makes),
/// plus its private `origin` xattr on copied-up files.
fn as_fuse_upper(upper: &Path, opaque: Option<&str>) {
    let fresh = upper.join("fresh");
    let m = std::fs::symlink_metadata(&fresh).unwrap();
    lsetxattr(&fresh, "trusted.overlay.opaque", b"y");
    set_mtime(&fresh, m.mtime(), m.mtime_nsec());
    for rel in walk(upper) {
        let p = upper.join(rel);
        let m = std::fs::symlink_metadata(&p).unwrap();
        let parent = p.parent().unwrap().to_path_buf();
        let parent_m = std::fs::symlink_metadata(&parent).unwrap();
        if m.file_type().is_char_device() && m.rdev() == 0 {
            let name = p.file_name().unwrap().to_str().unwrap();
            let wh = parent.join(format!(".wh.{name}"));
            std::fs::remove_file(&p).unwrap();
            std::fs::write(&wh, b"").unwrap();
            chmod(&wh, 0o644);
            lchown(&wh, m.uid(), m.gid());
            set_mtime(&wh, m.mtime(), m.mtime_nsec());
        } else if m.is_dir() && lgetxattr(&p, "trusted.overlay.opaque").is_some() {
            // SAFETY: a valid NUL-terminated path and xattr name.
            let rc = unsafe {
                libc::lremovexattr(cpath(&p).as_ptr(), c"trusted.overlay.opaque".as_ptr())
            };
            assert_eq!(rc, 0);
            match opaque {
                None => {
                    std::fs::write(p.join(".wh..wh..opq"), b"").unwrap();
                    mknod(&p.join(".wh..opq"), libc::S_IFCHR, 0o700, 0, 0);
                }
                Some(x) => lsetxattr(&p, x, b"y"),
            }
            set_mtime(&p, m.mtime(), m.mtime_nsec());
        } else if m.is_file() {
            lsetxattr(&p, "user.fuseoverlayfs.origin", b"lower");
        }
        set_mtime(&parent, parent_m.mtime(), parent_m.mtime_nsec());
    }
}

#[test]
fn layer_fuse_overlayfs_markers_make_the_kernel_upper_dirs_layer() {
    if skip_unless_root("fuse_overlayfs_markers_make_the_kernel_upper_dirs_layer") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let lower = t.path().join("lower");
    std::fs::create_dir(&lower).unwrap();
    base_tree(&lower);
    let kernel = kernel_upper(&lower, t.path());
    std::fs::create_dir(kernel.join("fresh")).unwrap();
    set_mtime(&kernel.join("fresh"), 1_700_000_000, 0);
    set_mtime(&kernel, 1_700_000_000, 0);
    let opts = TarOptions {
        lowers: vec![lower.clone()],
        ..overlay_opts()
    };
    let mut want = Vec::new();
    layer::write_layer(&kernel, &opts, Compression::None, &mut want).unwrap();
    assert!(entries(&want).contains(&("dir/.wh..wh..opq".into(), '0', 0)));

    for (i, opaque) in [None, Some("user.fuseoverlayfs.opaque")]
        .into_iter()
        .enumerate()
    {
        let copy = t.path().join(format!("fuse{i}"));
        let st = std::process::Command::new("cp")
            .args(["-a", "--"])
            .arg(&kernel)
            .arg(&copy)
            .status()
            .unwrap();
        assert!(st.success());
        as_fuse_upper(&copy, opaque);
        let d = describe(&copy);
        assert!(
            d.contains_key(".wh.gone") && d.contains_key("other/.wh.x"),
            "{d:?}"
        );
        assert_eq!(d.contains_key("dir/.wh..wh..opq"), opaque.is_none());
        let mut got = Vec::new();
        layer::write_layer(&copy, &opts, Compression::None, &mut got).unwrap();
        assert_eq!(entries(&got), entries(&want), "{opaque:?}");
        assert!(got == want, "the tars differ ({opaque:?})");
    }
}
