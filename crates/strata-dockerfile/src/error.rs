//! Line ranges, the crate's error type, warnings, and BuildKit's source
//! snippet rendering (`Dockerfile:3` / `-----` / `   3 | >>> BAD`).

use std::fmt::Write as _;

use crate::instructions::InstructionError;
use crate::parser::ParseError;
use crate::shell::ExpandError;

/// A 1-based, inclusive range of physical lines of the Dockerfile. An
/// instruction's range covers its continuation lines and heredoc bodies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LineRange {
    /// First line.
    pub start: usize,
    /// Last line (`>= start`).
    pub end: usize,
}

impl LineRange {
    /// A range; `end` below `start` is raised to `start` (as BuildKit does).
    pub fn new(start: usize, end: usize) -> Self {
        LineRange {
            start,
            end: end.max(start),
        }
    }

    /// A single line.
    pub fn line(line: usize) -> Self {
        LineRange::new(line, line)
    }

    /// Whether `line` is inside the range.
    pub fn contains(&self, line: usize) -> bool {
        self.start <= line && line <= self.end
    }
}

impl std::fmt::Display for LineRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// Every error this crate reports about a Dockerfile. `Display` is
/// `Dockerfile:LINE: message`; [`Error::snippet`] renders BuildKit's
/// quoted-source block for the CLI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text could not be parsed into instructions.
    #[error("Dockerfile:{}: {error}", .range.start)]
    Parse {
        /// Where.
        range: LineRange,
        /// What.
        error: ParseError,
    },
    /// An instruction is malformed (arity, flags, values).
    #[error("Dockerfile:{}: {error}", .range.start)]
    Instruction {
        /// Where.
        range: LineRange,
        /// What.
        error: InstructionError,
    },
    /// Variable expansion of an instruction failed.
    #[error("Dockerfile:{}: {error}", .range.start)]
    Expand {
        /// Where.
        range: LineRange,
        /// What.
        error: ExpandError,
    },
}

impl Error {
    /// The lines the error refers to.
    pub fn range(&self) -> LineRange {
        match self {
            Error::Parse { range, .. }
            | Error::Instruction { range, .. }
            | Error::Expand { range, .. } => *range,
        }
    }

    /// The message without the `Dockerfile:LINE: ` prefix.
    pub fn message(&self) -> String {
        match self {
            Error::Parse { error, .. } => error.to_string(),
            Error::Instruction { error, .. } => error.to_string(),
            Error::Expand { error, .. } => error.to_string(),
        }
    }

    /// BuildKit's source snippet for this error, e.g.
    ///
    /// ```text
    /// Dockerfile:3
    /// --------------------
    ///    1 |     FROM alpine
    ///    2 |     RUN true
    ///    3 | >>> BAD
    /// --------------------
    /// ```
    ///
    /// `None` when the range is outside `source`.
    pub fn snippet(&self, source: &str, filename: &str) -> Option<String> {
        render_snippet(source, filename, self.range())
    }
}

/// Render the lines of `range` from `source` with context, exactly like
/// BuildKit's `errdefs.Source.Print`: two lines of context around a single
/// line, one around a range, `>>>` marking the lines in the range.
pub fn render_snippet(source: &str, filename: &str, range: LineRange) -> Option<String> {
    let lines: Vec<&str> = source
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let (mut start, mut end) = (range.start, range.end);
    if start < 1 || start > lines.len() {
        return None;
    }
    end = end.min(lines.len()).max(start);
    let pad = if end == start { 4 } else { 2 };
    let first = start;
    let mut p = 0;
    while p < pad {
        if start > 1 {
            start -= 1;
            p += 1;
        }
        if end != lines.len() {
            end += 1;
            p += 1;
        }
        p += 1;
    }
    let rule = "-".repeat(20);
    let mut out = String::new();
    let _ = writeln!(out, "{filename}:{first}\n{rule}");
    for (i, line) in lines.iter().enumerate().take(end).skip(start - 1) {
        let n = i + 1;
        let mark = if range.contains(n) { ">>>" } else { "   " };
        let _ = writeln!(out, " {n:>3} | {mark} {}", escape_controls(line, false));
    }
    let _ = writeln!(out, "{rule}");
    Some(out)
}

/// `text` with control characters spelled out (`\x1b`, `\u{9b}`) so
/// that echoing a Dockerfile line (or anything a user wrote) to a terminal
/// never runs escape sequences hidden in it. Tabs stay; newlines stay when
/// `keep_newlines`.
pub fn escape_controls(text: &str, keep_newlines: bool) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| c.is_control() && c != '\t' && !(keep_newlines && c == '\n');
    if !text.chars().any(bad) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !bad(c) => out.push(c),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A non-fatal finding with its position, such as BuildKit's build checks
/// (`NoEmptyContinuation`, `MaintainerDeprecated`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The check's name, as in `# check=skip=<rule>`.
    pub rule: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Where.
    pub range: LineRange,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} (line {})", self.rule, self.message, self.range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_single_line_has_two_lines_of_context() {
        let src = "FROM a\nRUN 1\nBAD\nRUN 2\nRUN 3\nRUN 4\n";
        let s = render_snippet(src, "Dockerfile", LineRange::line(3)).unwrap();
        assert_eq!(
            s,
            "Dockerfile:3\n--------------------\n   1 |     FROM a\n   2 |     RUN 1\n   3 | >>> BAD\n   4 |     RUN 2\n   5 |     RUN 3\n--------------------\n"
        );
    }

    #[test]
    fn snippets_escape_control_bytes() {
        let src = "FROM a\nRUN echo \x1b[31mred\x07\r\u{9b}2J\tx\n";
        let s = render_snippet(src, "Dockerfile", LineRange::line(2)).unwrap();
        assert!(s.contains(r"RUN echo \x1b[31mred\x07\r\u{9b}2J"), "{s:?}");
        assert!(!s.contains('\x1b') && !s.contains('\u{9b}'));
        assert_eq!(escape_controls("a\nb", true), "a\nb");
        assert_eq!(escape_controls("a\nb", false), r"a\nb");
    }

    #[test]
    fn snippet_range_and_edges() {
        let src = "A\nB\nC\nD";
        let s = render_snippet(src, "f", LineRange::new(1, 2)).unwrap();
        assert_eq!(
            s,
            "f:1\n--------------------\n   1 | >>> A\n   2 | >>> B\n   3 |     C\n--------------------\n"
        );
        assert!(render_snippet(src, "f", LineRange::line(0)).is_none());
        assert!(render_snippet(src, "f", LineRange::line(9)).is_none());
    }
}
