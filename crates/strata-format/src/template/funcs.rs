//! The functions a template can call: Go's builtins and docker's additions.
//!
//! Go builtins: `and or not len index slice print printf println eq ne lt
//! le gt ge html js urlquery` (not `call`: JSON holds no functions).
//! docker (`templates.basicFunctions`): `json split join title lower upper
//! pad truncate`. When rendering a table *header*, docker swaps in
//! `HeaderFunctions`: `json split join title lower upper truncate` return
//! their first argument unchanged, so `{{upper .Name}}` heads its column
//! with `NAME`, not with the upper-cased header.
//!
//! Each function declares Go's parameter types ([`Param`]); the executor
//! converts and checks arguments against them exactly where Go would, so
//! errors read the same (`wrong type for value; expected string; got int`).

use serde_json::{Map, Value};

use super::printf;
use super::value::{Val, type_name};
use crate::json::{JsonStyle, to_go_json};

/// A Go parameter type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Param {
    /// `interface{}` / `reflect.Value`: anything.
    Any,
    /// `string`.
    Str,
    /// `int`.
    Int,
    /// `[]string`.
    Strings,
}

/// A function's parameters: fixed ones, then optionally `...variadic`.
pub(crate) struct Sig {
    pub fixed: &'static [Param],
    pub variadic: Option<Param>,
}

const fn sig(fixed: &'static [Param], variadic: Option<Param>) -> Option<Sig> {
    Some(Sig { fixed, variadic })
}

use Param::{Any, Int, Str, Strings};

/// The signature of function `name`; `header` selects docker's
/// `HeaderFunctions` overrides.
pub(crate) fn signature(name: &str, header: bool) -> Option<Sig> {
    match (name, header) {
        ("and" | "or" | "eq" | "index" | "slice", _) => sig(&[Any], Some(Any)),
        ("not" | "len", _) => sig(&[Any], None),
        ("ne" | "lt" | "le" | "gt" | "ge", _) => sig(&[Any, Any], None),
        ("print" | "println" | "html" | "js" | "urlquery", _) => sig(&[], Some(Any)),
        ("printf", _) => sig(&[Str], Some(Any)),
        ("json", false) => sig(&[Any], None),
        ("json" | "title" | "lower" | "upper", _) => sig(&[Str], None),
        ("split", _) => sig(&[Str, Str], None),
        ("join", false) => sig(&[Strings, Str], None),
        ("join", true) => sig(&[Str, Str], None),
        ("pad", _) => sig(&[Str, Int, Int], None),
        ("truncate", _) => sig(&[Str, Int], None),
        _ => None,
    }
}

/// Whether `name` is a function a template may call.
pub(crate) fn is_function(name: &str) -> bool {
    signature(name, false).is_some()
}

fn int_of(v: &Val<'_>) -> i64 {
    v.get().and_then(Value::as_i64).unwrap_or(0)
}

fn str_of<'v>(v: &'v Val<'_>) -> &'v str {
    v.get().and_then(Value::as_str).unwrap_or("")
}

/// Calls `name` with arguments already checked against its signature.
/// The error is the text after Go's `error calling NAME: `.
pub(crate) fn call<'a>(name: &str, header: bool, args: Vec<Val<'a>>) -> Result<Val<'a>, String> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Val::Missing);
    let rest = args.get(1..).unwrap_or(&[]);
    if header
        && matches!(
            name,
            "json" | "split" | "join" | "title" | "lower" | "upper" | "truncate"
        )
    {
        return Ok(arg(0));
    }
    Ok(match name {
        "not" => Val::bool(!arg(0).truth()),
        "len" => Val::int(length(&arg(0))?),
        "index" => index(arg(0), rest)?,
        "slice" => slice(&arg(0), rest)?,
        "print" => Val::str(printf::sprint(&args)),
        "println" => Val::str(printf::sprintln(&args)),
        "printf" => Val::str(printf::sprintf(str_of(&arg(0)), rest)),
        "eq" => Val::bool(eq(&arg(0), rest)?),
        "ne" => Val::bool(!eq(&arg(0), rest)?),
        "lt" => Val::bool(lt(&arg(0), &arg(1))?),
        "le" => Val::bool(lt(&arg(0), &arg(1))? || eq(&arg(0), rest)?),
        "gt" => Val::bool(!(lt(&arg(0), &arg(1))? || eq(&arg(0), rest)?)),
        "ge" => Val::bool(!lt(&arg(0), &arg(1))?),
        "html" => Val::str(html_escape(&eval_args(&args))),
        "js" => Val::str(js_escape(&eval_args(&args))),
        "urlquery" => Val::str(query_escape(&eval_args(&args))),
        "json" => Val::str(to_go_json(
            arg(0).get().unwrap_or(&Value::Null),
            JsonStyle::TEMPLATE,
        )),
        "split" => {
            let (a0, a1) = (arg(0), arg(1));
            let (s, sep) = (str_of(&a0), str_of(&a1));
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                s.split(sep).map(|p| Value::String(p.to_string())).collect()
            };
            Val::Own(Value::Array(parts))
        }
        "join" => {
            let items = arg(0)
                .get()
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let parts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            Val::str(parts.join(str_of(&arg(1))))
        }
        "title" => Val::str(title(str_of(&arg(0)))),
        "lower" => Val::str(map_chars(str_of(&arg(0)), |c| c.to_lowercase())),
        "upper" => Val::str(map_chars(str_of(&arg(0)), |c| c.to_uppercase())),
        "pad" => Val::str(pad(str_of(&arg(0)), int_of(&arg(1)), int_of(&arg(2)))?),
        "truncate" => Val::str(truncate(str_of(&arg(0)), int_of(&arg(1)))?),
        _ => return Err(format!("function {name:?} not implemented")),
    })
}

