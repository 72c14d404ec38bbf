//! Resuming a layer tar where the previous write of the same tree left
//! off. A COPY that re-runs because one of its 20,000 files changed makes
//! a tree that equals its previous run's up to that file; the tar of that
//! tree starts with the same bytes as the previous run's blob. Instead of
//! reading and hashing those bytes again, [`super::write_layer`] copies
//! them from the previous blob and restores the tar's SHA-256 state saved
//! at that point.
//!
//! # Checkpoints
//!
//! While a tar is written with [`ContentDigests`] (the sha256 of each
//! regular file's content, by tar path, as the COPY that made the tree
//! knows them), a [`Checkpoint`] is taken after the first entry that ends
//! at least [`INTERVAL`] bytes after the previous checkpoint: its tar
//! offset, the SHA-256 state of the tar up to there, and a *fingerprint*:
//! a running SHA-256 over every entry's header bytes and content digest.
//! Header and content determine every byte of the tar, so two trees with
//! the same fingerprint at the same offset have the same tar up to it.
//! A regular file with data but no known digest ends the fingerprint:
//! no checkpoint is taken after it.
//!
//! # Resuming ([`Previous`])
//!
//! With the previous blob and its checkpoints, the writer starts *dry*:
//! it walks and stats the new tree and encodes headers, but opens no file
//! and writes nothing, keeping the entries since the last matched
//! checkpoint pending. At each checkpoint position it compares
//! fingerprints with the previous run's checkpoint at the same offset. On
//! the first difference (or a file with no known digest, or the end of the
//! tree) it *diverges*: the previous blob's bytes up to the last matched
//! checkpoint are copied to the output, the tar hash is restored from that
//! checkpoint, and the pending entries are written for real; the rest is
//! written as usual. The result is byte-identical to a plain write: only
//! where the bytes come from differs. The store's blobs are content
//! addressed and verified when written, and the checkpoint file carries
//! its own checksum; a blob shorter than a checkpoint says is not used.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use sha2::{Digest as _, Sha256};

use crate::hint::{self, take};

/// Tar bytes between two checkpoints (at least; a checkpoint falls after
/// the entry that crosses this distance).
pub const INTERVAL: u64 = 4 << 20;

const MAGIC: &[u8; 8] = b"STRTCP01";

/// The sha256 of each regular file's content in the tree being written,
/// by tar path (`data/a.txt`: relative, no leading `/`).
pub type ContentDigests = std::collections::HashMap<Vec<u8>, [u8; 32]>;

/// A point of a layer tar after which it can be resumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Tar bytes before this point (a multiple of 512).
    pub offset: u64,
    /// SHA-256 over the headers and content digests of every entry before.
    pub fingerprint: [u8; 32],
    /// [`strata_oci::Digester::save`] of the tar's bytes before.
    pub tar_state: Vec<u8>,
}

/// A layer tar's checkpoints, by offset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoints {
    /// Ascending offsets.
    pub list: Vec<Checkpoint>,
}

impl Checkpoints {
    /// The binary form: magic, count, records, sealed with a checksum
    /// (a torn or altered file is never trusted; see [`crate::hint`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&(self.list.len() as u64).to_le_bytes());
        for c in &self.list {
            out.extend_from_slice(&c.offset.to_le_bytes());
            out.extend_from_slice(&c.fingerprint);
            out.extend_from_slice(&(c.tar_state.len() as u32).to_le_bytes());
            out.extend_from_slice(&c.tar_state);
        }
        hint::seal(out)
    }

    /// Parses [`Checkpoints::encode`]'s form; `None` for anything else.
    pub fn decode(b: &[u8]) -> Option<Checkpoints> {
        let mut r = hint::unseal(b)?.strip_prefix(MAGIC.as_slice())?;
        let n = u64::from_le_bytes(take(&mut r)?);
        let mut list = Vec::with_capacity(usize::try_from(n).ok()?.min(1 << 16));
        for _ in 0..n {
            let offset = u64::from_le_bytes(take(&mut r)?);
            let fingerprint = take(&mut r)?;
            let len = u32::from_le_bytes(take(&mut r)?) as usize;
            let (state, rest) = r.split_at_checked(len)?;
            r = rest;
            list.push(Checkpoint {
                offset,
                fingerprint,
                tar_state: state.to_vec(),
            });
        }
        let ascending = list.windows(2).all(|w| w[0].offset < w[1].offset);
        (r.is_empty() && ascending).then_some(Checkpoints { list })
    }

    /// Reads the checkpoints at `path`; `None` when missing or not valid.
    pub fn read(path: &Path) -> Option<Checkpoints> {
        Checkpoints::decode(&hint::read(path)?)
    }

    /// Writes them to `path` (a hint: no fsync, see [`crate::hint`]).
    pub fn write(&self, path: &Path) -> io::Result<()> {
        hint::write(path, &self.encode())
    }
}

/// The previous write of a tree: its uncompressed tar (the blob whose
/// digest is its diffID) and that tar's checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Previous {
    /// The previous tar.
    pub blob: PathBuf,
    /// Its checkpoints.
    pub checkpoints: Checkpoints,
}

/// An entry seen while dry, written when the writer diverges.
pub(super) enum Pending {
    /// Header bytes.
    Bytes(Vec<u8>),
    /// A regular file's data: `name` in directory `dir`, which had this
    /// (dev, ino, size) when it was statted.
    File {
        dir: Rc<OwnedFd>,
        name: CString,
        rel: Vec<u8>,
        id: (u64, u64, u64),
    },
}

