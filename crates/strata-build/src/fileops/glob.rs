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
/// pattern is no match. The matcher is the front end's (one copy of Go's
/// algorithm, fuzzed there).
pub fn go_match(pattern: &str, name: &str) -> bool {
    strata_dockerfile::dockerignore::filepath_match(pattern, name).unwrap_or(false)
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
