//! Registry credentials, kept where docker keeps them: `config.json` in
//! `$DOCKER_CONFIG` (default `~/.docker`).
//!
//! ```text
//! {
//!   "auths": {
//!     "https://index.docker.io/v1/": {"auth": "<base64 user:password>"},
//!     "127.0.0.1:5101": {"auth": "…"},
//!     "registry.lan": {"identitytoken": "…"}        (an OAuth2 refresh token)
//!   },
//!   "credsStore": "pass",                           (docker-credential-pass for every registry)
//!   "credHelpers": {"gcr.io": "gcloud"}             (a helper for one registry; wins over credsStore)
//! }
//! ```
//!
//! Lookup for a registry (key [`server_key`]: `https://index.docker.io/v1/`
//! for Docker Hub, `host[:port]` otherwise): `credHelpers[key]`, then
//! `credsStore`, then `auths` — whose keys may carry a scheme or a path
//! (`https://host/v1/`), compared by host as docker does. `strata login`
//! stores through the helper when one is configured (leaving an empty
//! `auths` entry, as docker does) and in `auths` otherwise; the file is
//! rewritten atomically, mode 0600, tab-indented, unknown keys kept.
//!
//! Identity tokens are sent as the password of a basic-auth request to the
//! token endpoint (what registries that issue them accept); the OAuth2
//! refresh-token grant is not implemented.

pub mod helper;

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};

use crate::error::{RegistryError, Result, io_err};
use crate::host::{DOCKER_HUB_AUTH_KEY, DOCKER_HUB_DOMAIN};

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// User name and password (or identity token).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// A bearer token to send as is (`registrytoken`).
    Bearer(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Basic { username, .. } => {
                write!(f, "Basic({username:?}, <redacted>)")
            }
            Credentials::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

/// The key docker files a registry's credentials under.
pub fn server_key(domain: &str) -> String {
    if domain == DOCKER_HUB_DOMAIN || domain == "index.docker.io" {
        DOCKER_HUB_AUTH_KEY.to_string()
    } else {
        domain.to_string()
    }
}

/// docker's `ConvertToHostname`: `https://host:5000/v1/` → `host:5000`.
pub fn hostname_of(key: &str) -> &str {
    let k = key
        .strip_prefix("http://")
        .or_else(|| key.strip_prefix("https://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

fn same_registry(key: &str, domain: &str) -> bool {
    let h = hostname_of(key);
    if domain == DOCKER_HUB_DOMAIN {
        matches!(h, "index.docker.io" | "docker.io" | "registry-1.docker.io")
    } else {
        h.eq_ignore_ascii_case(domain)
    }
}

/// Where docker's config file is: `$DOCKER_CONFIG/config.json`, else
/// `~/.docker/config.json`.
pub fn default_config_path() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("config.json");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".docker/config.json")
}

/// Where credentials for a registry were stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredIn {
    /// In `config.json` itself (base64, unencrypted).
    File(PathBuf),
    /// In a credential helper.
    Helper(String),
}

/// docker's config file, read whole; unknown keys survive a rewrite.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    path: PathBuf,
    doc: Map<String, Value>,
}

