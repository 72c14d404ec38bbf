//! Fuzzing: entry points for this crate's documents and the seeded,
//! time- or count-bounded driver every crate's stable fuzz run uses.
//!
//! * [`manifest`] and [`reference`] take arbitrary bytes, drive one parser
//!   through its public paths and check invariants; any panic is a bug.
//!   The `cargo fuzz` targets in `fuzz/` call them, and
//!   `tests/fuzz_regressions.rs` replays the inputs kept under
//!   `tests/fuzz-regressions/<target>/`.
//! * [`drive`] runs an entry point on inputs mutated from a seed corpus
//!   (byte flips, splices, dictionary tokens, interesting integers) and,
//!   when given, on inputs a structure-aware generator makes. It needs no
//!   nightly toolchain: CI runs it briefly, `scripts/fuzz.sh` for minutes.
//!   A panicking input is written to `$STRATA_FUZZ_ARTIFACTS` (default
//!   `target/fuzz-artifacts/<target>/`) and the panic re-raised, naming the
//!   file, the seed and the iteration.
//!
//! ```text
//! STRATA_FUZZ_SEED=<u64>   seed (default: fixed, so CI is reproducible)
//! STRATA_FUZZ_ITERS=<n>    inputs per target (default 300)
//! STRATA_FUZZ_SECS=<s>     run for this long instead of a count
//! ```

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::config::ImageConfig;
use crate::manifest::{self, DockerArchiveImage, DockerRepositories, DocumentKind};
use crate::reference::Reference;

/// Manifest, index, image config and docker-archive `manifest.json`
/// parsing, with platform selection and descriptor checks. Byte 0 picks the
/// declared media type handed to `classify`.
pub fn manifest(data: &[u8]) {
    let Some((&sel, doc)) = data.split_first() else {
        return;
    };
    let declared = match sel % 4 {
        0 => None,
        1 => Some(crate::media::OCI_MANIFEST),
        2 => Some(crate::media::OCI_INDEX),
        _ => Some("text/html"),
    };
    let _ = manifest::check_sizes(doc, 16 << 20);
    if let Ok((kind, mt)) = manifest::classify(doc, declared) {
        assert!(!mt.is_empty());
        match kind {
            DocumentKind::Manifest => {
                if let Ok(m) = manifest::parse_manifest(doc) {
                    let _ = manifest::descriptor_digest(m.config());
                    for l in m.layers() {
                        let _ = manifest::descriptor_digest(l);
                    }
                }
            }
            DocumentKind::Index => {
                if let Ok(ix) = manifest::parse_index(doc) {
                    for d in ix.manifests() {
                        let _ = manifest::platform_string(d);
                        let _ = manifest::descriptor_digest(d);
                    }
                    let _ = manifest::select_platform(&ix, "linux", "amd64", None);
                    let _ = manifest::select_platform(&ix, "linux", "arm", Some("v7"));
                }
            }
        }
    }
    if let Ok(cfg) = ImageConfig::from_slice(doc) {
        let _ = cfg.chain_ids();
        let _ = cfg.env_pairs();
        if let Some(cc) = &cfg.config {
            let _ = cc.to_docker_api("h");
        }
        // What strata writes, it reads back unchanged.
        let bytes = cfg.to_vec();
        let again = ImageConfig::from_slice(&bytes).expect("re-parse a serialised config");
        assert_eq!(again.to_vec(), bytes, "config serialisation is not stable");
    }
    let _ = serde_json::from_slice::<Vec<DockerArchiveImage>>(doc);
    let _ = serde_json::from_slice::<DockerRepositories>(doc);
}

