//! ADD's remote sources: http(s) URLs downloaded (streamed to a file while
//! hashed, never held in memory), `--checksum` verified, `Last-Modified`
//! kept as the mtime, the file named after the URL's last path segment.
//! Git URLs are recognised only to refuse them clearly.

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use super::{FileOpError, Result};

/// Whether `src` is an http(s) URL.
pub(crate) fn is_http(src: &str) -> bool {
    let l = src.get(..8).unwrap_or(src).to_ascii_lowercase();
    l.starts_with("http://") || l.starts_with("https://")
}

/// Whether `src` names a git repository (BuildKit's `ParseGitRef` cases
/// that cannot be a local path).
pub(crate) fn is_git(src: &str) -> bool {
    let l = src.to_ascii_lowercase();
    if l.starts_with("git://") || l.starts_with("git@") || l.starts_with("ssh://") {
        return true;
    }
    if l.starts_with("github.com/") {
        return true;
    }
    if is_http(&l) {
        let no_frag = l.split('#').next().unwrap_or("");
        let path = no_frag.split('?').next().unwrap_or("");
        return path.ends_with(".git") || path.ends_with(".git/");
    }
    false
}

/// A downloaded file.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    pub file: PathBuf,
    pub name: String,
    pub sha256: [u8; 32],
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub dev: u64,
    pub ino: u64,
}

/// BuildKit's file name: `path.Base` of the URL path, `__unnamed__` when
/// that is empty, `.` or `/`.
pub(crate) fn url_file_name(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    let path = match after_scheme.find('/') {
        Some(i) => &after_scheme[i..],
        None => "",
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let base = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    let base = percent_decode(base);
    if base.is_empty() || base == "." || base == ".." {
        "__unnamed__".to_string()
    } else {
        base
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Downloads `url` into a new file under `dir`, verifying `checksum`
/// (`sha256:<hex>`) when given.
pub(crate) fn fetch(url: &str, checksum: Option<&str>, dir: &Path) -> Result<Fetched> {
    let fail = |reason: String| FileOpError::Download {
        url: url.to_string(),
        reason,
    };
    let expected = match checksum {
        None => None,
        Some(c) => {
            let hex = c.strip_prefix("sha256:").ok_or_else(|| {
                FileOpError::Checksum(format!(
                    "unsupported checksum {c:?}: only sha256 is supported"
                ))
            })?;
            let mut want = [0u8; 32];
            hex::decode_to_slice(hex, &mut want)
                .map_err(|_| FileOpError::Checksum(format!("invalid checksum digest {c:?}")))?;
            Some(want)
        }
    };
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .timeout(None)
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let mut resp = client.get(url).send().map_err(|e| fail(e.to_string()))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(fail(format!("invalid response status {}", status.as_u16())));
    }
    let last_modified = resp
        .headers()
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        .map(|t| t.timestamp().saturating_mul(1_000_000_000));
    std::fs::create_dir_all(dir).map_err(FileOpError::io("create directory", dir))?;
    let file = unique_file(dir)?;
    let result = (|| -> Result<Fetched> {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&file)
            .map_err(FileOpError::io("create", &file))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 128 * 1024];
        let mut size = 0u64;
        loop {
            let n = match resp.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(fail(format!("reading body: {e}"))),
            };
            h.update(&buf[..n]);
            out.write_all(&buf[..n])
                .map_err(FileOpError::io("write", &file))?;
            size += n as u64;
        }
        let sha: [u8; 32] = h.finalize().into();
        if let Some(want) = expected
            && want != sha
        {
            return Err(FileOpError::ChecksumMismatch {
                url: url.to_string(),
                expected: format!("sha256:{}", hex::encode(want)),
                actual: format!("sha256:{}", hex::encode(sha)),
            });
        }
        let mtime_ns = last_modified.unwrap_or_else(crate::context::now_ns);
        super::sys::fset_times(&out, mtime_ns).map_err(FileOpError::io("set times", &file))?;
        let md = out.metadata().map_err(FileOpError::io("stat", &file))?;
        Ok(Fetched {
            file: file.clone(),
            name: url_file_name(url),
            sha256: sha,
            size,
            mtime_ns,
            ctime_ns: md
                .ctime()
                .saturating_mul(1_000_000_000)
                .saturating_add(md.ctime_nsec()),
            dev: md.dev(),
            ino: md.ino(),
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&file);
    }
    result
}

fn unique_file(dir: &Path) -> Result<PathBuf> {
    let nanos = crate::context::now_ns();
    for n in 0u32..1000 {
        let p = dir.join(format!("download-{}-{nanos:x}-{n}", std::process::id()));
        if !p.exists() {
            return Ok(p);
        }
    }
    Err(FileOpError::Io {
        op: "create",
        path: dir.to_path_buf(),
        source: std::io::Error::other("no free file name"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_kinds() {
        assert_eq!(
            url_file_name("https://example.com/a/b/tool.tar.gz?x=1"),
            "tool.tar.gz"
        );
        assert_eq!(url_file_name("https://example.com/"), "__unnamed__");
        assert_eq!(url_file_name("https://example.com"), "__unnamed__");
        assert_eq!(url_file_name("http://h/dir/my%20file"), "my file");
        assert_eq!(url_file_name("http://h/%é%2"), "%é%2");
        assert!(is_http("HTTPS://x/y"));
        assert!(!is_http("./http"));
        assert!(is_git("git@github.com:moby/buildkit.git"));
        assert!(is_git("https://github.com/moby/buildkit.git#v0.10"));
        assert!(is_git("git://host/repo"));
        assert!(!is_git("https://example.com/file.tar"));
    }
}
