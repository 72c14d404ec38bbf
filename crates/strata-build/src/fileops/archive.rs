//! Archives for ADD (and the `build -` context): compression sniffed by
//! magic bytes like docker's `DetectCompression` (strata-oci's
//! [`Compression::sniff`]), "is this a tar" like docker's `isArchivePath` (the first
//! header block parses and its checksum is right), and extraction through
//! `strata_store::layer::apply_layer`, which confines every entry to the
//! target directory.

use std::io::{self, Read};
use std::path::Path;

use strata_oci::media::LayerCompression;

pub use strata_oci::media::Compression;

/// Wraps `r` in the decompressor its first bytes call for.
pub fn decompress_any<'a>(r: impl Read + 'a) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let (head, joined) = strata_store::layer::peek(r, Compression::MAGIC_LEN)?;
    let c = Compression::sniff(&head);
    let out: Box<dyn Read + 'a> = match c {
        Compression::Plain => Box::new(joined),
        Compression::Gzip => strata_store::layer::decompress(joined, LayerCompression::Gzip)
            .map_err(io::Error::other)?,
        Compression::Zstd => strata_store::layer::decompress(joined, LayerCompression::Zstd)
            .map_err(io::Error::other)?,
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(joined)),
        Compression::Xz => Box::new(lzma_rust2::XzReader::new(joined, true)),
    };
    Ok((c, out))
}

/// Whether the first 512-byte block of `r` (decompressed) is a tar header
/// with a valid checksum.
pub fn is_tar_stream(r: impl Read) -> bool {
    let Ok((_, mut d)) = decompress_any(r) else {
        return false;
    };
    let mut block = [0u8; 512];
    let mut n = 0;
    while n < block.len() {
        match d.read(&mut block[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    n == 512 && header_checksum_ok(&block)
}

/// Whether the file at `path` is a (compressed) tar archive.
pub fn is_archive(path: &Path) -> bool {
    match std::fs::File::open(path) {
        Ok(f) => is_tar_stream(f),
        Err(_) => false,
    }
}

fn header_checksum_ok(b: &[u8; 512]) -> bool {
    if b.iter().all(|x| *x == 0) {
        return false;
    }
    let field = &b[148..156];
    let text: String = field
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as char)
        .collect();
    let Ok(want) = u64::from_str_radix(text.trim(), 8) else {
        return false;
    };
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &x) in b.iter().enumerate() {
        let v = if (148..156).contains(&i) { b' ' } else { x };
        unsigned += u64::from(v);
        signed += i64::from(v as i8);
    }
    want == unsigned || (signed >= 0 && want == signed as u64)
}

/// Extracts the archive read from `r` into the existing directory
/// `target`: entries keep the tar's owner (we run as root), mode and
/// mtime; nothing can land outside `target`.
pub(crate) fn extract(r: impl Read, target: &Path) -> Result<u64, String> {
    let (_, stream) = decompress_any(r).map_err(|e| e.to_string())?;
    let mut opts = strata_store::layer::ApplyOptions::new(strata_store::layer::ApplyMode::Merge);
    opts.same_owner = Some(true);
    let applied =
        strata_store::layer::apply_layer(stream, target, &opts).map_err(|e| e.to_string())?;
    Ok(applied.entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_and_rejects_non_tars() {
        assert!(!is_tar_stream(&b"just some text"[..]));
        assert!(!is_tar_stream(&[0u8; 1024][..]));
        let mut block = [0u8; 512];
        block[..5].copy_from_slice(b"hello");
        block[156] = b'0';
        let sum: u64 = block
            .iter()
            .enumerate()
            .map(|(i, x)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(*x)
                }
            })
            .sum();
        let s = format!("{sum:06o}\0 ");
        block[148..156].copy_from_slice(s.as_bytes());
        assert!(is_tar_stream(&block[..]));
    }
}
