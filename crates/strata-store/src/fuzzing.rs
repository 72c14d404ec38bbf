//! Entry points shared by the `cargo fuzz` targets (`fuzz/`), the
//! regression test replaying `tests/fuzz-regressions/<target>/` and the
//! stable seeded driver (`strata_oci::fuzzing::drive`), plus
//! structure-aware generators of layer tars and image archives.
//!
//! * [`layer`]: a layer tar (byte 0 picks mode and options) applied into a
//!   fresh target next to a canary directory; symlinks planted in the
//!   target point at the canary. Nothing may appear outside the target.
//! * [`archive`]: `image load` of a docker-archive or OCI-layout tar into
//!   one store per process. A failed load adds no image and leaves no
//!   scratch behind.

use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use strata_oci::fuzzing::Rng;
use strata_oci::{Digest, media};

use crate::Store;
use crate::layer::{self, ApplyMode, ApplyOptions};
use crate::layout::remove_tree;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn fresh_dir(kind: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let base = std::env::var_os("STRATA_FUZZ_TMP")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("strata-fuzz-{kind}-{}-{n}", std::process::id()));
    let _ = remove_tree(&base);
    fs::create_dir_all(&base).expect("create fuzz dir");
    base
}

/// Applies a layer tar; see the module docs. Byte 0: bit 0 merge mode,
/// bit 1 sniff and decompress first, bit 2 pre-populate the target.
pub fn layer(data: &[u8]) {
    let Some((&flags, tar)) = data.split_first() else {
        return;
    };
    let base = fresh_dir("layer");
    let target = base.join("target");
    let outside = base.join("outside");
    fs::create_dir(&target).expect("mkdir target");
    fs::create_dir(&outside).expect("mkdir outside");
    fs::write(outside.join("canary"), b"canary").expect("write canary");
    if flags & 4 != 0 {
        use std::os::unix::fs::symlink;
        let _ = symlink(&outside, target.join("abs"));
        let _ = symlink("../outside", target.join("rel"));
        let _ = symlink("/", target.join("root"));
        let _ = fs::create_dir_all(target.join("d/e"));
        let _ = fs::write(target.join("d/f"), b"x");
        let _ = symlink("../../outside/canary", target.join("d/e/c"));
    }
    let mode = if flags & 1 == 0 {
        ApplyMode::Snapshot
    } else {
        ApplyMode::Merge
    };
    let opts = ApplyOptions::new(mode);
    let res = if flags & 2 != 0 {
        layer::decompress_sniffed(tar).and_then(|(_, r)| layer::apply_layer(r, &target, &opts))
    } else {
        layer::apply_layer(tar, &target, &opts)
    };
    if let Ok(applied) = &res {
        assert!(applied.tar_size as usize <= tar.len() || flags & 2 != 0);
    }
    let mut names: Vec<String> = fs::read_dir(&base)
        .expect("list fuzz dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["outside", "target"], "an entry escaped the target");
    let outside_names: Vec<_> = fs::read_dir(&outside)
        .expect("list outside")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        outside_names.len(),
        1,
        "the layer wrote into the canary dir"
    );
    assert_eq!(
        fs::read(outside.join("canary")).expect("canary"),
        b"canary",
        "the layer overwrote the canary"
    );
    let _ = remove_tree(&base);
}

fn fuzz_store() -> &'static Store {
    static STORE: OnceLock<Store> = OnceLock::new();
    STORE.get_or_init(|| Store::open(fresh_dir("store")).expect("open fuzz store"))
}

/// Loads an archive into a per-process store; see the module docs.
pub fn archive(data: &[u8]) {
    let store = fuzz_store();
    let before = store.list_images().expect("list images").len();
    let res = store.load(data);
    let after = store.list_images().expect("list images").len();
    match res {
        Ok(images) => {
            for img in images {
                store.image(&img.id).expect("a loaded image is readable");
            }
        }
        Err(e) => {
            let _ = e.to_string();
            assert_eq!(before, after, "a failed load added an image");
        }
    }
    let left: Vec<_> = fs::read_dir(store.scratch().dir())
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "load left scratch behind: {left:?}");
}