impl DockerConfig {
    /// Reads the file at `path` (a missing file is an empty config).
    pub fn load(path: &Path) -> Result<DockerConfig> {
        let doc = match std::fs::read(path) {
            Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(b) => match serde_json::from_slice::<Value>(&b) {
                Ok(Value::Object(m)) => m,
                Ok(_) => {
                    return Err(RegistryError::Credentials(format!(
                        "{}: not a JSON object",
                        path.display()
                    )));
                }
                Err(e) => {
                    return Err(RegistryError::Credentials(format!(
                        "{}: {e}",
                        path.display()
                    )));
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => return Err(io_err("read", path)(e)),
        };
        Ok(DockerConfig {
            path: path.to_path_buf(),
            doc,
        })
    }

    /// Reads docker's default config file.
    pub fn load_default() -> Result<DockerConfig> {
        Self::load(&default_config_path())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn str_field(&self, key: &str) -> Option<&str> {
        self.doc
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The credential helper for `domain`, if one is configured.
    pub fn helper_for(&self, domain: &str) -> Option<String> {
        let key = server_key(domain);
        let helpers = self.doc.get("credHelpers").and_then(Value::as_object);
        if let Some(h) = helpers.and_then(|m| {
            m.get(&key)
                .or_else(|| {
                    m.iter()
                        .find(|(k, _)| same_registry(k, domain))
                        .map(|(_, v)| v)
                })
                .and_then(Value::as_str)
        }) {
            return Some(h.to_string());
        }
        self.str_field("credsStore").map(str::to_string)
    }

    fn auths(&self) -> Option<&Map<String, Value>> {
        self.doc.get("auths").and_then(Value::as_object)
    }

    /// The credentials for a registry domain (`docker.io`, `127.0.0.1:5000`).
    pub fn lookup(&self, domain: &str) -> Result<Option<Credentials>> {
        let key = server_key(domain);
        if let Some(h) = self.helper_for(domain) {
            return Ok(helper::get(&h, &key)?.map(|c| Credentials::Basic {
                username: c.username,
                password: c.secret,
            }));
        }
        let Some(auths) = self.auths() else {
            return Ok(None);
        };
        let entry = auths.get(&key).or_else(|| {
            auths
                .iter()
                .find(|(k, _)| same_registry(k, domain))
                .map(|(_, v)| v)
        });
        let Some(entry) = entry.and_then(Value::as_object) else {
            return Ok(None);
        };
        let field = |k: &str| {
            entry
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        if let Some(t) = field("registrytoken") {
            return Ok(Some(Credentials::Bearer(t.to_string())));
        }
        let (mut username, mut password) = (
            field("username").unwrap_or_default().to_string(),
            field("password").unwrap_or_default().to_string(),
        );
        if let Some(a) = field("auth") {
            let raw = B64.decode(a.trim()).map_err(|e| {
                RegistryError::Credentials(format!(
                    "{}: auths[{key:?}].auth is not base64: {e}",
                    self.path.display()
                ))
            })?;
            let s = String::from_utf8(raw).map_err(|_| {
                RegistryError::Credentials(format!(
                    "{}: auths[{key:?}].auth is not UTF-8",
                    self.path.display()
                ))
            })?;
            let (u, p) = s.split_once(':').ok_or_else(|| {
                RegistryError::Credentials(format!(
                    "{}: auths[{key:?}].auth is not user:password",
                    self.path.display()
                ))
            })?;
            username = u.to_string();
            password = p.to_string();
        }
        if let Some(t) = field("identitytoken") {
            password = t.to_string();
        }
        if username.is_empty() && password.is_empty() {
            return Ok(None);
        }
        Ok(Some(Credentials::Basic { username, password }))
    }

    fn auths_mut(&mut self) -> &mut Map<String, Value> {
        let v = self
            .doc
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !v.is_object() {
            *v = Value::Object(Map::new());
        }
        match v {
            Value::Object(m) => m,
            _ => unreachable!("just made an object"),
        }
    }

    /// Saves `username`/`password` for `domain` (through its helper when one
    /// is configured). Call [`DockerConfig::save`] afterwards.
    pub fn store(&mut self, domain: &str, username: &str, password: &str) -> Result<StoredIn> {
        let key = server_key(domain);
        if let Some(h) = self.helper_for(domain) {
            helper::store(
                &h,
                &helper::HelperCredentials {
                    server_url: key.clone(),
                    username: username.to_string(),
                    secret: password.to_string(),
                },
            )?;
            self.auths_mut().insert(key, Value::Object(Map::new()));
            return Ok(StoredIn::Helper(h));
        }
        let mut entry = Map::new();
        entry.insert(
            "auth".into(),
            Value::String(B64.encode(format!("{username}:{password}"))),
        );
        let auths = self.auths_mut();
        auths.retain(|k, _| !same_registry(k, domain) || *k == key);
        auths.insert(key, Value::Object(entry));
        Ok(StoredIn::File(self.path.clone()))
    }

    /// Forgets `domain`'s credentials; true when there were any. Call
    /// [`DockerConfig::save`] afterwards.
    pub fn erase(&mut self, domain: &str) -> Result<bool> {
        let key = server_key(domain);
        let mut found = false;
        if let Some(h) = self.helper_for(domain) {
            found |= helper::get(&h, &key)?.is_some();
            helper::erase(&h, &key)?;
        }
        if let Some(Value::Object(auths)) = self.doc.get_mut("auths") {
            let before = auths.len();
            auths.retain(|k, _| !same_registry(k, domain));
            found |= auths.len() != before;
        }
        Ok(found)
    }

    /// Writes the file atomically (mode 0600, directory 0700), tab-indented
    /// like docker.
    pub fn save(&self) -> Result<()> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err("create directory", dir))?;
        let mut out = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        serde::Serialize::serialize(&Value::Object(self.doc.clone()), &mut ser)
            .map_err(|e| RegistryError::Credentials(format!("encoding config: {e}")))?;
        let tmp = dir.join(format!(".config.json.{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&out)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io_err("write", &self.path)(e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_hostnames() {
        assert_eq!(server_key("docker.io"), "https://index.docker.io/v1/");
        assert_eq!(server_key("127.0.0.1:5101"), "127.0.0.1:5101");
        assert_eq!(
            hostname_of("https://index.docker.io/v1/"),
            "index.docker.io"
        );
        assert_eq!(hostname_of("http://reg.lan:5000/v2/"), "reg.lan:5000");
        assert!(same_registry("https://index.docker.io/v1/", "docker.io"));
        assert!(!same_registry("https://index.docker.io/v1/", "quay.io"));
    }

    #[test]
    fn reads_auths_like_docker() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("config.json");
        let auth = B64.encode("strata:s3cret");
        std::fs::write(
            &p,
            format!(
                r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}},
                   "http://reg.lan:5000/v1/":{{"auth":"{auth}"}},
                   "tok.lan":{{"registrytoken":"abc"}},
                   "bad.lan":{{"auth":"!!"}}}},"psFormat":"x"}}"#
            ),
        )
        .unwrap();
        let c = DockerConfig::load(&p).unwrap();
        let basic = Some(Credentials::Basic {
            username: "strata".into(),
            password: "s3cret".into(),
        });
        assert_eq!(c.lookup("docker.io").unwrap(), basic);
        assert_eq!(c.lookup("reg.lan:5000").unwrap(), basic);
        assert_eq!(
            c.lookup("tok.lan").unwrap(),
            Some(Credentials::Bearer("abc".into()))
        );
        assert_eq!(c.lookup("other.lan").unwrap(), None);
        assert!(c.lookup("bad.lan").is_err());
        let missing = DockerConfig::load(&t.path().join("none.json")).unwrap();
        assert_eq!(missing.lookup("docker.io").unwrap(), None);
    }

    #[test]
    fn store_erase_round_trip_keeps_other_keys() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("d/config.json");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(
            &p,
            r#"{"psFormat":"table {{.ID}}","auths":{"http://127.0.0.1:5101/v2/":{"auth":"eDp5"}}}"#,
        )
        .unwrap();
        let mut c = DockerConfig::load(&p).unwrap();
        assert_eq!(
            c.store("127.0.0.1:5101", "u", "p:w").unwrap(),
            StoredIn::File(p.clone())
        );
        c.save().unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("\n\t\"auths\""), "{text}");
        assert!(text.contains("psFormat"), "{text}");
        assert!(
            !text.contains("http://127.0.0.1:5101/v2/"),
            "old key replaced: {text}"
        );
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let c2 = DockerConfig::load(&p).unwrap();
        assert_eq!(
            c2.lookup("127.0.0.1:5101").unwrap(),
            Some(Credentials::Basic {
                username: "u".into(),
                password: "p:w".into()
            })
        );
        let mut c3 = c2.clone();
        assert!(c3.erase("127.0.0.1:5101").unwrap());
        assert!(!c3.erase("127.0.0.1:5101").unwrap());
        c3.save().unwrap();
        assert_eq!(
            DockerConfig::load(&p)
                .unwrap()
                .lookup("127.0.0.1:5101")
                .unwrap(),
            None
        );
    }
}
