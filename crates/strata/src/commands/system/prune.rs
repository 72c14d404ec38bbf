//! `strata system prune`: docker's prompt, then the per-kind prunes in
//! docker's order — stopped containers, unused networks, unused volumes
//! (`--volumes`), dangling images (`-a`: unused ones), the build cache —
//! each printing its report, then the total reclaimed.

use clap::Args;
use strata_format::units;

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
    for f in &args.filter {
        crate::commands::filter_pair(f)?;
    }
    if !args.filter.is_empty() {
        // The per-kind prunes take no filter yet: refuse rather than
        // remove more than asked.
        return Err(ExitError::new(
            1,
            "Error response from daemon: system prune --filter is not supported by strata",
        )
        .into());
    }
    if !args.force
        && !crate::commands::confirm(&confirmation(args.all, args.volumes, &args.filter))?
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
    report(container::rm::prune_all(store)?);
    report((0, network::prune::prune_all(store)?));
    if args.volumes {
        report(volume::prune::prune_all(store)?);
    }
    report(image::prune::prune_all(store, args.all)?);
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
