//! The tar wire format strata writes, and the PAX parsing it reads.
//!
//! Writing: one POSIX ustar block per entry, preceded by a PAX `x` header
//! when a value does not fit ustar (path > ustar's name/prefix split,
//! linkpath > 100 bytes, uid/gid > 2097151, size ≥ 8 GiB, mtime outside
//! 0..8^11) or the entry carries xattrs (`SCHILY.xattr.<name>`). Records are
//! sorted by key, as Go's archive/tar does; no atime/ctime, no sub-second
//! mtime, empty uname/gname. The bytes depend only on the [`Entry`] given,
//! which is what makes layers reproducible.
//!
//! Reading: the `tar` crate parses PAX records by splitting on `\n`, which
//! breaks on binary xattr values (a `security.capability` can contain
//! `0x0a`). [`parse_extension_chain`] re-parses the extension headers that
//! precede an entry with the length-prefixed record grammar of POSIX.

use std::fmt;

/// Size of a tar block.
pub(crate) const BLOCK: usize = 512;
const MAX_OCTAL_7: u64 = 0o777_7777;
const MAX_OCTAL_11: u64 = 0o777_7777_7777;

/// One PAX record or xattr: (key or name, value), both raw bytes.
pub(crate) type Record = (Vec<u8>, Vec<u8>);

/// Entry kinds strata writes, with their ustar typeflag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Regular,
    Link,
    Symlink,
    Char,
    Block,
    Dir,
    Fifo,
}

impl Kind {
    fn typeflag(self) -> u8 {
        match self {
            Kind::Regular => b'0',
            Kind::Link => b'1',
            Kind::Symlink => b'2',
            Kind::Char => b'3',
            Kind::Block => b'4',
            Kind::Dir => b'5',
            Kind::Fifo => b'6',
        }
    }
}

/// Everything that goes into one entry's header(s).
#[derive(Debug, Clone)]
pub(crate) struct Entry<'a> {
    /// Full relative name; directories end in `/`.
    pub path: &'a [u8],
    /// Link target for `Link`/`Symlink`.
    pub link: &'a [u8],
    pub kind: Kind,
    /// Permission bits incl. setuid/setgid/sticky (`& 0o7777`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Data size (regular files only; 0 otherwise).
    pub size: u64,
    /// Whole seconds since the epoch.
    pub mtime: i64,
    pub dev_major: u32,
    pub dev_minor: u32,
    /// xattrs, sorted by name.
    pub xattrs: &'a [Record],
}

fn octal(field: &mut [u8], v: u64) {
    // `field.len() - 1` zero-padded octal digits then NUL, as GNU and Go write.
    let digits = field.len() - 1;
    let mut v = v;
    for i in (0..digits).rev() {
        field[i] = b'0' + (v & 7) as u8;
        v >>= 3;
    }
    field[digits] = 0;
}

fn put(field: &mut [u8], s: &[u8]) {
    let n = s.len().min(field.len());
    field[..n].copy_from_slice(&s[..n]);
}

/// Splits `path` into ustar (prefix, name) if it fits.
fn split_ustar(path: &[u8]) -> Option<(&[u8], &[u8])> {
    if path.len() <= 100 {
        return Some((&[], path));
    }
    // Split at a '/' (not a directory's trailing one) with prefix <= 155.
    let search = &path[..path.len().saturating_sub(1).min(156)];
    let i = search.iter().rposition(|b| *b == b'/')?;
    let (prefix, name) = (&path[..i], &path[i + 1..]);
    (prefix.len() <= 155 && !name.is_empty() && name.len() <= 100).then_some((prefix, name))
}

/// One PAX record, `"<len> <key>=<value>\n"` where `<len>` counts itself.
pub(crate) fn pax_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let base = key.len() + value.len() + 3;
    let mut len = base + decimal_len(base);
    while base + decimal_len(len) != len {
        len = base + decimal_len(len);
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn decimal_len(n: usize) -> usize {
    n.to_string().len()
}

/// The fields of one ustar block, already fitted to their widths.
#[derive(Clone, Copy)]
struct Block<'a> {
    name: &'a [u8],
    prefix: &'a [u8],
    link: &'a [u8],
    typeflag: u8,
    mode: u32,
    ids: (u64, u64),
    size: u64,
    mtime: u64,
    dev: Option<(u32, u32)>,
}

