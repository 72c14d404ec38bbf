//! BuildKit's shell-word lexer: variable expansion, quote removal and word
//! splitting for Dockerfile arguments.
//!
//! Supported: `$v`, `${v}`, `${v:-w}`, `${v-w}`, `${v:+w}`, `${v+w}`,
//! `${v:?m}`, `${v?m}`, `${v#p}`, `${v##p}`, `${v%p}`, `${v%%p}`, `${v/p/r}`,
//! `${v//p/r}`; single quotes (fully literal), double quotes (the escape
//! character only escapes `"`, `$` and itself), the escape character outside
//! quotes, positional (`$1`, `$999`) and special (`$@ $* $# $? $- $$ $!`)
//! parameters, which are never set.
//!
//! [`Lexer::process_word`] expands one word (no splitting),
//! [`Lexer::process_words`] also splits at unquoted whitespace, and
//! [`Lexer::process_word_with_matches`] additionally reports which variable
//! names were looked up — the build cache keys a step only on those.
//!
//! ```
//! use strata_dockerfile::shell::Lexer;
//! let env = vec![("NAME".to_string(), "world".to_string())];
//! let lex = Lexer::new('\\');
//! assert_eq!(lex.process_word("hello ${NAME:-x}", &env).unwrap(), "hello world");
//! assert_eq!(lex.process_words("a \"b c\" $NAME", &env).unwrap(), ["a", "b c", "world"]);
//! let r = lex.process_word_with_matches("$NAME$OTHER", &env).unwrap();
//! assert!(r.matched.contains("NAME") && r.unmatched.contains("OTHER"));
//! ```

mod env;
mod pattern;

use std::collections::BTreeSet;

pub use env::{Env, NoEnv};

/// How deeply `${…}` substitutions may nest inside each other.
pub const MAX_NESTING: usize = 64;

/// The largest result one word may expand to (bytes). Nested `${v//p/r}`
/// can otherwise grow exponentially with the input length.
pub const MAX_EXPANSION: usize = 1 << 20;

/// Why a word could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to process {}: {kind}", crate::parser::go_quote(word))]
pub struct ExpandError {
    /// The word that was being processed.
    pub word: String,
    /// What went wrong.
    pub kind: ExpandErrorKind,
}

/// The specific expansion failure (messages are BuildKit's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandErrorKind {
    /// `${` without its closing brace.
    #[error("syntax error: missing '}}'")]
    MissingBrace,
    /// `${}`, `${{x}`, `${:x}`.
    #[error("syntax error: bad substitution")]
    BadSubstitution,
    /// `${v/p` without the second slash.
    #[error("syntax error: missing '/' in ${{}}")]
    MissingSlash,
    /// `${v:=x}`, `${v:x}`, `${v.}`…
    #[error("unsupported modifier ({0}) in substitution")]
    UnsupportedModifier(String),
    /// `${v?msg}` with `v` unset or `${v:?msg}` with `v` unset or empty.
    #[error("{name}: {message}")]
    Required {
        /// The variable.
        name: String,
        /// The user's message or the default one.
        message: String,
    },
    /// An unterminated `'…'`.
    #[error("unexpected end of statement while looking for matching single-quote")]
    UnterminatedSingleQuote,
    /// An unterminated `"…"`.
    #[error("unexpected end of statement while looking for matching double-quote")]
    UnterminatedDoubleQuote,
    /// The input ended before the given stop character.
    #[error("unexpected end of statement while looking for matching {0}")]
    UnexpectedEnd(char),
    /// A `#`, `%` or `/` pattern with a bad escape.
    #[error("invalid pattern ({pattern}) in substitution: {reason}")]
    InvalidPattern {
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// More than [`MAX_NESTING`] nested `${…}`.
    #[error("syntax error: substitutions nested deeper than {MAX_NESTING} levels")]
    TooDeep,
    /// The expansion grew beyond [`MAX_EXPANSION`] bytes, or a pattern
    /// operation would take too long.
    #[error("expansion too large: {0}")]
    TooLarge(&'static str),
}

/// The full result of processing a word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Processed {
    /// The word expanded, quotes removed, not split.
    pub result: String,
    /// The same expansion split into words at unquoted whitespace.
    pub words: Vec<String>,
    /// Variable names that were looked up and set.
    pub matched: BTreeSet<String>,
    /// Variable names that were looked up and unset.
    pub unmatched: BTreeSet<String>,
}

