//! Reading a layer tar entry by entry, shared by [`super::apply_layer`]
//! (which writes each entry) and [`super::scan_layer`] (which only checks
//! and measures it): the stream loop that hashes every byte and notices
//! truncation ([`drive`]), and the part of an entry's meaning that needs no
//! filesystem — its cleaned name, metadata and whether it is a whiteout
//! ([`classify`]).

use std::ffi::CString;
use std::io::{self, BufReader, Read};
use std::rc::Rc;

use strata_oci::{Digest, DigestReader};
use tar::EntryType;

use super::LayerError;
use super::error::from_stream;
use super::meta::Meta;
use super::path::{self, Whiteout, show, split_parent};
use super::tap::{Tap, TapState};
use super::tarfmt::Extensions;

/// What a pass over a layer does with each entry.
pub(super) trait Visit {
    /// Handles one entry (its data may be read, or left for the driver to
    /// skip).
    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        ext: &Extensions,
    ) -> Result<(), LayerError>;
    /// The last entry's name, for error messages.
    fn last(&self) -> Option<String>;
    /// How many data bytes of the current entry `entry` read.
    fn data_read(&self) -> u64;
}

/// The whole stream as [`drive`] read it.
pub(super) struct Driven {
    pub diff_id: Digest,
    pub tar_size: u64,
    /// Where the last entry's data ended (rounded to a block).
    pub end_of_entries: u64,
}

/// Reads `tar` to its real end, handing each entry to `v`; hashes every
/// byte. A cancelled command (a signal) stops reading.
pub(super) fn drive(tar: impl Read, v: &mut impl Visit) -> Result<Driven, LayerError> {
    let state = Rc::new(TapState::default());
    let tar = crate::cancel::Reader::new(tar, crate::cancel::Cancel::global());
    let digest = DigestReader::new(BufReader::with_capacity(256 << 10, tar));
    let mut archive = tar::Archive::new(Tap::new(digest, state.clone()));
    {
        let mut entries = archive.entries().map_err(|e| from_stream(e, None))?;
        loop {
            state.begin();
            let next = entries.next();
            state.end();
            let Some(entry) = next else { break };
            let mut entry = entry.map_err(|e| from_stream(e, v.last()))?;
            let ext = state.extensions(entry.raw_header_position()).map_err(|e| {
                LayerError::CorruptTar {
                    after: v.last(),
                    reason: e.0,
                }
            })?;
            v.entry(&mut entry, &ext)?;
            // Leave the stream at the end of this entry's data, so the next
            // capture starts there (and a short entry is noticed here).
            let want = entry.size();
            let left =
                io::copy(&mut entry, &mut io::sink()).map_err(|e| from_stream(e, v.last()))?;
            if v.data_read() + left < want && !entry.header().entry_type().is_gnu_sparse() {
                return Err(LayerError::TruncatedTar {
                    path: v.last().unwrap_or_default(),
                    expected: want,
                    got: v.data_read() + left,
                });
            }
        }
    }
    let tap = archive.into_inner();
    let end_of_entries = super::tarfmt::round_up(state.capture_start()).unwrap_or(u64::MAX);
    let (_, diff_id, tar_size) = tap
        .into_inner()
        .finish()
        .map_err(|e| from_stream(e, v.last()))?;
    Ok(Driven {
        diff_id,
        tar_size,
        end_of_entries,
    })
}

/// True for headers that are no entry: global PAX records, GNU volume labels.
pub(super) fn is_global<R: Read>(entry: &tar::Entry<'_, R>) -> bool {
    let etype = entry.header().entry_type();
    etype == EntryType::XGlobalHeader || etype.as_byte() == b'V'
}

/// An entry's name as written (GNU long name, PAX `path`, else the header's).
pub(super) fn raw_name<R: Read>(entry: &tar::Entry<'_, R>, ext: &Extensions) -> Vec<u8> {
    if ext.gnu_long_name {
        entry.path_bytes().into_owned()
    } else if let Some(p) = ext.get(b"path") {
        p.to_vec()
    } else {
        entry.header().path_bytes().into_owned()
    }
}

/// What an entry means, before anything is written.
pub(super) enum Kind {
    /// Nothing to do (AUFS bookkeeping, whiteout metadata).
    Ignore,
    /// The layer root itself.
    Root,
    /// `.wh..wh..opq` in `parent`.
    Opaque { parent: Vec<u8> },
    /// `.wh.<victim>` in `parent`.
    Whiteout { parent: Vec<u8>, victim: Vec<u8> },
    /// A node named `name` in `parent`.
    Node { parent: Vec<u8>, name: CString },
}

/// Reads an entry's metadata and says what it is; `rel` is its cleaned
/// name. Refuses what no filesystem could hold (PAX sparse files, NUL bytes
/// in names, a whiteout naming nothing).
pub(super) fn classify<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    ext: &Extensions,
    rel: &[u8],
    xattrs: bool,
) -> Result<(Meta, Kind), LayerError> {
    if ext.pax.iter().any(|(k, _)| k.starts_with(b"GNU.sparse.")) {
        return Err(LayerError::Unsupported {
            path: show(rel),
            kind: "PAX-format sparse file (GNU.sparse.*)".into(),
        });
    }
    let meta = Meta::read(entry, ext, rel, xattrs)?;
    if rel.is_empty() {
        return Ok((meta, Kind::Root));
    }
    let (parent, name) = split_parent(rel);
    match path::whiteout(name) {
        Whiteout::No => {}
        Whiteout::Opaque => {
            let parent = parent.to_vec();
            return Ok((meta, Kind::Opaque { parent }));
        }
        Whiteout::Remove(victim) => {
            let (parent, victim) = (parent.to_vec(), victim.to_vec());
            return Ok((meta, Kind::Whiteout { parent, victim }));
        }
        Whiteout::Meta => return Ok((meta, Kind::Ignore)),
        Whiteout::Invalid => {
            return Err(LayerError::InvalidEntry {
                path: show(rel),
                reason: "whiteout names no sibling".into(),
            });
        }
    }
    if parent
        .split(|b| *b == b'/')
        .any(|c| c.starts_with(path::WHITEOUT_META_PREFIX))
    {
        return Ok((meta, Kind::Ignore)); // inside AUFS bookkeeping dirs
    }
    let name = c_name(name, rel)?;
    Ok((
        meta,
        Kind::Node {
            parent: parent.to_vec(),
            name,
        },
    ))
}

/// A name as a C string.
pub(super) fn c_name(name: &[u8], rel: &[u8]) -> Result<CString, LayerError> {
    CString::new(name).map_err(|_| LayerError::InvalidEntry {
        path: show(rel),
        reason: "NUL byte in name".into(),
    })
}

/// A symlink's target as a C string.
pub(super) fn symlink_target(target: Vec<u8>, rel: &[u8]) -> Result<CString, LayerError> {
    CString::new(target).map_err(|_| LayerError::InvalidEntry {
        path: show(rel),
        reason: "NUL byte in symlink target".into(),
    })
}

/// A device entry's number (major, minor).
pub(super) fn device_number<R: Read>(
    entry: &tar::Entry<'_, R>,
    rel: &[u8],
) -> Result<(u32, u32), LayerError> {
    let h = entry.header();
    let bad = |e: io::Error| LayerError::InvalidEntry {
        path: show(rel),
        reason: format!("device number: {e}"),
    };
    let major = h.device_major().map_err(bad)?.unwrap_or(0);
    let minor = h.device_minor().map_err(bad)?.unwrap_or(0);
    Ok((major, minor))
}
