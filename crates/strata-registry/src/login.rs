//! `strata login` / `strata logout`: check credentials against the
//! registry, then keep them in docker's `config.json` (or its credential
//! helper) — see [`crate::auth`] for the file.

use crate::auth::{Credentials, DockerConfig, StoredIn, default_config_path};
use crate::client::RegistryClient;
use crate::config::RegistryOptions;
use crate::error::{RegistryError, Result};
use crate::host::DOCKER_HUB_DOMAIN;
use crate::runtime::with_runtime;

/// What `login` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOutcome {
    /// The registry domain logged in to.
    pub domain: String,
    /// Where the credentials went.
    pub stored_in: StoredIn,
}

/// The registry domain a `login`/`logout` argument names: none or any
/// Docker Hub spelling → `docker.io`; a scheme and a path are dropped
/// (`https://reg.lan:5000/v2/` → `reg.lan:5000`).
pub fn server_domain(server: Option<&str>) -> Result<String> {
    let Some(s) = server.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(DOCKER_HUB_DOMAIN.to_string());
    };
    let host = crate::auth::hostname_of(s).to_ascii_lowercase();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(RegistryError::Invalid(format!(
            "invalid registry address {s:?}"
        )));
    }
    Ok(match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => DOCKER_HUB_DOMAIN.to_string(),
        _ => host,
    })
}

fn config_path(opts: &RegistryOptions) -> std::path::PathBuf {
    opts.docker_config
        .clone()
        .unwrap_or_else(default_config_path)
}

/// Verifies `username`/`password` with the registry, then stores them.
pub fn login(
    server: Option<&str>,
    username: &str,
    password: &str,
    opts: &RegistryOptions,
) -> Result<LoginOutcome> {
    let domain = server_domain(server)?;
    if username.is_empty() {
        return Err(RegistryError::Invalid("Error: Username is required".into()));
    }
    if password.is_empty() {
        return Err(RegistryError::Invalid("Error: Password is required".into()));
    }
    let creds = Credentials::Basic {
        username: username.to_string(),
        password: password.to_string(),
    };
    with_runtime(|rt| {
        rt.block_on(async {
            RegistryClient::with_credentials(&domain, Some(creds), opts)
                .await?
                .check_login()
                .await
        })
    })?;
    let mut cfg = DockerConfig::load(&config_path(opts))?;
    let stored_in = cfg.store(&domain, username, password)?;
    cfg.save()?;
    Ok(LoginOutcome { domain, stored_in })
}

/// Forgets a registry's credentials; returns the domain and whether any
/// were stored.
pub fn logout(server: Option<&str>, opts: &RegistryOptions) -> Result<(String, bool)> {
    let domain = server_domain(server)?;
    let mut cfg = DockerConfig::load(&config_path(opts))?;
    let removed = cfg.erase(&domain)?;
    if removed {
        cfg.save()?;
    }
    Ok((domain, removed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_arguments_normalise() {
        assert_eq!(server_domain(None).unwrap(), "docker.io");
        assert_eq!(
            server_domain(Some("https://index.docker.io/v1/")).unwrap(),
            "docker.io"
        );
        assert_eq!(
            server_domain(Some("http://127.0.0.1:5101/v2/")).unwrap(),
            "127.0.0.1:5101"
        );
        assert_eq!(server_domain(Some("Reg.LAN:5000")).unwrap(), "reg.lan:5000");
        assert!(server_domain(Some("a b")).is_err());
    }
}
