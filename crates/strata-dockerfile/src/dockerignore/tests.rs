//! Unit tests of the `.dockerignore` reader and matcher (the upstream
//! vectors run in tests/conformance.rs).

use super::*;

fn m(patterns: &str) -> Matcher {
    Matcher::new(&parse(patterns.as_bytes()).unwrap()).unwrap()
}

#[test]
fn clean_like_go() {
    for (i, o) in [
        ("", "."),
        ("a/b/", "a/b"),
        ("a//b", "a/b"),
        ("./a", "a"),
        ("a/./b", "a/b"),
        ("a/../b", "b"),
        ("../a", "../a"),
        ("a/../../b", "../b"),
        ("/../a", "/a"),
        ("/", "/"),
        ("//a/b/..", "/a"),
        ("..", ".."),
        ("a/..", "."),
    ] {
        assert_eq!(clean(i), o, "{i}");
    }
}

#[test]
fn reader() {
    let f = parse(b"\xEF\xBB\xBF# c\n  /foo/  \r\n! bar/../baz\n\n #not comment\n").unwrap();
    let got: Vec<(&str, usize)> = f
        .patterns
        .iter()
        .map(|p| (p.text.as_str(), p.line))
        .collect();
    assert_eq!(got, [("foo", 2), ("!baz", 3), ("#not comment", 5)]);
    let long = format!("a\n{}\n", "x".repeat(70_000));
    assert_eq!(
        parse(long.as_bytes()).unwrap_err(),
        DockerignoreError::LineTooLong { line: 2 }
    );
}

#[test]
fn last_match_wins_and_parents() {
    let m = m("docs\n!docs/README.md\n*.md\n");
    assert!(m.matches("docs/a.txt").unwrap());
    // `*.md` cannot match docs/README.md (`*` stops at `/`), so the
    // exception decides.
    assert!(!m.matches("docs/README.md").unwrap());
    assert!(m.matches("x.md").unwrap());
    let m2 = super::tests::m("docs\n!docs/README.md\n");
    assert!(!m2.matches("docs/README.md").unwrap());
    assert!(!m2.matches("docs/README.md/inner").unwrap());
}

#[test]
fn paths_are_cleaned() {
    let m = m("foo\n");
    assert!(m.matches("./foo/bar").unwrap());
    assert!(m.matches("/foo").unwrap());
    assert!(m.matches("foo//bar/").unwrap());
    assert!(!m.matches(".").unwrap());
    assert!(!m.matches("").unwrap());
}

#[test]
fn explain_names_the_pattern() {
    let m = m("node_modules\n*.log\n!keep.log\n");
    let e = m.explain("node_modules/a/b.js").unwrap();
    assert!(e.excluded);
    let d = e.decided_by.unwrap();
    assert_eq!(
        (d.pattern.as_str(), d.line, d.via_parent.as_deref()),
        ("node_modules", 1, Some("node_modules"))
    );
    let e = m.explain("keep.log").unwrap();
    assert!(!e.excluded);
    let d = e.decided_by.unwrap();
    assert_eq!(
        (d.pattern.as_str(), d.line, d.exclusion, d.via_parent),
        ("!keep.log", 3, true, None)
    );
    assert_eq!(
        m.explain("src/main.rs").unwrap(),
        Explanation {
            excluded: false,
            decided_by: None
        }
    );
}

#[test]
fn directory_pruning() {
    let m = m("vendor\nbuild\n!build/keep\ncache/**\n!**/important\n");
    assert_eq!(m.match_dir("src").unwrap(), DirMatch::Included);
    // `!**/important` could match anywhere, so nothing excluded is prunable.
    assert_eq!(
        m.match_dir("vendor").unwrap(),
        DirMatch::Excluded { can_skip: false }
    );
    let m = super::tests::m("vendor\nbuild\n!build/keep\n!other/*/x\n");
    assert_eq!(
        m.match_dir("vendor").unwrap(),
        DirMatch::Excluded { can_skip: true }
    );
    assert_eq!(
        m.match_dir("build").unwrap(),
        DirMatch::Excluded { can_skip: false }
    );
    assert!(!m.matches("build/keep").unwrap());
    assert!(m.matches("build/other").unwrap());
}

#[test]
fn errors_name_the_line() {
    let e = Matcher::new(&parse(b"ok\n[\n").unwrap()).unwrap_err();
    assert_eq!(
        e.to_string(),
        ".dockerignore:2: syntax error in pattern \"[\""
    );
    let e = Matcher::new(&parse(b"!\n").unwrap()).unwrap_err();
    assert_eq!(e, DockerignoreError::IllegalExclusion { line: 1 });
    // A regexp-only error surfaces when the pattern is evaluated.
    let m = m("a\n[z-a]\n");
    assert!(m.matches("b").is_err());
    assert!(m.matches("a").unwrap());
}

#[test]
fn from_patterns_api() {
    let m = Matcher::from_patterns(["*.tmp", "!a.tmp"]).unwrap();
    assert!(m.has_exclusions());
    assert_eq!(m.patterns().len(), 2);
    assert!(m.matches("b.tmp").unwrap());
    assert!(!m.matches("a.tmp").unwrap());
}

/// A leading BOM: patternmatcher's regexp skips it (Go's text/scanner),
/// its exact and prefix matches keep it. See: issue 14.
#[test]
fn leading_bom_of_a_pattern() {
    let m = Matcher::from_patterns(["\u{FEFF}*.log", "\u{FEFF}secret", "\u{FEFF}dir/**"]).unwrap();
    assert!(m.matches("x.log").unwrap());
    assert!(!m.matches("secret").unwrap());
    assert!(m.matches("\u{FEFF}secret").unwrap());
    assert!(m.matches("\u{FEFF}dir/x").unwrap());
    assert!(!m.matches("dir/x").unwrap());
}

/// POSIX classes work inside brackets, as Go's regexp reads them.
#[test]
fn posix_classes() {
    let m = Matcher::from_patterns(["[[:alpha:]]*", "![[:upper:]]*"]).unwrap();
    assert!(m.matches("abc").unwrap());
    assert!(!m.matches("Abc").unwrap());
    assert!(!m.matches("1abc").unwrap());
    let bad = Matcher::from_patterns(["[[:nope:]]"]).unwrap();
    assert!(bad.matches("x").is_err());
}
