//! A container's mount points, as docker registers them at create
//! (moby `daemon/volumes.go` `registerMountPoints`), in this order:
//!
//! 1. `--volumes-from C[:ro|rw]`: C's binds and volumes (not its tmpfs);
//! 2. `-v` (`/host:/ctr`, `name:/ctr`, `/ctr`) and `--mount type=bind|
//!    volume|tmpfs`, each replacing an earlier point at its destination
//!    (two of them at one destination: docker's "Duplicate mount point");
//! 3. each `VOLUME` of the image not covered yet: an anonymous volume,
//!    filled from the image on first use (copy-up) unless `nocopy`.
//!
//! The points are kept in the container's spec (`MountPoints`) and become
//! runtime mounts at every start ([`mount_specs`]): a volume's source is
//! its directory in the store, named by a validated volume name; every
//! destination is resolved inside the rootfs by [`crate::mountpoint_linux`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use strata_store::Store;

use crate::error::{Result, RuntimeError};
use crate::model::ContainerSpec;
use crate::mount_parse::parse_mounts;
use crate::spec::MountSpec;
use crate::volumes;

/// One mount point of a container (docker's `MountPoint`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountPoint {
    /// `bind`, `volume` or `tmpfs`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// The volume's name (`volume`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The host path (`bind`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// Path in the container.
    pub destination: String,
    /// Writable.
    #[serde(rename = "RW")]
    pub rw: bool,
    /// docker's `Mode` (`ro`, `z`, …, as written).
    #[serde(default)]
    pub mode: String,
    /// Copy the image's content into an empty volume at first use.
    #[serde(default)]
    pub copy_data: bool,
    /// tmpfs options (`size=…`, `mode=…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tmpfs_options: Vec<String>,
}

/// What a `-v`/`--mount` asks for, before volumes exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The point (a volume's `name` empty: anonymous, made at create).
    pub point: MountPoint,
    /// `--mount type=bind` refuses a missing source; `-v` creates it.
    pub must_exist: bool,
}

fn bad_spec(spec: &str, why: &str) -> RuntimeError {
    RuntimeError::Invalid(format!("invalid volume specification: '{spec}'{why}"))
}

fn check_destination(spec: &str, kind: &str, dest: &str) -> Result<String> {
    if !dest.starts_with('/') {
        return Err(bad_spec(
            spec,
            &format!(
                ": invalid mount config for type \"{kind}\": invalid mount path: '{dest}' mount path must be absolute"
            ),
        ));
    }
    let clean = clean_path(dest);
    if clean == "/" {
        return Err(bad_spec(
            spec,
            &format!(
                ": invalid mount config for type \"{kind}\": invalid specification: destination can't be '/'"
            ),
        ));
    }
    Ok(clean)
}

