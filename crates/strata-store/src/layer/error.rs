//! [`LayerError`]: everything that can go wrong creating, compressing or
//! applying a layer, naming the entry path and the operation.

use std::error::Error as _;
use std::io;

/// An error from the layer module. Paths are relative to the layer root
/// (apply) or absolute source paths (create).
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// A filesystem operation on an entry failed.
    #[error("{path}: {op}: {source}")]
    Io {
        /// The entry or file.
        path: String,
        /// What was being done ("create file", "mknod", "read directory"...).
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The tar stream is not a valid tar (bad checksum, malformed PAX, ...).
    #[error("corrupt layer tar{}: {reason}", after_entry(.after))]
    CorruptTar {
        /// The last entry read successfully before the damage, if any.
        after: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// The tar stream ended in the middle of an entry's data.
    #[error("truncated layer tar: {path}: expected {expected} bytes of data, got {got}")]
    TruncatedTar {
        /// The entry being read.
        path: String,
        /// Its size per header.
        expected: u64,
        /// Bytes present.
        got: u64,
    },
    /// The compressed stream is corrupt or truncated.
    #[error("{algorithm} stream{}: {reason}", after_entry(.after))]
    Compression {
        /// "gzip" or "zstd".
        algorithm: &'static str,
        /// The last tar entry read before the damage, if any.
        after: Option<String>,
        /// The decoder's complaint.
        reason: String,
    },
    /// An entry type strata does not apply (GNU volume headers, sockets...).
    #[error("{path}: unsupported tar entry type {kind}")]
    Unsupported {
        /// The entry.
        path: String,
        /// The type, as the typeflag character or a name.
        kind: String,
    },
    /// An entry is malformed (NUL in a name, bad uid, invalid whiteout...).
    #[error("{path}: invalid entry: {reason}")]
    InvalidEntry {
        /// The entry.
        path: String,
        /// Why.
        reason: String,
    },
    /// A hardlink's target is missing, a directory, or otherwise unusable.
    #[error("{path}: hardlink to {target}: {reason}")]
    BadLink {
        /// The link entry.
        path: String,
        /// Its target, as cleaned inside the root.
        target: String,
        /// Why.
        reason: String,
    },
    /// A source tree cannot be turned into a layer as asked (e.g. an overlay
    /// upper dir with redirect or metacopy xattrs, or a file that changed
    /// while it was read).
    #[error("{path}: {reason}")]
    Source {
        /// The source file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Invalid options (compression level out of range...).
    #[error("invalid layer option: {0}")]
    Option(String),
    /// Writing the layer stream failed.
    #[error("writing layer stream: {0}")]
    Write(#[source] io::Error),
}

fn after_entry(a: &Option<String>) -> String {
    match a {
        Some(p) => format!(" after entry {p}"),
        None => String::new(),
    }
}

/// Marks an I/O error raised by a decompressor, so the apply loop can report
/// it as [`LayerError::Compression`] even after the tar crate passed it on.
#[derive(Debug)]
pub(crate) struct DecompressError {
    pub algorithm: &'static str,
    pub source: io::Error,
}

impl std::fmt::Display for DecompressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} stream: {}", self.algorithm, self.source)
    }
}

impl std::error::Error for DecompressError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Converts an I/O error met while reading the tar stream into the most
/// telling [`LayerError`].
pub(crate) fn from_stream(e: io::Error, after: Option<String>) -> LayerError {
    if let Some(d) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<DecompressError>())
    {
        return LayerError::Compression {
            algorithm: d.algorithm,
            after,
            reason: d.source.to_string(),
        };
    }
    LayerError::CorruptTar {
        after,
        reason: printable(&chain(&e)),
    }
}

/// The tar crate quotes raw header bytes in some errors; keep messages to
/// one readable line.
fn printable(s: &str) -> String {
    const MAX: usize = 200;
    let mut out = String::with_capacity(s.len().min(MAX));
    for c in s.chars() {
        if out.len() >= MAX {
            out.push('…');
            break;
        }
        out.push(if c.is_control() || c == char::REPLACEMENT_CHARACTER {
            '?'
        } else {
            c
        });
    }
    out
}

/// An error and its sources, joined with ": ".
pub(crate) fn chain(e: &io::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// Shorthand for [`LayerError::Io`].
pub(crate) fn io_err(path: impl Into<String>, op: &'static str, source: io::Error) -> LayerError {
    LayerError::Io {
        path: path.into(),
        op,
        source,
    }
}
