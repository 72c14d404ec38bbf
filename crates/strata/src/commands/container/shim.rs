//! The hidden `__shim` subcommand: the entry of strata-runtime's helper
//! processes (supervisor, build step, exec), re-execs of this binary.

use std::ffi::OsString;

use clap::Args;

/// Arguments of `__shim` (passed through to the runtime).
#[derive(Debug, Args)]
pub struct ShimArgs {
    /// Helper arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<OsString>,
}

/// Runs a helper; returns its exit code.
pub fn run(args: ShimArgs) -> anyhow::Result<i32> {
    Ok(strata_runtime::helper::main(&args.args))
}
