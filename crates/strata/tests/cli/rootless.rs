//! Rootless strata: an unprivileged user (made here with `useradd`, with
//! subordinate id ranges, removed at the end) runs the real binary with its
//! own HOME and XDG dirs: pull from the test registry (owners mapped), run
//! with `--network none`, build with RUN steps that chown (the layer records
//! the owner, and its diffIDs equal a rootful build's), limits refused
//! without a delegated cgroup, a detached container that later commands
//! reach (exec, logs, commit), `-it`, images and rmi; and a user without ranges
//! gets the single-id fallback with its warning. See: issue 12.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::build_common::{build_ok, context};
use crate::support::{self, Env};

/// A throwaway user; deleted (with its subid lines) on drop.
struct User {
    name: String,
    uid: u32,
    home: PathBuf,
    /// The strata binary copied beside the home, where the user may run
    /// it: the build's own may sit under a directory only root can enter
    /// (CI keeps its target dir in root's cache), and the binary runs
    /// itself again as the step helper.
    bin: PathBuf,
}

/// Tests making users run one at a time (useradd, usermod).
static USERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl User {
    /// A new user whose home is `home` (created, owned by it); with or
    /// without subordinate ids. `None` (after a skip) without the tools.
    fn new(home: PathBuf, ranges: bool) -> Option<User> {
        for tool in [
            "useradd",
            "usermod",
            "userdel",
            "setpriv",
            "newuidmap",
            "newgidmap",
        ] {
            if support::which(tool).is_none() && !Path::new("/usr/sbin").join(tool).exists() {
                support::skip(&format!(
                    "{tool} is missing (apt-get install passwd uidmap)"
                ));
                return None;
            }
        }
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "strl{}x{}",
            std::process::id() % 100_000,
            N.fetch_add(1, Ordering::SeqCst)
        );
        let mut add = Command::new("useradd");
        add.args(["-M", "-s", "/bin/sh", "-d"])
            .arg(&home)
            .arg(&name);
        support::sh(&mut add);
        let dir = home.parent().expect("a home inside the test's directory");
        let bin = dir.join(format!("{name}-strata"));
        fs::copy(support::bin(), &bin).unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
        let mut user = User {
            uid: 0,
            name,
            home,
            bin,
        };
        user.uid = support::sh(Command::new("id").args(["-u", &user.name]))
            .trim()
            .parse()
            .expect("uid");
        // useradd gives ranges where login.defs says so; usermod (which
        // takes shadow's locks) adds or removes them.
        let have = user.subids("/etc/subuid");
        if ranges && have.is_empty() {
            let r = "3000000-3065535";
            support::sh(Command::new("usermod").args([
                "--add-subuids",
                r,
                "--add-subgids",
                r,
                &user.name,
            ]));
        } else if !ranges {
            for (f, flag) in [
                ("/etc/subuid", "--del-subuids"),
                ("/etc/subgid", "--del-subgids"),
            ] {
                for (start, count) in user.subids(f) {
                    let r = format!("{start}-{}", start + count - 1);
                    support::sh(Command::new("usermod").args([flag, &r, &user.name]));
                }
            }
        }
        fs::create_dir_all(user.home.join("run")).expect("mkdir home");
        support::sh(
            Command::new("chown")
                .arg("-R")
                .arg(format!("{0}:{0}", user.name))
                .arg(&user.home),
        );
        fs::set_permissions(user.home.join("run"), fs::Permissions::from_mode(0o700)).unwrap();
        Some(user)
    }

    /// `(start, count)` of this user's lines in a subid file.
    fn subids(&self, file: &str) -> Vec<(u32, u32)> {
        let prefix = format!("{}:", self.name);
        fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .filter_map(|r| r.split_once(':'))
            .map(|(a, b)| (a.parse().unwrap(), b.parse().unwrap()))
            .collect()
    }

    /// The first subordinate uid (`/etc/subuid`).
    fn sub_start(&self) -> u32 {
        self.subids("/etc/subuid")[0].0
    }

    /// `strata ARGS` as this user, in `dir`, with its own environment.
    fn strata(&self, dir: &Path, args: &[&str]) -> Output {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid",
            &self.name,
            "--regid",
            &self.name,
            "--init-groups",
            "--",
        ])
        .arg(&self.bin)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("HOME", &self.home)
        .env("XDG_DATA_HOME", self.home.join("data"))
        .env("XDG_RUNTIME_DIR", self.home.join("run"))
        .env("SOURCE_DATE_EPOCH", "0");
        c.output().expect("run strata as the user")
    }

    fn ok(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.strata(dir, args);
        assert!(
            out.status.success(),
            "strata {args:?} as {} failed ({}):\n{}",
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for User {
    fn drop(&mut self) {
        // Its pause process first: userdel refuses a user with processes.
        let pidfile = self.home.join("run/strata/pause.pid");
        if let Some(pid) = fs::read_to_string(pidfile)
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse::<i32>().ok())
        {
            // SAFETY: kill has no memory preconditions; the pid is the
            // pause process this test's user started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            for _ in 0..100 {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        // userdel removes its subordinate ids too; it refuses while the
        // killed process is not yet reaped.
        for _ in 0..50 {
            let done = Command::new("userdel").arg(&self.name).output();
            if done.is_ok_and(|o| o.status.success()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = fs::remove_dir_all(&self.home);
    }
}

/// Root, a registry and an Env whose scratch dir other users may enter.
fn setup() -> Option<(Env, String)> {
    if !support::is_root() {
        support::skip("making a user needs root");
        return None;
    }
    let Some(reg) = support::registry() else {
        support::skip("no test registry (STRATA_TEST_REGISTRY)");
        return None;
    };
    let env = Env::new();
    fs::set_permissions(env.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    Some((env, reg))
}

/// Pushes a base image (busybox plus /home/u/f owned by 1000:1000) as
/// root and returns its reference.
fn push_base(env: &Env, reg: &str) -> String {
    env.busybox("bb");
    let dir = context(
        env,
        "base",
        &[(
            "Dockerfile",
            "FROM bb\nRUN mkdir -p /home/u && echo owned > /home/u/f && chown -R 1000:1000 /home/u\n",
        )],
    );
    build_ok(env, &dir, &["-t", "rootless-base"]);
    let image = format!("{reg}/rootless-{}/base:1", std::process::id());
    env.ok(["tag", "rootless-base", &image]);
    env.ok(["push", &image]);
    image
}

/// `(path, uid, gid)` of each entry of each layer of a `save` archive.
fn layer_owners(archive: &Path) -> Vec<Vec<(String, u64, u64)>> {
    let mut files = std::collections::HashMap::new();
    let mut ar = tar::Archive::new(fs::File::open(archive).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut body).unwrap();
        files.insert(p, body);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let blob = &files[l.as_str().unwrap()][..];
            let data: Box<dyn std::io::Read> = if blob.starts_with(&[0x1f, 0x8b]) {
                Box::new(flate2::read::GzDecoder::new(blob))
            } else {
                Box::new(blob)
            };
            let mut ar = tar::Archive::new(data);
            ar.entries()
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    let h = e.header();
                    (
                        e.path().unwrap().to_string_lossy().into_owned(),
                        h.uid().unwrap(),
                        h.gid().unwrap(),
                    )
                })
                .collect()
        })
        .collect()
}

const DOCKERFILE: &str = "ARG BASE\nFROM $BASE\n\
RUN mkdir /data && echo hi > /data/x && chown 1000:1001 /data/x\n\
RUN rm /home/u/f && echo two > /two\n";

#[test]
fn rootless_pull_run_build_match_root() {
    let _one = USERS.lock().unwrap_or_else(|e| e.into_inner());
    let Some((env, reg)) = setup() else { return };
    let Some(user) = User::new(env.path("alice"), true) else {
        return;
    };
    let image = push_base(&env, &reg);
    let home = user.home.clone();

    // pull, then run: owners as in the image inside, mapped on disk.
    user.ok(&home, &["pull", &image]);
    let out = user.ok(
        &home,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            &image,
            "stat",
            "-c",
            "%u:%g",
            "/home/u/f",
        ],
    );
    assert_eq!(out.trim(), "1000:1000");
    // The first run unpacked the pulled (packed) layer: owners mapped on disk.
    let owned = fs::read_dir(home.join("data/strata/snapshots"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("fs/home/u/f"))
        .find(|p| p.exists())
        .expect("the pulled layer's /home/u/f");
    assert_eq!(fs::metadata(&owned).unwrap().uid(), user.sub_start() + 999);
    let out = user.ok(
        &home,
        &["run", "--rm", "--network", "none", &image, "id", "-u"],
    );
    assert_eq!(out.trim(), "0");

    // build: RUN steps, one chowning; diffIDs equal the rootful build's.
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
            "-t",
            "chowned",
            ".",
        ],
    );
    let layers = [
        "image",
        "inspect",
        "--format",
        "{{json .RootFS.Layers}}",
        "chowned",
    ];
    let rootless_layers = user.ok(&home, &layers);
    let mut root_build = env.cmd([
        "build",
        "-q",
        "--build-arg",
        &base_arg,
        "-t",
        "chowned",
        ".",
    ]);
    root_build.current_dir(&ctx).env("SOURCE_DATE_EPOCH", "0");
    support::sh(&mut root_build);
    assert_eq!(rootless_layers, env.ok(layers));

    // The layer's tar headers record the owner, as the rootful one's.
    user.ok(&home, &["save", "-o", "chowned.tar", "chowned"]);
    let got = layer_owners(&home.join("chowned.tar"));
    env.ok([
        "save",
        "-o",
        env.path("root.tar").to_str().unwrap(),
        "chowned",
    ]);
    assert_eq!(got, layer_owners(&env.path("root.tar")));
    let x = got
        .iter()
        .flatten()
        .find(|(p, ..)| p == "data/x")
        .expect("data/x");
    assert_eq!((x.1, x.2), (1000, 1001));
    assert!(
        got.iter().flatten().any(|(p, ..)| p == "home/u/.wh.f"),
        "{got:?}"
    );

    // Limits: applied where a cgroup is delegated, refused otherwise.
    let out = user.strata(
        &home,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--memory",
            "16m",
            "chowned",
            "cat",
            "/sys/fs/cgroup/memory.max",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "16777216");
    } else {
        assert_eq!(out.status.code(), Some(125), "{err}");
        assert!(
            err.contains("cannot apply --memory") && err.contains("not delegated"),
            "{err}"
        );
    }
    // The default network is refused, saying what works.
    let out = user.strata(&home, &["run", "--rm", "chowned", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--network none"));

    // A detached container lives in the namespaces later commands join
    // (the pause process): exec, logs, commit, rm.
    user.ok(
        &home,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "-e",
            "WHO=alice",
            "--network",
            "none",
            "chowned",
            "sh",
            "-c",
            "echo hello $WHO; sleep 300",
        ],
    );
    assert_eq!(
        user.ok(
            &home,
            &["exec", "web", "sh", "-c", "touch /made && cat /data/x"]
        )
        .trim(),
        "hi"
    );
    assert!(user.ok(&home, &["logs", "web"]).contains("hello alice"));
    user.ok(&home, &["commit", "web", "committed"]);
    user.ok(&home, &["rm", "-f", "web"]);
    let out = user.ok(
        &home,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "committed",
            "ls",
            "/made",
        ],
    );
    assert_eq!(out.trim(), "/made");
    // -it through a pty.
    if support::which("script").is_some() {
        let line = format!(
            "{} run -it --rm --network none chowned sh -c 'tty; echo it-ok'",
            user.bin.display()
        );
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid",
            &user.name,
            "--regid",
            &user.name,
            "--init-groups",
            "--",
            "script",
            "-qec",
            &line,
            "/dev/null",
        ])
        .current_dir(&home)
        .env_clear()
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .stdin(std::process::Stdio::null());
        let out = support::sh(&mut c);
        assert!(out.contains("/dev/pts/") && out.contains("it-ok"), "{out}");
    } else {
        support::skip("script (bsdutils) is missing");
    }
    user.ok(&home, &["rmi", "committed"]);

    assert!(user.ok(&home, &["images"]).contains("chowned"));
    user.ok(&home, &["rmi", "chowned", &image]);
    let left = user.ok(&home, &["images", "-q"]);
    assert!(left.trim().is_empty(), "{left}");
}

#[test]
fn rootless_without_subids_maps_one_id_and_warns() {
    let _one = USERS.lock().unwrap_or_else(|e| e.into_inner());
    let Some((env, reg)) = setup() else { return };
    let Some(user) = User::new(env.path("bob"), false) else {
        return;
    };
    let image = push_base(&env, &reg);
    let home = user.home.clone();
    let out = user.strata(&home, &["pull", "-q", &image]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("single id"));
    let out = user.ok(
        &home,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            &image,
            "stat",
            "-c",
            "%u:%g",
            "/home/u/f",
        ],
    );
    assert_eq!(out.trim(), "0:0");
}