fn length(v: &Val<'_>) -> Result<i64, String> {
    match v.get() {
        None => Err("reflect: call of reflect.Value.Type on zero Value".into()),
        Some(Value::Null) => Err("len of nil pointer".into()),
        Some(Value::String(s)) => Ok(s.len() as i64),
        Some(Value::Array(a)) => Ok(a.len() as i64),
        Some(Value::Object(m)) => Ok(m.len() as i64),
        Some(v) => Err(format!("len of type {}", type_name(v))),
    }
}

/// An index into something of length `cap` (`x == cap` is allowed here, as
/// in Go, and fails later).
fn index_arg(v: &Val<'_>, cap: usize) -> Result<usize, String> {
    let x = match v.get() {
        None | Some(Value::Null) => return Err("cannot index slice/array with nil".into()),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.as_i64().unwrap_or(i64::MAX),
        Some(v) => {
            return Err(format!(
                "cannot index slice/array with type {}",
                type_name(v)
            ));
        }
    };
    if x < 0 || x as u64 > cap as u64 {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

/// Go's zero value for a key missing from `m`: `""` when the map looks
/// like docker's `map[string]string` (labels, options), else no value.
fn map_zero<'a>(m: &Map<String, Value>) -> Val<'a> {
    if m.values().all(Value::is_string) {
        Val::str("")
    } else {
        Val::Missing
    }
}

fn index<'a>(item: Val<'a>, indexes: &[Val<'a>]) -> Result<Val<'a>, String> {
    if item.get().is_none() {
        return Err("index of untyped nil".into());
    }
    let mut cur = item;
    for ix in indexes {
        cur = match cur.get() {
            None => return Err("index of nil pointer".into()),
            Some(Value::Null) => match ix.get() {
                Some(Value::String(_)) => Val::str(""),
                _ => {
                    index_arg(ix, 0)?;
                    return Err("reflect: slice index out of range".into());
                }
            },
            Some(Value::Array(a)) => {
                let x = index_arg(ix, a.len())?;
                match cur.elem(x) {
                    Some(e) => e,
                    None => return Err("reflect: slice index out of range".into()),
                }
            }
            Some(Value::String(s)) => {
                let x = index_arg(ix, s.len())?;
                match s.as_bytes().get(x) {
                    Some(&b) => Val::int(i64::from(b)),
                    None => return Err("reflect: string index out of range".into()),
                }
            }
            Some(Value::Object(m)) => match ix.get() {
                None | Some(Value::Null) => {
                    return Err("value is nil; should be of type string".into());
                }
                Some(Value::String(k)) => match cur.key(k) {
                    Some(v) => v,
                    None => map_zero(m),
                },
                Some(v) => {
                    return Err(format!("value has type {}; should be string", type_name(v)));
                }
            },
            Some(v) => return Err(format!("can't index item of type {}", type_name(v))),
        };
    }
    Ok(cur)
}

fn slice<'a>(item: &Val<'a>, indexes: &[Val<'a>]) -> Result<Val<'a>, String> {
    let (len, is_str) = match item.get() {
        None | Some(Value::Null) => return Err("slice of untyped nil".into()),
        Some(Value::String(s)) => (s.len(), true),
        Some(Value::Array(a)) => (a.len(), false),
        Some(v) => return Err(format!("can't slice item of type {}", type_name(v))),
    };
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    if is_str && indexes.len() == 3 {
        return Err("cannot 3-index slice a string".into());
    }
    let mut idx = [0, len, len];
    for (i, ix) in indexes.iter().enumerate() {
        idx[i] = index_arg(ix, len)?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    Ok(match item.get() {
        Some(Value::String(s)) => Val::str(String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]])),
        Some(Value::Array(a)) => Val::Own(Value::Array(a[idx[0]..idx[1]].to_vec())),
        _ => Val::Missing,
    })
}

/// Comparable reading of a value (Go's `basicKind`).
enum Basic<'v> {
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(&'v str),
    /// A valid value of no basic kind (array, map).
    Other(&'v Value),
    /// Missing or null.
    Nil,
}

fn basic<'v>(v: &'v Val<'_>) -> Basic<'v> {
    match v.get() {
        None | Some(Value::Null) => Basic::Nil,
        Some(Value::Bool(b)) => Basic::Bool(*b),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Basic::Int(i),
            (None, Some(u)) => Basic::Uint(u),
            _ => Basic::Float(n.as_f64().unwrap_or(0.0)),
        },
        Some(Value::String(s)) => Basic::Str(s),
        Some(v) => Basic::Other(v),
    }
}

fn eq(a: &Val<'_>, rest: &[Val<'_>]) -> Result<bool, String> {
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = basic(a);
    for b in rest {
        let truth = match (&k1, basic(b)) {
            (Basic::Bool(x), Basic::Bool(y)) => *x == y,
            (Basic::Int(x), Basic::Int(y)) => *x == y,
            (Basic::Uint(x), Basic::Uint(y)) => *x == y,
            (Basic::Float(x), Basic::Float(y)) => *x == y,
            (Basic::Str(x), Basic::Str(y)) => *x == y,
            (Basic::Int(x), Basic::Uint(y)) => *x >= 0 && *x as u64 == y,
            (Basic::Uint(x), Basic::Int(y)) => y >= 0 && *x == y as u64,
            (Basic::Nil, Basic::Nil) => true,
            (Basic::Nil, _) | (_, Basic::Nil) => false,
            (Basic::Other(x), Basic::Other(y)) => {
                if std::mem::discriminant(*x) != std::mem::discriminant(y) {
                    return Err(format!(
                        "non-comparable types {}: {}, {}: {}",
                        super::value::format_v(x),
                        type_name(x),
                        type_name(y),
                        super::value::format_v(y)
                    ));
                }
                return Err(format!(
                    "non-comparable type {}: {}",
                    super::value::format_v(y),
                    type_name(y)
                ));
            }
            _ => return Err("incompatible types for comparison".into()),
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a: &Val<'_>, b: &Val<'_>) -> Result<bool, String> {
    let bad = || "invalid type for comparison".to_string();
    let (k1, k2) = (basic(a), basic(b));
    if matches!(k1, Basic::Nil | Basic::Other(_)) || matches!(k2, Basic::Nil | Basic::Other(_)) {
        return Err(bad());
    }
    Ok(match (k1, k2) {
        (Basic::Int(x), Basic::Int(y)) => x < y,
        (Basic::Uint(x), Basic::Uint(y)) => x < y,
        (Basic::Float(x), Basic::Float(y)) => x < y,
        (Basic::Str(x), Basic::Str(y)) => x < y,
        (Basic::Int(x), Basic::Uint(y)) => x < 0 || (x as u64) < y,
        (Basic::Uint(x), Basic::Int(y)) => y >= 0 && x < y as u64,
        (Basic::Bool(_), Basic::Bool(_)) => return Err(bad()),
        _ => return Err("incompatible types for comparison".into()),
    })
}

/// Go's `evalArgs` for the escapers: one string as is, else `Sprint`.
fn eval_args(args: &[Val<'_>]) -> String {
    if let [one] = args
        && let Some(Value::String(s)) = one.get()
    {
        return s.clone();
    }
    printf::sprint(args)
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if c.is_ascii() || crate::gofmt::is_print(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Per-character case mapping, keeping characters whose mapping is not a
/// single character (Go's `unicode.ToUpper` maps rune to rune: `ß` stays).
fn map_chars<I: Iterator<Item = char>>(s: &str, f: impl Fn(char) -> I) -> String {
    s.chars()
        .map(|c| {
            let mut m = f(c);
            match (m.next(), m.next()) {
                (Some(one), None) => one,
                _ => c,
            }
        })
        .collect()
}

/// `strings.Title`: upper-case the first letter of each word.
fn title(s: &str) -> String {
    let is_separator = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else if c.is_alphabetic() || c.is_numeric() {
            false
        } else {
            c.is_whitespace()
        }
    };
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if is_separator(prev) {
                map_chars(&c.to_string(), |c| c.to_uppercase())
            } else {
                c.to_string()
            };
            prev = c;
            out
        })
        .collect()
}

/// Longest padding `pad` will produce (Go has no limit; a template should
/// not be able to allocate gigabytes).
const PAD_LIMIT: i64 = 1 << 20;

/// docker's `pad`: surround a non-empty string with spaces.
fn pad(s: &str, prefix: i64, suffix: i64) -> Result<String, String> {
    if s.is_empty() {
        return Ok(String::new());
    }
    if prefix < 0 || suffix < 0 {
        return Err("strings: negative Repeat count".into());
    }
    if prefix > PAD_LIMIT || suffix > PAD_LIMIT {
        return Err(format!("pad: count too large (limit {PAD_LIMIT})"));
    }
    Ok(" ".repeat(prefix as usize) + s + &" ".repeat(suffix as usize))
}

/// docker's `truncate`: the first `n` bytes of `s` (all of it if shorter).
fn truncate(s: &str, n: i64) -> Result<String, String> {
    if (s.len() as i64) < n {
        return Ok(s.to_string());
    }
    if n < 0 {
        return Err(format!("runtime error: slice bounds out of range [:{n}]"));
    }
    Ok(String::from_utf8_lossy(&s.as_bytes()[..n as usize]).into_owned())
}
