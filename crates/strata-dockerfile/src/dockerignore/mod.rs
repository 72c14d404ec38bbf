//! `.dockerignore`: the reader and matcher with moby/patternmatcher
//! semantics, an explain API, and a walker-friendly directory check.
//!
//! * [`parse`] reads the file like docker's `ReadAll`: one pattern per line,
//!   `#` comments in column 0, surrounding whitespace trimmed, a leading `!`
//!   marks an exception, patterns are `filepath.Clean`ed and a leading `/`
//!   dropped.
//! * [`Matcher::matches`] is `MatchesOrParentMatches`: a path is excluded
//!   when the last pattern matching it or one of its parent directories is
//!   not an exception.
//! * [`Matcher::explain`] names the pattern (text and line) that decided.
//! * [`Matcher::match_dir`] tells a context walker whether an excluded
//!   directory can be skipped entirely or whether exceptions may re-include
//!   something inside it. Pruning never changes the answer of `matches`.
//! * [`Matcher::walk_match`] and [`Matcher::match_context_dir`] answer as a
//!   real build's context transfer does (BuildKit's fsutil walk), which
//!   differs from `MatchesOrParentMatches` in two ways: see [`walk`].
//!
//! ```
//! use strata_dockerfile::dockerignore::{self, DirMatch, Matcher};
//! let file = dockerignore::parse(b"# deps\nnode_modules\n*.log\n!keep.log\nbuild\n!build/out/app\n").unwrap();
//! let m = Matcher::new(&file).unwrap();
//! assert!(m.matches("node_modules/x/index.js").unwrap());
//! assert!(!m.matches("keep.log").unwrap());
//! let why = m.explain("error.log").unwrap().decided_by.unwrap();
//! assert_eq!((why.pattern.as_str(), why.line), ("*.log", 3));
//! assert_eq!(m.match_dir("node_modules").unwrap(), DirMatch::Excluded { can_skip: true });
//! assert_eq!(m.match_dir("build").unwrap(), DirMatch::Excluded { can_skip: false });
//! ```

mod class;
mod glob;
mod walk;

use glob::Kind;
pub use glob::filepath_match;
pub use walk::WalkMatch;

/// Why a `.dockerignore` could not be read or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockerignoreError {
    /// A line of 64 KiB or more.
    #[error(".dockerignore:{line}: Error reading .dockerignore: bufio.Scanner: token too long")]
    LineTooLong {
        /// 1-based line.
        line: usize,
    },
    /// A line that is just `!`.
    #[error(".dockerignore:{line}: illegal exclusion pattern: \"!\"")]
    IllegalExclusion {
        /// 1-based line.
        line: usize,
    },
    /// Go's `filepath.ErrBadPattern`.
    #[error(".dockerignore:{line}: syntax error in pattern {}", crate::parser::go_quote(.pattern))]
    BadPattern {
        /// The pattern as read.
        pattern: String,
        /// 1-based line.
        line: usize,
    },
}

/// One pattern line as read from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternLine {
    /// The normalized pattern, `!` included for exceptions.
    pub text: String,
    /// 1-based line in the file.
    pub line: usize,
}

/// A read `.dockerignore`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoreFile {
    /// The patterns in order.
    pub patterns: Vec<PatternLine>,
}

