//! The exec-form test: is the argument text a JSON array of strings?
//!
//! Reproduces what BuildKit gets from Go's `encoding/json` when it unmarshals
//! into `[]any`: the whole text must be one valid JSON value (surrounding
//! JSON whitespace allowed, nesting at most 10000 deep), strings are decoded
//! with Go's rules (lone surrogates become U+FFFD), and a valid array with a
//! non-string element is a hard error rather than shell form. Iterative, so
//! hostile nesting cannot overflow the stack.

/// Result of looking at `[`-prefixed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JsonArray {
    /// A valid array whose elements are all strings.
    Strings(Vec<String>),
    /// A valid JSON array with some non-string element.
    NotStrings,
    /// Not valid JSON (or not an array): use the shell form.
    Invalid,
}

const MAX_DEPTH: usize = 10_000;

/// Parse `text` as a top-level JSON array of strings.
pub(crate) fn parse_array(text: &str) -> JsonArray {
    let mut p = Json {
        s: text.as_bytes(),
        text,
        i: 0,
    };
    p.ws();
    if p.peek() != Some(b'[') {
        return JsonArray::Invalid;
    }
    match p.top_array() {
        Some(r) => {
            p.ws();
            if p.i != p.s.len() {
                return JsonArray::Invalid;
            }
            match r {
                Some(v) => JsonArray::Strings(v),
                None => JsonArray::NotStrings,
            }
        }
        None => JsonArray::Invalid,
    }
}

struct Json<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Frame {
    Array,
    Object,
}

impl Json<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// The top-level array: `Some(Some(strings))`, `Some(None)` when valid
    /// but with a non-string element, `None` when invalid.
    fn top_array(&mut self) -> Option<Option<Vec<String>>> {
        self.i += 1; // '['
        let mut out = Vec::new();
        let mut all_strings = true;
        self.ws();
        if self.eat(b']') {
            return Some(Some(out));
        }
        loop {
            self.ws();
            if self.peek() == Some(b'"') {
                let s = self.string()?;
                out.push(s);
            } else {
                all_strings = false;
                self.value()?;
            }
            self.ws();
            if self.eat(b',') {
                continue;
            }
            if self.eat(b']') {
                return Some(all_strings.then_some(out));
            }
            return None;
        }
    }

    /// Skip any value, iteratively.
    fn value(&mut self) -> Option<()> {
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            // Expect a value here.
            self.ws();
            match self.peek()? {
                b'[' | b'{' => {
                    if stack.len() + 2 > MAX_DEPTH {
                        return None;
                    }
                    let frame = if self.peek() == Some(b'[') {
                        Frame::Array
                    } else {
                        Frame::Object
                    };
                    self.i += 1;
                    self.ws();
                    let close = if frame == Frame::Array { b']' } else { b'}' };
                    if self.eat(close) {
                        // Empty container: a complete value.
                    } else {
                        stack.push(frame);
                        if frame == Frame::Object {
                            self.string()?;
                            self.ws();
                            if !self.eat(b':') {
                                return None;
                            }
                        }
                        continue;
                    }
                }
                b'"' => {
                    self.string()?;
                }
                b't' => self.literal("true")?,
                b'f' => self.literal("false")?,
                b'n' => self.literal("null")?,
                _ => self.number()?,
            }
            // A value is complete; close containers as far as possible.
            loop {
                let Some(&top) = stack.last() else {
                    return Some(());
                };
                self.ws();
                if self.eat(b',') {
                    if top == Frame::Object {
                        self.ws();
                        self.string()?;
                        self.ws();
                        if !self.eat(b':') {
                            return None;
                        }
                    }
                    break;
                }
                let close = if top == Frame::Array { b']' } else { b'}' };
                if self.eat(close) {
                    stack.pop();
                    continue;
                }
                return None;
            }
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Option<()> {
        self.eat(b'-');
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.eat(b'.') && self.digits() == 0 {
            return None;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let h = self.s.get(at..at + 4)?;
        let mut v = 0u32;
        for &b in h {
            v = v * 16 + (b as char).to_digit(16)?;
        }
        Some(v)
    }

    fn string(&mut self) -> Option<String> {
        if !self.eat(b'"') {
            return None;
        }
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.i += 1;
            }
            out.push_str(self.text.get(start..self.i)?);
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(out);
                }
                b'\\' => {
                    self.i += 1;
                    let e = self.peek()?;
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let r = self.hex4(self.i)?;
                            self.i += 4;
                            if (0xD800..0xE000).contains(&r) {
                                let pair = (r < 0xDC00
                                    && self.s.get(self.i..self.i + 2) == Some(b"\\u"))
                                .then(|| self.hex4(self.i + 2))
                                .flatten()
                                .filter(|lo| (0xDC00..0xE000).contains(lo));
                                match pair {
                                    Some(lo) => {
                                        self.i += 6;
                                        let c = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00);
                                        out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                                    }
                                    None => out.push('\u{FFFD}'),
                                }
                            } else {
                                out.push(char::from_u32(r).unwrap_or('\u{FFFD}'));
                            }
                        }
                        _ => return None,
                    }
                }
                _ => return None, // control character
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> JsonArray {
        JsonArray::Strings(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn arrays_of_strings() {
        assert_eq!(parse_array("[]"), strings(&[]));
        assert_eq!(parse_array("[ \"a\" , \"b\" ]  \t"), strings(&["a", "b"]));
        assert_eq!(
            parse_array(r#"["\" \\ \/ \b \f \n \r \t \u0000 \u2603 \ud83d\ude00 \ud800x"]"#),
            strings(&["\" \\ / \u{8} \u{c} \n \r \t \0 ☃ 😀 \u{FFFD}x"])
        );
    }

    #[test]
    fn non_strings_and_invalid() {
        assert_eq!(parse_array(r#"["a", 1]"#), JsonArray::NotStrings);
        assert_eq!(parse_array(r#"["a", ["b"]]"#), JsonArray::NotStrings);
        assert_eq!(
            parse_array(r#"[{"a": [1, 2.5e-3, true, null]}, -0]"#),
            JsonArray::NotStrings
        );
        for bad in [
            "['a']",
            "[\"a\"",
            "[\"a\",]",
            "[\"a\"] x",
            "[01]",
            "[1.]",
            "[\"\t\"]",
            "[\"\\x\"]",
            "[{\"a\" 1}]",
            "[tru]",
            "[",
            "[[[",
            "[\"\\ud800\\u12\"]",
        ] {
            assert_eq!(parse_array(bad), JsonArray::Invalid, "{bad}");
        }
    }

    #[test]
    fn deep_nesting_is_invalid_not_a_crash() {
        let deep = "[".repeat(200_000);
        assert_eq!(parse_array(&deep), JsonArray::Invalid);
        let ok = format!("[{}{}]", "[".repeat(500), "]".repeat(500));
        assert_eq!(parse_array(&ok), JsonArray::NotStrings);
    }
}