/// `/a//b/./c/` → `/a/b/c` (no `..` handling: the rootfs resolver does it).
fn clean_path(p: &str) -> String {
    let parts: Vec<&str> = p
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

const PROPAGATIONS: &[&str] = &[
    "shared", "rshared", "slave", "rslave", "private", "rprivate",
];

fn refuse_propagation(p: &str) -> Result<()> {
    if matches!(p, "" | "private" | "rprivate") {
        return Ok(());
    }
    Err(RuntimeError::Invalid(format!(
        "bind-propagation {p}: strata mounts binds rprivate only (shared and slave propagation are not supported)"
    )))
}

/// docker's `-v` (Linux parser): `DEST`, `DEST:MODE`, `SRC:DEST`,
/// `SRC:DEST:MODE`; an absolute `SRC` is a bind, another a volume name.
pub fn parse_volume(spec: &str) -> Result<Request> {
    let parts: Vec<&str> = spec.split(':').collect();
    let is_mode = |m: &str| parse_mode(m).is_ok();
    let (src, dest, mode) = match parts.as_slice() {
        [d] => ("", *d, ""),
        [d, m] if is_mode(m) && !m.is_empty() && d.starts_with('/') => ("", *d, *m),
        [s, d] => (*s, *d, ""),
        [s, d, m] => (*s, *d, *m),
        _ => return Err(bad_spec(spec, "")),
    };
    if dest.is_empty() {
        return Err(bad_spec(spec, ""));
    }
    let m = parse_mode(mode).map_err(|_| RuntimeError::Invalid(format!("invalid mode: {mode}")))?;
    let kind = if src.starts_with('/') {
        "bind"
    } else {
        "volume"
    };
    let destination = check_destination(spec, kind, dest)?;
    if kind == "volume" && !src.is_empty() {
        volumes::validate_name(src)?;
    }
    if kind == "bind" {
        refuse_propagation(&m.propagation)?;
        if m.nocopy {
            return Err(RuntimeError::Invalid(format!("invalid mode: {mode}")));
        }
    }
    Ok(Request {
        point: MountPoint {
            kind: kind.to_string(),
            name: if kind == "volume" {
                src.to_string()
            } else {
                String::new()
            },
            source: if kind == "bind" {
                clean_path(src)
            } else {
                String::new()
            },
            destination,
            rw: !m.readonly,
            // docker shows a named volume's default mode as `z`.
            mode: if mode.is_empty() && kind == "volume" && !src.is_empty() {
                "z".to_string()
            } else {
                mode.to_string()
            },
            copy_data: kind == "volume" && !m.nocopy,
            tmpfs_options: Vec::new(),
        },
        must_exist: false,
    })
}

#[derive(Debug, Default)]
struct Mode {
    readonly: bool,
    nocopy: bool,
    propagation: String,
}

fn parse_mode(mode: &str) -> std::result::Result<Mode, ()> {
    let mut m = Mode::default();
    let (mut rw_seen, mut label_seen, mut prop_seen) = (false, false, false);
    for o in mode.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" | "rw" if !rw_seen => {
                rw_seen = true;
                m.readonly = o == "ro";
            }
            "z" | "Z" if !label_seen => label_seen = true,
            "nocopy" if !m.nocopy => m.nocopy = true,
            "consistent" | "cached" | "delegated" => {}
            p if PROPAGATIONS.contains(&p) && !prop_seen => {
                prop_seen = true;
                m.propagation = p.to_string();
            }
            _ => return Err(()),
        }
    }
    Ok(m)
}

fn bool_opt(key: &str, v: Option<&str>, spec: &str) -> Result<bool> {
    match v.map(str::to_ascii_lowercase).as_deref() {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(other) => Err(RuntimeError::Invalid(format!(
            "invalid argument \"{spec}\" for \"--mount\" flag: invalid value for {key}: {other}"
        ))),
    }
}

