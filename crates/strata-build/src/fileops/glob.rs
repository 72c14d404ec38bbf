//! COPY source wildcards: Go's `filepath.Match` (what BuildKit's
//! `copy.ResolveWildcards` uses) and the split of a source path into its
//! literal prefix and its wildcard part.
//!
//! `*` matches any run of non-`/` characters, `?` one non-`/` character,
//! `[…]` a character class (`^` negates; a class can match `/`), `\x` the
//! literal `x`. A malformed pattern matches nothing (BuildKit ignores
//! `ErrBadPattern`).

/// Whether a path component holds an unescaped `*`, `?` or `[`.
pub(crate) fn has_wildcards(component: &str) -> bool {
    let b = component.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'*' | b'?' | b'[' => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// Whether the pattern has a negated class (which may match `/`, so a
/// match is not bounded in depth).
pub(crate) fn has_negated_class(pattern: &str) -> bool {
    pattern.contains("[^")
}

/// Go's `filepath.Match(pattern, name)` on `/`-separated paths; a bad
/// pattern is no match.
pub fn go_match(pattern: &str, name: &str) -> bool {
    go_match_inner(pattern, name).unwrap_or(false)
}

struct Bad;

fn scan_chunk(p: &str) -> (bool, &str, &str) {
    let b = p.as_bytes();
    let mut i = 0;
    let mut star = false;
    while i < b.len() && b[i] == b'*' {
        i += 1;
        star = true;
    }
    let p = &p[i..];
    let b = p.as_bytes();
    let mut inrange = false;
    let mut j = 0;
    while j < b.len() {
        match b[j] {
            b'\\' if j + 1 < b.len() => j += 1,
            b'[' => inrange = true,
            b']' => inrange = false,
            b'*' if !inrange => break,
            _ => {}
        }
        j += 1;
    }
    (star, &p[..j], &p[j..])
}

fn go_match_inner(mut pattern: &str, mut name: &str) -> Result<bool, Bad> {
    'outer: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Ok(!name.contains('/'));
        }
        let first = match_chunk(chunk, name);
        if let Ok(Some(t)) = first
            && (t.is_empty() || !pattern.is_empty())
        {
            name = t;
            continue;
        }
        if let Err(Bad) = first {
            return Err(Bad);
        }
        if star {
            for (i, c) in name.char_indices() {
                if c == '/' {
                    break;
                }
                let after = &name[i + c.len_utf8()..];
                if let Some(t) = match_chunk(chunk, after)? {
                    if pattern.is_empty() && !t.is_empty() {
                        continue;
                    }
                    name = t;
                    continue 'outer;
                }
            }
        }
        // Go checks the rest of the pattern for syntax errors before
        // reporting no match.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, "")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn get_esc(chunk: &str) -> Result<(char, &str), Bad> {
    let mut c = chunk;
    if c.is_empty() || c.starts_with('-') || c.starts_with(']') {
        return Err(Bad);
    }
    if let Some(rest) = c.strip_prefix('\\') {
        c = rest;
        if c.is_empty() {
            return Err(Bad);
        }
    }
    let ch = c.chars().next().ok_or(Bad)?;
    let rest = &c[ch.len_utf8()..];
    if rest.is_empty() {
        return Err(Bad);
    }
    Ok((ch, rest))
}

/// Matches `chunk` (no `*`) at the start of `s`; returns the rest.
fn match_chunk<'a>(mut chunk: &str, mut s: &'a str) -> Result<Option<&'a str>, Bad> {
    let mut failed = false;
    while let Some(c0) = chunk.chars().next() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match c0 {
            '[' => {
                let mut r = '\0';
                if !failed {
                    r = s.chars().next().unwrap_or('\0');
                    s = &s[r.len_utf8().min(s.len())..];
                }
                chunk = &chunk[1..];
                let negated = chunk.starts_with('^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if chunk.starts_with(']') && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if let Some(rest) = chunk.strip_prefix('-') {
                        let (h, rest) = get_esc(rest)?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    nrange += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            '?' => {
                if !failed {
                    let c = s.chars().next().unwrap_or('\0');
                    if c == '/' {
                        failed = true;
                    }
                    s = &s[c.len_utf8().min(s.len())..];
                }
                chunk = &chunk[1..];
            }
            '\\' => {
                chunk = &chunk[1..];
                let Some(lit) = chunk.chars().next() else {
                    return Err(Bad);
                };
                if !failed {
                    if !s.starts_with(lit) {
                        failed = true;
                    } else {
                        s = &s[lit.len_utf8()..];
                    }
                }
                chunk = &chunk[lit.len_utf8()..];
            }
            lit => {
                if !failed {
                    if !s.starts_with(lit) {
                        failed = true;
                    } else {
                        s = &s[lit.len_utf8()..];
                    }
                }
                chunk = &chunk[lit.len_utf8()..];
            }
        }
    }
    if failed { Ok(None) } else { Ok(Some(s)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_semantics() {
        let cases: &[(&str, &str, bool)] = &[
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*", "ab/c", false),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[e-g]", "abc", false),
            ("ab[^c]", "abc", false),
            ("ab[^b-d]", "abe", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a?b", "a☺b", true),
            ("a[^a]b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("*x", "xxx", true),
            ("hom*", "home.txt", true),
            ("**", "a/b", false),
            ("**", "ab", true),
            ("[", "a", false),
            ("[^", "a", false),
            ("a[", "a", false),
            ("*x[", "xxx", false),
            ("a/*", "a/b", true),
            ("?", "/", false),
        ];
        for (p, n, want) in cases {
            assert_eq!(go_match(p, n), *want, "Match({p:?}, {n:?})");
        }
    }

    #[test]
    fn wildcard_detection() {
        assert!(has_wildcards("*.txt"));
        assert!(has_wildcards("a[bc]"));
        assert!(!has_wildcards("a\\*b"));
        assert!(!has_wildcards("plain"));
    }
}
