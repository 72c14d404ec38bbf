//! The answer of a real build's context transfer.
//!
//! BuildKit sends the context through fsutil's filtered walk
//! (`tonistiigi/fsutil` `filter.go`, `filterFS.Walk`), not through
//! `MatchesOrParentMatches`. Two rules of that walk change what is sent:
//!
//! 1. A path is tested with `MatchesUsingParentResults`: a pattern that
//!    matched a parent directory applies to everything below it, and a
//!    pattern is otherwise tested against the path itself only. An
//!    exception skipped at a directory (because nothing was excluded yet
//!    when it was reached) is never tested against that directory again:
//!    with `foo/*` then `!foo`, `foo/bar` stays excluded (where
//!    `MatchesOrParentMatches` re-includes it through its parent `foo`).
//! 2. An excluded directory is not entered at all when every exception is
//!    a plain path (no `* [ ] ? ^ \` once a trailing `/*` or `/**` is cut)
//!    and none of them starts with the directory's path and a `/`.
//!
//! docker 20.10's older fsutil applied rule 2 to every exception, globs
//! included (so `*` with `!*/keep` sent no `a/keep`); current BuildKit,
//! which strata follows, enters the directory when an exception is a glob.

use super::{DirMatch, DockerignoreError, Kind, Matcher, Pattern, normalize};

/// What the context walk makes of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkMatch {
    /// Sent.
    Included,
    /// Not sent (the walk may still enter it when it is a directory).
    Excluded,
    /// Never reached: a parent directory was excluded and not entered.
    Pruned,
}

impl WalkMatch {
    /// Whether the path is left out of the context.
    pub fn excluded(self) -> bool {
        self != WalkMatch::Included
    }
}

impl Pattern {
    /// Does the pattern match `text` itself (not a parent of it)?
    fn matches_whole(&self, text: &str) -> Result<bool, DockerignoreError> {
        Ok(match &self.kind {
            Kind::Bad => return Err(self.bad()),
            Kind::Exact(t) => text == t,
            Kind::Prefix(p) => text.starts_with(p.as_str()),
            Kind::Suffix(sfx) => {
                text.ends_with(sfx.as_str()) || sfx.strip_prefix('/').is_some_and(|b| text == b)
            }
            Kind::Glob(g) => g.matches(text),
        })
    }

    /// fsutil's `patternWithoutTrailingGlob`.
    fn without_trailing_glob(&self) -> &str {
        let p = self.cleaned.as_str();
        let p = p.strip_suffix("/**").unwrap_or(p);
        p.strip_suffix("/*").unwrap_or(p)
    }
}

impl Matcher {
    /// Whether the walk leaves an excluded directory `dir` (clean,
    /// relative) without entering it (rule 2).
    fn walk_skips(&self, dir: &str) -> bool {
        if !self.exclusions {
            return true;
        }
        let exceptions = self.patterns.iter().filter(|p| p.exclusion);
        let plain = exceptions.clone().all(|p| {
            !p.without_trailing_glob()
                .contains(['*', '[', ']', '?', '^', '\\'])
        });
        plain
            && !exceptions.into_iter().any(|p| {
                let pat = format!("{}/", p.without_trailing_glob());
                pat.starts_with(dir) && pat.as_bytes().get(dir.len()) == Some(&b'/')
            })
    }

    /// patternmatcher's `MatchesUsingParentResults` for `text`, given what
    /// its parent directory recorded (empty for a top-level entry).
    fn using_parent(
        &self,
        text: &str,
        parent: &[bool],
    ) -> Result<(bool, Vec<bool>), DockerignoreError> {
        let mut matched = false;
        let mut recorded = vec![false; self.patterns.len()];
        for (i, p) in self.patterns.iter().enumerate() {
            let mut m = parent.get(i).copied().unwrap_or(false);
            if !m {
                if p.exclusion != matched {
                    continue;
                }
                m = p.matches_whole(text)?;
            }
            recorded[i] = m;
            if m {
                matched = !p.exclusion;
            }
        }
        Ok((matched, recorded))
    }

