//! Go's `fmt.Sprintf`, `Sprint` and `Sprintln` over template values.
//!
//! Supported: flags `+ - # 0 space`, width and precision (digits or `*`),
//! verbs `%v %s %d %q %t %f %F %e %E %g %G %x %X %o %O %b %c %U %T %%`,
//! applied element-wise to arrays and maps as Go does, and Go's error
//! spellings: `%!d(string=abc)`, `%!s(MISSING)`, `%!(EXTRA int=1)`,
//! `%!(NOVERB)`, `%!(BADWIDTH)`, `%!(BADPREC)`. Argument indexes (`%[1]d`)
//! are not supported.

use serde_json::Value;

use super::value::{Val, format_v, type_name};
use crate::gofmt;

/// Go refuses widths and precisions beyond this.
const TOO_LARGE: usize = 1_000_000;

#[derive(Clone, Copy, Default)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

fn value_of<'v>(v: &'v Val<'_>) -> &'v Value {
    v.get().unwrap_or(&Value::Null)
}

/// `fmt.Sprint`: operands separated by a space when neither is a string.
pub(crate) fn sprint(args: &[Val<'_>]) -> String {
    let mut out = String::new();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let v = value_of(a);
        let is_string = v.is_string();
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        out.push_str(&format_v(v));
        prev_string = is_string;
    }
    out
}

/// `fmt.Sprintln`: operands separated by spaces, then a newline.
pub(crate) fn sprintln(args: &[Val<'_>]) -> String {
    let parts: Vec<String> = args.iter().map(|a| format_v(value_of(a))).collect();
    parts.join(" ") + "\n"
}

/// Reads an integer argument for `*` width or precision.
fn star_arg(args: &[Val<'_>], argi: &mut usize) -> Option<i64> {
    let v = args.get(*argi)?;
    *argi += 1;
    let n = value_of(v).as_i64()?;
    (n.unsigned_abs() as usize <= TOO_LARGE).then_some(n)
}

/// Digits at `i`; `Err(())` when the number is too large (Go then gives up
/// on the rest of the format).
fn parse_num(b: &[u8], i: &mut usize) -> Result<Option<usize>, ()> {
    let start = *i;
    let mut n = 0usize;
    while *i < b.len() && b[*i].is_ascii_digit() {
        n = n * 10 + usize::from(b[*i] - b'0');
        if n > TOO_LARGE {
            return Err(());
        }
        *i += 1;
    }
    Ok((*i > start).then_some(n))
}

/// `fmt.Sprintf(format, args...)`.
pub(crate) fn sprintf(format: &str, args: &[Val<'_>]) -> String {
    let b = format.as_bytes();
    let mut out = String::with_capacity(format.len() + 16);
    let mut argi = 0;
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i] != b'%' {
            i += 1;
        }
        out.push_str(&format[start..i]);
        if i >= b.len() {
            break;
        }
        i += 1; // '%'
        let mut f = Flags::default();
        while i < b.len() {
            match b[i] {
                b'#' => f.sharp = true,
                b'0' => f.zero = !f.minus,
                b'+' => f.plus = true,
                b'-' => {
                    f.minus = true;
                    f.zero = false;
                }
                b' ' => f.space = true,
                _ => break,
            }
            i += 1;
        }
        if i < b.len() && b[i] == b'*' {
            i += 1;
            match star_arg(args, &mut argi) {
                Some(w) => {
                    if w < 0 {
                        f.minus = true;
                        f.zero = false;
                    }
                    f.width = Some(w.unsigned_abs() as usize);
                }
                None => out.push_str("%!(BADWIDTH)"),
            }
        } else {
            match parse_num(b, &mut i) {
                Ok(w) => f.width = w,
                Err(()) => {
                    out.push_str("%!(NOVERB)");
                    break;
                }
            }
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            if i < b.len() && b[i] == b'*' {
                i += 1;
                match star_arg(args, &mut argi) {
                    Some(p) if p >= 0 => f.prec = Some(p as usize),
                    Some(_) => {}
                    None => out.push_str("%!(BADPREC)"),
                }
            } else {
                match parse_num(b, &mut i) {
                    Ok(p) => f.prec = Some(p.unwrap_or(0)),
                    Err(()) => {
                        out.push_str("%!(NOVERB)");
                        break;
                    }
                }
            }
        }
        let Some(verb) = format[i..].chars().next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += verb.len_utf8();
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(argi) {
            None => out.push_str(&format!("%!{verb}(MISSING)")),
            Some(a) => {
                argi += 1;
                format_arg(&mut out, value_of(a), verb, f);
            }
        }
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        for (k, a) in args[argi..].iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            let v = value_of(a);
            if v.is_null() {
                out.push_str("<nil>");
            } else {
                out.push_str(type_name(v));
                out.push('=');
                out.push_str(&format_v(v));
            }
        }
        out.push(')');
    }
    out
}

