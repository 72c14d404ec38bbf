//! The build cache: a no-op rebuild is all CACHED with the same image ID;
//! an edit re-runs the COPY and the steps after it only; a same-size edit
//! with the mtime restored still misses; chmod misses; touch alone hits;
//! `--explain` names the changed file; `.dockerignore`d files never reach
//! the image or the key. See: issue 6.

use std::fs::FileTimes;
use std::os::unix::fs::PermissionsExt;

use crate::build_common::{build_ok, context, image_id, step_states};
use crate::support::Env;

const DF: &str = "FROM base\nENV TARGET=\"blog.sixeyed.com\"\nWORKDIR /web-ping\nCOPY app.js .\nCOPY . /all/\nCMD [\"cat\", \"/web-ping/app.js\"]\n";

fn setup() -> (Env, std::path::PathBuf) {
    let env = Env::new();
    env.busybox("base");
    let dir = context(
        &env,
        "ctx",
        &[
            ("Dockerfile", DF),
            ("app.js", "console.log('one');\n"),
            ("secret.txt", "password\n"),
            ("notes/readme", "hello\n"),
            (".dockerignore", "secret.txt\n"),
        ],
    );
    build_ok(&env, &dir, &["-t", "app"]);
    (env, dir)
}

fn states(progress: &str) -> Vec<String> {
    step_states(progress)
        .into_iter()
        .map(|(n, s)| format!("{s} {n}"))
        .collect()
}

#[test]
fn noop_rebuild_is_all_cached_with_the_same_id() {
    let (env, dir) = setup();
    let id = image_id(&env, "app");
    let p = build_ok(&env, &dir, &["-t", "app"]);
    assert_eq!(
        states(&p),
        [
            "CACHED [1/4] FROM base",
            "CACHED [2/4] WORKDIR /web-ping",
            "CACHED [3/4] COPY app.js .",
            "CACHED [4/4] COPY . /all/",
        ]
    );
    assert_eq!(image_id(&env, "app"), id);
    // --no-cache runs everything again.
    let p = build_ok(&env, &dir, &["--no-cache", "-t", "app"]);
    assert!(
        states(&p).iter().skip(1).all(|s| s.starts_with("DONE")),
        "{p}"
    );
}

#[test]
fn an_edit_reruns_the_copy_and_what_follows_only() {
    let (env, dir) = setup();
    let before = image_id(&env, "app");
    std::fs::write(dir.join("app.js"), "console.log('two');\n").unwrap();
    let p = build_ok(&env, &dir, &["-t", "app", "--explain"]);
    assert_eq!(
        states(&p),
        [
            "CACHED [1/4] FROM base",
            "CACHED [2/4] WORKDIR /web-ping",
            "DONE [3/4] COPY app.js .",
            "DONE [4/4] COPY . /all/",
        ]
    );
    assert!(
        p.contains("MISS    [3/4] COPY app.js .: source files changed: app.js: content changed"),
        "{p}"
    );
    assert!(
        p.contains(" MISS    CMD [\"cat\", \"/web-ping/app.js\"]: an earlier step was rebuilt"),
        "{p}"
    );
    assert!(p.contains(" CACHED  ENV TARGET="), "{p}");
    assert_ne!(image_id(&env, "app"), before);
    assert_eq!(env.ok(["run", "--rm", "app"]), "console.log('two');\n");
}

