//! Rootless strata on `fuse-overlayfs` (forced with
//! `STRATA_OVERLAY=fuse-overlayfs`, the fallback where the kernel refuses
//! an overlay in a user namespace): a container runs on it (seen in its
//! mountinfo), and a build whose RUN steps delete lower files, replace a
//! directory (opaque) and files gets the rootful kernel-overlay build's
//! layer diffIDs. No daemon is left once a command ends. See: issue 12.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::build_common::context;
use crate::rootless::{USERS, User, processes_of, push_base, setup};
use crate::support;

const DOCKERFILE: &str = "ARG BASE\nFROM $BASE\nARG FUSE\n\
RUN mkdir -p /d/sub /keep && echo a > /d/a && echo b > /d/sub/b && echo k > /keep/k && echo old > /r\n\
RUN if [ -n \"$FUSE\" ]; then grep ' / / ' /proc/self/mountinfo | grep -q ' - fuse.fuse-overlayfs '; fi\n\
RUN rm /home/u/f && rm -rf /d && mkdir /d && echo n > /d/n && echo new > /r && rm /keep/k && mkdir /keep/new\n";

/// The user's running (not zombie) fuse-overlayfs processes.
fn fuse_daemons(uid: u32) -> Vec<i32> {
    processes_of(uid)
        .into_iter()
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.contains(" (fuse-overlayfs) ")
                    && s.rsplit_once(") ")
                        .is_some_and(|(_, r)| !r.starts_with('Z'))
            })
        })
        .collect()
}

#[test]
fn rootless_fuse_overlayfs_runs_and_builds_the_kernels_layers() {
    let _one = USERS.lock().unwrap_or_else(|e| e.into_inner());
    let Some((env, reg)) = setup() else { return };
    if support::which("fuse-overlayfs").is_none() {
        support::skip("fuse-overlayfs is missing (apt-get install fuse-overlayfs)");
        return;
    }
    let Some(mut user) = User::new(env.path("fuser"), true) else {
        return;
    };
    user.env
        .push(("STRATA_OVERLAY".into(), "fuse-overlayfs".into()));
    let image = push_base(&env, &reg);
    let home = user.home.clone();
    user.ok(&home, &["pull", &image]);

    // A container: its root is the FUSE overlay; -e reaches it.
    let out = user.ok(
        &home,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "-e",
            "GREETING=hello",
            &image,
            "sh",
            "-c",
            "echo $GREETING; grep ' / / ' /proc/self/mountinfo; cat /home/u/f",
        ],
    );
    assert!(out.starts_with("hello\n"), "{out}");
    assert!(out.contains(" - fuse.fuse-overlayfs "), "{out}");
    assert!(out.ends_with("owned\n"), "{out}");
    assert_eq!(fuse_daemons(user.uid), Vec::<i32>::new(), "left running");

    // A build on it: deletions, an opaque dir, replaced files; the step
    // checking the mount type fails on a kernel overlay.
    let ctx = context(&env, "ctx", &[("Dockerfile", DOCKERFILE)]);
    fs::set_permissions(&ctx, fs::Permissions::from_mode(0o755)).unwrap();
    let base_arg = format!("BASE={image}");
    user.ok(
        &ctx,
        &[
            "build",
            "-q",
            "--build-arg",
            &base_arg,
            "--build-arg",
            "FUSE=1",
            "-t",
            "fused",
            ".",
        ],
    );
    assert_eq!(fuse_daemons(user.uid), Vec::<i32>::new(), "left running");
    let layers = [
        "image",
        "inspect",
        "--format",
        "{{json .RootFS.Layers}}",
        "fused",
    ];
    let rootless_layers = user.ok(&home, &layers);
    let mut root_build = env.cmd(["build", "-q", "--build-arg", &base_arg, "-t", "fused", "."]);
    root_build.current_dir(&ctx).env("SOURCE_DATE_EPOCH", "0");
    support::sh(&mut root_build);
    assert_eq!(rootless_layers, env.ok(layers));

    // The built image reads back as the steps left it.
    let out = user.ok(
        &home,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "fused",
            "sh",
            "-c",
            "ls -A /d /keep; cat /r; test ! -e /home/u/f && echo gone",
        ],
    );
    assert_eq!(out, "/d:\nn\n\n/keep:\nnew\nnew\ngone\n");
}
