//! Several strata processes on one root at once.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::support::lifecycle::{
    RemoveContainers, Rng, assert_store_checks, container_orphans, mounts_under, scratch_dirs,
};
use crate::support::registry::unique_repo;
use crate::support::{self, Env, is_root, skip};

#[test]
fn two_loads_at_once_both_succeed() {
    let src = Env::new();
    let id = src.busybox("busybox:latest");
    let tar = src.path("a.tar");
    src.ok(["save", "-o", tar.to_str().unwrap(), "busybox"]);

    let env = Env::new();
    env.ok(["images"]);
    let spawn = || {
        env.cmd(["load", "-i", tar.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn();
    let b = spawn();
    for c in [a, b] {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(env.ok(["images", "-q", "--no-trunc"]).trim(), id);
    // Exactly one snapshot for the one layer.
    let snaps = env
        .store_files()
        .iter()
        .filter(|(p, _)| {
            p.matches('/').count() == 2 && p.starts_with("snapshots/") && p.ends_with("/")
        })
        .count();
    assert_eq!(snaps, 1, "{:?}", env.store_files());
}

/// docker's documented conflicts: a failure with one of these is the
/// error docker gives in the same race, not a strata failure.
const DOCKER_CONFLICTS: [&str; 5] = [
    "image is being used by running container",
    "image is being used by stopped container",
    "unable to remove repository reference",
    "is already in use by container",
    "is already in progress",
];

/// What the soak saw.
#[derive(Default)]
struct Tally {
    ops: usize,
    conflicts: BTreeMap<String, usize>,
    failures: BTreeMap<String, Vec<String>>,
}

/// 8 processes looping pull / tag / build / run --rm / rmi / container
/// prune / builder prune / image prune on one root: nothing fails but
/// docker's documented conflicts, nothing is orphaned, the store checks
/// clean. 3 rounds per worker here; `STRATA_SOAK_SECS` makes it a timed
/// soak (scripts/soak.sh runs 60 s). Seeded. See: issues 11 and 18.
#[test]
fn eight_processes_loop_on_one_root() {
    if !is_root() {
        return skip("builds and containers need root");
    }
    let Some(reg) = support::registry() else {
        return skip("no test registry (STRATA_TEST_REGISTRY; scripts/test.sh starts one)");
    };
    let mut rng = Rng::from_env("eight_processes_loop_on_one_root");
    let secs: Option<u64> = std::env::var("STRATA_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok());
    let src = Env::new();
    src.busybox("busybox");
    let base = format!("{reg}/{}:latest", unique_repo("soak"));
    src.ok(["tag", "busybox", &base]);
    src.ok(["push", &base]);

    let env = Env::new();
    let _cleanup = RemoveContainers(&env);
    let ctx = env.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "ARG BASE\nFROM $BASE\nARG N\nRUN echo $N > /n\n",
    )
    .unwrap();
    let tally = Mutex::new(Tally::default());
    let started = Instant::now();
    let deadline = secs.map(|s| started + Duration::from_secs(s));
    let seeds: Vec<u64> = (0..8).map(|_| rng.next_u64()).collect();
    std::thread::scope(|s| {
        for (w, seed) in seeds.into_iter().enumerate() {
            let (env, ctx, base, tally) = (&env, &ctx, &base, &tally);
            s.spawn(move || {
                let mut jitter = seed;
                let mut pause = || {
                    jitter ^= jitter << 13;
                    jitter ^= jitter >> 7;
                    jitter ^= jitter << 17;
                    std::thread::sleep(Duration::from_millis(jitter % 40));
                };
                let mut round = 0;
                loop {
                    match deadline {
                        Some(d) if Instant::now() >= d => break,
                        None if round >= 3 => break,
                        _ => {}
                    }
                    let mine = format!("w{w}:r{round}");
                    let n = format!("{w}-{round}");
                    let wbase = format!("w{w}-base");
                    let ops: Vec<(&str, Vec<String>)> = vec![
                        ("pull", vec!["pull".into(), "-q".into(), base.clone()]),
                        ("tag", vec!["tag".into(), base.clone(), wbase.clone()]),
                        (
                            "build",
                            vec![
                                "build".into(),
                                "-q".into(),
                                "-t".into(),
                                mine.clone(),
                                "--build-arg".into(),
                                format!("BASE={wbase}"),
                                "--build-arg".into(),
                                format!("N={n}"),
                                ctx.display().to_string(),
                            ],
                        ),
                        (
                            "run --rm",
                            vec![
                                "run".into(),
                                "--rm".into(),
                                mine.clone(),
                                "cat".into(),
                                "/n".into(),
                            ],
                        ),
                        ("rmi", vec!["rmi".into(), mine.clone()]),
                        (
                            "container prune",
                            vec!["container".into(), "prune".into(), "-f".into()],
                        ),
                        (
                            "builder prune",
                            vec!["builder".into(), "prune".into(), "-f".into()],
                        ),
                        (
                            "image prune",
                            vec!["image".into(), "prune".into(), "-f".into()],
                        ),
                    ];
                    for (op, args) in ops {
                        pause();
                        let out = env.run(&args);
                        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                        let mut t = tally.lock().unwrap();
                        t.ops += 1;
                        let wrong_output = op == "run --rm"
                            && out.status.success()
                            && String::from_utf8_lossy(&out.stdout).trim() != n;
                        if out.status.success() && !wrong_output {
                            continue;
                        }
                        if let Some(c) = DOCKER_CONFLICTS.iter().find(|c| stderr.contains(*c)) {
                            *t.conflicts.entry(format!("{op}: {c}")).or_default() += 1;
                            continue;
                        }
                        let why = if wrong_output {
                            format!("printed {:?}", String::from_utf8_lossy(&out.stdout))
                        } else {
                            stderr.lines().last().unwrap_or("").to_string()
                        };
                        t.failures.entry(op.to_string()).or_default().push(format!(
                            "{} ({}): {why}",
                            args.join(" "),
                            out.status
                        ));
                    }
                    round += 1;
                }
            });
        }
    });
    let took = started.elapsed();
    let t = tally.into_inner().unwrap();
    let failed: usize = t.failures.values().map(Vec::len).sum();
    eprintln!(
        "soak: 8 processes, {} operations in {took:.1?}; {failed} failed; docker conflicts: {:?}",
        t.ops, t.conflicts
    );
    for (op, list) in &t.failures {
        eprintln!("  {op}: {} failure(s), e.g. {}", list.len(), list[0]);
    }
    assert_eq!(failed, 0, "failures: {:#?}", t.failures);
    // Nothing orphaned: one more command sweeps what dead ones left (none
    // died here), and everything it finds must be consistent.
    assert_eq!(env.ok(["ps", "-aq"]), "", "containers left");
    assert_eq!(container_orphans(&env), Vec::<String>::new());
    assert_eq!(scratch_dirs(&env), Vec::<String>::new(), "scratch left");
    assert_eq!(mounts_under(&env.root), Vec::<String>::new(), "mounts left");
    assert_store_checks(&env, "the soak");
}
