//! `inroot_linux::layers` against the kernel: a stack of layers with
//! whiteouts, an opaque directory and hostile symlinks (`h -> /`,
//! `rel -> ../../..`) is resolved in user space, then mounted as a real
//! overlay and resolved by `openat2(RESOLVE_IN_ROOT)`; both must agree on
//! every path. See: issue 9 (mount points resolved inside the rootfs).

mod layer_common;

use std::os::fd::AsRawFd;
use std::os::unix::fs::symlink;
use std::path::Path;

use layer_common::*;
use strata_store::inroot_linux::Root;
use strata_store::inroot_linux::layers::Layers;

fn build(top: &Path, mid: &Path, bottom: &Path) {
    for d in [
        "etc", "usr/lib", "usr/bin", "srv", "tmp", "gone", "dir/a", "opq/old",
    ] {
        std::fs::create_dir_all(bottom.join(d)).unwrap();
    }
    std::fs::write(bottom.join("etc/passwd"), b"root:x:0:0::/:/bin/sh\n").unwrap();
    symlink("usr/bin", bottom.join("bin")).unwrap();
    symlink("/srv", bottom.join("data")).unwrap();

    std::fs::create_dir_all(mid.join("usr/share")).unwrap();
    std::fs::create_dir_all(mid.join("opq/new")).unwrap();
    lsetxattr(&mid.join("opq"), "trusted.overlay.opaque", b"y");
    mknod(&mid.join("gone"), libc::S_IFCHR, 0, 0, 0);
    symlink("/", mid.join("h")).unwrap();
    symlink("../../../..", mid.join("rel")).unwrap();
    symlink("/usr/lib", mid.join("lnk")).unwrap();
    std::fs::write(mid.join("file"), b"x").unwrap();

    std::fs::create_dir_all(top.join("dir/b")).unwrap();
    symlink("/srv", top.join("tmp")).unwrap();
    symlink("h/etc/../data", top.join("chain")).unwrap();
    symlink("loop", top.join("loop")).unwrap();
}

const PATHS: &[&str] = &[
    "/",
    "/gone",
    "/gone/x",
    "/opq/old",
    "/opq/new",
    "/h/usr/lib",
    "/rel/rel/lnk",
    "/lnk/../..",
    "/tmp",
    "/tmp/x",
    "/data",
    "/chain",
    "/dir/a",
    "/dir/b",
    "/usr/share",
    "/usr/lib",
    "/bin",
    "/h/h/bin/../lib",
    "/file",
    "/file/x",
    "/loop",
    "/etc/passwd",
    "/missing",
];

#[test]
fn user_space_merge_matches_the_kernel() {
    if skip_unless_root("user_space_merge_matches_the_kernel") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = ["top", "mid", "bottom", "merged"]
        .iter()
        .map(|d| {
            let p = t.path().join(d);
            std::fs::create_dir(&p).unwrap();
            p
        })
        .collect();
    build(&dirs[0], &dirs[1], &dirs[2]);
    let layers = Layers::overlay(dirs[..3].to_vec());
    let ours: Vec<_> = PATHS.iter().map(|p| layers.resolve(p, true)).collect();
    let merged = dirs[3].clone();
    let lowers = dirs[..3].to_vec();
    // The kernel's answer, from an overlay mounted in a private mount
    // namespace of a thread of our own (it dies with the thread).
    let kernel: Vec<Result<String, i32>> = std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS | nix::sched::CloneFlags::CLONE_FS)
            .expect("unshare mount namespace");
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .expect("make / private");
        let refs: Vec<&Path> = lowers.iter().map(|p| p.as_path()).collect();
        let _m = OverlayMount::lowers(&refs, &merged);
        let root = Root::open(&merged).unwrap();
        let prefix = std::fs::canonicalize(&merged).unwrap();
        PATHS
            .iter()
            .map(|p| match root.open_in(p, libc::O_PATH) {
                Ok(fd) => {
                    let got =
                        std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
                    let rel = got.strip_prefix(&prefix).unwrap();
                    Ok(format!("/{}", rel.display()))
                }
                Err(e) => Err(e.raw_os_error().unwrap_or(0)),
            })
            .collect()
    })
    .join()
    .unwrap();
    for ((p, ours), kernel) in PATHS.iter().zip(ours).zip(kernel) {
        match (ours, kernel) {
            (Ok(o), Ok(k)) => {
                assert!(o.kind.is_some(), "{p}: kernel found {k}, we found nothing");
                assert_eq!(o.path, k, "{p}");
            }
            (Ok(o), Err(libc::ENOENT)) => {
                assert!(o.kind.is_none(), "{p}: kernel ENOENT, we found {o:?}")
            }
            (Err(o), Err(k)) => assert_eq!(o.raw_os_error(), Some(k), "{p}"),
            (o, k) => panic!("{p}: ours {o:?}, kernel {k:?}"),
        }
    }
}
