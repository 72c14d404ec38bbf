//! Entry points shared by the `cargo fuzz` targets (`fuzz/`) and the
//! regression test that replays `tests/fuzz-regressions/`. Each takes
//! arbitrary bytes, drives one layer through all of its public paths and
//! checks invariants; any panic is a bug.

use crate::args::{BuildOptions, GlobalArgs};
use crate::dockerignore::{self, DirMatch, Matcher};
use crate::instructions::{Command, Dockerfile};
use crate::parser;
use crate::shell::Lexer;

/// Parser, instructions, expansion and ARG scoping on a Dockerfile.
pub fn parser(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let ast = match parser::parse_str(&text) {
        Ok(ast) => ast,
        Err(e) => {
            let _ = e.snippet(&text, "Dockerfile");
            let _ = e.to_string();
            return;
        }
    };
    let _ = ast.dump();
    for n in &ast.nodes {
        assert!(
            n.range.start >= 1 && n.range.start <= n.range.end,
            "bad range {:?}",
            n.range
        );
    }
    let df = match Dockerfile::from_ast(ast) {
        Ok(df) => df,
        Err(e) => {
            let _ = e.snippet(&text, "Dockerfile");
            return;
        }
    };
    let mut opts = BuildOptions::default();
    opts.build_args.insert("A".into(), "a b".into());
    opts.build_args
        .insert("HTTP_PROXY".into(), "http://proxy".into());
    let Ok(global) = GlobalArgs::new(&df, &opts) else {
        return;
    };
    let mut scopes = Vec::new();
    for stage in &df.stages {
        let _ = global.resolve_from(stage);
        let mut scope = global.stage_scope(stage, [("PATH", "/bin"), ("X", "x y")]);
        for cmd in &stage.commands {
            let _ = cmd.expand(&scope.env().clone());
            match cmd {
                Command::Onbuild(o) => {
                    let _ = o.trigger();
                }
                Command::Run(r) => {
                    let _ = r.script();
                    let _ = scope.run_created_by(&r.argv(scope.shell()));
                }
                Command::Copy(c) => {
                    let _ = c.mode();
                }
                Command::Add(a) => {
                    let _ = a.mode();
                }
                Command::Expose(e) => {
                    let _ = e.port_specs();
                }
                _ => {}
            }
            if let Err(e) = scope.apply(cmd) {
                let _ = e.snippet(&text, "Dockerfile");
            }
        }
        let _ = scope.run_env();
        scopes.push(scope);
    }
    let _ = global.unused_build_args(scopes.iter());
}

/// The shell lexer: byte 0 picks escape character and options, the rest is
/// `word` or `word\0NAME=value\0…`.
pub fn expander(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.split('\0');
    let word = parts.next().unwrap_or_default();
    let mut env: Vec<(String, String)> = vec![
        ("PWD".into(), "/home".into()),
        ("EMPTY".into(), String::new()),
        ("SPACE".into(), " a  b ".into()),
        ("PATHS".into(), "/usr/bin:/bin\n/x".into()),
    ];
    for kv in parts {
        if let Some((k, v)) = kv.split_once('=') {
            env.push((k.to_string(), v.to_string()));
        }
    }
    let mut lex = Lexer::new(if flags & 1 == 0 { '\\' } else { '`' });
    lex.raw_quotes = flags & 2 != 0;
    lex.raw_escapes = flags & 4 != 0;
    lex.skip_process_quotes = flags & 8 != 0;
    lex.skip_unset_env = flags & 16 != 0;
    if let Ok(r) = lex.process_word_with_matches(word, &env) {
        assert!(
            r.matched.is_disjoint(&r.unmatched),
            "a name both set and unset"
        );
        for w in &r.words {
            assert!(!w.is_empty(), "empty word from {word:?}");
        }
    }
    let _ = parser::parse_heredoc(word);
}

/// `.dockerignore`: the bytes before the first NUL are the file, the rest
/// are `\n`-separated paths. Checks that `explain` agrees with `matches`
/// and that a directory reported prunable has no re-included path below.
pub fn dockerignore(data: &[u8]) {
    let (file, paths) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(ignore) = dockerignore::parse(file) else {
        return;
    };
    let Ok(m) = Matcher::new(&ignore) else {
        return;
    };
    let paths = String::from_utf8_lossy(paths);
    let paths: Vec<&str> = paths.split('\n').collect();
    for p in &paths {
        let Ok(excluded) = m.matches(p) else {
            continue;
        };
        if let Ok(e) = m.explain(p) {
            assert_eq!(e.excluded, excluded, "explain disagrees for {p:?}");
            assert_eq!(
                e.decided_by.as_ref().is_some_and(|d| !d.exclusion),
                excluded
            );
        }
        if let Ok(DirMatch::Excluded { can_skip: true }) = m.match_dir(p) {
            for child in paths
                .iter()
                .filter(|c| !c.starts_with('/') && !c.split('/').any(|s| s == ".."))
            {
                let below = format!("{p}/{child}");
                if let Ok(x) = m.matches(&below) {
                    assert!(x, "{below:?} re-included under prunable {p:?}");
                }
            }
        }
        // The context walk's pruning never hides a path the walk sends.
        if let Ok(DirMatch::Excluded { can_skip: true }) = m.match_context_dir(p) {
            for child in paths
                .iter()
                .filter(|c| !c.starts_with('/') && !c.split('/').any(|s| s == ".."))
            {
                let below = format!("{p}/{child}");
                if let Ok(w) = m.walk_match(&below) {
                    assert!(w.excluded(), "{below:?} sent from prunable {p:?}");
                }
            }
        }
    }
}
