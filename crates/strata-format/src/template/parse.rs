//! The parser of Go's `text/template`: tokens to a [`Node`] tree.
//!
//! A recursive-descent restatement of `text/template/parse/parse.go`, with
//! Go's error messages (`unexpected EOF`, `function "foo" not defined`,
//! `unexpected <end> in operand`, …) and line numbers. `{{define}}` and
//! `{{block}}` are rejected: strata renders single anonymous templates, as
//! docker's `--format` does. Nesting is limited to [`MAX_DEPTH`] so hostile
//! input cannot exhaust the stack.

use super::ast::{Arg, Command, Node, Number, Pipe};
use super::lex::{Tok, Token, lex};
use crate::gofmt::quote;

/// Deepest nesting of control structures and parentheses accepted.
pub(crate) const MAX_DEPTH: usize = 200;

/// A parse error: the line of the last token read, and Go's message.
#[derive(Debug)]
pub(crate) struct ParseError {
    pub line: usize,
    pub message: String,
}

type PResult<T> = Result<T, ParseError>;

/// What ended an item list.
enum End {
    End,
    Else,
}

struct Parser<'f> {
    name: &'f str,
    tokens: Vec<Token>,
    i: usize,
    furthest: usize,
    vars: Vec<String>,
    range_depth: usize,
    depth: usize,
    action_line: usize,
    has_function: &'f dyn Fn(&str) -> bool,
}

/// Parses `text`; `has_function` says which identifiers are functions.
pub(crate) fn parse(
    name: &str,
    text: &str,
    has_function: &dyn Fn(&str) -> bool,
) -> PResult<Vec<Node>> {
    let mut p = Parser {
        name,
        tokens: lex(text),
        i: 0,
        furthest: 0,
        vars: vec!["$".to_string()],
        range_depth: 0,
        depth: 0,
        action_line: 0,
        has_function,
    };
    p.parse_root()
}