/// Go's `filepath.Clean` for `/`-separated paths.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let p = path.as_bytes();
    let rooted = p[0] == b'/';
    let n = p.len();
    let mut out: Vec<u8> = Vec::with_capacity(n);
    let (mut r, mut dotdot) = (0, 0);
    if rooted {
        out.push(b'/');
        r = 1;
        dotdot = 1;
    }
    while r < n {
        let at = |i: usize| p.get(i).copied();
        if p[r] == b'/' || (p[r] == b'.' && matches!(at(r + 1), None | Some(b'/'))) {
            // An empty or `.` element.
            r += 1;
        } else if p[r] == b'.' && at(r + 1) == Some(b'.') && matches!(at(r + 2), None | Some(b'/'))
        {
            r += 2;
            if out.len() > dotdot {
                // Backtrack to the previous slash (or the `..` barrier).
                let mut w = out.len() - 1;
                while w > dotdot && out.get(w) != Some(&b'/') {
                    w -= 1;
                }
                out.truncate(w);
            } else if !rooted {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(b"..");
                dotdot = out.len();
            }
        } else {
            if (rooted && out.len() != 1) || (!rooted && !out.is_empty()) {
                out.push(b'/');
            }
            while r < n && p[r] != b'/' {
                out.push(p[r]);
                r += 1;
            }
        }
    }
    if out.is_empty() {
        return ".".to_string();
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Read a `.dockerignore` (docker's `ReadAll`).
pub fn parse(content: &[u8]) -> Result<IgnoreFile, DockerignoreError> {
    let text = String::from_utf8_lossy(content);
    let mut patterns = Vec::new();
    let mut lines: Vec<&str> = text.split('\n').collect();
    if text.ends_with('\n') {
        lines.pop();
    }
    for (i, raw) in lines.into_iter().enumerate() {
        let line = i + 1;
        if raw.len() >= 65536 {
            return Err(DockerignoreError::LineTooLong { line });
        }
        let mut l = raw.strip_suffix('\r').unwrap_or(raw);
        if i == 0 {
            l = l.strip_prefix('\u{FEFF}').unwrap_or(l);
        }
        if l.starts_with('#') {
            continue;
        }
        let mut pattern = l.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut p = String::new();
        if !pattern.is_empty() {
            p = clean(pattern);
            if p.len() > 1 && p.starts_with('/') {
                p.remove(0);
            }
        }
        if invert {
            p.insert(0, '!');
        }
        patterns.push(PatternLine { text: p, line });
    }
    Ok(IgnoreFile { patterns })
}

/// One compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The pattern as given to the matcher (with `!` for exceptions).
    pub text: String,
    /// 1-based line in the file.
    pub line: usize,
    /// Whether this is an exception (`!pattern`).
    pub exclusion: bool,
    /// The cleaned pattern without its `!` (patternmatcher's `String()`).
    cleaned: String,
    kind: Kind,
}

impl Pattern {
    fn bad(&self) -> DockerignoreError {
        DockerignoreError::BadPattern {
            pattern: self.text.clone(),
            line: self.line,
        }
    }

    /// The byte every path this pattern can match starts with, if fixed.
    fn first_byte(&self) -> Option<u8> {
        match &self.kind {
            Kind::Exact(t) | Kind::Prefix(t) => t.as_bytes().first().copied(),
            Kind::Glob(g) => g.prefix.as_bytes().first().copied(),
            Kind::Suffix(_) | Kind::Bad => None,
        }
    }

    /// Match `path` or one of its parent directories (`slashes` are the
    /// byte offsets of `/` in `path`). Returns the length of the matching
    /// candidate (the full length for the path itself). Literal prefix,
    /// suffix and needle checks run before the NFA.
    fn matches_path(
        &self,
        text: &str,
        slashes: &[u32],
    ) -> Result<Option<usize>, DockerignoreError> {
        let path = text.as_bytes();
        match &self.kind {
            Kind::Bad => Err(self.bad()),
            Kind::Exact(t) => {
                let t = t.as_bytes();
                if !glob::starts(path, t) {
                    return Ok(None);
                }
                Ok(match path.get(t.len()) {
                    None => Some(path.len()),
                    Some(b'/') => Some(t.len()),
                    Some(_) => None,
                })
            }
            Kind::Prefix(p) => {
                let p = p.as_bytes();
                if !glob::starts(path, p) {
                    return Ok(None);
                }
                // The shortest candidate that has the prefix.
                for &s in slashes {
                    if s as usize >= p.len() {
                        return Ok(Some(s as usize));
                    }
                }
                Ok(Some(path.len()))
            }
            Kind::Glob(g) => {
                if !glob::starts(path, g.prefix.as_bytes()) {
                    return Ok(None);
                }
                if let Some(k) = g.fixed_slashes {
                    let end = match slashes.len().cmp(&k) {
                        std::cmp::Ordering::Less => return Ok(None),
                        std::cmp::Ordering::Equal => path.len(),
                        std::cmp::Ordering::Greater => slashes[k] as usize,
                    };
                    return Ok(g.matches(&text[..end]).then_some(end));
                }
                let sfx = g.suffix.as_bytes();
                let mut min = g.prefix.len();
                if sfx.is_empty() {
                    // No literal suffix to filter on: a candidate must at
                    // least contain the needle.
                    let Some(at) = glob::find(path, g.needle.as_bytes()) else {
                        return Ok(None);
                    };
                    min = min.max(at + g.needle.len());
                }
                let check = |e: usize| e >= min && glob::ends(&path[..e], sfx) && g.run(&text[..e]);
                for &s in slashes {
                    if check(s as usize) {
                        return Ok(Some(s as usize));
                    }
                }
                Ok(check(path.len()).then_some(path.len()))
            }
            Kind::Suffix(sfx) => {
                let sfx = sfx.as_bytes();
                let bare = sfx.strip_prefix(b"/");
                let check = |e: usize| {
                    let c = &path[..e];
                    glob::ends(c, sfx) || bare.is_some_and(|b| glob::eq(c, b))
                };
                for &s in slashes {
                    if check(s as usize) {
                        return Ok(Some(s as usize));
                    }
                }
                Ok(check(path.len()).then_some(path.len()))
            }
        }
    }

    /// Could some path strictly inside directory `dir` match?
    fn could_match_under(&self, dir: &str) -> bool {
        let under = format!("{dir}/");
        match &self.kind {
            Kind::Exact(t) => t.starts_with(&under),
            Kind::Prefix(p) => p.starts_with(&under) || under.starts_with(p.as_str()),
            Kind::Suffix(_) | Kind::Bad => true,
            Kind::Glob(g) => g.could_extend(&under),
        }
    }
}

/// A compiled `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
    /// For each first byte of a path, the (ordered) indices of the patterns
    /// that can match such a path: those whose text starts with that byte
    /// and those that can start with anything.
    by_first_byte: Vec<Vec<u32>>,
}

