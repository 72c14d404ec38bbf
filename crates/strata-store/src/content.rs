//! The content store: immutable blobs addressed by digest.
//!
//! Terms (containerd's): a blob is *ingested* through a [`BlobWriter`] that
//! streams to a file in this process's scratch dir while hashing and
//! counting; [`BlobWriter::commit`] checks digest and size against what was
//! expected, fsyncs, and renames to `blobs/sha256/<hex>`. A blob whose bytes
//! do not match its digest therefore never appears under `blobs/`. Readers
//! ([`ContentStore::read`]) verify small blobs (manifests, configs) again on
//! every read; large layer blobs are verified by their consumer as they
//! stream ([`strata_oci::VerifyingReader`]).
//!
//! Blobs are shared by every image that references them; which blobs are
//! alive is decided by the metadata DB, never by the content store.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_oci::{Digest, Digester};

use crate::error::{IoContext, Result, StoreError};
use crate::layout::{Scratch, sync_dir};

/// Small blobs (manifests, configs) are read whole; bigger ones are refused
/// by [`ContentStore::read`] so a hostile descriptor cannot exhaust memory.
pub const MAX_INLINE_BLOB: u64 = 16 << 20;

/// The blob store of one root.
#[derive(Debug, Clone)]
pub struct ContentStore {
    dir: PathBuf,
    scratch: Arc<Scratch>,
}

impl ContentStore {
    /// The content store in `dir` (`blobs/sha256`), writing through `scratch`.
    pub fn new(dir: PathBuf, scratch: Arc<Scratch>) -> Self {
        ContentStore { dir, scratch }
    }

    /// Where the blob lives (whether or not it exists).
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.hex())
    }

    /// True when the blob is present.
    pub fn exists(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Size of a present blob.
    pub fn size(&self, digest: &Digest) -> Result<u64> {
        match fs::metadata(self.path(digest)) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::BlobNotFound(digest.clone()))
            }
            Err(e) => Err(e).ctx("stat blob", self.path(digest)),
        }
    }

    /// Opens a blob for streaming (the caller verifies as it reads).
    pub fn open(&self, digest: &Digest) -> Result<File> {
        let p = self.path(digest);
        match File::open(&p) {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::BlobNotFound(digest.clone()))
            }
            Err(e) => Err(e).ctx("open blob", p),
        }
    }

    /// Reads a small blob whole and verifies its digest.
    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>> {
        let mut f = self.open(digest)?;
        let len = f.metadata().ctx("stat blob", self.path(digest))?.len();
        if len > MAX_INLINE_BLOB {
            return Err(StoreError::Invalid(format!(
                "blob {digest} is {len} bytes, too large to be a manifest or config"
            )));
        }
        let mut buf = Vec::with_capacity(len as usize);
        f.read_to_end(&mut buf)
            .ctx("read blob", self.path(digest))?;
        let got = Digest::of(&buf);
        if &got != digest {
            return Err(StoreError::DigestMismatch {
                what: "stored blob",
                expected: digest.clone(),
                detail: format!("content hashes to {got} (the store is corrupt)"),
            });
        }
        Ok(buf)
    }

    /// Starts ingesting a blob. With `expected`, commit fails unless the
    /// bytes hash to that digest (and have that size, when given).
    pub fn writer(&self, expected: Option<(Digest, Option<u64>)>) -> Result<BlobWriter> {
        let path = self.scratch.unique_path("blob");
        let file = File::create(&path).ctx("create", &path)?;
        Ok(BlobWriter {
            file: io::BufWriter::with_capacity(256 << 10, file),
            path,
            digester: Digester::new(),
            hashing: true,
            written: 0,
            expected,
            dir: self.dir.clone(),
        })
    }

    /// Stores `data`, returning its digest.
    pub fn put(&self, data: &[u8]) -> Result<Digest> {
        let digest = Digest::of(data);
        if self.exists(&digest) {
            return Ok(digest);
        }
        let mut w = self.writer(Some((digest.clone(), Some(data.len() as u64))))?;
        w.write_all(data).ctx("write blob", &w.path)?;
        w.commit()?;
        Ok(digest)
    }

    /// Stores `data`, which must hash to `expected`.
    pub fn put_expected(&self, data: &[u8], expected: &Digest) -> Result<()> {
        let got = Digest::of(data);
        if &got != expected {
            return Err(StoreError::DigestMismatch {
                what: "blob",
                expected: expected.clone(),
                detail: format!("content hashes to {got}"),
            });
        }
        self.put(data).map(|_| ())
    }

    /// Removes a blob (garbage collection only).
    pub fn delete(&self, digest: &Digest) -> Result<()> {
        match fs::remove_file(self.path(digest)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).ctx("remove blob", self.path(digest)),
        }
    }

    /// Every blob digest present on disk (for garbage collection).
    pub fn list(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.dir)
            .ctx("read directory", &self.dir)?
            .flatten()
        {
            if let Some(d) = e
                .file_name()
                .to_str()
                .and_then(|h| Digest::from_hex(h).ok())
            {
                out.push(d);
            }
        }
        Ok(out)
    }
}

