//! JSON spelled the way Go's `encoding/json` spells it.
//!
//! Docker prints JSON in three ways, and they differ in details users see:
//!
//! | where | Go call | HTML escaping | layout |
//! | --- | --- | --- | --- |
//! | `inspect` (no `--format`) | `json.MarshalIndent(v, "", "    ")` | yes: `<` → `\u003c` | 4-space indent |
//! | `inspect --format json` | `json.Marshal` | yes | compact |
//! | `{{json .}}`, `--format json` | `Encoder` + `SetEscapeHTML(false)` | no | compact |
//!
//! Common to all: floats as Go prints them (`1`, not `1.0`; `1e+21`;
//! `1e-7`), `\b \f \n \r \t` short escapes, other control characters as
//! `\u00XX` (lower-case hex), U+2028/U+2029 always escaped, and objects in
//! the order of the [`serde_json::Value`] (the workspace enables
//! `preserve_order`, so that is insertion order — like a Go struct). Go
//! sorts the keys of *maps* (labels, options, driver opts): build such
//! fields from a `BTreeMap` so they come out the same.

use serde_json::Value;

use crate::gofmt;

/// How to spell a JSON document.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JsonStyle {
    /// Escape `<`, `>` and `&` as `\u003c`, `\u003e`, `\u0026` (Go's default).
    pub escape_html: bool,
    /// Indent nested values by this string, one per level (`None` = compact).
    pub indent: Option<&'static str>,
}

impl JsonStyle {
    /// `json.Marshal`: compact, HTML-escaped.
    pub const MARSHAL: JsonStyle = JsonStyle {
        escape_html: true,
        indent: None,
    };
    /// `json.MarshalIndent(v, "", "    ")`: docker `inspect`'s default output.
    pub const MARSHAL_INDENT: JsonStyle = JsonStyle {
        escape_html: true,
        indent: Some("    "),
    };
    /// docker's `{{json}}` template function: compact, no HTML escaping.
    pub const TEMPLATE: JsonStyle = JsonStyle {
        escape_html: false,
        indent: None,
    };
}

/// Encodes `v` as Go would with the given style (no trailing newline).
///
/// ```
/// use serde_json::json;
/// use strata_format::json::{to_go_json, JsonStyle};
/// let v = json!({"Cmd": ["sh", "-c", "a<b && c"], "Size": 1.0});
/// assert_eq!(
///     to_go_json(&v, JsonStyle::MARSHAL),
///     r#"{"Cmd":["sh","-c","a\u003cb \u0026\u0026 c"],"Size":1}"#
/// );
/// ```
pub fn to_go_json(v: &Value, style: JsonStyle) -> String {
    let mut out = String::new();
    write_value(&mut out, v, style, 0);
    out
}

fn newline(out: &mut String, style: JsonStyle, depth: usize) {
    if let Some(ind) = style.indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(ind);
        }
    }
}

fn write_value(out: &mut String, v: &Value, style: JsonStyle, depth: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => write_string(out, s, style.escape_html),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, style, depth + 1);
                write_value(out, item, style, depth + 1);
            }
            newline(out, style, depth);
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, style, depth + 1);
                write_string(out, k, style.escape_html);
                out.push(':');
                if style.indent.is_some() {
                    out.push(' ');
                }
                write_value(out, item, style, depth + 1);
            }
            newline(out, style, depth);
            out.push('}');
        }
    }
}

/// A JSON number as Go prints it: integers verbatim, floats per
/// [`gofmt::json_float`].
pub(crate) fn number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        gofmt::json_float(n.as_f64().unwrap_or(0.0))
    }
}

/// Writes `s` as a quoted JSON string with Go's escapes.
pub fn write_string(out: &mut String, s: &str, escape_html: bool) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if escape_html => {
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 0xf] as char);
            }
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 0xf] as char);
            }
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('"');
}