/// The pattern that decided a path's fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The pattern text (with `!` for an exception).
    pub pattern: String,
    /// Its 1-based line.
    pub line: usize,
    /// Whether it was an exception (the path is included again).
    pub exclusion: bool,
    /// The parent directory it matched, when it did not match the path
    /// itself.
    pub via_parent: Option<String>,
}

/// The answer of [`Matcher::explain`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// Whether the path is excluded from the context.
    pub excluded: bool,
    /// The last pattern that matched, if any (none: included by default).
    pub decided_by: Option<Decision>,
}

/// The answer of [`Matcher::match_dir`] for a context walker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirMatch {
    /// The directory is part of the context: descend.
    Included,
    /// The directory is excluded. When `can_skip`, nothing inside can be
    /// re-included and the walker may prune it; otherwise an exception
    /// pattern may match something inside, so descend and test each entry.
    Excluded {
        /// Whether the whole subtree can be skipped.
        can_skip: bool,
    },
}

impl DirMatch {
    /// Whether the walker may skip the directory entirely.
    pub fn can_skip(&self) -> bool {
        matches!(self, DirMatch::Excluded { can_skip: true })
    }
}

/// Offsets of `/` in `path` (inline for up to 32 levels), and whether the
/// path is already clean and relative (no empty, `.` or `..` components, no
/// leading or trailing `/`), in one pass.
struct Slashes {
    inline: [u32; 32],
    heap: Vec<u32>,
    n: usize,
    clean: bool,
}

impl Slashes {
    fn scan(path: &[u8]) -> Slashes {
        let mut s = Slashes {
            inline: [0; 32],
            heap: Vec::new(),
            n: 0,
            clean: path.len() <= u32::MAX as usize,
        };
        let mut start = 0usize;
        let component = |s: &mut Slashes, c: &[u8]| {
            if c.is_empty() || c == b"." || c == b".." {
                s.clean = false;
            }
        };
        for (i, _) in path.iter().enumerate().filter(|(_, b)| **b == b'/') {
            component(&mut s, &path[start..i]);
            start = i + 1;
            let i = i as u32;
            if s.n < s.inline.len() {
                s.inline[s.n] = i;
            } else {
                if s.n == s.inline.len() {
                    s.heap.extend_from_slice(&s.inline);
                }
                s.heap.push(i);
            }
            s.n += 1;
        }
        component(&mut s, &path[start..]);
        s
    }

    fn get(&self) -> &[u32] {
        if self.n <= self.inline.len() {
            &self.inline[..self.n]
        } else {
            &self.heap
        }
    }
}

impl Matcher {
    /// Compile the patterns of a read file (patternmatcher's `New`).
    pub fn new(file: &IgnoreFile) -> Result<Matcher, DockerignoreError> {
        Matcher::from_lines(file.patterns.iter().map(|p| (p.text.as_str(), p.line)))
    }

