//! Data-driven conformance tests over `../shared/conformance`, read in place:
//! BuildKit's parser fixtures, its shell-expansion vectors, and the
//! `.dockerignore` vectors computed with moby/patternmatcher. One named test
//! per case. Set `STRATA_CONFORMANCE` to point elsewhere.

use std::fs;
use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use strata_dockerfile::dockerignore::{self, Matcher};
use strata_dockerfile::parser;
use strata_dockerfile::shell::Lexer;

fn root() -> PathBuf {
    strata_testkit::conformance_dir()
}

fn check(ok: bool, msg: impl FnOnce() -> String) -> Result<(), Failed> {
    if ok { Ok(()) } else { Err(msg().into()) }
}

fn dirs(p: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(p)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn parser_trials(root: &Path, trials: &mut Vec<Trial>) {
    let base = root.join("buildkit/parser");
    for case in dirs(&base.join("testfiles")) {
        trials.push(Trial::test(
            format!("parser::positive::{}", name_of(&case)),
            move || {
                let src = fs::read(case.join("Dockerfile"))?;
                let want = fs::read_to_string(case.join("result"))?;
                let ast = parser::parse(&src).map_err(|e| format!("parse failed: {e}"))?;
                let got = ast.dump();
                check(got == want, || {
                    format!("dump differs\n--- got\n{got}--- want\n{want}")
                })
            },
        ));
    }
    for case in dirs(&base.join("testfiles-negative")) {
        trials.push(Trial::test(
            format!("parser::negative::{}", name_of(&case)),
            move || {
                let src = fs::read(case.join("Dockerfile"))?;
                // Negative cases fail either in the parser or when the AST is
                // turned into instructions (e.g. `ENV PATH`).
                match strata_dockerfile::Dockerfile::parse(&src) {
                    Ok(_) => Err("parse unexpectedly succeeded".into()),
                    Err(_) => Ok(()),
                }
            },
        ));
    }
    let line = base.join("testfile-line/Dockerfile");
    trials.push(Trial::test("parser::line_numbers", move || {
        let ast = parser::parse(&fs::read(&line)?).map_err(|e| e.to_string())?;
        check(ast.nodes.len() == 3, || {
            format!("{} instructions", ast.nodes.len())
        })?;
        let first = ast.nodes.first().map(|n| n.range.start);
        let last = ast.nodes.last().map(|n| n.range.end);
        check((first, last) == (Some(5), Some(31)), || {
            format!("root {first:?}-{last:?}")
        })?;
        let got: Vec<(usize, usize)> = ast
            .nodes
            .iter()
            .map(|n| (n.range.start, n.range.end))
            .collect();
        check(got == [(5, 5), (11, 12), (17, 31)], || format!("{got:?}"))
    }));
}

fn env_var_trials(root: &Path, trials: &mut Vec<Trial>) {
    let path = root.join("buildkit/shell/envVarTest");
    let text = fs::read_to_string(&path).expect("envVarTest");
    let env: Vec<(String, String)> = [
        ("PWD", "/home"),
        ("SHELL", "bash"),
        ("KOREAN", "한국어"),
        ("NULL", ""),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (i, raw) in text.lines().enumerate() {
        if raw.starts_with('#') {
            continue;
        }
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        assert_eq!(parts.len(), 3, "bad line {}", i + 1);
        if parts[0] == "W" {
            continue; // Windows-only vectors
        }
        let (input, want) = (parts[1].to_string(), parts[2].to_string());
        let env = env.clone();
        trials.push(Trial::test(
            format!("shell::env_var::line_{:03}", i + 1),
            move || {
                let got = Lexer::new('\\').process_word(&input, &env);
                match (got, want.as_str()) {
                    (Err(_), "error") => Ok(()),
                    (Ok(g), w) if g == w => Ok(()),
                    (got, _) => Err(format!("{input:?}: got {got:?}, want {want:?}").into()),
                }
            },
        ));
    }
}

fn words_trials(root: &Path, trials: &mut Vec<Trial>) {
    let text = fs::read_to_string(root.join("buildkit/shell/wordsTest")).expect("wordsTest");
    let mut env: Vec<(String, String)> = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("ENV ") {
            let (k, v) = rest
                .trim_start_matches(' ')
                .split_once('=')
                .expect("ENV k=v");
            env.push((k.to_string(), v.to_string()));
            continue;
        }
        let (input, want) = line.split_once('|').expect("vector");
        let input = input.trim().to_string();
        let want: Vec<String> = want
            .trim_start_matches(' ')
            .split(',')
            .map(String::from)
            .collect();
        let env = env.clone();
        trials.push(Trial::test(
            format!("shell::words::line_{:03}", i + 1),
            move || {
                let got = match Lexer::new('\\').process_words(&input, &env) {
                    Ok(w) => w,
                    Err(_) => vec!["error".to_string()],
                };
                check(got == want, || {
                    format!("{input:?}: got {got:?}, want {want:?}")
                })
            },
        ));
    }
}

fn dockerignore_trials(root: &Path, trials: &mut Vec<Trial>) {
    let text = fs::read_to_string(root.join("dockerignore/cases.tsv")).expect("cases.tsv");
    for (i, line) in text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 3, "line {}", i + 1);
        let (patterns, path, want) = (
            strata_testkit::tsv_unescape(cols[0]),
            strata_testkit::tsv_unescape(cols[1]),
            cols[2].to_string(),
        );
        let explain =
            (want != "error").then(|| (patterns.clone(), path.clone(), want == "excluded"));
        trials.push(Trial::test(
            format!("dockerignore::line_{:03}", i + 1),
            move || {
                let got = dockerignore::parse(patterns.as_bytes())
                    .map_err(|e| e.to_string())
                    .and_then(|file| Matcher::new(&file).map_err(|e| e.to_string()))
                    .and_then(|m| m.matches(&path).map_err(|e| e.to_string()));
                let got = match got {
                    Ok(true) => "excluded".to_string(),
                    Ok(false) => "included".to_string(),
                    Err(e) => format!("error ({e})"),
                };
                check(got.split(' ').next() == Some(want.as_str()), || {
                    format!("patterns {patterns:?} path {path:?}: got {got}, want {want}")
                })
            },
        ));
        if let Some((patterns, path, excluded)) = explain {
            let (p2, path2) = (patterns.clone(), path.clone());
            trials.push(Trial::test(
                format!("dockerignore::walk_explain::line_{:03}", i + 1),
                move || explain_case(&patterns, &path, excluded),
            ));
            trials.push(Trial::test(
                format!("dockerignore::includes_all_under::line_{:03}", i + 1),
                move || all_under_case(&p2, &path2, excluded),
            ));
        }
    }
}

