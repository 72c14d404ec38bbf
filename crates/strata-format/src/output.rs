//! docker's `--format` handling for list and inspect commands.
//!
//! # List commands (`ps`, `images`, `history`, `volume ls`, …)
//!
//! docker's `formatter.Context.Write`, restated:
//!
//! * `""` or `table` → the command's default table template; with
//!   `--quiet`, its quiet template (usually `{{.ID}}`, no header);
//! * `table <tmpl>` → a table: the header row is `<tmpl>` rendered over the
//!   command's map of field → header (`ID` → `IMAGE`) with docker's header
//!   functions, then one row per item, all aligned by the tabwriter;
//! * `json` → `{{json .}}`: one compact JSON object per line, keys sorted
//!   (docker marshals each row as a Go map);
//! * anything else → the template, once per item, each followed by `\n`,
//!   not aligned.
//!
//! In every case the literal two-character sequences `\t` and `\n` in the
//! format become a tab and a newline, and surrounding spaces are trimmed.
//! Rows are JSON objects with docker's field names, already truncated or
//! humanized by the command (see [`crate::width::truncate_id`],
//! [`crate::width::ellipsis`], [`crate::units`]).
//!
//! ```
//! use serde_json::json;
//! use strata_format::output::ListFormat;
//! let f = ListFormat {
//!     format: "",
//!     quiet: false,
//!     quiet_overrides_format: false,
//!     default_table: "table {{.ID}}\t{{.Size}}",
//!     quiet_format: "{{.ID}}",
//!     headers: &[("ID", "IMAGE"), ("Size", "SIZE")],
//! };
//! let rows = [json!({"ID": "123456789012", "Size": "0B"})];
//! assert_eq!(f.render(&rows).unwrap(), "IMAGE          SIZE\n123456789012   0B\n");
//! ```
//!
//! # Inspect commands
//!
//! [`render_inspect`]: no format → a JSON array indented by four spaces with
//! Go's HTML escaping (`json.MarshalIndent`), `[]` when empty; `json` → the
//! same, compact; a template → rendered per object with missing keys as
//! errors (`map has no entry for key "X"`), each followed by `\n`.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::json::{JsonStyle, to_go_json};
use crate::table::TabWriter;
use crate::template::{MissingKey, RenderOptions, Template, TemplateError};

/// An error rendering command output.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The `--format` template does not parse or fails on an item; docker
    /// prefixes these with `template parsing error: `.
    #[error("template parsing error: {0}")]
    Template(#[from] TemplateError),
    /// An item could not be turned into JSON.
    #[error("cannot format item: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// The `--format` / `--quiet` choice of a list command.
#[derive(Clone, Copy, Debug)]
pub struct ListFormat<'a> {
    /// The `--format` value, `""` when not given.
    pub format: &'a str,
    /// `--quiet`.
    pub quiet: bool,
    /// Whether `--quiet` wins over a custom `--format` (`docker ps` and
    /// `images` print a warning and use the quiet template); when `false`
    /// (`docker history`), quiet applies only without a custom format.
    pub quiet_overrides_format: bool,
    /// The command's default, e.g. `table {{.ID}}\t{{.CreatedSince}}`.
    pub default_table: &'a str,
    /// The quiet template, usually `{{.ID}}`.
    pub quiet_format: &'a str,
    /// Field → column header, e.g. `("CreatedSince", "CREATED")`.
    pub headers: &'a [(&'a str, &'a str)],
}

impl ListFormat<'_> {
    /// Whether a custom format is being ignored because of `--quiet`
    /// (docker then warns: "Ignoring custom format, because both --format
    /// and --quiet are set.").
    pub fn quiet_ignores_format(&self) -> bool {
        self.quiet && self.quiet_overrides_format && !self.is_default()
    }

    fn is_default(&self) -> bool {
        self.format.is_empty() || self.format == "table"
    }

    /// The format actually used, after applying defaults and `--quiet`.
    pub fn effective(&self) -> &str {
        if self.quiet && (self.is_default() || self.quiet_overrides_format) {
            self.quiet_format
        } else if self.is_default() {
            self.default_table
        } else {
            self.format
        }
    }

    /// Renders `rows` (JSON objects with docker's field names).
    pub fn render(&self, rows: &[Value]) -> Result<String, FormatError> {
        render_list(self.effective(), self.headers, rows)
    }
}