/// The checkpoint bookkeeping of one [`super::write_layer`].
pub(super) struct Track {
    contents: Option<std::sync::Arc<ContentDigests>>,
    fingerprint: Sha256,
    /// False once an entry's content digest was unknown.
    fingerprinting: bool,
    /// Tar bytes so far (written or, while dry, that would have been).
    pub offset: u64,
    last: u64,
    /// The checkpoints of this write.
    pub made: Vec<Checkpoint>,
    /// While dry: the previous tar, its checkpoints, the index of the next
    /// one to compare, the last one matched and the entries since.
    prev: Option<(Option<File>, Checkpoints)>,
    next: usize,
    pub matched: Option<Checkpoint>,
    pub pending: Vec<Pending>,
}

impl Track {
    /// Tracking for a write with these digests; dry when `previous` can be
    /// used: its blob opens and holds every checkpoint's bytes, or
    /// `need_bytes` is false (the tar is only hashed, not kept).
    pub fn new(
        contents: Option<std::sync::Arc<ContentDigests>>,
        previous: Option<&Previous>,
        need_bytes: bool,
    ) -> Track {
        let prev = previous
            .filter(|_| contents.is_some())
            .filter(|p| !p.checkpoints.list.is_empty())
            .and_then(|p| {
                if !need_bytes {
                    return Some((None, p.checkpoints.clone()));
                }
                let f = File::open(&p.blob).ok()?;
                let len = f.metadata().ok()?.len();
                let last = p.checkpoints.list.last()?.offset;
                (len >= last).then(|| (Some(f), p.checkpoints.clone()))
            });
        Track {
            fingerprinting: contents.is_some(),
            contents,
            fingerprint: Sha256::new(),
            offset: 0,
            last: 0,
            made: Vec::new(),
            prev,
            next: 0,
            matched: None,
            pending: Vec::new(),
        }
    }

    /// Whether nothing is being written yet.
    pub fn is_dry(&self) -> bool {
        self.prev.is_some()
    }

    /// Notes a header of `len` bytes.
    pub fn header(&mut self, hdr: &[u8]) {
        self.offset += hdr.len() as u64;
        if self.fingerprinting {
            self.fingerprint.update(hdr);
        }
    }

    /// Notes `size` bytes of data (padded to a block) of the regular file
    /// at `rel`; `false` when its content digest is unknown while dry (the
    /// writer must diverge before its data).
    pub fn data(&mut self, rel: &[u8], size: u64) -> bool {
        self.offset += size.div_ceil(512) * 512;
        if size == 0 || !self.fingerprinting {
            return true;
        }
        match self.contents.as_ref().and_then(|c| c.get(rel)) {
            Some(d) => {
                self.fingerprint.update(d);
                true
            }
            None => {
                self.fingerprinting = false;
                !self.is_dry()
            }
        }
    }

    /// Whether a checkpoint falls here (after an entry).
    pub fn due(&self) -> bool {
        self.fingerprinting && self.offset >= self.last + INTERVAL
    }

    /// The fingerprint so far.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint.clone().finalize().into()
    }

    /// Records a checkpoint made here with the tar state `tar_state`.
    pub fn made(&mut self, tar_state: Vec<u8>) {
        self.last = self.offset;
        let fingerprint = self.fingerprint();
        self.made.push(Checkpoint {
            offset: self.offset,
            fingerprint,
            tar_state,
        });
    }

    /// While dry, at a checkpoint position: whether the previous tar has
    /// the same checkpoint here (then it is this write's too, and the
    /// pending entries are covered by it).
    pub fn matches(&mut self) -> bool {
        let Some((_, old)) = &self.prev else {
            return false;
        };
        while old
            .list
            .get(self.next)
            .is_some_and(|c| c.offset < self.offset)
        {
            self.next += 1;
        }
        let Some(c) = old.list.get(self.next) else {
            return false;
        };
        if c.offset != self.offset || c.fingerprint != self.fingerprint() {
            return false;
        }
        let c = c.clone();
        self.last = c.offset;
        self.made.push(c.clone());
        self.matched = Some(c);
        self.pending.clear();
        true
    }

    /// Stops being dry: `Some` while dry, with the previous tar to copy
    /// the matched prefix from (`None` inside: the bytes are not needed).
    pub fn take_previous(&mut self) -> Option<Option<File>> {
        self.prev.take().map(|(f, _)| f)
    }
}

/// Copies the first `n` bytes of `from` to `to`, a MiB at a time.
pub(super) fn copy_prefix(from: &File, n: u64, to: &mut impl Write) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < n {
        let want = usize::try_from((n - at).min(buf.len() as u64)).unwrap_or(buf.len());
        let got = match from.read_at(&mut buf[..want], at) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("previous layer tar ended after {at} of {n} bytes"),
                ));
            }
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..got])?;
        at += got as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_round_trip_and_corruption() {
        let c = Checkpoints {
            list: vec![
                Checkpoint {
                    offset: 512,
                    fingerprint: [1; 32],
                    tar_state: vec![9; 50],
                },
                Checkpoint {
                    offset: 8 << 20,
                    fingerprint: [2; 32],
                    tar_state: vec![],
                },
            ],
        };
        let b = c.encode();
        assert_eq!(Checkpoints::decode(&b), Some(c.clone()));
        for cut in [0, 8, b.len() / 2, b.len() - 1] {
            assert!(Checkpoints::decode(&b[..cut]).is_none(), "cut at {cut}");
        }
        let mut flipped = b.clone();
        flipped[17] ^= 1;
        assert!(Checkpoints::decode(&flipped).is_none());
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("cp");
        c.write(&p).unwrap();
        assert_eq!(Checkpoints::read(&p), Some(c));
    }
}