    /// What the context transfer does with `path` (relative to the
    /// context, `/`-separated): see the module doc.
    pub fn walk_match(&self, path: &str) -> Result<WalkMatch, DockerignoreError> {
        let path = normalize(path);
        if path == "." {
            return Ok(WalkMatch::Included);
        }
        if !self.exclusions {
            // Without exceptions both rules agree with the plain matcher.
            return Ok(if self.matches(&path)? {
                WalkMatch::Excluded
            } else {
                WalkMatch::Included
            });
        }
        let mut recorded: Vec<bool> = Vec::new();
        let ends = path
            .match_indices('/')
            .map(|(i, _)| i)
            .chain(std::iter::once(path.len()));
        for end in ends {
            let text = &path[..end];
            let (excluded, rec) = self.using_parent(text, &recorded)?;
            if end == path.len() {
                return Ok(if excluded {
                    WalkMatch::Excluded
                } else {
                    WalkMatch::Included
                });
            }
            if excluded && self.walk_skips(text) {
                return Ok(WalkMatch::Pruned);
            }
            recorded = rec;
        }
        Ok(WalkMatch::Included)
    }

    /// [`Matcher::match_dir`] with the context walk's answer: an excluded
    /// directory can be skipped when the walk would not enter it, or when
    /// no exception could re-include anything inside.
    pub fn match_context_dir(&self, dir: &str) -> Result<DirMatch, DockerignoreError> {
        let dir = normalize(dir);
        Ok(match self.walk_match(&dir)? {
            WalkMatch::Included => DirMatch::Included,
            WalkMatch::Pruned => DirMatch::Excluded { can_skip: true },
            WalkMatch::Excluded => DirMatch::Excluded {
                can_skip: self.walk_skips(&dir)
                    || !self
                        .patterns
                        .iter()
                        .any(|p| p.exclusion && p.could_match_under(&dir)),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(patterns: &[&str], path: &str) -> WalkMatch {
        Matcher::from_patterns(patterns)
            .unwrap()
            .walk_match(path)
            .unwrap()
    }

    #[test]
    fn parent_results_not_parent_matches() {
        // `!foo` was skipped at `foo` (nothing excluded yet): not retried.
        assert_eq!(walk(&["foo/*", "!foo"], "foo/bar/x"), WalkMatch::Pruned);
        assert_eq!(walk(&["foo/*", "!foo"], "foo/bar"), WalkMatch::Excluded);
        assert_eq!(walk(&["foo/*", "!foo"], "foo"), WalkMatch::Included);
        let m = Matcher::from_patterns(["foo/*", "!foo"]).unwrap();
        assert!(
            !m.matches("foo/bar/x").unwrap(),
            "MatchesOrParentMatches differs"
        );
    }

    #[test]
    fn plain_exceptions_prune_glob_exceptions_do_not() {
        assert_eq!(walk(&["a", "!a/b"], "a/b/y"), WalkMatch::Included);
        assert_eq!(walk(&["a", "!a/b"], "a/x"), WalkMatch::Excluded);
        assert_eq!(walk(&["a", "!a/b/*"], "a/b/y"), WalkMatch::Included);
        assert_eq!(walk(&["a", "!c"], "a/x"), WalkMatch::Pruned);
        // A glob exception: the walk enters every excluded directory.
        assert_eq!(walk(&["*", "!*/b"], "a/b/y"), WalkMatch::Included);
        assert_eq!(walk(&["*", "!**/*.go"], "docs/x.go"), WalkMatch::Included);
        assert_eq!(walk(&["*", "!**/*.go"], "docs/x.md"), WalkMatch::Excluded);
        assert_eq!(
            walk(&["node_modules"], "node_modules/x"),
            WalkMatch::Excluded
        );
    }

    #[test]
    fn context_dirs() {
        let m = Matcher::from_patterns(["a", "!a/b"]).unwrap();
        assert_eq!(
            m.match_context_dir("a").unwrap(),
            DirMatch::Excluded { can_skip: false }
        );
        assert_eq!(
            m.match_context_dir("a/c").unwrap(),
            DirMatch::Excluded { can_skip: true }
        );
        assert_eq!(m.match_context_dir("a/b").unwrap(), DirMatch::Included);
    }
}