impl Parser<'_> {
    fn next(&mut self) -> Token {
        let i = self.i.min(self.tokens.len() - 1);
        self.i = i + 1;
        self.furthest = self.furthest.max(i);
        self.tokens[i].clone()
    }

    fn backup(&mut self) {
        self.i = self.i.saturating_sub(1);
    }

    fn peek(&mut self) -> Token {
        let t = self.next();
        self.backup();
        t
    }

    fn next_non_space(&mut self) -> Token {
        loop {
            let t = self.next();
            if t.kind != Tok::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Token {
        let t = self.next_non_space();
        self.backup();
        t
    }

    fn error<T>(&self, message: impl Into<String>) -> PResult<T> {
        let line = self.tokens[self.furthest.min(self.tokens.len() - 1)].line;
        Err(ParseError {
            line,
            message: message.into(),
        })
    }

    fn unexpected<T>(&self, token: &Token, context: &str) -> PResult<T> {
        if token.kind == Tok::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(" in action started at {}:{}", self.name, self.action_line);
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.error(format!("{token}{extra}"));
        }
        self.error(format!("unexpected {token} in {context}"))
    }

    fn expect(&mut self, kind: Tok, context: &str) -> PResult<Token> {
        let t = self.next_non_space();
        if t.kind != kind {
            return self.unexpected(&t, context);
        }
        Ok(t)
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.error("max expression depth exceeded");
        }
        Ok(())
    }

    fn parse_root(&mut self) -> PResult<Vec<Node>> {
        let mut root = Vec::new();
        while self.peek().kind != Tok::Eof {
            if self.peek().kind == Tok::LeftDelim {
                let at = self.i;
                self.next();
                match self.next_non_space().kind {
                    Tok::Define => return self.error("{{define}} is not supported"),
                    Tok::Block => return self.error("{{block}} is not supported"),
                    _ => self.i = at,
                }
            }
            match self.text_or_action()? {
                Item::Node(n) => root.push(n),
                Item::End => return self.error("unexpected {{end}}"),
                Item::Else => return self.error("unexpected {{else}}"),
            }
        }
        Ok(root)
    }

    fn item_list(&mut self) -> PResult<(Vec<Node>, End)> {
        let mut list = Vec::new();
        while self.peek_non_space().kind != Tok::Eof {
            match self.text_or_action()? {
                Item::Node(n) => list.push(n),
                Item::End => return Ok((list, End::End)),
                Item::Else => return Ok((list, End::Else)),
            }
        }
        self.error("unexpected EOF")
    }

    fn text_or_action(&mut self) -> PResult<Item> {
        let t = self.next_non_space();
        match t.kind {
            Tok::Text => Ok(Item::Node(Node::Text { text: t.val })),
            Tok::LeftDelim => {
                self.action_line = t.line;
                let r = self.action();
                self.action_line = 0;
                r
            }
            _ => self.unexpected(&t, "input"),
        }
    }

    fn action(&mut self) -> PResult<Item> {
        let t = self.next_non_space();
        match t.kind {
            Tok::Block => return self.error("{{block}} is not supported"),
            Tok::Define => return self.unexpected(&t, "command"),
            Tok::Break | Tok::Continue => {
                let what = if t.kind == Tok::Break {
                    "{{break}}"
                } else {
                    "{{continue}}"
                };
                let end = self.next_non_space();
                if end.kind != Tok::RightDelim {
                    return self.unexpected(&end, what);
                }
                if self.range_depth == 0 {
                    return self.error(format!("{what} outside {{{{range}}}}"));
                }
                return Ok(Item::Node(if t.kind == Tok::Break {
                    Node::Break { pos: t.pos }
                } else {
                    Node::Continue { pos: t.pos }
                }));
            }
            Tok::Else => {
                let peek = self.peek_non_space();
                if peek.kind != Tok::If && peek.kind != Tok::With {
                    self.expect(Tok::RightDelim, "else")?;
                }
                return Ok(Item::Else);
            }
            Tok::End => {
                self.expect(Tok::RightDelim, "end")?;
                return Ok(Item::End);
            }
            Tok::If => return self.control(Ctl::If).map(Item::Node),
            Tok::Range => return self.control(Ctl::Range).map(Item::Node),
            Tok::With => return self.control(Ctl::With).map(Item::Node),
            Tok::Template => return self.template_control().map(Item::Node),
            _ => {}
        }
        self.backup();
        let t = self.peek();
        let pipe = self.pipeline("command", Tok::RightDelim)?;
        Ok(Item::Node(Node::Action { pos: t.pos, pipe }))
    }

    fn control(&mut self, ctl: Ctl) -> PResult<Node> {
        self.enter()?;
        let mark = self.vars.len();
        let context = ctl.name();
        let pipe = self.pipeline(context, Tok::RightDelim)?;
        if ctl == Ctl::Range {
            self.range_depth += 1;
        }
        let (list, end) = self.item_list()?;
        if ctl == Ctl::Range {
            self.range_depth -= 1;
        }
        let mut else_list = None;
        if let End::Else = end {
            let chained = match ctl {
                Ctl::If => Tok::If,
                Ctl::With => Tok::With,
                Ctl::Range => Tok::Eof,
            };
            if ctl != Ctl::Range && self.peek().kind == chained {
                // {{else if x}} … {{end}} is {{else}}{{if x}} … {{end}}{{end}}.
                self.next();
                else_list = Some(vec![self.control(ctl)?]);
            } else {
                let (l, end) = self.item_list()?;
                if let End::Else = end {
                    return self.error("expected end; found {{else}}");
                }
                else_list = Some(l);
            }
        }
        self.vars.truncate(mark);
        self.depth -= 1;
        let pos = pipe.pos;
        Ok(match ctl {
            Ctl::If => Node::If {
                pos,
                pipe,
                list,
                else_list,
            },
            Ctl::Range => Node::Range {
                pos,
                pipe,
                list,
                else_list,
            },
            Ctl::With => Node::With {
                pos,
                pipe,
                list,
                else_list,
            },
        })
    }

    fn template_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "template clause";
        let t = self.next_non_space();
        let name = match t.kind {
            Tok::String | Tok::RawString => match unquote(&t.val) {
                Some(s) => s,
                None => return self.error("invalid syntax"),
            },
            _ => return self.unexpected(&t, CONTEXT),
        };
        let mut pipe = None;
        if self.next_non_space().kind != Tok::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(CONTEXT, Tok::RightDelim)?);
        }
        Ok(Node::Template {
            pos: t.pos,
            name,
            pipe,
        })
    }

    fn pipeline(&mut self, context: &str, end: Tok) -> PResult<Pipe> {
        let first = self.peek_non_space();
        let mut pipe = Pipe {
            pos: first.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        // Declarations: `$x :=`, `$x =`, or `$i, $e :=` in range.
        loop {
            let v = self.peek_non_space();
            if v.kind != Tok::Variable {
                break;
            }
            let at = self.i;
            self.next();
            let next = self.peek_non_space();
            match next.kind {
                Tok::Assign | Tok::Declare => {
                    pipe.is_assign = next.kind == Tok::Assign;
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                }
                Tok::Char if next.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().kind {
                            Tok::Variable | Tok::RightDelim | Tok::RightParen => continue,
                            _ => return self.error("range can only initialize variables"),
                        }
                    }
                    return self.error(format!("too many declarations in {context}"));
                }
                _ => self.i = at,
            }
            break;
        }
        loop {
            let t = self.next_non_space();
            if t.kind == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match t.kind {
                Tok::Bool
                | Tok::CharConstant
                | Tok::Complex
                | Tok::Dot
                | Tok::Field
                | Tok::Identifier
                | Tok::Number
                | Tok::Nil
                | Tok::RawString
                | Tok::String
                | Tok::Variable
                | Tok::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&t, context),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return self.error(format!("missing value for {context}"));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args[0],
                Arg::Bool { .. }
                    | Arg::Dot { .. }
                    | Arg::Nil { .. }
                    | Arg::Number { .. }
                    | Arg::String { .. }
            ) {
                return self.error(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                ));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut args = Vec::new();
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                args.push(op);
            }
            let t = self.next();
            match t.kind {
                Tok::Space => continue,
                Tok::RightDelim | Tok::RightParen => self.backup(),
                Tok::Pipe => {}
                _ => return self.unexpected(&t, "operand"),
            }
            break;
        }
        if args.is_empty() {
            return self.error("empty command");
        }
        Ok(Command { pos, args })
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != Tok::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().kind == Tok::Field {
            fields.push(self.next().val[1..].to_string());
        }
        Ok(Some(match node {
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field { pos, idents }
            }
            Arg::Variable { mut idents, .. } => {
                idents.extend(fields);
                Arg::Variable { pos, idents }
            }
            Arg::Bool { .. }
            | Arg::String { .. }
            | Arg::Number { .. }
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                return self.error(format!(
                    "unexpected . after term {}",
                    quote(&node.to_string(), false)
                ));
            }
            node => Arg::Chain {
                pos,
                node: Box::new(node),
                fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let t = self.next_non_space();
        let pos = t.pos;
        Ok(Some(match t.kind {
            Tok::Identifier => {
                if !(self.has_function)(&t.val) {
                    return self.error(format!("function {} not defined", quote(&t.val, false)));
                }
                Arg::Identifier { pos, name: t.val }
            }
            Tok::Dot => Arg::Dot { pos },
            Tok::Nil => Arg::Nil { pos },
            Tok::Variable => {
                let idents: Vec<String> = t.val.split('.').map(str::to_string).collect();
                if !self.vars.contains(&idents[0]) {
                    return self.error(format!("undefined variable {}", quote(&idents[0], false)));
                }
                Arg::Variable { pos, idents }
            }
            Tok::Field => Arg::Field {
                pos,
                idents: vec![t.val[1..].to_string()],
            },
            Tok::Bool => Arg::Bool {
                pos,
                val: t.val == "true",
            },
            Tok::CharConstant | Tok::Complex | Tok::Number => match number(&t.val, t.kind) {
                Ok(num) => Arg::Number { pos, num },
                Err(msg) => return self.error(msg),
            },
            Tok::LeftParen => {
                self.enter()?;
                let pipe = self.pipeline("parenthesized pipeline", Tok::RightParen)?;
                self.depth -= 1;
                Arg::Pipe(Box::new(pipe))
            }
            Tok::String | Tok::RawString => match unquote(&t.val) {
                Some(text) => Arg::String {
                    pos,
                    quoted: t.val,
                    text,
                },
                None => return self.error("invalid syntax"),
            },
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

enum Item {
    Node(Node),
    End,
    Else,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctl {
    If,
    Range,
    With,
}

impl Ctl {
    fn name(self) -> &'static str {
        match self {
            Ctl::If => "if",
            Ctl::Range => "range",
            Ctl::With => "with",
        }
    }
}

/// Go's `strconv.ParseInt(text, 0, 64)`-style integer: sign, base prefix
/// (`0x`, `0o`, `0b`, or a leading `0` for octal), underscores.
fn parse_int(text: &str) -> (Option<i64>, Option<u64>) {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() || lower.ends_with('_') {
        return (None, None);
    }
    let Ok(mag) = u64::from_str_radix(&digits, radix) else {
        return (None, None);
    };
    if neg {
        let i = if mag == 1 << 63 {
            Some(i64::MIN)
        } else {
            i64::try_from(mag).ok().map(|m| -m)
        };
        (i, if mag == 0 { Some(0) } else { None })
    } else {
        (i64::try_from(mag).ok(), Some(mag))
    }
}

/// Go's `newNumber`: every valid reading of a number literal.
fn number(text: &str, kind: Tok) -> Result<Number, String> {
    let mut n = Number {
        text: text.to_string(),
        int: None,
        uint: None,
        float: None,
        is_char: false,
    };
    if kind == Tok::CharConstant {
        let inner = &text[1..text.len() - 1];
        let c = unquote_char(inner, '\'')
            .filter(|(_, rest)| rest.is_empty())
            .map(|(c, _)| c);
        let Some(c) = c else {
            return Err("malformed character constant: ".to_string() + text);
        };
        n.is_char = true;
        n.int = Some(c as i64);
        n.uint = Some(c as u64);
        n.float = Some(c as u32 as f64);
        return Ok(n);
    }
    if kind == Tok::Complex || text.ends_with('i') {
        return Err(format!(
            "complex number {} is not supported",
            quote(text, false)
        ));
    }
    let (i, u) = parse_int(text);
    n.int = i;
    n.uint = u;
    if let Some(i) = i {
        n.float = Some(i as f64);
    } else if let Some(u) = u {
        n.float = Some(u as f64);
    } else {
        let clean: String = text.chars().filter(|&c| c != '_').collect();
        let is_hex = clean
            .trim_start_matches(['+', '-'])
            .to_ascii_lowercase()
            .starts_with("0x");
        if let (false, Ok(f)) = (is_hex, clean.parse::<f64>()) {
            if !text.contains(['.', 'e', 'E', 'p', 'P']) {
                return Err(format!("integer overflow: {}", quote(text, false)));
            }
            n.float = Some(f);
            if f.fract() == 0.0 && f.abs() < 9.2e18 {
                n.int = Some(f as i64);
                if f >= 0.0 {
                    n.uint = Some(f as u64);
                }
            }
        }
    }
    if n.int.is_none() && n.uint.is_none() && n.float.is_none() {
        return Err(format!("illegal number syntax: {}", quote(text, false)));
    }
    Ok(n)
}

/// One (possibly escaped) character of a Go literal; returns it and the rest.
fn unquote_char(s: &str, quote_char: char) -> Option<(char, &str)> {
    let mut it = s.chars();
    let c = it.next()?;
    if c == quote_char && (c == '\'' || c == '"') {
        return None;
    }
    if c != '\\' {
        return Some((c, it.as_str()));
    }
    let e = it.next()?;
    let rest = it.as_str();
    let simple = match e {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        '\\' => Some('\\'),
        '\'' | '"' if e == quote_char => Some(e),
        _ => None,
    };
    if let Some(c) = simple {
        return Some((c, rest));
    }
    let (len, radix) = match e {
        'x' => (2, 16),
        'u' => (4, 16),
        'U' => (8, 16),
        '0'..='7' => (2, 8),
        _ => return None,
    };
    let digits = rest.get(..len)?;
    let mut v = u32::from_str_radix(digits, radix).ok()?;
    if radix == 8 {
        v += (e as u32 - '0' as u32) * 64;
        if v > 255 {
            return None;
        }
    }
    Some((char::from_u32(v)?, &rest[len..]))
}

/// Go's `strconv.Unquote` for `"…"` and `` `…` `` literals.
pub(crate) fn unquote(s: &str) -> Option<String> {
    if s.len() >= 2 && s.starts_with('`') && s.ends_with('`') {
        return Some(s[1..s.len() - 1].chars().filter(|&c| c != '\r').collect());
    }
    if s.len() < 2 || !s.starts_with('"') || !s.ends_with('"') {
        return None;
    }
    let mut rest = &s[1..s.len() - 1];
    let mut out = String::with_capacity(rest.len());
    while !rest.is_empty() {
        let (c, r) = unquote_char(rest, '"')?;
        if c == '\n' && !rest.starts_with('\\') {
            return None;
        }
        out.push(c);
        rest = r;
    }
    Some(out)
}
