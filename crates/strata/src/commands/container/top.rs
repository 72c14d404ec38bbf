//! `strata container top` (`top`): the processes of a running container,
//! as docker shows them. docker runs the host's `ps` with the given
//! options (default `-ef`) plus `-q PID,…`, retries without `-q` when `ps`
//! refuses the combination, and keeps the rows whose PID column names a
//! process of the container's cgroup; so does strata. The table uses
//! docker's tab writer settings (minimum width 20, padding 3).

use std::process::Command;

use anyhow::anyhow;
use clap::Args;
use strata_format::TabWriter;
use strata_runtime::RuntimeError;
use strata_runtime::freezer_linux::ContainerCgroup;
use strata_store::Store;

use crate::commands::network::daemon_error;
use crate::context::Ctx;

/// Flags of `top`.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Options of `ps` (default `-ef`)
    #[arg(
        value_name = "ps OPTIONS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub ps_args: Vec<String>,
}

/// Runs `top`.
pub fn run(ctx: &Ctx, args: TopArgs) -> anyhow::Result<i32> {
    let (titles, rows) = processes(ctx.store()?, &args.container, &args.ps_args.join(" "))
        .map_err(|e| daemon_error(format!("{e:#}")))?;
    let mut text = titles.join("\t");
    text.push('\n');
    for r in rows {
        text.push_str(&r.join("\t"));
        text.push('\n');
    }
    let tw = TabWriter {
        minwidth: 20,
        ..TabWriter::docker()
    };
    print!("{}", tw.format(&text));
    Ok(0)
}

/// The `ps` titles and rows of container `name`'s processes (the CLI's
/// `top` and the API's): `ps_args` are `ps`'s options (empty: `-ef`).
/// A missing or stopped container is a [`RuntimeError`]
/// (`NoSuchContainer`, `NotRunning`); bad options and `ps` failures are
/// plain errors (docker's 500).
pub fn processes(store: &Store, name: &str, ps_args: &str) -> anyhow::Result<Table> {
    let ps_args = if ps_args.is_empty() { "-ef" } else { ps_args };
    validate_ps_args(ps_args).map_err(anyhow::Error::msg)?;
    let c = strata_runtime::containers::lookup(store, name)?;
    if !c.is_running() {
        return Err(RuntimeError::NotRunning(c.id).into());
    }
    let pids = ContainerCgroup::of(&c.id).pids()?;
    // docker splits the options on single spaces (empty words included).
    let words: Vec<&str> = ps_args.split(' ').collect();
    let with_q = format!(
        "-q{}",
        pids.iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    let out = match Command::new("ps").args(&words).arg(&with_q).output() {
        Ok(o) if o.status.success() => o,
        _ => {
            let o = Command::new("ps")
                .args(&words)
                .output()
                .map_err(|e| anyhow!("ps: {e}"))?;
            if !o.status.success() {
                let err = String::from_utf8_lossy(&o.stderr);
                let first = err.lines().next().unwrap_or_default();
                let why = if first.is_empty() {
                    o.status.to_string()
                } else {
                    first.to_string()
                };
                return Err(anyhow!("ps: {why}"));
            }
            o
        }
    };
    parse_ps(&String::from_utf8_lossy(&out.stdout), &pids).map_err(anyhow::Error::msg)
}

/// docker refuses `KEY=PID…` in the options unless KEY is `pid` (a
/// renamed PID column would hide the one it filters on).
fn validate_ps_args(args: &str) -> Result<(), String> {
    let words: Vec<&str> = args.split(|c: char| c.is_ascii_whitespace()).collect();
    // docker's pattern needs whitespace before KEY=: the first word is exempt.
    for (i, w) in words.iter().enumerate().skip(1) {
        let Some((k, v)) = w.split_once('=') else {
            continue;
        };
        let v = if v.is_empty() {
            // `KEY= PID`: the value is the next non-empty word.
            words[i + 1..]
                .iter()
                .find(|w| !w.is_empty())
                .copied()
                .unwrap_or("")
        } else {
            v
        };
        if v.starts_with("PID") && k != "pid" {
            let v = v
                .split(|c: char| c.is_ascii_whitespace())
                .next()
                .unwrap_or(v);
            return Err(format!("specifying \"{k}={v}\" is not allowed"));
        }
    }
    Ok(())
}

/// `ps` titles and the rows under them.
pub type Table = (Vec<String>, Vec<Vec<String>>);

/// The titles and the rows of `ps` output whose PID is in `pids`; a row
/// with PID `-` (a thread, with `-m`) follows the process above it.
fn parse_ps(output: &str, pids: &[u32]) -> Result<Table, String> {
    let mut lines = output.split('\n');
    let titles: Vec<String> = fields(lines.next().unwrap_or_default());
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or("Couldn't find PID field in ps output")?;
    let mut rows = Vec::new();
    let mut keep_threads = false;
    for line in lines.filter(|l| !l.is_empty()) {
        let f = fields(line);
        let Some(pid) = f.get(pid_col) else { continue };
        if pid == "-" {
            if keep_threads {
                rows.push(merge(&titles, f));
            }
            continue;
        }
        let p: u32 = pid
            .parse()
            .map_err(|e| format!("Unexpected pid '{pid}': {e}"))?;
        keep_threads = pids.binary_search(&p).is_ok();
        if keep_threads {
            rows.push(merge(&titles, f));
        }
    }
    Ok((titles, rows))
}

fn fields(line: &str) -> Vec<String> {
    line.split(|c: char| c.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The fields past the last title joined into the last column (CMD).
fn merge(titles: &[String], mut f: Vec<String>) -> Vec<String> {
    let n = titles.len().max(1);
    if f.len() > n {
        let tail = f.split_off(n - 1).join(" ");
        f.push(tail);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    const PS: &str = "UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 00:01 ?        00:00:01 /sbin/init
root        4242    4200  0 00:02 ?        00:00:00 sleep 1000
root        4243    4242  0 00:02 ?        00:00:00 sh -c echo  hi
";

    #[test]
    fn keeps_the_container_rows_and_joins_the_command() {
        let (t, rows) = parse_ps(PS, &[4242, 4243]).unwrap();
        assert_eq!(
            t,
            ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][7], "sleep 1000");
        assert_eq!(rows[1][7], "sh -c echo hi");
    }

    #[test]
    fn threads_follow_their_process() {
        let ps =
            "PID TTY TIME CMD\n10 ? 00:00:00 a\n- - 00:00:00 -\n11 ? 00:00:00 b\n- - 00:00:00 -\n";
        let (_, rows) = parse_ps(ps, &[10]).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1][0], "-");
    }

    #[test]
    fn no_pid_column_is_an_error() {
        assert_eq!(
            parse_ps("USER CMD\nroot x\n", &[1]).unwrap_err(),
            "Couldn't find PID field in ps output"
        );
    }

    #[test]
    fn renaming_the_pid_column_is_refused() {
        assert!(validate_ps_args("-ef").is_ok());
        assert!(validate_ps_args("-o pid=PID,comm").is_ok());
        assert_eq!(
            validate_ps_args("-o user=PID").unwrap_err(),
            "specifying \"user=PID\" is not allowed"
        );
    }
}
