//! A hostile Dockerfile or image never reaches the host: every `RUN
//! --mount` source resolves inside its own root (context, stage, image),
//! every mount target inside the step's rootfs, COPY/ADD never follow a
//! context symlink out of the context, and a Dockerfile or `.dockerignore`
//! that is a symlink out of the context is refused unread. Each case
//! either fails with a clear error or behaves as BuildKit does (the path
//! resolved inside the stage), and [`Canaries`] proves nothing outside the
//! store was written or read. See: issue 9.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::build_common::{build, context};
use crate::support::{Env, is_root, skip, tree_listing, which};

/// Host files a hostile build aims at: a directory at a unique path under
/// `/tmp` and one in the test's own temp dir, each holding a secret, a
/// directory and a tar archive. Every path an attack tries to create on
/// the host starts with [`Canaries::token`].
pub struct Canaries {
    /// Unique name: `/tmp/<token>` is the canary dir; attacks write
    /// `/tmp/<token>-…`.
    pub token: String,
    /// The secret text the canary files hold.
    pub secret: String,
    /// `/tmp/<token>`.
    pub tmp_dir: PathBuf,
    /// `<test temp dir>/canary`.
    pub local_dir: PathBuf,
    before: Vec<Vec<String>>,
    tmp_before: Vec<String>,
}

impl Canaries {
    /// Creates the canaries and records the state of the host.
    pub fn new(env: &Env) -> Canaries {
        static N: AtomicU32 = AtomicU32::new(0);
        let token = format!(
            "strata-escape-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let secret = format!("CANARY-SECRET-{token}");
        let tmp_dir = PathBuf::from("/tmp").join(&token);
        let local_dir = env.path("canary");
        for d in [&tmp_dir, &local_dir] {
            std::fs::create_dir_all(d.join("dir")).unwrap();
            std::fs::write(d.join("secret.txt"), format!("{secret}\n")).unwrap();
            std::fs::write(d.join("dir/inner.txt"), format!("{secret}\n")).unwrap();
            let mut b = tar::Builder::new(std::fs::File::create(d.join("archive.tar")).unwrap());
            let mut h = tar::Header::new_ustar();
            h.set_path("from-archive.txt").unwrap();
            h.set_size(secret.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append(&h, secret.as_bytes()).unwrap();
            b.finish().unwrap();
        }
        let mut c = Canaries {
            token,
            secret,
            tmp_dir,
            local_dir,
            before: Vec::new(),
            tmp_before: Vec::new(),
        };
        c.before = c.trees();
        c.tmp_before = c.tmp_entries();
        c
    }

    fn trees(&self) -> Vec<Vec<String>> {
        vec![tree_listing(&self.tmp_dir), tree_listing(&self.local_dir)]
    }

    /// The entries of `/tmp` that carry the token.
    fn tmp_entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir("/tmp")
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(&self.token))
            .collect();
        v.sort();
        v
    }

    /// Asserts the host is as it was, and `output` (a command's stdout and
    /// stderr) and every file of the store at `root` are free of the
    /// secret.
    pub fn check(&self, output: &str, root: &Path) {
        assert_eq!(
            self.tmp_entries(),
            self.tmp_before,
            "a file appeared under /tmp:\n{output}"
        );
        assert_eq!(self.trees(), self.before, "a canary changed:\n{output}");
        assert!(
            !output.contains(&self.secret),
            "host content in the output:\n{output}"
        );
        if let Some(f) = find_bytes(root, self.secret.as_bytes()) {
            panic!("host content in the store: {}", f.display());
        }
    }
}

impl Drop for Canaries {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.tmp_dir);
    }
}

/// The first regular file under `dir` (not following symlinks) holding
/// `needle`.
fn find_bytes(dir: &Path, needle: &[u8]) -> Option<PathBuf> {
    let rd = std::fs::read_dir(dir).ok()?;
    for e in rd.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if let Some(f) = find_bytes(&p, needle) {
                return Some(f);
            }
        } else if ft.is_file()
            && let Ok(b) = std::fs::read(&p)
            && b.windows(needle.len()).any(|w| w == needle)
        {
            return Some(p);
        }
    }
    None
}

/// Root and a `base` busybox image, or `None` after saying why not.
fn setup() -> Option<Env> {
    if !is_root() {
        skip("build escape tests run RUN steps: they need root");
        return None;
    }
    let env = Env::new();
    env.busybox("base");
    Some(env)
}

