//! SIGINT, SIGTERM and SIGHUP at random points of long commands (build
//! during COPY, during RUN, during export; pull and push from a slow
//! registry; load; an attached run): the command exits within the bound
//! with docker's code (128 + the signal), nothing it started survives (the
//! step's token process, the step's cgroup), nothing stays mounted, the
//! store is as before and the next command works. Seeded; the seed is
//! printed. See: issue 18.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::lifecycle::{
    EXIT_BOUND, RemoveContainers, Rng, Throttle, Watched, assert_store_checks, cgroup_dirs,
    cgroup_of, left_after, mounts_under, pid_with, processes_with, random_context, scratch_dirs,
    shell_code,
};
use crate::support::registry::unique_repo;
use crate::support::{self, Env, is_root, skip};

const SIGNALS: [(i32, &str); 3] = [
    (libc::SIGINT, "SIGINT"),
    (libc::SIGTERM, "SIGTERM"),
    (libc::SIGHUP, "SIGHUP"),
];

/// Sends `sig` to `w` and checks it exits within the bound, with
/// `128 + sig` (or 0 when `may_finish` and it completed first). Returns
/// whether it was cancelled.
fn cancel(w: &mut Watched, sig: i32, name: &str, what: &str, may_finish: bool) -> bool {
    let sent = w.signal(sig);
    let st = w.wait(Duration::from_secs(30));
    let took = sent.elapsed();
    let st = st.unwrap_or_else(|| {
        panic!(
            "{what}: still running 30 s after {name}\nstderr:\n{}",
            w.stderr()
        )
    });
    let code = shell_code(&st);
    eprintln!("{what}: {name} -> exit {code} after {took:?}");
    assert!(
        took <= EXIT_BOUND,
        "{what}: exited {took:?} after {name} (bound {EXIT_BOUND:?})\nstderr:\n{}",
        w.stderr()
    );
    if code == 0 && may_finish {
        return false;
    }
    assert_eq!(
        code,
        128 + sig,
        "{what}: exit code after {name}\nstderr:\n{}",
        w.stderr()
    );
    true
}

/// Nothing of a cancelled command is left: no process with `token`, no
/// cgroup `cgroup`, no mount under the root.
fn nothing_left(env: &Env, what: &str, token: Option<&str>, cgroup: Option<&str>) {
    if let Some(t) = token {
        let left = left_after(Duration::from_secs(10), || processes_with(t));
        assert!(left.is_empty(), "{what}: processes left: {left:?}");
    }
    if let Some(cg) = cgroup {
        let left = left_after(Duration::from_secs(10), || cgroup_dirs(cg));
        assert!(left.is_empty(), "{what}: cgroup left: {left:?}");
    }
    // A detached supervisor may still be unmounting as the CLI exits.
    let left = left_after(Duration::from_secs(10), || mounts_under(&env.root));
    assert_eq!(left, Vec::<String>::new(), "{what}: mounts left");
}

fn strata(env: &Env, args: &[&str]) -> Command {
    env.cmd(args)
}

