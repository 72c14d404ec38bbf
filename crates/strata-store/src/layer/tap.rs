//! [`Tap`]: a reader between the tar stream and the `tar` crate that counts
//! bytes and, while the crate looks for the next header, keeps a copy of
//! what it reads, so the extension headers in front of an entry can be
//! parsed exactly ([`super::tarfmt::parse_extension_chain`]).
//!
//! The `tar` crate reads headers and extension data exactly (it never reads
//! ahead), so when the previous entry's data has been drained, the bytes
//! captured during `Entries::next` are: the previous entry's padding, every
//! extension header with its data, and the entry's own header. The capture
//! is capped ([`MAX_CAPTURE`]), which also bounds how much memory a hostile
//! PAX header can make the `tar` crate allocate.

use std::cell::{Cell, RefCell};
use std::io::{self, Read};
use std::rc::Rc;

use super::tarfmt::{self, Extensions, FormatError};

/// Largest run of extension headers accepted in front of one entry.
pub(crate) const MAX_CAPTURE: usize = 16 << 20;

/// State shared between the [`Tap`] (owned by the `tar` crate) and the loop.
#[derive(Default)]
pub(crate) struct TapState {
    pos: Cell<u64>,
    capturing: Cell<bool>,
    start: Cell<u64>,
    buf: RefCell<Vec<u8>>,
}

impl TapState {
    /// Where the last capture began.
    pub fn capture_start(&self) -> u64 {
        self.start.get()
    }

    /// Starts capturing (call right before `Entries::next`).
    pub fn begin(&self) {
        self.buf.borrow_mut().clear();
        self.start.set(self.pos.get());
        self.capturing.set(true);
    }

    /// Stops capturing.
    pub fn end(&self) {
        self.capturing.set(false);
    }

    /// The extension headers in front of the entry whose header starts at
    /// `header_pos` (from `Entry::raw_header_position`).
    pub fn extensions(&self, header_pos: u64) -> Result<Extensions, FormatError> {
        let start = self.start.get();
        let first = tarfmt::round_up(start).unwrap_or(u64::MAX);
        if header_pos == first {
            return Ok(Extensions::default());
        }
        let buf = self.buf.borrow();
        let lo = usize::try_from(first - start.min(first)).ok();
        let hi = header_pos
            .checked_sub(start)
            .and_then(|v| usize::try_from(v).ok());
        match (lo, hi) {
            (Some(lo), Some(hi)) if lo <= hi && hi <= buf.len() => {
                tarfmt::parse_extension_chain(&buf[lo..hi])
            }
            _ => Err(FormatError(format!(
                "extension headers before offset {header_pos} could not be located"
            ))),
        }
    }
}

/// The counting, capturing reader; see the module doc.
pub(crate) struct Tap<R> {
    inner: R,
    state: Rc<TapState>,
}

impl<R: Read> Tap<R> {
    /// Wraps `inner`; the loop keeps a clone of `state`.
    pub fn new(inner: R, state: Rc<TapState>) -> Self {
        Tap { inner, state }
    }

    /// The wrapped reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let s = &self.state;
        if s.capturing.get() {
            let mut b = s.buf.borrow_mut();
            if b.len() + n > MAX_CAPTURE {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "extension headers larger than {} MiB in front of one entry",
                        MAX_CAPTURE >> 20
                    ),
                ));
            }
            b.extend_from_slice(&buf[..n]);
        }
        s.pos.set(s.pos.get() + n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::tarfmt::{Entry, Kind, encode_header, pad};

    fn entry(path: &[u8], size: u64) -> Vec<u8> {
        let xattrs = [(b"user.a".to_vec(), b"1\n2".to_vec())];
        let mut out = Vec::new();
        encode_header(
            &Entry {
                path,
                link: b"",
                kind: Kind::Regular,
                mode: 0o644,
                uid: 0,
                gid: 0,
                size,
                mtime: 0,
                dev_major: 0,
                dev_minor: 0,
                xattrs: &xattrs,
            },
            &mut out,
        );
        out.resize(out.len() + size as usize, b'd');
        pad(&mut out, size);
        out
    }

    #[test]
    fn captures_the_pax_header_of_each_entry() {
        let mut tar = entry(b"one", 3);
        tar.extend(entry(&[b'p'; 150], 700));
        tar.extend_from_slice(&[0; 1024]);
        let state = Rc::new(TapState::default());
        let mut ar = tar::Archive::new(Tap::new(&tar[..], state.clone()));
        let mut entries = ar.entries().unwrap();
        let mut seen = Vec::new();
        loop {
            state.begin();
            let next = entries.next();
            state.end();
            let Some(e) = next else { break };
            let mut e = e.unwrap();
            let ext = state.extensions(e.raw_header_position()).unwrap();
            seen.push((
                ext.get(b"path").map(<[u8]>::to_vec),
                ext.get(b"SCHILY.xattr.user.a").map(<[u8]>::to_vec),
            ));
            io::copy(&mut e, &mut io::sink()).unwrap();
        }
        assert_eq!(seen[0], (None, Some(b"1\n2".to_vec())));
        assert_eq!(seen[1], (Some(vec![b'p'; 150]), Some(b"1\n2".to_vec())));
    }
}
