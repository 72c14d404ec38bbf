//! `strata container cp` (`cp`): `CONTAINER:SRC DEST`, `SRC CONTAINER:DEST`,
//! and `-` for a tar stream on stdin/stdout.

use std::path::Path;

use clap::Args;
use strata_runtime::cp;

use super::lookup;
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `cp`.
#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// CONTAINER:SRC_PATH or SRC_PATH|-
    #[arg(value_name = "SRC")]
    pub src: String,
    /// DEST_PATH|- or CONTAINER:DEST_PATH
    #[arg(value_name = "DEST")]
    pub dest: String,
}

/// `CONTAINER:PATH` → (container, path); a path starting with `/` or `.`
/// is local even if it contains `:`.
fn split(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    arg.split_once(':').filter(|(c, _)| !c.is_empty())
}

fn fail(e: impl std::fmt::Display) -> anyhow::Error {
    ExitError::new(1, e.to_string()).into()
}

/// Runs `cp`.
pub fn run(ctx: &Ctx, args: CpArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    match (split(&args.src), split(&args.dest)) {
        (Some(_), Some(_)) => Err(fail("copying between containers is not supported")),
        (None, None) => Err(fail("must specify at least one container source")),
        (Some((name, src)), None) => {
            let c = lookup(store, name)?;
            if args.dest == "-" {
                cp::copy_out_tar(store, &c, src, args.follow_link, std::io::stdout().lock())
                    .map_err(fail)?;
            } else {
                let dest = Path::new(&args.dest);
                cp::copy_out(store, &c, src, args.follow_link, dest, args.archive).map_err(fail)?;
            }
            Ok(0)
        }
        (None, Some((name, dest))) => {
            let c = lookup(store, name)?;
            if args.src == "-" {
                cp::copy_in_tar(store, &c, std::io::stdin().lock(), dest).map_err(fail)?;
            } else {
                cp::copy_in(store, &c, Path::new(&args.src), dest, args.archive).map_err(fail)?;
            }
            Ok(0)
        }
    }
}
