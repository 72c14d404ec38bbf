//! `strata container stats` (`stats`): docker's columns (CONTAINER ID,
//! NAME, CPU %, MEM USAGE / LIMIT, MEM %, NET I/O, BLOCK I/O, PIDS) from
//! the cgroups and network namespaces ([`strata_runtime::stats_linux`]),
//! `-a`, `--no-stream`, `--no-trunc`, `--format`.
//!
//! CPU % comes from two samples: `--no-stream` takes them
//! [`NO_STREAM_WINDOW`] apart (docker's daemon waits for its next 1 s
//! collection instead); the live view redraws every second, as docker's.

use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};
use strata_format::output::ListFormat;
use strata_format::units;
use strata_runtime::Container;
use strata_runtime::containers;
use strata_runtime::stats_linux::{Cgroups, Sample, Usage, usage};

use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Pretty-print images using a Go template
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Containers (default: all running)
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// The CPU sampling window of `--no-stream`.
pub const NO_STREAM_WINDOW: Duration = Duration::from_millis(100);

const DEFAULT_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Container", "CONTAINER"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

/// A container shown, with the name it was asked by (`.Container`).
struct Target {
    shown_as: String,
    c: Container,
}

/// The containers to show: the named ones in order (every error first,
/// as docker's), else every running one (all with `-a`), newest first.
fn targets(ctx: &Ctx, args: &StatsArgs) -> anyhow::Result<Vec<Target>> {
    let store = ctx.store()?;
    if !args.containers.is_empty() {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for n in &args.containers {
            match containers::lookup(store, n) {
                Ok(c) => out.push(Target {
                    shown_as: n.clone(),
                    c,
                }),
                Err(strata_runtime::RuntimeError::NoSuchContainer(_)) => errors.push(format!(
                    "Error response from daemon: No such container: {n}"
                )),
                Err(e) => errors.push(e.to_string()),
            }
        }
        if !errors.is_empty() {
            for e in &errors {
                eprintln!("{e}");
            }
            return Err(ExitError::new(1, "").into());
        }
        return Ok(out);
    }
    let mut list = containers::list(store).map_err(super::rt)?;
    list.sort_by_key(|c| std::cmp::Reverse(super::ps::system_time(&c.created)));
    Ok(list
        .into_iter()
        .filter(|c| args.all || c.is_running())
        .map(|c| Target {
            shown_as: c.short_id().to_string(),
            c,
        })
        .collect())
}

fn row(t: &Target, u: &Usage, no_trunc: bool) -> Value {
    let c = &t.c;
    let pair = |(a, b): (u64, u64)| {
        format!(
            "{} / {}",
            units::human_size_with_precision(a as f64, 3),
            units::human_size_with_precision(b as f64, 3)
        )
    };
    json!({
        "BlockIO": pair(u.blk),
        "CPUPerc": format!("{:.2}%", u.cpu_percent),
        "Container": t.shown_as,
        "ID": if no_trunc { c.id.clone() } else { c.short_id().to_string() },
        "MemPerc": format!("{:.2}%", u.mem_percent),
        "MemUsage": format!("{} / {}", units::bytes_size(u.mem), units::bytes_size(u.mem_limit)),
        "Name": if c.name.is_empty() { "--".to_string() } else { c.name.clone() },
        "NetIO": pair(u.net),
        "PIDs": u.pids.to_string(),
    })
}

fn sample_all(cg: &Cgroups, ts: &[Target]) -> Vec<Sample> {
    ts.iter().map(|t| cg.sample(&t.c)).collect()
}

fn render(
    args: &StatsArgs,
    ts: &[Target],
    prev: &[Sample],
    cur: &[Sample],
) -> anyhow::Result<String> {
    let rows: Vec<Value> = ts
        .iter()
        .zip(prev.iter().zip(cur))
        .map(|(t, (p, c))| row(t, &usage(p, c), args.no_trunc))
        .collect();
    let fmt = ListFormat {
        format: args.format.as_deref().unwrap_or(""),
        quiet: false,
        quiet_overrides_format: false,
        default_table: DEFAULT_TABLE,
        quiet_format: "{{.ID}}",
        headers: HEADERS,
    };
    fmt.render(&rows)
        .map_err(|e| ExitError::new(1, e.to_string()).into())
}

/// Runs `stats`.
pub fn run(ctx: &Ctx, args: StatsArgs) -> anyhow::Result<i32> {
    let cg = Cgroups::host();
    let mut ts = targets(ctx, &args)?;
    let mut prev = sample_all(&cg, &ts);
    if args.no_stream {
        std::thread::sleep(NO_STREAM_WINDOW);
        let cur = sample_all(&cg, &ts);
        print!("{}", render(&args, &ts, &prev, &cur)?);
        return Ok(0);
    }
    let named = !args.containers.is_empty();
    loop {
        std::thread::sleep(Duration::from_secs(1));
        // Reload the records: the state (running or not) moves on.
        let fresh = targets(ctx, &args)?;
        let cur: Vec<Sample> = if named {
            ts = fresh;
            sample_all(&cg, &ts)
        } else {
            // Keep the previous sample of containers still listed.
            let mut cur = Vec::new();
            let mut old = Vec::new();
            for t in &fresh {
                let before = ts.iter().position(|o| o.c.id == t.c.id);
                old.push(before.map_or_else(|| cg.sample(&t.c), |i| prev[i]));
                cur.push(cg.sample(&t.c));
            }
            ts = fresh;
            prev = old;
            cur
        };
        let out = render(&args, &ts, &prev, &cur)?;
        print!("\x1b[2J\x1b[H{out}");
        use std::io::Write;
        std::io::stdout().flush()?;
        prev = cur;
    }
}
