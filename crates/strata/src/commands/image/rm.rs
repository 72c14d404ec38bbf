//! `strata image rm` (`rmi`): untag, and delete images whose last
//! reference goes, printing `Untagged:`/`Deleted:` lines as docker does.
//! Like docker, it goes on past an image it cannot remove and fails at the end.

use clap::Args;
use strata_store::images::Removal;

use crate::context::Ctx;

/// Flags of `image rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force removal of the image
    #[arg(short, long)]
    pub force: bool,
    /// Do not delete untagged parents (accepted for compatibility; strata images have no parents)
    #[arg(long)]
    pub no_prune: bool,
    /// Images to remove
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// Runs `image rm`.
pub fn run(ctx: &Ctx, args: RmArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let mut code = 0;
    for name in &args.images {
        match store.remove_image(name, args.force) {
            Ok(done) => {
                for r in done {
                    match r {
                        Removal::Untagged(n) => println!("Untagged: {n}"),
                        Removal::Deleted(d) => println!("Deleted: {d}"),
                    }
                }
            }
            Err(e) => {
                eprintln!("Error: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}
