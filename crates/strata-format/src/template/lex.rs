//! The lexer of Go's `text/template`: text and `{{ … }}` actions to tokens.
//!
//! Follows `text/template/parse/lex.go` (Go ≥ 1.18): trim markers
//! `{{- ` / ` -}}` eat the adjacent white space (space, tab, CR, LF),
//! `{{/* comments */}}` vanish, newlines are allowed inside actions, and a
//! lexing error becomes the last token, which the parser reports.

use std::fmt;

use crate::gofmt;

/// Kinds of token (Go's `itemType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Error,
    Bool,
    Char,
    CharConstant,
    Complex,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    String,
    Text,
    Variable,
    // Keywords.
    Block,
    Break,
    Continue,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

impl Tok {
    fn is_keyword(self) -> bool {
        matches!(
            self,
            Tok::Block
                | Tok::Break
                | Tok::Continue
                | Tok::Dot
                | Tok::Define
                | Tok::Else
                | Tok::End
                | Tok::If
                | Tok::Nil
                | Tok::Range
                | Tok::Template
                | Tok::With
        )
    }
}

/// A token: kind, byte offset, text, and the line it starts on.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub kind: Tok,
    pub pos: usize,
    pub val: String,
    pub line: usize,
}

impl fmt::Display for Token {
    /// Go's `item.String()`, used in "unexpected X in Y" messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Tok::Eof => f.write_str("EOF"),
            Tok::Error => f.write_str(&self.val),
            k if k.is_keyword() => write!(f, "<{}>", self.val),
            _ if self.val.chars().count() > 10 => {
                write!(f, "{}...", gofmt::quote_prefix(&self.val, 10))
            }
            _ => f.write_str(&gofmt::quote(&self.val, false)),
        }
    }
}

fn keyword(word: &str) -> Option<Tok> {
    Some(match word {
        "." => Tok::Dot,
        "block" => Tok::Block,
        "break" => Tok::Break,
        "continue" => Tok::Continue,
        "define" => Tok::Define,
        "else" => Tok::Else,
        "end" => Tok::End,
        "if" => Tok::If,
        "range" => Tok::Range,
        "nil" => Tok::Nil,
        "template" => Tok::Template,
        "with" => Tok::With,
        _ => return None,
    })
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

fn has_left_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == b'-' && is_space(b[1] as char)
}

fn has_right_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && is_space(b[0] as char) && b[1] == b'-'
}

struct Lexer<'s> {
    input: &'s str,
    pos: usize,
    start: usize,
    paren_depth: i32,
    tokens: Vec<Token>,
    /// Cache for line numbers: (byte offset, line at that offset).
    line_at: (usize, usize),
}

/// Splits `input` into tokens. The last token is `Eof` or `Error`.
pub(crate) fn lex(input: &str) -> Vec<Token> {
    let mut l = Lexer {
        input,
        pos: 0,
        start: 0,
        paren_depth: 0,
        tokens: Vec::new(),
        line_at: (0, 1),
    };
    let mut in_action = false;
    loop {
        let more = if in_action {
            l.inside_action()
        } else {
            l.text()
        };
        match more {
            Some(next) => in_action = next,
            None => return l.tokens,
        }
    }
}

