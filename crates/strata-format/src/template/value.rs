//! Values during execution, and how Go prints them.
//!
//! Template data is a [`serde_json::Value`]; Go would hold the same data as
//! docker's typed structs. The mapping, and how each prints with `{{.}}`:
//!
//! | JSON | Go | prints |
//! | --- | --- | --- |
//! | key absent from an object | invalid value | `<no value>` |
//! | `null` | nil pointer / slice / map | `<nil>` |
//! | string | `string` | raw text |
//! | integer number | `int` | `42` |
//! | other number | `float64` | `%v`: `1.5`, `1e+06` |
//! | array | slice | `[a b c]` |
//! | object | map | `map[k1:v1 k2:v2]`, keys sorted |
//!
//! Objects always print as Go *maps*: a Go struct would print `{v1 v2}`,
//! but JSON does not say which it was.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::gofmt;

/// A value being evaluated: a missing map entry (Go's invalid
/// `reflect.Value`), or JSON borrowed from the data or computed.
#[derive(Clone, Debug)]
pub(crate) enum Val<'a> {
    Missing,
    Ref(&'a Value),
    Own(Value),
}

impl<'a> Val<'a> {
    pub(crate) fn get(&self) -> Option<&Value> {
        match self {
            Val::Missing => None,
            Val::Ref(v) => Some(v),
            Val::Own(v) => Some(v),
        }
    }

    pub(crate) fn str(s: impl Into<String>) -> Val<'a> {
        Val::Own(Value::String(s.into()))
    }

    pub(crate) fn int(i: i64) -> Val<'a> {
        Val::Own(Value::from(i))
    }

    pub(crate) fn bool(b: bool) -> Val<'a> {
        Val::Own(Value::Bool(b))
    }

    pub(crate) fn float(f: f64) -> Val<'a> {
        Val::Own(
            serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
        )
    }

    /// The entry `key` of an object (`None` if absent or not an object).
    pub(crate) fn key(&self, key: &str) -> Option<Val<'a>> {
        match self {
            Val::Ref(v) => {
                let v: &'a Value = v;
                v.as_object()?.get(key).map(Val::Ref)
            }
            Val::Own(v) => v.as_object()?.get(key).cloned().map(Val::Own),
            Val::Missing => None,
        }
    }

    /// Element `i` of an array (`None` if out of range or not an array).
    pub(crate) fn elem(&self, i: usize) -> Option<Val<'a>> {
        match self {
            Val::Ref(v) => {
                let v: &'a Value = v;
                v.as_array()?.get(i).map(Val::Ref)
            }
            Val::Own(v) => v.as_array()?.get(i).cloned().map(Val::Own),
            Val::Missing => None,
        }
    }

    /// The elements of an array, or `(key, value)` of an object in sorted
    /// key order, as `range` visits them.
    pub(crate) fn entries(&self) -> Vec<(Val<'a>, Val<'a>)> {
        fn sorted(m: &Map<String, Value>) -> Vec<(&String, &Value)> {
            let mut e: Vec<_> = m.iter().collect();
            e.sort_by(|a, b| a.0.cmp(b.0));
            e
        }
        match self {
            Val::Ref(v) => {
                let v: &'a Value = v;
                match v {
                    Value::Array(a) => a
                        .iter()
                        .enumerate()
                        .map(|(i, e)| (Val::int(i as i64), Val::Ref(e)))
                        .collect(),
                    Value::Object(m) => sorted(m)
                        .into_iter()
                        .map(|(k, e)| (Val::str(k.clone()), Val::Ref(e)))
                        .collect(),
                    _ => Vec::new(),
                }
            }
            Val::Own(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, e)| (Val::int(i as i64), Val::Own(e.clone())))
                .collect(),
            Val::Own(Value::Object(m)) => sorted(m)
                .into_iter()
                .map(|(k, e)| (Val::str(k.clone()), Val::Own(e.clone())))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Go's `isTrue`: false for missing, nil, false, 0, "" and empty
    /// collections.
    pub(crate) fn truth(&self) -> bool {
        match self.get() {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            Some(Value::Object(m)) => !m.is_empty(),
        }
    }

    /// What `{{.}}` prints.
    pub(crate) fn print(&self) -> Cow<'_, str> {
        match self.get() {
            None => Cow::Borrowed("<no value>"),
            Some(Value::String(s)) => Cow::Borrowed(s),
            Some(v) => Cow::Owned(format_v(v)),
        }
    }
}

/// Go's type name of a JSON value.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// A number as `%v` prints it.
pub(crate) fn number_v(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        gofmt::format_g(n.as_f64().unwrap_or(0.0), None, false)
    }
}

/// Go's `%v` of a value.
pub(crate) fn format_v(v: &Value) -> String {
    let mut out = String::new();
    write_v(&mut out, v);
    out
}

fn write_v(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number_v(n)),
        Value::String(s) => out.push_str(s),
        Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, e);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push_str("map[");
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_v(out, &m[k]);
            }
            out.push(']');
        }
    }
}
