//! Helpers the `build_*` tests share: writing a build context, building,
//! reading an image's config and history, and the lab's base images
//! (`/tmp/lab/oci/*` when the peer lab is set up; a busybox image made from
//! the host's busybox-static otherwise — node and debian cases skip
//! without the lab).

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{Env, skip, tar_dir};

/// Writes `files` (`path` → contents) under `env`'s scratch dir `name`;
/// returns the directory.
pub fn context(env: &Env, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = env.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (p, body) in files {
        let f = dir.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, body).unwrap();
    }
    dir
}

/// `strata build <args…> <dir>` with plain progress; returns the output.
pub fn build(env: &Env, dir: &Path, args: &[&str]) -> Output {
    let mut a: Vec<String> = vec!["build".into(), "--progress".into(), "plain".into()];
    a.extend(args.iter().map(|s| s.to_string()));
    a.push(dir.display().to_string());
    env.run(a)
}

/// Like [`build`], asserting success; returns stderr (the progress).
pub fn build_ok(env: &Env, dir: &Path, args: &[&str]) -> String {
    let out = build(env, dir, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "build failed ({}):\n{err}\nstdout: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    err
}

/// Like [`build`], asserting failure; returns stderr.
pub fn build_fails(env: &Env, dir: &Path, args: &[&str]) -> String {
    let out = build(env, dir, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "build succeeded unexpectedly:\n{err}"
    );
    assert_eq!(out.status.code(), Some(1), "exit code: {err}");
    err
}

/// `image inspect` of `image`, the first element.
pub fn inspect(env: &Env, image: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&env.ok(["image", "inspect", image])).unwrap();
    v[0].clone()
}

/// The raw image config of `image` (as stored: the blob named by its ID).
pub fn raw_config(env: &Env, image: &str) -> serde_json::Value {
    let id = env.ok(["images", "-q", "--no-trunc", image]);
    let hex = id.trim().trim_start_matches("sha256:").to_string();
    let bytes = std::fs::read(env.root.join("blobs/sha256").join(hex)).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The image ID of `image` (`sha256:…`).
pub fn image_id(env: &Env, image: &str) -> String {
    env.ok(["images", "-q", "--no-trunc", image])
        .trim()
        .to_string()
}

/// Lines of plain progress that mark a step CACHED or DONE:
/// `(name, "CACHED" | "DONE")`, in order.
pub fn step_states(progress: &str) -> Vec<(String, String)> {
    let mut names = std::collections::HashMap::new();
    let mut out = Vec::new();
    for l in progress.lines() {
        let Some(rest) = l.strip_prefix('#') else {
            continue;
        };
        let Some((n, text)) = rest.split_once(' ') else {
            continue;
        };
        if text.starts_with('[') && !names.contains_key(n) {
            names.insert(n.to_string(), text.to_string());
        } else if (text == "CACHED" || text.starts_with("DONE"))
            && let Some(name) = names.get(n)
            && !name.starts_with("[internal]")
        {
            let state = if text == "CACHED" { "CACHED" } else { "DONE" };
            out.push((name.clone(), state.to_string()));
        }
    }
    out
}

/// Makes the lab base `name` (`busybox`, `debian`, `node`) available as
/// `127.0.0.1:5000/<name>:<tag>`. Returns false (after saying why) when it
/// cannot: only busybox has a fallback without the lab.
pub fn lab_base(env: &Env, name: &str) -> bool {
    let tag = if name == "debian" {
        "bookworm"
    } else {
        "latest"
    };
    let reference = format!("127.0.0.1:5000/{name}:{tag}");
    let oci = PathBuf::from("/tmp/lab/oci").join(name);
    if oci.join("index.json").is_file() {
        let tar = env.path(&format!("{name}-oci.tar"));
        tar_dir(&oci, &tar);
        let out = env.ok(["load", "-i", tar.to_str().unwrap()]);
        let id = out
            .lines()
            .find_map(|l| l.strip_prefix("Loaded image ID: "))
            .unwrap_or_else(|| panic!("no image ID in {out:?}"))
            .to_string();
        env.ok(["tag", id.as_str(), reference.as_str()]);
        return true;
    }
    if name == "busybox" {
        env.busybox(&reference);
        return true;
    }
    skip(&format!(
        "lab base image {name} is absent (/tmp/lab/oci/{name}; run ../shared/lab/setup.sh)"
    ));
    false
}

/// A copy of lab case `case` (with `many-files` data generated small) in
/// `env`'s scratch dir, or `None` when the lab cases are absent.
pub fn lab_case(env: &Env, case: &str) -> Option<PathBuf> {
    // The lab lives beside the repository (../shared/lab).
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/lab/cases")
        .join(case);
    if !src.is_dir() {
        skip(&format!("lab case {case} not found (../shared/lab/cases)"));
        return None;
    }
    let dst = env.path(&format!("case-{case}"));
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(&src)
        .arg(&dst)
        .status()
        .unwrap();
    assert!(st.success());
    Some(dst)
}
