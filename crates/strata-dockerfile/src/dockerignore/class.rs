//! Bracket expressions as a real build evaluates them.
//!
//! patternmatcher checks a pattern's syntax with Go's `filepath.Match`
//! (no POSIX classes there), but then copies `[…]` unchanged into a Go
//! regular expression, so what matches is RE2's class syntax: `[:alpha:]`
//! and the other ASCII POSIX groups (and `[:^alpha:]`) work inside a class,
//! an unknown name (`[[:foo:]]`) or a class left open after a group
//! (`[[:alpha:]`) fails when the pattern is first evaluated. A real docker
//! 20.10 build excludes `abc` for `[[:alpha:]]*`, where `filepath.Match`
//! would not.
//!
//! Outside a group, `[` is an ordinary member; `^` first negates (and a
//! negated class matches `/` and newline, as RE2 with Go's Perl flags
//! does). Backslash-letter escapes (RE2's `\d`, `\pL`) stay literal: those
//! are regular-expression leaks, not `.dockerignore` syntax.

/// Go's `posixGroup` table (regexp/syntax/perl_groups.go): ASCII ranges.
fn posix_group(name: &str) -> Option<&'static [(char, char)]> {
    Some(match name {
        "alnum" => &[('0', '9'), ('A', 'Z'), ('a', 'z')],
        "alpha" => &[('A', 'Z'), ('a', 'z')],
        "ascii" => &[('\0', '\x7f')],
        "blank" => &[('\t', '\t'), (' ', ' ')],
        "cntrl" => &[('\0', '\x1f'), ('\x7f', '\x7f')],
        "digit" => &[('0', '9')],
        "graph" => &[('!', '~')],
        "lower" => &[('a', 'z')],
        "print" => &[(' ', '~')],
        "punct" => &[('!', '/'), (':', '@'), ('[', '`'), ('{', '~')],
        "space" => &[('\t', '\r'), (' ', ' ')],
        "upper" => &[('A', 'Z')],
        "word" => &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')],
        "xdigit" => &[('0', '9'), ('A', 'F'), ('a', 'f')],
        _ => return None,
    })
}

/// The complement of sorted, disjoint `ranges` over all of Unicode.
fn complement(ranges: &[(char, char)]) -> Vec<(char, char)> {
    let mut out = Vec::new();
    let mut next = 0u32;
    for &(lo, hi) in ranges {
        if (lo as u32) > next
            && let (Some(a), Some(b)) = (char::from_u32(next), prev_char(lo))
        {
            out.push((a, b));
        }
        next = hi as u32 + 1;
    }
    if next <= 0x10FFFF
        && let Some(a) = char::from_u32(next)
    {
        out.push((a, char::MAX));
    }
    out
}

fn prev_char(c: char) -> Option<char> {
    match c as u32 {
        0 => None,
        0xE000 => Some('\u{D7FF}'),
        n => char::from_u32(n - 1),
    }
}

/// A parsed class: negated, member ranges, and the index after its `]`.
pub(crate) struct Class {
    pub negated: bool,
    pub ranges: Vec<(char, char)>,
    pub end: usize,
}

/// Parses the class whose `[` is at `chars[open]` (already validated by
/// `filepath.Match`); `None` where Go's `regexp.Compile` fails.
pub(crate) fn parse(chars: &[char], open: usize) -> Option<Class> {
    let mut pos = open + 1;
    let mut negated = false;
    if chars.get(pos) == Some(&'^') {
        negated = true;
        pos += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        match chars.get(pos) {
            None => return None,
            Some(']') if !first => {
                pos += 1;
                break;
            }
            _ => {}
        }
        first = false;
        if chars.get(pos) == Some(&'[') && chars.get(pos + 1) == Some(&':') {
            // RE2 looks for the closing `:]` anywhere after `[:`.
            let rest = &chars[pos + 2..];
            if let Some(i) = rest.windows(2).position(|w| w == [':', ']']) {
                let name: String = rest[..i].iter().collect();
                let (neg, name) = match name.strip_prefix('^') {
                    Some(n) => (true, n),
                    None => (false, name.as_str()),
                };
                let group = posix_group(name)?;
                if neg {
                    ranges.extend(complement(group));
                } else {
                    ranges.extend_from_slice(group);
                }
                pos += 2 + i + 2;
                continue;
            }
        }
        let lo = class_char(chars, &mut pos)?;
        let mut hi = lo;
        if chars.get(pos) == Some(&'-') && chars.get(pos + 1).is_some_and(|c| *c != ']') {
            pos += 1;
            hi = class_char(chars, &mut pos)?;
            if hi < lo {
                // "invalid character class range".
                return None;
            }
        }
        ranges.push((lo, hi));
    }
    Some(Class {
        negated,
        ranges,
        end: pos,
    })
}

fn class_char(chars: &[char], pos: &mut usize) -> Option<char> {
    let mut c = *chars.get(*pos)?;
    *pos += 1;
    if c == '\\' {
        c = *chars.get(*pos)?;
        *pos += 1;
    }
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(p: &str) -> Option<Class> {
        let chars: Vec<char> = p.chars().collect();
        parse(&chars, 0)
    }

    fn has(p: &str, c: char) -> bool {
        let k = class(p).unwrap();
        k.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != k.negated
    }

    #[test]
    fn posix_groups_inside_a_class() {
        assert!(has("[[:alpha:]]", 'q') && !has("[[:alpha:]]", '1'));
        assert!(!has("[[:alpha:]]", '[') && !has("[[:alpha:]]", ':'));
        assert!(has("[[:digit:]_]", '_') && has("[[:digit:]_]", '7'));
        assert!(has("[^[:alnum:]]", '/') && !has("[^[:alnum:]]", 'Z'));
        assert!(has("[[:^alpha:]]", '/') && has("[[:^alpha:]]", 'é'));
        assert!(!has("[[:^alpha:]]", 'a'));
        assert!(has("[[:punct:]]", '/') && has("[[:space:]]", '\n'));
        // `[:alpha:]` without the outer brackets is a plain class.
        assert!(has("[:alpha:]", ':') && has("[:alpha:]", 'p') && !has("[:alpha:]", 'b'));
        // `[` alone is a member.
        assert!(has("[[a]", '[') && has("[[a]", 'a'));
        assert_eq!(class("[[:alpha:]]x").unwrap().end, 11);
    }

    #[test]
    fn what_go_regexp_refuses() {
        assert!(class("[[:foo:]]").is_none(), "unknown group");
        assert!(class("[[:alpha:]").is_none(), "missing ]");
        assert!(class("[z-a]").is_none(), "bad range");
        assert!(
            class("[[:a]b:]").is_none(),
            "`:]` found later names a bad group"
        );
    }

    #[test]
    fn complement_covers_the_rest() {
        let c = complement(&[('A', 'Z'), ('a', 'z')]);
        assert_eq!(c.first(), Some(&('\0', '@')));
        assert_eq!(c.last(), Some(&('{', char::MAX)));
    }
}
