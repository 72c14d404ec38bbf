//! `.dockerignore` as a real build applies it: the same context built by
//! docker 20.10 (BuildKit) and by strata copies the same files. Three
//! families: bracket expressions (Go's regexp reads `[[:alpha:]]`, not
//! `filepath.Match`), directories re-included by `!` under an excluded
//! parent, and byte-order marks. Where docker 20.10's BuildKit (v0.8, an
//! older fsutil and fileutils) and current BuildKit disagree, strata
//! follows current BuildKit: those cases pin both answers and name the
//! source. See: issue 14.

use std::path::{Path, PathBuf};

use crate::build_common::build;
use crate::support::docker::Docker;
use crate::support::{Env, tree_listing};

/// The files of every case's context.
const FILES: &[&str] = &[
    "abc",
    "1abc",
    "Abc",
    "b]",
    "[x",
    ":x",
    "x.log",
    "_u",
    ".hid",
    "9]",
    "a/x",
    "a/b/y",
    "a/b/c/z",
    "a/bb/w",
    "foo/bar/x",
    "foo/y",
    "keep/node_modules/m",
    "top/node_modules/n",
    "docs/x.go",
    "docs/x.md",
    "secret",
    "other",
    "\u{FEFF}bomfile",
];

/// Writes a context with [`FILES`], `ignore` as `.dockerignore` and a
/// Dockerfile that copies everything.
fn context(env: &Env, name: &str, ignore: &[u8]) -> PathBuf {
    let dir = env.path(name);
    for f in FILES {
        let p = dir.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, format!("{f}\n")).unwrap();
    }
    std::fs::write(dir.join("Dockerfile"), "FROM scratch\nCOPY . /\n").unwrap();
    std::fs::write(dir.join(".dockerignore"), ignore).unwrap();
    dir
}

/// Paths (with kind, mode and owner) under `dir`.
fn files(dir: &Path) -> Vec<String> {
    tree_listing(dir)
}

/// strata's copy of the context (`None` when the build fails).
fn strata_copy(env: &Env, dir: &Path, name: &str) -> Option<Vec<String>> {
    let dest = env.path(&format!("{name}-strata"));
    let out = build(
        env,
        dir,
        &["--output", &format!("type=local,dest={}", dest.display())],
    );
    out.status.success().then(|| files(&dest))
}

/// docker's copy of the context (`None` when the build fails).
fn docker_copy(env: &Env, d: &Docker, dir: &Path, name: &str) -> Option<Vec<String>> {
    let dest = env.path(&format!("{name}-docker"));
    d.build_to_dir(dir, &dest).ok().map(|_| files(&dest))
}

/// Only the paths of a listing.
fn paths(list: &[String]) -> Vec<&str> {
    list.iter()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect()
}

/// Cases where docker 20.10 and current BuildKit agree: strata copies
/// what docker copies (or fails where it fails). `expect` checks strata
/// alone (it runs without docker too): a path that must be there (`+p`)
/// or absent (`-p`).
fn agree(cases: &[(&str, &[u8], &[&str])]) {
    let env = Env::new();
    let d = Docker::new();
    for (name, ignore, expect) in cases {
        let dir = context(&env, name, ignore);
        let ours = strata_copy(&env, &dir, name);
        if let Some(list) = &ours {
            let p = paths(list);
            for e in *expect {
                let (want, path) = e.split_at(1);
                assert_eq!(p.contains(&path), want == "+", "{name}: {e} in {p:#?}");
            }
        } else {
            assert!(expect.is_empty(), "{name}: strata's build failed");
        }
        if let Some(d) = &d {
            assert_eq!(ours, docker_copy(&env, d, &dir, name), "{name}");
        }
    }
}

#[test]
fn bracket_expressions_as_a_real_build() {
    agree(&[
        // Go's regexp, not filepath.Match: a POSIX class is a letter.
        (
            "alpha",
            b"[[:alpha:]]*\n",
            &["-abc", "-Abc", "-a/x", "+1abc", "+[x", "+:x", "+_u"],
        ),
        ("digit", b"[[:digit:]]*\n!a\n", &["-1abc", "-9]", "+abc"]),
        (
            "not-alpha",
            b"[^[:alpha:]]*\n",
            &["-1abc", "-_u", "-.hid", "+abc"],
        ),
        ("then-bracket", b"[[:alpha:]]]\n", &["-b]", "+9]", "+abc"]),
        (
            "union",
            b"[[:alpha:][:digit:]]*\n",
            &["-abc", "-9]", "+_u", "+:x"],
        ),
        (
            "negated-group",
            b"[[:^alpha:]]*\n",
            &["-1abc", "-_u", "+abc"],
        ),
        ("plain", b"[ab]*\n", &["-abc", "-b]", "+Abc"]),
        // What Go's regexp refuses fails the build when evaluated.
        ("unknown-group", b"[[:foo:]]\n", &[]),
        ("open-class", b"x.log\n[[:alpha:]\n", &[]),
    ]);
}

