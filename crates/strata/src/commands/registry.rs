//! What the registry commands (`pull`, `push`, `login`, `logout`) share:
//! registry options from the global flags, the strata config file and the
//! environment (see `strata_registry::config` for the file's location and
//! keys).

use anyhow::Context as _;
use strata_registry::RegistryOptions;

use crate::cli::GlobalArgs;

/// Registry options: the strata config file, `STRATA_INSECURE_REGISTRY`,
/// then every `--insecure-registry`.
pub fn options(global: &GlobalArgs) -> anyhow::Result<RegistryOptions> {
    let mut o = RegistryOptions::from_env().context("reading the registry configuration")?;
    for h in &global.insecure_registry {
        o.insecure.add(h)?;
    }
    Ok(o)
}
