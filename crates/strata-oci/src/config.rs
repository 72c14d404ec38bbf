//! The image config (`application/vnd.oci.image.config.v1+json` and docker's
//! `application/vnd.docker.container.image.v1+json`).
//!
//! Why not `oci_spec::image::ImageConfiguration`: docker and BuildKit write
//! `Healthcheck`, `OnBuild`, `Shell` and `ArgsEscaped` into the config, which
//! oci-spec's type drops. This type is the docker superset (field names and
//! order as docker/BuildKit write them) and keeps every field it does not
//! know in `extra`, so nothing is lost when a config is read, changed and
//! written back. Raw config bytes from a registry or archive are stored
//! as-is; this type is used to read them and to write new images.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::{Digest, Digester};

/// An image config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// CPU architecture (`amd64`).
    #[serde(default)]
    pub architecture: String,
    /// Author (docker's `MAINTAINER`, `commit -a`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The runtime config of containers made from the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    /// RFC 3339 creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// One entry per build step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    /// Operating system (`linux`).
    #[serde(default)]
    pub os: String,
    /// The layers' diffIDs, bottom first.
    pub rootfs: RootFs,
    /// CPU variant (`v8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Fields strata does not model (docker's `container_config`,
    /// `docker_version`, `os.version`, …), kept verbatim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// `rootfs` of a config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Layer diffIDs, bottom first.
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs {
            kind: "layers".to_string(),
            diff_ids: Vec::new(),
        }
    }
}

/// One history entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// RFC 3339 time of the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The instruction (`COPY app.js . # buildkit`, `/bin/sh -c …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Author of the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Free-form comment (`buildkit.dockerfile.v0`, `commit -m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when the step produced no layer.
    #[serde(default, skip_serializing_if = "is_false")]
    pub empty_layer: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The `config` object: what a container made from the image runs.
/// Field names and order follow docker's `container.Config`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// `USER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `EXPOSE`: `"80/tcp": {}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, EmptyObject>>,
    /// `ENV`, as `KEY=value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// `ENTRYPOINT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// `CMD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// `VOLUME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, EmptyObject>>,
    /// `WORKDIR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// `LABEL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// `STOPSIGNAL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Set by docker for Windows-style command lines; kept for fidelity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<bool>,
    /// `HEALTHCHECK`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    /// `ONBUILD` triggers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    /// `SHELL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    /// Fields not modelled (docker's `Hostname`, `AttachStdin`, `Image`, …).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A JSON `{}` (the value type of `ExposedPorts` and `Volumes`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmptyObject {}

/// `HEALTHCHECK`; durations are nanoseconds, as docker stores them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthConfig {
    /// `["NONE"]`, `["CMD", …]` or `["CMD-SHELL", "…"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    /// `--interval`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    /// `--timeout`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    /// `--start-period`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    /// `--start-interval`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    /// `--retries`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

