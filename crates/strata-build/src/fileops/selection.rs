//! [`Selection`]: what one COPY/ADD selected, its cache-key checksum, and a
//! compact [`SelectionSummary`] the engine can keep to explain, on the next
//! build, which file made the step miss.

use std::path::PathBuf;

use sha2::{Digest as _, Sha256};
use strata_oci::Digest;

/// The type of a selected entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink,
    /// Named pipe.
    Fifo,
    /// Character device.
    CharDevice,
    /// Block device.
    BlockDevice,
    /// Socket (never copied).
    Socket,
}

impl EntryKind {
    fn code(self) -> u8 {
        match self {
            EntryKind::File => b'f',
            EntryKind::Dir => b'd',
            EntryKind::Symlink => b'l',
            EntryKind::Fifo => b'p',
            EntryKind::CharDevice => b'c',
            EntryKind::BlockDevice => b'b',
            EntryKind::Socket => b's',
        }
    }

    fn name(code: u8) -> &'static str {
        match code {
            b'f' => "file",
            b'd' => "directory",
            b'l' => "symlink",
            b'p' => "fifo",
            b'c' => "character device",
            b'b' => "block device",
            _ => "socket",
        }
    }
}

/// One selected filesystem entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedEntry {
    /// Index of its [`SourceUnit`] in [`Selection::units`].
    pub unit: u32,
    /// Path relative to the unit's root (`""` is the unit itself; for a
    /// directory unit, its children are copied into the destination).
    /// Boxed, like `link`: a selection holds one entry per file, and each
    /// byte of it is memory a no-op rebuild of 20,000 files asks the
    /// kernel for (its pages cost more than its work).
    pub rel: Box<str>,
    /// Type.
    pub kind: EntryKind,
    /// Permission and setuid/setgid/sticky bits.
    pub mode: u32,
    /// Owner as it will be written before `--chown` (0 for the context).
    pub uid: u32,
    /// Group, likewise.
    pub gid: u32,
    /// Size in bytes (files).
    pub size: u64,
    /// Modification time, ns since the epoch (kept, never keyed).
    pub mtime_ns: i64,
    /// Content sha256 (files).
    pub sha256: Option<[u8; 32]>,
    /// Symlink target.
    pub link: Option<Box<str>>,
    /// Device number (devices).
    pub rdev: u64,
    /// Source identity, to keep hardlinks and detect changes before copy.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Link count (saturated at `u32::MAX`).
    pub nlink: u32,
    /// Change time, ns (only to detect a change between select and copy).
    pub ctime_ns: i64,
}

/// How a [`SourceUnit`] is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitKind {
    /// A directory whose contents go into the destination.
    Dir,
    /// A single entry (file, symlink target, device…).
    Single,
    /// An ADD archive extracted into the destination.
    Archive,
    /// An ADD URL, downloaded to `file`.
    Remote {
        /// The URL.
        url: String,
        /// The downloaded file.
        file: PathBuf,
        /// Extract it (`--unpack=true` and it is an archive).
        unpack: bool,
    },
    /// A heredoc body.
    Inline {
        /// The bytes.
        data: Vec<u8>,
    },
}

/// One resolved source: a literal source, one wildcard match, a URL or a
/// heredoc. Its entries are `entries[range]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceUnit {
    /// The source as written in the instruction.
    pub source: String,
    /// The resolved path relative to the tree root (`""` = the root).
    pub path: String,
    /// The name a file gets inside a directory destination (base name of
    /// the unfollowed source path, or of the URL).
    pub name: String,
    /// How it is written.
    pub kind: UnitKind,
    /// Its entries in [`Selection::entries`].
    pub range: std::ops::Range<usize>,
}

/// Counters of one selection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SelectStats {
    /// Entries selected.
    pub entries: u64,
    /// Regular files among them.
    pub files: u64,
    /// Bytes of regular files.
    pub bytes: u64,
    /// Files hashed (not taken from the stat index).
    pub hashed: u64,
}

/// Everything one COPY/ADD selected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// COPY or ADD.
    pub command: super::Command,
    /// Resolved sources, in instruction order.
    pub units: Vec<SourceUnit>,
    /// All entries, unit by unit, each unit's in pre-order by name.
    pub entries: super::Entries,
    /// Counters.
    pub stats: SelectStats,
}

/// The version of [`Selection::checksum`] (part of what a remembered
/// checksum is filed under).
pub const CHECKSUM_VERSION: &[u8] = b"strata-copy-checksum-v1\0";

