//! `RUN --mount=type=bind|cache|tmpfs|secret|ssh,…`: CSV parsing, per-field
//! variable expansion, BuildKit's validation rules, and typed results.

use super::error::{InstructionError, suggest};

/// `sharing=` of a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheSharing {
    /// Concurrent builds share the cache (default).
    #[default]
    Shared,
    /// Each concurrent build gets its own copy.
    Private,
    /// Builds wait for each other.
    Locked,
}

/// `type=bind` (default): a read-only view of the context or a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    /// Mount point (relative to WORKDIR when not absolute).
    pub target: String,
    /// Path in `from` (default: its root).
    pub source: Option<String>,
    /// Stage, image or context name (default: the build context).
    pub from: Option<String>,
    /// Read-only (default true).
    pub readonly: bool,
}

/// `type=cache`: a persistent cache directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheMount {
    /// Mount point.
    pub target: String,
    /// Cache id (default: the target).
    pub id: Option<String>,
    /// Concurrency mode.
    pub sharing: CacheSharing,
    /// Stage to seed the cache from.
    pub from: Option<String>,
    /// Subpath in `from`.
    pub source: Option<String>,
    /// Read-only (default false).
    pub readonly: bool,
    /// Directory mode (octal).
    pub mode: Option<u32>,
    /// Owner.
    pub uid: Option<u32>,
    /// Group.
    pub gid: Option<u32>,
}

/// `type=tmpfs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpfsMount {
    /// Mount point.
    pub target: String,
    /// `size=` in bytes.
    pub size: Option<u64>,
    /// Read-only (default false).
    pub readonly: bool,
}

/// `type=secret`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretMount {
    /// Secret id (`id=`, or `source=`).
    pub id: Option<String>,
    /// File to mount the secret at (default `/run/secrets/<id>`).
    pub target: Option<String>,
    /// Expose the secret as this environment variable instead of a file.
    pub env: Option<String>,
    /// Fail when the secret is not provided.
    pub required: bool,
    /// File mode (default 0400).
    pub mode: Option<u32>,
    /// Owner.
    pub uid: Option<u32>,
    /// Group.
    pub gid: Option<u32>,
}

impl SecretMount {
    /// The id BuildKit asks the client for: `id`, else the base name of
    /// `target`.
    pub fn effective_id(&self) -> Option<String> {
        self.id.clone().or_else(|| {
            self.target
                .as_deref()
                .and_then(|t| t.trim_end_matches('/').rsplit('/').next())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        })
    }
}

/// `type=ssh`: an SSH agent socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshMount {
    /// Agent id (default `default`).
    pub id: Option<String>,
    /// Socket path.
    pub target: Option<String>,
    /// Fail when no agent is forwarded.
    pub required: bool,
    /// Socket mode (default 0600).
    pub mode: Option<u32>,
    /// Owner.
    pub uid: Option<u32>,
    /// Group.
    pub gid: Option<u32>,
}

/// One `--mount`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// `type=bind`.
    Bind(BindMount),
    /// `type=cache`.
    Cache(CacheMount),
    /// `type=tmpfs`.
    Tmpfs(TmpfsMount),
    /// `type=secret`.
    Secret(SecretMount),
    /// `type=ssh`.
    Ssh(SshMount),
}

const TYPES: &[&str] = &["bind", "cache", "tmpfs", "secret", "ssh"];
const KEYS: &[&str] = &[
    "type",
    "from",
    "source",
    "target",
    "readonly",
    "id",
    "sharing",
    "required",
    "mode",
    "uid",
    "gid",
    "src",
    "dst",
    "ro",
    "rw",
    "readwrite",
    "size",
    "env",
];

/// BuildKit's untyped mount, validated then converted.
#[derive(Default)]
struct Raw {
    kind: String,
    from: String,
    source: String,
    target: String,
    readonly: bool,
    id: String,
    sharing: String,
    required: bool,
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    size: Option<u64>,
    env: Option<String>,
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

fn parse_u32(v: &str, radix: u32, key: &'static str) -> Result<u32, InstructionError> {
    let ok = !v.is_empty() && v.chars().all(|c| c.is_digit(radix));
    ok.then(|| u32::from_str_radix(v, radix).ok())
        .flatten()
        .ok_or(InstructionError::MountNumber {
            key,
            value: v.to_string(),
        })
}

/// docker/go-units `RAMInBytes` (strata-go's): `64m`, `1.5GiB`, `1024`.
pub(crate) fn ram_in_bytes(s: &str) -> Result<u64, InstructionError> {
    strata_go::size::ram_in_bytes(s)
        .ok()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| InstructionError::Size(s.to_string()))
}