impl ImageConfig {
    /// Parses config bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Serialises to compact JSON (the bytes whose digest is the image ID).
    pub fn to_vec(&self) -> Vec<u8> {
        // Serialising plain data to a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The container config, created empty if missing.
    pub fn config_mut(&mut self) -> &mut ContainerConfig {
        self.config.get_or_insert_with(ContainerConfig::default)
    }

    /// The chain IDs of the layers, bottom first.
    pub fn chain_ids(&self) -> Vec<Digest> {
        chain_ids(&self.rootfs.diff_ids)
    }

    /// Env as (key, value) pairs; entries without `=` have an empty value.
    pub fn env_pairs(&self) -> Vec<(String, String)> {
        self.config
            .as_ref()
            .and_then(|c| c.env.as_ref())
            .map(|env| {
                env.iter()
                    .map(|e| match e.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None => (e.clone(), String::new()),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl ContainerConfig {
    /// Sets `KEY=value` in `Env`, replacing an existing key in place.
    pub fn set_env(&mut self, key: &str, value: &str) {
        let env = self.env.get_or_insert_with(Vec::new);
        let entry = format!("{key}={value}");
        match env.iter_mut().find(|e| env_key_is(e, key)) {
            Some(slot) => *slot = entry,
            None => env.push(entry),
        }
    }

    /// The value of `key` in `Env`.
    pub fn get_env(&self, key: &str) -> Option<&str> {
        self.env
            .as_ref()?
            .iter()
            .find_map(|e| e.strip_prefix(key)?.strip_prefix('='))
    }
}

/// True when `entry` (`KEY=value` or `KEY`) sets `key`. A prefix compare,
/// not a split: this runs for every entry on every ENV of a build, and
/// scanning each value for its `=` made long ENV lists quadratic in bytes.
fn env_key_is(entry: &str, key: &str) -> bool {
    entry
        .strip_prefix(key)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('='))
}

impl ContainerConfig {
    /// docker's API form of this config (`docker inspect` `.Config`): every
    /// field of docker's `container.Config`, zero values included, in its
    /// order; fields the image carries that strata does not model come from
    /// `extra`. `hostname` fills `Hostname` (containers); images pass ""
    /// and show the one they carry (a committed container's).
    pub fn to_docker_api(&self, hostname: &str) -> serde_json::Value {
        use serde_json::{Value, json};
        let extra = |k: &str| self.extra.get(k).cloned();
        let s = |v: &Option<String>| {
            v.clone()
                .map_or(Value::String(String::new()), Value::String)
        };
        let list = |v: &Option<Vec<String>>| v.clone().map_or(Value::Null, |l| json!(l));
        let mut m = serde_json::Map::new();
        let hostname = match hostname {
            "" => extra("Hostname").unwrap_or(json!("")),
            h => json!(h),
        };
        m.insert("Hostname".into(), hostname);
        m.insert(
            "Domainname".into(),
            extra("Domainname").unwrap_or(json!("")),
        );
        m.insert("User".into(), s(&self.user));
        for k in ["AttachStdin", "AttachStdout", "AttachStderr"] {
            m.insert(k.into(), extra(k).unwrap_or(json!(false)));
        }
        if let Some(p) = &self.exposed_ports {
            m.insert("ExposedPorts".into(), json!(p));
        }
        for k in ["Tty", "OpenStdin", "StdinOnce"] {
            m.insert(k.into(), extra(k).unwrap_or(json!(false)));
        }
        m.insert("Env".into(), list(&self.env));
        m.insert("Cmd".into(), list(&self.cmd));
        if let Some(h) = &self.healthcheck {
            m.insert("Healthcheck".into(), json!(h));
        }
        if let Some(a) = self.args_escaped {
            m.insert("ArgsEscaped".into(), json!(a));
        }
        m.insert("Image".into(), extra("Image").unwrap_or(json!("")));
        m.insert(
            "Volumes".into(),
            self.volumes.as_ref().map_or(Value::Null, |v| json!(v)),
        );
        m.insert("WorkingDir".into(), s(&self.working_dir));
        m.insert("Entrypoint".into(), list(&self.entrypoint));
        m.insert("OnBuild".into(), list(&self.on_build));
        m.insert(
            "Labels".into(),
            self.labels.as_ref().map_or(Value::Null, |l| json!(l)),
        );
        if let Some(sig) = &self.stop_signal {
            m.insert("StopSignal".into(), json!(sig));
        }
        if let Some(sh) = &self.shell {
            m.insert("Shell".into(), json!(sh));
        }
        Value::Object(m)
    }
}

/// ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(parent) => chain_id(parent, d),
        };
        out.push(next);
    }
    out
}

/// The chain ID of `diff_id` on top of the chain `parent`.
pub fn chain_id(parent: &Digest, diff_id: &Digest) -> Digest {
    let mut h = Digester::new();
    h.update(parent.as_str().as_bytes());
    h.update(b" ");
    h.update(diff_id.as_str().as_bytes());
    h.finish()
}

/// The current time as RFC 3339 with nanoseconds, trailing zeros trimmed
/// (Go's `RFC3339Nano`, as docker writes `created`).
pub fn rfc3339_now() -> String {
    format_rfc3339_nanos(chrono::Utc::now())
}

/// Formats a UTC time like Go's `time.RFC3339Nano`.
pub fn format_rfc3339_nanos(t: chrono::DateTime<chrono::Utc>) -> String {
    let s = t.format("%Y-%m-%dT%H:%M:%S%.9f").to_string();
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}Z")
}

/// The platform strata runs on, in OCI terms (`linux`, `amd64`, variant).
pub fn host_platform() -> (&'static str, &'static str, Option<&'static str>) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    };
    let variant = match arch {
        "arm64" => Some("v8"),
        "arm" => Some("v7"),
        _ => None,
    };
    ("linux", arch, variant)
}

/// The host platform as `os/arch[/variant]`.
pub fn host_platform_string() -> String {
    let (os, arch, variant) = host_platform();
    match variant {
        Some(v) => format!("{os}/{arch}/{v}"),
        None => format!("{os}/{arch}"),
    }
}

/// Whether `--platform p` (`os/arch[/variant]`) names the host's platform
/// (`linux/amd64/v1` is `linux/amd64`): strata does not emulate others.
pub fn is_host_platform(p: &str) -> bool {
    let (os, arch, variant) = host_platform();
    let mut parts = p.split('/');
    parts.next() == Some(os)
        && parts.next() == Some(arch)
        && parts
            .next()
            .is_none_or(|v| Some(v) == variant || (arch == "amd64" && v == "v1"))
        && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUILDKIT_GOLDEN: &str = r#"{"architecture":"amd64","config":{"Hostname":"","Domainname":"","User":"","Env":["PATH=/bin"],"Cmd":["sh"],"Image":"sha256:919d","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null},"created":"2015-10-21T07:28:00Z","docker_version":"20.10.23","history":[{"created":"2015-10-21T07:28:00Z","created_by":"/bin/sh -c #(nop)  CMD [\"sh\"]","empty_layer":true}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:fe4922f0a3ca2aa707ca0f8cc53937e947fec1157a09302baf11904258d67d17"]}}"#;

    #[test]
    fn reads_docker_config_and_keeps_unknown_fields() {
        let c = ImageConfig::from_slice(BUILDKIT_GOLDEN.as_bytes()).unwrap();
        assert_eq!(c.os, "linux");
        let cc = c.config.as_ref().unwrap();
        assert_eq!(cc.cmd.as_deref(), Some(&["sh".to_string()][..]));
        assert_eq!(cc.extra.get("Hostname"), Some(&serde_json::json!("")));
        assert_eq!(
            c.extra.get("docker_version"),
            Some(&serde_json::json!("20.10.23"))
        );
        assert!(c.history[0].empty_layer);
        let again = ImageConfig::from_slice(&c.to_vec()).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn chain_ids_follow_the_spec() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let ids = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ids[0], a);
        let expect = Digest::of(format!("{a} {b}").as_bytes());
        assert_eq!(ids[1], expect);
    }