impl Selection {
    /// The cache-key input of this selection: for every unit the source as
    /// written, its name and kind; for every entry its relative path, type,
    /// mode, uid/gid, symlink target, device number and content sha256.
    /// Never mtime, atime or ctime.
    pub fn checksum(&self) -> Digest {
        let mut h = Sha256::new();
        h.update(CHECKSUM_VERSION);
        for (i, u) in self.units.iter().enumerate() {
            h.update(b"U");
            put_str(&mut h, &u.source);
            put_str(&mut h, &u.name);
            match &u.kind {
                super::UnitKind::Dir => h.update(b"d"),
                super::UnitKind::Single => h.update(b"s"),
                super::UnitKind::Archive => h.update(b"a"),
                super::UnitKind::Remote { url, unpack, .. } => {
                    h.update(b"r");
                    put_str(&mut h, url);
                    h.update([u8::from(*unpack)]);
                }
                super::UnitKind::Inline { .. } => h.update(b"i"),
            }
            let mut first_of_inode: std::collections::HashMap<(u64, u64), usize> =
                Default::default();
            // The entries' bytes go to the hash in large pieces: nine small
            // updates per entry cost a third of hashing 20,000 of them.
            let mut buf = Vec::with_capacity(64 * 1024);
            for (j, e) in self.entries.range(u.range.clone()).enumerate() {
                debug_assert_eq!(e.unit as usize, i);
                put_entry(&mut buf, e);
                if e.kind == EntryKind::File && e.nlink > 1 {
                    let first = *first_of_inode.entry((e.dev, e.ino)).or_insert(j);
                    buf.extend_from_slice(&(first as u64).to_le_bytes());
                }
                if buf.len() >= 60 * 1024 {
                    h.update(&buf);
                    buf.clear();
                }
            }
            h.update(&buf);
        }
        crate::context::digest_of(&h.finalize().into())
    }

    /// Adds a heredoc source (`COPY <<EOF /dst`): a 0644 file named `name`.
    pub fn push_inline(&mut self, name: &str, data: Vec<u8>) {
        let start = self.entries.len();
        let unit = self.units.len() as u32;
        let sha: [u8; 32] = Sha256::digest(&data).into();
        let now = crate::context::now_ns();
        self.stats.entries += 1;
        self.stats.files += 1;
        self.stats.bytes += data.len() as u64;
        self.entries.push(SelectedEntry {
            unit,
            rel: Box::default(),
            kind: EntryKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: data.len() as u64,
            mtime_ns: now,
            sha256: Some(sha),
            link: None,
            rdev: 0,
            dev: 0,
            ino: 0,
            nlink: 1,
            ctime_ns: now,
        });
        self.units.push(SourceUnit {
            source: format!("<<{name}"),
            path: String::new(),
            name: name.trim_start_matches('/').to_string(),
            kind: UnitKind::Inline { data },
            range: start..start + 1,
        });
    }

    /// A compact summary to keep for [`Selection::describe_change`].
    pub fn summary(&self) -> SelectionSummary {
        let mut items: Vec<SummaryItem> = Vec::with_capacity(self.entries.len());
        for u in &self.units {
            for e in self.entries.range(u.range.clone()) {
                let path = display_path(u, &e.rel);
                let mut content = [0u8; 16];
                if let Some(s) = &e.sha256 {
                    content.copy_from_slice(&s[..16]);
                } else if let Some(l) = &e.link {
                    let d: [u8; 32] = Sha256::digest(l.as_bytes()).into();
                    content.copy_from_slice(&d[..16]);
                }
                items.push(SummaryItem {
                    path,
                    kind: e.kind.code(),
                    mode: e.mode,
                    uid: e.uid,
                    gid: e.gid,
                    content,
                });
            }
        }
        items.sort_by(|a, b| a.path.cmp(&b.path));
        items.dedup_by(|a, b| a.path == b.path);
        SelectionSummary { items }
    }

    /// For `--explain`: what differs from a previous build's selection
    /// (`"app.js: content changed"`, `"run.sh: mode 644 -> 755"`,
    /// `"new.txt: added"`, `"old.txt: removed"`, `" and 3 more"`), or
    /// `None` when the entries are the same.
    pub fn describe_change(&self, previous: &SelectionSummary) -> Option<String> {
        self.summary().diff(previous)
    }
}

fn put_str(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_le_bytes());
    h.update(s.as_bytes());
}