/// The shell-word lexer, configured once and used for many words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lexer {
    escape: char,
    /// Keep quote characters in the output.
    pub raw_quotes: bool,
    /// Keep escape characters in the output.
    pub raw_escapes: bool,
    /// Treat quotes as ordinary characters.
    pub skip_process_quotes: bool,
    /// Leave references to unset variables in place (`$x`, `${x:-y}`).
    pub skip_unset_env: bool,
}

impl Default for Lexer {
    fn default() -> Self {
        Lexer::new('\\')
    }
}

impl Lexer {
    /// A lexer using `escape` (`\` or `` ` ``) as the escape character.
    pub fn new(escape: char) -> Self {
        Lexer {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_process_quotes: false,
            skip_unset_env: false,
        }
    }

    /// The escape character.
    pub fn escape(&self) -> char {
        self.escape
    }

    /// Expand `word` as one word (BuildKit `ProcessWord`).
    pub fn process_word(&self, word: &str, env: &dyn Env) -> Result<String, ExpandError> {
        Ok(self.process_word_with_matches(word, env)?.result)
    }

    /// Expand `word` and split it into words (BuildKit `ProcessWords`).
    pub fn process_words(&self, word: &str, env: &dyn Env) -> Result<Vec<String>, ExpandError> {
        Ok(self.process_word_with_matches(word, env)?.words)
    }

    /// Expand `word`, returning the word, its split form and the variable
    /// names used (BuildKit `ProcessWordWithMatches`).
    pub fn process_word_with_matches(
        &self,
        word: &str,
        env: &dyn Env,
    ) -> Result<Processed, ExpandError> {
        let mut chars: Vec<char> = word.chars().collect();
        // Go's text/scanner skips a byte-order mark at the very start.
        if chars.first() == Some(&'\u{FEFF}') {
            chars.remove(0);
        }
        let mut sw = ShellWord {
            lex: self,
            env,
            chars,
            pos: 0,
            raw_escapes: self.raw_escapes,
            depth: 0,
            matched: BTreeSet::new(),
            unmatched: BTreeSet::new(),
        };
        match sw.process_stop_on(None, self.raw_escapes) {
            Ok((result, words)) => Ok(Processed {
                result,
                words,
                matched: sw.matched,
                unmatched: sw.unmatched,
            }),
            Err(kind) => Err(ExpandError {
                word: word.to_string(),
                kind,
            }),
        }
    }
}

/// Accumulates split words (BuildKit `wordsStruct`).
#[derive(Default)]
struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() {
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }

    fn add_raw_char(&mut self, ch: char) {
        self.word.push(ch);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        for ch in s.chars() {
            self.add_char(ch);
        }
    }

    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(std::mem::take(&mut self.word));
        }
        self.words
    }
}

struct ShellWord<'a> {
    lex: &'a Lexer,
    env: &'a dyn Env,
    chars: Vec<char>,
    pos: usize,
    raw_escapes: bool,
    depth: usize,
    matched: BTreeSet<String>,
    unmatched: BTreeSet<String>,
}

type Res<T> = Result<T, ExpandErrorKind>;

