//! The pattern engine behind `.dockerignore`, hand-rolled (no regex crate):
//! Go's `filepath.Match` syntax check, moby/patternmatcher's compilation
//! into exact / prefix / suffix / general patterns, and a small NFA for the
//! general case with cheap literal pre-filters.
//!
//! Semantics follow patternmatcher's regular expression: `*` and `?` do not
//! cross `/`, `**` matches any number of path segments (but, like Go's `.`,
//! no newline), `[…]` classes use `filepath.Match` syntax (`^` negates; a
//! negated class may match `/`), `\x` is the literal `x`.

/// Go's `filepath.Match(pattern, name)`, reduced to what New() needs: does
/// it report `ErrBadPattern`? (Go 1.19 semantics: the whole pattern is
/// checked even when the match fails early.)
pub(crate) fn match_is_bad(pattern: &str, name: &str) -> bool {
    go_match(pattern.as_bytes(), name.as_bytes()).is_err()
}

fn scan_chunk(p: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut i = 0;
    let mut star = false;
    while p.get(i) == Some(&b'*') {
        i += 1;
        star = true;
    }
    let p = &p[i..];
    let mut inrange = false;
    let mut j = 0;
    while j < p.len() {
        match p[j] {
            b'\\' if j + 1 < p.len() => j += 1,
            b'[' => inrange = true,
            b']' => inrange = false,
            b'*' if !inrange => break,
            _ => {}
        }
        j += 1;
    }
    (star, &p[..j], &p[j..])
}

struct Bad;

fn decode(s: &[u8]) -> (u32, usize) {
    let Some(&b0) = s.first() else {
        return (0xFFFD, 0);
    };
    let len = match b0 {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    };
    match std::str::from_utf8(&s[..len.min(s.len())])
        .ok()
        .and_then(|t| t.chars().next())
    {
        Some(c) => (c as u32, c.len_utf8()),
        None => (0xFFFD, 1),
    }
}

fn get_esc(chunk: &[u8]) -> Result<(u32, &[u8]), Bad> {
    let mut c = chunk;
    match c.first() {
        None | Some(b'-') | Some(b']') => return Err(Bad),
        Some(b'\\') => {
            c = &c[1..];
            if c.is_empty() {
                return Err(Bad);
            }
        }
        _ => {}
    }
    let (r, n) = decode(c);
    if r == 0xFFFD && n == 1 {
        return Err(Bad);
    }
    let rest = &c[n..];
    if rest.is_empty() {
        return Err(Bad);
    }
    Ok((r, rest))
}

