//! strata-format: command output laid out exactly as docker's CLI lays it
//! out — tables, JSON and `--format` templates. Pure: no I/O, no other
//! strata crate.
//!
//! docker users script against docker's output (`docker ps --format
//! '{{.ID}}'`, `docker inspect -f '{{json .Config.Env}}'`, columns cut by
//! `awk`), so strata reproduces it byte for byte. Each module restates one
//! piece of docker/cli or of the Go libraries it relies on:
//!
//! | module | docker / Go counterpart | what it owns |
//! | --- | --- | --- |
//! | [`units`] | `docker/go-units`, `time.ParseDuration` | `245MB`, `3 days ago`, `Up 3 seconds`, `512m`, `1h2m3.5s` |
//! | [`table`] | docker's fork of `text/tabwriter` | column alignment, per block of lines |
//! | [`template`] | `text/template` + `docker/cli/templates` | `{{.ID}}`, `{{json .}}`, `{{range}}`, Go's errors |
//! | [`output`] | `cli/command/formatter`, `cli/command/inspect` | `--format table/json/<tmpl>`, `--quiet`, inspect arrays |
//! | [`json`] | `encoding/json` | Go's JSON spelling (HTML escaping, floats, indent) |
//! | [`width`] | `go-runewidth`, `formatter.Ellipsis`, `TruncateID` | display width, `…`, 12-char IDs |
//!
//! Data is [`serde_json::Value`] (re-exported as [`serde_json`]) with
//! docker's field names; a command builds one object per row, applying
//! docker's per-field rules (truncation, humanized sizes and times), and
//! hands it to [`output`].
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use serde_json::json;
//! use strata_format::{output::ListFormat, units, width};
//!
//! let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let row = json!({
//!     "ID": width::truncate_id("sha256:0123456789abcdef0123456789abcdef"),
//!     "CreatedSince": units::since(1_700_000_000 - 7_200, now),
//!     "Size": units::human_size(8_460_000),
//! });
//! let format = ListFormat {
//!     format: "",
//!     quiet: false,
//!     quiet_overrides_format: false,
//!     default_table: "table {{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
//!     quiet_format: "{{.ID}}",
//!     headers: &[("ID", "IMAGE"), ("CreatedSince", "CREATED"), ("Size", "SIZE")],
//! };
//! assert_eq!(
//!     format.render(&[row.clone()]).unwrap(),
//!     "IMAGE          CREATED       SIZE\n\
//!      0123456789ab   2 hours ago   8.46MB\n"
//! );
//! let custom = ListFormat { format: "{{.ID}}: {{.Size}}", ..format };
//! assert_eq!(custom.render(&[row]).unwrap(), "0123456789ab: 8.46MB\n");
//! ```

pub mod fuzzing;
mod gofmt;
pub mod json;
pub mod output;
pub mod table;
pub mod template;
pub mod units;
pub mod width;

pub use output::{FormatError, InspectOutput, ListFormat, render_inspect, render_list};
pub use serde_json;
pub use table::TabWriter;
pub use template::{Template, TemplateError};
pub use units::{ParseDurationError, ParseSizeError};

/// Any error of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Rendering output failed.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A template failed on its own (outside [`output`]).
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A size such as `--memory 512m` did not parse.
    #[error(transparent)]
    Size(#[from] ParseSizeError),
    /// A duration such as `--interval 30s` did not parse.
    #[error(transparent)]
    Duration(#[from] ParseDurationError),
}
