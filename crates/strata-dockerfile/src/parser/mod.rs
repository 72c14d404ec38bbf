//! Dockerfile text → AST with line ranges, exactly as BuildKit's
//! `frontend/dockerfile/parser` builds it: no semantics, arguments mostly
//! raw (quotes kept, nothing expanded).
//!
//! Handles parser directives at the top (`syntax`, `escape`, `check`),
//! comments, continuation lines (with comment and blank lines inside them),
//! exec (JSON) versus shell form, leading `--flags`, ONBUILD nesting,
//! case-insensitive keywords, heredocs for RUN/COPY/ADD, and the 64 KiB line
//! limit. [`Ast::dump`] renders BuildKit's `result` test format.
//!
//! ```
//! let ast = strata_dockerfile::parser::parse(b"FROM alpine\nRUN echo \\\n  hi\n").unwrap();
//! assert_eq!(ast.dump(), "(from \"alpine\")\n(run \"echo   hi\")\n");
//! assert_eq!(ast.nodes[1].range.end, 3);
//! ```

mod directives;
mod dump;
mod heredoc;
mod json;
mod split;

pub use directives::{CheckConfig, Directive, Directives};
pub use dump::go_quote;
pub use heredoc::{Heredoc, chomp, parse_heredoc};

use crate::error::{Error, LineRange, Warning};
use crate::shell::ExpandError;
use directives::{DirectiveState, trim_continuation};

/// The longest physical line accepted, in bytes.
pub const MAX_LINE_LEN: usize = 65535;

/// How deeply ONBUILD may be nested inside ONBUILD at the parser level
/// (the instruction layer rejects any nesting; this only bounds recursion).
pub const MAX_ONBUILD_DEPTH: usize = 16;

/// Why the text could not be parsed (messages are BuildKit's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A physical line is longer than [`MAX_LINE_LEN`].
    #[error("dockerfile line greater than max allowed size of {MAX_LINE_LEN}")]
    LineTooLong,
    /// Only blank lines, comments and directives.
    #[error("file with no instructions")]
    NoInstructions,
    /// A directive appears twice.
    #[error("only one {0} parser directive can be used")]
    DuplicateDirective(String),
    /// `# escape=` with something other than `\` or `` ` ``.
    #[error("invalid escape token '{0}' does not match ` or \\")]
    InvalidEscape(String),
    /// A heredoc without its terminator line.
    #[error("unterminated heredoc")]
    UnterminatedHeredoc,
    /// The heredoc delimiter word could not be lexed.
    #[error("{0}")]
    HeredocWord(ExpandError),
    /// `CMD ["a", 1]`.
    #[error("when using JSON array syntax, arrays must be comprised of strings only")]
    NotStringArray,
    /// `ENV PATH` (legacy form without a value).
    #[error("{0} must have two arguments")]
    MissingValue(String),
    /// `ENV a=b c`.
    #[error("Syntax error - can't find = in {}. Must be of the form: name=value", go_quote(.0))]
    MissingEquals(String),
    /// ONBUILD nested more than [`MAX_ONBUILD_DEPTH`] times.
    #[error("ONBUILD nested more than {MAX_ONBUILD_DEPTH} levels deep")]
    TooDeep,
}

/// One instruction of the AST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The keyword as written (`RUN`, `run`, `Run`…).
    pub keyword: String,
    /// Leading `--flag[=value]` words, quotes removed.
    pub flags: Vec<String>,
    /// Argument nodes (see the crate docs for the per-instruction rules).
    pub args: Vec<String>,
    /// ONBUILD's trigger instruction.
    pub sub: Option<Box<Node>>,
    /// Whether the arguments were given in JSON (exec) form.
    pub json: bool,
    /// The joined logical line (continuations resolved, no heredoc bodies).
    pub original: String,
    /// Heredocs opened on this line, with their bodies.
    pub heredocs: Vec<Heredoc>,
    /// Physical lines covered, including continuations and heredoc bodies.
    pub range: LineRange,
    /// Comment lines directly above the instruction.
    pub comments: Vec<String>,
}

/// The known instruction `keyword` names, case-insensitively, as its
/// lower-case static name.
pub fn keyword(keyword: &str) -> Option<&'static str> {
    crate::instructions::INSTRUCTIONS
        .iter()
        .copied()
        .find(|k| k.eq_ignore_ascii_case(keyword))
}

impl Node {
    /// The keyword in lower case, for dispatch.
    pub fn name(&self) -> String {
        self.keyword.to_ascii_lowercase()
    }

    fn can_contain_heredoc(&self) -> bool {
        let node = match (&self.sub, keyword(&self.keyword)) {
            (Some(sub), Some("onbuild")) => sub,
            _ => self,
        };
        matches!(keyword(&node.keyword), Some("add" | "copy" | "run")) && !node.json
    }
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ast {
    /// The instructions in file order.
    pub nodes: Vec<Node>,
    /// Parser directives found at the top.
    pub directives: Directives,
    /// The escape character in effect (`\` or `` ` ``).
    pub escape: char,
    /// Non-fatal findings (empty continuation lines).
    pub warnings: Vec<Warning>,
}

impl Ast {
    /// BuildKit's `result` dump: one `(node)` line per instruction.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        for n in &self.nodes {
            out.push('(');
            out.push_str(&n.dump());
            out.push_str(")\n");
        }
        out
    }
}

pub(crate) struct NodeCtx {
    pub(crate) escape: char,
    depth: usize,
}