/// A raw tar writer that spells whatever names it is given (the `tar`
/// crate refuses `..` and absolute paths, which are what we want to send).
#[derive(Default)]
pub struct RawTar(Vec<u8>);

impl RawTar {
    /// Appends one entry (`kind` is the typeflag byte).
    pub fn entry(&mut self, kind: u8, name: &[u8], link: &[u8], mode: u32, body: &[u8]) {
        let mut h = [0u8; 512];
        put(&mut h[0..100], name);
        octal(&mut h[100..108], u64::from(mode));
        octal(&mut h[108..116], 0);
        octal(&mut h[116..124], 0);
        octal(&mut h[124..136], body.len() as u64);
        octal(&mut h[136..148], 0);
        h[156] = kind;
        put(&mut h[157..257], link);
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].fill(b' ');
        let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
        octal(&mut h[148..155], sum);
        self.0.extend_from_slice(&h);
        self.0.extend_from_slice(body);
        let pad = (512 - body.len() % 512) % 512;
        self.0.extend(std::iter::repeat_n(0u8, pad));
    }

    /// A PAX extended header with `records` (key, value).
    pub fn pax(&mut self, records: &[(&str, &[u8])]) {
        let mut body = Vec::new();
        for (k, v) in records {
            let inner = k.len() + v.len() + 3;
            let mut len = inner + inner.to_string().len();
            if (len).to_string().len() != inner.to_string().len() {
                len += 1;
            }
            body.extend_from_slice(format!("{len} {k}=").as_bytes());
            body.extend_from_slice(v);
            body.push(b'\n');
        }
        self.entry(b'x', b"PaxHeader", b"", 0o644, &body);
    }

    /// Ends the archive.
    pub fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&[0u8; 1024]);
        self.0
    }
}

fn put(field: &mut [u8], v: &[u8]) {
    let n = v.len().min(field.len());
    field[..n].copy_from_slice(&v[..n]);
}

fn octal(field: &mut [u8], v: u64) {
    let s = format!("{v:0width$o}", width = field.len() - 1);
    put(field, s.as_bytes());
}

/// Structure-aware layer tars: hostile names (`..`, absolute, long),
/// links out of the root, whiteouts, PAX and GNU records.
pub fn gen_layer(rng: &mut Rng) -> Vec<u8> {
    const NAMES: &[&str] = &[
        "a",
        "a/b",
        "d/",
        "d/f",
        "../x",
        "/abs",
        "a/../../y",
        "./c",
        "abs/z",
        "rel/z",
        "root/etc/z",
        "d/e/c",
        ".wh.a",
        "d/.wh..wh..opq",
        ".wh..wh..opq",
        "d/.wh.f",
        "",
        ".",
        "..",
        "a//b///c",
        "l",
        "l/inside",
    ];
    const LINKS: &[&str] = &["/", "..", "../..", "a", "/etc/passwd", "l", "abs", "d", ""];
    let mut t = RawTar::default();
    for _ in 0..rng.below(8) {
        let name = rng.pick(NAMES).to_string();
        let name = if rng.one_in(10) {
            format!("{}/{name}", "n".repeat(150))
        } else {
            name
        };
        let link = rng.pick(LINKS);
        match rng.below(9) {
            0 => t.entry(b'5', name.as_bytes(), b"", 0o755, b""),
            1 => t.entry(b'2', name.as_bytes(), link.as_bytes(), 0o777, b""),
            2 => t.entry(b'1', name.as_bytes(), link.as_bytes(), 0o644, b""),
            3 => t.entry(b'3', name.as_bytes(), b"", 0o644, b""),
            4 => t.entry(b'6', name.as_bytes(), b"", 0o644, b""),
            5 => {
                let long = format!("{}/{name}", "p".repeat(120));
                t.pax(&[("path", long.as_bytes()), ("SCHILY.xattr.user.x", b"v\n1")]);
                t.entry(b'0', b"placeholder", b"", 0o644, b"data");
            }
            6 => {
                t.entry(b'L', b"././@LongLink", b"", 0o644, name.as_bytes());
                t.entry(b'0', b"short", b"", 0o4755, b"x");
            }
            7 => t.pax(&[(
                rng.pick(&["size", "uid", "mtime", "linkpath", "path"]),
                rng.pick(&[&b"-1"[..], b"99999999999999999999", b"", b"../../z"]),
            )]),
            _ => {
                let body = vec![b'x'; rng.below(700)];
                t.entry(b'0', name.as_bytes(), b"", 0o644, &body);
            }
        }
    }
    let mut out = vec![rng.below(8) as u8];
    out.extend(t.finish());
    out
}

