//! COPY and ADD: sources and destination, inline heredoc sources, and the
//! `--from --chown --chmod --link --parents --exclude --checksum
//! --keep-git-dir --unpack` flags, with octal and symbolic `--chmod`.

use super::error::InstructionError;
use super::flags::{Flags, Kind};
use super::parse::Req;
use super::{Command, Source};
use crate::parser::{Heredoc, parse_heredoc};

/// A source given inline as a heredoc (`COPY <<EOF /dst`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineSource {
    /// File name (the heredoc delimiter).
    pub path: String,
    /// Contents (tabs already chomped for `<<-`).
    pub data: String,
    /// Whether variables in `data` are expanded (delimiter not quoted).
    pub expand: bool,
}

/// `COPY [flags] src… dest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyCommand {
    /// Source paths (globs allowed), in order.
    pub sources: Vec<String>,
    /// Heredoc sources.
    pub inline: Vec<InlineSource>,
    /// Destination.
    pub dest: String,
    /// `--from=stage|image|index`.
    pub from: Option<String>,
    /// `--chown=user[:group]`.
    pub chown: Option<String>,
    /// `--chmod=` as written; see [`CopyCommand::mode`].
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--parents`.
    pub parents: bool,
    /// `--exclude=pattern`, repeatable.
    pub excludes: Vec<String>,
    /// Where.
    pub source: Source,
}

/// `ADD [flags] src… dest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCommand {
    /// Source paths or URLs (http, https, git).
    pub sources: Vec<String>,
    /// Heredoc sources.
    pub inline: Vec<InlineSource>,
    /// Destination.
    pub dest: String,
    /// `--chown=user[:group]`.
    pub chown: Option<String>,
    /// `--chmod=` as written; see [`AddCommand::mode`].
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--exclude=pattern`, repeatable.
    pub excludes: Vec<String>,
    /// `--checksum=sha256:…` for a remote source.
    pub checksum: Option<String>,
    /// `--keep-git-dir` for git sources.
    pub keep_git_dir: bool,
    /// `--unpack` (`None`: the default, unpack local archives only).
    pub unpack: Option<bool>,
    /// Where.
    pub source: Source,
}

impl CopyCommand {
    /// The parsed `--chmod`.
    pub fn mode(&self) -> Result<Option<Chmod>, InstructionError> {
        self.chmod.as_deref().map(Chmod::parse).transpose()
    }
}

impl AddCommand {
    /// The parsed `--chmod`.
    pub fn mode(&self) -> Result<Option<Chmod>, InstructionError> {
        self.chmod.as_deref().map(Chmod::parse).transpose()
    }
}

/// One `who op perms` clause of a symbolic mode (`u+x`, `go=rx`, `a-w`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChmodClause {
    /// Bits selecting the classes: `u` 4, `g` 2, `o` 1 (all for none/`a`).
    pub who: u8,
    /// Operations in order: (`+`/`-`/`=`, permission letters or a class).
    pub ops: Vec<(char, String)>,
}

/// A `--chmod` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chmod {
    /// `0755`.
    Octal(u32),
    /// `u=rwx,go=rx`, `+x` (dockerfile 1.14+).
    Symbolic(Vec<ChmodClause>),
}

impl Chmod {
    /// Parse an octal (at most `07777`) or symbolic mode.
    pub fn parse(s: &str) -> Result<Chmod, InstructionError> {
        let bad = || InstructionError::Chmod(s.to_string());
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            let v = s.bytes().try_fold(0u64, |acc, b| {
                (b < b'8').then(|| acc.saturating_mul(8).saturating_add(u64::from(b - b'0')))
            });
            return match v {
                Some(v) if v <= 0o7777 => Ok(Chmod::Octal(v as u32)),
                _ => Err(bad()),
            };
        }
        let mut clauses = Vec::new();
        for part in s.split(',') {
            let mut who = 0u8;
            let mut it = part.chars().peekable();
            while let Some(c) = it.peek().copied() {
                match c {
                    'u' => who |= 4,
                    'g' => who |= 2,
                    'o' => who |= 1,
                    'a' => who |= 7,
                    _ => break,
                }
                it.next();
            }
            let mut ops = Vec::new();
            while let Some(op) = it.next() {
                if !matches!(op, '+' | '-' | '=') {
                    return Err(bad());
                }
                let mut perms = String::new();
                while let Some(c) = it.peek().copied() {
                    if matches!(c, '+' | '-' | '=') {
                        break;
                    }
                    if !matches!(c, 'r' | 'w' | 'x' | 'X' | 's' | 't' | 'u' | 'g' | 'o') {
                        return Err(bad());
                    }
                    perms.push(c);
                    it.next();
                }
                let copies = perms
                    .chars()
                    .filter(|c| matches!(c, 'u' | 'g' | 'o'))
                    .count();
                if copies > 0 && perms.len() != 1 {
                    return Err(bad());
                }
                ops.push((op, perms));
            }
            if ops.is_empty() {
                return Err(bad());
            }
            clauses.push(ChmodClause {
                who: if who == 0 { 7 } else { who },
                ops,
            });
        }
        Ok(Chmod::Symbolic(clauses))
    }

    /// Apply to an existing `mode` (permission and special bits) of a file
    /// or directory.
    pub fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        let clauses = match self {
            Chmod::Octal(m) => return *m,
            Chmod::Symbolic(c) => c,
        };
        let mut mode = mode & 0o7777;
        for c in clauses {
            let mut mask = 0u32;
            if c.who & 4 != 0 {
                mask |= 0o4700;
            }
            if c.who & 2 != 0 {
                mask |= 0o2070;
            }
            if c.who & 1 != 0 {
                mask |= 0o1007;
            }
            for (op, perms) in &c.ops {
                let mut bits = 0u32;
                for p in perms.chars() {
                    bits |= match p {
                        'r' => 0o444,
                        'w' => 0o222,
                        'x' => 0o111,
                        'X' if is_dir || mode & 0o111 != 0 => 0o111,
                        's' => 0o6000,
                        't' => 0o1000,
                        'u' => ((mode >> 6) & 7) * 0o111,
                        'g' => ((mode >> 3) & 7) * 0o111,
                        'o' => (mode & 7) * 0o111,
                        _ => 0,
                    };
                }
                bits &= mask;
                match op {
                    '+' => mode |= bits,
                    '-' => mode &= !bits,
                    _ => mode = (mode & !mask) | bits,
                }
            }
        }
        mode
    }
}

struct Parts {
    sources: Vec<String>,
    inline: Vec<InlineSource>,
    dest: String,
}

fn sources_and_dest(
    mut args: Vec<String>,
    heredocs: &[Heredoc],
    command: &'static str,
) -> Result<Parts, InstructionError> {
    let Some(dest) = args.pop() else {
        return Err(InstructionError::NoDestination(command));
    };
    if parse_heredoc(&dest).ok().flatten().is_some() {
        return Err(InstructionError::Heredoc {
            command,
            what: "a destination",
        });
    }
    let lookup = |name: &str| -> Option<&Heredoc> { heredocs.iter().find(|h| h.name == name) };
    let mut sources = Vec::with_capacity(args.len());
    let mut inline = Vec::new();
    for src in args {
        match parse_heredoc(&src).ok().flatten() {
            Some(h) => {
                let content = lookup(&h.name)
                    .map(|d| d.content.clone())
                    .unwrap_or_default();
                let data = if h.chomp {
                    crate::parser::chomp(&content)
                } else {
                    content
                };
                inline.push(InlineSource {
                    path: h.name,
                    data,
                    expand: h.expand,
                });
            }
            None => sources.push(src),
        }
    }
    Ok(Parts {
        sources,
        inline,
        dest,
    })
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

pub(crate) fn parse_copy(req: Req) -> Result<Command, InstructionError> {
    if req.args.len() < 2 {
        return Err(InstructionError::NoDestination("COPY"));
    }
    let mut flags = Flags::parse(
        &req.flags,
        &[
            ("chown", Kind::String),
            ("from", Kind::String),
            ("chmod", Kind::String),
            ("link", Kind::Bool),
            ("parents", Kind::Bool),
            ("exclude", Kind::Strings),
        ],
    )?;
    let parts = sources_and_dest(req.args, &req.heredocs, "COPY")?;
    Ok(Command::Copy(CopyCommand {
        sources: parts.sources,
        inline: parts.inline,
        dest: parts.dest,
        from: non_empty(flags.take("from")),
        chown: non_empty(flags.take("chown")),
        chmod: non_empty(flags.take("chmod")),
        link: flags.bool("link"),
        parents: flags.bool("parents"),
        excludes: flags.take_strings("exclude"),
        source: req.source,
    }))
}

pub(crate) fn parse_add(req: Req) -> Result<Command, InstructionError> {
    if req.args.len() < 2 {
        return Err(InstructionError::NoDestination("ADD"));
    }
    let mut flags = Flags::parse(
        &req.flags,
        &[
            ("chown", Kind::String),
            ("chmod", Kind::String),
            ("link", Kind::Bool),
            ("keep-git-dir", Kind::Bool),
            ("checksum", Kind::String),
            ("exclude", Kind::Strings),
            ("unpack", Kind::Bool),
        ],
    )?;
    let parts = sources_and_dest(req.args, &req.heredocs, "ADD")?;
    Ok(Command::Add(AddCommand {
        sources: parts.sources,
        inline: parts.inline,
        dest: parts.dest,
        chown: non_empty(flags.take("chown")),
        chmod: non_empty(flags.take("chmod")),
        link: flags.bool("link"),
        excludes: flags.take_strings("exclude"),
        checksum: non_empty(flags.take("checksum")),
        keep_git_dir: flags.bool("keep-git-dir"),
        unpack: flags.opt_bool("unpack"),
        source: req.source,
    }))
}

/// Validate an `ADD --checksum` digest (go-digest's `Parse`).
pub(crate) fn check_digest(d: &str) -> Result<(), InstructionError> {
    let Some((alg, hex)) = d
        .split_once(':')
        .filter(|(a, h)| !a.is_empty() && !h.is_empty())
    else {
        return Err(InstructionError::Checksum("invalid checksum digest format"));
    };
    let len = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(InstructionError::Checksum("unsupported digest algorithm")),
    };
    if hex.len() != len {
        return Err(InstructionError::Checksum("invalid checksum digest length"));
    }
    if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(InstructionError::Checksum("invalid checksum digest format"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_modes() {
        assert_eq!(Chmod::parse("755").unwrap(), Chmod::Octal(0o755));
        assert_eq!(Chmod::parse("0644").unwrap(), Chmod::Octal(0o644));
        assert_eq!(Chmod::parse("7777").unwrap(), Chmod::Octal(0o7777));
        for bad in ["8", "17777", "0x1", "", "u+q", "u", "+xu", "u+x,", "z+x"] {
            assert!(Chmod::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Chmod::parse("9").unwrap_err().to_string(),
            "invalid chmod parameter: '9'. it should be octal string and between 0 and 07777"
        );
    }

    #[test]
    fn symbolic_modes() {
        let m = |s: &str| Chmod::parse(s).unwrap();
        assert_eq!(m("u=rwx,go=rx").apply(0o600, false), 0o755);
        assert_eq!(m("+x").apply(0o644, false), 0o755);
        assert_eq!(m("a-w").apply(0o777, true), 0o555);
        assert_eq!(m("g=u").apply(0o750, false), 0o770);
        assert_eq!(m("o+X").apply(0o640, false), 0o640);
        assert_eq!(m("o+X").apply(0o640, true), 0o641);
        assert_eq!(m("u+s,+t").apply(0o755, false), 0o5755);
        assert_eq!(m("u+r-w").apply(0o200, false), 0o400);
    }

    #[test]
    fn digests() {
        assert!(check_digest(&format!("sha256:{}", "a".repeat(64))).is_ok());
        assert_eq!(
            check_digest("md5:x").unwrap_err().to_string(),
            "unsupported digest algorithm"
        );
        assert_eq!(
            check_digest("sha256:ab").unwrap_err().to_string(),
            "invalid checksum digest length"
        );
        assert_eq!(
            check_digest("nocolon").unwrap_err().to_string(),
            "invalid checksum digest format"
        );
        assert!(check_digest(&format!("sha256:{}", "A".repeat(64))).is_err());
    }
}