/// stdout + stderr.
fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The hostile stage every Dockerfile below starts with.
const EVIL: &str =
    "FROM base AS evil\nRUN ln -s / /hostroot && ln -s ../../../../../../../../ /relroot\n";

/// `runc`, when installed.
fn runc() -> Option<PathBuf> {
    which("runc").or_else(|| Some(PathBuf::from("/usr/sbin/runc")).filter(|p| p.is_file()))
}

#[test]
fn run_mount_sources_resolve_inside_their_stage() {
    let Some(env) = setup() else { return };
    let c = Canaries::new(&env);
    let t = &c.token;
    // The escape, both forms, read and write, plus a subpath and
    // a cache seeded from the stage: each mount is the stage's own tree
    // (BuildKit's behaviour), writes go to throw-away overlays.
    let df = format!(
        "{EVIL}FROM base
RUN --mount=type=bind,from=evil,source=hostroot,target=/h,rw sh -c 'echo PWN > /h/tmp/{t}-abs; cat /h/tmp/{t}/secret.txt; test -L /h/hostroot && echo stage-root-abs'
RUN --mount=type=bind,from=evil,source=relroot,target=/r,rw sh -c 'echo PWN > /r/tmp/{t}-rel; cat /r/tmp/{t}/secret.txt; test -L /r/relroot && echo stage-root-rel'
RUN --mount=type=bind,from=evil,source=/hostroot/../relroot/tmp,target=/t,rw sh -c 'echo PWN > /t/{t}-sub; ls /t'
RUN --mount=type=bind,from=evil,source=hostroot,target=/ro sh -c 'echo PWN > /ro/tmp/{t}-ro || echo read-only'
RUN --mount=type=cache,id={t},from=evil,source=hostroot,target=/c sh -c 'test -L /c/hostroot && echo cache-from-stage; cat /c/tmp/{t}/secret.txt; echo PWN > /c/tmp/{t}-cache'
RUN --mount=type=cache,id={t}-rel,from=evil,source=relroot/tmp,target=/c2 sh -c 'echo PWN > /c2/{t}-cache-rel'
"
    );
    let dir = context(&env, "ctx", &[("Dockerfile", &df)]);
    let out = build(&env, &dir, &["--no-cache", "-t", "escaped"]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    for want in [
        "stage-root-abs",
        "stage-root-rel",
        "read-only",
        "cache-from-stage",
    ] {
        assert!(all.contains(want), "{want}:\n{all}");
    }
    c.check(&all, &env.root);
    // A host path the stage does not have is missing, as in BuildKit.
    for src in [
        format!("hostroot/tmp/{t}/secret.txt"),
        format!("relroot/tmp/{t}"),
    ] {
        let df = format!(
            "{EVIL}FROM base\nRUN --mount=type=bind,from=evil,source={src},target=/x cat /x /x/secret.txt\n"
        );
        std::fs::write(dir.join("Dockerfile"), df).unwrap();
        let out = build(&env, &dir, &[]);
        let all = text(&out);
        assert!(!out.status.success(), "{src}: {all}");
        assert!(
            all.contains(&format!(
                "failed to compute cache key: \"/{src}\": not found"
            )),
            "{src}: {all}"
        );
        c.check(&all, &env.root);
    }
}

#[test]
fn run_mount_sources_from_the_context_stay_in_it() {
    let Some(env) = setup() else { return };
    let c = Canaries::new(&env);
    let dir = context(&env, "ctx", &[("data/ok", "inside\n")]);
    std::os::unix::fs::symlink(&c.tmp_dir, dir.join("abs")).unwrap();
    std::os::unix::fs::symlink("../canary", dir.join("rel")).unwrap();
    std::os::unix::fs::symlink("data", dir.join("inside")).unwrap();
    std::os::unix::fs::symlink("/data", dir.join("abs-inside")).unwrap();
    // A context symlink that stays inside resolves there.
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM base\nRUN --mount=type=bind,source=inside,target=/m cat /m/ok\n",
    )
    .unwrap();
    let out = build(&env, &dir, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("inside"));
    // One that leads out is refused (strata's COPY rule 6: an absolute
    // target is a host path, outside unless under the context's own path).
    for (src, rw) in [
        ("abs", ""),
        ("rel", ",rw"),
        ("rel/dir", ""),
        ("abs/../abs", ""),
        ("abs-inside", ""),
    ] {
        let df = format!(
            "FROM base\nRUN --mount=type=bind,source={src},target=/m{rw} sh -c 'cat /m/secret.txt /m/inner.txt; echo PWN > /m/pwn'\n"
        );
        std::fs::write(dir.join("Dockerfile"), df).unwrap();
        let out = build(&env, &dir, &[]);
        let all = text(&out);
        assert!(!out.status.success(), "{src}: {all}");
        assert!(all.contains("RUN --mount"), "{src}: {all}");
        assert!(
            all.contains("outside the build context") || all.contains("not found"),
            "{src}: {all}"
        );
        c.check(&all, &env.root);
    }
    assert!(!c.local_dir.join("pwn").exists() && !c.tmp_dir.join("pwn").exists());
}