#[test]
fn signals_cancel_a_build_during_copy_run_and_export() {
    if !is_root() {
        return skip("build steps need root");
    }
    let mut rng = Rng::from_env("signals_cancel_a_build");
    let env = Env::new();
    env.busybox("busybox");
    let ctx = env.path("ctx");
    random_context(&mut rng, &ctx, 96, 256 << 10);
    let token = format!("strata-sig-{}", rng.next_u64());
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM busybox\nCOPY data /data\nRUN [\"/bin/sh\", \"-c\", \"sleep 300; : {token}\"]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        ctx.join("Export.Dockerfile"),
        "FROM busybox\nCOPY data /data\nRUN echo done > /done\n",
    )
    .unwrap();
    let df = ctx.join("Dockerfile");
    let export_df = ctx.join("Export.Dockerfile");
    let ctx_s = ctx.to_str().unwrap();
    for phase in ["copy", "run", "export"] {
        for &(sig, name) in &SIGNALS[..2] {
            let what = format!("build ({phase}, {name})");
            let out_tar = env.path(&format!("out-{phase}-{name}.tar"));
            let mut cmd = strata(&env, &["build", "--progress", "plain", "--no-cache"]);
            match phase {
                "export" => {
                    cmd.args(["-f", export_df.to_str().unwrap(), "-t", "x:export"]);
                    cmd.arg("-o")
                        .arg(format!("type=oci,dest={}", out_tar.display()));
                }
                _ => {
                    cmd.args(["-f", df.to_str().unwrap(), "-t", "x:latest"]);
                }
            }
            cmd.arg(ctx_s);
            let mut w = Watched::spawn(cmd);
            let mut cgroup = None;
            match phase {
                "copy" => {
                    assert!(
                        w.wait_line(Duration::from_secs(60), |l| l.contains("COPY data /data")),
                        "{what}: no COPY step\n{}",
                        w.stderr()
                    );
                    std::thread::sleep(rng.millis(0, 300));
                }
                "run" => {
                    let end = Instant::now() + Duration::from_secs(60);
                    let pid = loop {
                        if let Some(p) = pid_with(&token) {
                            break p;
                        }
                        assert!(
                            Instant::now() < end,
                            "{what}: the step never ran\n{}",
                            w.stderr()
                        );
                        std::thread::sleep(Duration::from_millis(20));
                    };
                    cgroup = cgroup_of(pid);
                    assert!(
                        cgroup
                            .as_deref()
                            .is_some_and(|c| c.contains("strata/step-")),
                        "{what}: the step runs in its own cgroup, not {cgroup:?}"
                    );
                    std::thread::sleep(rng.millis(0, 200));
                }
                _ => {
                    assert!(
                        w.wait_line(Duration::from_secs(60), |l| l
                            .contains("exporting to image")),
                        "{what}: no export\n{}",
                        w.stderr()
                    );
                    std::thread::sleep(rng.millis(0, 30));
                }
            }
            let cancelled = cancel(&mut w, sig, name, &what, phase == "export");
            if cancelled {
                assert!(
                    w.stderr().contains(&format!("cancelled ({name})")),
                    "{what}: says it was cancelled\n{}",
                    w.stderr()
                );
                let tag = if phase == "export" {
                    "x:export"
                } else {
                    "x:latest"
                };
                if phase != "export" {
                    assert_eq!(env.ok(["images", "-q", tag]), "", "{what}: no tag set");
                }
                assert!(!out_tar.exists(), "{what}: no partial export archive");
            } else {
                assert!(out_tar.is_file(), "{what}: finished, with its archive");
            }
            assert!(
                !out_tar.with_extension("strata-tmp").exists(),
                "{what}: no temporary archive"
            );
            nothing_left(&env, &what, Some(&token), cgroup.as_deref());
            env.ok(["images"]);
            assert_eq!(
                scratch_dirs(&env),
                Vec::<String>::new(),
                "{what}: scratch left"
            );
            assert_store_checks(&env, &what);
        }
    }
    // The next build works and uses what the cancelled ones left cached.
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nCOPY data /data\nRUN ls /data | wc -l > /count\n",
    )
    .unwrap();
    env.ok(["build", "-q", "-t", "x:done", ctx_s]);
    assert_eq!(
        env.ok(["run", "--rm", "x:done", "cat", "/count"]).trim(),
        "96"
    );
    assert_store_checks(&env, "the last build");
}

/// A 24 MiB random layer over busybox, as `name` in `env`.
fn big_image(env: &Env, rng: &mut Rng, name: &str, mib: usize) {
    let ctx = env.path(&format!("big-{}", rng.next_u64()));
    random_context(rng, &ctx, mib, 1 << 20);
    std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nCOPY data /data\n").unwrap();
    env.ok(["build", "-q", "-t", name, ctx.to_str().unwrap()]);
}