/// docker's `--mount` (CSV of `key[=value]`).
pub fn parse_mount(spec: &str) -> Result<Request> {
    let flag_err = |why: String| {
        RuntimeError::Invalid(format!(
            "invalid argument \"{spec}\" for \"--mount\" flag: {why}"
        ))
    };
    let mut kind = "volume".to_string();
    let (mut source, mut target) = (String::new(), String::new());
    let (mut readonly, mut nocopy) = (false, false);
    let mut propagation = String::new();
    let mut tmpfs = Vec::new();
    let mut volume_only = false;
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v)),
            None => (field.to_ascii_lowercase(), None),
        };
        let val = || {
            v.map(str::to_string).ok_or_else(|| {
                flag_err(format!("invalid field '{field}' must be a key=value pair"))
            })
        };
        match k.as_str() {
            "type" => kind = val()?.to_ascii_lowercase(),
            "source" | "src" => source = val()?,
            "target" | "dst" | "destination" => target = val()?,
            "readonly" | "ro" => readonly = bool_opt(&k, v, spec)?,
            "volume-nocopy" => {
                nocopy = bool_opt(&k, v, spec)?;
                volume_only = true;
            }
            "bind-propagation" => propagation = val()?,
            "tmpfs-size" => {
                let n = crate::spec::parse_bytes(&val()?).map_err(|e| flag_err(e.to_string()))?;
                tmpfs.push(format!("size={n}"));
            }
            "tmpfs-mode" => {
                let m = u32::from_str_radix(&val()?, 8)
                    .map_err(|e| flag_err(format!("invalid value for tmpfs-mode: {e}")))?;
                tmpfs.push(format!("mode={m:o}"));
            }
            "consistency" => {}
            "volume-label" | "volume-driver" | "volume-opt" => {
                return Err(flag_err(format!(
                    "{k} is not supported by strata (local volumes only)"
                )));
            }
            _ => return Err(flag_err(format!("unexpected key '{k}' in '{field}'"))),
        }
    }
    if target.is_empty() {
        return Err(flag_err("target is required".into()));
    }
    let mount_err = |why: &str| {
        RuntimeError::Invalid(format!("invalid mount config for type \"{kind}\": {why}"))
    };
    if !target.starts_with('/') {
        return Err(mount_err(&format!(
            "invalid mount path: '{target}' mount path must be absolute"
        )));
    }
    let destination = clean_path(&target);
    if destination == "/" {
        return Err(mount_err("invalid specification: destination can't be '/'"));
    }
    let mut point = MountPoint {
        kind: kind.clone(),
        name: String::new(),
        source: String::new(),
        destination,
        rw: !readonly,
        mode: String::new(),
        copy_data: false,
        tmpfs_options: Vec::new(),
    };
    match kind.as_str() {
        "bind" => {
            if source.is_empty() {
                return Err(mount_err("field Source must not be empty"));
            }
            if volume_only {
                return Err(mount_err("field VolumeOptions must not be specified"));
            }
            if !tmpfs.is_empty() {
                return Err(mount_err("field TmpfsOptions must not be specified"));
            }
            if !source.starts_with('/') {
                return Err(mount_err(&format!(
                    "invalid mount path: '{source}' mount path must be absolute"
                )));
            }
            refuse_propagation(&propagation)?;
            if !Path::new(&source).exists() {
                return Err(mount_err(&format!(
                    "bind source path does not exist: {source}"
                )));
            }
            point.source = clean_path(&source);
        }
        "volume" => {
            if !propagation.is_empty() {
                return Err(mount_err("field BindOptions must not be specified"));
            }
            if !tmpfs.is_empty() {
                return Err(mount_err("field TmpfsOptions must not be specified"));
            }
            if !source.is_empty() {
                volumes::validate_name(&source)?;
            }
            point.name = source;
            point.copy_data = !nocopy;
            if nocopy {
                point.mode = "nocopy".into();
            }
        }
        "tmpfs" => {
            if !source.is_empty() {
                return Err(mount_err("field Source must not be specified"));
            }
            if volume_only {
                return Err(mount_err("field VolumeOptions must not be specified"));
            }
            if !propagation.is_empty() {
                return Err(mount_err("field BindOptions must not be specified"));
            }
            point.tmpfs_options = tmpfs;
        }
        other => {
            return Err(RuntimeError::Invalid(format!(
                "invalid mount config for type \"{other}\": mount type unknown"
            )));
        }
    }
    Ok(Request {
        point,
        must_exist: kind == "bind",
    })
}

/// A container's points for `--volumes-from` (binds and volumes; `mode`
/// `ro`/`rw` overrides their writability).
pub fn inherited(points: &[MountPoint], mode: &str) -> Result<Vec<MountPoint>> {
    let rw = match mode {
        "" => None,
        "rw" => Some(true),
        "ro" => Some(false),
        m => return Err(RuntimeError::Invalid(format!("invalid mode: {m}"))),
    };
    Ok(points
        .iter()
        .filter(|p| p.kind != "tmpfs")
        .map(|p| {
            let mut p = p.clone();
            if let Some(rw) = rw {
                p.rw = rw;
            }
            // Its content is already there: never copied up again.
            p.copy_data = false;
            p
        })
        .collect())
}

