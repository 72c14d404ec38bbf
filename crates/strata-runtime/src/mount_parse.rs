//! docker's `-v HOST:CTR[:MODE]`, `--tmpfs` and `--init` as the runtime
//! mounts of a container (the bind-mount strings of the host config; named
//! and anonymous volumes are [`crate::mounts`]'s).

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Result, RuntimeError};
use crate::spec::{INIT_PATH, MountSpec};

/// Parses docker's `-v`/`--tmpfs` strings into mounts.
pub fn parse_mounts(
    binds: &[String],
    tmpfs: Option<&std::collections::BTreeMap<String, String>>,
    init: bool,
) -> Result<Vec<MountSpec>> {
    let mut out = Vec::new();
    if init {
        out.push(MountSpec::Bind {
            source: init_binary()?,
            destination: INIT_PATH.to_string(),
            readonly: true,
        });
    }
    for b in binds {
        out.push(parse_bind(b)?);
    }
    if let Some(t) = tmpfs {
        for (dest, opts) in t {
            out.push(MountSpec::Tmpfs {
                destination: dest.clone(),
                options: opts
                    .split(',')
                    .filter(|o| !o.is_empty())
                    .map(str::to_string)
                    .collect(),
            });
        }
    }
    Ok(out)
}

/// The host's init for `--init`: docker's `docker-init` (tini, static), else
/// a static tini. It runs inside the container's rootfs, so it must not
/// need the image's libc.
fn init_binary() -> Result<PathBuf> {
    let dirs = [
        "/usr/libexec/docker",
        "/usr/local/bin",
        "/usr/bin",
        "/usr/sbin",
    ];
    ["docker-init", "tini-static"]
        .iter()
        .flat_map(|name| dirs.iter().map(move |d| Path::new(d).join(name)))
        .find(|p| p.is_file())
        // Bind the file itself (docker-init is a symlink to tini-static).
        .and_then(|p| fs::canonicalize(p).ok())
        .ok_or_else(|| {
            RuntimeError::Invalid(
                "--init: no docker-init or tini-static binary on this host (apt install tini)"
                    .to_string(),
            )
        })
}

/// `-v HOST:CTR[:ro|rw]` (the host path must be absolute: strata has no
/// named volumes).
pub fn parse_bind(spec: &str) -> Result<MountSpec> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, m] => (*s, *d, *m),
        _ => {
            return Err(RuntimeError::Invalid(format!(
                "invalid volume specification: '{spec}'"
            )));
        }
    };
    if !src.starts_with('/') {
        return Err(RuntimeError::Invalid(format!(
            "invalid volume specification: '{spec}': strata supports bind mounts of absolute host paths only"
        )));
    }
    if !dst.starts_with('/') {
        return Err(RuntimeError::Invalid(format!(
            "invalid volume specification: '{spec}': mount path must be absolute"
        )));
    }
    let readonly = match mode {
        "" | "rw" => false,
        "ro" => true,
        m => {
            let opts: Vec<&str> = m.split(',').collect();
            if opts
                .iter()
                .any(|o| !matches!(*o, "ro" | "rw" | "z" | "Z" | "rprivate" | "private"))
            {
                return Err(RuntimeError::Invalid(format!("invalid mode: {m}")));
            }
            opts.contains(&"ro")
        }
    };
    Ok(MountSpec::Bind {
        source: src.into(),
        destination: dst.to_string(),
        readonly,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_parse_like_docker() {
        assert_eq!(
            parse_bind("/data:/srv:ro").unwrap(),
            MountSpec::Bind {
                source: "/data".into(),
                destination: "/srv".into(),
                readonly: true
            }
        );
        assert!(matches!(
            parse_bind("/a:/b").unwrap(),
            MountSpec::Bind {
                readonly: false,
                ..
            }
        ));
        assert!(parse_bind("named:/b").is_err());
        assert!(parse_bind("/a:b").is_err());
        assert!(parse_bind("/a:/b:xx").is_err());
        assert!(parse_bind("/a").is_err());
        let mut t = std::collections::BTreeMap::new();
        t.insert("/run".to_string(), "size=1m,mode=1777".to_string());
        let m = parse_mounts(&[], Some(&t), false).unwrap();
        assert_eq!(
            m,
            vec![MountSpec::Tmpfs {
                destination: "/run".into(),
                options: vec!["size=1m".into(), "mode=1777".into()]
            }]
        );
    }
}
