//! The attach protocol between a CLI and a container's supervisor, over
//! the stream socket pair created when the CLI spawns the supervisor.
//!
//! Every message is a frame: one kind byte, a big-endian `u32` length,
//! the payload. Supervisor → CLI: `Stdout`, `Stderr`, `Started` (the
//! container runs; detached clients leave now), `Exit` (its code, after
//! `--rm` removal), `Error` (it could not start: message and docker's
//! exit code). CLI → supervisor: `Stdin`, `StdinClose`, `Resize` (a
//! terminal's rows and columns), `Signal` (proxied signals), `Cancel` (the
//! client was cancelled before it saw the start).
//!
//! Why an inherited socket pair and not a socket file in the container
//! directory: the pair exists before the supervisor does, so the CLI can
//! never miss the first output or the start result (no listen/connect race,
//! no retry loop), there is no 108-byte `sun_path` limit to work around for
//! deep store roots, and nobody else can connect. Commands that attach to
//! an existing container (`start -a`) spawn that container's supervisor and
//! so get their own pair; a detached container's output is only in its log.

use std::io::{self, Read, Write};

/// Kind bytes on the wire.
mod kind {
    pub const STDOUT: u8 = 1;
    pub const STDERR: u8 = 2;
    pub const STARTED: u8 = 3;
    pub const EXIT: u8 = 4;
    pub const ERROR: u8 = 5;
    pub const STDIN: u8 = 10;
    pub const STDIN_CLOSE: u8 = 11;
    pub const RESIZE: u8 = 12;
    pub const SIGNAL: u8 = 13;
    pub const CANCEL: u8 = 14;
}

/// Largest payload accepted (a corrupt stream must not allocate wildly).
const MAX_FRAME: usize = 1 << 20;

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Container stdout (or terminal) bytes.
    Stdout(Vec<u8>),
    /// Container stderr bytes.
    Stderr(Vec<u8>),
    /// The container's process runs (host PID).
    Started(i32),
    /// The container exited with this code (128+n for signal n).
    Exit(i32),
    /// The container could not start.
    Error {
        /// docker's exit code (125, 126, 127).
        code: i32,
        /// What went wrong.
        message: String,
    },
    /// Bytes for the container's stdin.
    Stdin(Vec<u8>),
    /// The client's stdin ended.
    StdinClose,
    /// The client's terminal size.
    Resize {
        /// Rows.
        rows: u16,
        /// Columns.
        cols: u16,
    },
    /// A signal to deliver to the container.
    Signal(i32),
    /// The client gave up before it saw the start (a signal cancelled
    /// it): do not start; a container already started is killed.
    Cancel,
}

impl Frame {
    /// The encoded frame.
    pub fn encode(&self) -> Vec<u8> {
        let (k, payload): (u8, Vec<u8>) = match self {
            Frame::Stdout(b) => (kind::STDOUT, b.clone()),
            Frame::Stderr(b) => (kind::STDERR, b.clone()),
            Frame::Started(pid) => (kind::STARTED, pid.to_be_bytes().to_vec()),
            Frame::Exit(code) => (kind::EXIT, code.to_be_bytes().to_vec()),
            Frame::Error { code, message } => {
                let mut p = code.to_be_bytes().to_vec();
                p.extend_from_slice(message.as_bytes());
                (kind::ERROR, p)
            }
            Frame::Stdin(b) => (kind::STDIN, b.clone()),
            Frame::StdinClose => (kind::STDIN_CLOSE, Vec::new()),
            Frame::Resize { rows, cols } => {
                let mut p = rows.to_be_bytes().to_vec();
                p.extend_from_slice(&cols.to_be_bytes());
                (kind::RESIZE, p)
            }
            Frame::Signal(s) => (kind::SIGNAL, s.to_be_bytes().to_vec()),
            Frame::Cancel => (kind::CANCEL, Vec::new()),
        };
        let mut out = Vec::with_capacity(5 + payload.len());
        out.push(k);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&payload);
        out
    }

    /// Writes the frame.
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(&self.encode())
    }

    fn decode(k: u8, p: &[u8]) -> io::Result<Frame> {
        let int = |p: &[u8]| -> io::Result<i32> {
            p.get(..4)
                .and_then(|b| b.try_into().ok())
                .map(i32::from_be_bytes)
                .ok_or_else(|| bad("short frame"))
        };
        Ok(match k {
            kind::STDOUT => Frame::Stdout(p.to_vec()),
            kind::STDERR => Frame::Stderr(p.to_vec()),
            kind::STARTED => Frame::Started(int(p)?),
            kind::EXIT => Frame::Exit(int(p)?),
            kind::ERROR => Frame::Error {
                code: int(p)?,
                message: String::from_utf8_lossy(&p[4..]).into_owned(),
            },
            kind::STDIN => Frame::Stdin(p.to_vec()),
            kind::STDIN_CLOSE => Frame::StdinClose,
            kind::RESIZE => {
                if p.len() < 4 {
                    return Err(bad("short frame"));
                }
                Frame::Resize {
                    rows: u16::from_be_bytes([p[0], p[1]]),
                    cols: u16::from_be_bytes([p[2], p[3]]),
                }
            }
            kind::SIGNAL => Frame::Signal(int(p)?),
            kind::CANCEL => Frame::Cancel,
            other => return Err(bad(&format!("unknown frame kind {other}"))),
        })
    }
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("attach protocol: {msg}"),
    )
}

