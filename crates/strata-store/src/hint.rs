//! Small binary files kept as *hints* beside the store's records (a COPY
//! layer's file map, a layer tar's checkpoints, a context's stat index):
//! sealed with a trailing SHA-256 (or CRC-32, [`seal_crc`], for the large
//! one read on every build) so that a torn or damaged file is never trusted, written by
//! rename without fsync (losing one only costs speed), and read with the
//! bounds-checked [`take`] so that no input can panic a reader.

use std::io::{self, Read, Write};
use std::path::Path;

use sha2::{Digest as _, Sha256};

/// `body` followed by its SHA-256.
pub fn seal(mut body: Vec<u8>) -> Vec<u8> {
    let sum: [u8; 32] = Sha256::digest(&body).into();
    body.extend_from_slice(&sum);
    body
}

/// The body of [`seal`]'s output; `None` when the checksum does not match.
pub fn unseal(b: &[u8]) -> Option<&[u8]> {
    let (body, sum) = b.split_at_checked(b.len().checked_sub(32)?)?;
    (<[u8; 32]>::from(Sha256::digest(body)) == *sum).then_some(body)
}

/// `body` followed by its CRC-32: [`seal`] for a large hint read on every
/// build (the context stat index, a few MB), where SHA-256 cost a
/// millisecond each time. A torn write or bit rot breaks either; neither
/// resists a deliberate edit (whoever can write the file can recompute
/// both).
pub fn seal_crc(mut body: Vec<u8>) -> Vec<u8> {
    let sum = crc32fast::hash(&body);
    body.extend_from_slice(&sum.to_le_bytes());
    body
}

/// The body of [`seal_crc`]'s output; `None` when the checksum does not
/// match.
pub fn unseal_crc(b: &[u8]) -> Option<&[u8]> {
    let (body, sum) = b.split_at_checked(b.len().checked_sub(4)?)?;
    (crc32fast::hash(body).to_le_bytes() == *sum).then_some(body)
}

/// The first `N` bytes of `r`, which moves past them; `None` when short.
pub fn take<const N: usize>(r: &mut &[u8]) -> Option<[u8; N]> {
    let (a, rest) = r.split_first_chunk::<N>()?;
    *r = rest;
    Some(*a)
}

/// The bytes of the file at `path`, if it can be read.
pub fn read(path: &Path) -> Option<Vec<u8>> {
    let mut b = Vec::new();
    std::fs::File::open(path).ok()?.read_to_end(&mut b).ok()?;
    Some(b)
}

/// Writes `bytes` to `path` through a temporary file renamed over it.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let r = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| std::fs::rename(&tmp, path));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_bytes_round_trip_and_refuse_damage() {
        let s = seal(b"hello".to_vec());
        assert_eq!(unseal(&s), Some(&b"hello"[..]));
        assert_eq!(unseal(&s[..s.len() - 1]), None);
        assert_eq!(unseal(b"short"), None);
        let mut bad = s.clone();
        bad[0] ^= 1;
        assert_eq!(unseal(&bad), None);
        let c = seal_crc(b"hello".to_vec());
        assert_eq!(c.len(), 9);
        assert_eq!(unseal_crc(&c), Some(&b"hello"[..]));
        assert_eq!(unseal_crc(&c[..c.len() - 1]), None);
        assert_eq!(unseal_crc(b"abc"), None);
        let mut bad = c.clone();
        bad[4] ^= 0x80;
        assert_eq!(unseal_crc(&bad), None);
        let mut r: &[u8] = b"abc";
        assert_eq!(take::<2>(&mut r), Some(*b"ab"));
        assert_eq!(take::<2>(&mut r), None);
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("h");
        write(&p, &s).unwrap();
        assert_eq!(read(&p), Some(s));
        assert_eq!(read(&t.path().join("none")), None);
    }
}