#[test]
fn run_mount_targets_resolve_inside_the_rootfs() {
    let Some(env) = setup() else { return };
    let c = Canaries::new(&env);
    let t = &c.token;
    let secret_file = env.path("build-secret");
    std::fs::write(&secret_file, "user-secret").unwrap();
    let sec = format!("id=tok,src={}", secret_file.display());
    // The step's own rootfs is hostile: /h -> /, /up -> ../../.., and
    // /run -> a path that does not exist yet. Every target through them
    // lands inside the rootfs (where the step then sees it), never on the
    // host; a mount below another mount is resolved inside that mount.
    let df = format!(
        "{EVIL}FROM evil
RUN ln -s ../../tmp/{t}-run /run
RUN --mount=type=tmpfs,target=/hostroot/tmp/{t}-tmpfs sh -c 'grep -q \"^tmpfs /tmp/{t}-tmpfs tmpfs \" /proc/mounts && echo tmpfs-inside'
RUN --mount=type=bind,source=data,target=/relroot/tmp/{t}-bind sh -c 'cat /tmp/{t}-bind/file'
RUN --mount=type=secret,id=tok,target=/hostroot/tmp/{t}-secret sh -c 'cat /tmp/{t}-secret; echo'
RUN --mount=type=secret,id=tok sh -c 'cat /tmp/{t}-run/secrets/tok; echo'
RUN --mount=type=cache,id={t},target=/relroot/relroot/tmp/{t}-cache sh -c 'test -d /tmp/{t}-cache && echo cache-inside'
RUN --mount=type=bind,from=evil,target=/m --mount=type=tmpfs,target=/m/hostroot/tmp/{t}-nested sh -c 'grep -q \"^tmpfs /tmp/{t}-nested tmpfs \" /proc/mounts && echo nested-inside'
"
    );
    let dir = context(
        &env,
        "ctx",
        &[("Dockerfile", &df), ("data/file", "bound\n")],
    );
    let mut runtimes: Vec<Vec<String>> = vec![vec![]];
    match runc() {
        Some(r) => runtimes.push(vec!["--runtime".into(), r.display().to_string()]),
        None => skip("runc is not installed: the build runs under the embedded runtime only"),
    }
    for extra in runtimes {
        let mut args: Vec<&str> = vec!["--no-cache", "--secret", &sec];
        args.extend(extra.iter().map(String::as_str));
        let out = build(&env, &dir, &args);
        let all = text(&out);
        assert!(out.status.success(), "{extra:?}: {all}");
        for want in [
            "tmpfs-inside",
            "bound",
            "user-secret\n",
            "cache-inside",
            "nested-inside",
        ] {
            assert!(all.contains(want), "{extra:?}: {want}:\n{all}");
        }
        c.check(&all, &env.root);
    }
    // A target that resolves to the root itself is refused.
    let df = format!("{EVIL}FROM evil\nRUN --mount=type=tmpfs,target=/hostroot true\n");
    std::fs::write(dir.join("Dockerfile"), df).unwrap();
    let out = build(&env, &dir, &[]);
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(
        all.contains("resolves to the container's root directory"),
        "{all}"
    );
    c.check(&all, &env.root);
}