/// Reassembles frames from a byte stream read in arbitrary pieces.
#[derive(Debug, Default)]
pub struct FrameBuffer {
    buf: Vec<u8>,
}

impl FrameBuffer {
    /// Reads once from `r` (after poll said it is readable) and returns the
    /// complete frames; `Ok(None)` at end of stream.
    pub fn read_from(&mut self, r: &mut impl Read) -> io::Result<Option<Vec<Frame>>> {
        let mut chunk = [0u8; 64 * 1024];
        let n = match r.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(Some(Vec::new())),
            Err(e) => return Err(e),
        };
        self.push(&chunk[..n])
    }

    /// Adds bytes; returns the frames now complete.
    pub fn push(&mut self, data: &[u8]) -> io::Result<Option<Vec<Frame>>> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        let mut start = 0;
        while self.buf.len() - start >= 5 {
            let k = self.buf[start];
            let len = u32::from_be_bytes([
                self.buf[start + 1],
                self.buf[start + 2],
                self.buf[start + 3],
                self.buf[start + 4],
            ]) as usize;
            if len > MAX_FRAME {
                return Err(bad("frame too large"));
            }
            if self.buf.len() - start - 5 < len {
                break;
            }
            out.push(Frame::decode(k, &self.buf[start + 5..start + 5 + len])?);
            start += 5 + len;
        }
        self.buf.drain(..start);
        Ok(Some(out))
    }

    /// Reads until one whole frame is available (blocking reader).
    pub fn next_blocking(&mut self, r: &mut impl Read) -> io::Result<Option<Frame>> {
        let mut queued = self.push(&[])?.unwrap_or_default();
        loop {
            if !queued.is_empty() {
                let f = queued.remove(0);
                // Put the rest back (re-encoded) for the next call.
                let rest: Vec<u8> = queued.iter().flat_map(Frame::encode).collect();
                let mut tail = std::mem::take(&mut self.buf);
                self.buf = rest;
                self.buf.append(&mut tail);
                return Ok(Some(f));
            }
            match self.read_from(r)? {
                None => return Ok(None),
                Some(frames) => queued = frames,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_in_pieces() {
        let frames = vec![
            Frame::Stdout(b"hello\n".to_vec()),
            Frame::Stderr(vec![]),
            Frame::Started(42),
            Frame::Exit(137),
            Frame::Error {
                code: 127,
                message: "exec: \"foo\": executable file not found in $PATH".into(),
            },
            Frame::Stdin(vec![0, 1, 2]),
            Frame::StdinClose,
            Frame::Resize { rows: 24, cols: 80 },
            Frame::Signal(15),
            Frame::Cancel,
        ];
        let bytes: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
        let mut fb = FrameBuffer::default();
        let mut got = Vec::new();
        for piece in bytes.chunks(3) {
            got.extend(fb.push(piece).unwrap().unwrap());
        }
        assert_eq!(got, frames);

        let mut cursor = io::Cursor::new(bytes);
        let mut fb = FrameBuffer::default();
        let mut again = Vec::new();
        while let Some(f) = fb.next_blocking(&mut cursor).unwrap() {
            again.push(f);
        }
        assert_eq!(again, frames);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut fb = FrameBuffer::default();
        assert!(fb.push(&[99, 0, 0, 0, 0]).is_err());
        let mut fb = FrameBuffer::default();
        assert!(fb.push(&[1, 0xff, 0xff, 0xff, 0xff]).is_err());
        let mut fb = FrameBuffer::default();
        assert!(fb.push(&[kind::EXIT, 0, 0, 0, 1, 0]).is_err());
    }
}