/// One CSV record (Go's `encoding/csv`, first record only).
pub(crate) fn csv_record(s: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = s.char_indices().peekable();
    // Blank lines before the record are skipped, like Go's reader.
    while let Some(&(_, c)) = chars.peek() {
        if c == '\n' || c == '\r' {
            chars.next();
        } else {
            break;
        }
    }
    if chars.peek().is_none() {
        return Err("EOF".to_string());
    }
    loop {
        let mut field = String::new();
        let col = chars.peek().map_or(s.len(), |(i, _)| *i) + 1;
        if chars.peek().map(|(_, c)| *c) == Some('"') {
            chars.next();
            loop {
                match chars.next() {
                    None => {
                        return Err(format!(
                            "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                            s.len() + 1
                        ));
                    }
                    Some((_, '"')) => match chars.peek().map(|(_, c)| *c) {
                        Some('"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some(',') | Some('\n') | Some('\r') | None => break,
                        Some(_) => {
                            return Err(format!(
                                "parse error on line 1, column {col}: extraneous or missing \" in quoted-field"
                            ));
                        }
                    },
                    Some((_, c)) => field.push(c),
                }
            }
        } else {
            while let Some(&(i, c)) = chars.peek() {
                if c == ',' || c == '\n' || c == '\r' {
                    break;
                }
                if c == '"' {
                    return Err(format!(
                        "parse error on line 1, column {}: bare \" in non-quoted-field",
                        i + 1
                    ));
                }
                field.push(c);
                chars.next();
            }
        }
        fields.push(field);
        match chars.next() {
            Some((_, ',')) => continue,
            _ => return Ok(fields),
        }
    }
}

/// Parse one `--mount` value. `expand` is applied to every value; `None`
/// means "parse time": values are taken literally.
pub(crate) fn parse_mount<E>(
    spec: &str,
    mut expand: impl FnMut(&str) -> Result<String, E>,
) -> Result<Result<Mount, InstructionError>, E> {
    let fields = match csv_record(spec) {
        Ok(f) => f,
        Err(e) => return Ok(Err(InstructionError::MountCsv(e))),
    };
    let mut m = Raw {
        kind: "bind".to_string(),
        ..Raw::default()
    };
    let mut ro_auto = true;
    for field in &fields {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.to_lowercase(), Some(v)),
            None => (field.to_lowercase(), None),
        };
        let Some(value) = value else {
            match key.as_str() {
                "readonly" | "ro" => {
                    m.readonly = true;
                    ro_auto = false;
                    continue;
                }
                "readwrite" | "rw" => {
                    m.readonly = false;
                    ro_auto = false;
                    continue;
                }
                "required" if m.kind == "secret" || m.kind == "ssh" => {
                    m.required = true;
                    continue;
                }
                "required" => {
                    return Ok(Err(InstructionError::MountKeyForType { key, kind: m.kind }));
                }
                _ => return Ok(Err(InstructionError::MountField(field.clone()))),
            }
        };
        let value = expand(value)?;
        let r = apply_field(&mut m, &key, value, field, &mut ro_auto);
        if let Err(e) = r {
            return Ok(Err(e));
        }
    }
    Ok(finish(m, ro_auto))
}

fn apply_field(
    m: &mut Raw,
    key: &str,
    value: String,
    field: &str,
    ro_auto: &mut bool,
) -> Result<(), InstructionError> {
    let boolean = |v: &str| {
        parse_bool(v).ok_or(InstructionError::MountBool {
            key: key.to_string(),
            value: v.to_string(),
        })
    };
    match key {
        "type" => {
            let t = value.to_lowercase();
            if !TYPES.contains(&t.as_str()) {
                return Err(InstructionError::MountType {
                    suggestion: suggest(&value, TYPES, true),
                    value,
                });
            }
            m.kind = t;
        }
        "from" => m.from = value,
        "source" | "src" => m.source = value,
        "target" | "dst" | "destination" => m.target = value,
        "readonly" | "ro" => {
            m.readonly = boolean(&value)?;
            *ro_auto = false;
        }
        "readwrite" | "rw" => {
            m.readonly = !boolean(&value)?;
            *ro_auto = false;
        }
        "required" if m.kind == "secret" || m.kind == "ssh" => m.required = boolean(&value)?,
        "id" => m.id = value,
        "sharing" => {
            let s = value.to_lowercase();
            if !matches!(s.as_str(), "shared" | "private" | "locked") {
                return Err(InstructionError::MountSharing(value));
            }
            m.sharing = s;
        }
        "mode" => m.mode = Some(parse_u32(&value, 8, "mode")?),
        "uid" => m.uid = Some(parse_u32(&value, 10, "uid")?),
        "gid" => m.gid = Some(parse_u32(&value, 10, "gid")?),
        "size" if m.kind == "tmpfs" => m.size = Some(ram_in_bytes(&value)?),
        "env" if m.kind == "secret" => m.env = Some(value),
        "required" | "size" | "env" => {
            return Err(InstructionError::MountKeyForType {
                key: key.to_string(),
                kind: m.kind.clone(),
            });
        }
        _ => {
            return Err(InstructionError::MountKey {
                key: key.to_string(),
                field: field.to_string(),
                suggestion: suggest(key, KEYS, true),
            });
        }
    }
    Ok(())
}

