//! `strata network ls`: docker's columns (NETWORK ID, NAME, DRIVER,
//! SCOPE), sorted by name, with `-q`, `--no-trunc`, `--format` and
//! docker's filters (`driver`, `id`, `label`, `name`, `scope`, `type`,
//! `dangling`).

use clap::Args;
use serde_json::{Value, json};
use strata_format::output::ListFormat;
use strata_format::width;
use strata_runtime::net::networks::{self, Network};
use strata_store::Store;

use super::daemon_error;
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `network ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Provide filter values (e.g. 'driver=bridge')
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Pretty-print networks using a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only display network IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

const DEFAULT_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

const HEADERS: &[(&str, &str)] = &[
    ("ID", "NETWORK ID"),
    ("Name", "NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("IPv6", "IPV6"),
    ("Internal", "INTERNAL"),
    ("Labels", "LABELS"),
    ("CreatedAt", "CREATED AT"),
];

/// Go's `time.Time.String()` of an RFC 3339 time, in UTC.
fn go_time(t: &str) -> String {
    let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) else {
        return String::new();
    };
    let dt = dt.with_timezone(&chrono::Utc);
    let nanos = format!("{:09}", dt.timestamp_subsec_nanos());
    let frac = nanos.trim_end_matches('0');
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    format!("{}{frac} +0000 UTC", dt.format("%Y-%m-%d %H:%M:%S"))
}

fn row(n: &Network, no_trunc: bool) -> Value {
    let labels: Vec<String> = n
        .spec
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    json!({
        "ID": if no_trunc { n.id.clone() } else { width::truncate_id(&n.id).to_string() },
        "Name": n.name,
        "Driver": n.driver,
        "Scope": "local",
        "IPv6": "false",
        "Internal": n.spec.internal.to_string(),
        "Labels": labels.join(","),
        "CreatedAt": go_time(&n.created),
    })
}

/// Whether network `n` passes one `key=v` filter.
fn matches(store: &Store, n: &Network, key: &str, v: &str) -> anyhow::Result<bool> {
    Ok(match key {
        "driver" => n.driver == v,
        "id" => n.id.starts_with(v),
        "name" => n.name.contains(v),
        "scope" => v == "local",
        "type" => match v {
            "custom" => !n.is_predefined(),
            "builtin" => n.is_predefined(),
            _ => {
                return Err(ExitError::new(
                    1,
                    format!("Error response from daemon: invalid filter: 'type'='{v}'"),
                )
                .into());
            }
        },
        "label" => crate::commands::label_matches(Some(&n.spec.labels), v),
        "dangling" => {
            let unused = !n.is_predefined() && !networks::in_use(store, n).map_err(daemon_error)?;
            match v {
                "true" | "1" => unused,
                "false" | "0" => !unused,
                _ => {
                    return Err(ExitError::new(1, format!("invalid filter 'dangling={v}'")).into());
                }
            }
        }
        other => {
            return Err(ExitError::new(1, format!("Invalid filter '{other}'")).into());
        }
    })
}

/// The networks docker's `--filter` words (`key=value`) select, by name:
/// what `network ls` and the API's list show.
pub fn select(store: &Store, filter: &[String]) -> anyhow::Result<Vec<Network>> {
    let all = networks::list(store).map_err(daemon_error)?;
    crate::commands::select_filtered(all, filter, |x, key, val| matches(store, x, key, val))
}

/// Runs `network ls`.
pub fn run(ctx: &Ctx, args: LsArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let rows: Vec<Value> = select(store, &args.filter)?
        .iter()
        .map(|x| row(x, args.no_trunc))
        .collect();
    let fmt = ListFormat {
        format: args.format.as_deref().unwrap_or(""),
        quiet: args.quiet,
        quiet_overrides_format: true,
        default_table: DEFAULT_TABLE,
        quiet_format: "{{.ID}}",
        headers: HEADERS,
    };
    let out = fmt
        .render(&rows)
        .map_err(|e| ExitError::new(1, e.to_string()))?;
    print!("{out}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_like_go() {
        assert_eq!(
            go_time("2026-12-06T20:23:02.547907823Z"),
            "2026-12-06 20:23:02.547907823 +0000 UTC"
        );
        assert_eq!(
            go_time("2026-12-06T20:23:02.500Z"),
            "2026-12-06 20:23:02.5 +0000 UTC"
        );
    }
}
