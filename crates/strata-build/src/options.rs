//! What a build is asked to do ([`BuildRequest`]), and the parsers of the
//! CSV-style flag values docker uses: `--secret id=…,src=…`,
//! `--output type=…,dest=…` and `--cache-to/--cache-from type=registry|local|inline`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use strata_oci::Reference;
use strata_registry::RegistryOptions;
use strata_registry::cache::CacheMode;
use strata_runtime::spec::NetworkMode;

use crate::error::{BuildError, Result};

/// Where the build context comes from.
pub enum ContextSource {
    /// A directory.
    Dir(PathBuf),
    /// A tar stream (`build -`), plain or compressed.
    Tar(Box<dyn Read + Send + Sync>),
}

impl std::fmt::Debug for ContextSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ContextSource::Dir(p) => write!(f, "Dir({})", p.display()),
            ContextSource::Tar(_) => write!(f, "Tar(..)"),
        }
    }
}

/// Pulls the images a build does not have (its bases, `COPY --from`
/// images) and reports the pull as it goes: the Engine API streams
/// docker's pull messages into its classic build output. Without one the
/// build pulls with [`strata_registry::pull`] and reports nothing.
pub trait ImagePuller: Send + Sync + std::fmt::Debug {
    /// Pulls `reference` into the build's store, sending each of docker's
    /// JSON progress messages to `messages` as it happens; the error is
    /// the message to show.
    fn pull(
        &self,
        reference: &Reference,
        messages: std::sync::mpsc::Sender<serde_json::Value>,
    ) -> std::result::Result<strata_store::Image, String>;
}

/// A `--secret`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSpec {
    /// `id=`.
    pub id: String,
    /// The secret's bytes (read from `src=` or `env=`).
    pub data: Vec<u8>,
}

/// An `--output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputSpec {
    /// `type=oci,dest=FILE` (`-` = stdout).
    Oci(PathBuf),
    /// `type=docker,dest=FILE` (`-` = stdout).
    Docker(PathBuf),
    /// `type=local,dest=DIR`: the final rootfs as files.
    Local(PathBuf),
}

/// A `--cache-to` / `--cache-from`, as BuildKit takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheSpec {
    /// `type=registry,ref=R[,mode=]` (or a bare reference).
    Registry {
        /// `ref=`.
        reference: Reference,
        /// `mode=` (export only).
        mode: CacheMode,
    },
    /// `type=local,dest=DIR` (export) / `type=local,src=DIR` (import), an
    /// OCI layout directory; `tag=` names the cache in it (`latest`).
    Local {
        /// `dest=` or `src=`.
        dir: PathBuf,
        /// `tag=`.
        tag: String,
        /// `mode=` (export only).
        mode: CacheMode,
    },
    /// `type=inline` (export only): the cache in the image's config.
    Inline,
}

impl CacheSpec {
    /// How progress names it.
    pub fn describe(&self) -> String {
        match self {
            CacheSpec::Registry { reference, .. } => reference.to_string(),
            CacheSpec::Local { dir, tag, .. } => format!("{}:{tag}", dir.display()),
            CacheSpec::Inline => "inline".into(),
        }
    }
}