/// Reference parsing and normalisation: a reference that parses prints a
/// string that parses back to itself, and so does its familiar form.
pub fn reference(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for s in [&*text, text.trim()] {
        let _ = Reference::parse_name_only(s);
        let Ok(r) = Reference::parse(s) else {
            continue;
        };
        let printed = r.to_string();
        let back = Reference::parse(&printed)
            .unwrap_or_else(|e| panic!("{s:?} printed as {printed:?}, which does not parse: {e}"));
        assert_eq!(back, r, "{s:?} -> {printed:?}");
        let fam = r.familiar();
        // As in docker, the familiar form of a Docker Hub repository whose
        // first component looks like a host (`docker.io/a.b/c`) is `a.b/c`,
        // which names another registry (or nothing valid at all): display
        // only, not a round trip.
        let hostlike = r.domain() == crate::reference::DEFAULT_DOMAIN
            && r.path().split('/').next().is_some_and(|c| {
                c.contains(['.', ':'])
                    || c == "localhost"
                    || c.chars().any(|c| c.is_ascii_uppercase())
            });
        if !hostlike {
            let back = Reference::parse(&fam)
                .unwrap_or_else(|e| panic!("familiar form {fam:?} of {s:?} does not parse: {e}"));
            assert_eq!(back, r, "familiar {fam:?}");
        }
        let _ = r.familiar_repository();
        let _ = r.repository();
        let _ = r.name_only();
        let _ = r.with_tag("v1");
        let _ = r
            .with_digest("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}

/// A small, fast, seedable PRNG (splitmix64): the driver must not depend on
/// a crate CI would have to build, and its runs must replay from a seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability 1/`n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// One element of a non-empty slice.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Integers that break parsers: limits, signs, powers of two.
const INTERESTING: &[&str] = &[
    "0",
    "-1",
    "1",
    "127",
    "255",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "1e308",
    "1e309",
    "-0",
    "0.5",
    "NaN",
];

/// Mutates `input`: a few random edits (flip, insert, delete, duplicate a
/// span, splice from `other`, insert a dictionary token or an interesting
/// integer).
pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8], dict: &[&[u8]]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = rng.next_u64() as u8;
            }
            2 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                out.splice(i..i, bytes);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                out.drain(i..i + n);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(256));
                let span = out[i..i + n].to_vec();
                let at = rng.below(len + 1);
                out.splice(at..at, span);
            }
            5 if !other.is_empty() => {
                let i = rng.below(other.len());
                let n = 1 + rng.below((other.len() - i).min(512));
                let at = rng.below(len + 1);
                let end = (at + rng.below(64)).min(len);
                out.splice(at..end, other[i..i + n].iter().copied());
            }
            6 if !dict.is_empty() => {
                let tok = rng.pick(dict);
                let at = rng.below(len + 1);
                out.splice(at..at, tok.iter().copied());
            }
            _ => {
                // Replace a run of digits (or any spot) by an interesting number.
                let tok = rng.pick(INTERESTING).as_bytes();
                let at = rng.below(len + 1);
                let mut end = at;
                while end < len && (out[end].is_ascii_digit() || out[end] == b'-') {
                    end += 1;
                }
                out.splice(at..end, tok.iter().copied());
            }
        }
    }
    out.truncate(1 << 20);
    out
}

/// How long [`drive`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriveOptions {
    /// The seed.
    pub seed: u64,
    /// Inputs to try (ignored when `time` is set).
    pub iterations: u64,
    /// Run for this long instead.
    pub time: Option<Duration>,
}

impl DriveOptions {
    /// From `STRATA_FUZZ_SEED`, `STRATA_FUZZ_ITERS`, `STRATA_FUZZ_SECS`.
    pub fn from_env() -> DriveOptions {
        let num = |k: &str| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        DriveOptions {
            seed: num("STRATA_FUZZ_SEED").unwrap_or(0x5eed_f00d),
            iterations: num("STRATA_FUZZ_ITERS").unwrap_or(300),
            time: num("STRATA_FUZZ_SECS").map(Duration::from_secs),
        }
    }
}

/// What a [`drive`] run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriveReport {
    /// Inputs run.
    pub runs: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// A structure-aware input generator.
pub type Generator<'a> = &'a dyn Fn(&mut Rng) -> Vec<u8>;

