//! `build --explain-context PATH…`: for every non-error case of the
//! conformance `.dockerignore` vectors (`../shared/conformance/dockerignore`,
//! read in place; `STRATA_CONFORMANCE` points elsewhere), the command says
//! sent or excluded as the vector does and names the deciding line, whose
//! pattern is really on that line of the file; and on a few hand-made
//! cases, exactly which line and why. See: issue 15.

use std::path::{Path, PathBuf};

use strata_dockerfile::dockerignore;

use crate::build_common::context;
use crate::support::{Env, skip};

/// The conformance folder, found as the other conformance tests find it.
fn conformance() -> Option<PathBuf> {
    Some(strata_testkit::conformance_dir()).filter(|p| p.join("dockerignore/cases.tsv").is_file())
}

/// `(verdict, decided by)` for `path` in context `dir`.
fn explain(env: &Env, dir: &Path, path: &str) -> (String, String) {
    let out = env.ok(["build", dir.to_str().unwrap(), "--explain-context", path]);
    let mut lines = out.lines();
    assert!(lines.next().unwrap().starts_with("PATH "), "{out}");
    let row = lines.next().unwrap_or_else(|| panic!("no row: {out}"));
    let rest = row
        .strip_prefix(path)
        .unwrap_or_else(|| panic!("row does not start with {path:?}: {row:?}"))
        .trim_start();
    let (verdict, why) = rest.split_once(' ').unwrap_or((rest, ""));
    (verdict.to_string(), why.trim_start().to_string())
}

#[test]
fn names_the_deciding_pattern_on_the_conformance_cases() {
    let Some(root) = conformance() else {
        return skip("the conformance data (../shared/conformance) is absent");
    };
    let env = Env::new();
    let tsv = std::fs::read_to_string(root.join("dockerignore/cases.tsv")).unwrap();
    let mut checked = 0;
    for (i, line) in tsv.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (patterns, path, want) = (
            strata_testkit::tsv_unescape(cols[0]),
            strata_testkit::tsv_unescape(cols[1]),
            cols[2],
        );
        if want == "error" {
            continue;
        }
        let dir = env.path(&format!("case-{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(".dockerignore"), &patterns).unwrap();
        let (verdict, why) = explain(&env, &dir, &path);
        let why = why.trim_end_matches(" [no such path in the context]");
        let case = format!("line {}: patterns {patterns:?} path {path:?}", i + 1);
        let want_verdict = if want == "excluded" {
            "excluded"
        } else {
            "sent"
        };
        assert_eq!(verdict, want_verdict, "{case}: {why}");
        if why.starts_with("no pattern matches") {
            assert_eq!(want, "included", "{case}");
        } else {
            // `.dockerignore:LINE: PATTERN[ (…)]`: the pattern read from that line.
            let rest = why
                .strip_prefix(".dockerignore:")
                .unwrap_or_else(|| panic!("{case}: {why}"));
            let (n, pattern) = rest.split_once(": ").unwrap();
            let n: usize = n.parse().unwrap();
            let file = dockerignore::parse(patterns.as_bytes()).unwrap();
            let at = file
                .patterns
                .iter()
                .find(|p| p.line == n)
                .unwrap_or_else(|| panic!("{case}: no pattern on line {n}"));
            assert!(
                pattern == at.text || pattern.starts_with(&format!("{} (", at.text)),
                "{case}: {why} names {pattern:?}, line {n} holds {:?}",
                at.text
            );
            assert_eq!(
                at.text.starts_with('!'),
                want == "included",
                "{case}: {why}"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 294, "every non-error vector was checked");
}

#[test]
fn says_which_line_and_why() {
    let env = Env::new();
    let dir = context(
        &env,
        "ctx",
        &[
            (
                ".dockerignore",
                "# deps\nnode_modules\n*.log\n!keep.log\nsecret\n",
            ),
            ("Dockerfile", "FROM scratch\n"),
            ("app.js", ""),
            ("keep.log", ""),
            ("x.log", ""),
            ("node_modules/m/index.js", ""),
            ("secret/key", ""),
        ],
    );
    let cases = [
        ("app.js", "sent", "no pattern matches"),
        ("keep.log", "sent", ".dockerignore:4: !keep.log"),
        ("x.log", "excluded", ".dockerignore:3: *.log"),
        ("node_modules", "excluded", ".dockerignore:2: node_modules"),
        (
            "node_modules/m/index.js",
            "excluded",
            ".dockerignore:2: node_modules (its parent node_modules is not entered)",
        ),
        (
            "secret/key",
            "excluded",
            ".dockerignore:5: secret (its parent secret is not entered)",
        ),
    ];
    for (path, verdict, why) in cases {
        assert_eq!(
            explain(&env, &dir, path),
            (verdict.into(), why.into()),
            "{path}"
        );
    }
    // A path that is not there is still answered, and says so.
    let (v, why) = explain(&env, &dir, "node_modules/new.js");
    assert_eq!(v, "excluded");
    assert!(why.ends_with("[no such path in the context]"), "{why}");
    // Several paths at once; a per-Dockerfile ignore file wins.
    std::fs::write(dir.join("app.Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::write(dir.join("app.Dockerfile.dockerignore"), "app.js\n").unwrap();
    let out = env.ok([
        "build",
        "-f",
        dir.join("app.Dockerfile").to_str().unwrap(),
        "--explain-context",
        "app.js",
        "x.log",
        "--",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.contains("app.Dockerfile.dockerignore:1: app.js"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("x.log") && l.contains("no pattern")),
        "{out}"
    );
    // Nothing was built.
    assert!(!env.root.join("metadata.db").exists());
}

#[test]
fn a_bad_ignore_file_is_an_error_with_its_line() {
    let env = Env::new();
    let dir = context(&env, "ctx", &[(".dockerignore", "ok\n!\n")]);
    let err = env.fails([
        "build",
        "--explain-context",
        "a",
        "--",
        dir.to_str().unwrap(),
    ]);
    assert!(err.contains(".dockerignore:2"), "{err}");
}
