//! `strata system prune`: docker's prompt, then the per-kind prunes in
//! docker's order — stopped containers, unused networks, unused volumes
//! (`--volumes`), dangling images (`-a`: unused ones), the build cache —
//! each printing its report, then the total reclaimed. `--filter`
//! (`label`, `label!`, `until`) selects among containers, networks,
//! volumes and images; the build cache ignores labels, as docker 20.10's
//! daemon does, and is pruned whole.

use clap::Args;
use strata_format::units;

use crate::commands::prune_filter::PruneFilter;
use crate::commands::{builder, container, image, network, volume};
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `system prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused images not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Prune volumes
    #[arg(long)]
    pub volumes: bool,
    /// Provide filter values (e.g. 'label=<key>=<value>')
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
}

/// docker's confirmation text for these flags.
pub fn confirmation(all: bool, volumes: bool, filters: &[String]) -> String {
    let mut warnings = vec![
        "all stopped containers",
        "all networks not used by at least one container",
    ];
    if volumes {
        warnings.push("all volumes not used by at least one container");
    }
    warnings.push(if all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    });
    warnings.push(if all {
        "all build cache"
    } else {
        "all dangling build cache"
    });
    let mut text = String::from("WARNING! This will remove:");
    for w in warnings {
        text.push_str(&format!("\n  - {w}"));
    }
    text.push('\n');
    if !filters.is_empty() {
        text.push_str("\n  Items to be pruned will be filtered with:");
        for f in filters {
            text.push_str(&format!("\n  - {f}"));
        }
        text.push('\n');
    }
    text.push_str("\nAre you sure you want to continue?");
    text
}

/// Runs `system prune`.
pub fn run(ctx: &Ctx, args: PruneArgs) -> anyhow::Result<i32> {
    let filter = PruneFilter::parse(&args.filter)?;
    if args.volumes && filter.has_until() {
        eprintln!("ERROR: The \"until\" filter is not supported with \"--volumes\"");
        return Err(ExitError::new(1, "").into());
    }
    if !args.force
        && !crate::commands::confirm(&confirmation(args.all, args.volumes, filter.shown()))?
    {
        return Ok(0);
    }
    let store = ctx.store()?;
    let mut total = 0;
    let mut report = |(bytes, output): (u64, String)| {
        total += bytes;
        if !output.is_empty() {
            println!("{output}");
        }
    };
    report(container::rm::prune_all(store, &filter)?);
    report((0, network::prune::prune_all(store, &filter)?));
    if args.volumes {
        report(volume::prune::prune_all(store, &filter)?);
    }
    report(image::prune::prune_all(store, args.all, &filter)?);
    let (keys, bytes) = builder::prune_cache(store, args.all)?;
    let mut output = String::new();
    if !keys.is_empty() {
        output.push_str("Deleted build cache objects:\n");
        for k in &keys {
            output.push_str(k);
            output.push('\n');
        }
    }
    report((bytes, output));
    println!(
        "Total reclaimed space: {}",
        units::human_size_precise(total)
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_is_dockers() {
        assert_eq!(
            confirmation(false, false, &[]),
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all dangling images\n  - all dangling build cache\n\nAre you sure you want to continue?"
        );
        assert_eq!(
            confirmation(true, true, &["label=a".into()]),
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all volumes not used by at least one container\n  - all images without at least one container associated to them\n  - all build cache\n\n  Items to be pruned will be filtered with:\n  - label=a\n\nAre you sure you want to continue?"
        );
    }
}