fn match_chunk<'a>(mut chunk: &[u8], mut s: &'a [u8]) -> Result<Option<&'a [u8]>, Bad> {
    let mut failed = false;
    while let Some(&c0) = chunk.first() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match c0 {
            b'[' => {
                let mut r = 0u32;
                if !failed {
                    let (rr, n) = decode(s);
                    r = rr;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if chunk.first() == Some(&b']') && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk.first() == Some(&b'-') {
                        let (h, rest) = get_esc(&chunk[1..])?;
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
            b'?' => {
                if !failed {
                    if s.first() == Some(&b'/') {
                        failed = true;
                    }
                    let (_, n) = decode(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                if c0 == b'\\' {
                    chunk = &chunk[1..];
                    if chunk.is_empty() {
                        return Err(Bad);
                    }
                }
                if !failed {
                    if chunk.first() != s.first() {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    Ok(if failed { None } else { Some(s) })
}

fn go_match(mut pattern: &[u8], mut name: &[u8]) -> Result<bool, Bad> {
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Ok(!name.contains(&b'/'));
        }
        let r = match_chunk(chunk, name);
        if let Ok(Some(t)) = r
            && (t.is_empty() || !pattern.is_empty())
        {
            name = t;
            continue;
        }
        r?;
        if star {
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                if let Some(t) = match_chunk(chunk, &name[i + 1..])? {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// One step of a general pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Lit(char),
    /// `?`: one character but `/`.
    AnyNotSlash,
    /// `[…]`.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `*`: any run without `/`.
    StarNotSlash,
    /// `**` at the end after other parts: `.*` (no newline).
    StarAny,
    /// `**` followed by more (`(.*/)?`): entry position; skips the group or
    /// enters [`Op::PathIn`].
    PathEntry,
    /// Inside `(.*/)?`: consumes non-newlines, leaves after a `/`.
    PathIn,
}

/// A compiled general pattern: an anchored NFA plus literal pre-filters.
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    ops: Vec<Op>,
    /// Every match has exactly this many `/` (no `**`, no class with `/`).
    pub(crate) fixed_slashes: Option<usize>,
    prefix: String,
    suffix: String,
}

/// How a pattern matches (patternmatcher's `matchType`).
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// Plain text: equal.
    Exact(String),
    /// `foo/**`: starts with.
    Prefix(String),
    /// `**/foo`: ends with (or equals without the leading `/`).
    Suffix(String),
    /// Anything else.
    Glob(Glob),
    /// The regular expression would not compile (`[z-a]`): an error when
    /// the pattern is evaluated.
    Bad,
}

fn class_has_slash(negated: bool, ranges: &[(char, char)]) -> bool {
    negated || ranges.iter().any(|&(lo, hi)| lo <= '/' && '/' <= hi)
}

/// Compile a cleaned pattern (without its `!`).
pub(crate) fn compile(pattern: &str) -> Kind {
    #[derive(PartialEq)]
    enum Ty {
        Exact,
        Prefix,
        Suffix,
        Regexp,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut ops = Vec::new();
    let mut ty = Ty::Exact;
    let mut pos = 0;
    let mut iter = 0;
    while pos < chars.len() {
        let ch = chars[pos];
        pos += 1;
        match ch {
            '*' if chars.get(pos) == Some(&'*') => {
                pos += 1;
                if chars.get(pos) == Some(&'/') {
                    pos += 1;
                }
                if pos == chars.len() {
                    if ty == Ty::Exact {
                        ty = Ty::Prefix;
                    } else {
                        ops.push(Op::StarAny);
                        ty = Ty::Regexp;
                    }
                } else {
                    ops.push(Op::PathEntry);
                    ops.push(Op::PathIn);
                    ty = Ty::Regexp;
                }
                if iter == 0 {
                    ty = Ty::Suffix;
                }
            }
            '*' => {
                ops.push(Op::StarNotSlash);
                ty = Ty::Regexp;
            }
            '?' => {
                ops.push(Op::AnyNotSlash);
                ty = Ty::Regexp;
            }
            '\\' => {
                let Some(&next) = chars.get(pos) else {
                    return Kind::Bad;
                };
                pos += 1;
                ops.push(Op::Lit(next));
                ty = Ty::Regexp;
            }
            '[' => {
                // The syntax was validated by filepath.Match in New().
                let mut negated = false;
                if chars.get(pos) == Some(&'^') {
                    negated = true;
                    pos += 1;
                }
                let mut ranges = Vec::new();
                let esc = |pos: &mut usize| -> Option<char> {
                    let mut c = *chars.get(*pos)?;
                    *pos += 1;
                    if c == '\\' {
                        c = *chars.get(*pos)?;
                        *pos += 1;
                    }
                    Some(c)
                };
                loop {
                    if chars.get(pos) == Some(&']') && !ranges.is_empty() {
                        pos += 1;
                        break;
                    }
                    let Some(lo) = esc(&mut pos) else {
                        return Kind::Bad;
                    };
                    let mut hi = lo;
                    if chars.get(pos) == Some(&'-') {
                        pos += 1;
                        let Some(h) = esc(&mut pos) else {
                            return Kind::Bad;
                        };
                        hi = h;
                    }
                    if hi < lo {
                        // "invalid character class range" from regexp.Compile.
                        return Kind::Bad;
                    }
                    ranges.push((lo, hi));
                }
                ops.push(Op::Class { negated, ranges });
                ty = Ty::Regexp;
            }
            ']' => {
                ops.push(Op::Lit(']'));
                ty = Ty::Regexp;
            }
            c => ops.push(Op::Lit(c)),
        }
        iter += 1;
    }
    match ty {
        Ty::Exact => Kind::Exact(pattern.to_string()),
        Ty::Prefix => Kind::Prefix(pattern.strip_suffix("**").unwrap_or(pattern).to_string()),
        Ty::Suffix => Kind::Suffix(pattern.strip_prefix("**").unwrap_or(pattern).to_string()),
        Ty::Regexp => {
            let variable = ops.iter().any(|o| match o {
                Op::StarAny | Op::PathEntry | Op::PathIn => true,
                Op::Class { negated, ranges } => class_has_slash(*negated, ranges),
                _ => false,
            });
            let fixed_slashes =
                (!variable).then(|| ops.iter().filter(|o| **o == Op::Lit('/')).count());
            let lit = |o: &Op| match o {
                Op::Lit(c) => Some(*c),
                _ => None,
            };
            let prefix: String = ops.iter().map_while(lit).collect();
            let mut suffix: Vec<char> = ops.iter().rev().map_while(lit).collect();
            suffix.reverse();
            Kind::Glob(Glob {
                ops,
                fixed_slashes,
                prefix,
                suffix: suffix.into_iter().collect(),
            })
        }
    }
}

/// A state set for the NFA: inline for patterns up to 255 steps, on the
/// heap beyond.
#[derive(Clone)]
enum States {
    Small([u64; 4]),
    Large(Vec<u64>),
}

impl States {
    fn new(n: usize) -> States {
        if n <= 256 {
            States::Small([0; 4])
        } else {
            States::Large(vec![0; n / 64 + 1])
        }
    }
    fn words(&self) -> &[u64] {
        match self {
            States::Small(a) => a,
            States::Large(v) => v,
        }
    }
    fn words_mut(&mut self) -> &mut [u64] {
        match self {
            States::Small(a) => a,
            States::Large(v) => v,
        }
    }
    fn set(&mut self, i: usize) {
        if let Some(w) = self.words_mut().get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }
    fn has(&self, i: usize) -> bool {
        self.words()
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    fn clear(&mut self) {
        self.words_mut().iter_mut().for_each(|w| *w = 0);
    }
    fn is_empty(&self) -> bool {
        self.words().iter().all(|w| *w == 0)
    }
}

impl Glob {
    /// Epsilon closure, in place (edges only go forward).
    fn close(&self, s: &mut States) {
        for p in 0..self.ops.len() {
            if !s.has(p) {
                continue;
            }
            match self.ops[p] {
                Op::StarNotSlash | Op::StarAny => s.set(p + 1),
                Op::PathEntry => {
                    s.set(p + 1);
                    s.set(p + 2);
                }
                _ => {}
            }
        }
    }

    fn step(&self, cur: &States, next: &mut States, c: char) {
        next.clear();
        for (p, op) in self.ops.iter().enumerate() {
            if !cur.has(p) {
                continue;
            }
            match op {
                Op::Lit(x) if *x == c => next.set(p + 1),
                Op::AnyNotSlash if c != '/' => next.set(p + 1),
                Op::Class { negated, ranges } => {
                    let inside = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                    if inside != *negated {
                        next.set(p + 1);
                    }
                }
                Op::StarNotSlash if c != '/' => next.set(p),
                Op::StarAny if c != '\n' => next.set(p),
                Op::PathIn if c != '\n' => {
                    next.set(p);
                    if c == '/' {
                        next.set(p + 1);
                    }
                }
                _ => {}
            }
        }
        self.close(next);
    }

    /// Run the NFA over `text`; `full` asks for a full match, otherwise
    /// whether any state is still alive (some continuation could match).
    fn run(&self, text: &str, full: bool) -> bool {
        let n = self.ops.len();
        let mut cur = States::new(n + 1);
        let mut next = States::new(n + 1);
        cur.set(0);
        self.close(&mut cur);
        for c in text.chars() {
            self.step(&cur, &mut next, c);
            std::mem::swap(&mut cur, &mut next);
            if cur.is_empty() {
                return false;
            }
        }
        if full { cur.has(n) } else { !cur.is_empty() }
    }

    /// Full match of `text`.
    pub(crate) fn matches(&self, text: &str) -> bool {
        if !text.starts_with(&self.prefix) || !text.ends_with(&self.suffix) {
            return false;
        }
        self.run(text, true)
    }

    /// Whether some path starting with `prefix` could match.
    pub(crate) fn could_extend(&self, prefix: &str) -> bool {
        self.run(prefix, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(p: &str) -> Glob {
        match compile(p) {
            Kind::Glob(g) => g,
            k => panic!("{p}: {k:?}"),
        }
    }

    #[test]
    fn kinds() {
        assert!(matches!(compile("foo/bar"), Kind::Exact(s) if s == "foo/bar"));
        assert!(matches!(compile("a.b+c"), Kind::Exact(_)));
        assert!(matches!(compile("foo/**"), Kind::Prefix(s) if s == "foo/"));
        assert!(matches!(compile("**"), Kind::Suffix(s) if s.is_empty()));
        assert!(matches!(compile("**/foo"), Kind::Suffix(s) if s == "/foo"));
        assert!(matches!(compile("[z-a]"), Kind::Bad));
        assert_eq!(glob("*.txt").fixed_slashes, Some(0));
        assert_eq!(glob("*/a/?").fixed_slashes, Some(2));
        assert_eq!(glob("a[^x]b").fixed_slashes, None);
        assert_eq!(glob("**/*.go").fixed_slashes, None);
    }

    #[test]
    fn matching() {
        assert!(glob("*.txt").matches("a.txt"));
        assert!(!glob("*.txt").matches("d/a.txt"));
        assert!(glob("**/*.go").matches("a/b/c.go"));
        assert!(glob("**/*.go").matches("c.go"));
        assert!(!glob("**/*.go").matches("a\n/c.go"));
        assert!(glob("a/**/b").matches("a/b"));
        assert!(glob("a/**/b").matches("a/x/y/b"));
        assert!(glob("a**b").matches("ab"));
        assert!(glob("a**b").matches("ax/b"));
        assert!(!glob("a**b").matches("axb"));
        assert!(glob("x[^y]z").matches("x/z"));
        assert!(glob("file[0-9].txt").matches("file7.txt"));
        assert!(glob("caf[é]").matches("café"));
        assert!(glob("\\[abc\\]").matches("[abc]"));
        assert!(glob("*/**").matches("a/b/c"));
        assert!(glob("?").matches("é"));
        assert!(!glob("?").matches("/"));
    }

    #[test]
    fn go_match_errors() {
        for bad in [
            "[", "foo[", "[]", "[a-", "[a-]", "[-a]", "[^]", "[]]", "a\\", "*[", "a*b[", "x[\\",
        ] {
            assert!(match_is_bad(bad, "."), "{bad}");
        }
        for ok in [
            "*", "[a-z]", "[\\]]", "[\\*]", "a*b", "[z-a]", "\\*", "[!a]*",
        ] {
            assert!(!match_is_bad(ok, "."), "{ok}");
        }
    }

    #[test]
    fn extension_liveness() {
        assert!(glob("a/*/keep").could_extend("a/x/"));
        assert!(!glob("a/*/keep").could_extend("b/"));
        assert!(glob("**/k*p").could_extend("anything/"));
    }
}
