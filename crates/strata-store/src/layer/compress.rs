//! Layer compression: [`Compressor`] (gzip via flate2/zlib-rs, multithreaded
//! zstd, or none) and [`decompress`].
//!
//! Output is deterministic: the gzip header carries no name and mtime 0, and
//! zstd always runs with at least one worker thread, whose output does not
//! depend on how many workers there are, so the same tar compresses to the
//! same blob on a laptop and on a 64-core builder.

use std::io::{self, BufReader, Read, Write};

use strata_oci::media::LayerCompression;

use super::LayerError;
use super::error::DecompressError;

/// How to compress a layer blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip at `level` 0..=9.
    Gzip {
        /// 0 (store) ..= 9 (best); 6 is the usual default.
        level: u32,
    },
    /// zstd at `level` (zstd's range, typically 1..=19; 3 is the default).
    Zstd {
        /// Compression level.
        level: i32,
    },
}

impl Compression {
    /// gzip at level 6, as docker and BuildKit default to.
    pub const GZIP: Compression = Compression::Gzip { level: 6 };
    /// zstd at level 3, zstd's default.
    pub const ZSTD: Compression = Compression::Zstd { level: 3 };

    /// The matching media-type classification.
    pub fn layer_compression(self) -> LayerCompression {
        match self {
            Compression::None => LayerCompression::None,
            Compression::Gzip { .. } => LayerCompression::Gzip,
            Compression::Zstd { .. } => LayerCompression::Zstd,
        }
    }
}

impl Default for Compression {
    fn default() -> Self {
        Compression::GZIP
    }
}

/// A writer that must be finished to flush its trailer (gzip footer, zstd
/// epilogue); dropping it without `finish` loses the end of the stream.
pub trait FinishWrite: Write {
    /// Writes the trailer and flushes.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

enum Inner<W: Write> {
    None(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

/// A compressing writer over `W`; [`Compressor::finish`] returns `W`.
pub struct Compressor<W: Write> {
    inner: Inner<W>,
}

/// Worker threads for zstd: output is identical for any count ≥ 1; each
/// worker holds a few window-sized buffers (~25 MB at level 3), hence the cap.
fn zstd_workers() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get().clamp(1, 4) as u32)
        .unwrap_or(1)
}

impl<W: Write> Compressor<W> {
    /// Starts a compressed stream over `w`.
    pub fn new(w: W, c: Compression) -> Result<Self, LayerError> {
        Self::with_workers(w, c, zstd_workers())
    }

    pub(crate) fn with_workers(w: W, c: Compression, workers: u32) -> Result<Self, LayerError> {
        let inner = match c {
            Compression::None => Inner::None(w),
            Compression::Gzip { level } => {
                if level > 9 {
                    return Err(LayerError::Option(format!(
                        "gzip level {level} is outside 0..=9"
                    )));
                }
                Inner::Gzip(
                    flate2::GzBuilder::new()
                        .mtime(0)
                        .write(w, flate2::Compression::new(level)),
                )
            }
            Compression::Zstd { level } => {
                let range = zstd::compression_level_range();
                if !range.contains(&level) {
                    return Err(LayerError::Option(format!(
                        "zstd level {level} is outside {}..={}",
                        range.start(),
                        range.end()
                    )));
                }
                let opt = |e: io::Error| LayerError::Option(format!("zstd: {e}"));
                let mut enc = zstd::stream::write::Encoder::new(w, level).map_err(opt)?;
                enc.include_checksum(true).map_err(opt)?;
                enc.multithread(workers.max(1)).map_err(opt)?;
                Inner::Zstd(enc)
            }
        };
        Ok(Compressor { inner })
    }

    /// Ends the stream (gzip footer, zstd epilogue) and returns the writer.
    pub fn finish(self) -> io::Result<W> {
        match self.inner {
            Inner::None(mut w) => {
                w.flush()?;
                Ok(w)
            }
            Inner::Gzip(g) => g.finish(),
            Inner::Zstd(z) => z.finish(),
        }
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::None(w) => w.write(buf),
            Inner::Gzip(g) => g.write(buf),
            Inner::Zstd(z) => z.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.inner {
            Inner::None(w) => w.write_all(buf),
            Inner::Gzip(g) => g.write_all(buf),
            Inner::Zstd(z) => z.write_all(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::None(w) => w.flush(),
            Inner::Gzip(g) => g.flush(),
            Inner::Zstd(z) => z.flush(),
        }
    }
}

impl<W: Write> FinishWrite for Compressor<W> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        Compressor::finish(*self).map(drop)
    }
}

/// A boxed [`Compressor`] for callers that do not need the writer back.
pub fn compressor<'a, W: Write + 'a>(
    w: W,
    c: Compression,
) -> Result<Box<dyn FinishWrite + 'a>, LayerError> {
    Ok(Box::new(Compressor::new(w, c)?))
}