/// Structure-aware archives: docker-archive (`manifest.json`) or OCI
/// layout (`index.json`) around a generated layer, with random damage.
pub fn gen_archive(rng: &mut Rng) -> Vec<u8> {
    let mut layer_tar = gen_layer(rng);
    layer_tar.remove(0);
    let diff_id = Digest::of(&layer_tar);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        if rng.one_in(4) {
            Digest::of(b"other").to_string()
        } else {
            diff_id.to_string()
        }
    );
    let config_digest = Digest::of(config.as_bytes());
    let mut t = RawTar::default();
    if rng.one_in(2) {
        let layer_path = format!("{}/layer.tar", diff_id.hex());
        let cfg_path = format!("{}.json", config_digest.hex());
        let manifest = format!(
            r#"[{{"Config":"{}","RepoTags":["{}"],"Layers":["{}"]}}]"#,
            rng.pick(&[cfg_path.as_str(), "../etc/passwd", "missing.json"]),
            rng.pick(&["fuzz:latest", "Bad Tag", "x:y:z"]),
            rng.pick(&[layer_path.as_str(), "/abs/layer.tar", "link"]),
        );
        t.entry(b'5', diff_id.hex().as_bytes(), b"", 0o755, b"");
        t.entry(b'0', layer_path.as_bytes(), b"", 0o644, &layer_tar);
        if rng.one_in(3) {
            t.entry(b'2', b"link", layer_path.as_bytes(), 0o777, b"");
        }
        t.entry(b'0', cfg_path.as_bytes(), b"", 0o644, config.as_bytes());
        t.entry(b'0', b"manifest.json", b"", 0o644, manifest.as_bytes());
    } else {
        let layer_digest = Digest::of(&layer_tar);
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{}","size":{}}},"layers":[{{"mediaType":"{}","digest":"{}","size":{}}}]}}"#,
            media::OCI_MANIFEST,
            media::OCI_CONFIG,
            config_digest,
            rng.pick(&[config.len() as i64, -1, 1 << 40]),
            media::OCI_LAYER_TAR,
            layer_digest,
            layer_tar.len()
        );
        let manifest_digest = Digest::of(manifest.as_bytes());
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","digest":"{}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"{}"}}}}]}}"#,
            media::OCI_MANIFEST,
            manifest_digest,
            manifest.len(),
            rng.pick(&["latest", "x:y", ""])
        );
        t.entry(
            b'0',
            b"oci-layout",
            b"",
            0o644,
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        );
        t.entry(b'0', b"index.json", b"", 0o644, index.as_bytes());
        for (d, body) in [
            (&layer_digest, &layer_tar[..]),
            (&config_digest, config.as_bytes()),
            (&manifest_digest, manifest.as_bytes()),
        ] {
            let path = format!("blobs/sha256/{}", d.hex());
            t.entry(b'0', path.as_bytes(), b"", 0o644, body);
        }
    }
    t.finish()
}
