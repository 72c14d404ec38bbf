//! Docker credential helpers: `docker-credential-<name>` programs on PATH.
//!
//! Protocol (docker-credential-helpers):
//!
//! ```text
//! get    stdin: server URL            stdout: {"ServerURL":…,"Username":…,"Secret":…}
//! store  stdin: {"ServerURL":…,"Username":…,"Secret":…}
//! erase  stdin: server URL
//! ```
//! A helper that has nothing for a server exits non-zero with
//! `credentials not found in native keychain` on stdout; that is "no
//! credentials", not an error. A `Username` of `<token>` means `Secret` is
//! an identity token.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::error::{RegistryError, Result};

/// The message helpers print when they hold nothing for a server.
const NOT_FOUND: &str = "credentials not found in native keychain";

/// What a helper returned.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HelperCredentials {
    /// The server the credentials are for.
    #[serde(rename = "ServerURL", default)]
    pub server_url: String,
    /// The user name (`<token>` for an identity token).
    #[serde(rename = "Username", default)]
    pub username: String,
    /// The password or token.
    #[serde(rename = "Secret", default)]
    pub secret: String,
}

impl std::fmt::Debug for HelperCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelperCredentials")
            .field("server_url", &self.server_url)
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .finish()
    }
}

fn program(helper: &str) -> String {
    format!("docker-credential-{helper}")
}

fn run(helper: &str, verb: &str, input: &[u8]) -> Result<(bool, Vec<u8>)> {
    let prog = program(helper);
    let mut child = Command::new(&prog)
        .arg(verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| RegistryError::Credentials(format!("cannot run {prog} {verb}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading stdin is not our error.
        let _ = stdin.write_all(input);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| RegistryError::Credentials(format!("{prog} {verb}: {e}")))?;
    let mut text = out.stdout;
    if !out.status.success() && text.is_empty() {
        text = out.stderr;
    }
    Ok((out.status.success(), text))
}

fn failure(helper: &str, verb: &str, text: &[u8]) -> RegistryError {
    RegistryError::Credentials(format!(
        "{} {verb} failed: {}",
        program(helper),
        String::from_utf8_lossy(text).trim()
    ))
}

/// `get`: the credentials `helper` holds for `server`, if any.
pub fn get(helper: &str, server: &str) -> Result<Option<HelperCredentials>> {
    let (ok, text) = run(helper, "get", server.as_bytes())?;
    if !ok {
        if String::from_utf8_lossy(&text).contains(NOT_FOUND) {
            return Ok(None);
        }
        return Err(failure(helper, "get", &text));
    }
    let creds: HelperCredentials = serde_json::from_slice(&text).map_err(|e| {
        RegistryError::Credentials(format!("{} get: invalid answer: {e}", program(helper)))
    })?;
    if creds.username.is_empty() && creds.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(creds))
}

/// `store`: saves credentials in `helper`.
pub fn store(helper: &str, creds: &HelperCredentials) -> Result<()> {
    let input = serde_json::to_vec(creds)
        .map_err(|e| RegistryError::Credentials(format!("encoding credentials: {e}")))?;
    let (ok, text) = run(helper, "store", &input)?;
    if !ok {
        return Err(failure(helper, "store", &text));
    }
    Ok(())
}

/// `erase`: forgets `server`'s credentials (absent ones are not an error).
pub fn erase(helper: &str, server: &str) -> Result<()> {
    let (ok, text) = run(helper, "erase", server.as_bytes())?;
    if !ok && !String::from_utf8_lossy(&text).contains(NOT_FOUND) {
        return Err(failure(helper, "erase", &text));
    }
    Ok(())
}
