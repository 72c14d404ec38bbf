//! `strata container ls` (`ps`): docker's columns (CONTAINER ID, IMAGE,
//! COMMAND quoted and cut to 20 with `…`, CREATED, STATUS, PORTS, NAMES),
//! `-a`, `-q`, `-n`, `-l`, `-s`, `--no-trunc`, `--filter`, `--format`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use serde_json::{Value, json};
use strata_format::output::ListFormat;
use strata_format::units::{self, ContainerStatus};
use strata_format::width;
use strata_runtime::Container;
use strata_runtime::containers::{self, paths};
use strata_runtime::net::inspect as net_inspect;
use strata_runtime::net::networks::{self, Attachment};
use strata_store::Store;

use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `ps`.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Filter output based on conditions provided (status=, name=, id=, ancestor=, health=, label=)
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Pretty-print containers using a Go template ('table', 'json', or a template)
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long, value_name = "int", default_value_t = -1, allow_hyphen_values = true)]
    pub last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only display container IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,
}

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("Networks", "NETWORKS"),
    ("State", "STATE"),
    ("LocalVolumes", "LOCAL VOLUMES"),
];

/// A `--filter`.
enum Filter {
    Status(String),
    Name(String),
    Id(String),
    Ancestor(String),
    Health(String),
    /// `label=KEY` or `label=KEY=VALUE`.
    Label(String, Option<String>),
}

fn parse_filters(list: &[String]) -> anyhow::Result<Vec<Filter>> {
    list.iter()
        .map(|f| {
            let (k, v) = crate::commands::filter_pair(f)?;
            Ok(match k {
                "status" => {
                    const OK: &[&str] = &[
                        "created",
                        "restarting",
                        "running",
                        "removing",
                        "paused",
                        "exited",
                        "dead",
                    ];
                    if !OK.contains(&v) {
                        return Err(
                            ExitError::new(1, format!("Invalid filter 'status={v}'")).into()
                        );
                    }
                    Filter::Status(v.to_string())
                }
                "name" => Filter::Name(v.trim_start_matches('/').to_string()),
                "id" => Filter::Id(v.to_string()),
                "ancestor" => Filter::Ancestor(v.to_string()),
                "health" => {
                    if !matches!(v, "starting" | "healthy" | "unhealthy" | "none") {
                        return Err(ExitError::new(
                            1,
                            format!("Unrecognised filter value for health: {v}"),
                        )
                        .into());
                    }
                    Filter::Health(v.to_string())
                }
                "label" => match v.split_once('=') {
                    Some((k, val)) => Filter::Label(k.to_string(), Some(val.to_string())),
                    None => Filter::Label(v.to_string(), None),
                },
                other => {
                    return Err(ExitError::new(1, format!("Invalid filter '{other}'")).into());
                }
            })
        })
        .collect()
}

/// The `State.Status` docker would show (a running record whose processes
/// are gone reads as exited).
pub fn status_word(c: &Container) -> &str {
    if c.state.running && !c.is_running() {
        return "exited";
    }
    &c.state.status
}

fn matches(store: &Store, c: &Container, filters: &[Filter]) -> bool {
    // docker: filters of the same key are OR'ed, different keys AND'ed.
    // Labels: every one must match (docker ANDs label filters).
    let labels_ok = filters.iter().all(|f| match f {
        Filter::Label(k, want) => match (c.spec.config.labels.get(k), want) {
            (None, _) => false,
            (Some(have), Some(w)) => have == w,
            (Some(_), None) => true,
        },
        _ => true,
    });
    if !labels_ok {
        return false;
    }
    let groups: [(&str, Vec<&Filter>); 5] = [
        (
            "status",
            filters
                .iter()
                .filter(|f| matches!(f, Filter::Status(_)))
                .collect(),
        ),
        (
            "name",
            filters
                .iter()
                .filter(|f| matches!(f, Filter::Name(_)))
                .collect(),
        ),
        (
            "id",
            filters
                .iter()
                .filter(|f| matches!(f, Filter::Id(_)))
                .collect(),
        ),
        (
            "ancestor",
            filters
                .iter()
                .filter(|f| matches!(f, Filter::Ancestor(_)))
                .collect(),
        ),
        (
            "health",
            filters
                .iter()
                .filter(|f| matches!(f, Filter::Health(_)))
                .collect(),
        ),
    ];
    groups.iter().all(|(_, fs)| {
        fs.is_empty()
            || fs.iter().any(|f| match f {
                Filter::Status(s) => status_word(c) == s,
                Filter::Name(n) => c.name.contains(n.as_str()),
                Filter::Id(i) => c.id.starts_with(i.as_str()),
                Filter::Ancestor(a) => store
                    .resolve_image_id(a)
                    .is_ok_and(|id| id.as_str() == c.image_id),
                Filter::Health(h) => health_word(c) == h,
                Filter::Label(..) => true,
            })
    })
}

/// Go's `strconv.Quote` (strata-go's).
pub use strata_go::quote::go_quote;

/// docker's `Command` of a container: path and args, args with spaces
/// in single quotes.
pub fn command_line(c: &Container) -> String {
    if c.spec.args.is_empty() {
        return c.spec.path.clone();
    }
    let args: Vec<String> = c
        .spec
        .args
        .iter()
        .map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect();
    format!("{} {}", c.spec.path, args.join(" "))
}

