//! Rootless strata: an unprivileged user (made here with `useradd`, with
//! subordinate id ranges, removed at the end) runs the real binary with its
//! own HOME and XDG dirs: pull from the test registry (owners mapped), run
//! with `--network none`, build with RUN steps that chown (the layer records
//! the owner, and its diffIDs equal a rootful build's), limits refused
//! without a delegated cgroup, a detached container that later commands
//! reach (exec, logs, commit), `-it`, images and rmi; and a user without ranges
//! gets the single-id fallback with its warning; the default network
//! (`-p` answering on 127.0.0.1, container to container), `cp`, `push`, and
//! the seed's web-ping built with the rootful build's layers. See: issue 12.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::build_common::{build_ok, context};
use crate::support::{self, Env};

/// A throwaway user; deleted (with its subid lines) on drop.
pub(crate) struct User {
    name: String,
    pub(crate) uid: u32,
    pub(crate) home: PathBuf,
    /// The strata binary copied beside the home, where the user may run
    /// it: the build's own may sit under a directory only root can enter
    /// (CI keeps its target dir in root's cache), and the binary runs
    /// itself again as the step helper.
    bin: PathBuf,
    /// Extra environment for its strata commands.
    pub(crate) env: Vec<(String, String)>,
}

/// Tests making users run one at a time (useradd, usermod).
pub(crate) static USERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl User {
    /// A new user whose home is `home` (created, owned by it); with or
    /// without subordinate ids. `None` (after a skip) without the tools.
    pub(crate) fn new(home: PathBuf, ranges: bool) -> Option<User> {
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
            env: Vec::new(),
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
    pub(crate) fn strata(&self, dir: &Path, args: &[&str]) -> Output {
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
        .env("SOURCE_DATE_EPOCH", "0")
        .envs(self.env.iter().cloned());
        c.output().expect("run strata as the user")
    }

    pub(crate) fn ok(&self, dir: &Path, args: &[&str]) -> String {
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

/// The processes whose real uid is `uid`.
pub(crate) fn processes_of(uid: u32) -> Vec<i32> {
    fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .filter(|pid| {
                    fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
                        s.lines()
                            .find_map(|l| l.strip_prefix("Uid:"))
                            .and_then(|l| l.split_whitespace().next()?.parse::<u32>().ok())
                            == Some(uid)
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Drop for User {
    fn drop(&mut self) {
        // Every process of this throwaway user (its pause process, and
        // containers a failed assertion left running): userdel refuses a
        // user with processes.
        // (uid 0 until useradd's uid is known: never root's processes.)
        for _ in 0..100 {
            let left = if self.uid == 0 {
                Vec::new()
            } else {
                processes_of(self.uid)
            };
            if left.is_empty() {
                break;
            }
            for pid in left {
                // SAFETY: kill has no memory preconditions; the pid is a
                // process of the user this test made.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
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
pub(crate) fn setup() -> Option<(Env, String)> {
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
pub(crate) fn push_base(env: &Env, reg: &str) -> String {
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

/// A TCP port nothing listens on now (the kernel's pick).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `curl` of `url` until it answers (the server may still be starting).
fn curl_until(url: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        let out = Command::new("curl")
            .args(["-sS", "-m", "5", url])
            .output()
            .expect("curl (apt-get install curl)");
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).into_owned();
        }
        last = String::from_utf8_lossy(&out.stderr).into_owned();
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{url} never answered: {last}");
}

#[test]
fn rootless_network_cp_push_and_web_ping() {
    let _one = USERS.lock().unwrap_or_else(|e| e.into_inner());
    let Some((env, reg)) = setup() else { return };
    if fs::metadata("/dev/net/tun").map_or(true, |m| m.permissions().mode() & 0o006 != 0o006) {
        support::skip("/dev/net/tun is not open to users (scripts/lib.sh user_tun)");
        return;
    }
    let Some(user) = User::new(env.path("carol"), true) else {
        return;
    };
    let image = push_base(&env, &reg);
    let home = user.home.clone();
    user.ok(&home, &["pull", "-q", &image]);

    // The default network: -e, --name, -p; curl on the host's loopback.
    let port = free_port();
    let publish = format!("{port}:80");
    user.ok(
        &home,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "-e",
            "WHO=carol",
            "-p",
            &publish,
            &image,
            "sh",
            "-c",
            "mkdir -p /www && echo hello $WHO > /www/index.html && exec httpd -f -p 80 -h /www",
        ],
    );
    let body = curl_until(&format!("http://127.0.0.1:{port}/"));
    assert_eq!(body.trim(), "hello carol");
    assert!(
        user.ok(&home, &["port", "web"])
            .contains(&format!(":{port}")),
        "port"
    );
    // Another container reaches it by address over the default bridge.
    let ip = user.ok(
        &home,
        &["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web"],
    );
    let ip = ip.trim();
    assert!(ip.starts_with("172.17."), "{ip}");
    let get = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {ip} 80");
    let out = user.ok(&home, &["run", "--rm", &image, "sh", "-c", &get]);
    assert!(
        out.contains("200 OK") && out.contains("hello carol"),
        "{out}"
    );
    // A privileged host port is refused, saying why and what works.
    let out = user.strata(&home, &["run", "--rm", "-p", "80:80", &image, "true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(
        err.contains("host port 80") && err.contains("-p 8080:80"),
        "{err}"
    );

    // cp into and out of the running container.
    let src = home.join("in.txt");
    fs::write(&src, "copied in\n").unwrap();
    support::sh(Command::new("chown").arg(&user.name).arg(&src));
    let to = "web:/tmp/in.txt";
    user.ok(&home, &["cp", src.to_str().unwrap(), to]);
    assert_eq!(
        user.ok(&home, &["exec", "web", "cat", "/tmp/in.txt"]),
        "copied in\n"
    );
    let out_file = home.join("index.html");
    user.ok(
        &home,
        &["cp", "web:/www/index.html", out_file.to_str().unwrap()],
    );
    assert_eq!(fs::read_to_string(&out_file).unwrap(), "hello carol\n");
    assert_eq!(fs::metadata(&out_file).unwrap().uid(), user.uid);
    user.ok(&home, &["rm", "-f", "web"]);

    // The seed's web-ping, built rootless: the rootful build's layers.
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../demo/web-ping");
    let ctx = env.path("web-ping");
    support::sh(Command::new("cp").arg("-a").arg(&demo).arg(&ctx));
    support::sh(Command::new("chmod").args(["-R", "a+rX"]).arg(&ctx));
    user.ok(&home, &["tag", &image, "diamol/node"]);
    env.ok(["tag", "rootless-base", "diamol/node"]);
    let build = ["build", "-q", "-t", "web-ping", "."];
    let id = user.ok(&ctx, &build);
    let layers = [
        "image",
        "inspect",
        "--format",
        "{{json .RootFS.Layers}}",
        "web-ping",
    ];
    let rootless_layers = user.ok(&home, &layers);
    let mut root_build = env.cmd(build);
    root_build.current_dir(&ctx).env("SOURCE_DATE_EPOCH", "0");
    let root_id = support::sh(&mut root_build);
    assert_eq!(rootless_layers, env.ok(layers));
    assert_eq!(id.trim(), root_id.trim(), "image IDs");
    // A rebuild with nothing changed is the same image.
    assert_eq!(user.ok(&ctx, &build), id);

    // push, and root pulls the same image back.
    let pushed = format!("{reg}/rootless-{}/web-ping:1", std::process::id());
    user.ok(&home, &["tag", "web-ping", &pushed]);
    user.ok(&home, &["push", &pushed]);
    env.ok(["rmi", "web-ping"]);
    env.ok(["pull", &pushed]);
    let ids = ["image", "inspect", "--format", "{{.Id}}", &pushed];
    assert_eq!(env.ok(ids).trim(), id.trim());
}
