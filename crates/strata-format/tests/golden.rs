//! docker/cli golden outputs of `docker image history`, rendered through
//! this crate and compared byte for byte.
//!
//! One test per golden file in `shared/conformance/docker-cli/history/`
//! (read in place; `STRATA_CONFORMANCE` overrides the `shared/conformance`
//! directory). The inputs are the fake history items restated in that
//! folder's README; "now" is pinned so that `Created = now` reads
//! "Less than a second ago". A golden without known inputs fails.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::{Value, json};
use strata_format::output::ListFormat;
use strata_format::{units, width};

/// The pinned "now" (2023-11-14T22:13:20Z).
const NOW: i64 = 1_700_000_000;

/// One history item as the daemon API returns it.
struct Item {
    id: &'static str,
    created: i64,
    created_by: &'static str,
    size: i64,
    comment: &'static str,
}

/// The flags of `docker image history` that the goldens exercise.
#[derive(Default)]
struct Flags {
    quiet: bool,
    no_trunc: bool,
    human: bool,
    format: String,
}

fn parse_args(args: &[&str]) -> Flags {
    let mut f = Flags {
        human: true,
        ..Flags::default()
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match *a {
            "-q" | "--quiet" => f.quiet = true,
            "--no-trunc" => f.no_trunc = true,
            "-H=false" | "--human=false" => f.human = false,
            "--format" => f.format = it.next().map(|s| s.to_string()).unwrap_or_default(),
            "--platform" => {
                it.next();
            }
            _ => {}
        }
    }
    f
}

/// The inputs of each golden, from the README's table.
fn case(name: &str) -> Option<(Vec<&'static str>, Item)> {
    let full_id = "1234567890123456789";
    let now_item = |id, comment| Item {
        id,
        created: NOW,
        created_by: "",
        size: 0,
        comment,
    };
    Some(match name {
        "simple" => (vec!["image:tag"], now_item(full_id, "none")),
        "quiet" => (vec!["--quiet", "image:tag"], now_item("image:tag", "")),
        "non-human" => (
            vec!["--human=false", "image:tag"],
            Item {
                id: "abcdef",
                // 2017-01-01T12:00:03Z
                created: 1_483_272_003,
                created_by: "rose",
                size: 0,
                comment: "new history item!",
            },
        ),
        "quiet-no-trunc" => (
            vec!["--quiet", "--no-trunc", "image:tag"],
            now_item(full_id, ""),
        ),
        "platform" => (
            vec!["--platform", "linux/amd64", "image:tag"],
            now_item(full_id, ""),
        ),
        _ => return None,
    })
}

/// docker's `historyContext`: one row with docker's field names.
fn history_row(item: &Item, flags: &Flags, now: SystemTime) -> Value {
    let id = if flags.no_trunc {
        item.id.to_string()
    } else {
        width::truncate_id(item.id).to_string()
    };
    let created_at = units::rfc3339(item.created, 0);
    let created_since = if flags.human {
        units::since(item.created, now)
    } else {
        created_at.clone()
    };
    let created_by = item.created_by.replace('\t', " ");
    let created_by = if flags.no_trunc {
        created_by
    } else {
        width::ellipsis(&created_by, 45)
    };
    let size = if flags.human {
        units::human_size(item.size.max(0) as u64)
    } else {
        item.size.to_string()
    };
    json!({
        "ID": id,
        "CreatedAt": created_at,
        "CreatedSince": created_since,
        "CreatedBy": created_by,
        "Size": size,
        "Comment": item.comment,
    })
}

fn render_history(args: &[&str], items: &[Item]) -> Result<String, Failed> {
    let flags = parse_args(args);
    let now = UNIX_EPOCH + Duration::from_secs(NOW as u64);
    let default_table = if flags.human {
        "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    } else {
        "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    };
    let format = ListFormat {
        format: &flags.format,
        quiet: flags.quiet,
        quiet_overrides_format: false,
        default_table,
        quiet_format: "{{.ID}}",
        headers: &[
            ("ID", "IMAGE"),
            ("CreatedSince", "CREATED"),
            ("CreatedAt", "CREATED AT"),
            ("CreatedBy", "CREATED BY"),
            ("Size", "SIZE"),
            ("Comment", "COMMENT"),
        ],
    };
    let rows: Vec<Value> = items.iter().map(|i| history_row(i, &flags, now)).collect();
    format
        .render(&rows)
        .map_err(|e| Failed::from(e.to_string()))
}

fn history_dir() -> PathBuf {
    strata_testkit::conformance_dir().join("docker-cli/history")
}

fn check_golden(path: &Path, name: &str) -> Result<(), Failed> {
    let want = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (args, item) = case(name).ok_or_else(|| format!("no inputs known for golden {name:?}"))?;
    let got = render_history(&args, &[item])?;
    if got != want {
        return Err(
            format!("output differs for {name}\n--- want\n{want:?}\n--- got\n{got:?}").into(),
        );
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let dir = history_dir();
    let mut trials = Vec::new();
    match std::fs::read_dir(&dir) {
        Ok(entries) => {
            let mut paths: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for path in paths {
                let file = path
                    .file_name()
                    .and_then(|f| f.to_str())
                    .unwrap_or_default()
                    .to_string();
                let Some(name) = file
                    .strip_prefix("history-command-success.")
                    .and_then(|rest| rest.strip_suffix(".golden"))
                    .map(str::to_string)
                else {
                    continue;
                };
                trials.push(Trial::test(format!("history::{name}"), move || {
                    check_golden(&path, &name)
                }));
            }
        }
        Err(e) => {
            let msg = format!("cannot read {}: {e}", dir.display());
            trials.push(Trial::test("history::goldens_present", move || {
                Err(msg.into())
            }));
        }
    }
    if trials.is_empty() {
        trials.push(Trial::test("history::goldens_present", || {
            Err("no golden files found".into())
        }));
    }
    libtest_mimic::run(&args, trials).exit();
}