/// An entry's part of [`Selection::checksum`], appended to `b`.
fn put_entry(b: &mut Vec<u8>, e: &SelectedEntry) {
    let put_str = |b: &mut Vec<u8>, s: &str| {
        b.extend_from_slice(&(s.len() as u64).to_le_bytes());
        b.extend_from_slice(s.as_bytes());
    };
    b.push(b'E');
    put_str(b, &e.rel);
    b.push(e.kind.code());
    b.extend_from_slice(&e.mode.to_le_bytes());
    b.extend_from_slice(&e.uid.to_le_bytes());
    b.extend_from_slice(&e.gid.to_le_bytes());
    match e.kind {
        EntryKind::File => b.extend_from_slice(&e.sha256.unwrap_or([0; 32])),
        EntryKind::Symlink => put_str(b, e.link.as_deref().unwrap_or("")),
        EntryKind::CharDevice | EntryKind::BlockDevice => {
            b.extend_from_slice(&e.rdev.to_le_bytes())
        }
        _ => {}
    }
}

fn display_path(u: &SourceUnit, rel: &str) -> String {
    let base = match &u.kind {
        UnitKind::Remote { url, .. } => return url.clone(),
        UnitKind::Inline { .. } => return u.source.clone(),
        _ if u.path.is_empty() => ".",
        _ => u.path.as_str(),
    };
    if rel.is_empty() {
        base.to_string()
    } else if base == "." {
        rel.to_string()
    } else {
        format!("{base}/{rel}")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SummaryItem {
    path: String,
    kind: u8,
    mode: u32,
    uid: u32,
    gid: u32,
    content: [u8; 16],
}

/// A compact record of a selection (paths and per-entry attributes, 16
/// bytes of each content digest), to store with a cache record and compare
/// on the next build. [`SelectionSummary::encode`] /
/// [`SelectionSummary::decode`] give a stable binary form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectionSummary {
    items: Vec<SummaryItem>,
}

const SUMMARY_MAGIC: &[u8] = b"SSS1";

impl SelectionSummary {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The binary form (paths prefix-compressed against the previous one).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.items.len() * 40);
        out.extend_from_slice(SUMMARY_MAGIC);
        put_var(&mut out, self.items.len() as u64);
        let mut prev: &str = "";
        for it in &self.items {
            let common = prev
                .bytes()
                .zip(it.path.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            // Only cut at a char boundary.
            let mut common = common;
            while !it.path.is_char_boundary(common) {
                common -= 1;
            }
            put_var(&mut out, common as u64);
            let tail = &it.path.as_bytes()[common..];
            put_var(&mut out, tail.len() as u64);
            out.extend_from_slice(tail);
            out.push(it.kind);
            put_var(&mut out, u64::from(it.mode));
            put_var(&mut out, u64::from(it.uid));
            put_var(&mut out, u64::from(it.gid));
            out.extend_from_slice(&it.content);
            prev = &it.path;
        }
        out
    }

    /// Parses [`SelectionSummary::encode`]'s output; `None` if malformed.
    pub fn decode(mut b: &[u8]) -> Option<SelectionSummary> {
        b = b.strip_prefix(SUMMARY_MAGIC)?;
        let n = get_var(&mut b)? as usize;
        let mut items: Vec<SummaryItem> = Vec::with_capacity(n.min(1 << 20));
        let mut prev = String::new();
        for _ in 0..n {
            let common = get_var(&mut b)? as usize;
            let len = get_var(&mut b)? as usize;
            if common > prev.len() || b.len() < len {
                return None;
            }
            let mut path = prev.as_bytes()[..common].to_vec();
            path.extend_from_slice(&b[..len]);
            b = &b[len..];
            let path = String::from_utf8(path).ok()?;
            let (&kind, rest) = b.split_first()?;
            b = rest;
            let mode = u32::try_from(get_var(&mut b)?).ok()?;
            let uid = u32::try_from(get_var(&mut b)?).ok()?;
            let gid = u32::try_from(get_var(&mut b)?).ok()?;
            if b.len() < 16 {
                return None;
            }
            let mut content = [0u8; 16];
            content.copy_from_slice(&b[..16]);
            b = &b[16..];
            prev.clone_from(&path);
            items.push(SummaryItem {
                path,
                kind,
                mode,
                uid,
                gid,
                content,
            });
        }
        b.is_empty().then_some(SelectionSummary { items })
    }

    fn diff(&self, previous: &SelectionSummary) -> Option<String> {
        let (mut i, mut j) = (0, 0);
        let (a, b) = (&self.items, &previous.items);
        let mut changes: Vec<String> = Vec::new();
        let mut count = 0usize;
        let mut note = |s: String, changes: &mut Vec<String>| {
            count += 1;
            if changes.len() < 3 {
                changes.push(s);
            }
        };
        while i < a.len() || j < b.len() {
            match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) if x.path == y.path => {
                    if let Some(what) = item_change(y, x) {
                        note(format!("{}: {what}", x.path), &mut changes);
                    }
                    i += 1;
                    j += 1;
                }
                (Some(x), Some(y)) if x.path < y.path => {
                    note(format!("{}: added", x.path), &mut changes);
                    i += 1;
                }
                (Some(x), None) => {
                    note(format!("{}: added", x.path), &mut changes);
                    i += 1;
                }
                (_, Some(y)) => {
                    note(format!("{}: removed", y.path), &mut changes);
                    j += 1;
                }
                (None, None) => break,
            }
        }
        if count == 0 {
            return None;
        }
        let mut s = changes.join(", ");
        if count > changes.len() {
            s.push_str(&format!(" and {} more", count - changes.len()));
        }
        Some(s)
    }
}

