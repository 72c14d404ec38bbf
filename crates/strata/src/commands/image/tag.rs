//! `strata image tag SOURCE TARGET` (`strata tag`).

use anyhow::Context as _;
use clap::Args;
use strata_oci::Reference;

use crate::context::Ctx;

/// Flags of `image tag`.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// SOURCE_IMAGE[:TAG]
    pub source: String,
    /// TARGET_IMAGE[:TAG]
    pub target: String,
}

/// Runs `image tag`.
pub fn run(ctx: &Ctx, args: TagArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let id = store.resolve_image_id(&args.source)?;
    // docker's client text (`ImageTag`).
    let target = Reference::parse(&args.target).with_context(|| {
        format!(
            "Error parsing reference: {:?} is not a valid repository/tag",
            args.target
        )
    })?;
    store.tag_image(&id, &target)?;
    strata_runtime::events::record(
        store,
        "image",
        "tag",
        id.as_str(),
        &[("name", target.familiar())],
    );
    Ok(0)
}
