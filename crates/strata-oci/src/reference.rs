//! Image references, parsed and normalised exactly as docker 20.10 does
//! (docker/distribution `reference`: `ParseNormalizedNamed`, then
//! `TagNameOnly`).
//!
//! Grammar (`regexp.go`):
//! ```text
//! reference      := name [ ":" tag ] [ "@" digest ]
//! name           := [domain "/"] path
//! domain         := domain-name [":" port]               (no IPv6 literal in docker 20.10)
//! domain-name    := component ("." component)*      component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//! path           := path-component ("/" path-component)*
//! path-component := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
//! tag            := [\w][\w.-]{0,127}
//! digest         := algorithm ":" hex{32,}           (then go-digest's checks)
//! ```
//! Normalisation (`normalize.go`): the first path component is a domain
//! when it contains `.` or `:` or is `localhost`; otherwise the domain is
//! `docker.io` and single-component names get `library/`. `index.docker.io`
//! becomes `docker.io`. The repository name (up to the first `:` after the
//! domain) must be lowercase: `UPPER/case` is refused ("repository name
//! must be lowercase"), never sent to a host called `UPPER`. A name with
//! neither tag nor digest gets `:latest`. `busybox` →
//! `docker.io/library/busybox:latest`.
//!
//! Current distribution/reference (v0.5+, docker 24+) differs in two ways
//! that strata does not follow: an uppercase first component is taken as a
//! registry host, and `[::1]:5000/x` (an IPv6 host) is accepted.

use std::fmt;

/// Docker Hub's canonical domain.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// Docker Hub's legacy domain, normalised to [`DEFAULT_DOMAIN`].
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// Namespace for official images on Docker Hub.
const OFFICIAL_REPO_PREFIX: &str = "library/";
/// Docker's default tag.
pub const DEFAULT_TAG: &str = "latest";
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Why a string is not a valid image reference (docker's texts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// Empty string.
    #[error("invalid reference format")]
    Empty,
    /// The string does not match the grammar.
    #[error("invalid reference format")]
    Format(String),
    /// An uppercase letter in the repository name.
    #[error("invalid reference format: repository name must be lowercase")]
    Uppercase(String),
    /// A 64-hex string, which docker reserves for image IDs.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
    /// The name is over 255 characters.
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    /// The tag is malformed.
    #[error("invalid reference format")]
    Tag(String),
    /// The digest does not match the grammar.
    #[error("invalid reference format")]
    Digest(String),
    /// A sha256/384/512 digest with characters other than `[a-f0-9]`.
    #[error("invalid checksum digest format")]
    DigestFormat(String),
    /// A sha256/384/512 digest of the wrong length.
    #[error("invalid checksum digest length")]
    DigestLength(String),
    /// A digest algorithm go-digest does not know.
    #[error("unsupported digest algorithm")]
    DigestAlgorithm(String),
}

/// A normalised image reference: `domain/path[:tag][@digest]`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    /// Parses and normalises like docker's `ParseNormalizedNamed` followed by
    /// `TagNameOnly` (a bare name gets `:latest`).
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        let mut r = Self::parse_name_only(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_string());
        }
        Ok(r)
    }

    /// Parses and normalises without adding a default tag (for filters and
    /// `--all-tags`, where a bare repository is meant).
    pub fn parse_name_only(s: &str) -> Result<Self, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if is_full_hex_id(s) {
            return Err(ReferenceError::HexName(s.to_string()));
        }
        // splitDockerDomain, on the whole string.
        let (domain, remainder) = split_domain(s);
        let remote = remainder
            .split_once(':')
            .map_or(remainder.as_str(), |(r, _)| r);
        if remote.to_lowercase() != remote {
            return Err(ReferenceError::Uppercase(remote.to_string()));
        }
        // Then `Parse(domain + "/" + remainder)`.
        let (rest, digest) = match remainder.split_once('@') {
            Some((n, d)) => {
                validate_digest(d)?;
                (n, Some(d.to_string()))
            }
            None => (remainder.as_str(), None),
        };
        // A tag follows the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (path, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let i = last_slash + i;
                let tag = &rest[i + 1..];
                validate_tag(tag)?;
                (&rest[..i], Some(tag.to_string()))
            }
            None => (rest, None),
        };
        let bad = || ReferenceError::Format(s.to_string());
        if path.is_empty() || validate_path(path).is_err() {
            return Err(bad());
        }
        let (domain, path) = if validate_domain(&domain).is_ok() {
            (domain, path.to_string())
        } else {
            // The grammar's domain is optional: `a_b.com/x` is all path
            // (docker shows it as is; it lives on the default registry).
            let whole = format!("{domain}/{path}");
            validate_path(&whole).map_err(|_| bad())?;
            (DEFAULT_DOMAIN.to_string(), whole)
        };
        if domain.len() + 1 + path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::NameTooLong);
        }
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The registry host (and port): `docker.io`, `127.0.0.1:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path in its registry: `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest (`sha256:…`), if any.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The full repository name: `docker.io/library/busybox`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository as docker shows it: `busybox`, `user/app`,
    /// `127.0.0.1:5000/node`.
    pub fn familiar_repository(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.repository()
        }
    }

    /// The reference as docker shows it: `busybox:latest`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_repository();
        self.push_suffix(&mut s);
        s
    }

    /// A copy with another tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        validate_tag(tag)?;
        Ok(Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        })
    }

    /// A copy with this digest and no tag (`repo@sha256:…`).
    pub fn with_digest(&self, digest: &str) -> Result<Reference, ReferenceError> {
        validate_digest(digest)?;
        Ok(Reference {
            tag: None,
            digest: Some(digest.to_string()),
            ..self.clone()
        })
    }

    /// The name without tag or digest.
    pub fn name_only(&self) -> Reference {
        Reference {
            tag: None,
            digest: None,
            ..self.clone()
        }
    }

    fn push_suffix(&self, s: &mut String) {
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
    }
}

