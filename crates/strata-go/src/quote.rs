//! Go's `strconv.Quote` family: how Go prints a string with `%q`, which
//! docker's messages (and BuildKit's) are full of.
//!
//! ```
//! use strata_go::quote::{go_quote, quote};
//! assert_eq!(go_quote("a\tb\"c"), r#""a\tb\"c""#);
//! assert_eq!(quote("é\u{7f}", true), r#""\u00e9\x7f""#);
//! ```

/// Whether `unicode.IsPrint` holds for `c` (letters, marks, numbers,
/// punctuation, symbols and the ASCII space). An approximation of Go's
/// tables: controls, format characters, non-ASCII spaces, line/paragraph
/// separators, private use and noncharacters are not printable.
pub fn is_print(c: char) -> bool {
    let u = c as u32;
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(u,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F
        | 0xD800..=0xDFFF | 0xE000..=0xF8FF | 0xFEFF | 0xFFF0..=0xFFFB
        | 0xFFFE | 0xFFFF | 0xE0000..=0xE007F | 0xF0000..=0x10FFFF)
}

fn push_escaped(out: &mut String, c: char, quote: char, ascii_only: bool) {
    match c {
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if is_print(c) && (!ascii_only || c.is_ascii()) => out.push(c),
        c if (c as u32) < 0x20 || c == '\u{7f}' => {
            out.push_str(&format!("\\x{:02x}", c as u32));
        }
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// `strconv.Quote` (or `QuoteToASCII` when `ascii_only`).
pub fn quote(s: &str, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"', ascii_only);
    }
    out.push('"');
    out
}

/// `strconv.QuoteRune`: `'a'`, `'\n'`.
pub fn quote_rune(c: char, ascii_only: bool) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'', ascii_only);
    out.push('\'');
    out
}

/// `strconv.Quote(s)` (`%q`).
pub fn go_quote(s: &str) -> String {
    quote(s, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go's own `strconv` test table (quotetests), plus docker's uses.
    #[test]
    fn go_strconv_quote_table() {
        for (input, want, ascii) in [
            (
                "\u{7}\u{8}\u{c}\r\n\t\u{b}",
                r#""\a\b\f\r\n\t\v""#,
                r#""\a\b\f\r\n\t\v""#,
            ),
            ("\\", r#""\\""#, r#""\\""#),
            ("abc\u{ff}def", "\"abc\u{ff}def\"", r#""abc\u00ffdef""#),
            ("\u{263a}", "\"\u{263a}\"", r#""\u263a""#),
            ("\u{10ffff}", r#""\U0010ffff""#, r#""\U0010ffff""#),
            ("\u{4}", r#""\x04""#, r#""\x04""#),
            (
                "!\u{a0}!\u{2000}!\u{3000}!",
                r#""!\u00a0!\u2000!\u3000!""#,
                r#""!\u00a0!\u2000!\u3000!""#,
            ),
            ("\u{7f}", r#""\x7f""#, r#""\x7f""#),
            ("say \"hi\"", r#""say \"hi\"""#, r#""say \"hi\"""#),
            ("", r#""""#, r#""""#),
        ] {
            assert_eq!(go_quote(input), want, "Quote({input:?})");
            assert_eq!(quote(input, true), ascii, "QuoteToASCII({input:?})");
        }
        assert_eq!(quote_rune('\'', false), r"'\''");
        assert_eq!(quote_rune('"', false), r#"'"'"#);
        assert!(is_print(' ') && !is_print('\u{ad}') && is_print('é'));
    }
}
