//! `build --isolation chroot` where the kernel allows no mounts and no user
//! namespaces: Kaniko's case, a CI job in an unprivileged container. The
//! environment is a strata container — docker's default capabilities (no
//! `CAP_SYS_ADMIN`) and seccomp profile (no `unshare`, no `mount`, no
//! `clone(CLONE_NEWUSER)`), as a Kubernetes pod's — running the strata
//! under test bound in from the host, as root there. The test shows that
//! user namespaces and mounts really are refused there, that the default
//! isolation stops with the message naming `--isolation chroot` (exit
//! 125), as does a non-root user's strata there, and that chroot isolation builds a Dockerfile with ENV, WORKDIR,
//! COPY, USER and RUN steps (a chown, a deletion, a directory replaced,
//! device nodes used by a non-root user) whose
//! layers equal the rootful build's and whose image runs. See: issue 12.

use std::process::Output;

use crate::build_common::context;
use crate::support::{self, Env};

const DOCKERFILE: &str = "FROM bb\n\
ENV GREETING=hello\n\
WORKDIR /app\n\
COPY f.txt ./\n\
RUN mkdir /data && echo hi > /data/x && chown 1000:1001 /data/x \
&& echo \"$GREETING\" > /app/g && rm /etc/group && echo quiet > /dev/null\n\
RUN mkdir /a && echo old > /a/f\n\
RUN rm -rf /a && mkdir /a && echo new > /a/n\n\
RUN mkdir -m 1777 /t\n\
USER nobody\n\
RUN test -c /dev/null && test -c /dev/zero && echo x > /dev/null && head -c 2 /dev/zero | od -An -c > /t/zero && id -u > /t/id\n";

