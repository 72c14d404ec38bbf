//! The pattern engine behind `.dockerignore`, hand-rolled (no regex crate):
//! Go's `filepath.Match` syntax check, moby/patternmatcher's compilation
//! into exact / prefix / suffix / general patterns, and a small NFA for the
//! general case with cheap literal pre-filters.
//!
//! Semantics follow patternmatcher's regular expression: `*` and `?` do not
//! cross `/`, `**` matches any number of path segments (but, like Go's `.`,
//! no newline), `[…]` classes are checked with `filepath.Match` syntax but
//! match as Go's regexp reads them (see [`super::class`]: POSIX groups,
//! `^` negates, a negated class may match `/`), `\x` is the literal `x`.

/// Go's `filepath.Match(pattern, name)`, reduced to what New() needs: does
/// it report `ErrBadPattern`? (Go 1.19 semantics: the whole pattern is
/// checked even when the match fails early.)
pub(crate) fn match_is_bad(pattern: &str, name: &str) -> bool {
    go_match(pattern.as_bytes(), name.as_bytes()).is_err()
}

/// Go's `filepath.Match(pattern, name)` on `/`-separated paths: `Some`
/// with the answer, `None` for `ErrBadPattern`. (COPY's source wildcards
/// use it too: BuildKit resolves them with `filepath.Match`.)
pub fn filepath_match(pattern: &str, name: &str) -> Option<bool> {
    go_match(pattern.as_bytes(), name.as_bytes()).ok()
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
    /// Literal text every match starts with.
    pub(crate) prefix: String,
    /// Literal text every match ends with.
    pub(crate) suffix: String,
    /// The longest literal run every match contains.
    pub(crate) needle: String,
    /// Bit set of the positions with epsilon edges.
    eps: Vec<u64>,
    /// `**/*LIT` (LIT without `/`): decided without the NFA.
    base_suffix: Option<String>,
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
///
/// patternmatcher reads the pattern with Go's `text/scanner`, which skips
/// one byte-order mark at the start: a pattern with a leading BOM that
/// becomes a regular expression matches without it, while exact and
/// prefix patterns compare the text as written (BOM included).
pub(crate) fn compile(pattern: &str) -> Kind {
    let full = pattern;
    let pattern = pattern.strip_prefix('\u{FEFF}').unwrap_or(pattern);
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
                // The syntax was validated by filepath.Match in New(); the
                // class itself means what Go's regexp makes of it.
                let Some(c) = super::class::parse(&chars, pos - 1) else {
                    return Kind::Bad;
                };
                pos = c.end;
                ops.push(Op::Class {
                    negated: c.negated,
                    ranges: c.ranges,
                });
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
        Ty::Exact => Kind::Exact(full.to_string()),
        Ty::Prefix => Kind::Prefix(full.strip_suffix("**").unwrap_or(full).to_string()),
        // With a BOM before `**`, patternmatcher cuts the suffix in the
        // middle of the BOM's bytes; matching the text as written is the
        // closest a `str` gets (only such odd names match either way).
        Ty::Suffix => Kind::Suffix(full.strip_prefix("**").unwrap_or(full).to_string()),
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
            let mut needle = String::new();
            let mut run = String::new();
            for o in &ops {
                match lit(o) {
                    Some(c) => run.push(c),
                    None => {
                        if run.len() > needle.len() {
                            needle = std::mem::take(&mut run);
                        }
                        run.clear();
                    }
                }
            }
            if run.len() > needle.len() {
                needle = run;
            }
            let mut eps = vec![0u64; ops.len() / 64 + 1];
            for (p, o) in ops.iter().enumerate() {
                if matches!(o, Op::StarNotSlash | Op::StarAny | Op::PathEntry) {
                    eps[p / 64] |= 1 << (p % 64);
                }
            }
            let suffix: String = suffix.into_iter().collect();
            let base_suffix = match ops.as_slice() {
                [Op::PathEntry, Op::PathIn, Op::StarNotSlash, rest @ ..]
                    if !rest.is_empty()
                        && rest.iter().all(|o| matches!(o, Op::Lit(c) if *c != '/')) =>
                {
                    Some(suffix.clone())
                }
                _ => None,
            };
            Kind::Glob(Glob {
                ops,
                fixed_slashes,
                prefix,
                suffix,
                needle,
                eps,
                base_suffix,
            })
        }
    }
}

/// Byte-wise equality without a libc call (the strings compared here are
/// short, where a `memcmp` call costs more than the comparison).
#[inline]
pub(crate) fn eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `hay` starts with `p`.
#[inline]
pub(crate) fn starts(hay: &[u8], p: &[u8]) -> bool {
    hay.len() >= p.len() && eq(&hay[..p.len()], p)
}

