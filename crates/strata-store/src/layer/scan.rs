//! Checking and measuring a layer tar without writing it ([`scan_layer`]):
//! what a lazily unpacked layer records when it arrives (see
//! [`crate::snapshots`]).
//!
//! The scan reads the stream exactly as [`super::apply_layer`] does (the
//! same driver and entry classification, so the same diffID, the same
//! refusals of corrupt or truncated tars, unsupported entry types, bad
//! names and device numbers) and sums the same size: every regular file's
//! data and every symlink's target length. What only a filesystem can
//! tell — whether a hardlink's target exists inside the layer, whether the
//! kernel accepts a device node or an xattr — is left to the unpack.

use std::io::{self, Read};

use tar::EntryType;

use super::entry::{
    Kind, Visit, classify, device_number, drive, is_global, raw_name, symlink_target,
};
use super::error::from_stream;
use super::meta::link_target;
use super::path::{self, show};
use super::tarfmt::Extensions;
use super::{Applied, ApplyOptions, LayerError};

/// Reads an uncompressed layer tar to its end and returns what applying it
/// with `opts` would return (diffID, tar size, docker's unpacked size,
/// entries), writing nothing.
pub fn scan_layer(tar: impl Read, opts: &ApplyOptions) -> Result<Applied, LayerError> {
    let mut sc = Scanner {
        opts,
        entries: 0,
        size: 0,
        data_read: 0,
        last: None,
        buf: vec![0; 256 << 10],
    };
    let driven = drive(tar, &mut sc)?;
    Ok(Applied {
        diff_id: driven.diff_id,
        tar_size: driven.tar_size,
        size: sc.size,
        entries: sc.entries,
    })
}

struct Scanner<'o> {
    opts: &'o ApplyOptions,
    entries: u64,
    size: u64,
    data_read: u64,
    last: Option<String>,
    buf: Vec<u8>,
}

impl Visit for Scanner<'_> {
    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        ext: &Extensions,
    ) -> Result<(), LayerError> {
        self.data_read = 0;
        if is_global(entry) {
            return Ok(());
        }
        let etype = entry.header().entry_type();
        let rel = path::clean(&raw_name(entry, ext)).rel;
        self.entries += 1;
        self.last = Some(show(&rel));
        let (_, kind) = classify(entry, ext, &rel, self.opts.xattrs)?;
        if !matches!(kind, Kind::Node { .. }) {
            return Ok(());
        }
        match etype {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let got = self.read_data(entry, &rel)?;
                let sparse = etype.is_gnu_sparse();
                if !sparse && got != entry.size() {
                    return Err(LayerError::TruncatedTar {
                        path: show(&rel),
                        expected: entry.size(),
                        got,
                    });
                }
                self.data_read = if sparse { entry.size() } else { got };
                self.size += got;
            }
            EntryType::Directory => {}
            EntryType::Symlink => {
                let target = symlink_target(link_target(entry, ext), &rel)?;
                self.size += target.as_bytes().len() as u64;
            }
            EntryType::Link => {
                let t = path::clean(&link_target(entry, ext));
                if t.rel.is_empty() || t.rel.contains(&0) {
                    return Err(LayerError::BadLink {
                        path: show(&rel),
                        target: show(&t.rel),
                        reason: "target is the layer root or holds a NUL byte".into(),
                    });
                }
            }
            EntryType::Char | EntryType::Block => {
                if self.opts.devices {
                    device_number(entry, &rel)?;
                }
            }
            EntryType::Fifo => {}
            other => {
                return Err(LayerError::Unsupported {
                    path: show(&rel),
                    kind: format!("{:?} ('{}')", other, char::from(other.as_byte())),
                });
            }
        }
        Ok(())
    }

    fn last(&self) -> Option<String> {
        self.last.clone()
    }

    fn data_read(&self) -> u64 {
        self.data_read
    }
}

impl Scanner<'_> {
    fn read_data<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        rel: &[u8],
    ) -> Result<u64, LayerError> {
        let mut got = 0u64;
        loop {
            match entry.read(&mut self.buf) {
                Ok(0) => return Ok(got),
                Ok(n) => got += n as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(from_stream(e, Some(show(rel)))),
            }
        }
    }
}