/// Build a node from one joined line.
pub(crate) fn node_from_line(line: String, ctx: &mut NodeCtx) -> Result<Node, ParseError> {
    if ctx.depth > MAX_ONBUILD_DEPTH {
        return Err(ParseError::TooDeep);
    }
    let (keyword, flags, rest) = split::split_command(&line);
    ctx.depth += 1;
    let parsed = split::parse_args(self::keyword(&keyword).unwrap_or(""), &rest, ctx);
    ctx.depth -= 1;
    let parsed = parsed?;
    Ok(Node {
        keyword,
        flags,
        args: parsed.args,
        sub: parsed.sub,
        json: parsed.json,
        original: line,
        heredocs: Vec::new(),
        range: LineRange::default(),
        comments: Vec::new(),
    })
}

/// Parse a single instruction line (as found in an image's ONBUILD list).
pub fn parse_line(line: &str, escape: char) -> Result<Node, ParseError> {
    node_from_line(line.to_string(), &mut NodeCtx { escape, depth: 0 })
}

/// Physical lines of the input, each with its `\n`.
struct Lines<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Lines<'a> {
    fn next_line(&mut self, line_no: usize) -> Result<Option<&'a str>, Error> {
        if self.pos >= self.text.len() {
            return Ok(None);
        }
        let rest = &self.text[self.pos..];
        let len = rest.find('\n').map_or(rest.len(), |i| i + 1);
        let line = &rest[..len];
        if line.strip_suffix('\n').unwrap_or(line).len() > MAX_LINE_LEN {
            return Err(Error::Parse {
                range: LineRange::line(line_no),
                error: ParseError::LineTooLong,
            });
        }
        self.pos += len;
        Ok(Some(line))
    }
}

fn trim_newline(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

fn is_comment(raw: &str) -> bool {
    trim_newline(raw).trim_start().starts_with('#')
}

fn process_line<'a>(
    d: &mut DirectiveState,
    raw: &'a str,
    strip_left: bool,
    line_no: usize,
) -> Result<&'a str, Error> {
    let mut token = trim_newline(raw);
    if strip_left {
        token = token.trim_start();
    }
    d.see(token, line_no).map_err(|error| Error::Parse {
        range: LineRange::line(line_no),
        error,
    })?;
    Ok(if token.starts_with('#') { "" } else { token })
}

/// Parse Dockerfile bytes. Invalid UTF-8 is replaced by U+FFFD first.
pub fn parse(input: &[u8]) -> Result<Ast, Error> {
    parse_str(&String::from_utf8_lossy(input))
}

/// Parse Dockerfile text.
pub fn parse_str(text: &str) -> Result<Ast, Error> {
    let mut lines = Lines { text, pos: 0 };
    let mut d = DirectiveState::new();
    let mut current = 0usize;
    let mut nodes = Vec::new();
    let mut warnings = Vec::new();
    let mut comments: Vec<String> = Vec::new();

    while let Some(mut raw) = lines.next_line(current + 1)? {
        if current == 0 {
            raw = raw.strip_prefix('\u{FEFF}').unwrap_or(raw);
        }
        if is_comment(raw) {
            let c = trim_newline(raw)
                .trim_start()
                .strip_prefix('#')
                .unwrap_or_default()
                .trim();
            if c.is_empty() {
                comments.clear();
            } else {
                comments.push(c.to_string());
            }
        }
        let processed = process_line(&mut d, raw, true, current + 1)?;
        current += 1;
        let start = current;
        let (first, mut eol) = trim_continuation(processed, d.escape);
        if eol && first.is_empty() {
            continue;
        }
        let mut buf = first.to_string();
        let mut empty_continuation = false;
        while !eol {
            let Some(raw) = lines.next_line(current + 1)? else {
                break;
            };
            let processed = process_line(&mut d, raw, false, current + 1)?;
            current += 1;
            if is_comment(raw) {
                continue;
            }
            if processed.trim_start().is_empty() {
                empty_continuation = true;
                continue;
            }
            let (part, e) = trim_continuation(processed, d.escape);
            eol = e;
            buf.push_str(part);
        }
        if empty_continuation {
            warnings.push(Warning {
                rule: "NoEmptyContinuation",
                message: format!("Empty continuation line found in: {buf}"),
                range: LineRange::line(current),
            });
        }
        let mut ctx = NodeCtx {
            escape: d.escape,
            depth: 0,
        };
        let located = |error, end| Error::Parse {
            range: LineRange::new(start, end),
            error,
        };
        let mut node = node_from_line(buf, &mut ctx).map_err(|e| located(e, current))?;
        if node.can_contain_heredoc() && node.original.contains("<<") {
            let docs = heredoc::heredocs_from_line(&node.original)
                .map_err(|e| located(ParseError::HeredocWord(e), current))?;
            for mut doc in docs {
                let mut terminated = false;
                while let Some(raw) = lines.next_line(current + 1)? {
                    current += 1;
                    let mut t = trim_newline(raw);
                    if doc.chomp {
                        t = t.trim_start_matches('\t');
                    }
                    if t == doc.name {
                        terminated = true;
                        break;
                    }
                    doc.content.push_str(raw);
                }
                if !terminated {
                    return Err(located(ParseError::UnterminatedHeredoc, current));
                }
                node.heredocs.push(doc);
            }
        }
        node.range = LineRange::new(start, current);
        node.comments = std::mem::take(&mut comments);
        if let Some(sub) = node.sub.as_mut() {
            sub.range = node.range;
        }
        nodes.push(node);
    }
    if nodes.is_empty() {
        return Err(Error::Parse {
            range: LineRange::line(current),
            error: ParseError::NoInstructions,
        });
    }
    Ok(Ast {
        nodes,
        directives: d.found,
        escape: d.escape,
        warnings,
    })
}

#[cfg(test)]
mod tests;