/// Tags decoder errors (and a stream that ends before its trailer) so they
/// surface as [`LayerError::Compression`].
struct Decoder<R> {
    inner: R,
    algorithm: &'static str,
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let kind = e.kind();
            io::Error::new(
                kind,
                DecompressError {
                    algorithm: self.algorithm,
                    source: e,
                },
            )
        })
    }
}

/// A reader yielding the uncompressed tar of a blob compressed with `c`.
/// Multi-member gzip and multi-frame zstd streams are read to their end; a
/// truncated or corrupt stream is an error from `read`, never a short EOF.
pub fn decompress<'a>(
    r: impl Read + 'a,
    c: LayerCompression,
) -> Result<Box<dyn Read + 'a>, LayerError> {
    Ok(match c {
        LayerCompression::None => Box::new(r),
        LayerCompression::Gzip => Box::new(Decoder {
            inner: flate2::bufread::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, r)),
            algorithm: "gzip",
        }),
        LayerCompression::Zstd => {
            let d = zstd::stream::read::Decoder::new(r).map_err(|e| LayerError::Compression {
                algorithm: "zstd",
                after: None,
                reason: e.to_string(),
            })?;
            Box::new(Decoder {
                inner: d,
                algorithm: "zstd",
            })
        }
    })
}

/// Like [`decompress`], choosing the compression from the stream's first
/// bytes ([`LayerCompression::sniff`]); returns what it found.
pub fn decompress_sniffed<'a>(
    r: impl Read + 'a,
) -> Result<(LayerCompression, Box<dyn Read + 'a>), LayerError> {
    let (head, r) = peek(r, 4).map_err(|e| super::error::from_stream(e, None))?;
    let c = LayerCompression::sniff(&head);
    Ok((c, decompress(r, c)?))
}

/// A stream with its first bytes read ahead and put back in front.
pub type Replayed<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

/// Reads up to `len` first bytes of `r` (fewer at its end) and returns them
/// with a reader that yields the whole stream again, for sniffing formats.
pub fn peek<R: Read>(mut r: R, len: usize) -> io::Result<(Vec<u8>, Replayed<R>)> {
    let mut head = vec![0u8; len];
    let mut n = 0;
    while n < len {
        match r.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(n);
    Ok((head.clone(), io::Cursor::new(head).chain(r)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Vec<u8> {
        (0..3_000_000u32)
            .flat_map(|i| (i.wrapping_mul(2_654_435_761) >> 13).to_le_bytes())
            .collect()
    }

    fn compress(c: Compression, workers: u32, d: &[u8]) -> Vec<u8> {
        let mut w = Compressor::with_workers(Vec::new(), c, workers).unwrap();
        w.write_all(d).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn round_trips() {
        let d = data();
        for c in [Compression::None, Compression::GZIP, Compression::ZSTD] {
            let blob = compress(c, 2, &d);
            let (found, mut r) = decompress_sniffed(&blob[..]).unwrap();
            assert_eq!(found, c.layer_compression());
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert!(out == d, "{c:?}");
        }
    }

    #[test]
    fn zstd_output_does_not_depend_on_worker_count() {
        let d = data();
        let one = compress(Compression::ZSTD, 1, &d);
        assert_eq!(one, compress(Compression::ZSTD, 4, &d));
        assert_eq!(one, compress(Compression::ZSTD, 8, &d));
    }

    #[test]
    fn truncated_streams_fail() {
        let d = data();
        for c in [Compression::GZIP, Compression::ZSTD] {
            let blob = compress(c, 1, &d);
            let cut = &blob[..blob.len() / 2];
            let mut r = decompress(cut, c.layer_compression()).unwrap();
            let err = r.read_to_end(&mut Vec::new()).unwrap_err();
            let inner = err.get_ref().unwrap().downcast_ref::<DecompressError>();
            assert!(inner.is_some(), "{c:?}: {err}");
        }
    }

    /// Hands out one byte per read, like a slow pipe.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(out)) => {
                    *out = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn sniffing_survives_short_reads() {
        let d = data();
        for c in [Compression::None, Compression::GZIP, Compression::ZSTD] {
            let blob = compress(c, 1, &d[..100_000]);
            let (found, mut r) = decompress_sniffed(Trickle(&blob)).unwrap();
            assert_eq!(found, c.layer_compression());
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert!(out == d[..100_000], "{c:?}");
        }
        let (found, mut r) = decompress_sniffed(Trickle(b"ab")).unwrap();
        assert_eq!(found, LayerCompression::None);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"ab");
    }

    #[test]
    fn bad_levels_are_rejected() {
        assert!(Compressor::new(Vec::new(), Compression::Gzip { level: 10 }).is_err());
        assert!(Compressor::new(Vec::new(), Compression::Zstd { level: 1000 }).is_err());
    }
}