/// Runs `script` with busybox's `sh` in a container with docker's default
/// confinement; strata is `/strata`, `dir` is `/k`, and the host's
/// `/usr` (util-linux's `unshare`, the libraries strata links) is bound
/// read-only. Returns the output (stderr merged by the script).
fn in_container(env: &Env, dir: &std::path::Path, script: &str) -> Output {
    let bin = format!("{}:/strata:ro", support::bin().display());
    let k = format!("{}:/k", dir.display());
    let mut args = vec!["run", "--rm", "--network", "none", "-v", "/usr:/usr:ro"];
    args.extend(["-v", "/usr/lib:/lib:ro"]);
    // The dynamic loader's directory where the architecture has one.
    if std::path::Path::new("/usr/lib64").is_dir() {
        args.extend(["-v", "/usr/lib64:/lib64:ro"]);
    }
    args.extend(["-v", &bin, "-v", &k, "-e", "SOURCE_DATE_EPOCH=0"]);
    args.extend(["bb", "sh", "-c", script]);
    env.run(args)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn chroot_isolation_builds_without_mounts_or_user_namespaces() {
    if !support::is_root() {
        support::skip("needs root: the test runs strata in a container");
        return;
    }
    let env = Env::new();
    env.busybox("bb");
    let k = env.path("kaniko");
    std::fs::create_dir_all(&k).unwrap();
    std::fs::copy(support::busybox_rootfs_tar(), k.join("bb.tar")).unwrap();
    let ctx = context(
        &env,
        "kaniko/ctx",
        &[("Dockerfile", DOCKERFILE), ("f.txt", "copied\n")],
    );

    // The environment: no user namespace, no mount namespace, no mount.
    let out = in_container(
        &env,
        &k,
        "id -u; \
         /usr/bin/unshare -U true 2>/dev/null && echo userns-made || echo userns-refused; \
         /usr/bin/unshare -m true 2>/dev/null && echo mntns-made || echo mntns-refused; \
         mkdir -p /tmp/m; mount -t tmpfs none /tmp/m 2>/dev/null && echo mounted || echo mount-refused; \
         mkdir -m 777 /tmp/u; /usr/bin/setpriv --reuid 65534 --regid 65534 --clear-groups \
           env HOME=/tmp/u XDG_RUNTIME_DIR=/tmp/u /strata images 2>&1; echo \"user-exit=$?\"",
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    for want in ["userns-refused", "mntns-refused", "mount-refused"] {
        assert!(t.contains(want), "{want} expected:\n{t}");
    }
    assert_eq!(t.lines().next(), Some("0"), "root in the container:\n{t}");
    // An ordinary user there is told what works.
    assert!(t.contains("user-exit=125"), "{t}");
    assert!(
        t.contains("run it as root there and build with --isolation chroot"),
        "{t}"
    );

    // The default isolation refuses, naming the way out; chroot builds,
    // by flag and by STRATA_ISOLATION alike (the same image).
    let out = in_container(
        &env,
        &k,
        "S='/strata --root /k/root'; cd /k/ctx || exit 9; \
         $S import --change 'CMD [\"sh\"]' /k/bb.tar bb >/dev/null || exit 9; \
         $S build -q -t dflt . 2>&1; echo \"default-exit=$?\"; \
         $S build -q --isolation chroot -t img . > /k/id1 || exit 10; \
         STRATA_ISOLATION=chroot $S build -q --no-cache -t img2 . > /k/id2 || exit 11; \
         $S save -o /k/img.tar img 2>&1 || exit 12",
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("default-exit=125"), "{t}");
    assert!(t.contains("Operation not permitted"), "{t}");
    assert!(
        t.contains("build with --isolation chroot (or STRATA_ISOLATION=chroot)"),
        "{t}"
    );
    let id1 = std::fs::read_to_string(k.join("id1")).unwrap();
    assert!(id1.trim().starts_with("sha256:"), "{id1}");
    assert_eq!(id1, std::fs::read_to_string(k.join("id2")).unwrap());

    // The same layers as the rootful build (overlay, OCI runtime).
    let mut root_build = env.cmd(["build", "-q", "-t", "rootful", "."]);
    root_build.current_dir(&ctx).env("SOURCE_DATE_EPOCH", "0");
    support::sh(&mut root_build);
    let img_tar = k.join("img.tar");
    env.ok(["load", "-q", "-i", img_tar.to_str().unwrap()]);
    let layers = |image: &str| {
        env.ok([
            "image",
            "inspect",
            "--format",
            "{{json .RootFS.Layers}}",
            image,
        ])
    };
    assert_eq!(layers(id1.trim()), layers("rootful"));

    // The image runs: ENV, WORKDIR, COPY and the RUN steps' changes.
    let out = env.ok([
        "run",
        "--rm",
        "--network",
        "none",
        id1.trim(),
        "sh",
        "-c",
        "pwd; cat g f.txt; stat -c %u:%g /data/x; ls /a; test -e /etc/group || echo no-group; \
         cat /t/id; stat -c %u /t/zero",
    ]);
    assert_eq!(
        out,
        "/app\nhello\ncopied\n1000:1001\nn\nno-group\n65534\n65534\n"
    );
}

/// Where a mount namespace can be made (root here), chroot isolation
/// gives the step buildah's setup — device nodes, `/proc`, `/sys`
/// read-only, `pivot_root` — and kills what the step left running, even a
/// process that left its group with `setsid`; a RUN the layer diff must
/// not see (`/dev`, `/etc/hosts`) leaves the layer as an overlay step's,
/// whatever the caller's umask.
#[test]
fn chroot_isolation_with_a_mount_namespace_cleans_up() {
    if !support::is_root() {
        support::skip("needs root: chroot(2)");
        return;
    }
    let env = Env::new();
    env.busybox("bb");
    let marker = format!("{}", 40_000 + std::process::id() % 20_000);
    // Later RUN steps start from the copy an earlier one left (with the
    // COPY's layer applied to it); COPY --from reads a copied stage.
    let dockerfile = format!(
        "FROM bb AS base\n\
         RUN (setsid sleep {marker} &); test -c /dev/null && test -c /dev/urandom \
         && grep -q '^Name:' /proc/self/status && ! touch /sys/x 2>/dev/null \
         && echo x > /dev/null && echo 127.0.0.2 extra >> /etc/hosts \
         && test \"$(cat /etc/hostname)\" = buildkitsandbox && echo made > /made\n\
         RUN mkdir /w && echo a > /w/a\n\
         COPY c.txt /w/\n\
         RUN cat /w/c.txt >> /w/a && rm /made /w/c.txt\n\
         FROM bb\n\
         COPY --from=base /w /w2\n\
         RUN cat /w2/a > /out && ls /w2 >> /out\n"
    );
    let ctx = context(
        &env,
        "ctx",
        &[("Dockerfile", &dockerfile), ("c.txt", "c\n")],
    );
    let build = |tag: &str, iso: &str, umask: u32| {
        let mut c = env.cmd(["build", "-q", "--isolation", iso, "-t", tag, "."]);
        c.current_dir(&ctx).env("SOURCE_DATE_EPOCH", "0");
        // SAFETY: umask is async-signal-safe and cannot fail.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut c, move || {
                libc::umask(umask);
                Ok(())
            });
        }
        support::sh(&mut c)
    };
    // The caller's umask does not reach the step (its files get docker's
    // modes, so the layers still match).
    build("ch", "chroot", 0o077);
    // Nothing of the step runs on.
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("cmdline")).ok())
        .filter(|c| c.split('\0').any(|a| a == marker))
        .collect();
    assert!(left.is_empty(), "left running: {left:?}");
    build("oci", "default", 0o022);
    let layers = |image: &str| {
        env.ok([
            "image",
            "inspect",
            "--format",
            "{{json .RootFS.Layers}}",
            image,
        ])
    };
    assert_eq!(layers("ch"), layers("oci"));
    let out = env.ok(["run", "--rm", "--network", "none", "ch", "cat", "/out"]);
    assert_eq!(out, "a\nc\na\n");
    let mut base = env.cmd([
        "build",
        "-q",
        "--isolation",
        "chroot",
        "--target",
        "base",
        "-t",
        "base",
        ".",
    ]);
    base.current_dir(&ctx);
    support::sh(&mut base);
    let out = env.ok([
        "run",
        "--rm",
        "--network",
        "none",
        "base",
        "sh",
        "-c",
        "ls / /w",
    ]);
    assert!(!out.contains("made") && !out.contains("c.txt"), "{out}");
    // A bad value is docker's flag error.
    let out = env.run(["build", "--isolation", "hyperv", ctx.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid isolation"));
}