impl Lexer<'_> {
    fn line(&mut self, pos: usize) -> usize {
        let (from, line) = self.line_at;
        let line = if pos >= from {
            line + self.input[from..pos]
                .bytes()
                .filter(|&b| b == b'\n')
                .count()
        } else {
            1 + self.input[..pos].bytes().filter(|&b| b == b'\n').count()
        };
        self.line_at = (pos, line);
        line
    }

    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn backup(&mut self, c: Option<char>) {
        if let Some(c) = c {
            self.pos -= c.len_utf8();
        }
    }

    fn emit(&mut self, kind: Tok) {
        let line = self.line(self.start);
        let val = self.input[self.start..self.pos].to_string();
        self.tokens.push(Token {
            kind,
            pos: self.start,
            val,
            line,
        });
        self.start = self.pos;
    }

    fn ignore(&mut self) {
        self.start = self.pos;
    }

    /// Emits an error token; lexing stops.
    fn error(&mut self, msg: String) -> Option<bool> {
        let line = self.line(self.start);
        self.tokens.push(Token {
            kind: Tok::Error,
            pos: self.start,
            val: msg,
            line,
        });
        None
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.peek() {
            Some(c) if valid.contains(c) => {
                self.pos += c.len_utf8();
                true
            }
            _ => false,
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }

    /// Plain text up to the next `{{`; returns `Some(true)` to continue in
    /// an action, `None` at the end.
    fn text(&mut self) -> Option<bool> {
        let Some(x) = self.input[self.pos..].find(LEFT) else {
            self.pos = self.input.len();
            if self.pos > self.start {
                self.emit(Tok::Text);
            }
            self.emit(Tok::Eof);
            return None;
        };
        let delim = self.pos + x;
        let mut trim = 0;
        if has_left_trim_marker(&self.input[delim + LEFT.len()..]) {
            let before = &self.input[self.start..delim];
            trim = before.len() - before.trim_end_matches(is_space).len();
        }
        self.pos = delim - trim;
        if self.pos > self.start {
            self.emit(Tok::Text);
        }
        self.pos = delim;
        self.ignore();
        self.left_delim()
    }

    fn left_delim(&mut self) -> Option<bool> {
        self.pos += LEFT.len();
        let trim = has_left_trim_marker(&self.input[self.pos..]);
        let after = if trim { 2 } else { 0 };
        if self.input[self.pos + after..].starts_with("/*") {
            self.pos += after;
            self.ignore();
            return self.comment();
        }
        self.emit(Tok::LeftDelim);
        self.pos += after;
        self.ignore();
        self.paren_depth = 0;
        Some(true)
    }

    fn comment(&mut self) -> Option<bool> {
        self.pos += 2;
        let Some(i) = self.input[self.pos..].find("*/") else {
            return self.error("unclosed comment".into());
        };
        self.pos += i + 2;
        let (delim, trim) = self.at_right_delim();
        if !delim {
            return self.error("comment ends before closing delimiter".into());
        }
        if trim {
            self.pos += 2;
        }
        self.pos += RIGHT.len();
        if trim {
            let rest = &self.input[self.pos..];
            self.pos += rest.len() - rest.trim_start_matches(is_space).len();
        }
        self.ignore();
        Some(false)
    }

    /// Whether the input is at `}}`, possibly preceded by a trim marker.
    fn at_right_delim(&self) -> (bool, bool) {
        let rest = &self.input[self.pos..];
        if rest.starts_with(RIGHT) {
            return (true, false);
        }
        if has_right_trim_marker(rest) && rest[2..].starts_with(RIGHT) {
            return (true, true);
        }
        (false, false)
    }

    fn right_delim(&mut self) -> Option<bool> {
        let trim = has_right_trim_marker(&self.input[self.pos..]);
        if trim {
            self.pos += 2;
            self.ignore();
        }
        self.pos += RIGHT.len();
        self.emit(Tok::RightDelim);
        if trim {
            let rest = &self.input[self.pos..];
            self.pos += rest.len() - rest.trim_start_matches(is_space).len();
            self.ignore();
        }
        Some(false)
    }

    /// One token inside an action; `Some(true)` to stay inside.
    fn inside_action(&mut self) -> Option<bool> {
        let (delim, _) = self.at_right_delim();
        if delim {
            if self.paren_depth == 0 {
                return self.right_delim();
            }
            return self.error("unclosed left paren".into());
        }
        let c = self.next();
        match c {
            None => return self.error("unclosed action".into()),
            Some(c) if is_space(c) => {
                self.backup(Some(c));
                return self.space();
            }
            Some('=') => self.emit(Tok::Assign),
            Some(':') => {
                if self.next() != Some('=') {
                    return self.error("expected :=".into());
                }
                self.emit(Tok::Declare);
            }
            Some('|') => self.emit(Tok::Pipe),
            Some('"') => return self.quote(),
            Some('`') => return self.raw_quote(),
            Some('$') => return self.variable(),
            Some('\'') => return self.char_constant(),
            Some('.') => {
                let next_is_digit = self
                    .input
                    .as_bytes()
                    .get(self.pos)
                    .is_some_and(u8::is_ascii_digit);
                if !next_is_digit {
                    return self.field_or_variable(Tok::Field);
                }
                self.backup(c);
                return self.number();
            }
            Some(c2) if c2 == '+' || c2 == '-' || c2.is_ascii_digit() => {
                self.backup(c);
                return self.number();
            }
            Some(c2) if is_alnum(c2) => {
                self.backup(c);
                return self.identifier();
            }
            Some('(') => {
                self.emit(Tok::LeftParen);
                self.paren_depth += 1;
            }
            Some(')') => {
                self.emit(Tok::RightParen);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.error("unexpected right paren".into());
                }
            }
            Some(c2) if c2.is_ascii() && !c2.is_ascii_control() => self.emit(Tok::Char),
            Some(c2) => {
                return self.error(format!(
                    "unrecognized character in action: {}",
                    gofmt::sharp_u(c2)
                ));
            }
        }
        Some(true)
    }

    fn space(&mut self) -> Option<bool> {
        let mut spaces = 0;
        while let Some(c) = self.peek() {
            if !is_space(c) {
                break;
            }
            self.pos += 1;
            spaces += 1;
        }
        // A trim-marked closing delimiter has a minus after a space.
        let at = self.pos - 1;
        if has_right_trim_marker(&self.input[at..]) && self.input[at + 2..].starts_with(RIGHT) {
            self.pos -= 1;
            if spaces == 1 {
                return self.right_delim();
            }
        }
        self.emit(Tok::Space);
        Some(true)
    }

    fn at_terminator(&self) -> bool {
        match self.peek() {
            None => true,
            Some(c) if is_space(c) => true,
            Some('.' | ',' | '|' | ':' | ')' | '(' | '}') => true,
            Some(_) => false,
        }
    }

    fn identifier(&mut self) -> Option<bool> {
        while let Some(c) = self.peek() {
            if !is_alnum(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or('\0');
            return self.error(format!("bad character {}", gofmt::sharp_u(c)));
        }
        let word = &self.input[self.start..self.pos];
        let kind = match keyword(word) {
            Some(k) => k,
            None if word.starts_with('.') => Tok::Field,
            None if word == "true" || word == "false" => Tok::Bool,
            None => Tok::Identifier,
        };
        self.emit(kind);
        Some(true)
    }

    fn variable(&mut self) -> Option<bool> {
        if self.at_terminator() {
            self.emit(Tok::Variable);
            return Some(true);
        }
        self.field_or_variable(Tok::Variable)
    }

    /// `.Name` or `$name`; the `.` or `$` is consumed.
    fn field_or_variable(&mut self, kind: Tok) -> Option<bool> {
        if self.at_terminator() {
            self.emit(if kind == Tok::Variable {
                Tok::Variable
            } else {
                Tok::Dot
            });
            return Some(true);
        }
        while let Some(c) = self.peek() {
            if !is_alnum(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or('\0');
            return self.error(format!("bad character {}", gofmt::sharp_u(c)));
        }
        self.emit(kind);
        Some(true)
    }

    fn char_constant(&mut self) -> Option<bool> {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    None | Some('\n') => {
                        return self.error("unterminated character constant".into());
                    }
                    Some(_) => {}
                },
                None | Some('\n') => return self.error("unterminated character constant".into()),
                Some('\'') => break,
                Some(_) => {}
            }
        }
        self.emit(Tok::CharConstant);
        Some(true)
    }

    fn number(&mut self) -> Option<bool> {
        if !self.scan_number() {
            let bad = self.input[self.start..self.pos].to_string();
            return self.error(format!("bad number syntax: {}", gofmt::quote(&bad, false)));
        }
        if matches!(self.peek(), Some('+' | '-')) {
            // Complex: 1+2i, no spaces, must end in 'i'.
            if !self.scan_number() || !self.input[..self.pos].ends_with('i') {
                let bad = self.input[self.start..self.pos].to_string();
                return self.error(format!("bad number syntax: {}", gofmt::quote(&bad, false)));
            }
            self.emit(Tok::Complex);
        } else {
            self.emit(Tok::Number);
        }
        Some(true)
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if self.peek().is_some_and(is_alnum) {
            self.next();
            return false;
        }
        true
    }

    fn quote(&mut self) -> Option<bool> {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    None | Some('\n') => return self.error("unterminated quoted string".into()),
                    Some(_) => {}
                },
                None | Some('\n') => return self.error("unterminated quoted string".into()),
                Some('"') => break,
                Some(_) => {}
            }
        }
        self.emit(Tok::String);
        Some(true)
    }

    fn raw_quote(&mut self) -> Option<bool> {
        loop {
            match self.next() {
                None => return self.error("unterminated raw quoted string".into()),
                Some('`') => break,
                Some(_) => {}
            }
        }
        self.emit(Tok::RawString);
        Some(true)
    }
}
