//! `strata image load` (`strata load`): a docker-archive or OCI-layout tar
//! (plain, gzip or zstd) from `-i FILE` or stdin.

use std::fs::File;
use std::io::{IsTerminal, Read};

use anyhow::{Context as _, bail};
use clap::Args;

use crate::context::Ctx;

/// Flags of `image load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<std::path::PathBuf>,
    /// Suppress the load output
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs `image load`.
pub fn run(ctx: &Ctx, args: LoadArgs) -> anyhow::Result<i32> {
    let reader: Box<dyn Read> = match &args.input {
        Some(p) => Box::new(File::open(p).with_context(|| format!("opening {}", p.display()))?),
        None => {
            if std::io::stdin().is_terminal() {
                bail!("requested load from stdin, but stdin is empty");
            }
            Box::new(std::io::stdin().lock())
        }
    };
    let what = args
        .input
        .as_ref()
        .map_or_else(|| "stdin".to_string(), |p| p.display().to_string());
    let loaded = ctx
        .store()?
        .load(reader)
        .with_context(|| format!("loading {what}"))?;
    if !args.quiet {
        for img in loaded {
            if img.tags.is_empty() {
                println!("Loaded image ID: {}", img.id);
            }
            for t in img.tags {
                println!("Loaded image: {}", t.familiar());
            }
        }
    }
    Ok(0)
}
