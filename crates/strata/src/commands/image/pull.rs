//! `strata image pull` (`strata pull`): download an image from a registry
//! (strata-registry does the work), printing docker's lines:
//!
//! ```text
//! Using default tag: latest
//! latest: Pulling from library/node
//! c445b791f4ef: Pulling fs layer
//! c445b791f4ef: Download complete
//! c445b791f4ef: Pull complete
//! Digest: sha256:…
//! Status: Downloaded newer image for node:latest
//! docker.io/library/node:latest
//! ```

use std::sync::Arc;

use clap::Args;
use strata_oci::Reference;
use strata_registry::{PullOptions, PullReport};

use super::progress::Render;
use crate::cli::GlobalArgs;
use crate::commands::registry;
use crate::context::Ctx;

/// Flags of `image pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short, long)]
    pub all_tags: bool,
    /// Set platform if server is multi-platform capable (the host's only)
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// Skip image verification (accepted for docker compatibility; strata always verifies digests)
    #[arg(long, hide = true)]
    pub disable_content_trust: bool,
    /// NAME[:TAG|@DIGEST]
    pub name: String,
}

/// Runs `image pull`.
pub fn run(ctx: &Ctx, global: &GlobalArgs, args: PullArgs) -> anyhow::Result<i32> {
    let render = Render::new(args.quiet);
    let named = Reference::parse_name_only(&args.name)?;
    if args.all_tags {
        let store = ctx.store()?;
        let opts = PullOptions {
            registry: registry::options(global)?,
            platform: args.platform.clone(),
            progress: render.clone(),
            ..PullOptions::default()
        };
        let reports = strata_registry::pull_all_tags(store, &named, &opts);
        render.finish();
        let reports = reports?;
        if !args.quiet {
            for r in &reports {
                println!("Digest: {}", r.digest);
            }
            let updated = reports.iter().any(|r| r.updated);
            println!(
                "Status: {} for {}",
                if updated {
                    "Downloaded newer image"
                } else {
                    "Image is up to date"
                },
                named.familiar_repository()
            );
        }
        println!("{}", named.repository());
        return Ok(0);
    }
    if named.tag().is_none() && named.digest().is_none() && !args.quiet {
        render.line("Using default tag: latest");
    }
    let reference = Reference::parse(&args.name)?;
    pull_one(ctx, global, &reference, args.platform.clone(), &render)?;
    println!("{reference}");
    Ok(0)
}

/// Pulls one image as `pull` does, on `render`'s stream (stdout for `pull`,
/// stderr for `run`/`create` pulling a missing image): the layers'
/// progress, then docker's `Digest:` and `Status:` lines.
pub fn pull_one(
    ctx: &Ctx,
    global: &GlobalArgs,
    reference: &Reference,
    platform: Option<String>,
    render: &Arc<Render>,
) -> anyhow::Result<PullReport> {
    pull_with(
        ctx,
        global,
        reference,
        platform,
        render.clone(),
        &|| render.finish(),
        &|l| render.after(l),
    )
}

/// Pulls one image, its progress to `progress`; once the transfers end,
/// `finish`, then docker's `Digest:` and `Status:` lines to `after` (the
/// CLI prints them, the API streams them as JSON messages).
pub fn pull_with(
    ctx: &Ctx,
    global: &GlobalArgs,
    reference: &Reference,
    platform: Option<String>,
    progress: strata_registry::progress::ProgressRef,
    finish: &dyn Fn(),
    after: &dyn Fn(&str),
) -> anyhow::Result<PullReport> {
    let opts = PullOptions {
        registry: registry::options(global)?,
        platform,
        progress,
        ..PullOptions::default()
    };
    let report = strata_registry::pull_report(ctx.store()?, reference, &opts);
    finish();
    let report = report?;
    after(&format!("Digest: {}", report.digest));
    after(&format!(
        "Status: {} for {}",
        if report.updated {
            "Downloaded newer image"
        } else {
            "Image is up to date"
        },
        reference.familiar()
    ));
    Ok(report)
}
