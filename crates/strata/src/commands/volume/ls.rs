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

fn matches(store: &Store, v: &Volume, filters: &[(String, String)]) -> anyhow::Result<bool> {
    let mut keys: Vec<&str> = filters.iter().map(|(k, _)| k.as_str()).collect();
    keys.dedup();
    for key in keys {
        let mut any = false;
        for (_, val) in filters.iter().filter(|(k, _)| k == key) {
            any |= match key {
                "name" => v.name.contains(val.as_str()),
                "driver" => v.driver == *val,
                "label" => match val.split_once('=') {
                    Some((k, x)) => v
                        .labels
                        .as_ref()
                        .and_then(|m| m.get(k))
                        .is_some_and(|l| l == x),
                    None => v
                        .labels
                        .as_ref()
                        .is_some_and(|m| m.contains_key(val.as_str())),
                },
                "dangling" => {
                    let unused = volumes::users(store, &v.name)
                        .map_err(daemon_error)?
                        .is_empty();
                    match val.as_str() {
                        "true" | "1" => unused,
                        "false" | "0" => !unused,
                        _ => {
                            return Err(ExitError::new(
                                1,
                                format!(
                                    "Error response from daemon: invalid filter 'dangling={val}'"
                                ),
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
            };
        }
        if !any {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The volumes docker's `--filter` words (`key=value`) select, by name:
/// what `volume ls` and the API's list show.
pub fn select(store: &Store, filter: &[String]) -> anyhow::Result<Vec<Volume>> {
    let mut filters = Vec::new();
    for f in filter {
        let (k, v) = crate::commands::filter_pair(f)?;
        filters.push((k.to_string(), v.to_string()));
    }
    filters.sort();
    let mut out = Vec::new();
    for x in volumes::list(store).map_err(daemon_error)? {
        if matches(store, &x, &filters)? {
            out.push(x);
        }
    }
    Ok(out)
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
