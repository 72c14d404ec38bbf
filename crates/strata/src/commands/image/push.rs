//! `strata image push` (`strata push`): upload an image to a registry
//! (strata-registry does the work), printing docker's lines:
//!
//! ```text
//! Using default tag: latest
//! The push refers to repository [127.0.0.1:5000/node]
//! 8bd6345a1d30: Preparing
//! 8bd6345a1d30: Pushed
//! c445b791f4ef: Mounted from library/debian
//! latest: digest: sha256:… size: 741
//! ```

use clap::Args;
use strata_oci::Reference;
use strata_registry::PushOptions;

use super::progress::Render;
use crate::cli::GlobalArgs;
use crate::commands::registry;
use crate::context::Ctx;

/// Flags of `image push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push all tags of an image to the repository
    #[arg(short, long)]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// Skip image signing (accepted for docker compatibility)
    #[arg(long, hide = true)]
    pub disable_content_trust: bool,
    /// NAME[:TAG]
    pub name: String,
}

/// Runs `image push`.
pub fn run(ctx: &Ctx, global: &GlobalArgs, args: PushArgs) -> anyhow::Result<i32> {
    let render = Render::new(args.quiet);
    let opts = PushOptions {
        registry: registry::options(global)?,
        progress: render.clone(),
        ..PushOptions::default()
    };
    let named = Reference::parse_name_only(&args.name)?;
    let store = ctx.store()?;
    let reports = if args.all_tags {
        if named.tag().is_some() || named.digest().is_some() {
            anyhow::bail!("tag can't be used with --all-tags/-a");
        }
        strata_registry::push_all_tags(store, &named, &opts)
    } else {
        if named.tag().is_none() && named.digest().is_none() && !args.quiet {
            render.line("Using default tag: latest");
        }
        let reference = Reference::parse(&args.name)?;
        strata_registry::push(store, &reference, &opts).map(|r| vec![r])
    };
    render.finish();
    for r in reports? {
        if args.quiet {
            println!("{}", r.reference);
        } else {
            println!(
                "{}: digest: {} size: {}",
                r.tag, r.manifest_digest, r.manifest_size
            );
        }
    }
    Ok(0)
}
