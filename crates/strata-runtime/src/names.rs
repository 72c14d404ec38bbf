//! Container IDs and names: 64-hex random IDs, docker's name rule
//! (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`, an optional leading `/`), and random
//! `adjective_surname` names for containers created without `--name`.

use std::io::Read;

use crate::error::{Result, RuntimeError};

/// A fresh random 64-hex container ID (never all digits, as docker's
/// `stringid.GenerateRandomID`: an all-numeric short ID would read as a
/// number).
pub fn new_id() -> String {
    loop {
        let id = hex::encode(random_bytes::<32>());
        if !id[..12].bytes().all(|b| b.is_ascii_digit()) {
            return id;
        }
    }
}

/// The 12-character short form of an ID.
pub fn short_id(id: &str) -> &str {
    &id[..12.min(id.len())]
}

/// Checks a user-given name; returns it without docker's leading `/`.
pub fn validate_name(name: &str) -> Result<String> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let mut chars = bare.chars();
    let ok = bare.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(bare.to_string())
    } else {
        Err(RuntimeError::InvalidName(name.to_string()))
    }
}

const ADJECTIVES: &[&str] = &[
    "agile", "amber", "ample", "ardent", "azure", "bold", "brave", "breezy", "bright", "brisk",
    "calm", "candid", "clever", "cosmic", "crisp", "curious", "daring", "deft", "eager", "earnest",
    "elated", "epic", "fearless", "fervent", "festive", "fluent", "frosty", "gallant", "gentle",
    "gleaming", "glowing", "graceful", "hardy", "hearty", "honest", "humble", "jolly", "jovial",
    "keen", "kind", "lively", "lucid", "lucky", "lunar", "mellow", "merry", "mighty", "modest",
    "nimble", "noble", "patient", "peppy", "placid", "plucky", "polar", "proud", "quiet", "quirky",
    "radiant", "rapid", "rustic", "serene", "sharp", "shiny", "silent", "sincere", "snappy",
    "solar", "spry", "stoic", "sturdy", "sunny", "swift", "tender", "thrifty", "tidy", "tranquil",
    "upbeat", "valiant", "vivid", "warm", "wise", "witty", "zealous", "zesty",
];

const SURNAMES: &[&str] = &[
    "agnesi",
    "archimedes",
    "babbage",
    "bartik",
    "bell",
    "bohr",
    "boole",
    "cannon",
    "carson",
    "cerf",
    "curie",
    "darwin",
    "dijkstra",
    "einstein",
    "euclid",
    "euler",
    "faraday",
    "fermat",
    "fermi",
    "feynman",
    "franklin",
    "galileo",
    "gauss",
    "goldberg",
    "goodall",
    "hamilton",
    "hawking",
    "heisenberg",
    "hodgkin",
    "hopper",
    "hypatia",
    "jackson",
    "johnson",
    "kepler",
    "knuth",
    "kowalevski",
    "lamarr",
    "leakey",
    "liskov",
    "lovelace",
    "maxwell",
    "mayer",
    "meitner",
    "mendel",
    "mirzakhani",
    "morse",
    "newton",
    "noether",
    "pascal",
    "pasteur",
    "perlman",
    "planck",
    "poincare",
    "ritchie",
    "rubin",
    "sammet",
    "shannon",
    "shockley",
    "sinoussi",
    "somerville",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "villani",
    "volta",
    "wescoff",
    "wilson",
    "wing",
    "wozniak",
    "wright",
    "yalow",
    "yonath",
];

/// A random `adjective_surname` name; `attempt` > 0 appends a digit, as
/// docker does when its first picks are taken.
pub fn random_name(attempt: u32) -> String {
    let r = random_bytes::<4>();
    let a = u16::from_le_bytes([r[0], r[1]]) as usize % ADJECTIVES.len();
    let s = u16::from_le_bytes([r[2], r[3]]) as usize % SURNAMES.len();
    let name = format!("{}_{}", ADJECTIVES[a], SURNAMES[s]);
    if attempt == 0 {
        name
    } else {
        format!("{name}{}", random_bytes::<1>()[0] % 10)
    }
}

/// `N` bytes from the kernel's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // SAFETY: getrandom writes at most buf.len() bytes into buf.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), N, 0) };
    if n != N as isize {
        // getrandom cannot fail for small requests once the pool is
        // initialised; fall back to the device just in case.
        if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
            let _ = f.read_exact(&mut buf);
        }
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_and_distinct() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(short_id(&a).len(), 12);
    }

    #[test]
    fn names_follow_dockers_rule() {
        assert_eq!(validate_name("web-ping").unwrap(), "web-ping");
        assert_eq!(validate_name("/ch03lab").unwrap(), "ch03lab");
        assert_eq!(validate_name("a.b_c-1").unwrap(), "a.b_c-1");
        for bad in ["", "a", "-x", "_x", ".x", "a b", "x/y", "ü1", "/"] {
            let e = validate_name(bad).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "Invalid container name ({bad}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )
            );
        }
    }

    #[test]
    fn random_names_are_valid() {
        for i in 0..50 {
            let n = random_name(i % 2);
            validate_name(&n).unwrap();
            assert!(n.contains('_'));
        }
    }
}
