//! The event journal (`events`): what the CLI commands and the container
//! supervisors did, in docker's event message shape, appended to the
//! store so `strata events` (and later the Engine API's `/events` of
//! `strata system service`) can read and follow it without a daemon.
//!
//! ```text
//! <root>/events/journal      JSON lines, oldest first (the current file)
//! <root>/events/journal.1    the previous file, once the current passed
//!                            MAX_JOURNAL bytes (older ones are dropped)
//! <root>/events/lock         flock: appends and the rotation exclusive
//! ```
//! One event is one `write` of one line under the lock, so readers never
//! see half a line from a writer that finished; a reader skips a line
//! that does not parse (a writer killed mid-way). A follower remembers
//! the current file's length and reads on from there; a file shorter
//! than that was rotated, and the follower reads `journal.1` on from its
//! offset, then the new file from its start.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Store;
use crate::error::{Result, StoreError};

/// Bytes after which the journal file is rotated (two files are kept).
pub const MAX_JOURNAL: u64 = 1 << 20;

/// docker's `events.Message`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Legacy: the action (containers and images).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// Legacy: the actor's ID (containers and images).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Legacy: the container's image.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    /// `container`, `image`, `network`, `volume`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// `create`, `start`, `die`, `health_status: healthy`, …
    #[serde(rename = "Action")]
    pub action: String,
    /// The object.
    #[serde(rename = "Actor")]
    pub actor: Actor,
    /// Always `local`.
    pub scope: String,
    /// Unix seconds.
    pub time: i64,
    /// Unix nanoseconds.
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

/// docker's `events.Actor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The object's ID (a network's, a volume's name, …).
    #[serde(rename = "ID")]
    pub id: String,
    /// `name`, `image`, labels, `exitCode`, …
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    /// An event of `kind` now; containers and images get the legacy
    /// fields as docker's.
    pub fn now(kind: &str, action: &str, id: &str, attributes: BTreeMap<String, String>) -> Event {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        let legacy = matches!(kind, "container" | "image");
        Event {
            status: if legacy { action.into() } else { String::new() },
            id: if legacy { id.into() } else { String::new() },
            from: if kind == "container" {
                attributes.get("image").cloned().unwrap_or_default()
            } else {
                String::new()
            },
            kind: kind.into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes,
            },
            scope: "local".into(),
            time: nanos.div_euclid(1_000_000_000),
            time_nano: nanos,
        }
    }
}

/// The journal of one store.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

fn io(op: &'static str, path: PathBuf) -> impl FnOnce(std::io::Error) -> StoreError {
    move |source| StoreError::Io { op, path, source }
}

impl Journal {
    /// The current file.
    pub fn current(&self) -> PathBuf {
        self.dir.join("journal")
    }

    /// The previous file.
    pub fn previous(&self) -> PathBuf {
        self.dir.join("journal.1")
    }

    /// Appends `e` (rotating first when the file is full).
    pub fn append(&self, e: &Event) -> Result<()> {
        fs::create_dir_all(&self.dir).map_err(io("create directory", self.dir.clone()))?;
        let lock_path = self.dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("open", lock_path.clone()))?;
        // SAFETY: flock on a descriptor we own; released when `lock` closes.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io("lock", lock_path)(std::io::Error::last_os_error()));
        }
        let cur = self.current();
        if fs::metadata(&cur).is_ok_and(|m| m.len() >= MAX_JOURNAL) {
            fs::rename(&cur, self.previous()).map_err(io("rotate", cur.clone()))?;
        }
        let mut line = serde_json::to_vec(e).unwrap_or_default();
        line.push(b'\n');
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&cur)
            .map_err(io("open", cur.clone()))?;
        f.write_all(&line).map_err(io("append to", cur))?;
        drop(lock);
        Ok(())
    }

    /// Every event kept, oldest first.
    pub fn read_all(&self) -> Vec<Event> {
        let mut out = parse(&fs::read(self.previous()).unwrap_or_default());
        out.extend(parse(&fs::read(self.current()).unwrap_or_default()));
        out
    }

    /// Every event kept and the offset to follow the current file from.
    pub fn snapshot(&self) -> (Vec<Event>, u64) {
        let mut out = parse(&fs::read(self.previous()).unwrap_or_default());
        let (cur, off) = self.read_from(0);
        out.extend(cur);
        (out, off)
    }

    /// The events appended since a reader was at `offset` of the current
    /// file; returns them and the new offset (see the module doc for
    /// rotation).
    pub fn read_from(&self, offset: u64) -> (Vec<Event>, u64) {
        let cur = fs::read(self.current()).unwrap_or_default();
        let mut out = Vec::new();
        let start = if (cur.len() as u64) < offset {
            let prev = fs::read(self.previous()).unwrap_or_default();
            out.extend(parse(prev.get(offset as usize..).unwrap_or_default()));
            0
        } else {
            offset as usize
        };
        // Only whole lines: a line being written is read next time.
        let tail = &cur[start..];
        let end = tail.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        out.extend(parse(&tail[..end]));
        (out, (start + end) as u64)
    }
}

fn parse(bytes: &[u8]) -> Vec<Event> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect()
}

impl Store {
    /// The store's event journal.
    pub fn journal(&self) -> Journal {
        Journal {
            dir: self.root().join("events"),
        }
    }

    /// Appends an event; a failure is logged, never fatal (an event lost
    /// must not fail the command that made it).
    pub fn record_event(&self, e: &Event) {
        if let Err(err) = self.journal().append(e) {
            tracing::warn!("event journal: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_read_follow_and_rotate() {
        let t = tempfile::tempdir().unwrap();
        let j = Journal {
            dir: t.path().join("events"),
        };
        let mut attrs = BTreeMap::new();
        attrs.insert("image".to_string(), "busybox".to_string());
        attrs.insert("name".to_string(), "web".to_string());
        let e = Event::now("container", "start", "abc", attrs);
        j.append(&e).unwrap();
        assert_eq!(j.read_all(), vec![e.clone()]);
        let json = serde_json::to_string(&e).unwrap();
        assert!(
            json.starts_with(r#"{"status":"start","id":"abc","from":"busybox","Type":"container","Action":"start","Actor":{"ID":"abc","Attributes":{"image":"busybox","name":"web"}},"scope":"local","time":"#),
            "{json}"
        );
        let (got, off) = j.read_from(0);
        assert_eq!(got.len(), 1);
        let net = Event::now("network", "create", "n1", BTreeMap::new());
        assert!(!serde_json::to_string(&net).unwrap().contains("status"));
        // Fill past the limit: the next append rotates.
        let big = "x".repeat(4000);
        let mut a = BTreeMap::new();
        a.insert("pad".to_string(), big);
        while fs::metadata(j.current()).unwrap().len() < MAX_JOURNAL {
            j.append(&Event::now("volume", "create", "v", a.clone()))
                .unwrap();
        }
        j.append(&net).unwrap();
        assert!(j.previous().exists());
        assert_eq!(j.read_all().last(), Some(&net));
        // A follower at its old offset sees the rest of journal.1 and the
        // new file.
        let (rest, _) = j.read_from(off);
        assert_eq!(rest.last(), Some(&net));
        assert!(rest.len() > 10);
        // A torn line is skipped.
        fs::OpenOptions::new()
            .append(true)
            .open(j.current())
            .unwrap()
            .write_all(b"{\"Type\":\n")
            .unwrap();
        assert_eq!(j.read_all().last(), Some(&net));
    }
}
