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

mod glob;

use glob::Kind;

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
    kind: Kind,
}

impl Pattern {
    fn bad(&self) -> DockerignoreError {
        DockerignoreError::BadPattern {
            pattern: self.text.clone(),
            line: self.line,
        }
    }

    /// Does the pattern match `path` itself?
    fn matches_one(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact(t) => path == t,
            Kind::Prefix(p) => path.starts_with(p.as_str()),
            Kind::Suffix(s) => {
                path.ends_with(s.as_str()) || s.strip_prefix('/').is_some_and(|rest| path == rest)
            }
            Kind::Glob(g) => g.matches(path),
            Kind::Bad => false,
        }
    }

    /// Match `path` or one of its parent directories (`slashes` are the
    /// byte offsets of `/` in `path`). Returns the matching candidate's
    /// length (the full length for the path itself).
    fn matches_path(
        &self,
        path: &str,
        slashes: &[usize],
    ) -> Result<Option<usize>, DockerignoreError> {
        match &self.kind {
            Kind::Bad => Err(self.bad()),
            Kind::Exact(t) => Ok(if path == t {
                Some(path.len())
            } else if path.as_bytes().get(t.len()) == Some(&b'/') && path.starts_with(t.as_str()) {
                Some(t.len())
            } else {
                None
            }),
            Kind::Prefix(p) => {
                if !path.starts_with(p.as_str()) {
                    return Ok(None);
                }
                // The shortest candidate that has the prefix.
                Ok(Some(
                    slashes
                        .iter()
                        .copied()
                        .find(|&s| s >= p.len())
                        .unwrap_or(path.len()),
                ))
            }
            Kind::Glob(g) => {
                if let Some(k) = g.fixed_slashes {
                    let end = match slashes.len().cmp(&k) {
                        std::cmp::Ordering::Less => return Ok(None),
                        std::cmp::Ordering::Equal => path.len(),
                        std::cmp::Ordering::Greater => slashes[k],
                    };
                    return Ok(g.matches(&path[..end]).then_some(end));
                }
                Ok(self.scan(path, slashes))
            }
            Kind::Suffix(_) => Ok(self.scan(path, slashes)),
        }
    }

    fn scan(&self, path: &str, slashes: &[usize]) -> Option<usize> {
        if self.matches_one(path) {
            return Some(path.len());
        }
        slashes
            .iter()
            .copied()
            .find(|&s| self.matches_one(&path[..s]))
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

/// Offsets of `/` in `path`, on the stack for typical depths.
fn slash_positions(path: &str, buf: &mut [usize; 64], heap: &mut Vec<usize>) -> usize {
    let mut n = 0;
    for (i, b) in path.bytes().enumerate() {
        if b == b'/' {
            if n < buf.len() {
                buf[n] = i;
            } else {
                if n == buf.len() {
                    heap.extend_from_slice(buf);
                }
                heap.push(i);
            }
            n += 1;
        }
    }
    n
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
            });
        }
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
            decided_by: decided.map(|(i, cand, full)| {
                let p = &self.patterns[i];
                Decision {
                    pattern: p.text.clone(),
                    line: p.line,
                    exclusion: p.exclusion,
                    via_parent: (!full).then_some(cand),
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

    #[allow(clippy::type_complexity)]
    fn decide(
        &self,
        path: &str,
    ) -> Result<(bool, Option<(usize, String, bool)>), DockerignoreError> {
        let owned;
        let path = if is_clean_relative(path) {
            path
        } else {
            owned = normalize(path);
            owned.as_str()
        };
        if path == "." || path.is_empty() {
            return Ok((false, None));
        }
        let mut buf = [0usize; 64];
        let mut heap = Vec::new();
        let n = slash_positions(path, &mut buf, &mut heap);
        let slashes: &[usize] = if n <= buf.len() { &buf[..n] } else { &heap };
        let mut matched = false;
        let mut decided = None;
        for (i, p) in self.patterns.iter().enumerate() {
            if p.exclusion != matched {
                continue;
            }
            if let Some(len) = p.matches_path(path, slashes)? {
                matched = !p.exclusion;
                decided = Some((i, len));
            }
        }
        Ok((
            matched,
            decided.map(|(i, len)| (i, path[..len].to_string(), len == path.len())),
        ))
    }
}

fn is_clean_relative(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && !p.ends_with('/')
        && !p.contains("//")
        && p.split('/').all(|c| c != "." && c != "..")
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
