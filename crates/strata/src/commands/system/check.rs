//! `strata system check [--repair]`: verifies every blob's digest and
//! size, every image's manifest, config and layers, snapshots, containers,
//! mounts, the build cache and scratch space against the metadata DB (see
//! `strata_store::check`), one line per finding. Exit 1 when a problem is
//! found; with `--repair`, what is safe is repaired, each line says what
//! was done or why not, and the exit code is 1 only if a problem is left.

use clap::Args;
use strata_store::check::{CheckOptions, Repair, Severity};

use crate::context::Ctx;

/// Flags of `system check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Repair what is safe to repair (orphan files, dangling records, leftover mounts)
    #[arg(long)]
    pub repair: bool,
}

/// Runs `system check`.
pub fn run(ctx: &Ctx, args: CheckArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let running = strata_runtime::containers::list(store)?
        .into_iter()
        .filter(|c| c.is_running())
        .map(|c| c.id)
        .collect();
    let opts = CheckOptions { running };
    let (report, repairs) = if args.repair {
        let (r, done) = store.check_and_repair(&opts)?;
        (r, Some(done))
    } else {
        (store.check(&opts)?, None)
    };
    let mut left = 0;
    for (i, f) in report.findings.iter().enumerate() {
        let tag = match f.severity {
            Severity::Problem => "",
            Severity::Garbage => " (garbage)",
        };
        match repairs.as_ref().map(|r| &r[i]) {
            None => println!("{}{tag}", f.what),
            Some(Repair::Fixed(how)) => println!("{}{tag}: repaired: {how}", f.what),
            Some(Repair::Left(why)) => {
                if f.severity == Severity::Problem {
                    left += 1;
                }
                println!("{}{tag}: cannot repair: {why}", f.what);
            }
        }
    }
    let problems = report.problems().count();
    if !report.exclusive {
        eprintln!(
            "note: other strata commands are running; what they may be writing right now was not checked"
        );
    }
    if repairs.is_some() {
        println!(
            "{problems} problem(s) found, {} repaired, {left} left; {} blobs verified",
            problems - left,
            report.blobs_checked
        );
        return Ok(i32::from(left > 0));
    }
    if problems == 0 {
        println!("no problems found; {} blobs verified", report.blobs_checked);
        return Ok(0);
    }
    let fixable = report
        .problems()
        .filter(|f| f.unrepairable().is_none())
        .count();
    println!(
        "{problems} problem(s) found; `strata system check --repair` can repair {fixable}; {} blobs verified",
        report.blobs_checked
    );
    Ok(1)
}
