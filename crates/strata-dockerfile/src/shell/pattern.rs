//! Shell patterns of `${v#p}`, `${v%p}`, `${v/p/r}` and `${v//p/r}`.
//!
//! BuildKit turns these patterns into a Go regular expression (`*` becomes
//! `.*` or `.*?`, `?` becomes `.`, everything else literal) and lets the
//! regexp engine pick the match with leftmost-first preference. Such an
//! expression is only literals, "any character but newline" and stars of it,
//! so the match the engine would pick can be computed exactly with a linear
//! dynamic programme over the pattern, without a regex crate and without
//! backtracking blow-ups: `end[i][q]` is the end of the preferred match of
//! pattern tokens `i..` starting at text position `q`.

/// One pattern token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `?`: any character except `\n` (Go's `.`).
    Any,
    /// `*`: any run of characters except `\n`.
    Star,
}

/// Why a pattern operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PatternError {
    /// A bad escape (BuildKit's message).
    Invalid(String),
    /// Too much work or too large a result.
    TooLarge(&'static str),
}

impl PatternError {
    pub(crate) fn into_kind(self, pattern: String) -> super::ExpandErrorKind {
        match self {
            PatternError::Invalid(reason) => {
                super::ExpandErrorKind::InvalidPattern { pattern, reason }
            }
            PatternError::TooLarge(what) => super::ExpandErrorKind::TooLarge(what),
        }
    }
}

/// Upper bound on pattern steps × text length for one match table.
const MAX_WORK: usize = 1 << 26;

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    toks: Vec<Tok>,
    greedy: bool,
}

/// Compile a pattern (errors are BuildKit's messages).
pub(crate) fn compile(pattern: &str, greedy: bool) -> Result<Pattern, PatternError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => toks.push(Tok::Star),
            '?' => toks.push(Tok::Any),
            '\\' => {
                // `}` and `/` need escaping inside `${}`, but the escape is
                // not part of the pattern.
                if matches!(chars.get(i), Some('}') | Some('/')) {
                    continue;
                }
                match chars.get(i) {
                    Some(&t @ ('*' | '?' | '\\')) => {
                        i += 1;
                        toks.push(Tok::Lit(t));
                    }
                    Some(&t) => {
                        return Err(PatternError::Invalid(format!("invalid escape '\\{t}'")));
                    }
                    None => {
                        return Err(PatternError::Invalid(
                            "invalid escape '\\\u{FFFD}'".to_string(),
                        ));
                    }
                }
            }
            c => toks.push(Tok::Lit(c)),
        }
    }
    Ok(Pattern { toks, greedy })
}

impl Pattern {
    /// For every start position `q` in `text` (0..=len), the end of the match
    /// the regexp engine would choose when anchored at `q`, or `None`.
    fn match_ends(&self, text: &[char]) -> Result<Vec<Option<usize>>, PatternError> {
        let n = text.len();
        if self.toks.len().saturating_mul(n + 1) > MAX_WORK {
            return Err(PatternError::TooLarge("pattern too complex for the value"));
        }
        let mut next: Vec<Option<usize>> = (0..=n).map(Some).collect();
        let mut cur: Vec<Option<usize>> = vec![None; n + 1];
        for tok in self.toks.iter().rev() {
            match *tok {
                Tok::Lit(c) => {
                    for q in 0..=n {
                        cur[q] = if q < n && text[q] == c {
                            next[q + 1]
                        } else {
                            None
                        };
                    }
                }
                Tok::Any => {
                    for q in 0..=n {
                        cur[q] = if q < n && text[q] != '\n' {
                            next[q + 1]
                        } else {
                            None
                        };
                    }
                }
                Tok::Star => {
                    // The star at q may stop anywhere in [q, first newline at
                    // or after q]; greedy prefers the last such stop whose
                    // remainder matches, lazy the first.
                    let mut pick: Option<usize> = None;
                    for q in (0..=n).rev() {
                        let here = next[q].is_some();
                        if q < n && text[q] == '\n' {
                            pick = here.then_some(q);
                        } else if self.greedy {
                            if pick.is_none() && here {
                                pick = Some(q);
                            }
                        } else if here {
                            pick = Some(q);
                        }
                        cur[q] = pick.and_then(|r| next[r]);
                    }
                }
            }
            std::mem::swap(&mut next, &mut cur);
        }
        Ok(next)
    }
}

/// `${v#p}` / `${v##p}`: remove the shortest (longest when `greedy`) prefix
/// of `value` matching `pattern`.
pub(crate) fn trim_prefix(
    pattern: &str,
    value: &str,
    greedy: bool,
) -> Result<String, PatternError> {
    let pat = compile(pattern, greedy)?;
    let text: Vec<char> = value.chars().collect();
    let ends = pat.match_ends(&text)?;
    Ok(match ends.first().copied().flatten() {
        Some(end) => text[end..].iter().collect(),
        None => value.to_string(),
    })
}

/// `${v%p}` / `${v%%p}`: remove the shortest (longest) matching suffix. Like
/// BuildKit, reverse pattern and value and trim a prefix.
pub(crate) fn trim_suffix(
    pattern: &str,
    value: &str,
    greedy: bool,
) -> Result<String, PatternError> {
    let reversed_value: String = value.chars().rev().collect();
    let out = trim_prefix(&reverse_pattern(pattern), &reversed_value, greedy)?;
    Ok(out.chars().rev().collect())
}