#[test]
fn copy_and_add_never_follow_a_symlink_out_of_the_context() {
    let Some(env) = setup() else { return };
    let c = Canaries::new(&env);
    let dir = context(&env, "ctx", &[("ok.txt", "ok\n")]);
    let link =
        |target: &Path, name: &str| std::os::unix::fs::symlink(target, dir.join(name)).unwrap();
    link(&c.tmp_dir.join("secret.txt"), "abs-file");
    link(Path::new("../canary/secret.txt"), "rel-file");
    link(&c.tmp_dir, "abs-dir");
    link(Path::new("../canary"), "rel-dir");
    link(&c.tmp_dir.join("archive.tar"), "archive.tar");
    for (i, line) in [
        "COPY abs-file /x",
        "COPY rel-file /x",
        "COPY abs-dir/ /d/",
        "COPY rel-dir/dir /d/",
        "COPY abs-dir/secret.txt /x",
        "COPY rel-* /d/",
        "ADD archive.tar /a/",
        "ADD abs-dir/archive.tar /a/",
        "COPY --from=evil /hostroot/tmp/TOKEN/secret.txt /x",
        "COPY --from=evil /relroot/tmp/TOKEN/ /d/",
    ]
    .iter()
    .enumerate()
    {
        let line = line.replace("TOKEN", &c.token);
        std::fs::write(dir.join("Dockerfile"), format!("{EVIL}FROM base\n{line}\n")).unwrap();
        let out = build(&env, &dir, &["-t", &format!("copy{i}")]);
        let all = text(&out);
        assert!(!out.status.success(), "{line}: {all}");
        assert!(
            all.contains("outside") || all.contains("not found"),
            "{line}: unclear error:\n{all}"
        );
        c.check(&all, &env.root);
    }
    // Through a stage's symlinks, COPY --from reads the stage's own files.
    std::fs::write(
        dir.join("Dockerfile"),
        format!("{EVIL}FROM base\nCOPY --from=evil /relroot/etc/passwd /hostroot/etc/group /from-stage/\n"),
    )
    .unwrap();
    let out_dir = env.path("out");
    let dest = format!("type=local,dest={}", out_dir.display());
    let out = build(&env, &dir, &["--output", &dest]);
    assert!(out.status.success(), "{}", text(&out));
    let passwd = std::fs::read_to_string(out_dir.join("from-stage/passwd")).unwrap();
    let base = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n";
    assert_eq!(passwd, base, "not the stage's passwd");
    assert!(out_dir.join("from-stage/group").is_file());
    c.check(&text(&out), &env.root);
}

#[test]
fn a_dockerfile_or_ignore_file_symlinked_out_of_the_context_is_refused() {
    let Some(env) = setup() else { return };
    let c = Canaries::new(&env);
    let dir = context(
        &env,
        "ctx",
        &[("sub/real.Dockerfile", "FROM base\nRUN echo inner-ok\n")],
    );
    // Inside the context: followed, as docker does.
    std::os::unix::fs::symlink("sub/real.Dockerfile", dir.join("Dockerfile")).unwrap();
    let out = build(&env, &dir, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("inner-ok"));
    std::fs::remove_file(dir.join("Dockerfile")).unwrap();
    // Out of it: refused before a byte is read (a parse error would show
    // the secret), by absolute and relative links, default and -f.
    for (name, target, f) in [
        ("Dockerfile", c.tmp_dir.join("secret.txt"), None),
        ("Dockerfile", PathBuf::from("../canary/secret.txt"), None),
        (
            "other.Dockerfile",
            PathBuf::from("../canary/dir/inner.txt"),
            Some("other.Dockerfile"),
        ),
    ] {
        std::os::unix::fs::symlink(&target, dir.join(name)).unwrap();
        let f_arg = f.map(|f| dir.join(f).display().to_string());
        let mut args = Vec::new();
        if let Some(f) = &f_arg {
            args.extend(["-f", f.as_str()]);
        }
        let out = build(&env, &dir, &args);
        let all = text(&out);
        assert!(!out.status.success(), "{name} -> {target:?}: {all}");
        assert!(all.contains("outside the build context"), "{all}");
        c.check(&all, &env.root);
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    // The same for `.dockerignore`.
    std::fs::write(dir.join("Dockerfile"), "FROM base\nCOPY sub /sub\n").unwrap();
    std::os::unix::fs::symlink(c.tmp_dir.join("secret.txt"), dir.join(".dockerignore")).unwrap();
    let out = build(&env, &dir, &[]);
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(
        all.contains(".dockerignore") && all.contains("outside the build context"),
        "{all}"
    );
    c.check(&all, &env.root);
    // And for a context given as a tar on stdin.
    std::fs::remove_file(dir.join(".dockerignore")).unwrap();
    std::fs::remove_file(dir.join("Dockerfile")).unwrap();
    std::os::unix::fs::symlink(c.tmp_dir.join("secret.txt"), dir.join("Dockerfile")).unwrap();
    let tar = env.path("ctx.tar");
    crate::support::tar_dir(&dir, &tar);
    let out = env.run_stdin(
        ["build", "--progress", "plain", "-"],
        &std::fs::read(&tar).unwrap(),
    );
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(all.contains("outside the build context"), "{all}");
    c.check(&all, &env.root);
}