/// Runs `entry` on mutated corpus inputs and generated ones; see the
/// module docs. Panics (after saving the input) when `entry` panics.
pub fn drive(
    target: &str,
    corpus: &[Vec<u8>],
    dict: &[&[u8]],
    generate: Option<Generator<'_>>,
    entry: fn(&[u8]),
    opts: DriveOptions,
) -> DriveReport {
    let mut rng = Rng::new(opts.seed ^ fnv(target.as_bytes()));
    let start = Instant::now();
    let mut runs = 0u64;
    let empty = Vec::new();
    let mut pool: Vec<Vec<u8>> = corpus.to_vec();
    loop {
        let more = match opts.time {
            Some(t) => start.elapsed() < t,
            None => runs < opts.iterations,
        };
        if !more {
            break;
        }
        let input = if let (Some(g), true) = (generate, pool.is_empty() || rng.one_in(3)) {
            let base = g(&mut rng);
            if rng.one_in(2) {
                base
            } else {
                mutate(&mut rng, &base, &empty, dict)
            }
        } else if pool.is_empty() {
            mutate(&mut rng, &empty, &empty, dict)
        } else {
            let a = rng.below(pool.len());
            let b = rng.below(pool.len());
            mutate(&mut rng, &pool[a], &pool[b], dict)
        };
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| entry(&input))) {
            let path = save_artifact(target, &input);
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!(
                "fuzz target {target} panicked on input #{runs} (seed {}): {msg}; input saved to {}",
                opts.seed,
                path.display()
            );
        }
        // Keep a few inputs to mutate further: a crude stand-in for
        // coverage feedback that still lets edits stack up.
        if pool.len() < 256 && rng.one_in(16) {
            pool.push(input);
        } else if !pool.is_empty() && rng.one_in(64) {
            let i = rng.below(pool.len());
            pool[i] = input;
        }
        runs += 1;
    }
    DriveReport {
        runs,
        elapsed: start.elapsed(),
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn save_artifact(target: &str, input: &[u8]) -> PathBuf {
    let dir = std::env::var_os("STRATA_FUZZ_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("strata-fuzz-artifacts"))
        .join(target);
    let path = dir.join(format!("crash-{:016x}", fnv(input)));
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(&path, input);
    path
}

/// Structure-aware manifests, indexes and configs: valid skeletons with
/// hostile values (negative and huge sizes, odd digests, deep nesting).
pub fn gen_manifest(rng: &mut Rng) -> Vec<u8> {
    let digest = |rng: &mut Rng| -> String {
        match rng.below(6) {
            0 => "sha256:abc".into(),
            1 => format!("sha512:{:0128x}", 0),
            2 => "".into(),
            3 => "sha256:../../etc/passwd".into(),
            _ => format!(
                "sha256:{:016x}{:016x}{:016x}{:016x}",
                rng.next_u64(),
                1,
                2,
                3
            ),
        }
    };
    let size = |rng: &mut Rng| -> String { rng.pick(INTERESTING).to_string() };
    let mt = |rng: &mut Rng| -> &'static str {
        rng.pick(&[
            crate::media::OCI_MANIFEST,
            crate::media::OCI_INDEX,
            crate::media::DOCKER_MANIFEST,
            crate::media::DOCKER_MANIFEST_LIST,
            crate::media::OCI_CONFIG,
            "application/vnd.oci.image.layer.v1.tar+gzip",
            "text/html",
            "",
        ])
    };
    let desc = |rng: &mut Rng| -> String {
        let mut s = format!(
            r#"{{"mediaType":"{}","digest":"{}","size":{}"#,
            mt(rng),
            digest(rng),
            size(rng)
        );
        if rng.one_in(2) {
            s.push_str(&format!(
                r#","platform":{{"os":"{}","architecture":"{}","variant":"{}"}}"#,
                rng.pick(&["linux", "", "windows"]),
                rng.pick(&["amd64", "arm", "arm64", ""]),
                rng.pick(&["v7", "", "v8"])
            ));
        }
        if rng.one_in(3) {
            s.push_str(r#","annotations":{"a":"b","org.opencontainers.image.ref.name":"x"}"#);
        }
        s.push('}');
        s
    };
    let list = |rng: &mut Rng, n: usize| -> String {
        (0..n).map(|_| desc(rng)).collect::<Vec<_>>().join(",")
    };
    let n = rng.below(5);
    match rng.below(4) {
        0 => format!(
            r#"{{"schemaVersion":{},"mediaType":"{}","config":{},"layers":[{}]}}"#,
            rng.pick(&["2", "1", "-1", "3"]),
            mt(rng),
            desc(rng),
            list(rng, n)
        ),
        1 => format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{}]}}"#,
            mt(rng),
            list(rng, n)
        ),
        2 => {
            let ids: Vec<String> = (0..n).map(|_| format!("\"{}\"", digest(rng))).collect();
            format!(
                r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["A=1","B"],"Cmd":["sh"],"Labels":{{"a":"b"}},"ExposedPorts":{{"80/tcp":{{}}}},"Healthcheck":{{"Test":["CMD","x"],"Interval":{}}}}},"rootfs":{{"type":"layers","diff_ids":[{}]}},"history":[{{"created":"{}","empty_layer":true}}]}}"#,
                size(rng),
                ids.join(","),
                rng.pick(&["2020-01-01T00:00:00Z", "yesterday", ""])
            )
        }
        _ => format!(
            r#"[{{"Config":"{}.json","RepoTags":["{}"],"Layers":["{}/layer.tar"]}}]"#,
            digest(rng),
            rng.pick(&["busybox:latest", "x:y:z", "", "a/b@sha256:1"]),
            digest(rng)
        ),
    }
    .into_bytes()
}

