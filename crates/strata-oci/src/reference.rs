//! Image references, parsed and normalised exactly as docker does.
//!
//! Grammar (docker/distribution `reference`):
//! ```text
//! reference      := name [ ":" tag ] [ "@" digest ]
//! name           := [domain "/"] path
//! domain         := host [":" port]
//! host           := domain-name | IPv4 | "[" IPv6 "]"
//! domain-name    := component ("." component)*      component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//! path           := path-component ("/" path-component)*
//! path-component := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
//! tag            := [\w][\w.-]{0,127}
//! digest         := algorithm ":" hex{32,}
//! ```
//! Normalisation: the first path component is a domain when it contains `.`
//! or `:`, is `localhost`, or has an uppercase letter; otherwise the domain
//! is `docker.io` and single-component names get `library/`. `index.docker.io`
//! becomes `docker.io`. A name with neither tag nor digest gets `:latest`.
//! `busybox` → `docker.io/library/busybox:latest`.

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

/// Why a string is not a valid image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// Empty string.
    #[error("invalid reference format: repository name must have at least one component")]
    Empty,
    /// The string does not match the grammar.
    #[error("invalid reference format: {0:?}")]
    Format(String),
    /// An uppercase letter in the repository path.
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    /// A 64-hex string, which docker reserves for image IDs.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
    /// The name is over 255 characters.
    #[error("invalid reference format: repository name must not be more than 255 characters")]
    NameTooLong,
    /// The tag is malformed.
    #[error("invalid reference format: invalid tag {0:?}")]
    Tag(String),
    /// The digest is malformed.
    #[error("invalid reference format: invalid digest {0:?}")]
    Digest(String),
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
        let (rest, digest) = match s.split_once('@') {
            Some((n, d)) => {
                validate_digest(d)?;
                (n, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A tag follows the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let i = last_slash + i;
                let tag = &rest[i + 1..];
                validate_tag(tag)?;
                (&rest[..i], Some(tag.to_string()))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(ReferenceError::Format(s.to_string()));
        }
        let (domain, path) = split_domain(name);
        validate_domain(domain).map_err(|_| ReferenceError::Format(s.to_string()))?;
        let mut domain = domain.to_string();
        let mut path = path.to_string();
        if domain == LEGACY_DEFAULT_DOMAIN {
            domain = DEFAULT_DOMAIN.to_string();
        }
        if domain == DEFAULT_DOMAIN && !path.contains('/') {
            path = format!("{OFFICIAL_REPO_PREFIX}{path}");
        }
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase(path));
        }
        validate_path(&path).map_err(|_| ReferenceError::Format(s.to_string()))?;
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

fn split_domain(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first, rest)
        }
        _ => (DEFAULT_DOMAIN, name),
    }
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
    if algo == "sha256" && (hex.len() != 64 || hex.chars().any(|c| c.is_ascii_uppercase())) {
        return Err(err());
    }
    Ok(())
}

fn validate_domain(domain: &str) -> Result<(), ()> {
    // host [":" port]
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or(())?;
        if v6.is_empty()
            || !v6
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err(());
        }
        match after {
            "" => ("", None),
            p => ("", Some(p.strip_prefix(':').ok_or(())?)),
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        }
    };
    if let Some(p) = port
        && (p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(());
    }
    if domain.starts_with('[') {
        return Ok(());
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

    fn norm(s: &str) -> String {
        Reference::parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .to_string()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(norm("user/app"), "docker.io/user/app:latest");
        assert_eq!(
            norm("index.docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(norm("127.0.0.1:5000/node"), "127.0.0.1:5000/node:latest");
        assert_eq!(norm("localhost/app:v1"), "localhost/app:v1");
        assert_eq!(norm("localhost:5000/a/b/c"), "localhost:5000/a/b/c:latest");
        assert_eq!(norm("[::1]:5000/app"), "[::1]:5000/app:latest");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            norm(&format!("busybox@{d}")),
            format!("docker.io/library/busybox@{d}")
        );
        assert_eq!(
            norm(&format!("busybox:1@{d}")),
            format!("docker.io/library/busybox:1@{d}")
        );
        assert_eq!(
            norm("a__b-c---d/f_g.h"),
            "docker.io/a__b-c---d/f_g.h:latest"
        );
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
    fn rejects_invalid() {
        for bad in [
            "",
            ":latest",
            "Busybox",
            "busybox:",
            "busybox:-x",
            "busybox@sha256:abc",
            "a//b",
            "-a",
            "a-",
            "a..b",
            "a___b",
            "busybox:tag with space",
            "host:port/x",
            &"a".repeat(64).replace('a', "0"),
            &format!("busybox:{}", "t".repeat(129)),
            &format!("x/{}", "a".repeat(260)),
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(matches!(
            Reference::parse("Busybox"),
            Err(ReferenceError::Uppercase(_))
        ));
        // An uppercase first component is a domain, as in docker.
        assert_eq!(norm("Foo.com/bar"), "Foo.com/bar:latest");
    }

    #[test]
    fn name_only_has_no_default_tag() {
        let r = Reference::parse_name_only("busybox").unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.to_string(), "docker.io/library/busybox");
    }
}
