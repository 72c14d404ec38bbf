//! Platforms (`linux/arm64`, `linux/arm/v7`) as containerd's
//! `platforms.Parse` normalizes them, for `--platform` and the automatic
//! `BUILDPLATFORM`/`TARGETPLATFORM` ARGs.

use std::fmt;

/// An OS/architecture/variant triple.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    /// `linux`, `windows`, `darwin`…
    pub os: String,
    /// `amd64`, `arm64`, `arm`, `386`, `riscv64`…
    pub architecture: String,
    /// `v7`, `v6`… (empty when none).
    pub variant: String,
}

/// Why a platform string is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    /// Not `os`, `arch`, `os/arch` or `os/arch/variant`.
    #[error("invalid platform: {0}")]
    Invalid(String),
    /// A single word that is neither a known OS nor a known architecture.
    #[error("{0}: unknown operating system or architecture: invalid argument")]
    Unknown(String),
}

const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "windows",
    "zos",
];
const KNOWN_ARCH: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "ppc64",
    "ppc64le",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

fn normalize_os(os: &str) -> String {
    match os {
        "macos" => "darwin".to_string(),
        o => o.to_string(),
    }
}

fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let (a, v) = match (arch, variant) {
        ("i386", _) => ("386", ""),
        ("x86_64" | "x86-64" | "amd64", "v1") => ("amd64", ""),
        ("x86_64" | "x86-64" | "amd64", v) => ("amd64", v),
        ("aarch64" | "arm64", "8" | "v8" | "v8.0") => ("arm64", ""),
        ("aarch64" | "arm64", v) => ("arm64", v),
        ("armhf", _) => ("arm", "v7"),
        ("armel", _) => ("arm", "v6"),
        ("arm", "" | "7") => ("arm", "v7"),
        ("arm", "5" | "6" | "8") => ("arm", ""),
        (a, v) => (a, v),
    };
    let v = match (a, variant) {
        ("arm", "5") => "v5".to_string(),
        ("arm", "6") => "v6".to_string(),
        ("arm", "8") => "v8".to_string(),
        _ => v.to_string(),
    };
    (a.to_string(), v)
}

/// The architecture strata was compiled for, in Go's naming.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

impl Platform {
    /// `linux/amd64`.
    pub fn linux_amd64() -> Platform {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: String::new(),
        }
    }

    /// Parse and normalize (`linux/aarch64` → `linux/arm64`, `linux/arm` →
    /// `linux/arm/v7`, `arm64` → `linux/arm64`).
    pub fn parse(s: &str) -> Result<Platform, PlatformError> {
        let lower = s.to_lowercase();
        let parts: Vec<&str> = lower.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(PlatformError::Invalid(s.to_string()));
        }
        let (os, arch, variant) = match parts.as_slice() {
            [one] if KNOWN_OS.contains(one) || *one == "macos" => {
                (normalize_os(one), host_arch().to_string(), String::new())
            }
            [one] => {
                let (a, _) = normalize_arch(one, "");
                if !KNOWN_ARCH.contains(&a.as_str()) {
                    return Err(PlatformError::Unknown(s.to_string()));
                }
                ("linux".to_string(), one.to_string(), String::new())
            }
            [os, arch] => (normalize_os(os), arch.to_string(), String::new()),
            [os, arch, variant] => (normalize_os(os), arch.to_string(), variant.to_string()),
            _ => return Err(PlatformError::Invalid(s.to_string())),
        };
        let (architecture, variant) = normalize_arch(&arch, &variant);
        Ok(Platform {
            os,
            architecture,
            variant,
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        Platform::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalization() {
        assert_eq!(p("linux/amd64"), "linux/amd64");
        assert_eq!(p("Linux/x86_64"), "linux/amd64");
        assert_eq!(p("linux/aarch64"), "linux/arm64");
        assert_eq!(p("linux/arm64/v8"), "linux/arm64");
        assert_eq!(p("linux/arm"), "linux/arm/v7");
        assert_eq!(p("linux/armhf"), "linux/arm/v7");
        assert_eq!(p("linux/arm/6"), "linux/arm/v6");
        assert_eq!(p("arm64"), "linux/arm64");
        assert_eq!(p("linux/riscv64"), "linux/riscv64");
        assert!(Platform::parse("a/b/c/d").is_err());
        assert!(Platform::parse("linux/").is_err());
        assert!(Platform::parse("nonsense").is_err());
    }
}