fn bad_verb(out: &mut String, v: &Value, verb: char) {
    out.push_str("%!");
    out.push(verb);
    out.push('(');
    if v.is_null() {
        out.push_str("<nil>");
    } else {
        out.push_str(type_name(v));
        out.push('=');
        out.push_str(&format_v(v));
    }
    out.push(')');
}

/// Pads `s` to the width (in characters), left or right, with spaces or
/// (`zero`) zeros.
fn pad(out: &mut String, s: &str, f: Flags, zero: bool) {
    let n = s.chars().count();
    let fill = f.width.unwrap_or(0).saturating_sub(n);
    let c = if zero && !f.minus { '0' } else { ' ' };
    if !f.minus {
        out.extend(std::iter::repeat_n(c, fill));
    }
    out.push_str(s);
    if f.minus {
        out.extend(std::iter::repeat_n(' ', fill));
    }
}

fn format_arg(out: &mut String, v: &Value, verb: char, f: Flags) {
    if verb == 'T' {
        pad(
            out,
            if v.is_null() { "<nil>" } else { type_name(v) },
            f,
            false,
        );
        return;
    }
    match v {
        Value::Null => match verb {
            'v' => pad(out, "<nil>", f, false),
            _ => bad_verb(out, v, verb),
        },
        Value::Bool(b) => match verb {
            't' | 'v' => pad(out, if *b { "true" } else { "false" }, f, f.zero),
            _ => bad_verb(out, v, verb),
        },
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                format_int(out, i < 0, i.unsigned_abs(), v, verb, f);
            } else if let Some(u) = n.as_u64() {
                format_int(out, false, u, v, verb, f);
            } else {
                format_float(out, n.as_f64().unwrap_or(0.0), v, verb, f);
            }
        }
        Value::String(s) => format_string(out, s, v, verb, f),
        Value::Array(a) => {
            out.push('[');
            for (k, e) in a.iter().enumerate() {
                if k > 0 {
                    out.push(' ');
                }
                format_arg(out, e, verb, f);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push_str("map[");
            for (k, key) in keys.into_iter().enumerate() {
                if k > 0 {
                    out.push(' ');
                }
                format_string(out, key, &Value::String(key.to_string()), verb, f);
                out.push(':');
                format_arg(out, &m[key], verb, f);
            }
            out.push(']');
        }
    }
}

