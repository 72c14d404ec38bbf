//! Per-entry metadata for extraction: owner, mode, mtime and xattrs from
//! the ustar header and the entry's exactly-parsed PAX records (which win
//! over the header, as in Go's archive/tar).

use std::ffi::CString;
use std::io::{self, Read};

use super::LayerError;
use super::path::show;
use super::tarfmt::{Extensions, parse_numeric};

/// Per-entry metadata, from the header and PAX records.
pub(crate) struct Meta {
    /// Permission bits incl. setuid/setgid/sticky.
    pub mode: u32,
    /// Numeric owner.
    pub uid: u32,
    /// Numeric group.
    pub gid: u32,
    /// (seconds, nanoseconds) since the epoch.
    pub mtime: (i64, u32),
    /// xattrs to set (overlay-private ones already dropped).
    pub xattrs: Vec<(CString, Vec<u8>)>,
}

impl Meta {
    pub fn read<R: Read>(
        entry: &tar::Entry<'_, R>,
        ext: &Extensions,
        rel: &[u8],
        with_xattrs: bool,
    ) -> Result<Meta, LayerError> {
        let h = entry.header();
        let bad = |reason: String| LayerError::InvalidEntry {
            path: show(rel),
            reason,
        };
        if let Some(size) = ext.get(b"size")
            && parse_u64(size) != Some(entry.size())
        {
            return Err(bad("PAX size record disagrees with the tar reader".into()));
        }
        let id = |key: &[u8], header: io::Result<u64>| -> Result<u32, LayerError> {
            let v = match ext.get(key) {
                Some(v) => parse_u64(v).ok_or_else(|| bad(format!("bad PAX {:?}", key)))?,
                None => header.map_err(|e| bad(e.to_string()))?,
            };
            u32::try_from(v)
                .ok()
                .filter(|v| *v != u32::MAX)
                .ok_or_else(|| bad(format!("id {v} out of range")))
        };
        // Go's archive/tar (and so docker) reads an empty numeric field as 0;
        // the tar crate's accessors refuse it, so parse the raw fields.
        let raw = h.as_old();
        let num = |field: &[u8]| -> io::Result<u64> {
            parse_numeric(field).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.0))
        };
        let uid = id(b"uid", num(&raw.uid))?;
        let gid = id(b"gid", num(&raw.gid))?;
        let mode = num(&raw.mode).map_err(|e| bad(e.to_string()))? as u32;
        let mtime = match ext.get(b"mtime") {
            Some(v) => parse_pax_time(v).ok_or_else(|| bad("bad PAX mtime".into()))?,
            None => {
                let m = num(&raw.mtime).map_err(|e| bad(e.to_string()))?;
                (i64::try_from(m).unwrap_or(i64::MAX), 0)
            }
        };
        let mut xattrs = Vec::new();
        if with_xattrs {
            for (k, v) in &ext.pax {
                let Some(name) = k.strip_prefix(b"SCHILY.xattr.") else {
                    continue;
                };
                if is_overlay_private(name) {
                    tracing::debug!(path = %show(rel), "ignoring overlay-private xattr");
                    continue;
                }
                let name = CString::new(name).map_err(|_| bad("NUL in xattr name".into()))?;
                xattrs.push((name, v.clone()));
            }
        }
        Ok(Meta {
            mode: mode & 0o7777,
            uid,
            gid,
            mtime,
            xattrs,
        })
    }
}

pub(crate) fn link_target<R: Read>(entry: &tar::Entry<'_, R>, ext: &Extensions) -> Vec<u8> {
    if ext.gnu_long_link {
        entry
            .link_name_bytes()
            .map(|c| c.into_owned())
            .unwrap_or_default()
    } else if let Some(l) = ext.get(b"linkpath") {
        l.to_vec()
    } else {
        entry
            .header()
            .link_name_bytes()
            .map(|c| c.into_owned())
            .unwrap_or_default()
    }
}

/// True for xattrs overlayfs keeps for itself; never applied from a tar (a
/// layer must not plant redirects or metacopy markers) nor written to one.
pub(crate) fn is_overlay_private(name: &[u8]) -> bool {
    name.starts_with(b"trusted.overlay.")
        || name.starts_with(b"user.overlay.")
        || name.starts_with(b"user.fuseoverlayfs.")
}

fn parse_u64(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// A PAX time, `[-]sec[.frac]`, as (seconds, nanoseconds ≥ 0).
pub(crate) fn parse_pax_time(v: &[u8]) -> Option<(i64, u32)> {
    let s = std::str::from_utf8(v).ok()?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sec: i64 = int.parse().ok()?;
    let mut digits: String = frac.chars().take(9).collect();
    while digits.len() < 9 {
        digits.push('0');
    }
    let nsec: u32 = digits.parse().ok()?;
    Some(match (neg, nsec) {
        (false, n) => (sec, n),
        (true, 0) => (-sec, 0),
        (true, n) => (-sec - 1, 1_000_000_000 - n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times() {
        assert_eq!(parse_pax_time(b"1700000000"), Some((1_700_000_000, 0)));
        assert_eq!(parse_pax_time(b"1.5"), Some((1, 500_000_000)));
        assert_eq!(parse_pax_time(b"-1.25"), Some((-2, 750_000_000)));
        assert_eq!(parse_pax_time(b"-3"), Some((-3, 0)));
        assert_eq!(parse_pax_time(b"1.1234567891"), Some((1, 123_456_789)));
        for bad in [&b""[..], b"x", b"1.x", b".5", b"--1"] {
            assert_eq!(parse_pax_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn overlay_private_names() {
        assert!(is_overlay_private(b"trusted.overlay.opaque"));
        assert!(is_overlay_private(b"user.overlay.redirect"));
        assert!(!is_overlay_private(b"security.capability"));
        assert!(!is_overlay_private(b"user.mime"));
    }
}