/// Everything one build needs.
#[derive(Debug)]
pub struct BuildRequest {
    /// The Dockerfile's bytes.
    pub dockerfile: Vec<u8>,
    /// Its name for messages (`Dockerfile`).
    pub dockerfile_name: String,
    /// Its path, when read from a file (for `<Dockerfile>.dockerignore`).
    pub dockerfile_path: Option<PathBuf>,
    /// The context.
    pub context: ContextSource,
    /// `-t` (each gets the image).
    pub tags: Vec<Reference>,
    /// `--build-arg`.
    pub build_args: BTreeMap<String, String>,
    /// `--target`.
    pub target: Option<String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--pull`: always fetch base images.
    pub pull: bool,
    /// `--label` (set on the final image).
    pub labels: BTreeMap<String, String>,
    /// `--platform` (must be the host's).
    pub platform: Option<String>,
    /// `--network` for RUN steps without `RUN --network`.
    pub network: NetworkMode,
    /// `--secret`.
    pub secrets: Vec<SecretSpec>,
    /// `--output`.
    pub outputs: Vec<OutputSpec>,
    /// `--cache-from type=registry`.
    pub cache_from: Vec<CacheSpec>,
    /// `--cache-to type=registry`.
    pub cache_to: Vec<CacheSpec>,
    /// `--iidfile`.
    pub iidfile: Option<PathBuf>,
    /// `--explain`: say why each step missed the cache.
    pub explain: bool,
    /// Registry access for pulls and the registry cache.
    pub registry: RegistryOptions,
    /// An external OCI runtime for RUN steps (`--runtime`).
    pub runtime: Option<PathBuf>,
    /// How RUN steps are isolated (`--isolation`, `STRATA_ISOLATION`);
    /// chroot isolation also makes views without mounts. Not part of any
    /// cache key: both give the same layers.
    pub isolation: strata_runtime::isolation::Isolation,
    /// `SOURCE_DATE_EPOCH` (seconds): resolved by [`crate::build()`] from
    /// the build arg (the CLI passes `$SOURCE_DATE_EPOCH` as one, as
    /// buildx does) or a global `ARG SOURCE_DATE_EPOCH=…` default. When
    /// set, new history entries and the image are dated no later than it
    /// and layer mtimes are clamped to it (BuildKit's
    /// `rewrite-timestamp`); it is part of every cache key.
    pub source_date_epoch: Option<i64>,
    /// Whether executed steps are recorded in the build cache (`false`
    /// for `image verify`'s rebuild, which must leave the cache as it was).
    pub record_cache: bool,
    /// Cancels the build: no step starts after it fires, and the running
    /// RUN step is killed (default: the process's token, which the CLI
    /// cancels on SIGINT/SIGTERM/SIGHUP).
    pub cancel: strata_store::cancel::Cancel,
    /// How missing images are pulled (see [`ImagePuller`]).
    pub puller: Option<std::sync::Arc<dyn ImagePuller>>,
}

impl BuildRequest {
    /// A request with defaults for `dockerfile` over `context`.
    pub fn new(dockerfile: Vec<u8>, context: ContextSource) -> BuildRequest {
        BuildRequest {
            dockerfile,
            dockerfile_name: "Dockerfile".into(),
            dockerfile_path: None,
            context,
            tags: Vec::new(),
            build_args: BTreeMap::new(),
            target: None,
            no_cache: false,
            pull: false,
            labels: BTreeMap::new(),
            platform: None,
            network: NetworkMode::Host,
            secrets: Vec::new(),
            outputs: Vec::new(),
            cache_from: Vec::new(),
            cache_to: Vec::new(),
            iidfile: None,
            explain: false,
            registry: RegistryOptions::default(),
            runtime: None,
            isolation: strata_runtime::isolation::Isolation::Oci,
            source_date_epoch: None,
            record_cache: true,
            cancel: strata_store::cancel::Cancel::global().clone(),
            puller: None,
        }
    }

    /// The `created` time of a history entry written now: now, or
    /// `SOURCE_DATE_EPOCH` when that is earlier (BuildKit clamps new
    /// history entries and the image's `created` to it).
    pub fn history_time(&self) -> String {
        let now = chrono::Utc::now();
        let t = match self
            .source_date_epoch
            .and_then(|e| chrono::DateTime::from_timestamp(e, 0))
        {
            Some(epoch) if epoch < now => epoch,
            _ => now,
        };
        strata_oci::config::format_rfc3339_nanos(t)
    }
}

impl BuildRequest {
    /// The image's `created`, clamped to `SOURCE_DATE_EPOCH` (as BuildKit's
    /// exporter clamps it) when that is set and earlier.
    pub fn clamp_created(&self, created: Option<String>) -> Option<String> {
        let Some(epoch) = self
            .source_date_epoch
            .and_then(|e| chrono::DateTime::from_timestamp(e, 0))
        else {
            return created;
        };
        let later = created
            .as_deref()
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
            .is_none_or(|c| c > epoch);
        if later {
            Some(strata_oci::config::format_rfc3339_nanos(epoch))
        } else {
            created
        }
    }
}

/// `SOURCE_DATE_EPOCH` as BuildKit reads it: decimal seconds; empty means
/// unset.
pub fn parse_source_date_epoch(value: &str) -> Result<Option<i64>> {
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse::<i64>()
        .map(Some)
        .map_err(|_| BuildError::Invalid(format!("invalid SOURCE_DATE_EPOCH: {value}")))
}

/// Splits `a=b,c=d` into pairs (a bare word is `(word, "")`).
fn csv_pairs(s: &str) -> Vec<(String, String)> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), v.to_string()),
            None => (p.trim().to_ascii_lowercase(), String::new()),
        })
        .collect()
}

/// Parses `--secret id=ID[,src=FILE|,env=VAR][,type=file|env]`, reading
/// the value. A bare `id=ID` reads the environment variable `ID` if set,
/// else fails.
pub fn parse_secret(s: &str) -> Result<SecretSpec> {
    let bad = |why: &str| BuildError::Invalid(format!("invalid secret {s:?}: {why}"));
    let mut id = None;
    let mut src = None;
    let mut env = None;
    let mut kind = None;
    for (k, v) in csv_pairs(s) {
        match k.as_str() {
            "id" => id = Some(v),
            "src" | "source" => src = Some(v),
            "env" => env = Some(v),
            "type" => kind = Some(v),
            other => return Err(bad(&format!("unexpected key {other:?}"))),
        }
    }
    let id = id
        .filter(|i| !i.is_empty())
        .ok_or_else(|| bad("id= is required"))?;
    if kind.as_deref() == Some("env") && env.is_none() {
        env = src.take().or_else(|| Some(id.clone()));
    }
    let data = match (src, env) {
        (Some(path), _) => std::fs::read(&path).map_err(|e| bad(&format!("read {path}: {e}")))?,
        (None, Some(var)) => std::env::var_os(&var)
            .ok_or_else(|| bad(&format!("environment variable {var} is not set")))?
            .into_encoded_bytes(),
        (None, None) => match std::env::var_os(&id) {
            Some(v) => v.into_encoded_bytes(),
            None => return Err(bad("src= (a file) or env= (a variable) is required")),
        },
    };
    Ok(SecretSpec { id, data })
}

/// Parses `--output`: `type=oci|docker|local,dest=PATH`, or a bare path
/// (docker's shorthand for `type=local,dest=PATH`).
pub fn parse_output(s: &str) -> Result<OutputSpec> {
    if !s.contains('=') {
        return Ok(OutputSpec::Local(PathBuf::from(s)));
    }
    let mut kind = None;
    let mut dest = None;
    for (k, v) in csv_pairs(s) {
        match k.as_str() {
            "type" => kind = Some(v),
            "dest" => dest = Some(PathBuf::from(v)),
            _ => {}
        }
    }
    let dest =
        dest.ok_or_else(|| BuildError::Invalid(format!("--output {s}: dest= is required")))?;
    match kind.as_deref() {
        Some("oci") => Ok(OutputSpec::Oci(dest)),
        Some("docker") | Some("tar") => Ok(OutputSpec::Docker(dest)),
        Some("local") => Ok(OutputSpec::Local(dest)),
        Some(other) => Err(BuildError::Invalid(format!(
            "--output {s}: unsupported type {other:?} (strata supports oci, docker and local)"
        ))),
        None => Err(BuildError::Invalid(format!(
            "--output {s}: type= is required"
        ))),
    }
}

/// Parses `--cache-to`: `type=registry,ref=REF[,mode=min|max]` (or a bare
/// reference), `type=local,dest=DIR[,tag=T][,mode=]`, `type=inline`.
pub fn parse_cache_to(s: &str) -> Result<CacheSpec> {
    parse_cache(s, true)
}

/// Parses `--cache-from`: `type=registry,ref=REF` (or a bare reference),
/// `type=local,src=DIR[,tag=T]`.
pub fn parse_cache_from(s: &str) -> Result<CacheSpec> {
    parse_cache(s, false)
}

fn parse_cache(s: &str, to: bool) -> Result<CacheSpec> {
    let bad = |why: String| BuildError::Invalid(format!("cache {s:?}: {why}"));
    if !s.contains('=') {
        let reference = Reference::parse(s).map_err(|e| bad(format!("invalid reference: {e}")))?;
        return Ok(CacheSpec::Registry {
            reference,
            mode: CacheMode::Min,
        });
    }
    let mut kind = "registry".to_string();
    let (mut reference, mut dest, mut src, mut tag, mut mode) = (None, None, None, None, None);
    for (k, v) in csv_pairs(s) {
        match k.as_str() {
            "type" => kind = v,
            "ref" => reference = Some(v),
            "dest" => dest = Some(v),
            "src" => src = Some(v),
            "tag" => tag = Some(v),
            "mode" => mode = Some(CacheMode::parse(&v).map_err(|e| bad(e.to_string()))?),
            _ => {}
        }
    }
    let dir_key = if to { "dest" } else { "src" };
    match kind.as_str() {
        "registry" => {
            let r = reference.ok_or_else(|| bad("ref= is required".into()))?;
            let reference =
                Reference::parse(&r).map_err(|e| bad(format!("invalid reference: {e}")))?;
            Ok(CacheSpec::Registry {
                reference,
                mode: mode.unwrap_or_default(),
            })
        }
        "local" => {
            let dir = if to { dest } else { src };
            let dir = dir.ok_or_else(|| bad(format!("{dir_key}= is required for type=local")))?;
            Ok(CacheSpec::Local {
                dir: PathBuf::from(dir),
                tag: tag.unwrap_or_else(|| "latest".into()),
                mode: mode.unwrap_or_default(),
            })
        }
        "inline" if to => {
            if mode == Some(CacheMode::Max) {
                return Err(bad("the inline cache supports only mode=min".into()));
            }
            Ok(CacheSpec::Inline)
        }
        "inline" => Err(bad(
            "type=inline is for --cache-to; import an inline cache with type=registry,ref=IMAGE"
                .into(),
        )),
        other => Err(bad(format!(
            "unsupported type {other:?} (strata supports registry, local and inline)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("tok");
        std::fs::write(&f, "s3cret").unwrap();
        let s = parse_secret(&format!("id=tok,src={}", f.display())).unwrap();
        assert_eq!((s.id.as_str(), s.data.as_slice()), ("tok", &b"s3cret"[..]));
        assert!(
            parse_secret("src=/x")
                .unwrap_err()
                .to_string()
                .contains("id=")
        );
        assert!(parse_secret("id=x,src=/nonexistent/strata").is_err());
        assert!(parse_secret("id=x,bogus=1").is_err());
    }

    #[test]
    fn outputs() {
        assert_eq!(
            parse_output("type=oci,dest=/tmp/o.tar").unwrap(),
            OutputSpec::Oci("/tmp/o.tar".into())
        );
        assert_eq!(
            parse_output("./out").unwrap(),
            OutputSpec::Local("./out".into())
        );
        assert_eq!(
            parse_output("type=docker,dest=-").unwrap(),
            OutputSpec::Docker("-".into())
        );
        assert!(parse_output("type=registry,dest=x").is_err());
        assert!(parse_output("type=oci").is_err());
    }

    #[test]
    fn caches() {
        let c = parse_cache_to("type=registry,ref=127.0.0.1:5000/cache:main,mode=max").unwrap();
        assert_eq!(
            c,
            CacheSpec::Registry {
                reference: Reference::parse("127.0.0.1:5000/cache:main").unwrap(),
                mode: CacheMode::Max
            }
        );
        assert!(matches!(
            parse_cache_from("localhost:5000/c").unwrap(),
            CacheSpec::Registry {
                mode: CacheMode::Min,
                ..
            }
        ));
        assert_eq!(
            parse_cache_to("type=local,dest=/x,mode=max").unwrap(),
            CacheSpec::Local {
                dir: "/x".into(),
                tag: "latest".into(),
                mode: CacheMode::Max
            }
        );
        assert!(matches!(
            parse_cache_from("type=local,src=/x,tag=v1").unwrap(),
            CacheSpec::Local { tag, .. } if tag == "v1"
        ));
        assert!(
            parse_cache_to("type=local,src=/x").is_err(),
            "dest= for --cache-to"
        );
        assert!(
            parse_cache_from("type=local,dest=/x").is_err(),
            "src= for --cache-from"
        );
        assert_eq!(parse_cache_to("type=inline").unwrap(), CacheSpec::Inline);
        assert!(parse_cache_to("type=inline,mode=max").is_err());
        assert!(parse_cache_from("type=inline").is_err());
        assert!(parse_cache_to("type=registry").is_err());
        assert!(parse_cache_to("type=gha").is_err());
    }
}

#[cfg(test)]
mod epoch_tests {
    use super::*;

    #[test]
    fn source_date_epoch_dates_and_clamps() {
        let mut r = BuildRequest::new(Vec::new(), ContextSource::Dir(PathBuf::new()));
        r.source_date_epoch = Some(0);
        assert_eq!(r.history_time(), "1970-01-01T00:00:00Z");
        assert_eq!(
            r.clamp_created(Some("2024-01-01T00:00:00Z".into()))
                .as_deref(),
            Some("1970-01-01T00:00:00Z")
        );
        // An epoch in the future: now, and earlier times are kept.
        r.source_date_epoch = Some(4_000_000_000);
        assert!(!r.history_time().starts_with("2096"));
        let earlier = Some("2024-01-01T00:00:00Z".to_string());
        assert_eq!(r.clamp_created(earlier.clone()), earlier);
        assert_eq!(parse_source_date_epoch("").unwrap(), None);
        assert_eq!(parse_source_date_epoch("12").unwrap(), Some(12));
        assert!(parse_source_date_epoch("x").is_err());
    }
}
