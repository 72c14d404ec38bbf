//! `kill -9` at random points of pull, load, build (during COPY and during
//! RUN), rmi and `run -d`, all on one store: after every kill the next
//! command works, no process of the killed command survives (the step's
//! token and cgroup), nothing stays mounted, no container directory or
//! record is orphaned, no scratch is left, and the store checks clean.
//! Seeded; the seed and the number of kills are printed. See: issue 11.

use std::time::{Duration, Instant};

use crate::support::lifecycle::{
    RemoveContainers, Rng, Throttle, Watched, assert_store_checks, cgroup_dirs, cgroup_of,
    container_orphans, left_after, mounts_under, pid_with, processes_with, random_context,
    scratch_dirs,
};
use crate::support::registry::unique_repo;
use crate::support::{self, Env, is_root, skip};

const KINDS: [&str; 6] = ["pull", "load", "build-copy", "build-run", "rmi", "run-d"];

fn kill9(w: &mut Watched) {
    w.signal(libc::SIGKILL);
    assert!(
        w.wait(Duration::from_secs(30)).is_some(),
        "SIGKILL ignored?"
    );
}

#[test]
fn kill_9_at_random_points_leaves_a_working_store() {
    if !is_root() {
        return skip("builds and containers need root");
    }
    let Some(reg) = support::registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY; scripts/test.sh starts one)");
    };
    let mut rng = Rng::from_env("kill_9_at_random_points");
    let rounds: usize = std::env::var("STRATA_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);

    // What the killed commands read: an image in the registry, an archive.
    let src = Env::new();
    src.busybox("busybox");
    for (name, mib) in [("for-pull", 16), ("for-load", 24)] {
        let ctx = src.path(name);
        random_context(&mut rng, &ctx, mib, 1 << 20);
        std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nCOPY data /data\n").unwrap();
        src.ok(["build", "-q", "-t", name, ctx.to_str().unwrap()]);
    }
    let remote = format!("{reg}/{}:v1", unique_repo("crash"));
    src.ok(["tag", "for-pull", &remote]);
    src.ok(["push", &remote]);
    let tar = src.path("for-load.tar");
    src.ok(["save", "-o", tar.to_str().unwrap(), "for-load"]);
    let slow = Throttle::start(&reg, 8 << 20);
    let slow_remote = remote.replacen(&reg, slow.addr(), 1);

    // The store that takes the kills.
    let env = Env::new();
    let _cleanup = RemoveContainers(&env);
    env.busybox("busybox");
    let ctx = env.path("ctx");
    random_context(&mut rng, &ctx, 64, 256 << 10);
    let token = format!("strata-crash-{}", rng.next_u64());
    std::fs::write(
        ctx.join("Copy.Dockerfile"),
        "FROM busybox\nCOPY data /data\n",
    )
    .unwrap();
    std::fs::write(
        ctx.join("Run.Dockerfile"),
        format!("FROM busybox\nRUN [\"/bin/sh\", \"-c\", \"sleep 300; : {token}\"]\n"),
    )
    .unwrap();
    let ctx_s = ctx.to_str().unwrap().to_string();
    let mut kills = 0;
    for round in 0..rounds {
        let mut order = KINDS.to_vec();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        for kind in order {
            let what = format!("kill -9 of {kind} (round {round})");
            let mut cgroup = None;
            let mut run_token = None;
            match kind {
                "pull" => {
                    let _ = env.run(["rmi", "-f", &slow_remote]);
                    let mut w = Watched::spawn(env.cmd(["pull", &slow_remote]));
                    std::thread::sleep(rng.millis(0, 2500));
                    kill9(&mut w);
                }
                "load" => {
                    let _ = env.run(["rmi", "-f", "for-load"]);
                    let mut w = Watched::spawn(env.cmd(["load", "-i", tar.to_str().unwrap()]));
                    std::thread::sleep(rng.millis(0, 600));
                    kill9(&mut w);
                }
                "build-copy" => {
                    let mut w = Watched::spawn(env.cmd([
                        "build",
                        "--progress",
                        "plain",
                        "--no-cache",
                        "-f",
                        &format!("{ctx_s}/Copy.Dockerfile"),
                        "-t",
                        "copied",
                        &ctx_s,
                    ]));
                    assert!(
                        w.wait_line(Duration::from_secs(60), |l| l.contains("COPY data")),
                        "{what}: no COPY\n{}",
                        w.stderr()
                    );
                    std::thread::sleep(rng.millis(0, 400));
                    kill9(&mut w);
                }
                "build-run" => {
                    let mut w = Watched::spawn(env.cmd([
                        "build",
                        "--no-cache",
                        "-f",
                        &format!("{ctx_s}/Run.Dockerfile"),
                        &ctx_s,
                    ]));
                    let end = Instant::now() + Duration::from_secs(60);
                    let pid = loop {
                        if let Some(p) = pid_with(&token) {
                            break p;
                        }
                        assert!(Instant::now() < end, "{what}: the step never ran");
                        std::thread::sleep(Duration::from_millis(20));
                    };
                    cgroup = cgroup_of(pid);
                    std::thread::sleep(rng.millis(0, 300));
                    kill9(&mut w);
                }
                "rmi" => {
                    // A fresh image whose removal deletes layers (and runs GC).
                    let vctx = env.path(&format!("victim-{round}"));
                    random_context(&mut rng, &vctx, 2, 1 << 20);
                    std::fs::write(vctx.join("Dockerfile"), "FROM busybox\nCOPY data /data\n")
                        .unwrap();
                    env.ok(["build", "-q", "-t", "victim", vctx.to_str().unwrap()]);
                    let mut w = Watched::spawn(env.cmd(["rmi", "victim"]));
                    std::thread::sleep(rng.millis(0, 60));
                    kill9(&mut w);
                }
                _ => {
                    let t = format!("sleep 3{:08}", rng.below(100_000_000));
                    let mut args = vec!["run", "-d", "busybox"];
                    args.extend(t.split(' '));
                    let mut w = Watched::spawn(env.cmd(&args));
                    std::thread::sleep(rng.millis(0, 400));
                    kill9(&mut w);
                    run_token = Some(t);
                }
            }
            kills += 1;
            // The next command works (and reaps what the dead one left).
            env.ok(["images"]);
            if let Some(cg) = &cgroup {
                let left = left_after(Duration::from_secs(10), || cgroup_dirs(cg));
                assert!(
                    left.is_empty(),
                    "{what}: step cgroup left: {left:?}\n{}",
                    cgroup_report(&left)
                );
            }
            let left = left_after(Duration::from_secs(10), || processes_with(&token));
            assert!(left.is_empty(), "{what}: step processes left: {left:?}");
            assert_eq!(container_orphans(&env), Vec::<String>::new(), "{what}");
            if let Some(t) = run_token {
                // A detached container is its supervisor's, not the CLI's:
                // it may run (or be created); it is listed and removable.
                let ids = env.ok(["ps", "-aq"]);
                for id in ids.lines() {
                    env.ok(["rm", "-f", id]);
                }
                let left = left_after(Duration::from_secs(10), || processes_with(&t));
                assert!(
                    left.is_empty(),
                    "{what}: container processes left: {left:?}"
                );
            }
            assert_eq!(
                mounts_under(&env.root),
                Vec::<String>::new(),
                "{what}: mounts"
            );
            assert_eq!(scratch_dirs(&env), Vec::<String>::new(), "{what}: scratch");
            assert_store_checks(&env, &what);
        }
    }
    eprintln!("kill_9_at_random_points: {kills} kills, store fine after each");
    assert!(kills >= 20 || rounds < 4, "{kills} kills");
    // Everything works afterwards.
    env.ok(["pull", &remote]);
    env.ok(["load", "-i", tar.to_str().unwrap()]);
    env.ok([
        "build",
        "-q",
        "-f",
        &format!("{ctx_s}/Copy.Dockerfile"),
        "-t",
        "copied",
        &ctx_s,
    ]);
    env.ok(["run", "--rm", "copied", "ls", "/data/f0000"]);
    assert_store_checks(&env, "the commands after the kills");
}

/// What is in leftover cgroup directories, and which step helpers and
/// registrations exist (for a failure message).
fn cgroup_report(dirs: &[String]) -> String {
    let mut out = String::new();
    for d in dirs {
        let procs = std::fs::read_to_string(format!("{d}/cgroup.procs")).unwrap_or_default();
        out.push_str(&format!(
            "{d}: procs {:?}\n",
            procs.split_whitespace().collect::<Vec<_>>()
        ));
        for p in procs.split_whitespace() {
            let st = std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
            let keep = |l: &&str| {
                l.starts_with("Name:") || l.starts_with("State:") || l.starts_with("PPid:")
            };
            out.push_str(&format!(
                "  {p}: {}\n",
                st.lines().filter(keep).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    out.push_str(&format!(
        "step helpers: {:?}\n",
        processes_with("__shim step")
    ));
    let regs: Vec<String> = std::fs::read_dir("/run/strata/helpers")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.push_str(&format!("registrations: {regs:?}\n"));
    out
}