fn finish(m: Raw, ro_auto: bool) -> Result<Mount, InstructionError> {
    let file_info = matches!(m.kind.as_str(), "secret" | "ssh" | "cache");
    for (key, set) in [
        ("mode", m.mode.is_some()),
        ("uid", m.uid.is_some()),
        ("gid", m.gid.is_some()),
    ] {
        if set && !file_info {
            return Err(InstructionError::MountNotAllowed { key, kind: m.kind });
        }
    }
    let readonly = if ro_auto {
        !matches!(m.kind.as_str(), "cache" | "tmpfs")
    } else {
        m.readonly
    };
    if !m.sharing.is_empty() && m.kind != "cache" {
        return Err(InstructionError::MountSharingType(m.kind));
    }
    let opt = |s: String| (!s.is_empty()).then_some(s);
    Ok(match m.kind.as_str() {
        "cache" => Mount::Cache(CacheMount {
            target: m.target,
            id: opt(m.id),
            sharing: match m.sharing.as_str() {
                "private" => CacheSharing::Private,
                "locked" => CacheSharing::Locked,
                _ => CacheSharing::Shared,
            },
            from: opt(m.from),
            source: opt(m.source),
            readonly,
            mode: m.mode,
            uid: m.uid,
            gid: m.gid,
        }),
        "tmpfs" => Mount::Tmpfs(TmpfsMount {
            target: m.target,
            size: m.size,
            readonly,
        }),
        "secret" => {
            if !m.from.is_empty() {
                return Err(InstructionError::SecretFrom);
            }
            if m.source.is_empty() && m.target.is_empty() && m.id.is_empty() && m.env.is_none() {
                return Err(InstructionError::SecretTarget);
            }
            if !m.source.is_empty() && !m.id.is_empty() {
                return Err(InstructionError::SecretSourceAndId);
            }
            Mount::Secret(SecretMount {
                id: opt(m.id).or(opt(m.source)),
                target: opt(m.target),
                env: m.env,
                required: m.required,
                mode: m.mode,
                uid: m.uid,
                gid: m.gid,
            })
        }
        "ssh" => Mount::Ssh(SshMount {
            id: opt(m.id),
            target: opt(m.target),
            required: m.required,
            mode: m.mode,
            uid: m.uid,
            gid: m.gid,
        }),
        _ => Mount::Bind(BindMount {
            target: m.target,
            source: opt(m.source),
            from: opt(m.from),
            readonly,
        }),
    })
}

/// Parse-time handling of `--mount` values: literal specs are parsed fully;
/// a spec that mentions `$` is only checked for syntax (like BuildKit) and
/// typed after expansion.
pub(crate) fn parse_literal_specs(specs: &[String]) -> Result<Vec<Mount>, InstructionError> {
    let mut out = Vec::new();
    for spec in specs {
        if spec.contains('$') {
            check_deferred(spec)?;
            continue;
        }
        let r: Result<_, std::convert::Infallible> = parse_mount(spec, |v| Ok(v.to_string()));
        match r {
            Ok(m) => out.push(m?),
            Err(never) => match never {},
        }
    }
    Ok(out)
}

