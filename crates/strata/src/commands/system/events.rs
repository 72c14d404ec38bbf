//! `strata events` (`system events`): the store's event journal
//! ([`strata_store::events`]) as docker prints its events — one line per
//! event (`<time> <type> <action> <id> (<attributes>)`) or `--format` —
//! `--since` (past events too), `--until` (stop there; without it, follow
//! new events until interrupted), `--filter` (`container`, `event`,
//! `type`, `image`, `label`, `network`, `volume`: the same key ORed,
//! different keys ANDed; an unknown key is ignored, as docker 20.10's
//! daemon does). Recorded so far: container `create`, `start`, `die`
//! (`exitCode`), `destroy`, `health_status: …`.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;
use strata_format::template::{RenderOptions, Template};
use strata_store::events::{Event, Journal};

use crate::commands::container::logs::parse_time;
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format the output using the given Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Show all events created since timestamp
    #[arg(long, value_name = "string")]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long, value_name = "string")]
    pub until: Option<String>,
}

/// How often a follower looks for new events.
const POLL: Duration = Duration::from_millis(100);

const KEYS: &[&str] = &[
    "container",
    "event",
    "type",
    "image",
    "label",
    "network",
    "volume",
];

fn parse_filters(list: &[String]) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in list {
        let (k, v) = crate::commands::filter_pair(f)?;
        // docker 20.10's daemon ignores a key it does not know.
        if KEYS.contains(&k) {
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
    }
    Ok(m)
}

fn matches(e: &Event, filters: &BTreeMap<String, Vec<String>>) -> bool {
    let attr = |k: &str| e.actor.attributes.get(k).map(String::as_str);
    filters.iter().all(|(k, values)| {
        values.iter().any(|v| match k.as_str() {
            "container" => {
                e.kind == "container"
                    && (attr("name") == Some(v.as_str()) || e.actor.id.starts_with(v.as_str()))
            }
            "event" => e.action == *v || e.action.split(':').next() == Some(v.as_str()),
            "type" => e.kind == *v,
            "image" => attr("image") == Some(v.as_str()) || e.from == *v,
            "label" => match v.split_once('=') {
                Some((lk, lv)) => attr(lk) == Some(lv),
                None => attr(v).is_some(),
            },
            "network" => e.kind == "network" && (e.actor.id == *v || attr("name") == Some(v)),
            "volume" => e.kind == "volume" && e.actor.id == *v,
            _ => false,
        })
    })
}

/// docker's default line.
fn pretty(e: &Event) -> String {
    let t = DateTime::from_timestamp(
        e.time_nano.div_euclid(1_000_000_000),
        e.time_nano.rem_euclid(1_000_000_000) as u32,
    )
    .unwrap_or_default()
    .with_timezone(&chrono::Local)
    .format("%Y-%m-%dT%H:%M:%S%.9f%:z")
    .to_string()
    .replace("+00:00", "Z");
    let mut line = format!("{t} {} {} {}", e.kind, e.action, e.actor.id);
    if !e.actor.attributes.is_empty() {
        let attrs: Vec<String> = e
            .actor
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        line.push_str(&format!(" ({})", attrs.join(", ")));
    }
    line
}

/// The event as docker's templates see it: Go's field names (`.Status`,
/// `.ID`, `.From`, `.Type`, `.Action`, `.Actor.ID`, `.Actor.Attributes`,
/// `.Scope`, `.Time`, `.TimeNano`).
fn template_view(e: &Event) -> serde_json::Value {
    serde_json::json!({
        "Status": e.status,
        "ID": e.id,
        "From": e.from,
        "Type": e.kind,
        "Action": e.action,
        "Actor": {"ID": e.actor.id, "Attributes": e.actor.attributes},
        "Scope": e.scope,
        "Time": e.time,
        "TimeNano": e.time_nano,
    })
}

/// Which events a reader wants: docker's filters and the `since` /
/// `until` window. `events` and the API's `GET /events` read through it.
pub struct Selection {
    filters: BTreeMap<String, Vec<String>>,
    /// Whether past events are wanted (`since` given).
    past: bool,
    /// Events before this are skipped (now, without `since`).
    since: i64,
    until: Option<DateTime<Utc>>,
}

impl Selection {
    /// Parses `--filter` words and `--since`/`--until` (docker's time
    /// forms: RFC 3339, Unix seconds, durations back from now).
    pub fn parse(
        filter: &[String],
        since: Option<&str>,
        until: Option<&str>,
    ) -> anyhow::Result<Selection> {
        let now = Utc::now();
        let since = since.map(|s| parse_time(s, now)).transpose()?;
        let until = until.map(|s| parse_time(s, now)).transpose()?;
        Ok(Selection {
            filters: parse_filters(filter)?,
            past: since.is_some(),
            // Without --since only new events are shown.
            since: nanos(since.unwrap_or(now)),
            until,
        })
    }

    fn keep(&self, e: &Event) -> bool {
        e.time_nano >= self.since
            && self.until.is_none_or(|u| e.time_nano <= nanos(u))
            && matches(e, &self.filters)
    }

    /// Hands the selected events to `emit`, in batches (the past ones
    /// first when `since` was given), following the journal until
    /// `until` passes; without `until`, until `emit` returns false (it
    /// is called at every poll, with an empty batch when nothing new
    /// came, so a reader can notice its client left).
    pub fn follow(
        &self,
        journal: &Journal,
        emit: &mut dyn FnMut(&[&Event]) -> anyhow::Result<bool>,
    ) -> anyhow::Result<()> {
        let (past, mut offset) = journal.snapshot();
        if self.past {
            let batch: Vec<&Event> = past.iter().filter(|e| self.keep(e)).collect();
            if !emit(&batch)? {
                return Ok(());
            }
        }
        loop {
            if let Some(u) = self.until
                && Utc::now() > u
            {
                return Ok(());
            }
            std::thread::sleep(POLL);
            let (new, off) = journal.read_from(offset);
            offset = off;
            let batch: Vec<&Event> = new.iter().filter(|e| self.keep(e)).collect();
            if !emit(&batch)? {
                return Ok(());
            }
        }
    }
}

struct Printer {
    tmpl: Option<Template>,
    /// `{{json .}}`: the message's JSON (its own field names).
    json: bool,
}

impl Printer {
    fn print(&self, events: &[&Event]) -> anyhow::Result<bool> {
        let mut out = std::io::stdout().lock();
        for e in events {
            let line = match &self.tmpl {
                None => pretty(e),
                Some(_) if self.json => serde_json::to_string(e)?,
                Some(t) => {
                    let mut s = String::new();
                    t.execute(&template_view(e), RenderOptions::default(), &mut s)
                        .map_err(|err| ExitError::new(1, err.to_string()))?;
                    s
                }
            };
            writeln!(out, "{line}")?;
        }
        out.flush()?;
        Ok(true)
    }
}

fn nanos(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// Runs `events`.
pub fn run(ctx: &Ctx, args: EventsArgs) -> anyhow::Result<i32> {
    let sel = Selection::parse(&args.filter, args.since.as_deref(), args.until.as_deref())?;
    let tmpl = match args.format.as_deref() {
        None | Some("") => None,
        Some(f) => Some(Template::parse(f).map_err(|e| ExitError::new(64, e.to_string()))?),
    };
    let p = Printer {
        json: args.format.as_deref().map(str::trim) == Some("{{json .}}"),
        tmpl,
    };
    sel.follow(&ctx.store()?.journal(), &mut |batch| p.print(batch))?;
    Ok(0)
}
