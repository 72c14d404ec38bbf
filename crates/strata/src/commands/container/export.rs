//! `strata container export` (`export`): a tar of the container's
//! filesystem (strata-runtime's `export`) to stdout or `-o FILE`. As docker
//! does, it refuses to write the tar to a terminal, and `-o` replaces the
//! file only once the whole tar is written.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::Context;
use clap::Args;
use strata_runtime::export;

use crate::commands::network::daemon_error;
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long, value_name = "string")]
    pub output: Option<String>,
    /// The container
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// Runs `export`.
pub fn run(ctx: &Ctx, args: ExportArgs) -> anyhow::Result<i32> {
    let output = args.output.as_deref().filter(|o| !o.is_empty());
    if output.is_none() && std::io::stdout().is_terminal() {
        // docker prints this one without an `Error:` prefix.
        eprintln!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
        return Err(ExitError::new(1, "").into());
    }
    let store = ctx.store()?;
    let c = strata_runtime::containers::lookup(store, &args.container).map_err(daemon_error)?;
    match output {
        None => {
            let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            export::export(store, &c, &mut out).map_err(daemon_error)?;
            out.flush()?;
        }
        Some(path) => {
            // Written beside the target and renamed over it when complete,
            // as docker's CLI does (and `image save -o`).
            let path = Path::new(path);
            let tmp = path.with_extension("strata-tmp");
            let f = File::create(&tmp)
                .with_context(|| format!("failed to export container: {}", tmp.display()))?;
            let mut out = std::io::BufWriter::with_capacity(1 << 20, f);
            let written = export::export(store, &c, &mut out)
                .map_err(daemon_error)
                .and_then(|()| out.flush().map_err(anyhow::Error::from));
            drop(out);
            if let Err(e) = written {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
            std::fs::rename(&tmp, path)
                .with_context(|| format!("failed to export container: {}", path.display()))?;
        }
    }
    Ok(0)
}