/// Registers the mount points (see the module doc): `from` the
/// `--volumes-from` containers' points, `requests` from `-v`/`--mount`,
/// `image_volumes` the image's `VOLUME`s, `tmpfs` the `--tmpfs`
/// destinations. Creates the volumes it names that do not exist (named,
/// and anonymous ones); returns the points and the anonymous volumes made
/// (for the caller to drop if the container is not created).
pub fn register(
    store: &Store,
    from: Vec<MountPoint>,
    requests: Vec<Request>,
    image_volumes: &[String],
    tmpfs: &[String],
) -> Result<(Vec<MountPoint>, Vec<String>)> {
    let mut points: BTreeMap<String, MountPoint> = BTreeMap::new();
    for p in from {
        points.insert(p.destination.clone(), p);
    }
    let mut seen = std::collections::HashSet::new();
    for r in &requests {
        if !seen.insert(r.point.destination.clone()) {
            return Err(RuntimeError::Invalid(format!(
                "Duplicate mount point: {}",
                r.point.destination
            )));
        }
        points.insert(r.point.destination.clone(), r.point.clone());
    }
    for v in image_volumes {
        let dest = clean_path(v);
        if dest == "/" || points.contains_key(&dest) || tmpfs.iter().any(|t| clean_path(t) == dest)
        {
            continue;
        }
        points.insert(
            dest.clone(),
            MountPoint {
                kind: "volume".into(),
                name: String::new(),
                source: String::new(),
                destination: dest,
                rw: true,
                mode: String::new(),
                copy_data: true,
                tmpfs_options: Vec::new(),
            },
        );
    }
    let mut made = Vec::new();
    let mut out = Vec::with_capacity(points.len());
    for (_, mut p) in points {
        if p.kind == "volume" {
            let anonymous = p.name.is_empty();
            let name = (!anonymous).then_some(p.name.as_str());
            match volumes::create(store, name, None, anonymous) {
                Ok(v) => {
                    if anonymous {
                        made.push(v.name.clone());
                    }
                    p.name = v.name;
                }
                Err(e) => {
                    volumes::remove_unused(store, &made);
                    return Err(e);
                }
            }
        }
        out.push(p);
    }
    // Parents before children (docker sorts by path depth).
    out.sort_by_key(|p| p.destination.matches('/').count());
    Ok((out, made))
}

/// Copy-ups a start owes: `(destination, the volume's directory)`.
pub type CopyUps = Vec<(String, PathBuf)>;

/// The runtime mounts of mount points (volumes at their store
/// directories), and the copy-ups a start owes.
pub fn mount_specs(store: &Store, points: &[MountPoint]) -> (Vec<MountSpec>, CopyUps) {
    let mut mounts = Vec::with_capacity(points.len());
    let mut copy = Vec::new();
    for p in points {
        match p.kind.as_str() {
            "tmpfs" => mounts.push(MountSpec::Tmpfs {
                destination: p.destination.clone(),
                options: p.tmpfs_options.clone(),
            }),
            "volume" => {
                let data = volumes::data_dir(store, &p.name);
                if p.copy_data {
                    copy.push((p.destination.clone(), data.clone()));
                }
                mounts.push(MountSpec::Bind {
                    source: data,
                    destination: p.destination.clone(),
                    readonly: !p.rw,
                });
            }
            _ => mounts.push(MountSpec::Bind {
                source: PathBuf::from(&p.source),
                destination: p.destination.clone(),
                readonly: !p.rw,
            }),
        }
    }
    (mounts, copy)
}

/// A container's mount points: its recorded ones, or (made before strata
/// had volumes) its `-v` binds.
pub fn points_of(spec: &ContainerSpec) -> Vec<MountPoint> {
    spec.mount_points.clone().unwrap_or_else(|| {
        spec.host_config
            .binds
            .iter()
            .flatten()
            .filter_map(|b| parse_volume(b).ok().map(|r| r.point))
            .collect()
    })
}

/// Every runtime mount of a container at start, in order: `--init`'s
/// binary, its mount points, its `--tmpfs`; and the copy-ups owed.
pub fn of_container(store: &Store, spec: &ContainerSpec) -> Result<(Vec<MountSpec>, CopyUps)> {
    let hc = &spec.host_config;
    let init = hc.init == Some(true);
    let Some(points) = &spec.mount_points else {
        return Ok((
            parse_mounts(hc.binds.as_deref().unwrap_or(&[]), hc.tmpfs.as_ref(), init)?,
            Vec::new(),
        ));
    };
    let mut out = parse_mounts(&[], None, init)?;
    let (m, copy) = mount_specs(store, points);
    out.extend(m);
    out.extend(parse_mounts(&[], hc.tmpfs.as_ref(), false)?);
    Ok((out, copy))
}

