//! `strata volume ls`: docker's columns (DRIVER, VOLUME NAME), sorted by
//! name, with `-q`, `--format` and docker's filters (`dangling`, `name`,
//! `driver`, `label`).

use clap::Args;
use serde_json::{Value, json};
use strata_format::output::ListFormat;
use strata_runtime::volumes::{self, Volume};
use strata_store::Store;

use super::daemon_error;
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `volume ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Provide filter values (e.g. 'dangling=true')
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Pretty-print volumes using a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Only display volume names
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

const DEFAULT_TABLE: &str = "table {{.Driver}}\t{{.Name}}";

const HEADERS: &[(&str, &str)] = &[
    ("Name", "VOLUME NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("Mountpoint", "MOUNTPOINT"),
    ("Labels", "LABELS"),
    ("Links", "LINKS"),
    ("Size", "SIZE"),
];

fn row(v: &Volume) -> Value {
    let labels: Vec<String> = v
        .labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    json!({
        "Name": v.name,
        "Driver": v.driver,
        "Scope": "local",
        "Mountpoint": v.mountpoint,
        "Labels": labels.join(","),
        "Links": "N/A",
        "Size": "N/A",
    })
}

/// Whether volume `v` passes one `key=val` filter.
fn matches(store: &Store, v: &Volume, key: &str, val: &str) -> anyhow::Result<bool> {
    Ok(match key {
        "name" => v.name.contains(val),
        "driver" => v.driver == val,
        "label" => crate::commands::label_matches(v.labels.as_ref(), val),
        "dangling" => {
            let unused = volumes::users(store, &v.name)
                .map_err(daemon_error)?
                .is_empty();
            match val {
                "true" | "1" => unused,
                "false" | "0" => !unused,
                _ => {
                    return Err(ExitError::new(
                        1,
                        format!("Error response from daemon: invalid filter 'dangling={val}'"),
                    )
                    .into());
                }
            }
        }
        other => {
            return Err(ExitError::new(
                1,
                format!("Error response from daemon: Invalid filter '{other}'"),
            )
            .into());
        }
    })
}

/// The volumes docker's `--filter` words (`key=value`) select, by name:
/// what `volume ls` and the API's list show.
pub fn select(store: &Store, filter: &[String]) -> anyhow::Result<Vec<Volume>> {
    let all = volumes::list(store).map_err(daemon_error)?;
    crate::commands::select_filtered(all, filter, |x, key, val| matches(store, x, key, val))
}

/// Runs `volume ls`.
pub fn run(ctx: &Ctx, args: LsArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let rows: Vec<Value> = select(store, &args.filter)?.iter().map(row).collect();
    let fmt = ListFormat {
        format: args.format.as_deref().unwrap_or(""),
        quiet: args.quiet,
        quiet_overrides_format: true,
        default_table: DEFAULT_TABLE,
        quiet_format: "{{.Name}}",
        headers: HEADERS,
    };
    let out = fmt
        .render(&rows)
        .map_err(|e| ExitError::new(1, e.to_string()))?;
    print!("{out}");
    Ok(0)
}