fn ustar_block(h: &Block<'_>) -> [u8; BLOCK] {
    let Block {
        name,
        prefix,
        link,
        typeflag,
        mode,
        ids,
        size,
        mtime,
        dev,
    } = *h;
    let mut b = [0u8; BLOCK];
    put(&mut b[0..100], name);
    octal(&mut b[100..108], u64::from(mode));
    octal(&mut b[108..116], ids.0);
    octal(&mut b[116..124], ids.1);
    octal(&mut b[124..136], size);
    octal(&mut b[136..148], mtime);
    b[156] = typeflag;
    put(&mut b[157..257], link);
    b[257..263].copy_from_slice(b"ustar\0");
    b[263..265].copy_from_slice(b"00");
    if let Some((ma, mi)) = dev {
        octal(&mut b[329..337], u64::from(ma));
        octal(&mut b[337..345], u64::from(mi));
    }
    put(&mut b[345..500], prefix);
    b[148..156].fill(b' ');
    let sum: u32 = b.iter().map(|x| u32::from(*x)).sum();
    octal(&mut b[148..155], u64::from(sum));
    b[155] = b' ';
    b
}

/// Appends the header block(s) of `e` (PAX header and data if needed, then
/// the ustar block) to `out`. Data and padding are the caller's.
pub(crate) fn encode_header(e: &Entry<'_>, out: &mut Vec<u8>) {
    let mut pax = Vec::new();
    let (prefix, name) = match split_ustar(e.path) {
        Some(split) => split,
        None => (&[][..], &e.path[..e.path.len().min(100)]),
    };
    let path_in_pax = split_ustar(e.path).is_none();
    let link_in_pax = e.link.len() > 100;
    let fit = |v: u64, max: u64| if v <= max { v } else { 0 };
    let (uid, gid, size) = (
        fit(e.uid, MAX_OCTAL_7),
        fit(e.gid, MAX_OCTAL_7),
        fit(e.size, MAX_OCTAL_11),
    );
    let mtime = u64::try_from(e.mtime).ok().filter(|m| *m <= MAX_OCTAL_11);
    // Records in key order (byte-wise): uppercase SCHILY.* sort first.
    for (k, v) in e.xattrs {
        let mut key = b"SCHILY.xattr.".to_vec();
        key.extend_from_slice(k);
        pax_record(&mut pax, &key, v);
    }
    if gid != e.gid {
        pax_record(&mut pax, b"gid", e.gid.to_string().as_bytes());
    }
    if link_in_pax {
        pax_record(&mut pax, b"linkpath", e.link);
    }
    if mtime.is_none() {
        pax_record(&mut pax, b"mtime", e.mtime.to_string().as_bytes());
    }
    if path_in_pax {
        pax_record(&mut pax, b"path", e.path);
    }
    if size != e.size {
        pax_record(&mut pax, b"size", e.size.to_string().as_bytes());
    }
    if uid != e.uid {
        pax_record(&mut pax, b"uid", e.uid.to_string().as_bytes());
    }
    if !pax.is_empty() {
        // Name the PAX header as Go does: <dir>/PaxHeaders.0/<base>.
        let trimmed = e.path.strip_suffix(b"/").unwrap_or(e.path);
        let (dir, base) = match trimmed.iter().rposition(|b| *b == b'/') {
            Some(i) => (&trimmed[..=i], &trimmed[i + 1..]),
            None => (&[][..], trimmed),
        };
        let mut pname = dir.to_vec();
        pname.extend_from_slice(b"PaxHeaders.0/");
        pname.extend_from_slice(base);
        pname.truncate(100);
        out.extend_from_slice(&ustar_block(&Block {
            name: &pname,
            prefix: &[],
            link: &[],
            typeflag: b'x',
            mode: 0o644,
            ids: (0, 0),
            size: pax.len() as u64,
            mtime: 0,
            dev: None,
        }));
        out.extend_from_slice(&pax);
        pad(out, pax.len() as u64);
    }
    let link = if link_in_pax { &e.link[..100] } else { e.link };
    let dev = matches!(e.kind, Kind::Char | Kind::Block).then_some((e.dev_major, e.dev_minor));
    out.extend_from_slice(&ustar_block(&Block {
        name,
        prefix,
        link,
        typeflag: e.kind.typeflag(),
        mode: e.mode & 0o7777,
        ids: (uid, gid),
        size,
        mtime: mtime.unwrap_or(0),
        dev,
    }));
}

/// Appends zero padding so `len` bytes of data end on a block boundary.
pub(crate) fn pad(out: &mut Vec<u8>, len: u64) {
    let rem = (len % BLOCK as u64) as usize;
    if rem != 0 {
        out.resize(out.len() + BLOCK - rem, 0);
    }
}