fn item_change(old: &SummaryItem, new: &SummaryItem) -> Option<String> {
    if old.kind != new.kind {
        return Some(format!(
            "{} -> {}",
            EntryKind::name(old.kind),
            EntryKind::name(new.kind)
        ));
    }
    if old.content != new.content {
        return Some(if new.kind == b'l' {
            "symlink target changed".into()
        } else {
            "content changed".into()
        });
    }
    if old.mode != new.mode {
        return Some(format!("mode {:o} -> {:o}", old.mode, new.mode));
    }
    if (old.uid, old.gid) != (new.uid, new.gid) {
        return Some(format!(
            "owner {}:{} -> {}:{}",
            old.uid, old.gid, new.uid, new.gid
        ));
    }
    None
}

fn put_var(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_var(b: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = b.split_first()?;
        *b = rest;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(unit: u32, rel: &str, sha: u8, mode: u32) -> SelectedEntry {
        SelectedEntry {
            unit,
            rel: rel.into(),
            kind: EntryKind::File,
            mode,
            uid: 0,
            gid: 0,
            size: 1,
            mtime_ns: 1,
            sha256: Some([sha; 32]),
            link: None,
            rdev: 0,
            dev: 1,
            ino: u64::from(sha),
            nlink: 1,
            ctime_ns: 1,
        }
    }

    fn sel(entries: Vec<SelectedEntry>) -> Selection {
        let n = entries.len();
        Selection {
            command: super::super::Command::Copy,
            units: vec![SourceUnit {
                source: "src/".into(),
                path: "src".into(),
                name: "src".into(),
                kind: UnitKind::Dir,
                range: 0..n,
            }],
            entries: entries.into(),
            stats: SelectStats::default(),
        }
    }

    /// A selection holds one entry per file, and a no-op rebuild pays for
    /// each page of them (20,000 entries of 160 bytes were 780 page faults).
    #[test]
    fn an_entry_stays_small() {
        assert!(std::mem::size_of::<SelectedEntry>() <= 136);
    }

    #[test]
    fn checksum_ignores_times_but_not_mode_or_content() {
        let a = sel(vec![entry(0, "a", 1, 0o644), entry(0, "b", 2, 0o644)]);
        let mut t = a.clone();
        t.entries[0].mtime_ns = 99;
        t.entries[0].ctime_ns = 99;
        assert_eq!(a.checksum(), t.checksum());
        let mut m = a.clone();
        m.entries[1].mode = 0o755;
        assert_ne!(a.checksum(), m.checksum());
        let mut c = a.clone();
        c.entries[1].sha256 = Some([7; 32]);
        assert_ne!(a.checksum(), c.checksum());
    }

    #[test]
    fn summary_roundtrip_and_explain() {
        let old = sel(vec![
            entry(0, "a", 1, 0o644),
            entry(0, "b", 2, 0o644),
            entry(0, "c", 3, 0o644),
        ]);
        let enc = old.summary().encode();
        let back = SelectionSummary::decode(&enc).unwrap();
        assert_eq!(back, old.summary());
        assert_eq!(old.describe_change(&back), None);
        let new = sel(vec![
            entry(0, "a", 9, 0o644),
            entry(0, "b", 2, 0o755),
            entry(0, "d", 4, 0o644),
        ]);
        let why = new.describe_change(&back).unwrap();
        assert_eq!(
            why,
            "src/a: content changed, src/b: mode 644 -> 755, src/c: removed and 1 more"
        );
        assert!(SelectionSummary::decode(&enc[..enc.len() - 1]).is_none());
        assert!(SelectionSummary::decode(b"junk").is_none());
    }
}