/// Turns command items into rows, e.g. structs with docker's field names
/// (`#[serde(rename = "ID")]`).
pub fn to_rows<T: Serialize>(items: &[T]) -> Result<Vec<Value>, FormatError> {
    items
        .iter()
        .map(|i| serde_json::to_value(i).map_err(FormatError::from))
        .collect()
}

/// docker's `preFormat`: the template text of a format.
fn template_text(format: &str) -> String {
    let body = if let Some(rest) = format.strip_prefix("table") {
        rest
    } else if format == "json" {
        "{{json .}}"
    } else {
        format
    };
    body.trim_matches(' ')
        .replace("\\t", "\t")
        .replace("\\n", "\n")
}

/// A copy of `v` with its top-level keys sorted, as a Go map marshals.
fn sorted_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// Renders `rows` with an explicit `format` (`table …`, `json`, or a raw
/// template) — [`ListFormat::render`] without the defaults.
///
/// On a template error nothing is returned, as docker prints nothing.
pub fn render_list(
    format: &str,
    headers: &[(&str, &str)],
    rows: &[Value],
) -> Result<String, FormatError> {
    let is_table = format.starts_with("table");
    let tmpl = Template::parse(&template_text(format))?;
    let mut body = String::new();
    for row in rows {
        tmpl.execute(&sorted_keys(row), RenderOptions::default(), &mut body)?;
        body.push('\n');
    }
    if !is_table {
        return Ok(body);
    }
    let header_data: Map<String, Value> = headers
        .iter()
        .map(|(field, header)| (field.to_string(), Value::String(header.to_string())))
        .collect();
    let mut text = String::new();
    // docker ignores errors rendering the header and keeps what was written.
    let header_opts = RenderOptions {
        header: true,
        ..RenderOptions::default()
    };
    let _ = tmpl.execute(&Value::Object(header_data), header_opts, &mut text);
    text.push('\n');
    text.push_str(&body);
    Ok(TabWriter::docker().format(&text))
}

/// What an inspect command prints: `stdout`, and one message per object
/// the template failed on (docker prints them on stderr and exits 1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InspectOutput {
    /// Text for standard output.
    pub stdout: String,
    /// Per-object errors, e.g. `template parsing error: template: :1:2: …`.
    pub errors: Vec<String>,
}

/// docker's inspect output for `objects` with `--format` `format` (`""` for
/// none). A template that does not parse is an error (docker exits 64).
///
/// ```
/// use serde_json::json;
/// use strata_format::output::render_inspect;
/// let out = render_inspect("", &[json!({"Id": "abc", "Cmd": ["a<b"]})]).unwrap();
/// assert_eq!(out.stdout, "[\n    {\n        \"Id\": \"abc\",\n        \"Cmd\": [\n            \"a\\u003cb\"\n        ]\n    }\n]\n");
/// assert_eq!(render_inspect("", &[]).unwrap().stdout, "[]\n");
/// let out = render_inspect("{{.Id}}", &[json!({"Id": "abc"})]).unwrap();
/// assert_eq!(out.stdout, "abc\n");
/// ```
pub fn render_inspect(format: &str, objects: &[Value]) -> Result<InspectOutput, FormatError> {
    let style = match format {
        "" => Some(JsonStyle::MARSHAL_INDENT),
        "json" => Some(JsonStyle::MARSHAL),
        _ => None,
    };
    if let Some(style) = style {
        let all = Value::Array(objects.to_vec());
        return Ok(InspectOutput {
            stdout: to_go_json(&all, style) + "\n",
            errors: Vec::new(),
        });
    }
    let tmpl = Template::parse(format)?;
    let opts = RenderOptions {
        missing_key: MissingKey::Error,
        ..RenderOptions::default()
    };
    let mut out = InspectOutput::default();
    for obj in objects {
        match tmpl.render_with(obj, opts) {
            Ok(s) => {
                out.stdout.push_str(&s);
                out.stdout.push('\n');
            }
            Err(e) => out.errors.push(FormatError::from(e).to_string()),
        }
    }
    if out.stdout.is_empty() {
        out.stdout.push('\n');
    }
    Ok(out)
}