    #[test]
    fn host_platform_forms() {
        let host = host_platform_string();
        assert!(is_host_platform(&host));
        assert!(!is_host_platform("linux/s390x/z"));
        assert!(!is_host_platform(&format!("{host}/extra/part")));
        assert!(!is_host_platform("windows"));
        if host == "linux/amd64" {
            assert!(is_host_platform("linux/amd64/v1"));
        }
    }

    #[test]
    fn docker_api_config_has_every_field() {
        let c = ContainerConfig {
            cmd: Some(vec!["sh".into()]),
            ..Default::default()
        };
        let v = c.to_docker_api("");
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "Hostname",
                "Domainname",
                "User",
                "AttachStdin",
                "AttachStdout",
                "AttachStderr",
                "Tty",
                "OpenStdin",
                "StdinOnce",
                "Env",
                "Cmd",
                "Image",
                "Volumes",
                "WorkingDir",
                "Entrypoint",
                "OnBuild",
                "Labels"
            ]
        );
        assert_eq!(v["Cmd"][0], "sh");
        assert!(v["Env"].is_null());
    }

    #[test]
    fn rfc3339_like_go() {
        use chrono::TimeZone;
        let t = chrono::Utc.timestamp_opt(1445412480, 500_000_000).unwrap();
        assert_eq!(format_rfc3339_nanos(t), "2015-10-21T07:28:00.5Z");
        let t = chrono::Utc.timestamp_opt(1445412480, 0).unwrap();
        assert_eq!(format_rfc3339_nanos(t), "2015-10-21T07:28:00Z");
    }

    #[test]
    fn set_env_replaces_in_place() {
        let mut c = ContainerConfig::default();
        c.set_env("A", "1");
        c.set_env("B", "2");
        c.set_env("A", "3");
        assert_eq!(c.env.as_ref().unwrap(), &["A=3", "B=2"]);
        assert_eq!(c.get_env("B"), Some("2"));
    }
}