#[test]
fn same_size_edit_with_restored_mtime_still_misses() {
    let (env, dir) = setup();
    let f = dir.join("app.js");
    let md = std::fs::metadata(&f).unwrap();
    let mtime = md.modified().unwrap();
    // Same length, different bytes, mtime put back to the nanosecond.
    std::fs::write(&f, "console.log('One');\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_times(FileTimes::new().set_modified(mtime).set_accessed(mtime))
        .unwrap();
    assert_eq!(std::fs::metadata(&f).unwrap().len(), md.len());
    let p = build_ok(&env, &dir, &["-t", "app", "--explain"]);
    assert!(
        states(&p).contains(&"DONE [3/4] COPY app.js .".to_string()),
        "{p}"
    );
    assert!(p.contains("app.js: content changed"), "{p}");
}

#[test]
fn chmod_misses_and_touch_hits() {
    let (env, dir) = setup();
    let f = dir.join("app.js");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
    let p = build_ok(&env, &dir, &["-t", "app", "--explain"]);
    assert!(
        states(&p).contains(&"DONE [3/4] COPY app.js .".to_string()),
        "{p}"
    );
    assert!(p.contains("app.js: mode"), "{p}");
    // touch alone (new mtime, same bytes and mode) hits.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_times(FileTimes::new().set_modified(later))
        .unwrap();
    let p = build_ok(&env, &dir, &["-t", "app"]);
    assert!(states(&p).iter().all(|s| s.starts_with("CACHED")), "{p}");
}

#[test]
fn dockerignored_files_never_reach_image_or_key() {
    let (env, dir) = setup();
    let out = env.path("rootfs");
    build_ok(
        &env,
        &dir,
        &[
            "-t",
            "app",
            "--output",
            &format!("type=local,dest={}", out.display()),
        ],
    );
    assert!(out.join("all/app.js").is_file());
    assert!(out.join("all/notes/readme").is_file());
    assert!(!out.join("all/secret.txt").exists(), "ignored file copied");
    // Changing the ignored file changes nothing.
    std::fs::write(dir.join("secret.txt"), "another password, longer\n").unwrap();
    let p = build_ok(&env, &dir, &["-t", "app"]);
    assert!(states(&p).iter().all(|s| s.starts_with("CACHED")), "{p}");
    // Naming it literally is "not found", with the pattern that excluded it.
    let bad = context(
        &env,
        "ctx",
        &[("Dockerfile", "FROM base\nCOPY secret.txt /\n")],
    );
    let err = crate::build_common::build_fails(&env, &bad, &[]);
    assert!(
        err.contains("secret.txt") && err.contains("not found"),
        "{err}"
    );
}

/// Explanations only with `--explain`, and only against the same step of
/// the same Dockerfile and target, never an unrelated build on the same
/// base. See: issue 14.
#[test]
fn explanations_compare_a_step_with_its_own_last_build() {
    let env = Env::new();
    env.busybox("base");
    let a = context(
        &env,
        "a",
        &[
            ("Dockerfile", "FROM base\nCOPY a.txt /\n"),
            ("a.txt", "a\n"),
        ],
    );
    let b = context(
        &env,
        "b",
        &[
            ("Dockerfile", "FROM base\nCOPY b.txt /\n"),
            ("b.txt", "b\n"),
        ],
    );
    // Plain progress without --explain: no cache-miss notes.
    let p = build_ok(&env, &a, &["-t", "a"]);
    assert!(!p.contains("cache miss"), "{p}");
    assert!(!p.contains("Cache explanation"), "{p}");
    // Another Dockerfile on the same base is not "the same step, changed".
    let p = build_ok(&env, &b, &["-t", "b", "--explain"]);
    assert!(
        p.contains("MISS    [2/2] COPY b.txt /: not built before (on base image base)"),
        "{p}"
    );
    assert!(!p.contains("instruction changed"), "{p}");
    // Its own edit is named, against its own last build.
    std::fs::write(b.join("Dockerfile"), "FROM base\nCOPY b.txt /b2.txt\n").unwrap();
    let p = build_ok(&env, &b, &["-t", "b", "--explain"]);
    assert!(
        p.contains("the instruction changed (was `COPY b.txt /`)"),
        "{p}"
    );
    // A step reused from the cache counts as built by this Dockerfile too:
    // `a` reuses b's first version, then changes it.
    std::fs::write(a.join("Dockerfile"), "FROM base\nCOPY b.txt /\n").unwrap();
    std::fs::write(a.join("b.txt"), "b\n").unwrap();
    let p = build_ok(&env, &a, &["-t", "a", "--explain"]);
    assert!(p.contains(" CACHED  [2/2] COPY b.txt /"), "{p}");
    std::fs::write(a.join("b.txt"), "changed\n").unwrap();
    let p = build_ok(&env, &a, &["-t", "a", "--explain"]);
    assert!(
        p.contains("MISS    [2/2] COPY b.txt /: source files changed: b.txt: content changed"),
        "{p}"
    );
}

/// The `N hashed` count of a plain progress's context line.
fn hashed(progress: &str) -> u64 {
    let line = progress
        .lines()
        .find(|l| l.contains("transferring context:"))
        .unwrap_or_else(|| panic!("no context line\n{progress}"));
    let before = line.split(" hashed").next().unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn builder_prune_all_forgets_the_context_stat_index() {
    let (env, dir) = setup();
    // Entries recorded within the racy window of the files' timestamps are
    // hashed again once; after that a rebuild hashes nothing.
    std::thread::sleep(std::time::Duration::from_millis(2200));
    build_ok(&env, &dir, &["-t", "app"]);
    assert_eq!(hashed(&build_ok(&env, &dir, &["-t", "app"])), 0);
    // `builder prune -af` is a cold start, as BuildKit's: every file is
    // hashed again.
    env.ok(["builder", "prune", "-af"]);
    let p = build_ok(&env, &dir, &["-t", "app"]);
    assert!(hashed(&p) >= 3, "{p}");
    assert_eq!(hashed(&build_ok(&env, &dir, &["-t", "app"])), 0);
}