/// An RFC 3339 time as a `SystemTime`.
pub fn system_time(t: &str) -> Option<SystemTime> {
    let dt = chrono::DateTime::parse_from_rfc3339(t).ok()?;
    let secs = dt.timestamp();
    let nanos = dt.timestamp_subsec_nanos();
    (secs >= 0).then(|| UNIX_EPOCH + Duration::new(secs as u64, nanos))
}

/// The container's health for `--filter health=`: `none` without a
/// healthcheck, else its status (`starting`, `healthy`, `unhealthy`).
fn health_word(c: &Container) -> &str {
    match &c.state.health {
        None => "none",
        Some(h) if h.status.is_empty() => "unhealthy",
        Some(h) => &h.status,
    }
}

/// docker's STATUS text.
pub fn status_text(c: &Container, now: SystemTime) -> String {
    let s = &c.state;
    let st = if c.is_running() && s.restarting {
        ContainerStatus::Restarting {
            exit_code: s.exit_code as i64,
            finished: system_time(&s.finished_at).unwrap_or(now),
        }
    } else if c.is_running() && s.paused {
        ContainerStatus::Paused {
            started: system_time(&s.started_at).unwrap_or(now),
        }
    } else if c.is_running() {
        ContainerStatus::Running {
            started: system_time(&s.started_at).unwrap_or(now),
            health: s.health.as_ref().map(|_| health_word(c).to_string()),
        }
    } else if s.never_started() {
        ContainerStatus::Created
    } else {
        ContainerStatus::Exited {
            exit_code: s.exit_code as i64,
            finished: system_time(&s.finished_at).unwrap_or(now),
        }
    };
    units::container_status(&st, now)
}

fn row(
    store: &Store,
    c: &Container,
    atts: &[Attachment],
    no_trunc: bool,
    size: bool,
    now: SystemTime,
) -> Value {
    let created = system_time(&c.created).unwrap_or(now);
    let command = command_line(c);
    let command = if no_trunc {
        command
    } else {
        width::ellipsis(&command, 20)
    };
    let image = if c.image_name.starts_with("sha256:") && !no_trunc {
        width::truncate_id(&c.image_name).to_string()
    } else {
        c.image_name.clone()
    };
    let created_at = chrono::DateTime::parse_from_rfc3339(&c.created)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S %z %Z")
                .to_string()
        })
        .unwrap_or_default();
    let labels: Vec<String> = c
        .spec
        .config
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let size_text = if size {
        let rw = strata_store::layer::disk_usage(&paths(store, &c.id).upper).unwrap_or(0);
        let root = strata_oci::Digest::parse(&c.image_id)
            .ok()
            .and_then(|d| store.image(&d).ok())
            .map_or(0, |i| i.row.size);
        units::container_size(rw, rw + root)
    } else {
        String::new()
    };
    json!({
        "Command": go_quote(&command),
        "CreatedAt": created_at,
        "ID": if no_trunc { c.id.clone() } else { c.short_id().to_string() },
        "Image": image,
        "Labels": labels.join(","),
        "LocalVolumes": "0",
        "Mounts": "",
        "Names": c.name,
        "Networks": net_inspect::networks_column(c, atts),
        "Ports": net_inspect::ports_column(c),
        "RunningFor": units::running_for(created, now),
        "Size": size_text,
        "State": status_word(c),
        "Status": status_text(c, now),
    })
}

/// The containers `ps` lists, newest first: running ones (every one with
/// `all`, or when `last` > 0), kept by the `key=value` filters, at most
/// `last` of them when `last` > 0. The API's `GET /containers/json` lists
/// the same.
pub fn select(
    store: &Store,
    filters: &[String],
    all: bool,
    last: i64,
) -> anyhow::Result<Vec<Container>> {
    let filters = parse_filters(filters)?;
    let mut list = containers::list(store).map_err(super::rt)?;
    list.sort_by_key(|c| std::cmp::Reverse(system_time(&c.created)));
    let all = all || last > 0;
    let mut out = Vec::new();
    for c in list {
        if !all && !c.is_running() {
            continue;
        }
        if !matches(store, &c, &filters) {
            continue;
        }
        out.push(c);
        if last > 0 && out.len() as i64 >= last {
            break;
        }
    }
    Ok(out)
}

/// Runs `ps`.
pub fn run(ctx: &Ctx, args: PsArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let last = if args.latest { 1 } else { args.last };
    let list = select(store, &args.filter, args.all, last)?;
    let now = SystemTime::now();
    let atts = networks::all_attachments(store).map_err(super::rt)?;
    let mut rows = Vec::new();
    for c in &list {
        let a = atts.get(&c.id).map(Vec::as_slice).unwrap_or(&[]);
        rows.push(row(store, c, a, args.no_trunc, args.size, now));
    }
    let mut table = DEFAULT_TABLE.to_string();
    if args.size {
        table.push_str("\t{{.Size}}");
    }
    let fmt = ListFormat {
        format: args.format.as_deref().unwrap_or(""),
        quiet: args.quiet,
        quiet_overrides_format: true,
        default_table: &table,
        quiet_format: "{{.ID}}",
        headers: HEADERS,
    };
    if fmt.quiet_ignores_format() {
        eprintln!("WARNING: Ignoring custom format, because both --format and --quiet are set.");
    }
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
    fn quoting_like_go() {
        assert_eq!(go_quote("sh -c 'echo hi'"), "\"sh -c 'echo hi'\"");
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(go_quote("\x01"), "\"\\x01\"");
    }
}