#[test]
fn signals_cancel_pull_and_push_from_a_slow_registry() {
    if !is_root() {
        return skip("builds the test image (needs root)");
    }
    let Some(reg) = support::registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY; scripts/test.sh starts one)");
    };
    let mut rng = Rng::from_env("signals_cancel_pull_and_push");
    let src = Env::new();
    src.busybox("busybox");
    big_image(&src, &mut rng, "big", 24);
    let repo = unique_repo("sigpull");
    src.ok(["tag", "big", &format!("{reg}/{repo}:v1")]);
    src.ok(["push", &format!("{reg}/{repo}:v1")]);
    // 4 MB/s: the pull takes seconds.
    let slow = Throttle::start(&reg, 4 << 20);
    for &(sig, name) in &SIGNALS[..2] {
        let what = format!("pull ({name})");
        let env = Env::new();
        let image = format!("{}/{repo}:v1", slow.addr());
        let mut w = Watched::spawn(strata(&env, &["pull", &image]));
        assert!(
            w.wait_line(Duration::from_secs(30), |l| l.contains("Pulling fs layer")
                || l.contains("Downloading")),
            "{what}: no layer progress\n{}",
            w.stderr()
        );
        std::thread::sleep(rng.millis(100, 1500));
        assert!(cancel(&mut w, sig, name, &what, false));
        nothing_left(&env, &what, None, None);
        assert_eq!(env.ok(["images", "-q"]), "", "{what}: no image recorded");
        assert_eq!(
            scratch_dirs(&env),
            Vec::<String>::new(),
            "{what}: scratch left"
        );
        assert_store_checks(&env, &what);
        // The next pull works (straight from the registry).
        env.ok(["pull", &format!("{reg}/{repo}:v1")]);
        assert_store_checks(&env, &format!("the pull after {what}"));
    }
    for &(sig, name) in &SIGNALS[..2] {
        let what = format!("push ({name})");
        // A layer the registry has never seen: the push must upload it.
        big_image(&src, &mut rng, "fresh", 16);
        let target = format!("{}/{}:v1", slow.addr(), unique_repo("sigpush"));
        src.ok(["tag", "fresh", &target]);
        let mut w = Watched::spawn(strata(&src, &["push", &target]));
        assert!(
            w.wait_line(Duration::from_secs(30), |l| l.contains("Pushing")
                || l.contains("Preparing")),
            "{what}: no push progress\n{}",
            w.stderr()
        );
        std::thread::sleep(rng.millis(200, 1500));
        assert!(cancel(&mut w, sig, name, &what, false));
        nothing_left(&src, &what, None, None);
        assert_store_checks(&src, &what);
        // The next push works.
        let direct = target.replacen(slow.addr(), &reg, 1);
        src.ok(["tag", "fresh", &direct]);
        src.ok(["push", &direct]);
    }
}

#[test]
fn signals_cancel_a_load() {
    if !is_root() {
        return skip("builds the test image (needs root)");
    }
    let mut rng = Rng::from_env("signals_cancel_a_load");
    let src = Env::new();
    src.busybox("busybox");
    big_image(&src, &mut rng, "big", 48);
    let tar = src.path("big.tar");
    src.ok(["save", "-o", tar.to_str().unwrap(), "big"]);
    // How long a load takes here, to aim inside it.
    let probe = Env::new();
    let t = Instant::now();
    probe.ok(["load", "-i", tar.to_str().unwrap()]);
    let full = t.elapsed().as_millis() as u64;
    for &(sig, name) in &SIGNALS {
        let what = format!("load ({name})");
        let env = Env::new();
        env.ok(["images"]);
        let mut w = Watched::spawn(strata(&env, &["load", "-i", tar.to_str().unwrap()]));
        std::thread::sleep(rng.millis(0, full / 2));
        let cancelled = cancel(&mut w, sig, name, &what, true);
        nothing_left(&env, &what, None, None);
        let images = env.ok(["images", "-q"]);
        if cancelled {
            assert_eq!(images, "", "{what}: nothing recorded");
        } else {
            assert_eq!(images.lines().count(), 1, "{what}: loaded whole");
        }
        assert_eq!(
            scratch_dirs(&env),
            Vec::<String>::new(),
            "{what}: scratch left"
        );
        assert_store_checks(&env, &what);
        env.ok(["load", "-i", tar.to_str().unwrap()]);
        assert_eq!(env.ok(["images", "-q"]).lines().count(), 1);
    }
}