/// Rounds up to a multiple of [`BLOCK`].
pub(crate) fn round_up(n: u64) -> Option<u64> {
    n.checked_add(BLOCK as u64 - 1)
        .map(|v| v & !(BLOCK as u64 - 1))
}

/// A malformed extension header or PAX record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FormatError(pub String);

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses PAX extended-header data into (key, value) records, validating
/// every length prefix; values may hold any byte, including `\n`.
pub(crate) fn parse_pax(mut data: &[u8]) -> Result<Vec<Record>, FormatError> {
    let bad = |why: &str| FormatError(format!("malformed PAX record: {why}"));
    let mut out = Vec::new();
    // Data may be NUL-padded by some writers.
    while !data.is_empty() && data[0] != 0 {
        let sp = data
            .iter()
            .position(|b| *b == b' ')
            .filter(|i| *i > 0 && *i <= 20)
            .ok_or_else(|| bad("missing length"))?;
        let len: usize = std::str::from_utf8(&data[..sp])
            .ok()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("bad length"))?;
        if len <= sp + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(bad("length does not match record"));
        }
        let rec = &data[sp + 1..len - 1];
        let eq = rec
            .iter()
            .position(|b| *b == b'=')
            .filter(|i| *i > 0)
            .ok_or_else(|| bad("missing key"))?;
        out.push((rec[..eq].to_vec(), rec[eq + 1..].to_vec()));
        data = &data[len..];
    }
    Ok(out)
}

/// Parses a numeric header field: octal (space/NUL padded) or GNU base-256.
pub(crate) fn parse_numeric(field: &[u8]) -> Result<u64, FormatError> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        if field[0] & 0x40 != 0 {
            return Err(FormatError("negative base-256 number".into()));
        }
        let mut v: u64 = u64::from(field[0] & 0x3f);
        for b in &field[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(*b)))
                .ok_or_else(|| FormatError("base-256 number overflows".into()))?;
        }
        return Ok(v);
    }
    let s: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|b| *b == b' ')
        .take_while(|b| *b != 0 && *b != b' ')
        .collect();
    if s.is_empty() {
        return Ok(0);
    }
    std::str::from_utf8(&s)
        .ok()
        .and_then(|s| u64::from_str_radix(s, 8).ok())
        .ok_or_else(|| FormatError(format!("bad octal field {:?}", String::from_utf8_lossy(&s))))
}

/// What the extension headers in front of one entry said.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Extensions {
    /// Records of the (last) PAX `x` header.
    pub pax: Vec<Record>,
    /// A GNU `L` long-name header was present.
    pub gnu_long_name: bool,
    /// A GNU `K` long-link header was present.
    pub gnu_long_link: bool,
}

impl Extensions {
    /// The value of PAX record `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.pax
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }
}