impl fmt::Display for Reference {
    /// The fully qualified form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.repository();
        self.push_suffix(&mut s);
        f.write_str(&s)
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// True for a full 64-character lowercase hex string (an image ID).
pub fn is_full_hex_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// docker 20.10's `splitDockerDomain`: `(domain, remainder)`, with
/// `index.docker.io` → `docker.io` and `library/` added on Docker Hub.
fn split_domain(name: &str) -> (String, String) {
    let (domain, rest) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (first, rest),
        _ => (DEFAULT_DOMAIN, name),
    };
    let domain = if domain == LEGACY_DEFAULT_DOMAIN {
        DEFAULT_DOMAIN
    } else {
        domain
    };
    let rest = if domain == DEFAULT_DOMAIN && !rest.contains('/') {
        format!("{OFFICIAL_REPO_PREFIX}{rest}")
    } else {
        rest.to_string()
    };
    (domain.to_string(), rest)
}

fn validate_tag(tag: &str) -> Result<(), ReferenceError> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag.chars().enumerate().all(|(i, c)| {
            c.is_ascii_alphanumeric() || c == '_' || (i > 0 && (c == '.' || c == '-'))
        });
    if ok {
        Ok(())
    } else {
        Err(ReferenceError::Tag(tag.to_string()))
    }
}

/// The grammar's digest, then go-digest's `Parse` (known algorithm,
/// lowercase hex of the algorithm's length).
fn validate_digest(d: &str) -> Result<(), ReferenceError> {
    let err = || ReferenceError::Digest(d.to_string());
    let (algo, hex) = d.split_once(':').ok_or_else(err)?;
    // algorithm := [A-Za-z][A-Za-z0-9]* ([-_+.][A-Za-z][A-Za-z0-9]*)*
    let algo_ok = algo.split(['-', '_', '+', '.']).all(|part| {
        let mut cs = part.chars();
        cs.next().is_some_and(|c| c.is_ascii_alphabetic()) && cs.all(|c| c.is_ascii_alphanumeric())
    });
    if !algo_ok || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(err());
    }
    let len = match algo {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(ReferenceError::DigestAlgorithm(d.to_string())),
    };
    if hex.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(ReferenceError::DigestFormat(d.to_string()));
    }
    if hex.len() != len {
        return Err(ReferenceError::DigestLength(d.to_string()));
    }
    Ok(())
}

/// `domain-name [":" port]`.
fn validate_domain(domain: &str) -> Result<(), ()> {
    let (host, port) = match domain.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (domain, None),
    };
    if let Some(p) = port
        && (p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(());
    }
    for comp in host.split('.') {
        let b = comp.as_bytes();
        let ok = !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-');
        if !ok {
            return Err(());
        }
    }
    Ok(())
}

fn validate_path(path: &str) -> Result<(), ()> {
    for comp in path.split('/') {
        validate_path_component(comp)?;
    }
    Ok(())
}