impl ShellWord<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn get_env(&mut self, name: &str) -> (String, bool) {
        match self.env.get(name) {
            Some(v) => {
                self.matched.insert(name.to_string());
                (v.to_string(), true)
            }
            None => {
                self.unmatched.insert(name.to_string());
                (String::new(), false)
            }
        }
    }

    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Res<(String, Vec<String>)> {
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let r = self.process_stop_on_inner(stop);
        self.raw_escapes = saved;
        r
    }

    fn process_stop_on_inner(&mut self, stop: Option<char>) -> Res<(String, Vec<String>)> {
        let mut result = String::new();
        let mut words = Words::default();
        let quotes = !self.lex.skip_process_quotes;
        while let Some(ch) = self.peek() {
            if stop == Some(ch) {
                self.pos += 1;
                return Ok((result, words.finish()));
            }
            if result.len() > MAX_EXPANSION {
                return Err(ExpandErrorKind::TooLarge("result exceeds 1 MiB"));
            }
            if ch == '$' {
                let tmp = self.process_dollar()?;
                result.push_str(&tmp);
                words.add_string(&tmp);
            } else if quotes && ch == '\'' {
                let tmp = self.process_single_quote()?;
                result.push_str(&tmp);
                words.add_raw_string(&tmp);
            } else if quotes && ch == '"' {
                let tmp = self.process_double_quote()?;
                result.push_str(&tmp);
                words.add_raw_string(&tmp);
            } else {
                self.pos += 1;
                if ch == self.lex.escape {
                    if self.raw_escapes {
                        words.add_raw_char(ch);
                        result.push(ch);
                    }
                    // The escape escapes the next character; a trailing one
                    // is dropped.
                    let Some(next) = self.next() else { break };
                    words.add_raw_char(next);
                    result.push(next);
                } else {
                    words.add_char(ch);
                    result.push(ch);
                }
            }
        }
        match stop {
            Some(c) => Err(ExpandErrorKind::UnexpectedEnd(c)),
            None => Ok((result, words.finish())),
        }
    }

    fn process_single_quote(&mut self) -> Res<String> {
        let mut result = String::new();
        self.pos += 1;
        if self.lex.raw_quotes {
            result.push('\'');
        }
        loop {
            match self.next() {
                None => return Err(ExpandErrorKind::UnterminatedSingleQuote),
                Some('\'') => {
                    if self.lex.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(c) => result.push(c),
            }
        }
    }

    fn process_double_quote(&mut self) -> Res<String> {
        let mut result = String::new();
        self.pos += 1;
        if self.lex.raw_quotes {
            result.push('"');
        }
        loop {
            match self.peek() {
                None => return Err(ExpandErrorKind::UnterminatedDoubleQuote),
                Some('"') => {
                    self.pos += 1;
                    if self.lex.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => {
                    let v = self.process_dollar()?;
                    result.push_str(&v);
                }
                Some(mut ch) => {
                    self.pos += 1;
                    if ch == self.lex.escape {
                        if self.raw_escapes {
                            result.push(ch);
                        }
                        match self.peek() {
                            // An escape at the very end is ignored (and the
                            // missing quote reported on the next turn).
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.lex.escape => {
                                self.pos += 1;
                                ch = n;
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(ch);
                }
            }
        }
    }

    fn process_dollar(&mut self) -> Res<String> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            let (value, found) = self.get_env(&name);
            if !found && self.lex.skip_unset_env {
                return Ok(format!("${name}"));
            }
            return Ok(value);
        }
        self.pos += 1;
        match self.peek() {
            None => return Err(ExpandErrorKind::MissingBrace),
            Some('{' | '}' | ':') => return Err(ExpandErrorKind::BadSubstitution),
            Some(_) => {}
        }
        if self.depth >= MAX_NESTING {
            return Err(ExpandErrorKind::TooDeep);
        }
        self.depth += 1;
        let r = self.process_braced();
        self.depth -= 1;
        r
    }

    fn process_braced(&mut self) -> Res<String> {
        let name = self.process_name();
        let ch = self.next();
        let mut chs = String::from(ch.unwrap_or('\u{FFFD}'));
        match ch {
            Some('}') => {
                let (value, set) = self.get_env(&name);
                if !set && self.lex.skip_unset_env {
                    return Ok(format!("${{{name}}}"));
                }
                Ok(value)
            }
            Some(':' | '+' | '-' | '?' | '#' | '%') => {
                let mut op = ch;
                let null_is_unset = op == Some(':');
                if null_is_unset {
                    op = self.next();
                    chs.push(op.unwrap_or('\u{FFFD}'));
                }
                let raw = matches!(op, Some('#' | '%'));
                let word = match self.process_stop_on(Some('}'), raw) {
                    Ok((w, _)) => w,
                    Err(e) => {
                        return Err(if self.peek().is_none() {
                            ExpandErrorKind::MissingBrace
                        } else {
                            e
                        });
                    }
                };
                let (value, set) = self.get_env(&name);
                if self.lex.skip_unset_env && !set {
                    return Ok(format!("${{{name}{chs}{word}}}"));
                }
                let unset = !set || (null_is_unset && value.is_empty());
                match op {
                    Some('-') => Ok(if unset { word } else { value }),
                    Some('+') => Ok(if unset { String::new() } else { word }),
                    Some('?') => {
                        let default = if !set {
                            Some("is not allowed to be unset")
                        } else if null_is_unset && value.is_empty() {
                            Some("is not allowed to be empty")
                        } else {
                            None
                        };
                        match default {
                            None => Ok(value),
                            Some(d) => Err(ExpandErrorKind::Required {
                                name,
                                message: if word.is_empty() { d.to_string() } else { word },
                            }),
                        }
                    }
                    Some(c @ ('%' | '#')) => {
                        let (greedy, pat) = match word.strip_prefix(c) {
                            Some(rest) => (true, rest.to_string()),
                            None => (false, word),
                        };
                        let r = if c == '%' {
                            pattern::trim_suffix(&pat, &value, greedy)
                        } else {
                            pattern::trim_prefix(&pat, &value, greedy)
                        };
                        r.map_err(|e| e.into_kind(pat))
                    }
                    _ => Err(ExpandErrorKind::UnsupportedModifier(chs)),
                }
            }
            // BuildKit says "unsupported modifier (\u{FFFD})" here; the
            // missing brace is the real problem.
            None => Err(ExpandErrorKind::MissingBrace),
            Some('/') => {
                let all = self.peek() == Some('/');
                if all {
                    self.pos += 1;
                }
                let pat = match self.process_stop_on(Some('/'), true) {
                    Ok((p, _)) => p,
                    Err(e) => {
                        return Err(if self.peek().is_none() {
                            ExpandErrorKind::MissingSlash
                        } else {
                            e
                        });
                    }
                };
                let replacement = match self.process_stop_on(Some('}'), true) {
                    Ok((r, _)) => r,
                    Err(e) => {
                        return Err(if self.peek().is_none() {
                            ExpandErrorKind::MissingBrace
                        } else {
                            e
                        });
                    }
                };
                let (value, set) = self.get_env(&name);
                if self.lex.skip_unset_env && !set {
                    return Ok(format!("${{{name}/{pat}/{replacement}}}"));
                }
                pattern::replace(&pat, &value, &replacement, all).map_err(|e| e.into_kind(pat))
            }
            _ => Err(ExpandErrorKind::UnsupportedModifier(chs)),
        }
    }

    /// A name: a run of letters, digits and `_`; a run of digits
    /// (positional); or one special parameter character.
    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && is_digit(ch) {
                while let Some(d) = self.peek().filter(|c| is_digit(*c)) {
                    self.pos += 1;
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!') {
                self.pos += 1;
                name.push(ch);
                return name;
            }
            if !ch.is_alphabetic() && !is_digit(ch) && ch != '_' {
                break;
            }
            self.pos += 1;
            name.push(ch);
        }
        name
    }
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

#[cfg(test)]
mod tests;