/// BuildKit's parse-time pass for a spec with variables: CSV and field shape,
/// and no variables in `from`.
fn check_deferred(spec: &str) -> Result<(), InstructionError> {
    let fields = csv_record(spec).map_err(InstructionError::MountCsv)?;
    let mut kind = "bind".to_string();
    for field in &fields {
        match field.split_once('=') {
            Some((k, v)) => {
                let k = k.to_lowercase();
                if k == "from"
                    && v.chars()
                        .collect::<Vec<_>>()
                        .windows(2)
                        .any(|w| w[0] == '$')
                {
                    return Err(InstructionError::MountFromVariable(k));
                }
                if k == "type" && !v.contains('$') {
                    kind = v.to_lowercase();
                }
            }
            None => match field.to_lowercase().as_str() {
                "readonly" | "ro" | "readwrite" | "rw" => {}
                "required" if kind == "secret" || kind == "ssh" => {}
                "required" => {
                    return Err(InstructionError::MountKeyForType {
                        key: "required".into(),
                        kind,
                    });
                }
                _ => return Err(InstructionError::MountField(field.clone())),
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Mount, InstructionError> {
        let r: Result<_, std::convert::Infallible> = parse_mount(s, |v| Ok(v.to_string()));
        r.unwrap_or_else(|n| match n {})
    }

    #[test]
    fn typed_mounts() {
        assert_eq!(
            parse("target=/src,from=build,source=/out").unwrap(),
            Mount::Bind(BindMount {
                target: "/src".into(),
                source: Some("/out".into()),
                from: Some("build".into()),
                readonly: true
            })
        );
        let Mount::Cache(c) =
            parse("type=cache,target=/root/.cache,sharing=locked,id=x,mode=0755,uid=1000").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (c.sharing, c.readonly, c.mode, c.uid),
            (CacheSharing::Locked, false, Some(0o755), Some(1000))
        );
        let Mount::Tmpfs(t) = parse("type=tmpfs,dst=/t,size=64m").unwrap() else {
            panic!()
        };
        assert_eq!(t.size, Some(64 << 20));
        let Mount::Secret(s) =
            parse("type=secret,id=aws,required,target=/root/.aws/credentials").unwrap()
        else {
            panic!()
        };
        assert!(s.required);
        assert_eq!(s.effective_id().as_deref(), Some("aws"));
        let Mount::Secret(s) = parse("type=secret,env=TOKEN,id=tok").unwrap() else {
            panic!()
        };
        assert_eq!(s.env.as_deref(), Some("TOKEN"));
        let Mount::Ssh(s) = parse("type=ssh,required=true").unwrap() else {
            panic!()
        };
        assert!(s.required && s.id.is_none());
        let Mount::Bind(b) = parse("target=/x,rw").unwrap() else {
            panic!()
        };
        assert!(!b.readonly);
    }

    #[test]
    fn mount_errors() {
        let e = |s: &str| parse(s).unwrap_err().to_string();
        assert_eq!(
            e("type=cahce"),
            "unsupported mount type \"cahce\" (did you mean cache?)"
        );
        assert_eq!(
            e("target"),
            "invalid field 'target' must be a key=value pair"
        );
        assert_eq!(
            e("required,type=secret"),
            "unexpected key 'required' for mount type 'bind'"
        );
        assert_eq!(
            e("type=bind,mode=0600"),
            "mode not allowed for \"bind\" type mounts"
        );
        assert_eq!(
            e("type=bind,sharing=locked"),
            "invalid cache sharing set for bind mount"
        );
        assert_eq!(e("type=cache,sharing=x"), "unsupported sharing value \"x\"");
        assert_eq!(e("type=cache,mode=9"), "invalid value 9 for mode");
        assert_eq!(e("type=cache,ro=maybe"), "invalid value for ro: maybe");
        assert_eq!(
            e("type=secret"),
            "invalid secret mount. one of source, target required"
        );
        assert_eq!(
            e("type=secret,id=a,source=b"),
            "both source and id can't be set"
        );
        assert_eq!(
            e("type=secret,id=a,from=x"),
            "secret mount should not have a from"
        );
        assert_eq!(
            e("targte=/x"),
            "unexpected key 'targte' in 'targte=/x' (did you mean target?)"
        );
        assert_eq!(
            e("type=bind,size=1m"),
            "unexpected key 'size' for mount type 'bind'"
        );
        assert_eq!(
            e("a\"b"),
            "failed to parse csv mounts: parse error on line 1, column 2: bare \" in non-quoted-field"
        );
        assert_eq!(e(""), "failed to parse csv mounts: EOF");
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_record("\"a,b\",c").unwrap(), ["a,b", "c"]);
        assert_eq!(csv_record("\"a\"\"b\"").unwrap(), ["a\"b"]);
        assert_eq!(csv_record("a,,b").unwrap(), ["a", "", "b"]);
        assert!(csv_record("\"a").is_err());
        assert!(csv_record("\"a\"x").is_err());
    }

    #[test]
    fn deferred_specs() {
        assert!(
            parse_literal_specs(&["type=$T,target=/x".into()])
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            parse_literal_specs(&["from=$STAGE".into()])
                .unwrap_err()
                .to_string(),
            "'from' doesn't support variable expansion, define alias stage instead"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(ram_in_bytes("1024").unwrap(), 1024);
        assert_eq!(ram_in_bytes("1.5k").unwrap(), 1536);
        assert_eq!(ram_in_bytes("2 GiB").unwrap(), 2 << 30);
        assert!(ram_in_bytes("x").is_err());
        assert!(ram_in_bytes("1q").is_err());
    }
}
