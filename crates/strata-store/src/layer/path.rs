//! Lexical handling of tar entry names: cleaning, parent/name split and the
//! OCI whiteout naming rules. Pure functions, no I/O.
//!
//! Cleaning is where `..` is neutralised: a tar path is interpreted as if the
//! target directory were `/`, so `../x`, `/x` and `a/../../x` all mean `x`
//! (clamped, as containerd's `fs.RootPath` does, rather than rejected as
//! moby does). The result is the same rule the kernel applies to symlinks
//! under `RESOLVE_IN_ROOT`, so one mental model covers names and links.

/// OCI whiteout file prefix.
pub const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// OCI opaque-directory marker.
pub const WHITEOUT_OPAQUE: &[u8] = b".wh..wh..opq";
/// Prefix of AUFS metadata entries (`.wh..wh.plnk`, `.wh..wh.aufs`), skipped.
pub const WHITEOUT_META_PREFIX: &[u8] = b".wh..wh.";

/// A cleaned, root-relative tar path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CleanPath {
    /// Components joined by `/`: no leading or trailing `/`, no `.` or `..`,
    /// no empty component. Empty means the root itself.
    pub rel: Vec<u8>,
    /// True when a `..` tried to climb above the root (and was clamped) or
    /// the name was absolute.
    pub clamped: bool,
}

/// Cleans a raw tar name: strips a leading `/`, drops empty and `.`
/// components, resolves `..` lexically without ever going above the root.
pub(crate) fn clean(raw: &[u8]) -> CleanPath {
    let mut parts: Vec<&[u8]> = Vec::new();
    let mut clamped = raw.first() == Some(&b'/');
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                if parts.pop().is_none() {
                    clamped = true;
                }
            }
            c => parts.push(c),
        }
    }
    CleanPath {
        rel: parts.join(&b'/'),
        clamped,
    }
}

/// Splits a cleaned path into (parent, final name); the parent of a single
/// component is the empty path (the root).
pub(crate) fn split_parent(rel: &[u8]) -> (&[u8], &[u8]) {
    match rel.iter().rposition(|b| *b == b'/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => (&[], rel),
    }
}

/// Joins a cleaned parent and a name.
pub(crate) fn join(parent: &[u8], name: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(parent.len() + 1 + name.len());
    v.extend_from_slice(parent);
    if !parent.is_empty() {
        v.push(b'/');
    }
    v.extend_from_slice(name);
    v
}

/// What an entry's final name means under the OCI whiteout rules.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Whiteout<'a> {
    /// An ordinary name.
    No,
    /// `.wh..wh..opq`: hide everything lower layers put in the parent dir.
    Opaque,
    /// `.wh.<name>`: hide `<name>` from lower layers.
    Remove(&'a [u8]),
    /// `.wh..wh.<other>`: AUFS bookkeeping, ignored.
    Meta,
    /// `.wh.`, `.wh..` or `.wh...`: would hide the parent itself; invalid.
    Invalid,
}

/// Classifies a final name component.
pub(crate) fn whiteout(name: &[u8]) -> Whiteout<'_> {
    if name == WHITEOUT_OPAQUE {
        return Whiteout::Opaque;
    }
    if name.starts_with(WHITEOUT_META_PREFIX) {
        return Whiteout::Meta;
    }
    match name.strip_prefix(WHITEOUT_PREFIX) {
        None => Whiteout::No,
        Some(b"" | b"." | b"..") => Whiteout::Invalid,
        Some(target) => Whiteout::Remove(target),
    }
}

/// Path bytes for messages (lossy UTF-8).
pub(crate) fn show(p: &[u8]) -> String {
    if p.is_empty() {
        "/".to_string()
    } else {
        String::from_utf8_lossy(p).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> (String, bool) {
        let p = clean(s.as_bytes());
        (String::from_utf8(p.rel).unwrap(), p.clamped)
    }

    #[test]
    fn cleaning_clamps_to_root() {
        assert_eq!(c("a/b/c"), ("a/b/c".into(), false));
        assert_eq!(c("./a//b/./c/"), ("a/b/c".into(), false));
        assert_eq!(c("../x"), ("x".into(), true));
        assert_eq!(c("/abs"), ("abs".into(), true));
        assert_eq!(c("a/../../x"), ("x".into(), true));
        assert_eq!(c("a/b/../c"), ("a/c".into(), false));
        assert_eq!(c("./"), ("".into(), false));
        assert_eq!(c("/"), ("".into(), true));
        assert_eq!(c("../../.."), ("".into(), true));
        assert_eq!(c(""), ("".into(), false));
    }

    #[test]
    fn split_and_join() {
        assert_eq!(split_parent(b"a/b/c"), (&b"a/b"[..], &b"c"[..]));
        assert_eq!(split_parent(b"c"), (&b""[..], &b"c"[..]));
        assert_eq!(join(b"", b"x"), b"x");
        assert_eq!(join(b"a/b", b"x"), b"a/b/x");
    }

    #[test]
    fn whiteout_names() {
        assert_eq!(whiteout(b"file"), Whiteout::No);
        assert_eq!(whiteout(b".wh..wh..opq"), Whiteout::Opaque);
        assert_eq!(whiteout(b".wh.foo"), Whiteout::Remove(b"foo"));
        assert_eq!(whiteout(b".wh..hidden"), Whiteout::Remove(b".hidden"));
        assert_eq!(whiteout(b".wh..wh.plnk"), Whiteout::Meta);
        assert_eq!(whiteout(b".wh."), Whiteout::Invalid);
        assert_eq!(whiteout(b".wh.."), Whiteout::Invalid);
        assert_eq!(whiteout(b".wh..."), Whiteout::Invalid);
    }
}
