//! `strata container commit` (`commit`): a new image from a container's
//! changes; prints its ID (`sha256:…`). `--change` applies Dockerfile
//! instructions to the new config (strata-build's `apply_changes`).

use clap::{ArgAction, Args};
use strata_oci::{ImageConfig, Reference};
use strata_runtime::commit::{self, CommitOptions};

use super::{lookup, rt};
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `commit`.
#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long, value_name = "string")]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change", value_name = "list")]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short = 'm', long, value_name = "string")]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(short = 'p', long, action = ArgAction::Set, default_value_t = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub pause: bool,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// REPOSITORY[:TAG]
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// Runs `commit`.
pub fn run(ctx: &Ctx, args: CommitArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let c = lookup(store, &args.container)?;
    let reference = args
        .reference
        .as_deref()
        .map(|r| Reference::parse(r).map_err(|e| ExitError::new(1, e.to_string())))
        .transpose()?;
    let mut config = commit::container_config(store, &c).map_err(rt)?;
    if !args.change.is_empty() {
        let mut img = ImageConfig {
            config: Some(config),
            ..ImageConfig::default()
        };
        strata_build::changes::apply_changes(&mut img, &args.change)
            .map_err(|e| ExitError::new(1, e.to_string()))?;
        config = img.config.unwrap_or_default();
    }
    let id = commit::commit(
        store,
        &c,
        &CommitOptions {
            reference,
            message: args.message.clone(),
            author: args.author.clone(),
            config: Some(config),
            pause: args.pause,
        },
    )
    .map_err(|e| ExitError::new(1, e.to_string()))?;
    println!("{id}");
    Ok(0)
}
