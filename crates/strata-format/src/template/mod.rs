//! Go's `text/template`, with docker's functions, over [`serde_json::Value`].
//!
//! This is what `--format '{{.ID}}\t{{json .Config.Env}}'` runs. Field names
//! are docker's (`.ID`, `.Repository`, `.Config.Env`): the caller builds the
//! JSON with docker's names.
//!
//! # Supported
//!
//! * text, `{{/* comments */}}`, trim markers `{{- ` and ` -}}`;
//! * `{{.}}`, `{{.A.B}}`, `{{$}}`, `{{$x := …}}`, `{{$x = …}}`, `$x.A`,
//!   `(pipe).Field`, pipes `{{.X | json}}`, parentheses;
//! * literals: strings (`"…"`, `` `…` ``), numbers, chars, `true`, `false`, `nil`;
//! * `{{if}}`, `{{else if}}`, `{{with}}`, `{{else with}}`, `{{range}}`
//!   (arrays; objects in sorted key order; `{{range $i, $e := …}}`;
//!   `{{else}}`; `{{break}}`, `{{continue}}`);
//! * functions — see [Functions](#functions).
//!
//! Not supported: `{{define}}`, `{{block}}`, `{{template}}` (a parse or
//! execution error), methods with arguments (`.Label "x"`), complex and
//! hexadecimal-float literals, `printf` argument indexes (`%[1]d`).
//!
//! # Functions
//!
//! Go builtins `and or not len index slice print printf println eq ne lt le
//! gt ge html js urlquery`; docker's `json split join title lower upper pad
//! truncate`. `json` is docker's: compact and **not** HTML-escaped
//! (docker's encoder sets `SetEscapeHTML(false)`). For table headers,
//! [`RenderOptions::header`] selects docker's header variants.
//!
//! # Values
//!
//! Data is JSON standing in for docker's Go structs:
//!
//! | JSON | Go | `{{.}}` prints | `if` |
//! | --- | --- | --- | --- |
//! | key absent | invalid value | `<no value>` (error with [`MissingKey::Error`]) | false |
//! | `null` | nil pointer, slice or map | `<nil>` | false |
//! | string | `string` | as is | non-empty |
//! | integer | `int` | `42` | non-zero |
//! | other number | `float64` | `1.5`, `1e+06` | non-zero |
//! | array | slice | `[a b c]` | non-empty |
//! | object | map | `map[a:1 b:2]` (keys sorted) | non-empty |
//!
//! An object always prints as a Go *map*: a Go struct would print
//! `{v1 v2}`, and is always true, but JSON does not say which it was.
//! `index` of a key missing from an object whose values are all strings
//! gives `""`, as docker's `map[string]string` labels do; `join` accepts
//! `null` as an empty list (a nil `[]string`).
//!
//! # Errors
//!
//! Parse and execution errors carry Go's text and position:
//!
//! ```
//! use strata_format::template::Template;
//! let err = Template::parse("{{foo .X}}").unwrap_err();
//! assert_eq!(err.to_string(), r#"template: :1: function "foo" not defined"#);
//! let err = Template::parse("{{if .X}}yes").unwrap_err();
//! assert_eq!(err.to_string(), "template: :1: unexpected EOF");
//! ```
//!
//! Templates come from users: no input makes this module panic, and nesting
//! deeper than 200 levels is refused.

mod ast;
mod exec;
mod funcs;
mod lex;
mod parse;
mod printf;
mod value;

use serde_json::Value;

use self::ast::Node;

/// What a missing map key does (Go's `missingkey` option).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingKey {
    /// Prints `<no value>` (Go's default; docker list commands).
    #[default]
    Default,
    /// Fails with `map has no entry for key "X"` (docker `inspect`).
    Error,
}

/// Options of one execution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Behaviour on missing keys.
    pub missing_key: MissingKey,
    /// Use docker's `HeaderFunctions`: `json split join title lower upper
    /// truncate` return their first argument (for table headers).
    pub header: bool,
}

/// A template error, with Go's wording and position.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template does not parse: `template: NAME:LINE: MESSAGE`.
    #[error("template: {name}:{line}: {message}")]
    Parse {
        /// Template name (`""` for `--format`).
        name: String,
        /// 1-based line of the offending token.
        line: usize,
        /// Go's message, e.g. `function "foo" not defined`.
        message: String,
    },
    /// Execution failed:
    /// `template: NAME:LINE:COL: executing "NAME" at <NODE>: MESSAGE`.
    #[error("template: {name}:{line}:{col}: executing {} at <{context}>: {message}", crate::gofmt::quote(.name, false))]
    Exec {
        /// Template name.
        name: String,
        /// 1-based line of the node.
        line: usize,
        /// 0-based byte column of the node.
        col: usize,
        /// The node, spelled as in the template (`.Foo`, `index .M 5`).
        context: String,
        /// Go's message, e.g. `map has no entry for key "Foo"`.
        message: String,
    },
}

/// A parsed template.
#[derive(Clone, Debug)]
pub struct Template {
    name: String,
    text: String,
    root: Vec<Node>,
}

impl Template {
    /// Parses an anonymous template (named `""`, as docker's are).
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        Template::parse_named("", text)
    }

    /// Parses a template named `name` (the name appears in errors).
    pub fn parse_named(name: &str, text: &str) -> Result<Template, TemplateError> {
        let root =
            parse::parse(name, text, &funcs::is_function).map_err(|e| TemplateError::Parse {
                name: name.to_string(),
                line: e.line,
                message: e.message,
            })?;
        Ok(Template {
            name: name.to_string(),
            text: text.to_string(),
            root,
        })
    }

    /// The template source.
    pub fn source(&self) -> &str {
        &self.text
    }

    /// Renders over `data` with default options.
    ///
    /// ```
    /// use serde_json::json;
    /// use strata_format::template::Template;
    /// let t = Template::parse("{{.ID}} {{join .Tags \",\"}} {{json .Env}}").unwrap();
    /// let data = json!({"ID": "abc", "Tags": ["a", "b"], "Env": ["A=<1>"]});
    /// assert_eq!(t.render(&data).unwrap(), r#"abc a,b ["A=<1>"]"#);
    /// ```
    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        self.render_with(data, RenderOptions::default())
    }

    /// Renders over `data`; on error, nothing is returned.
    pub fn render_with(&self, data: &Value, opts: RenderOptions) -> Result<String, TemplateError> {
        let mut out = String::new();
        self.execute(data, opts, &mut out)?;
        Ok(out)
    }

    /// Renders into `out`. As with Go's `Execute`, output produced before an
    /// error stays in `out`.
    pub fn execute(
        &self,
        data: &Value,
        opts: RenderOptions,
        out: &mut String,
    ) -> Result<(), TemplateError> {
        let mut ex = exec::Exec::new(&self.name, &self.text, out, opts, data);
        match ex.walk_list(&value::Val::Ref(data), &self.root) {
            Ok(()) => Ok(()),
            Err(exec::Stop::Error(e)) => Err(e),
            // The parser only accepts break/continue inside range.
            Err(exec::Stop::Break | exec::Stop::Continue) => Ok(()),
        }
    }
}