/// `(volume name, destination)` of the volumes among `points`.
pub fn volume_refs(points: &[MountPoint]) -> Vec<(String, String)> {
    points
        .iter()
        .filter(|p| p.kind == "volume")
        .map(|p| (p.name.clone(), p.destination.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_flags_parse_like_docker() {
        let r = parse_volume("data:/srv:ro").unwrap().point;
        assert_eq!(
            (r.kind.as_str(), r.name.as_str(), r.rw, r.copy_data),
            ("volume", "data", false, true)
        );
        let r = parse_volume("/srv").unwrap().point;
        assert_eq!((r.kind.as_str(), r.name.as_str()), ("volume", ""));
        let r = parse_volume("/srv:ro").unwrap().point;
        assert_eq!(
            (r.kind.as_str(), r.rw, r.destination.as_str()),
            ("volume", false, "/srv")
        );
        let r = parse_volume("/host/x/:/srv/:rw").unwrap().point;
        assert_eq!(
            (r.kind.as_str(), r.source.as_str(), r.destination.as_str()),
            ("bind", "/host/x", "/srv")
        );
        let r = parse_volume("data:/srv:nocopy").unwrap().point;
        assert!(!r.copy_data);
        assert!(
            parse_volume("data:srv")
                .unwrap_err()
                .to_string()
                .contains("mount path must be absolute")
        );
        assert!(
            parse_volume("/a:/")
                .unwrap_err()
                .to_string()
                .contains("destination can't be '/'")
        );
        assert!(
            parse_volume("x!:/a")
                .unwrap_err()
                .to_string()
                .contains("invalid characters")
        );
        assert!(
            parse_volume("/a:/b:xx")
                .unwrap_err()
                .to_string()
                .contains("invalid mode: xx")
        );
        assert!(parse_volume("/a:/b:shared").is_err());
        assert!(parse_volume("a:b:c:d").is_err());
    }

    #[test]
    fn mount_flags_parse_like_docker() {
        let r = parse_mount("type=volume,src=data,dst=/srv,ro,volume-nocopy")
            .unwrap()
            .point;
        assert_eq!(
            (r.name.as_str(), r.destination.as_str(), r.rw, r.copy_data),
            ("data", "/srv", false, false)
        );
        let r = parse_mount("target=/x").unwrap().point;
        assert_eq!(
            (r.kind.as_str(), r.name.as_str(), r.copy_data),
            ("volume", "", true)
        );
        let r = parse_mount("type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770")
            .unwrap()
            .point;
        assert_eq!(r.tmpfs_options, ["size=1048576", "mode=1770"]);
        let r = parse_mount("type=bind,source=/tmp,target=/h,readonly=false")
            .unwrap()
            .point;
        assert_eq!((r.source.as_str(), r.rw), ("/tmp", true));
        assert!(
            parse_mount("type=bind,source=/no/such/dir,target=/h")
                .unwrap_err()
                .to_string()
                .contains("bind source path does not exist")
        );
        assert!(parse_mount("type=bind,src=/tmp,dst=/h,bind-propagation=shared").is_err());
        assert!(parse_mount("type=bind,src=/tmp,dst=/h,bind-propagation=rprivate").is_ok());
        assert!(
            parse_mount("src=data")
                .unwrap_err()
                .to_string()
                .contains("target is required")
        );
        assert!(
            parse_mount("type=nfs,dst=/x")
                .unwrap_err()
                .to_string()
                .contains("mount type unknown")
        );
        assert!(
            parse_mount("foo=bar,dst=/x")
                .unwrap_err()
                .to_string()
                .contains("unexpected key 'foo'")
        );
        assert!(parse_mount("type=tmpfs,src=x,dst=/x").is_err());
    }

    #[test]
    fn volumes_from_overrides_mode_and_skips_tmpfs() {
        let p = |kind: &str, rw| MountPoint {
            kind: kind.into(),
            name: "v".into(),
            source: String::new(),
            destination: format!("/{kind}"),
            rw,
            mode: String::new(),
            copy_data: true,
            tmpfs_options: vec![],
        };
        let got = inherited(&[p("volume", true), p("tmpfs", true)], "ro").unwrap();
        assert_eq!(got.len(), 1);
        assert!(!got[0].rw && !got[0].copy_data);
        assert!(inherited(&[], "xx").is_err());
    }
}