#[test]
fn signals_reach_an_attached_container() {
    if !is_root() {
        return skip("containers need root");
    }
    let mut rng = Rng::from_env("signals_reach_an_attached_container");
    let env = Env::new();
    let _cleanup = RemoveContainers(&env);
    env.busybox("busybox");
    for &(sig, name) in &SIGNALS {
        // --init: the signal reaches `sleep`, which dies of it whatever
        // point the container is at (as PID 1 it would ignore it). A sleep
        // of an unlikely length is the token.
        let token = format!("sleep 2{:08}", rng.below(100_000_000));
        let what = format!("run ({name})");
        let mut args = vec!["run", "--rm", "--init", "busybox"];
        args.extend(token.split(' '));
        let mut w = Watched::spawn(strata(&env, &args));
        std::thread::sleep(rng.millis(0, 1500));
        assert!(cancel(&mut w, sig, name, &what, false));
        nothing_left(&env, &what, Some(&token), None);
        let left = left_after(Duration::from_secs(10), || {
            env.ok(["ps", "-aq"]).lines().map(str::to_string).collect()
        });
        assert_eq!(left, Vec::<String>::new(), "{what}: --rm container left");
        assert_store_checks(&env, &what);
    }
    // --sig-proxy=false: the CLI goes, the container stays (docker's).
    let token = format!("strata-noproxy-{}", rng.next_u64());
    let mut w = Watched::spawn(strata(
        &env,
        &[
            "run",
            "--sig-proxy=false",
            "--name",
            "np",
            "busybox",
            "sh",
            "-c",
            &format!("sleep 300; : {token}"),
        ],
    ));
    let end = Instant::now() + Duration::from_secs(30);
    while env
        .run(["inspect", "-f", "{{.State.Running}}", "np"])
        .stdout
        != b"true\n"
    {
        assert!(Instant::now() < end, "the container never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(cancel(
        &mut w,
        libc::SIGINT,
        "SIGINT",
        "run --sig-proxy=false",
        false
    ));
    assert!(
        !processes_with(&token).is_empty(),
        "the container keeps running"
    );
    assert_eq!(
        env.ok(["inspect", "-f", "{{.State.Running}}", "np"]).trim(),
        "true"
    );
    env.ok(["rm", "-f", "np"]);
    let left = left_after(Duration::from_secs(10), || processes_with(&token));
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_second_signal_never_leaves_a_half_state() {
    if !is_root() {
        return skip("build steps need root");
    }
    let mut rng = Rng::from_env("a_second_signal_never_leaves_a_half_state");
    let env = Env::new();
    env.busybox("busybox");
    let ctx = env.path("ctx");
    random_context(&mut rng, &ctx, 32, 256 << 10);
    let ctx_s = ctx.to_str().unwrap();
    for round in 0..3 {
        let token = format!("strata-twice-{}", rng.next_u64());
        std::fs::write(
            ctx.join("Dockerfile"),
            format!(
                "FROM busybox\nCOPY data /data\nRUN [\"/bin/sh\", \"-c\", \"sleep 300; : {token}\"]\n"
            ),
        )
        .unwrap();
        let what = format!("build, SIGINT twice (round {round})");
        let mut w = Watched::spawn(strata(&env, &["build", "--no-cache", "-t", "x", ctx_s]));
        // Anywhere from the COPY to the RUN.
        assert!(w.wait_line(Duration::from_secs(60), |l| l.contains("COPY data")));
        std::thread::sleep(rng.millis(0, 800));
        let cgroup = pid_with(&token).and_then(cgroup_of);
        w.signal(libc::SIGINT);
        std::thread::sleep(rng.millis(0, 100));
        assert!(cancel(&mut w, libc::SIGINT, "SIGINT", &what, false));
        nothing_left(&env, &what, Some(&token), cgroup.as_deref());
        env.ok(["images"]);
        assert_eq!(
            scratch_dirs(&env),
            Vec::<String>::new(),
            "{what}: scratch left"
        );
        assert_eq!(env.ok(["images", "-q", "x"]), "", "{what}: no tag");
        assert_store_checks(&env, &what);
    }
    std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nCOPY data /data\n").unwrap();
    env.ok(["build", "-q", "-t", "x", ctx_s]);
}

#[test]
fn signals_reach_exec_and_start_attached_and_not_a_tty_run() {
    if !is_root() {
        return skip("containers need root");
    }
    let mut rng = Rng::from_env("signals_reach_exec_and_start_attached");
    let env = Env::new();
    let _cleanup = RemoveContainers(&env);
    env.busybox("busybox");
    env.ok(["run", "-d", "--name", "box", "busybox", "sleep", "600"]);
    for &(sig, name) in &SIGNALS {
        // exec: the process gets the signal and dies of it.
        let token = format!("sleep 4{:08}", rng.below(100_000_000));
        let mut args = vec!["exec", "box"];
        args.extend(token.split(' '));
        let mut w = Watched::spawn(strata(&env, &args));
        let end = Instant::now() + Duration::from_secs(30);
        // The exec'd process itself (not a strata command line naming it).
        let running = |t: &str| {
            processes_with(t)
                .iter()
                .any(|l| l.split_once(": ").is_some_and(|(_, c)| c.starts_with(t)))
        };
        while !running(&token) {
            assert!(Instant::now() < end, "exec never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(rng.millis(0, 300));
        let what = format!("exec ({name})");
        assert!(cancel(&mut w, sig, name, &what, false));
        let left = left_after(Duration::from_secs(10), || processes_with(&token));
        assert!(left.is_empty(), "{what}: {left:?}");

        // start -a: the container gets it (--init: its sleep dies of it).
        let token = format!("sleep 5{:08}", rng.below(100_000_000));
        let mut args = vec!["create", "--init", "--name", "sa", "busybox"];
        args.extend(token.split(' '));
        env.ok(&args);
        let mut w = Watched::spawn(strata(&env, &["start", "-a", "sa"]));
        std::thread::sleep(rng.millis(0, 1000));
        let what = format!("start -a ({name})");
        assert!(cancel(&mut w, sig, name, &what, false));
        let left = left_after(Duration::from_secs(10), || processes_with(&token));
        assert!(left.is_empty(), "{what}: {left:?}");
        env.ok(["rm", "-f", "sa"]);
    }
    assert_eq!(
        env.ok(["inspect", "-f", "{{.State.Running}}", "box"])
            .trim(),
        "true",
        "exec's signals stay with exec's process"
    );
    // With -t, docker proxies nothing: the CLI goes, the container stays.
    let token = format!("sleep 6{:08}", rng.below(100_000_000));
    let mut args = vec!["run", "-t", "--name", "tty", "busybox"];
    args.extend(token.split(' '));
    let mut w = Watched::spawn(strata(&env, &args));
    let end = Instant::now() + Duration::from_secs(30);
    while env
        .run(["inspect", "-f", "{{.State.Running}}", "tty"])
        .stdout
        != b"true\n"
    {
        assert!(Instant::now() < end, "the tty container never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(cancel(&mut w, libc::SIGTERM, "SIGTERM", "run -t", false));
    assert_eq!(
        env.ok(["inspect", "-f", "{{.State.Running}}", "tty"])
            .trim(),
        "true"
    );
    env.ok(["rm", "-f", "tty", "box"]);
    assert_eq!(mounts_under(&env.root), Vec::<String>::new());
}
