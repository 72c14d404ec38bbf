//! Front-end benchmark: parse + typed instructions of a generated
//! 10,000-line Dockerfile, and 100,000 paths matched against 50
//! `.dockerignore` patterns. Inputs are generated deterministically; run it
//! in release mode (`bench/frontend.sh`; pass `parse` or `ignore` to run
//! one half).

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use strata_dockerfile::Dockerfile;
use strata_dockerfile::dockerignore::{self, Matcher};

/// A small deterministic generator (64-bit LCG).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A Dockerfile of exactly `lines` physical lines, mixing every common
/// instruction shape: stages, continuations, heredocs, flags, JSON.
fn dockerfile(lines: usize) -> String {
    let mut r = Rng(42);
    let mut out = String::from("# syntax=docker/dockerfile:1\nARG BASE=debian:bookworm\n");
    let mut n = 2;
    let mut stage = 0;
    while n < lines {
        let left = lines - n;
        let (text, used) = match r.below(14) {
            _ if n % 400 == 2 => {
                stage += 1;
                (format!("FROM --platform=$BUILDPLATFORM ${{BASE}} AS stage{stage}\n"), 1)
            }
            0 if left >= 4 => (
                "RUN apt-get update \\\n    && apt-get install -y --no-install-recommends curl ca-certificates \\\n    && rm -rf /var/lib/apt/lists/*\n".to_string(),
                3,
            ),
            1 if left >= 4 => (format!("RUN <<EOF\nset -eux\necho building {n}\nEOF\n"), 4),
            2 => (format!("COPY --chown=app:app --chmod=0644 src/file{n}.txt /app/data/\n"), 1),
            3 => (format!("ENV VAR_{n}=value_{n} OTHER_{n}=\"quoted value\"\n"), 1),
            4 => (format!("ARG OPT_{n}=default\n"), 1),
            5 => (format!("LABEL org.example.n{n}=\"{n}\"\n"), 1),
            6 => (format!("EXPOSE {}/tcp\n", 1000 + n % 5000), 1),
            7 => (format!("WORKDIR /app/dir{}\n", n % 17), 1),
            8 => (format!("RUN --mount=type=cache,target=/root/.cache,id=c{} make -j4 target{n}\n", n % 7), 1),
            9 => ("CMD [\"/app/server\", \"--port\", \"8080\"]\n".to_string(), 1),
            10 => (format!("# comment line {n}\n"), 1),
            11 => ("\n".to_string(), 1),
            12 => (format!("ADD --link https://example.com/archive{n}.tar.gz /opt/\n"), 1),
            _ => ("USER app:app\n".to_string(), 1),
        };
        out.push_str(&text);
        n += used;
    }
    out
}

fn patterns() -> Vec<String> {
    let mut p: Vec<String> = [
        ".git",
        "node_modules",
        "**/*.log",
        "*.tmp",
        "target",
        "build/**",
        "dist",
        "coverage",
        "**/.DS_Store",
        "docs/**/*.md",
        "!docs/README.md",
        "*.swp",
        "**/__pycache__",
        "*.pyc",
        ".env*",
        "!.env.example",
        "vendor/**",
        "tmp/",
        "**/test?data",
        "secret[0-9].key",
        "**/*.bak",
        "!keep/**",
        "logs/*/old",
        ".idea",
        ".vscode",
        "*.o",
        "*.a",
        "out/**/cache",
        "**/fixtures/large*",
        "!src/**",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut i = 0;
    while p.len() < 50 {
        p.push(match i % 4 {
            0 => format!("generated{i}/**"),
            1 => format!("**/*.gen{i}"),
            2 => format!("assets/img{i}[a-f].png"),
            _ => format!("cache{i}"),
        });
        i += 1;
    }
    p
}

fn paths(n: usize) -> Vec<String> {
    const DIRS: &[&str] = &[
        "src",
        "docs",
        "node_modules",
        "build",
        "assets",
        "lib",
        "pkg",
        "internal",
        "cmd",
        "test",
        "vendor",
        "keep",
        "logs",
        "out",
        "api",
        "web",
        "scripts",
        "tmp",
        "fixtures",
    ];
    const FILES: &[&str] = &[
        "main.rs",
        "README.md",
        "index.js",
        "app.log",
        "data.tmp",
        "mod.go",
        "x.pyc",
        "secret1.key",
        "style.css",
        "img3c.png",
        "notes.bak",
        ".DS_Store",
        "large.bin",
    ];
    let mut r = Rng(7);
    (0..n)
        .map(|_| {
            let depth = 1 + r.below(6);
            let mut s = String::new();
            for d in 0..depth {
                let _ = write!(
                    s,
                    "{}{}/",
                    DIRS[r.below(DIRS.len())],
                    if d > 1 {
                        r.below(10).to_string()
                    } else {
                        String::new()
                    }
                );
            }
            s.push_str(FILES[r.below(FILES.len())]);
            s
        })
        .collect()
}

/// CPU time of the calling thread: on a shared machine wall time mostly
/// measures the other tenants.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Best (minimum) wall and CPU time of `runs` runs.
fn best_of<F: FnMut()>(runs: usize, mut f: F) -> (Duration, Duration) {
    let mut wall = Duration::MAX;
    let mut cpu = Duration::MAX;
    for _ in 0..runs {
        let (t, c) = (Instant::now(), thread_cpu());
        f();
        wall = wall.min(t.elapsed());
        cpu = cpu.min(thread_cpu().saturating_sub(c));
    }
    (wall, cpu)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let only = std::env::args().nth(1);
    if only.as_deref() != Some("ignore") {
        bench_parse();
    }
    if only.as_deref() != Some("parse") {
        bench_ignore();
    }
}

fn bench_parse() {
    let src = dockerfile(10_000);
    let physical = src.lines().count();
    let df = Dockerfile::parse(src.as_bytes()).expect("generated Dockerfile parses");
    let commands: usize = df.stages.iter().map(|s| s.commands.len() + 1).sum();
    let parse = best_of(20, || {
        black_box(Dockerfile::parse(black_box(src.as_bytes())).ok());
    });
    println!(
        "parse + typed instructions: {physical} lines, {} stages, {commands} instructions: {:.3} ms CPU, {:.3} ms wall (best of 20)",
        df.stages.len(),
        ms(parse.1),
        ms(parse.0)
    );
}

fn bench_ignore() {
    let pats = patterns();
    let file = dockerignore::parse(pats.join("\n").as_bytes()).expect("patterns read");
    let m = Matcher::new(&file).expect("patterns compile");
    let paths = paths(100_000);
    let mut excluded = 0;
    let matching = best_of(10, || {
        excluded = paths
            .iter()
            .filter(|p| m.matches(p).unwrap_or(false))
            .count();
        black_box(excluded);
    });
    println!(
        ".dockerignore: {} paths x {} patterns: {:.3} ms CPU, {:.3} ms wall (best of 10), {excluded} excluded",
        paths.len(),
        pats.len(),
        ms(matching.1),
        ms(matching.0)
    );
}