/// `hay` ends with `p`.
#[inline]
pub(crate) fn ends(hay: &[u8], p: &[u8]) -> bool {
    hay.len() >= p.len() && eq(&hay[hay.len() - p.len()..], p)
}

/// First occurrence of `needle` in `hay` (short needles: first-byte scan).
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let Some(&first) = needle.first() else {
        return Some(0);
    };
    let last_start = hay.len().checked_sub(needle.len())?;
    (0..=last_start).find(|&i| hay[i] == first && eq(&hay[i..i + needle.len()], needle))
}

fn set_bit(s: &mut [u64], i: usize) {
    if let Some(w) = s.get_mut(i / 64) {
        *w |= 1 << (i % 64);
    }
}

impl Glob {
    /// Epsilon closure in place. Edges only go forward, so one ascending
    /// pass over the set bits suffices.
    fn close(&self, s: &mut [u64]) {
        for w in 0..s.len() {
            let mut todo = s[w] & self.eps.get(w).copied().unwrap_or(0);
            while todo != 0 {
                let p = w * 64 + todo.trailing_zeros() as usize;
                todo &= todo - 1;
                let two = matches!(self.ops.get(p), Some(Op::PathEntry));
                for t in [Some(p + 1), two.then_some(p + 2)].into_iter().flatten() {
                    set_bit(s, t);
                    if t / 64 == w && self.eps.get(w).is_some_and(|e| e & (1 << (t % 64)) != 0) {
                        todo |= 1 << (t % 64);
                    }
                }
            }
        }
    }

    fn step(&self, cur: &[u64], next: &mut [u64], c: char) {
        next.iter_mut().for_each(|w| *w = 0);
        for (w, &word) in cur.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let p = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let Some(op) = self.ops.get(p) else { continue };
                match op {
                    Op::Lit(x) if *x == c => set_bit(next, p + 1),
                    Op::AnyNotSlash if c != '/' => set_bit(next, p + 1),
                    Op::Class { negated, ranges } => {
                        let inside = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                        if inside != *negated {
                            set_bit(next, p + 1);
                        }
                    }
                    Op::StarNotSlash if c != '/' => set_bit(next, p),
                    Op::StarAny if c != '\n' => set_bit(next, p),
                    Op::PathIn if c != '\n' => {
                        set_bit(next, p);
                        if c == '/' {
                            set_bit(next, p + 1);
                        }
                    }
                    _ => {}
                }
            }
        }
        self.close(next);
    }

    /// Run the NFA over `text`; `full` asks for a full match, otherwise
    /// whether any state is still alive (some continuation could match).
    fn nfa(&self, text: &str, full: bool) -> bool {
        let n = self.ops.len();
        let words = n / 64 + 1;
        let (mut a, mut b) = ([0u64; 4], [0u64; 4]);
        let (mut va, mut vb);
        let (mut cur, mut next): (&mut [u64], &mut [u64]) = if words <= 4 {
            (&mut a[..words], &mut b[..words])
        } else {
            va = vec![0u64; words];
            vb = vec![0u64; words];
            (&mut va[..], &mut vb[..])
        };
        set_bit(cur, 0);
        self.close(cur);
        for c in text.chars() {
            self.step(cur, next, c);
            std::mem::swap(&mut cur, &mut next);
            if cur.iter().all(|w| *w == 0) {
                return false;
            }
        }
        if full {
            cur.get(n / 64).is_some_and(|w| w & (1 << (n % 64)) != 0)
        } else {
            cur.iter().any(|w| *w != 0)
        }
    }

    /// Full match of `text` (a whole path or a parent directory of one).
    pub(crate) fn matches(&self, text: &str) -> bool {
        let t = text.as_bytes();
        starts(t, self.prefix.as_bytes())
            && ends(t, self.suffix.as_bytes())
            && find(t, self.needle.as_bytes()).is_some()
            && self.run(text)
    }

    /// The NFA alone (the caller did the literal checks).
    pub(crate) fn run(&self, text: &str) -> bool {
        if let Some(lit) = &self.base_suffix {
            // `(.*/)?[^/]*LIT`: LIT ends the last component, and the
            // directory part (matched by `.*`) has no newline.
            let t = text.as_bytes();
            let comp = t.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
            return ends(t, lit.as_bytes())
                && t.len() - lit.len() >= comp
                && !t[..comp].contains(&b'\n');
        }
        self.nfa(text, true)
    }

    /// Whether some path starting with `prefix` could match.
    pub(crate) fn could_extend(&self, prefix: &str) -> bool {
        self.nfa(prefix, false)
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
