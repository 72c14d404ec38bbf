//! Execution of a parsed template over JSON data.
//!
//! A restatement of Go's `text/template/exec.go`: the same evaluation order
//! (so the same node is blamed in an error), the same variable scoping
//! (`$` is the data; `:=` declares until the enclosing `{{end}}`; `=`
//! assigns), `range` over arrays and over objects in sorted key order with
//! `{{break}}`/`{{continue}}`, and Go's messages:
//! `template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo"`.

use serde_json::Value;

use super::ast::{Arg, Command, Node, Number, Pipe};
use super::funcs::{self, Param};
use super::value::Val;
use super::{MissingKey, RenderOptions, TemplateError};
use crate::gofmt::quote;

/// The node being evaluated, for error messages (Go's `state.node`).
#[derive(Clone, Copy)]
enum At<'t> {
    Node(&'t Node),
    Pipe(&'t Pipe),
    Cmd(&'t Command),
    Arg(&'t Arg),
}

impl At<'_> {
    fn pos(&self) -> usize {
        match self {
            At::Node(n) => n.pos(),
            At::Pipe(p) => p.pos,
            At::Cmd(c) => c.pos,
            At::Arg(a) => a.pos(),
        }
    }

    fn context(&self) -> String {
        match self {
            At::Node(n) => n.to_string(),
            At::Pipe(p) => p.to_string(),
            At::Cmd(c) => c.to_string(),
            At::Arg(a) => a.to_string(),
        }
    }
}

/// Why a walk stopped early.
pub(crate) enum Stop {
    Break,
    Continue,
    Error(TemplateError),
}

impl From<TemplateError> for Stop {
    fn from(e: TemplateError) -> Self {
        Stop::Error(e)
    }
}

type EResult<T> = Result<T, TemplateError>;

pub(crate) struct Exec<'t, 'a, 'o> {
    name: &'t str,
    text: &'t str,
    out: &'o mut String,
    opts: RenderOptions,
    vars: Vec<(&'t str, Val<'a>)>,
    at: Option<At<'t>>,
}

impl<'t, 'a, 'o> Exec<'t, 'a, 'o> {
    pub(crate) fn new(
        name: &'t str,
        text: &'t str,
        out: &'o mut String,
        opts: RenderOptions,
        data: &'a Value,
    ) -> Self {
        Exec {
            name,
            text,
            out,
            opts,
            vars: vec![("$", Val::Ref(data))],
            at: None,
        }
    }

    fn err(&self, message: impl Into<String>) -> TemplateError {
        let message = message.into();
        let Some(at) = self.at else {
            return TemplateError::Exec {
                name: self.name.into(),
                line: 1,
                col: 0,
                context: String::new(),
                message,
            };
        };
        let pos = at.pos().min(self.text.len());
        let before = &self.text.as_bytes()[..pos];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let col = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(pos, |i| pos - i - 1);
        TemplateError::Exec {
            name: self.name.into(),
            line,
            col,
            context: at.context(),
            message,
        }
    }

    pub(crate) fn walk_list(&mut self, dot: &Val<'a>, list: &'t [Node]) -> Result<(), Stop> {
        list.iter().try_for_each(|n| self.walk(dot, n))
    }

    fn walk(&mut self, dot: &Val<'a>, node: &'t Node) -> Result<(), Stop> {
        self.at = Some(At::Node(node));
        match node {
            Node::Text { text } => self.out.push_str(text),
            Node::Action { pipe, .. } => {
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.out.push_str(&v.print());
                }
            }
            Node::If {
                pipe,
                list,
                else_list,
                ..
            }
            | Node::With {
                pipe,
                list,
                else_list,
                ..
            } => {
                let mark = self.vars.len();
                let v = self.eval_pipeline(dot, pipe)?;
                let r = if v.truth() {
                    if matches!(node, Node::With { .. }) {
                        self.walk_list(&v, list)
                    } else {
                        self.walk_list(dot, list)
                    }
                } else if let Some(e) = else_list {
                    self.walk_list(dot, e)
                } else {
                    Ok(())
                };
                self.vars.truncate(mark);
                r?;
            }
            Node::Range {
                pipe,
                list,
                else_list,
                ..
            } => self.walk_range(dot, pipe, list, else_list)?,
            Node::Break { .. } => return Err(Stop::Break),
            Node::Continue { .. } => return Err(Stop::Continue),
            Node::Template { name, .. } => {
                return Err(self
                    .err(format!("template {} not defined", quote(name, false)))
                    .into());
            }
        }
        Ok(())
    }

    fn walk_range(
        &mut self,
        dot: &Val<'a>,
        pipe: &'t Pipe,
        list: &'t [Node],
        else_list: &'t Option<Vec<Node>>,
    ) -> Result<(), Stop> {
        let mark0 = self.vars.len();
        let v = self.eval_pipeline(dot, pipe)?;
        // Go blames the last node evaluated (usually the field), not the range.
        let items = match v.get() {
            None | Some(Value::Null) | Some(Value::Array(_)) | Some(Value::Object(_)) => {
                v.entries()
            }
            Some(other) => {
                return Err(self
                    .err(format!(
                        "range can't iterate over {}",
                        super::value::format_v(other)
                    ))
                    .into());
            }
        };
        let mark = self.vars.len();
        let result = (|| {
            for (index, elem) in &items {
                if let Some(first) = pipe.decl.first() {
                    if pipe.is_assign {
                        let v = if pipe.decl.len() > 1 { index } else { elem };
                        self.set_var(first, v.clone())?;
                    } else {
                        self.set_top_var(1, elem.clone());
                    }
                }
                if pipe.decl.len() > 1 {
                    if pipe.is_assign {
                        self.set_var(&pipe.decl[1], elem.clone())?;
                    } else {
                        self.set_top_var(2, index.clone());
                    }
                }
                let r = self.walk_list(elem, list);
                self.vars.truncate(mark);
                match r {
                    Ok(()) | Err(Stop::Continue) => {}
                    Err(Stop::Break) => break,
                    Err(e) => return Err(e),
                }
            }
            if items.is_empty()
                && let Some(e) = else_list
            {
                self.walk_list(dot, e)?;
            }
            Ok(())
        })();
        self.vars.truncate(mark0);
        result
    }

    fn set_var(&mut self, name: &str, v: Val<'a>) -> EResult<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => Err(self.err(format!("undefined variable: {name}"))),
        }
    }

    fn set_top_var(&mut self, n: usize, v: Val<'a>) {
        let len = self.vars.len();
        if let Some(slot) = len.checked_sub(n).and_then(|i| self.vars.get_mut(i)) {
            slot.1 = v;
        }
    }

    fn var_value(&self, name: &str) -> EResult<Val<'a>> {
        match self.vars.iter().rev().find(|(n, _)| *n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.err(format!("undefined variable: {name}"))),
        }
    }

    fn eval_pipeline(&mut self, dot: &Val<'a>, pipe: &'t Pipe) -> EResult<Val<'a>> {
        self.at = Some(At::Pipe(pipe));
        let mut value: Option<Val<'a>> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Val::Missing);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone())?;
            } else {
                self.vars.push((name, value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, cmd: &Command, fin: &Option<Val<'a>>) -> EResult<()> {
        if cmd.args.len() > 1 || fin.is_some() {
            return Err(self.err(format!(
                "can't give argument to non-function {}",
                cmd.args[0]
            )));
        }
        Ok(())
    }

    fn eval_command(
        &mut self,
        dot: &Val<'a>,
        cmd: &'t Command,
        fin: Option<Val<'a>>,
    ) -> EResult<Val<'a>> {
        let first = &cmd.args[0];
        let has_args = cmd.args.len() > 1 || fin.is_some();
        match first {
            Arg::Field { idents, .. } => {
                self.at = Some(At::Arg(first));
                return self.eval_field_chain(dot.clone(), idents, has_args);
            }
            Arg::Chain { node, fields, .. } => {
                self.at = Some(At::Arg(first));
                let base = self.eval_arg(dot, Param::Any, node)?;
                self.at = Some(At::Arg(first));
                return self.eval_field_chain(base, fields, has_args);
            }
            Arg::Identifier { name, .. } => {
                return self.eval_function(dot, name, first, &cmd.args[1..], At::Cmd(cmd), fin);
            }
            Arg::Pipe(p) => {
                self.not_a_function(cmd, &fin)?;
                return self.eval_pipeline(dot, p);
            }
            Arg::Variable { idents, .. } => {
                self.at = Some(At::Arg(first));
                let v = self.var_value(&idents[0])?;
                if idents.len() == 1 {
                    self.not_a_function(cmd, &fin)?;
                    return Ok(v);
                }
                return self.eval_field_chain(v, &idents[1..], has_args);
            }
            _ => {}
        }
        self.at = Some(At::Arg(first));
        self.not_a_function(cmd, &fin)?;
        match first {
            Arg::Bool { val, .. } => Ok(Val::bool(*val)),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => Err(self.err("nil is not a command")),
            Arg::Number { num, .. } => self.ideal_constant(num),
            Arg::String { text, .. } => Ok(Val::str(text.clone())),
            _ => Err(self.err(format!(
                "can't evaluate command {}",
                quote(&first.to_string(), false)
            ))),
        }
    }

    /// A number literal where no type is expected: float if spelled as one.
    fn ideal_constant(&self, num: &Number) -> EResult<Val<'a>> {
        let t = num.text.trim_start_matches(['+', '-']).to_ascii_lowercase();
        let hex_int = t.starts_with("0x") && !t.contains('p');
        if !num.is_char
            && !hex_int
            && num.text.contains(['.', 'e', 'E', 'p', 'P'])
            && let Some(f) = num.float
        {
            return Ok(Val::float(f));
        }
        match (num.int, num.uint) {
            (Some(i), _) => Ok(Val::int(i)),
            (None, Some(_)) => Err(self.err(format!("{} overflows int", num.text))),
            (None, None) => Ok(Val::float(num.float.unwrap_or(0.0))),
        }
    }

    /// `.A.B.C` from `receiver`; `has_args` applies to the last field.
    fn eval_field_chain(
        &mut self,
        mut receiver: Val<'a>,
        idents: &[String],
        has_args: bool,
    ) -> EResult<Val<'a>> {
        for (i, name) in idents.iter().enumerate() {
            receiver = self.eval_field(name, receiver, has_args && i + 1 == idents.len())?;
        }
        Ok(receiver)
    }

    fn eval_field(&self, name: &str, receiver: Val<'a>, has_args: bool) -> EResult<Val<'a>> {
        let missing_error = self.opts.missing_key == MissingKey::Error;
        match receiver.get() {
            None if missing_error => {
                Err(self.err(format!("nil data; no entry for key {}", quote(name, false))))
            }
            None => Ok(Val::Missing),
            Some(Value::Object(_)) => {
                if has_args {
                    return Err(self.err(format!("{name} is not a method but has arguments")));
                }
                match receiver.key(name) {
                    Some(v) => Ok(v),
                    None if missing_error => {
                        Err(self.err(format!("map has no entry for key {}", quote(name, false))))
                    }
                    None => Ok(Val::Missing),
                }
            }
            Some(Value::Null) => {
                Err(self.err(format!("nil pointer evaluating interface {{}}.{name}")))
            }
            Some(v) => Err(self.err(format!(
                "can't evaluate field {name} in type {}",
                super::value::type_name(v)
            ))),
        }
    }

    fn eval_function(
        &mut self,
        dot: &Val<'a>,
        name: &str,
        ident: &'t Arg,
        args: &'t [Arg],
        call_at: At<'t>,
        fin: Option<Val<'a>>,
    ) -> EResult<Val<'a>> {
        self.at = Some(At::Arg(ident));
        let Some(sig) = funcs::signature(name, self.opts.header) else {
            return Err(self.err(format!("{} is not a defined function", quote(name, false))));
        };
        let num_in = args.len() + usize::from(fin.is_some());
        let num_fixed = sig.fixed.len();
        if sig.variadic.is_some() {
            if num_in < num_fixed {
                return Err(self.err(format!(
                    "wrong number of args for {name}: want at least {num_fixed} got {}",
                    args.len()
                )));
            }
        } else if num_in != num_fixed {
            return Err(self.err(format!(
                "wrong number of args for {name}: want {num_fixed} got {num_in}"
            )));
        }
        let param = |i: usize| {
            sig.fixed
                .get(i)
                .copied()
                .or(sig.variadic)
                .unwrap_or(Param::Any)
        };
        if name == "and" || name == "or" {
            let mut last = Val::Missing;
            for a in args {
                let v = self.eval_arg(dot, Param::Any, a)?;
                if v.truth() == (name == "or") {
                    return Ok(v);
                }
                last = v;
            }
            return Ok(fin.unwrap_or(last));
        }
        let mut argv = Vec::with_capacity(num_in);
        for (i, a) in args.iter().enumerate() {
            argv.push(self.eval_arg(dot, param(i), a)?);
        }
        if let Some(f) = fin {
            argv.push(self.validate(f, param(num_in - 1))?);
        }
        funcs::call(name, self.opts.header, argv).map_err(|m| {
            self.at = Some(call_at);
            self.err(format!("error calling {name}: {m}"))
        })
    }

    fn eval_arg(&mut self, dot: &Val<'a>, param: Param, arg: &'t Arg) -> EResult<Val<'a>> {
        self.at = Some(At::Arg(arg));
        let v = match arg {
            Arg::Dot { .. } => dot.clone(),
            Arg::Field { idents, .. } => self.eval_field_chain(dot.clone(), idents, false)?,
            Arg::Variable { idents, .. } => {
                let v = self.var_value(&idents[0])?;
                self.eval_field_chain(v, &idents[1..], false)?
            }
            Arg::Pipe(p) => self.eval_pipeline(dot, p)?,
            Arg::Identifier { name, .. } => {
                self.eval_function(dot, name, arg, &[], At::Arg(arg), None)?
            }
            Arg::Chain { node, fields, .. } => {
                let base = self.eval_arg(dot, Param::Any, node)?;
                self.at = Some(At::Arg(arg));
                self.eval_field_chain(base, fields, false)?
            }
            Arg::Nil { .. } => {
                return match param {
                    Param::Any => Ok(Val::Own(Value::Null)),
                    Param::Strings => Ok(Val::Own(Value::Array(Vec::new()))),
                    Param::Str => Err(self.err("cannot assign nil to string")),
                    Param::Int => Err(self.err("cannot assign nil to int")),
                };
            }
            Arg::Bool { val, .. } => match param {
                Param::Any => return Ok(Val::bool(*val)),
                _ => return Err(self.literal_mismatch(param, arg)),
            },
            Arg::Number { num, .. } => match param {
                Param::Any => return self.ideal_constant(num),
                Param::Int => match num.int {
                    Some(i) => return Ok(Val::int(i)),
                    None => return Err(self.literal_mismatch(param, arg)),
                },
                _ => return Err(self.literal_mismatch(param, arg)),
            },
            Arg::String { text, .. } => match param {
                Param::Any | Param::Str => return Ok(Val::str(text.clone())),
                _ => return Err(self.literal_mismatch(param, arg)),
            },
        };
        self.validate(v, param)
    }

    fn literal_mismatch(&self, param: Param, arg: &Arg) -> TemplateError {
        self.err(match param {
            Param::Str => format!("expected string; found {arg}"),
            Param::Int => format!("expected integer; found {arg}"),
            Param::Strings | Param::Any => format!("can't handle {arg} for arg of type []string"),
        })
    }

    /// Go's `validateType`: is `v` assignable to the parameter?
    fn validate(&self, v: Val<'a>, param: Param) -> EResult<Val<'a>> {
        let wrong = |expected: &str, v: &Value| {
            self.err(format!(
                "wrong type for value; expected {expected}; got {}",
                super::value::type_name(v)
            ))
        };
        match (param, v.get()) {
            (Param::Any, _) => Ok(v),
            (Param::Str, None) => Err(self.err("invalid value; expected string")),
            (Param::Str, Some(Value::String(_))) => Ok(v),
            (Param::Str, Some(other)) => Err(wrong("string", other)),
            (Param::Int, None) => Err(self.err("invalid value; expected int")),
            (Param::Int, Some(Value::Number(n))) if n.is_i64() => Ok(v),
            (Param::Int, Some(other)) => Err(wrong("int", other)),
            (Param::Strings, None | Some(Value::Null)) => Ok(Val::Own(Value::Array(Vec::new()))),
            (Param::Strings, Some(Value::Array(a))) if a.iter().all(Value::is_string) => Ok(v),
            (Param::Strings, Some(other)) => Err(wrong("[]string", other)),
        }
    }
}