/// An in-flight blob: bytes go to a scratch file while being hashed.
#[derive(Debug)]
pub struct BlobWriter {
    file: io::BufWriter<File>,
    path: PathBuf,
    digester: Digester,
    /// False when the caller hashes the same bytes itself (see
    /// [`BlobWriter::hashed_by_caller`]).
    hashing: bool,
    written: u64,
    expected: Option<(Digest, Option<u64>)>,
    dir: PathBuf,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Stops hashing: the caller hashes exactly the bytes written (an
    /// uncompressed layer, whose diffID is its blob digest) and must finish
    /// with [`BlobWriter::finish_hashed`]. Only before the first write.
    pub(crate) fn hashed_by_caller(&mut self) {
        if self.written == 0 {
            self.hashing = false;
        }
    }

    /// Like [`BlobWriter::finish`] for a writer that did not hash: `digest`
    /// is the caller's sha256 of the same bytes, `size` how many it hashed
    /// (which must be what was written).
    pub(crate) fn finish_hashed(self, digest: Digest, size: u64) -> Result<FinishedBlob> {
        if self.hashing || size != self.written {
            let written = self.written;
            self.abort();
            return Err(StoreError::Invalid(format!(
                "blob hashed outside its writer: {size} bytes hashed, {written} written"
            )));
        }
        self.finish_with(Some(digest))
    }

    /// Verifies, fsyncs and renames the blob into the store. Returns its
    /// digest and size. On mismatch the scratch file is removed and nothing
    /// is stored.
    pub fn commit(self) -> Result<(Digest, u64)> {
        self.finish()?.publish()
    }

    /// Verifies and fsyncs the blob but leaves it in scratch space, so a
    /// caller can check everything else before anything becomes visible.
    pub fn finish(self) -> Result<FinishedBlob> {
        self.finish_with(None)
    }

    fn finish_with(self, known: Option<Digest>) -> Result<FinishedBlob> {
        let BlobWriter {
            file,
            path,
            digester,
            hashing,
            written: size,
            expected,
            dir,
        } = self;
        let digest = match (known, hashing) {
            (None, true) => digester.finish(),
            (Some(d), false) => d,
            _ => {
                let _ = fs::remove_file(&path);
                return Err(StoreError::Invalid(
                    "blob finished without a digest of its bytes".into(),
                ));
            }
        };
        let cleanup = |e| {
            let _ = fs::remove_file(&path);
            e
        };
        if let Some((want, want_size)) = &expected {
            if let Some(s) = want_size
                && *s != size
            {
                return Err(cleanup(StoreError::DigestMismatch {
                    what: "blob",
                    expected: want.clone(),
                    detail: format!("expected {s} bytes, got {size}"),
                }));
            }
            if want != &digest {
                return Err(cleanup(StoreError::DigestMismatch {
                    what: "blob",
                    expected: want.clone(),
                    detail: format!("content hashes to {digest}"),
                }));
            }
        }
        let file = file
            .into_inner()
            .map_err(|e| e.into_error())
            .ctx("write blob", &path)
            .map_err(cleanup)?;
        file.sync_all().ctx("sync blob", &path).map_err(cleanup)?;
        Ok(FinishedBlob {
            path,
            digest,
            size,
            dir,
        })
    }

    /// Abandons the blob.
    pub fn abort(self) {
        let _ = fs::remove_file(&self.path);
    }

    /// The scratch path (for error messages).
    pub fn scratch_path(&self) -> &Path {
        &self.path
    }
}

/// A verified, durable blob still in scratch space.
#[derive(Debug)]
pub struct FinishedBlob {
    path: PathBuf,
    digest: Digest,
    size: u64,
    dir: PathBuf,
}

impl FinishedBlob {
    /// Its digest.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// Its size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Renames it into `blobs/` (a no-op when the blob is already there).
    pub fn publish(self) -> Result<(Digest, u64)> {
        let dest = self.dir.join(self.digest.hex());
        if dest.exists() {
            // Another process stored the same bytes first.
            let _ = fs::remove_file(&self.path);
        } else {
            fs::rename(&self.path, &dest)
                .ctx("rename blob into place", &dest)
                .inspect_err(|_| {
                    let _ = fs::remove_file(&self.path);
                })?;
            sync_dir(&self.dir)?;
        }
        Ok((self.digest, self.size))
    }

    /// Drops it.
    pub fn discard(self) {
        let _ = fs::remove_file(&self.path);
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        if self.hashing {
            self.digester.update(&buf[..n]);
        }
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, ContentStore) {
        let t = tempfile::tempdir().unwrap();
        let blobs = t.path().join("blobs");
        fs::create_dir_all(&blobs).unwrap();
        let scratch = Arc::new(Scratch::create(t.path()).unwrap());
        (t, ContentStore::new(blobs, scratch))
    }

    #[test]
    fn put_read_round_trip() {
        let (_t, cs) = store();
        let d = cs.put(b"hello").unwrap();
        assert!(cs.exists(&d));
        assert_eq!(cs.read(&d).unwrap(), b"hello");
        assert_eq!(cs.size(&d).unwrap(), 5);
        assert_eq!(cs.list().unwrap(), vec![d]);
    }

    #[test]
    fn mismatch_is_never_stored() {
        let (_t, cs) = store();
        let want = Digest::of(b"good");
        let mut w = cs.writer(Some((want.clone(), None))).unwrap();
        w.write_all(b"evil").unwrap();
        let err = w.commit().unwrap_err();
        assert!(err.to_string().contains(want.as_str()), "{err}");
        assert!(!cs.exists(&want));
        assert!(cs.list().unwrap().is_empty());
        let mut w = cs.writer(Some((want.clone(), Some(3)))).unwrap();
        w.write_all(b"good").unwrap();
        assert!(w.commit().is_err());
        assert!(cs.put_expected(b"evil", &want).is_err());
    }

    #[test]
    fn corrupt_blob_on_disk_is_detected() {
        let (_t, cs) = store();
        let d = cs.put(b"data").unwrap();
        fs::write(cs.path(&d), b"tampered").unwrap();
        assert!(matches!(
            cs.read(&d),
            Err(StoreError::DigestMismatch { .. })
        ));
        assert!(matches!(
            cs.read(&Digest::of(b"absent")),
            Err(StoreError::BlobNotFound(_))
        ));
    }
}
