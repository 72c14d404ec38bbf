//! Unit tests of the lexer (the upstream vectors run in tests/conformance.rs).

use super::*;

fn env() -> Vec<(String, String)> {
    [
        ("PWD", "/home"),
        ("EMPTY", ""),
        ("PATHS", "/usr/local/bin:/usr/bin"),
        ("F", "a.tar.gz"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn word(s: &str) -> Result<String, ExpandError> {
    Lexer::new('\\').process_word(s, &env())
}

#[test]
fn colonless_defaults() {
    assert_eq!(word("${EMPTY-x}").unwrap(), "");
    assert_eq!(word("${EMPTY:-x}").unwrap(), "x");
    assert_eq!(word("${NOPE-x}").unwrap(), "x");
    assert_eq!(word("${EMPTY+x}").unwrap(), "x");
    assert_eq!(word("${EMPTY:+x}").unwrap(), "");
    assert_eq!(word("${NOPE+x}").unwrap(), "");
}

#[test]
fn required_messages() {
    let e = word("${NOPE?must be set}").unwrap_err();
    assert_eq!(
        e.to_string(),
        "failed to process \"${NOPE?must be set}\": NOPE: must be set"
    );
    let e = word("${EMPTY:?}").unwrap_err();
    assert_eq!(e.kind.to_string(), "EMPTY: is not allowed to be empty");
    assert_eq!(word("${EMPTY?}").unwrap(), "");
}

#[test]
fn pattern_operators() {
    assert_eq!(word("${F%.*}").unwrap(), "a.tar");
    assert_eq!(word("${F%%.*}").unwrap(), "a");
    assert_eq!(word("${F#*.}").unwrap(), "tar.gz");
    assert_eq!(word("${F##*.}").unwrap(), "gz");
    assert_eq!(
        word("${PATHS/bin/sbin}").unwrap(),
        "/usr/local/sbin:/usr/bin"
    );
    assert_eq!(
        word("${PATHS//bin/sbin}").unwrap(),
        "/usr/local/sbin:/usr/sbin"
    );
    assert_eq!(word("${PATHS//\\//|}").unwrap(), "|usr|local|bin:|usr|bin");
    assert_eq!(word("${NOPE/a/b}").unwrap(), "");
    assert_eq!(word("${PWD:#/}").unwrap(), "home");
    assert!(matches!(
        word("${PWD#\\a}").unwrap_err().kind,
        ExpandErrorKind::InvalidPattern { .. }
    ));
    assert_eq!(
        word("${PWD/h").unwrap_err().kind,
        ExpandErrorKind::MissingSlash
    );
    assert_eq!(
        word("${PWD/h/x").unwrap_err().kind,
        ExpandErrorKind::MissingBrace
    );
}

#[test]
fn bad_modifiers() {
    assert_eq!(
        word("${PWD:=x}").unwrap_err().kind,
        ExpandErrorKind::UnsupportedModifier(":=".into())
    );
    assert_eq!(
        word("${PWD.}").unwrap_err().kind,
        ExpandErrorKind::UnsupportedModifier(".".into())
    );
    assert_eq!(word("${").unwrap_err().kind, ExpandErrorKind::MissingBrace);
}

#[test]
fn matches_are_reported() {
    let r = Lexer::new('\\')
        .process_word_with_matches("${PWD}${NOPE:-$EMPTY}'$PWD2'", &env())
        .unwrap();
    assert_eq!(r.result, "/home$PWD2");
    assert_eq!(r.matched.iter().collect::<Vec<_>>(), ["EMPTY", "PWD"]);
    assert_eq!(r.unmatched.iter().collect::<Vec<_>>(), ["NOPE"]);
}

#[test]
fn backtick_escape() {
    let lex = Lexer::new('`');
    assert_eq!(lex.process_word("a`$PWD\\x", &env()).unwrap(), "a$PWD\\x");
    assert_eq!(lex.process_word("\"a`\"b\"", &env()).unwrap(), "a\"b");
}

#[test]
fn skip_unset_and_raw_modes() {
    let mut lex = Lexer::new('\\');
    lex.skip_unset_env = true;
    assert_eq!(
        lex.process_word("$NOPE ${NOPE} ${NOPE:-x} ${NOPE/a/b}", &env())
            .unwrap(),
        "$NOPE ${NOPE} ${NOPE:-x} ${NOPE/a/b}"
    );
    lex.raw_quotes = true;
    assert_eq!(lex.process_word("'a'\"b\"", &env()).unwrap(), "'a'\"b\"");
    let mut lex = Lexer::new('\\');
    lex.skip_process_quotes = true;
    assert_eq!(
        lex.process_word("'$PWD' \"x\"", &env()).unwrap(),
        "'/home' \"x\""
    );
}

#[test]
fn nesting_is_bounded() {
    let deep = "${A:-".repeat(MAX_NESTING + 1) + &"}".repeat(MAX_NESTING + 1);
    assert_eq!(word(&deep).unwrap_err().kind, ExpandErrorKind::TooDeep);
    let ok = "${A:-".repeat(MAX_NESTING) + "x" + &"}".repeat(MAX_NESTING);
    assert_eq!(word(&ok).unwrap(), "x");
}

#[test]
fn words_split_only_unquoted() {
    let lex = Lexer::new('\\');
    let e = vec![("S".to_string(), " a  b ".to_string())];
    assert_eq!(
        lex.process_words("x${S}y", &e).unwrap(),
        ["x", "a", "b", "y"]
    );
    assert_eq!(lex.process_words("x\"${S}\"y", &e).unwrap(), ["x a  b y"]);
    assert_eq!(lex.process_words("\"\"", &e).unwrap(), Vec::<String>::new());
}

#[test]
fn exponential_replacements_are_cut_off() {
    // See: fuzz regression slow-nested-empty-replace-all-*: `${v//}` with
    // an empty pattern inserts the replacement between every character, and
    // nesting multiplies the size at every level.
    let mut word = String::from("x");
    for _ in 0..8 {
        word = format!("${{PATHS///{word}{word}}}");
    }
    let e = Lexer::new('\\').process_word(&word, &env()).unwrap_err();
    assert!(matches!(e.kind, ExpandErrorKind::TooLarge(_)), "{e}");
}
