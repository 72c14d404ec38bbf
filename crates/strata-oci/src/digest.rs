//! Content digests (`sha256:<64 hex>`) and streaming digesters.
//!
//! A [`Digest`] is always validated on construction: the algorithm is
//! `sha256` (the only one OCI registries must support and the only one strata
//! writes) and the encoded part is exactly 64 lowercase hex characters, so a
//! `Digest` can be used as a file name under `blobs/sha256/` without further
//! checks. [`Digester`] hashes bytes as they stream through a reader or
//! writer, so a layer's diffID and its compressed digest are computed in the
//! same pass that writes it.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// The error for a string that is not a valid `sha256:<hex>` digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest {input:?}: {reason}")]
pub struct DigestError {
    /// The rejected input.
    pub input: String,
    /// Why it was rejected.
    pub reason: &'static str,
}

/// A validated `sha256:<64 lowercase hex>` content digest.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    // The full string, "sha256:" + 64 hex; kept whole so `as_str` is free.
    full: String,
}

const PREFIX: &str = "sha256:";

impl Digest {
    /// Parses `sha256:<hex>`; any other algorithm or a malformed hex part is an error.
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        let err = |reason| DigestError {
            input: s.to_string(),
            reason,
        };
        let (algo, hex) = s.split_once(':').ok_or_else(|| err("missing ':'"))?;
        if algo != "sha256" {
            return Err(err("unsupported algorithm (only sha256)"));
        }
        Self::from_hex(hex).map_err(|_| err("expected 64 lowercase hex characters"))
    }

    /// Builds a digest from its 64-character lowercase hex part.
    pub fn from_hex(hex: &str) -> Result<Self, DigestError> {
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(DigestError {
                input: hex.to_string(),
                reason: "expected 64 lowercase hex characters",
            });
        }
        Ok(Digest {
            full: format!("{PREFIX}{hex}"),
        })
    }

    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        let mut d = Digester::new();
        d.update(data);
        d.finish()
    }

    /// `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// Always `sha256`.
    pub fn algorithm(&self) -> &'static str {
        "sha256"
    }

    /// The 64-character hex part.
    pub fn hex(&self) -> &str {
        &self.full[PREFIX.len()..]
    }

    /// The first 12 hex characters, as docker shows short IDs.
    pub fn short(&self) -> &str {
        &self.hex()[..12]
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.full)
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.full
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.full)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<&oci_spec::image::Digest> for Digest {
    type Error = DigestError;
    fn try_from(d: &oci_spec::image::Digest) -> Result<Self, Self::Error> {
        Digest::parse(d.as_ref())
    }
}

impl From<&Digest> for oci_spec::image::Digest {
    fn from(d: &Digest) -> Self {
        // A validated sha256 digest is always a valid oci-spec digest.
        oci_spec::image::Digest::from_str(d.as_str()).expect("sha256 digest is valid")
    }
}

/// Incremental SHA-256 that also counts bytes.
#[derive(Clone, Default)]
pub struct Digester {
    hasher: Sha256,
    len: u64,
}

impl Digester {
    /// A fresh digester.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
        self.len += data.len() as u64;
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when nothing has been fed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The hashing state (SHA-256's chaining state, block count and
    /// buffered bytes) and the byte count, to resume hashing later from
    /// this point ([`Digester::restore`]) without the bytes fed so far.
    pub fn save(&self) -> Vec<u8> {
        use sha2::digest::common::hazmat::SerializableState;
        let mut out = self.len.to_le_bytes().to_vec();
        out.extend_from_slice(&self.hasher.serialize());
        out
    }

    /// A digester in the state [`Digester::save`] returned; `None` for
    /// bytes that are not such a state.
    pub fn restore(saved: &[u8]) -> Option<Digester> {
        use sha2::digest::common::hazmat::{SerializableState, SerializedState};
        let (len, state) = saved.split_first_chunk::<8>()?;
        let state = SerializedState::<Sha256>::try_from(state).ok()?;
        Some(Digester {
            hasher: Sha256::deserialize(&state).ok()?,
            len: u64::from_le_bytes(*len),
        })
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        let out = self.hasher.finalize();
        Digest {
            full: format!("{PREFIX}{}", hex::encode(out)),
        }
    }
}

impl fmt::Debug for Digester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digester({} bytes)", self.len)
    }
}

/// A writer that hashes everything written through it to an inner writer.
pub struct DigestWriter<W> {
    inner: W,
    digester: Digester,
}

impl<W: Write> DigestWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        DigestWriter {
            inner,
            digester: Digester::new(),
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.digester.len()
    }

    /// True when nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.digester.is_empty()
    }

    /// The inner writer, by reference.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The inner writer, mutably (bytes written to it directly are not hashed).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The hashing state so far.
    pub fn digester(&self) -> &Digester {
        &self.digester
    }

    /// Replaces the hashing state: what follows is hashed as if the bytes
    /// `digester` saw had been written (they are not written to `inner`).
    pub fn set_digester(&mut self, digester: Digester) {
        self.digester = digester;
    }

    /// Returns the inner writer, the digest and the byte count.
    pub fn finish(self) -> (W, Digest, u64) {
        let len = self.digester.len();
        (self.inner, self.digester.finish(), len)
    }
}

impl<W: Write> Write for DigestWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.digester.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes everything read through it.
pub struct DigestReader<R> {
    inner: R,
    digester: Digester,
}