fn format_int(out: &mut String, neg: bool, mag: u64, v: &Value, verb: char, f: Flags) {
    let mut digits = match verb {
        'd' | 'v' => mag.to_string(),
        'b' => format!("{mag:b}"),
        'o' | 'O' => format!("{mag:o}"),
        'x' => format!("{mag:x}"),
        'X' => format!("{mag:X}"),
        'c' => {
            let c = char::from_u32(mag as u32)
                .filter(|_| !neg && mag <= 0x10FFFF)
                .unwrap_or('\u{FFFD}');
            return pad(out, &c.to_string(), f, false);
        }
        'q' => {
            let c = char::from_u32(mag as u32)
                .filter(|_| !neg && mag <= 0x10FFFF)
                .unwrap_or('\u{FFFD}');
            return pad(out, &gofmt::quote_rune(c, f.plus), f, false);
        }
        'U' => {
            let mut s = format!("U+{mag:04X}");
            if f.sharp
                && let Some(c) = char::from_u32(mag as u32).filter(|&c| gofmt::is_print(c))
            {
                s.push_str(&format!(" '{c}'"));
            }
            return pad(out, &s, f, false);
        }
        _ => return bad_verb(out, v, verb),
    };
    let mut prec = 0;
    if let Some(p) = f.prec {
        if p == 0 && mag == 0 {
            return pad(out, "", f, false);
        }
        prec = p;
    } else if f.zero
        && !f.minus
        && let Some(w) = f.width
    {
        prec = w.saturating_sub(usize::from(neg || f.plus || f.space));
    }
    if digits.len() < prec {
        digits = "0".repeat(prec - digits.len()) + &digits;
    }
    let prefix = match verb {
        'b' if f.sharp => "0b",
        'o' if f.sharp && !digits.starts_with('0') => "0",
        'O' => "0o",
        'x' if f.sharp => "0x",
        'X' if f.sharp => "0X",
        _ => "",
    };
    let sign = if neg {
        "-"
    } else if f.plus {
        "+"
    } else if f.space {
        " "
    } else {
        ""
    };
    pad(out, &format!("{sign}{prefix}{digits}"), f, false);
}

fn format_float(out: &mut String, x: f64, v: &Value, verb: char, f: Flags) {
    let num = match verb {
        'v' | 'g' => gofmt::format_g(x, f.prec, false),
        'G' => gofmt::format_g(x, f.prec, true),
        'e' => gofmt::format_e(x, Some(f.prec.unwrap_or(6)), false),
        'E' => gofmt::format_e(x, Some(f.prec.unwrap_or(6)), true),
        'f' | 'F' => gofmt::format_f(x, Some(f.prec.unwrap_or(6))),
        _ => return bad_verb(out, v, verb),
    };
    let (neg, body) = match num.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, num.strip_prefix('+').unwrap_or(&num)),
    };
    if !x.is_finite() {
        let s = if x.is_nan() && !f.plus && !f.space {
            "NaN".to_string()
        } else {
            num.clone()
        };
        return pad(out, &s, f, false);
    }
    let sign = if neg {
        "-"
    } else if f.plus {
        "+"
    } else if f.space {
        " "
    } else {
        ""
    };
    let total = sign.len() + body.len();
    if !sign.is_empty() && f.zero && !f.minus && f.width.is_some_and(|w| w > total) {
        out.push_str(sign);
        out.extend(std::iter::repeat_n('0', f.width.unwrap_or(0) - total));
        out.push_str(body);
        return;
    }
    pad(out, &format!("{sign}{body}"), f, f.zero);
}

fn format_string(out: &mut String, s: &str, v: &Value, verb: char, f: Flags) {
    let s: String = match f.prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    };
    match verb {
        'v' | 's' => pad(out, &s, f, f.zero),
        'q' => {
            let q =
                if f.sharp && !s.contains('`') && s.chars().all(|c| c == '\t' || !c.is_control()) {
                    format!("`{s}`")
                } else {
                    gofmt::quote(&s, f.plus)
                };
            pad(out, &q, f, f.zero);
        }
        'x' | 'X' => {
            let mut h = String::new();
            if f.sharp {
                h.push_str(if verb == 'x' { "0x" } else { "0X" });
            }
            for byte in s.bytes() {
                if verb == 'x' {
                    h.push_str(&format!("{byte:02x}"));
                } else {
                    h.push_str(&format!("{byte:02X}"));
                }
            }
            pad(out, &h, f, f.zero);
        }
        _ => bad_verb(out, v, verb),
    }
}
