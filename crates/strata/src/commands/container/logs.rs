//! `strata container logs` (`logs`): the container's json-file log, with
//! docker's `-f`, `--tail`, `-t`, `--since`, `--until`. stdout entries go
//! to stdout, stderr entries to stderr.

use std::io::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;
use strata_runtime::Container;
use strata_runtime::containers::{self, paths};
use strata_runtime::logs::{LogEntry, LogReader, Stream};
use strata_store::Store;

use super::lookup;
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Show extra details provided to logs
    #[arg(long)]
    pub details: bool,
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long, value_name = "string")]
    pub since: Option<String>,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, default_value = "all", value_name = "string")]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long, value_name = "string")]
    pub until: Option<String>,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// docker's time arguments: RFC 3339 (with or without zone / fraction),
/// a date, Unix seconds (`1700000000.5`), or a duration before now.
pub fn parse_time(s: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    // Unix seconds are docker's `<int>[.<int>]` (strconv.ParseInt of each
    // part): never `inf`, `NaN` or an exponent, which Rust's f64 accepts.
    let unix_seconds = s
        .split_once('.')
        .map_or(s, |(w, f)| if f.is_empty() { "" } else { w });
    if !unix_seconds.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && let Ok(secs) = s.parse::<f64>()
    {
        let whole = secs.trunc() as i64;
        let nanos = ((secs - secs.trunc()) * 1e9) as u32;
        return DateTime::from_timestamp(whole, nanos)
            .ok_or_else(|| anyhow::anyhow!("invalid value for time: {s}"));
    }
    if let Ok(d) = strata_format::units::parse_duration(s) {
        return Ok(now - chrono::Duration::from_std(d)?);
    }
    Err(ExitError::new(1, format!("invalid value for \"since\"/\"until\": {s:?}")).into())
}

/// Runs `logs`.
pub fn run(ctx: &Ctx, args: LogsArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let c = lookup(store, &args.container)?;
    let sel = LogSelect::parse(
        args.since.as_deref(),
        args.until.as_deref(),
        &args.tail,
        args.follow,
    )?;
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr();
    let timestamps = args.timestamps;
    let mut print = |batch: &[&LogEntry]| -> std::io::Result<()> {
        for e in batch {
            let w: &mut dyn Write = match e.stream {
                Stream::Stdout => &mut out,
                Stream::Stderr => &mut err,
            };
            if timestamps {
                w.write_all(e.time_text.as_bytes())?;
                w.write_all(b" ")?;
            }
            w.write_all(&e.log)?;
        }
        out.flush()
    };
    // Ctrl-C (or SIGTERM, SIGHUP) ends the follow: docker's 130/143/129.
    let cancel = strata_store::cancel::Cancel::global();
    emit_logs(store, &c, &sel, &mut print, &|| Ok(cancel.check()?))?;
    Ok(0)
}

/// Which log entries `logs` shows (`--since`, `--until`, `--tail`, `-f`).
#[derive(Debug, Clone, Default)]
pub struct LogSelect {
    /// Entries after this time.
    pub since: Option<DateTime<Utc>>,
    /// Entries up to this time (and no following).
    pub until: Option<DateTime<Utc>>,
    /// The last N entries only.
    pub tail: Option<usize>,
    /// Keep emitting while the container runs.
    pub follow: bool,
}

impl LogSelect {
    /// From `logs`' flag values (the API's query has the same words).
    pub fn parse(
        since: Option<&str>,
        until: Option<&str>,
        tail: &str,
        follow: bool,
    ) -> anyhow::Result<LogSelect> {
        let now = Utc::now();
        let since = since
            .filter(|s| !s.is_empty() && *s != "0")
            .map(|s| parse_time(s, now))
            .transpose()?;
        let until = until
            .filter(|s| !s.is_empty() && *s != "0")
            .map(|s| parse_time(s, now))
            .transpose()?;
        let tail: Option<usize> = match tail {
            "all" | "" => None,
            n => Some(
                n.parse::<i64>()
                    .map_or(0, |v| if v < 0 { usize::MAX } else { v as usize }),
            ),
        };
        Ok(LogSelect {
            since,
            until,
            tail: tail.filter(|t| *t != usize::MAX),
            follow,
        })
    }
}

/// Hands the container's log entries that `sel` selects to `emit`, a
/// batch at a time; following, keeps going until the container stops or
/// `check` fails (the CLI's cancel, a client gone). `logs` and the API's
/// `GET /containers/{id}/logs` both read through this.
pub fn emit_logs(
    store: &Store,
    c: &Container,
    sel: &LogSelect,
    emit: &mut dyn FnMut(&[&LogEntry]) -> std::io::Result<()>,
    check: &dyn Fn() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let log = paths(store, &c.id).log;
    let keep = |e: &LogEntry| {
        sel.since.is_none_or(|s| e.time > s) && sel.until.is_none_or(|u| e.time <= u)
    };
    if !log.exists() {
        return Ok(());
    }
    let mut reader = LogReader::open(&log).map_err(super::rt)?;
    let first = reader.read_new()?;
    let selected: Vec<&LogEntry> = first.iter().filter(|e| keep(e)).collect();
    let skip = sel.tail.map_or(0, |t| selected.len().saturating_sub(t));
    emit(&selected[skip..])?;
    if !sel.follow || sel.until.is_some() {
        return Ok(());
    }
    loop {
        check()?;
        let running = containers::get(store, &c.id)?.is_some_and(|c| {
            c.is_running()
                || c.state.status == "created"
                    && c.state.strata.supervisor.is_some_and(|s| s.is_alive())
        });
        let new = reader.read_new()?;
        emit(&new.iter().filter(|e| keep(e)).collect::<Vec<_>>())?;
        if !running {
            // One last read: the supervisor flushes before recording the exit.
            let last = reader.read_new()?;
            emit(&last.iter().filter(|e| keep(e)).collect::<Vec<_>>())?;
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_like_docker() {
        let now = DateTime::parse_from_rfc3339("2024-01-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_time("2024-01-01T11:00:00Z", now)
                .unwrap()
                .to_rfc3339(),
            "2024-01-01T11:00:00+00:00"
        );
        assert_eq!(
            parse_time("10m", now).unwrap().to_rfc3339(),
            "2024-01-01T11:50:00+00:00"
        );
        assert_eq!(
            parse_time("1704106800", now).unwrap().to_rfc3339(),
            "2024-01-01T11:00:00+00:00"
        );
        assert_eq!(
            parse_time("2024-01-01", now).unwrap().to_rfc3339(),
            "2024-01-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("1704106800.5", now).unwrap().to_rfc3339(),
            "2024-01-01T11:00:00.500+00:00"
        );
        for bad in ["yesterday", "inf", "NaN", "1e9", "1.", ".5", "1.2.3"] {
            assert!(parse_time(bad, now).is_err(), "{bad}");
        }
    }
}