    /// Compile patterns given as strings (line numbers are positions, from 1).
    pub fn from_patterns<S: AsRef<str>>(
        patterns: impl IntoIterator<Item = S>,
    ) -> Result<Matcher, DockerignoreError> {
        let v: Vec<S> = patterns.into_iter().collect();
        Matcher::from_lines(v.iter().enumerate().map(|(i, s)| (s.as_ref(), i + 1)))
    }

    fn from_lines<'a>(
        lines: impl Iterator<Item = (&'a str, usize)>,
    ) -> Result<Matcher, DockerignoreError> {
        let mut m = Matcher::default();
        for (raw, line) in lines {
            let p = raw.trim();
            if p.is_empty() {
                continue;
            }
            let mut p = clean(p);
            let exclusion = p.starts_with('!');
            if exclusion {
                if p.len() == 1 {
                    return Err(DockerignoreError::IllegalExclusion { line });
                }
                p.remove(0);
                m.exclusions = true;
            }
            if glob::match_is_bad(&p, ".") {
                return Err(DockerignoreError::BadPattern {
                    pattern: raw.to_string(),
                    line,
                });
            }
            m.patterns.push(Pattern {
                text: raw.to_string(),
                line,
                exclusion,
                kind: glob::compile(&p),
                cleaned: p,
            });
        }
        m.by_first_byte = (0..=255u8)
            .map(|b| {
                (0u32..)
                    .zip(&m.patterns)
                    .filter(|(_, p)| p.first_byte().is_none_or(|f| f == b))
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        Ok(m)
    }

    /// The compiled patterns in order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Whether any pattern is an exception (`!`).
    pub fn has_exclusions(&self) -> bool {
        self.exclusions
    }

    /// Whether `path` (relative to the context, `/`-separated) is excluded:
    /// patternmatcher's `MatchesOrParentMatches` after cleaning the path.
    /// The context root itself is never excluded.
    pub fn matches(&self, path: &str) -> Result<bool, DockerignoreError> {
        Ok(self.decide(path)?.0)
    }

    /// Like [`Matcher::matches`], also naming the deciding pattern.
    pub fn explain(&self, path: &str) -> Result<Explanation, DockerignoreError> {
        let (excluded, decided) = self.decide(path)?;
        Ok(Explanation {
            excluded,
            decided_by: decided.map(|(i, len)| {
                let p = &self.patterns[i];
                let path = normalize(path);
                Decision {
                    pattern: p.text.clone(),
                    line: p.line,
                    exclusion: p.exclusion,
                    via_parent: (len < path.len()).then(|| path[..len].to_string()),
                }
            }),
        })
    }

    /// For a context walker: is directory `dir` excluded, and if so, can it
    /// be skipped without missing a re-included path?
    pub fn match_dir(&self, dir: &str) -> Result<DirMatch, DockerignoreError> {
        if !self.matches(dir)? {
            return Ok(DirMatch::Included);
        }
        let dir = normalize(dir);
        let can_skip = !self
            .patterns
            .iter()
            .any(|p| p.exclusion && p.could_match_under(&dir));
        Ok(DirMatch::Excluded { can_skip })
    }

    /// `(excluded, (deciding pattern, length of the matched candidate))`.
    fn decide(&self, path: &str) -> Result<(bool, Option<(usize, usize)>), DockerignoreError> {
        let mut slashes = Slashes::scan(path.as_bytes());
        let owned;
        let path = if slashes.clean {
            path
        } else {
            owned = normalize(path);
            slashes = Slashes::scan(owned.as_bytes());
            owned.as_str()
        };
        if path == "." || path.is_empty() {
            return Ok((false, None));
        }
        let bytes = path.as_bytes();
        let slashes = slashes.get();
        let mut matched = false;
        let mut decided = None;
        // Patterns that cannot match a path with this first byte are left
        // out; skipping them does not change the outcome.
        let first = usize::from(bytes.first().copied().unwrap_or(0));
        for &i in self
            .by_first_byte
            .get(first)
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            let Some(p) = self.patterns.get(i as usize) else {
                continue;
            };
            if p.exclusion != matched {
                continue;
            }
            if let Some(len) = p.matches_path(path, slashes)? {
                matched = !p.exclusion;
                decided = Some((i as usize, len));
            }
        }
        Ok((matched, decided))
    }
}

/// Clean a path and make it relative to the context root.
fn normalize(path: &str) -> String {
    let c = clean(path);
    match c.strip_prefix('/') {
        Some("") => ".".to_string(),
        Some(rest) => rest.to_string(),
        None => c,
    }
}

#[cfg(test)]
mod tests;