/// Structure-aware references: components of every kind, joined.
pub fn gen_reference(rng: &mut Rng) -> Vec<u8> {
    let parts = [
        "docker.io",
        "index.docker.io",
        "localhost",
        "localhost:5000",
        "127.0.0.1:5000",
        "[::1]:5000",
        "example.com",
        "EXAMPLE.com",
        "library",
        "busybox",
        "a",
        "a-b",
        "a__b",
        "a.b",
        "A",
        "",
        "..",
        "-x",
    ];
    let mut s = String::new();
    for i in 0..1 + rng.below(4) {
        if i > 0 {
            s.push('/');
        }
        s.push_str(rng.pick(&parts));
    }
    if rng.one_in(2) {
        s.push(':');
        s.push_str(rng.pick(&["latest", "v1.0", "_x", "-x", "", "a:b"]));
    }
    if rng.one_in(3) {
        s.push('@');
        s.push_str(rng.pick(&[
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:abc",
            "md5:0123456789abcdef0123456789abcdef",
            "",
        ]));
    }
    if rng.one_in(8) {
        s = s.repeat(1 + rng.below(20));
    }
    s.into_bytes()
}

/// Dictionary tokens for JSON documents.
pub const JSON_DICT: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"true",
    b"\\u0000",
    b"\\ud800",
    b"\"mediaType\":",
    b"\"schemaVersion\":2",
    b"\"size\":",
    b"\"digest\":\"sha256:",
    b"\"manifests\":[",
    b"\"layers\":[",
    b"\"config\":{",
    b"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[",
    b"\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_reproducible() {
        let a: Vec<u64> = (0..4)
            .scan(Rng::new(7), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..4)
            .scan(Rng::new(7), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a[0], a[1]);
    }

    #[test]
    fn drive_runs_the_count_and_reports_panics() {
        let opts = DriveOptions {
            seed: 1,
            iterations: 50,
            time: None,
        };
        let r = drive("t", &[b"{}".to_vec()], JSON_DICT, None, |_| {}, opts);
        assert_eq!(r.runs, 50);
        let caught = catch_unwind(|| {
            drive(
                "always-panics",
                &[],
                &[],
                None,
                |_| panic!("boom"),
                DriveOptions {
                    seed: 2,
                    iterations: 1,
                    time: None,
                },
            )
        });
        let msg = caught
            .unwrap_err()
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(msg.contains("boom") && msg.contains("seed 2"), "{msg}");
    }
}