#[test]
fn directories_reincluded_under_an_excluded_parent() {
    agree(&[
        (
            "dir-then-sub",
            b"a\n!a/b\n",
            &["+a/b/y", "+a/b/c/z", "-a/x", "-a/bb/w"],
        ),
        ("star-then-sub", b"a/*\n!a/b/\n", &["+a/b/y", "-a/x"]),
        (
            "all-but",
            b"*\n!a\n!Dockerfile\n",
            &["+a/b/y", "+Dockerfile", "-abc"],
        ),
        (
            "anywhere",
            b"**/node_modules\n!keep/node_modules\n",
            &["+keep/node_modules/m", "-top/node_modules/n"],
        ),
        ("deep", b"a\n!a/b/c\n", &["+a/b/c/z", "-a/b/y"]),
        ("glob-under", b"a\n!a/b*\n", &["+a/b/y", "+a/bb/w", "-a/x"]),
        ("trailing-star", b"a\n!a/b/*\n", &["+a/b/y", "-a/x"]),
        (
            "sub-of-excluded",
            b"a/b\n!a/b/c/\n",
            &["+a/b/c/z", "-a/b/y"],
        ),
    ]);
}

#[test]
fn byte_order_marks_as_a_real_build() {
    agree(&[
        (
            "first-line",
            b"\xef\xbb\xbfsecret\n",
            &["-secret", "+other"],
        ),
        ("comment", b"\xef\xbb\xbf# c\nsecret\n", &["-secret"]),
        (
            "exception",
            b"\xef\xbb\xbf!keep\n*\n!keep\n",
            &["+keep/node_modules/m", "-abc"],
        ),
        ("blank-line", b"\xef\xbb\xbf\n*.log\n", &["-x.log"]),
        ("then-space", b"\xef\xbb\xbf *.log\n", &["-x.log"]),
        ("crlf", b"\xef\xbb\xbf\r\nsecret\r\n", &["-secret"]),
        (
            "inside",
            b"other\nse\xef\xbb\xbfcret\n",
            &["+secret", "-other"],
        ),
        ("at-end", b"other\nsecret\xef\xbb\xbf\n", &["+secret"]),
        ("after-slash", b"other\na/\xef\xbb\xbfx\n", &["+a/x"]),
        ("before-hash", b"other\n\xef\xbb\xbf#secret\n", &["+secret"]),
        // A pattern read as a regular expression skips one leading BOM
        // (Go's text/scanner), on any line.
        ("glob-line-2", b"other\n\xef\xbb\xbf*.log\n", &["-x.log"]),
        (
            "two-boms-glob",
            b"\xef\xbb\xbf\xef\xbb\xbfa/*\n",
            &["-a/x", "+abc"],
        ),
    ]);
}

/// Where docker 20.10 and current BuildKit disagree, strata copies what
/// current BuildKit copies; docker 20.10's copy is pinned too. Each case:
/// .dockerignore, the paths docker 20.10 copies and strata does not (or
/// the reverse, with `!`), and the source of current BuildKit's answer.
const DIFFERENCES: &[(&str, &[u8], &[&str], &str)] = &[
    (
        "glob-exception-in-excluded-dir",
        b"*\n!*/b\n!Dockerfile\n",
        &["!a", "!a/b", "!a/b/c", "!a/b/c/z", "!a/b/y"],
        "fsutil filter.go filterFS.Walk: an excluded directory is skipped only when every exception is a plain path (onlyPrefixExcludeExceptions); docker 20.10's fsutil skipped it whenever no exception started with it",
    ),
    (
        "glob-exception-anywhere",
        b"*\n!**/*.go\n!Dockerfile\n",
        &["!docs", "!docs/x.go"],
        "fsutil filter.go filterFS.Walk (onlyPrefixExcludeExceptions), as above",
    ),
    (
        "exception-on-the-parent",
        b"foo/*\n!foo\n",
        &["foo/bar", "foo/bar/x", "foo/y"],
        "fsutil filter.go filterFS.Walk tests paths with patternmatcher's MatchesUsingParentResults: `!foo`, skipped at foo, is never tested against it again",
    ),
    (
        "bom-on-a-later-line",
        b"other\n\xef\xbb\xbfsecret\n\xef\xbb\xbfbomfile\n",
        &["!secret", "\u{FEFF}bomfile"],
        "patternmatcher.go Pattern.compile: a plain pattern is an exact match of the text as written (BOM included); docker 20.10's fileutils compiled every pattern to a regexp, whose text/scanner drops a leading BOM",
    ),
];

#[test]
fn documented_differences_from_docker_20_10() {
    let env = Env::new();
    let d = Docker::new();
    for (name, ignore, diff, source) in DIFFERENCES {
        let dir = context(&env, name, ignore);
        let ours = strata_copy(&env, &dir, name).unwrap_or_else(|| panic!("{name}: strata failed"));
        let ours_p = paths(&ours);
        for p in *diff {
            match p.strip_prefix('!') {
                Some(p) => assert!(ours_p.contains(&p), "{name}: strata lacks {p} ({source})"),
                None => assert!(!ours_p.contains(p), "{name}: strata has {p} ({source})"),
            }
        }
        let Some(d) = &d else { continue };
        let theirs =
            docker_copy(&env, d, &dir, name).unwrap_or_else(|| panic!("{name}: docker failed"));
        let mut want: Vec<&str> = ours_p.clone();
        for p in *diff {
            match p.strip_prefix('!') {
                Some(p) => want.retain(|x| x != &p),
                None => want.push(p),
            }
        }
        want.sort_unstable();
        assert_eq!(
            paths(&theirs),
            want,
            "{name}: docker 20.10's copy ({source})"
        );
    }
}