/// Walks the extension headers in `blocks` (the raw bytes that precede an
/// entry's own header, starting at a header boundary) and collects them.
pub(crate) fn parse_extension_chain(blocks: &[u8]) -> Result<Extensions, FormatError> {
    let mut ext = Extensions::default();
    let mut off = 0usize;
    while off < blocks.len() {
        let hdr = blocks
            .get(off..off + BLOCK)
            .ok_or_else(|| FormatError("extension header cut short".into()))?;
        let size = parse_numeric(&hdr[124..136])?;
        let size_us = usize::try_from(size).map_err(|_| FormatError("huge extension".into()))?;
        let data_start = off + BLOCK;
        let data = data_start
            .checked_add(size_us)
            .and_then(|end| blocks.get(data_start..end))
            .ok_or_else(|| FormatError("extension data cut short".into()))?;
        match hdr[156] {
            b'x' => ext.pax = parse_pax(data)?,
            b'L' => ext.gnu_long_name = true,
            b'K' => ext.gnu_long_link = true,
            _ => {}
        }
        let padded = round_up(size).ok_or_else(|| FormatError("size overflow".into()))?;
        off = data_start + padded as usize;
    }
    Ok(ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(path: &'a [u8], xattrs: &'a [(Vec<u8>, Vec<u8>)]) -> Entry<'a> {
        Entry {
            path,
            link: b"",
            kind: Kind::Regular,
            mode: 0o4755,
            uid: 0,
            gid: 0,
            size: 5,
            mtime: 1_700_000_000,
            dev_major: 0,
            dev_minor: 0,
            xattrs,
        }
    }

    #[test]
    fn pax_record_length_counts_itself() {
        for n in [
            0usize, 1, 5, 6, 7, 90, 95, 96, 97, 98, 99, 100, 995, 996, 1000,
        ] {
            let mut out = Vec::new();
            pax_record(&mut out, b"k", &vec![b'v'; n]);
            let sp = out.iter().position(|b| *b == b' ').unwrap();
            let len: usize = std::str::from_utf8(&out[..sp]).unwrap().parse().unwrap();
            assert_eq!(len, out.len(), "value len {n}");
            assert_eq!(
                parse_pax(&out).unwrap(),
                vec![(b"k".to_vec(), vec![b'v'; n])]
            );
        }
    }

    #[test]
    fn pax_values_may_hold_newlines() {
        let mut out = Vec::new();
        pax_record(
            &mut out,
            b"SCHILY.xattr.security.capability",
            b"\x01\n\x00=\n",
        );
        pax_record(&mut out, b"path", b"a/b");
        let recs = parse_pax(&out).unwrap();
        assert_eq!(recs[0].1, b"\x01\n\x00=\n");
        assert_eq!(recs[1], (b"path".to_vec(), b"a/b".to_vec()));
        for bad in [
            &b"5 a=b\n"[..],
            b"x a=b\n",
            b"99 a=b\n",
            b"6 =bc\n",
            b"6 abc \n",
        ] {
            assert!(parse_pax(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn short_entries_are_plain_ustar_and_readable_by_tar_crate() {
        let mut out = Vec::new();
        encode_header(&entry(b"usr/bin/x", &[]), &mut out);
        assert_eq!(out.len(), BLOCK);
        out.extend_from_slice(b"hello");
        pad(&mut out, 5);
        out.extend_from_slice(&[0; 1024]);
        let mut ar = tar::Archive::new(&out[..]);
        let mut entries = ar.entries().unwrap();
        let e = entries.next().unwrap().unwrap();
        assert_eq!(&*e.path_bytes(), b"usr/bin/x");
        assert_eq!(e.header().mode().unwrap(), 0o4755);
        assert_eq!(e.header().mtime().unwrap(), 1_700_000_000);
        assert_eq!(e.header().username_bytes(), Some(&b""[..]));
        assert!(entries.next().is_none());
    }

    #[test]
    fn long_values_go_to_pax() {
        let long: Vec<u8> = (0..300).map(|i| b'a' + (i % 26) as u8).collect();
        let xattrs = vec![(b"user.k".to_vec(), b"v\nw".to_vec())];
        let mut e = entry(&long, &xattrs);
        e.uid = 3_000_000;
        e.size = 9 << 30;
        e.mtime = -5;
        let mut out = Vec::new();
        encode_header(&e, &mut out);
        let ext = parse_extension_chain(&out[..out.len() - BLOCK]).unwrap();
        assert_eq!(ext.get(b"path"), Some(&long[..]));
        assert_eq!(ext.get(b"uid"), Some(&b"3000000"[..]));
        assert_eq!(ext.get(b"size"), Some(&b"9663676416"[..]));
        assert_eq!(ext.get(b"mtime"), Some(&b"-5"[..]));
        assert_eq!(ext.get(b"SCHILY.xattr.user.k"), Some(&b"v\nw"[..]));
        assert_eq!(ext.get(b"gid"), None);
        let keys: Vec<_> = ext.pax.iter().map(|(k, _)| k.clone()).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn ustar_prefix_split() {
        let p = format!("{}/{}", "d".repeat(120), "f".repeat(90));
        let (pre, name) = split_ustar(p.as_bytes()).unwrap();
        assert_eq!((pre.len(), name.len()), (120, 90));
        let dir = format!("{}/{}/", "d".repeat(120), "e".repeat(20));
        let (pre, name) = split_ustar(dir.as_bytes()).unwrap();
        assert_eq!(name, format!("{}/", "e".repeat(20)).as_bytes());
        assert_eq!(pre.len(), 120);
        assert!(split_ustar("x".repeat(101).as_bytes()).is_none());
    }

    #[test]
    fn numeric_fields() {
        assert_eq!(parse_numeric(b"0000644\0").unwrap(), 0o644);
        assert_eq!(parse_numeric(b"  644 \0").unwrap(), 0o644);
        assert_eq!(parse_numeric(b"\0\0\0").unwrap(), 0);
        assert_eq!(parse_numeric(&[0x80, 0, 0, 1, 0]).unwrap(), 256);
        assert!(parse_numeric(b"0009\0").is_err());
        assert!(parse_numeric(&[0xff; 12]).is_err());
    }
}
