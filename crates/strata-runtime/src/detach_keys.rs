//! docker's detach keys: a key sequence typed into an attached client's
//! stdin (default Ctrl-P Ctrl-Q) that leaves the container running and
//! ends the attachment (`attach`, `run -i`, `start -ai`).
//!
//! [`DetachKeys::parse`] reads `--detach-keys` as docker does: a comma
//! separated list of single characters and `ctrl-<x>` for `x` in `a`–`z`,
//! `@`, `[`, `\`, `]`, `^`, `_`. [`Matcher`] filters stdin: bytes that may
//! start the sequence are held back; when the sequence breaks off they are
//! passed on, so a lone Ctrl-P still reaches the container.

use crate::error::{Result, RuntimeError};

/// The default sequence, Ctrl-P Ctrl-Q.
pub const DEFAULT: &str = "ctrl-p,ctrl-q";

/// A detach key sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachKeys(Vec<u8>);

impl Default for DetachKeys {
    fn default() -> Self {
        DetachKeys(vec![0x10, 0x11])
    }
}

impl DetachKeys {
    /// Parses `--detach-keys` (docker's message on a bad one).
    pub fn parse(s: &str) -> Result<DetachKeys> {
        let bad = || RuntimeError::Invalid(format!("Invalid detach keys ({s}) provided"));
        let mut out = Vec::new();
        for key in s.split(',') {
            let key = key.trim();
            if key.len() == 1 {
                out.push(key.as_bytes()[0]);
                continue;
            }
            let lower = key.to_ascii_lowercase();
            let Some(c) = lower.strip_prefix("ctrl-") else {
                return Err(bad());
            };
            let b = match c.as_bytes() {
                [b @ b'a'..=b'z'] => b - b'a' + 1,
                [b'@'] => 0,
                [b @ (b'[' | b'\\' | b']' | b'^' | b'_')] => b - b'[' + 27,
                _ => return Err(bad()),
            };
            out.push(b);
        }
        if out.is_empty() {
            return Err(bad());
        }
        Ok(DetachKeys(out))
    }

    /// The bytes of the sequence.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Watches a stdin stream for the detach sequence.
#[derive(Debug, Clone)]
pub struct Matcher {
    keys: DetachKeys,
    matched: usize,
}

/// What a chunk of stdin amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Bytes for the container (possibly empty: all held back).
    Pass(Vec<u8>),
    /// The sequence was typed: these bytes before it go to the container,
    /// then the client detaches.
    Detach(Vec<u8>),
}

impl Matcher {
    /// A matcher for `keys`.
    pub fn new(keys: DetachKeys) -> Matcher {
        Matcher { keys, matched: 0 }
    }

    /// Filters one chunk of stdin.
    pub fn feed(&mut self, data: &[u8]) -> Input {
        let keys = self.keys.bytes();
        let mut out = Vec::with_capacity(data.len());
        for &b in data {
            if b == keys[self.matched] {
                self.matched += 1;
                if self.matched == keys.len() {
                    self.matched = 0;
                    return Input::Detach(out);
                }
                continue;
            }
            // The sequence broke off: what was held goes through, and this
            // byte may begin it anew.
            out.extend_from_slice(&keys[..self.matched]);
            self.matched = 0;
            if b == keys[0] {
                self.matched = 1;
                if keys.len() == 1 {
                    self.matched = 0;
                    return Input::Detach(out);
                }
            } else {
                out.push(b);
            }
        }
        Input::Pass(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_docker() {
        assert_eq!(DetachKeys::parse(DEFAULT).unwrap(), DetachKeys::default());
        assert_eq!(DetachKeys::parse("ctrl-a,x").unwrap().bytes(), [1, b'x']);
        assert_eq!(DetachKeys::parse("ctrl-@,ctrl-_").unwrap().bytes(), [0, 31]);
        assert_eq!(
            DetachKeys::parse("foo").unwrap_err().to_string(),
            "Invalid detach keys (foo) provided"
        );
        assert!(DetachKeys::parse("ctrl-5").is_err());
        assert!(DetachKeys::parse("").is_err());
    }

    #[test]
    fn detaches_on_the_sequence_only() {
        let mut m = Matcher::new(DetachKeys::default());
        assert_eq!(m.feed(b"ls\r"), Input::Pass(b"ls\r".to_vec()));
        assert_eq!(m.feed(b"a\x10"), Input::Pass(b"a".to_vec()));
        assert_eq!(m.feed(b"b"), Input::Pass(b"\x10b".to_vec()));
        assert_eq!(m.feed(b"\x10\x10"), Input::Pass(b"\x10".to_vec()));
        assert_eq!(m.feed(b"\x11"), Input::Detach(Vec::new()));
        assert_eq!(m.feed(b"x\x10\x11y"), Input::Detach(b"x".to_vec()));
    }
}