/// The context walk (what `build --explain-context` reports) agrees with
/// the vector and names a pattern that is really on the line it gives:
/// an exclusion for an excluded path, an exception (or nothing) for a
/// sent one.
fn explain_case(patterns: &str, path: &str, excluded: bool) -> Result<(), libtest_mimic::Failed> {
    let file = dockerignore::parse(patterns.as_bytes()).map_err(|e| e.to_string())?;
    let m = Matcher::new(&file).map_err(|e| e.to_string())?;
    let e = m.walk_explain(path).map_err(|e| e.to_string())?;
    let ctx = || format!("patterns {patterns:?} path {path:?}: {e:?}");
    check(e.outcome.excluded() == excluded, ctx)?;
    match &e.decided_by {
        None => check(!excluded, ctx),
        Some(d) => {
            let on_line = file
                .patterns
                .iter()
                .any(|p| p.line == d.line && p.text == d.pattern);
            check(on_line && d.exclusion != excluded, ctx)
        }
    }
}

/// A walker that stops testing entries below a directory the matcher
/// says it sends whole (`includes_all_under`) must still send exactly
/// what the vector says: never for an excluded path's ancestors.
fn all_under_case(patterns: &str, path: &str, excluded: bool) -> Result<(), Failed> {
    let file = dockerignore::parse(patterns.as_bytes()).map_err(|e| e.to_string())?;
    let m = Matcher::new(&file).map_err(|e| e.to_string())?;
    for (at, _) in path.match_indices('/') {
        let dir = &path[..at];
        let whole = m.includes_all_under(dir).map_err(|e| e.to_string())?;
        check(!(whole && excluded), || {
            format!("patterns {patterns:?}: {dir:?} said whole, but {path:?} is excluded")
        })?;
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let root = root();
    let mut trials = Vec::new();
    parser_trials(&root, &mut trials);
    env_var_trials(&root, &mut trials);
    words_trials(&root, &mut trials);
    dockerignore_trials(&root, &mut trials);
    libtest_mimic::run(&args, trials).exit();
}
