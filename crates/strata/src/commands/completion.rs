//! `strata completion bash|zsh|fish` (a completion script on stdout) and
//! the hidden `strata __man DIR` (man pages): both generated from the
//! same clap definitions as `--help` (see [`crate::help`]).
//!
//! ```text
//! source <(strata completion bash)                      # this shell
//! strata completion bash > /usr/local/share/bash-completion/completions/strata
//! strata __man /usr/local/share/man/man1                 # scripts/install.sh does both
//! ```

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

/// Flags of `completion`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  source <(strata completion bash)                 # completions in this bash
  strata completion bash > /usr/local/share/bash-completion/completions/strata
  strata completion zsh > \"${fpath[1]}/_strata\"
  strata completion fish > ~/.config/fish/completions/strata.fish")]
pub struct CompletionArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Flags of `__man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Directory to write the pages into (strata.1, strata-image-build.1, …)
    pub dir: PathBuf,
}

/// Runs `completion`.
pub fn completion(args: CompletionArgs) -> anyhow::Result<i32> {
    let mut out = std::io::stdout().lock();
    crate::help::completion(args.shell, &mut out);
    Ok(0)
}

/// Runs `__man`.
pub fn man(args: ManArgs) -> anyhow::Result<i32> {
    let n = crate::help::man_pages(&args.dir)
        .with_context(|| format!("writing man pages to {}", args.dir.display()))?;
    eprintln!("{n} man pages written to {}", args.dir.display());
    Ok(0)
}
