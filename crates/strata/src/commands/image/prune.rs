//! `strata image prune`: remove dangling images (`-a`: every image no
//! container uses), printing docker's `Deleted Images:` block and the
//! space reclaimed.

use clap::Args;
use strata_format::units;
use strata_store::images::Removal;

use crate::commands::prune_filter::PruneFilter;
use crate::context::Ctx;

/// Flags of `image prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

/// Runs `image prune`.
pub fn run(ctx: &Ctx, args: PruneArgs) -> anyhow::Result<i32> {
    if !args.force {
        let what = if args.all {
            "all images without at least one container associated to them"
        } else {
            "all dangling images"
        };
        if !crate::commands::confirm_removal(what)? {
            return Ok(0);
        }
    }
    let (bytes, output) = prune_all(ctx.store()?, args.all, &PruneFilter::default())?;
    if !output.is_empty() {
        println!("{output}");
    }
    println!("Total reclaimed space: {}", units::human_size(bytes));
    Ok(0)
}

/// Removes the dangling images (`all`: every image no container uses);
/// returns the bytes freed and docker's report (`Deleted Images:` with
/// `untagged:`/`deleted:` lines, empty when none went).
pub fn prune_all(
    store: &strata_store::Store,
    all: bool,
    f: &PruneFilter,
) -> anyhow::Result<(u64, String)> {
    let pruned = prune_images(store, all, f)?;
    if pruned.removed.is_empty() {
        return Ok((0, String::new()));
    }
    let mut out = String::from("Deleted Images:\n");
    for r in &pruned.removed {
        match r {
            Removal::Untagged(n) => out.push_str(&format!("untagged: {n}\n")),
            Removal::Deleted(d) => out.push_str(&format!("deleted: {d}\n")),
        }
    }
    Ok((pruned.reclaimed, out))
}

/// Removes the dangling images (`all`: every image no container uses)
/// `f` selects: what `image prune` and the API's `POST /images/prune` do.
pub fn prune_images(
    store: &strata_store::Store,
    all: bool,
    f: &PruneFilter,
) -> anyhow::Result<strata_store::prune::Pruned> {
    let select = |img: &strata_store::Image| {
        let labels = img
            .config
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default();
        f.matches(img.config.created.as_deref(), &labels)
    };
    Ok(store.prune_images_where(all, &select)?)
}
