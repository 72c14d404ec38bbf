//! Container logs in docker's `json-file` format: one JSON object per line,
//! `{"log":"hello\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}`.
//!
//! The writer splits output into lines (each entry's `log` ends with its
//! `\n`); a line longer than 16 KiB, or a last line without a newline when
//! the stream ends, is written as a partial entry without one — as docker
//! does. Strings are escaped like Go's `encoding/json` (HTML-safe `<>&`,
//! U+2028/U+2029, invalid UTF-8 as U+FFFD). Times are RFC 3339 with
//! nanoseconds, trailing zeros trimmed (Go's `RFC3339Nano`).

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::error::{IoContext, Result};

/// Which output stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// stdout (and a terminal's output).
    Stdout,
    /// stderr.
    Stderr,
}

impl Stream {
    /// docker's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    fn index(self) -> usize {
        match self {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        }
    }
}

/// docker's maximum line length before a partial entry is written.
const MAX_LINE: usize = 16 * 1024;

/// Appends json-file entries.
#[derive(Debug)]
pub struct LogWriter {
    out: io::BufWriter<File>,
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    /// Opens (creating) `path` for appending.
    pub fn open(path: &Path) -> Result<LogWriter> {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ctx("open log", path)?;
        Ok(LogWriter {
            out: io::BufWriter::new(f),
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// Logs output of `stream`; complete lines are written at once.
    pub fn write(&mut self, stream: Stream, data: &[u8]) -> io::Result<()> {
        let now = Utc::now();
        let mut buf = std::mem::take(&mut self.partial[stream.index()]);
        buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(nl) = buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + nl + 1;
            self.entry(stream, &buf[start..end], now)?;
            start = end;
        }
        while buf.len() - start >= MAX_LINE {
            self.entry(stream, &buf[start..start + MAX_LINE], now)?;
            start += MAX_LINE;
        }
        buf.drain(..start);
        self.partial[stream.index()] = buf;
        self.out.flush()
    }

    /// Writes what is left of `stream` without a newline (at its end).
    pub fn finish(&mut self, stream: Stream) -> io::Result<()> {
        let buf = std::mem::take(&mut self.partial[stream.index()]);
        if !buf.is_empty() {
            self.entry(stream, &buf, Utc::now())?;
        }
        self.out.flush()
    }

    fn entry(&mut self, stream: Stream, line: &[u8], t: DateTime<Utc>) -> io::Result<()> {
        let mut s = String::with_capacity(line.len() + 80);
        s.push_str("{\"log\":");
        go_json_string(&mut s, line);
        s.push_str(",\"stream\":\"");
        s.push_str(stream.as_str());
        s.push_str("\",\"time\":\"");
        s.push_str(&strata_oci::config::format_rfc3339_nanos(t));
        s.push_str("\"}\n");
        self.out.write_all(s.as_bytes())
    }
}

/// Appends `bytes` as a JSON string the way Go's encoder writes it.
pub fn go_json_string(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '<' => out.push_str("\\u003c"),
                '>' => out.push_str("\\u003e"),
                '&' => out.push_str("\\u0026"),
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        // Go replaces each byte of an invalid sequence.
        for _ in chunk.invalid() {
            out.push_str("\\ufffd");
        }
    }
    out.push('"');
}

/// One log entry read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The stream.
    pub stream: Stream,
    /// When it was written.
    pub time: DateTime<Utc>,
    /// The time as written.
    pub time_text: String,
    /// The bytes (with their newline, if any).
    pub log: Vec<u8>,
}

#[derive(Deserialize)]
struct RawEntry {
    log: String,
    stream: String,
    time: String,
}

/// Reads a log file incrementally (for `logs -f`).
#[derive(Debug)]
pub struct LogReader {
    reader: BufReader<File>,
    pending: String,
}

impl LogReader {
    /// Opens `path` from its start.
    pub fn open(path: &Path) -> Result<LogReader> {
        let f = File::open(path).ctx("open log", path)?;
        Ok(LogReader {
            reader: BufReader::new(f),
            pending: String::new(),
        })
    }

    /// The complete entries written since the last call.
    pub fn read_new(&mut self) -> io::Result<Vec<LogEntry>> {
        let mut out = Vec::new();
        loop {
            let n = self.reader.read_line(&mut self.pending)?;
            if n == 0 || !self.pending.ends_with('\n') {
                // EOF, possibly mid-line: the fragment stays in `pending`
                // and the next read continues it.
                return Ok(out);
            }
            let line = std::mem::take(&mut self.pending);
            if let Some(e) = parse_entry(&line) {
                out.push(e);
            }
        }
    }
}

fn parse_entry(line: &str) -> Option<LogEntry> {
    let raw: RawEntry = serde_json::from_str(line.trim_end()).ok()?;
    let stream = match raw.stream.as_str() {
        "stderr" => Stream::Stderr,
        _ => Stream::Stdout,
    };
    let time = DateTime::parse_from_rfc3339(&raw.time)
        .ok()?
        .with_timezone(&Utc);
    Some(LogEntry {
        stream,
        time,
        time_text: raw.time,
        log: raw.log.into_bytes(),
    })
}

/// All entries of a log file (missing file: none).
pub fn read_all(path: &Path) -> Result<Vec<LogEntry>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut r = LogReader::open(path)?;
    r.read_new().ctx("read log", path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_partials_and_escaping() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("c-json.log");
        let mut w = LogWriter::open(&p).unwrap();
        w.write(Stream::Stdout, b"hel").unwrap();
        w.write(Stream::Stderr, b"oops <&>\n").unwrap();
        w.write(Stream::Stdout, b"lo\nwor").unwrap();
        w.write(Stream::Stdout, b"ld\n\"q\"\t\x01\xff").unwrap();
        w.finish(Stream::Stdout).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(
            lines[0]
                .starts_with(r#"{"log":"oops \u003c\u0026\u003e\n","stream":"stderr","time":""#)
        );
        assert!(lines[1].starts_with(r#"{"log":"hello\n","stream":"stdout","time":"20"#));
        assert!(lines[3].starts_with(r#"{"log":"\"q\"\t\u0001\ufffd","stream":"stdout""#));
        assert!(lines[0].ends_with("Z\"}"));
        let back = read_all(&p).unwrap();
        assert_eq!(back.len(), 4);
        assert_eq!(back[1].log, b"hello\n");
        assert_eq!(back[2].log, b"world\n");
        assert_eq!(back[0].stream, Stream::Stderr);
    }

    #[test]
    fn long_lines_are_split() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("l.log");
        let mut w = LogWriter::open(&p).unwrap();
        let big = vec![b'x'; MAX_LINE + 10];
        w.write(Stream::Stdout, &big).unwrap();
        w.write(Stream::Stdout, b"\n").unwrap();
        let back = read_all(&p).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].log.len(), MAX_LINE);
        assert_eq!(back[1].log.len(), 11);
    }

    #[test]
    fn reader_follows_growth() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f.log");
        let mut w = LogWriter::open(&p).unwrap();
        w.write(Stream::Stdout, b"a\n").unwrap();
        let mut r = LogReader::open(&p).unwrap();
        assert_eq!(r.read_new().unwrap().len(), 1);
        assert!(r.read_new().unwrap().is_empty());
        w.write(Stream::Stdout, b"b\nc\n").unwrap();
        let got: Vec<Vec<u8>> = r.read_new().unwrap().into_iter().map(|e| e.log).collect();
        assert_eq!(got, vec![b"b\n".to_vec(), b"c\n".to_vec()]);
    }
}