impl<R: Read> DigestReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        DigestReader {
            inner,
            digester: Digester::new(),
        }
    }

    /// Bytes read so far.
    pub fn len(&self) -> u64 {
        self.digester.len()
    }

    /// True when nothing has been read.
    pub fn is_empty(&self) -> bool {
        self.digester.is_empty()
    }

    /// The inner reader, mutably (bytes read from it directly are not hashed).
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Reads the rest of the stream (so the digest covers all of it) and
    /// returns the inner reader, the digest and the byte count.
    pub fn finish(mut self) -> io::Result<(R, Digest, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        let len = self.digester.len();
        Ok((self.inner, self.digester.finish(), len))
    }
}

impl<R: Read> Read for DigestReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digester.update(&buf[..n]);
        Ok(n)
    }
}

/// A reader that fails with `InvalidData` at end of stream unless exactly
/// `expected_size` bytes hashing to `expected` were read. Use it to make a
/// consumer (decompressor, extractor) see an error instead of a clean EOF
/// when the bytes are not the ones the descriptor promised.
pub struct VerifyingReader<R> {
    inner: DigestReader<R>,
    expected: Digest,
    expected_size: Option<u64>,
    verified: bool,
}

impl<R: Read> VerifyingReader<R> {
    /// Wraps `inner`; `expected_size` of `None` checks the digest only.
    pub fn new(inner: R, expected: Digest, expected_size: Option<u64>) -> Self {
        VerifyingReader {
            inner: DigestReader::new(inner),
            expected,
            expected_size,
            verified: false,
        }
    }

    /// Drains the rest of the stream and verifies it.
    pub fn finish(mut self) -> io::Result<u64> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(self.inner.len())
    }

    fn check(&mut self) -> io::Result<()> {
        let got = self.inner.digester.clone().finish();
        let len = self.inner.len();
        if let Some(size) = self.expected_size
            && size != len
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "size mismatch for {}: expected {size} bytes, got {len}",
                    self.expected
                ),
            ));
        }
        if got != self.expected {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("digest mismatch: expected {}, got {got}", self.expected),
            ));
        }
        self.verified = true;
        Ok(())
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if let Some(size) = self.expected_size
            && self.inner.len() > size
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "size mismatch for {}: more than the expected {size} bytes",
                    self.expected
                ),
            ));
        }
        if n == 0 && !self.verified {
            self.check()?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn digest_of_empty() {
        assert_eq!(Digest::of(b"").as_str(), EMPTY);
    }

    #[test]
    fn parse_rejects_bad_input() {
        assert!(Digest::parse(EMPTY).is_ok());
        for bad in [
            "",
            "sha256",
            "sha512:abcd",
            "sha256:ABCDEF",
            "sha256:e3b0",
            &EMPTY.to_uppercase(),
            &format!("{EMPTY}0"),
            "sha256:../../../../etc/passwd000000000000000000000000000000000000000",
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn short_and_hex() {
        let d = Digest::parse(EMPTY).unwrap();
        assert_eq!(d.short(), "e3b0c44298fc");
        assert_eq!(d.hex().len(), 64);
    }

    #[test]
    fn saved_state_resumes_the_same_digest() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        for cut in [0, 1, 63, 64, 512, 1000, 4999, 5000] {
            let mut d = Digester::new();
            d.update(&data[..cut]);
            let saved = d.save();
            let mut r = Digester::restore(&saved).unwrap();
            assert_eq!(r.len(), cut as u64);
            r.update(&data[cut..]);
            assert_eq!(r.finish(), Digest::of(&data), "cut at {cut}");
        }
        assert!(Digester::restore(b"short").is_none());
        let mut w = DigestWriter::new(Vec::new());
        let mut head = Digester::new();
        head.update(&data[..512]);
        w.set_digester(head);
        w.write_all(&data[512..]).unwrap();
        let (buf, dw, n) = w.finish();
        assert_eq!((buf.len(), n), (data.len() - 512, data.len() as u64));
        assert_eq!(dw, Digest::of(&data));
    }

    #[test]
    fn writer_and_reader_agree() {
        let data = b"hello layers";
        let mut w = DigestWriter::new(Vec::new());
        w.write_all(data).unwrap();
        let (buf, dw, n) = w.finish();
        assert_eq!(buf, data);
        assert_eq!(n, data.len() as u64);
        let r = DigestReader::new(&data[..]);
        let (_, dr, _) = r.finish().unwrap();
        assert_eq!(dw, dr);
        assert_eq!(dw, Digest::of(data));
    }

    #[test]
    fn verifying_reader_fails_on_mismatch() {
        let data = b"abc";
        let mut ok = VerifyingReader::new(&data[..], Digest::of(data), Some(3));
        let mut out = Vec::new();
        ok.read_to_end(&mut out).unwrap();
        let mut bad = VerifyingReader::new(&data[..], Digest::of(b"abd"), None);
        let err = bad.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("digest mismatch"), "{err}");
        let mut short = VerifyingReader::new(&data[..], Digest::of(data), Some(4));
        assert!(short.read_to_end(&mut Vec::new()).is_err());
        let mut long = VerifyingReader::new(&data[..], Digest::of(data), Some(2));
        assert!(long.read_to_end(&mut Vec::new()).is_err());
    }
}
