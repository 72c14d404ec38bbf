//! `strata image load` (`strata load`): a docker-archive or OCI-layout tar
//! (plain, gzip or zstd) from `-i FILE` or stdin.

use std::fs::File;
use std::io::IsTerminal;

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
    let what = args
        .input
        .as_ref()
        .map_or_else(|| "stdin".to_string(), |p| p.display().to_string());
    let store = ctx.store()?;
    let loaded = match &args.input {
        Some(p) => {
            let file = File::open(p).with_context(|| format!("opening {}", p.display()))?;
            store.load_file(&file)
        }
        None => {
            if std::io::stdin().is_terminal() {
                bail!("requested load from stdin, but stdin is empty");
            }
            store.load(std::io::stdin().lock())
        }
    }
    .with_context(|| format!("loading {what}"))?;
    if !args.quiet {
        for line in loaded_lines(&loaded) {
            println!("{line}");
        }
    }
    Ok(0)
}

/// What docker says about each loaded image: `Loaded image: NAME` per
/// tag, `Loaded image ID: sha256:…` for an untagged one (the CLI and the
/// API's `POST /images/load` say the same).
pub fn loaded_lines(loaded: &[strata_store::archive::LoadedImage]) -> Vec<String> {
    let mut out = Vec::new();
    for img in loaded {
        if img.tags.is_empty() {
            out.push(format!("Loaded image ID: {}", img.id));
        }
        for t in &img.tags {
            out.push(format!("Loaded image: {}", t.familiar()));
        }
    }
    out
}