/// Reverse a pattern but keep `\x` escapes in front of the escaped character.
fn reverse_pattern(pattern: &str) -> String {
    let p: Vec<char> = pattern.chars().collect();
    let mut out = vec!['\0'; p.len()];
    let last = p.len().saturating_sub(1);
    let mut i = 0;
    while i < p.len() {
        let o = last - i;
        if p[i] == '\\' && i != last {
            out[o - 1] = '\\';
            out[o] = p[i + 1];
            i += 2;
        } else {
            out[o] = p[i];
            i += 1;
        }
    }
    out.into_iter().collect()
}

/// `${v/p/r}` (first match) and `${v//p/r}` (all matches), with Go's
/// `regexp` semantics: greedy stars, leftmost matches, and for "all" the
/// replacement template expanded like `Regexp.ReplaceAllString` (`$0`, `$$`).
pub(crate) fn replace(
    pattern: &str,
    value: &str,
    replacement: &str,
    all: bool,
) -> Result<String, PatternError> {
    let pat = compile(pattern, true)?;
    let text: Vec<char> = value.chars().collect();
    let ends = pat.match_ends(&text)?;
    let n = text.len();
    if !all {
        for (start, end) in ends.iter().enumerate() {
            if let Some(end) = *end {
                let mut out: String = text[..start].iter().collect();
                out.push_str(replacement);
                out.extend(&text[end..]);
                return Ok(out);
            }
        }
        return Ok(value.to_string());
    }
    let mut out = String::with_capacity(value.len());
    let mut last_end = 0usize;
    let mut search = 0usize;
    while search <= n {
        let Some((a, b)) = (search..=n).find_map(|s| ends[s].map(|e| (s, e))) else {
            break;
        };
        out.extend(&text[last_end..a]);
        // No replacement for an empty match right after a previous match.
        if b > last_end || a == 0 {
            expand_template(&mut out, replacement, &text[a..b]);
        }
        if out.len() > super::MAX_EXPANSION {
            return Err(PatternError::TooLarge("result exceeds 1 MiB"));
        }
        last_end = b;
        search = if search + 1 > b { search + 1 } else { b };
    }
    if last_end <= n {
        out.extend(&text[last_end..]);
    }
    Ok(out)
}

/// Go's `Regexp.Expand` for a regexp without capture groups: `$$` is `$`,
/// `$0`/`${0}` is the whole match, any other well-formed `$name` is empty,
/// and a malformed `$` is literal.
fn expand_template(out: &mut String, template: &str, whole: &[char]) {
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let (brace, body) = match rest.strip_prefix('{') {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let name_len: usize = body
            .chars()
            .take_while(|c| c.is_alphabetic() || c.is_numeric() || *c == '_')
            .map(char::len_utf8)
            .sum();
        if name_len == 0 {
            out.push('$');
            continue;
        }
        let name = &body[..name_len];
        let mut consumed = name_len;
        if brace {
            if !body[name_len..].starts_with('}') {
                out.push('$');
                continue;
            }
            consumed += 1;
        }
        if name == "0" {
            out.extend(whole);
        }
        rest = &body[consumed..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_suffix() {
        assert_eq!(trim_prefix("*/", "a/b/c", false).unwrap(), "b/c");
        assert_eq!(trim_prefix("*/", "a/b/c", true).unwrap(), "c");
        assert_eq!(trim_suffix("/*", "a/b/c", false).unwrap(), "a/b");
        assert_eq!(trim_suffix("/*", "a/b/c", true).unwrap(), "a");
        assert_eq!(trim_prefix("x", "abc", true).unwrap(), "abc");
        assert_eq!(trim_suffix(".tar.gz", "f.tar.gz", false).unwrap(), "f");
        assert_eq!(trim_prefix("a?c", "abcd", false).unwrap(), "d");
        assert_eq!(trim_prefix("\\*", "*x", false).unwrap(), "x");
        assert_eq!(trim_suffix("a\\*", "ba*", false).unwrap(), "b");
    }

    #[test]
    fn stars_stop_at_newlines() {
        assert_eq!(trim_prefix("*b", "a\nb", true).unwrap(), "a\nb");
        assert_eq!(trim_prefix("a*", "ax\ny", true).unwrap(), "\ny");
    }

    #[test]
    fn replacements() {
        assert_eq!(replace("o", "foo", "0", false).unwrap(), "f0o");
        assert_eq!(replace("o", "foo", "0", true).unwrap(), "f00");
        assert_eq!(replace("o*", "foo", "0", true).unwrap(), "f0");
        assert_eq!(replace("", "ab", "-", true).unwrap(), "-a-b-");
        assert_eq!(replace("b", "abc", "[$0]", true).unwrap(), "a[b]c");
        assert_eq!(replace("b", "abc", "$$x$y", true).unwrap(), "a$xc");
        assert_eq!(replace("b", "abc", "$", true).unwrap(), "a$c");
        assert_eq!(replace("b", "abc", "$0", false).unwrap(), "a$0c");
        assert_eq!(replace("x", "abc", "y", false).unwrap(), "abc");
    }

    #[test]
    fn bad_escapes() {
        assert_eq!(
            compile("\\a", true).unwrap_err(),
            PatternError::Invalid("invalid escape '\\a'".into())
        );
        assert!(compile("a\\", true).is_err());
        assert!(compile("\\}", true).is_ok());
    }
}
