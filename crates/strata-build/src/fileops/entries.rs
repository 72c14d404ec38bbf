//! [`Entries`]: a selection's entries in order, kept in the pieces they
//! were made in (the walk's one-directory listings) rather than copied
//! into one vector. 20,000 entries are 3.4 MB: making one vector of them
//! cost a no-op rebuild 1.1 ms of a single core (the pages, then the
//! copy), after its walk and before its cache key.

use std::ops::{Index, IndexMut, Range};

use super::selection::SelectedEntry;

/// Entries in order, indexed as one sequence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entries {
    chunks: Vec<Vec<SelectedEntry>>,
    /// The index of each chunk's first entry.
    starts: Vec<usize>,
    len: usize,
    /// Whether the last chunk takes [`Entries::push`]es (a chunk moved
    /// in whole is not grown: that would copy it).
    last_open: bool,
}

impl Entries {
    /// No entries.
    pub fn new() -> Entries {
        Entries::default()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds one entry at the end. A chunk opened here starts small: the
    /// walk pushes each sub-directory's own entry between two directories
    /// moved in whole, so most such chunks hold one entry.
    pub fn push(&mut self, e: SelectedEntry) {
        if !self.last_open {
            self.new_chunk(Vec::with_capacity(1));
            self.last_open = true;
        }
        if let Some(last) = self.chunks.last_mut() {
            last.push(e);
            self.len += 1;
        }
    }

    /// Moves `v`'s entries in at the end, without copying them.
    pub fn append_vec(&mut self, v: Vec<SelectedEntry>) {
        if v.is_empty() {
            return;
        }
        self.len += v.len();
        self.new_chunk(v);
        self.last_open = false;
    }

    fn new_chunk(&mut self, v: Vec<SelectedEntry>) {
        self.starts.push(self.len - v.len());
        self.chunks.push(v);
    }

    /// Keeps the first `len` entries.
    pub fn truncate(&mut self, len: usize) {
        while self.len > len {
            let (Some(last), Some(&start)) = (self.chunks.last_mut(), self.starts.last()) else {
                break;
            };
            if start >= len {
                self.len = start;
                self.chunks.pop();
                self.starts.pop();
                // A chunk of pushes may be under a moved-in one: new
                // pushes start a chunk of their own.
                self.last_open = false;
            } else {
                last.truncate(len - start);
                self.len = len;
            }
        }
    }

    /// The entry at `i`.
    pub fn get(&self, i: usize) -> Option<&SelectedEntry> {
        let k = self.chunk_of(i)?;
        self.chunks[k].get(i - self.starts[k])
    }

    /// The entry at `i`, to change.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut SelectedEntry> {
        let k = self.chunk_of(i)?;
        let start = self.starts[k];
        self.chunks[k].get_mut(i - start)
    }

    /// The chunk holding entry `i`.
    fn chunk_of(&self, i: usize) -> Option<usize> {
        if i >= self.len {
            return None;
        }
        Some(self.starts.partition_point(|&s| s <= i) - 1)
    }

    /// All entries in order.
    pub fn iter(&self) -> impl Iterator<Item = &SelectedEntry> + Clone {
        self.chunks.iter().flatten()
    }

    /// The entries at `r` (clamped to the end), in order.
    pub fn range(&self, r: Range<usize>) -> impl Iterator<Item = &SelectedEntry> + Clone {
        let first = if r.start < self.len {
            self.starts.partition_point(|&s| s <= r.start) - 1
        } else {
            self.chunks.len()
        };
        self.chunks[first..]
            .iter()
            .zip(&self.starts[first..])
            .take_while(move |(_, s)| **s < r.end)
            .flat_map(move |(c, &s)| {
                let lo = r.start.saturating_sub(s).min(c.len());
                let hi = r.end.saturating_sub(s).min(c.len());
                &c[lo..hi]
            })
    }
}

impl Index<usize> for Entries {
    type Output = SelectedEntry;

    fn index(&self, i: usize) -> &SelectedEntry {
        match self.get(i) {
            Some(e) => e,
            None => panic!("entry {i} of {}", self.len),
        }
    }
}

impl IndexMut<usize> for Entries {
    fn index_mut(&mut self, i: usize) -> &mut SelectedEntry {
        let len = self.len;
        match self.get_mut(i) {
            Some(e) => e,
            None => panic!("entry {i} of {len}"),
        }
    }
}

impl From<Vec<SelectedEntry>> for Entries {
    fn from(v: Vec<SelectedEntry>) -> Entries {
        let mut es = Entries::new();
        es.append_vec(v);
        es
    }
}

impl<'a> IntoIterator for &'a Entries {
    type Item = &'a SelectedEntry;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Vec<SelectedEntry>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.chunks.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fileops::EntryKind;

    fn e(n: usize) -> SelectedEntry {
        SelectedEntry {
            unit: 0,
            rel: n.to_string().into(),
            kind: EntryKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: n as u64,
            mtime_ns: 0,
            sha256: None,
            link: None,
            rdev: 0,
            dev: 0,
            ino: 0,
            nlink: 1,
            ctime_ns: 0,
        }
    }

    fn names<'a>(it: impl Iterator<Item = &'a SelectedEntry>) -> Vec<String> {
        it.map(|x| x.rel.to_string()).collect()
    }

    /// Pushes and moved-in vectors, mixed as the walk mixes them, read
    /// back as one vector holding the same entries would be.
    #[test]
    fn reads_as_one_vector() {
        let mut es = Entries::new();
        let mut flat: Vec<SelectedEntry> = Vec::new();
        let mut n = 0;
        for (pushes, moved) in [(1, 3), (0, 0), (2, 5), (1, 0), (0, 4), (3, 1)] {
            for _ in 0..pushes {
                es.push(e(n));
                flat.push(e(n));
                n += 1;
            }
            let v: Vec<SelectedEntry> = (n..n + moved).map(e).collect();
            flat.extend(v.iter().cloned());
            es.append_vec(v);
            n += moved;
        }
        assert_eq!(es.len(), flat.len());
        assert_eq!(names(es.iter()), names(flat.iter()));
        assert_eq!(names((&es).into_iter()), names(flat.iter()));
        for i in 0..flat.len() {
            assert_eq!(es[i], flat[i], "{i}");
        }
        assert!(es.get(flat.len()).is_none());
        for a in 0..=flat.len() + 1 {
            for b in a..=flat.len() + 2 {
                let want = names(flat[a.min(flat.len())..b.min(flat.len())].iter());
                assert_eq!(names(es.range(a..b)), want, "{a}..{b}");
            }
        }
        es[7].size = 99;
        assert_eq!(es.get(7).map(|x| x.size), Some(99));
    }

    #[test]
    fn truncate_then_push_continues_in_order() {
        for cut in 0..=12 {
            let mut es = Entries::new();
            es.push(e(0));
            es.append_vec((1..6).map(e).collect());
            es.push(e(6));
            es.append_vec((7..12).map(e).collect());
            es.truncate(cut);
            assert_eq!(es.len(), cut);
            es.push(e(100));
            es.append_vec(vec![e(101)]);
            let mut want: Vec<String> = (0..cut).map(|i| i.to_string()).collect();
            want.extend(["100".to_string(), "101".to_string()]);
            assert_eq!(names(es.iter()), want, "cut {cut}");
            assert_eq!(&*es[cut].rel, "100");
        }
    }
}