/// `[a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*`
fn validate_path_component(comp: &str) -> Result<(), ()> {
    let b = comp.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && alnum(b[i]) {
            i += 1;
        }
        if i == start {
            return Err(());
        }
        if i == b.len() {
            return Ok(());
        }
        // separator
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docker 20.10's answers (`docker tag IMAGE REF`, recorded): the
    /// normalised name, or the error text after "is not a valid
    /// repository/tag: ". See: issue 14.
    const DOCKER_20_10: &[(&str, Result<&str, &str>)] = &[
        ("busybox", Ok("docker.io/library/busybox:latest")),
        ("busybox:1.36", Ok("docker.io/library/busybox:1.36")),
        ("busybox:Latest", Ok("docker.io/library/busybox:Latest")),
        ("user/app", Ok("docker.io/user/app:latest")),
        (
            "index.docker.io/busybox",
            Ok("docker.io/library/busybox:latest"),
        ),
        ("docker.io/busybox", Ok("docker.io/library/busybox:latest")),
        ("127.0.0.1:5000/node:18", Ok("127.0.0.1:5000/node:18")),
        ("localhost/app:v1", Ok("localhost/app:v1")),
        ("localhost:5000/x", Ok("localhost:5000/x:latest")),
        ("Localhost:5000/x", Ok("Localhost:5000/x:latest")),
        ("Upper.com/case", Ok("Upper.com/case:latest")),
        ("UPPER:5000/case", Ok("UPPER:5000/case:latest")),
        ("UP.x/lower", Ok("UP.x/lower:latest")),
        ("example.com/a/b/c:v1.0", Ok("example.com/a/b/c:v1.0")),
        ("a.b.c:123/x", Ok("a.b.c:123/x:latest")),
        ("a.com:0/x", Ok("a.com:0/x:latest")),
        ("ex-ample.com/x", Ok("ex-ample.com/x:latest")),
        ("1.2.3.4/x", Ok("1.2.3.4/x:latest")),
        ("a__b-c---d/f_g.h", Ok("docker.io/a__b-c---d/f_g.h:latest")),
        ("foo_bar", Ok("docker.io/library/foo_bar:latest")),
        ("foo.bar", Ok("docker.io/library/foo.bar:latest")),
        ("a/b/c/d/e/f", Ok("docker.io/a/b/c/d/e/f:latest")),
        ("a_b.com/x", Ok("docker.io/a_b.com/x:latest")),
        (
            "UPPER/case",
            Err("invalid reference format: repository name must be lowercase"),
        ),
        (
            "UP/lower/x",
            Err("invalid reference format: repository name must be lowercase"),
        ),
        (
            "localhost/UP",
            Err("invalid reference format: repository name must be lowercase"),
        ),
        (
            "LOCALHOST/x",
            Err("invalid reference format: repository name must be lowercase"),
        ),
        (
            "Foo",
            Err("invalid reference format: repository name must be lowercase"),
        ),
        (
            "a/B",
            Err("invalid reference format: repository name must be lowercase"),
        ),
        ("", Err("invalid reference format")),
        (":latest", Err("invalid reference format")),
        ("a//b", Err("invalid reference format")),
        ("busybox:", Err("invalid reference format")),
        ("busybox:-x", Err("invalid reference format")),
        ("busybox:tag with space", Err("invalid reference format")),
        ("a___b", Err("invalid reference format")),
        ("a..b", Err("invalid reference format")),
        ("foo..bar", Err("invalid reference format")),
        ("_foo", Err("invalid reference format")),
        ("-a", Err("invalid reference format")),
        ("a-", Err("invalid reference format")),
        ("host:port/x", Err("invalid reference format")),
        ("a.com:/x", Err("invalid reference format")),
        ("a_b:5/x", Err("invalid reference format")),
        ("a-.b/x", Err("invalid reference format")),
        ("-ex.com/x", Err("invalid reference format")),
        ("[::1]:5000/app", Err("invalid reference format")),
        ("[::1]/app", Err("invalid reference format")),
        ("a:b:c", Err("invalid reference format")),
        ("a/b:c/d", Err("invalid reference format")),
        ("busybox@sha256:ABC", Err("invalid reference format")),
    ];

    #[test]
    fn docker_20_10_table() {
        for (input, want) in DOCKER_20_10 {
            let got = Reference::parse(input)
                .map(|r| r.to_string())
                .map_err(|e| e.to_string());
            let want = want.map(str::to_string).map_err(str::to_string);
            assert_eq!(got, want, "{input:?}");
        }
        let hex = "a".repeat(64);
        let long = "a".repeat(250);
        for (input, want) in [
            (
                hex.clone(),
                format!(
                    "invalid repository name ({hex}), cannot specify 64-byte hexadecimal strings"
                ),
            ),
            (
                format!("busybox@sha256:{}", "A".repeat(64)),
                "invalid checksum digest format".into(),
            ),
            (
                format!("busybox@sha256:{}", "a".repeat(32)),
                "invalid checksum digest length".into(),
            ),
            (
                format!("busybox@foo:{}", "a".repeat(32)),
                "unsupported digest algorithm".into(),
            ),
            (
                format!("busybox@SHA256:{hex}"),
                "invalid reference format: repository name must be lowercase".into(),
            ),
            (
                format!("ab/{long}"),
                "repository name must not be more than 255 characters".into(),
            ),
            (
                format!("busybox:{}", "t".repeat(129)),
                "invalid reference format".into(),
            ),
        ] {
            assert_eq!(
                Reference::parse(&input).unwrap_err().to_string(),
                want,
                "{input}"
            );
        }
        for ok in [
            format!("a{hex}"),
            format!("x/{hex}"),
            format!("x.io/{long}"),
            format!("busybox:{}", "t".repeat(128)),
            format!("busybox@sha256:{hex}"),
            format!("a/b:t@sha256:{hex}"),
        ] {
            assert!(Reference::parse(&ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn familiar_forms() {
        let f = |s: &str| Reference::parse(s).unwrap().familiar();
        assert_eq!(f("docker.io/library/busybox"), "busybox:latest");
        assert_eq!(f("docker.io/user/app:1"), "user/app:1");
        assert_eq!(f("docker.io/library/a/b"), "library/a/b:latest");
        assert_eq!(f("127.0.0.1:5000/node:18"), "127.0.0.1:5000/node:18");
    }

    #[test]
    fn name_only_has_no_default_tag() {
        let r = Reference::parse_name_only("busybox").unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.to_string(), "docker.io/library/busybox");
    }
}
