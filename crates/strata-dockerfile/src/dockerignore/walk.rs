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

use super::{Decision, DirMatch, DockerignoreError, Kind, Matcher, Pattern, normalize};

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

/// The answer of [`Matcher::walk_explain`]: what the context transfer
/// does with a path, and the pattern that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkExplanation {
    /// Sent, excluded, or never reached.
    pub outcome: WalkMatch,
    /// The last pattern that matched the path (or, for a pruned path, the
    /// directory the walk left out), with the ancestor it matched when it
    /// did not match the path itself. `None`: no pattern matched.
    pub decided_by: Option<Decision>,
    /// For [`WalkMatch::Pruned`]: the excluded directory the walk did not
    /// enter.
    pub pruned_at: Option<String>,
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
    /// its parent directory recorded (empty for a top-level entry). A
    /// record is, per pattern, the length of the ancestor (or of `text`)
    /// it first matched, 0 for none; the second value is the index of the
    /// pattern that decided.
    fn using_parent(
        &self,
        text: &str,
        parent: &[u32],
    ) -> Result<(bool, Option<usize>, Vec<u32>), DockerignoreError> {
        let mut matched = false;
        let mut decided = None;
        let mut recorded = vec![0u32; self.patterns.len()];
        for (i, p) in self.patterns.iter().enumerate() {
            let mut m = parent.get(i).copied().unwrap_or(0);
            if m == 0 {
                if p.exclusion != matched {
                    continue;
                }
                if p.matches_whole(text)? {
                    m = u32::try_from(text.len()).unwrap_or(u32::MAX);
                }
            }
            recorded[i] = m;
            if m != 0 {
                matched = !p.exclusion;
                decided = Some(i);
            }
        }
        Ok((matched, decided, recorded))
    }

    fn decision(&self, i: usize, len: usize, path: &str) -> Decision {
        let p = &self.patterns[i];
        Decision {
            pattern: p.text.clone(),
            line: p.line,
            exclusion: p.exclusion,
            via_parent: (len < path.len()).then(|| path[..len].to_string()),
        }
    }

    /// What the context transfer does with `path` (relative to the
    /// context, `/`-separated): see the module doc.
    pub fn walk_match(&self, path: &str) -> Result<WalkMatch, DockerignoreError> {
        Ok(self.walk(path, false)?.outcome)
    }

    /// [`Matcher::walk_match`], also naming the pattern that decided: the
    /// same walk, so the answer is always the one a build acts on.
    pub fn walk_explain(&self, path: &str) -> Result<WalkExplanation, DockerignoreError> {
        self.walk(path, true)
    }

    fn walk(&self, path: &str, explain: bool) -> Result<WalkExplanation, DockerignoreError> {
        let path = normalize(path);
        let answer = |outcome, decided_by, pruned_at| WalkExplanation {
            outcome,
            decided_by,
            pruned_at,
        };
        if path == "." {
            return Ok(answer(WalkMatch::Included, None, None));
        }
        if !self.exclusions {
            // Without exceptions both rules agree with the plain matcher.
            let (excluded, decided) = self.decide(&path)?;
            let outcome = if excluded {
                WalkMatch::Excluded
            } else {
                WalkMatch::Included
            };
            let decided = decided
                .filter(|_| explain)
                .map(|(i, len)| self.decision(i, len, &path));
            return Ok(answer(outcome, decided, None));
        }
        let mut recorded: Vec<u32> = Vec::new();
        let ends = path
            .match_indices('/')
            .map(|(i, _)| i)
            .chain(std::iter::once(path.len()));
        for end in ends {
            let text = &path[..end];
            let (excluded, decided, rec) = self.using_parent(text, &recorded)?;
            let decision = || {
                decided
                    .filter(|_| explain)
                    .map(|i| self.decision(i, rec[i] as usize, text))
            };
            if end == path.len() {
                let outcome = if excluded {
                    WalkMatch::Excluded
                } else {
                    WalkMatch::Included
                };
                return Ok(answer(outcome, decision(), None));
            }
            if excluded && self.walk_skips(text) {
                let at = explain.then(|| text.to_string());
                return Ok(answer(WalkMatch::Pruned, decision(), at));
            }
            recorded = rec;
        }
        Ok(answer(WalkMatch::Included, None, None))
    }

    /// Whether the context walk sends everything below directory `dir`:
    /// `dir` itself is sent and no pattern can match a path strictly
    /// inside it, so a walker need not test its entries one by one.
    pub fn includes_all_under(&self, dir: &str) -> Result<bool, DockerignoreError> {
        let dir = normalize(dir);
        if dir == "." || self.walk_match(&dir)? != WalkMatch::Included {
            return Ok(false);
        }
        Ok(!self.patterns.iter().any(|p| p.could_match_under(&dir)))
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
    fn includes_all_under() {
        let all = |patterns: &[&str], dir: &str| {
            Matcher::from_patterns(patterns)
                .unwrap()
                .includes_all_under(dir)
                .unwrap()
        };
        assert!(all(&["gen.sh", "data/.complete"], "data/small"));
        assert!(all(&["gen.sh", "data/.complete"], "other"));
        assert!(
            !all(&["gen.sh", "data/.complete"], "data"),
            "data/.complete"
        );
        assert!(!all(&["*.log"], "."), "the root is never whole");
        assert!(all(&["*.log"], "a"), "*.log matches top-level names only");
        assert!(!all(&["**/*.log"], "a"));
        assert!(!all(&["a/*/c"], "a/b"));
        assert!(!all(&["a/*/c"], "a/b/c/d"), "a/b/c is excluded");
        assert!(all(&["a/*/c"], "x"));
        assert!(!all(&["a"], "a"), "excluded itself");
        assert!(!all(&["a", "!a/keep"], "a"));
        assert!(!all(&["a/b*"], "a"));
        assert!(all(&["a/b*"], "a/c/b"), "a/b* matches a/b…, not a/c/b…");
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
    fn walk_explain_names_the_deciding_line() {
        let m = Matcher::new(
            &crate::dockerignore::parse(b"# c\nnode_modules\n*.log\n!keep.log\nfoo/*\n!foo\n")
                .unwrap(),
        )
        .unwrap();
        let e = m.walk_explain("keep.log").unwrap();
        assert_eq!(e.outcome, WalkMatch::Included);
        let d = e.decided_by.unwrap();
        assert_eq!(
            (d.pattern.as_str(), d.line, d.exclusion),
            ("!keep.log", 4, true)
        );
        let e = m.walk_explain("node_modules").unwrap();
        assert_eq!(e.outcome, WalkMatch::Excluded);
        let d = e.decided_by.unwrap();
        assert_eq!(
            (d.pattern.as_str(), d.line, d.via_parent),
            ("node_modules", 2, None)
        );
        // Every exception is a plain path: the walk never enters it.
        let e = m.walk_explain("node_modules/x/y.js").unwrap();
        assert_eq!(e.outcome, WalkMatch::Pruned);
        assert_eq!(e.pruned_at.as_deref(), Some("node_modules"));
        assert_eq!(e.decided_by.unwrap().line, 2);
        // `!foo` is never retried below `foo`: `foo/*` decides `foo/bar/x`.
        let e = m.walk_explain("foo/bar").unwrap();
        assert_eq!(e.outcome, WalkMatch::Excluded);
        assert_eq!(e.decided_by.unwrap().pattern, "foo/*");
        let m2 = Matcher::from_patterns(["foo/*", "!foo", "!*.md"]).unwrap();
        let e = m2.walk_explain("foo/bar/x").unwrap();
        assert_eq!(e.outcome, WalkMatch::Excluded);
        let d = e.decided_by.unwrap();
        assert_eq!(
            (d.pattern.as_str(), d.via_parent.as_deref()),
            ("foo/*", Some("foo/bar"))
        );
        assert_eq!(m.walk_explain("app.js").unwrap().decided_by, None);
        // A directory left unentered.
        let m = Matcher::from_patterns(["a", "!c"]).unwrap();
        let e = m.walk_explain("a/x/y").unwrap();
        assert_eq!(e.outcome, WalkMatch::Pruned);
        assert_eq!(e.pruned_at.as_deref(), Some("a"));
        assert_eq!(e.decided_by.unwrap().pattern, "a");
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
