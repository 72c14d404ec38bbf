//! Instructions that only change the image config or the build scope:
//! FROM, ENV, ARG, LABEL, EXPOSE, USER, WORKDIR, VOLUME, STOPSIGNAL,
//! MAINTAINER and ONBUILD.

use super::error::InstructionError;
use super::flags::{Flags, Kind};
use super::parse::Req;
use super::{Command, Source};
use crate::error::Error;
use crate::parser::Heredoc;

/// `FROM [--platform=p] base [AS name]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromCommand {
    /// Base image or stage, unexpanded.
    pub base: String,
    /// Stage name, lower-cased.
    pub name: Option<String>,
    /// `--platform`, unexpanded.
    pub platform: Option<String>,
    /// The `AS` keyword as written, for the casing check.
    pub as_keyword: Option<String>,
    /// Where.
    pub source: Source,
}

/// A `key=value` pair of ENV or LABEL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key (unexpanded in a parsed command).
    pub key: String,
    /// The value (unexpanded, quotes still in place, in a parsed command).
    pub value: String,
    /// Written in the legacy `KEY value` form.
    pub legacy: bool,
}

/// `ENV k=v …` or legacy `ENV k v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvCommand {
    /// The pairs in order.
    pub vars: Vec<KeyValue>,
    /// Where.
    pub source: Source,
}

/// `LABEL k=v …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelCommand {
    /// The pairs in order.
    pub labels: Vec<KeyValue>,
    /// Where.
    pub source: Source,
}

/// One name of an ARG instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDef {
    /// The name.
    pub key: String,
    /// `=default`, raw (quotes kept) until expanded.
    pub default: Option<String>,
}

/// `ARG name[=default] …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgCommand {
    /// The declared names.
    pub args: Vec<ArgDef>,
    /// Where.
    pub source: Source,
}

/// `EXPOSE port[/proto] …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposeCommand {
    /// The port words, sorted as BuildKit does. After expansion, split at
    /// whitespace and validated.
    pub ports: Vec<String>,
    /// Where.
    pub source: Source,
}

/// A transport protocol of an exposed port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// `tcp` (the default).
    Tcp,
    /// `udp`.
    Udp,
    /// `sctp`.
    Sctp,
}

impl Protocol {
    /// The lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// One exposed port or port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortSpec {
    /// First port.
    pub start: u16,
    /// Last port (equal to `start` for a single port).
    pub end: u16,
    /// Protocol.
    pub proto: Protocol,
}

impl PortSpec {
    /// Parse `80`, `80/udp`, `8000-8010/tcp` (docker's `nat.ParsePortSpec`
    /// for the container side).
    pub fn parse(s: &str) -> Result<PortSpec, InstructionError> {
        let (port, proto) = match s.split_once('/') {
            Some((p, proto)) => (p, proto),
            None => (s, "tcp"),
        };
        let proto = match proto.to_lowercase().as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            "sctp" => Protocol::Sctp,
            _ => return Err(InstructionError::Proto(proto.to_string())),
        };
        let bad = || InstructionError::Port(port.to_string());
        let num = |p: &str| -> Result<u16, InstructionError> {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse::<u16>().map_err(|_| bad())
        };
        let (start, end) = match port.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let p = num(port)?;
                (p, p)
            }
        };
        if end < start {
            return Err(bad());
        }
        Ok(PortSpec { start, end, proto })
    }

    /// The ports of the range as docker's config keys (`80/tcp`, …).
    pub fn keys(&self) -> Vec<String> {
        (self.start..=self.end)
            .map(|p| format!("{p}/{}", self.proto.as_str()))
            .collect()
    }
}

impl ExposeCommand {
    /// Parse the (expanded) port words.
    pub fn port_specs(&self) -> Result<Vec<PortSpec>, InstructionError> {
        self.ports.iter().map(|p| PortSpec::parse(p)).collect()
    }
}

/// `USER user[:group]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCommand {
    /// The user text.
    pub user: String,
    /// Where.
    pub source: Source,
}

impl UserCommand {
    /// `(user, group)` split at the first `:`.
    pub fn user_group(&self) -> (&str, Option<&str>) {
        match self.user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (&self.user, None),
        }
    }
}

/// `WORKDIR path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkdirCommand {
    /// The path (relative paths are relative to the previous WORKDIR).
    pub path: String,
    /// Where.
    pub source: Source,
}

/// `VOLUME a b` or `VOLUME ["a", "b"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeCommand {
    /// The mount points.
    pub volumes: Vec<String>,
    /// Where.
    pub source: Source,
}

/// `STOPSIGNAL signal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopSignalCommand {
    /// The signal as written (`SIGTERM`, `TERM`, `15`).
    pub signal: String,
    /// Where.
    pub source: Source,
}

const SIGNALS: &[(&str, i32)] = &[
    ("ABRT", 6),
    ("ALRM", 14),
    ("BUS", 7),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("FPE", 8),
    ("HUP", 1),
    ("ILL", 4),
    ("INT", 2),
    ("IO", 29),
    ("IOT", 6),
    ("KILL", 9),
    ("PIPE", 13),
    ("POLL", 29),
    ("PROF", 27),
    ("PWR", 30),
    ("QUIT", 3),
    ("SEGV", 11),
    ("STKFLT", 16),
    ("STOP", 19),
    ("SYS", 31),
    ("TERM", 15),
    ("TRAP", 5),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("USR1", 10),
    ("USR2", 12),
    ("VTALRM", 26),
    ("WINCH", 28),
    ("XCPU", 24),
    ("XFSZ", 25),
];

impl StopSignalCommand {
    /// The Linux signal number, accepting `15`, `TERM`, `SIGTERM`,
    /// `sigterm`, `RTMIN+3` (moby's `signal.ParseSignal`).
    pub fn number(&self) -> Result<i32, InstructionError> {
        parse_signal(&self.signal)
    }
}

pub(crate) fn parse_signal(raw: &str) -> Result<i32, InstructionError> {
    let bad = || InstructionError::Signal(raw.to_string());
    if let Ok(n) = raw.parse::<i64>() {
        return if n == 0 {
            Err(bad())
        } else {
            i32::try_from(n).map_err(|_| bad())
        };
    }
    let up = raw.to_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some((_, n)) = SIGNALS.iter().find(|(s, _)| *s == name) {
        return Ok(*n);
    }
    let rt = |base: i32, off: &str| off.parse::<i32>().ok().map(|o| base + o);
    let n = match name {
        "RTMIN" => Some(34),
        "RTMAX" => Some(64),
        _ => name
            .strip_prefix("RTMIN+")
            .and_then(|o| rt(34, o))
            .or_else(|| {
                name.strip_prefix("RTMAX-")
                    .and_then(|o| rt(64, &format!("-{o}")))
            }),
    };
    n.filter(|n| (34..=64).contains(n)).ok_or_else(bad)
}

/// `MAINTAINER name` (deprecated in favour of a label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintainerCommand {
    /// The name.
    pub maintainer: String,
    /// Where.
    pub source: Source,
}

/// `ONBUILD <instruction>`: stored in the image and run by builds that use
/// it as a base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnbuildCommand {
    /// The trigger text (`RUN echo hi`), as stored in the image config.
    pub expression: String,
    /// Heredoc bodies of the trigger line, if any.
    pub heredocs: Vec<Heredoc>,
    /// Where.
    pub source: Source,
}

impl OnbuildCommand {
    /// The trigger as a self-contained Dockerfile fragment (heredoc bodies
    /// and terminators appended), suitable for the image's `OnBuild` list.
    pub fn trigger_text(&self) -> String {
        let mut s = self.expression.clone();
        for h in &self.heredocs {
            s.push('\n');
            s.push_str(&h.content);
            if !h.content.is_empty() && !h.content.ends_with('\n') {
                s.push('\n');
            }
            s.push_str(&h.name);
        }
        s
    }

    /// Parse the trigger into a command, as a downstream build would.
    pub fn trigger(&self) -> Result<Command, Error> {
        parse_trigger(&self.trigger_text(), self.source.escape, self.source.range)
    }
}

/// Parse one ONBUILD trigger (e.g. from a base image's config) as a command;
/// errors are reported at `range` (the downstream FROM line).
pub fn parse_trigger(text: &str, escape: char, range: crate::LineRange) -> Result<Command, Error> {
    let relocate = |e: Error| match e {
        Error::Parse { error, .. } => Error::Parse { range, error },
        Error::Instruction { error, .. } => Error::Instruction { range, error },
        Error::Expand { error, .. } => Error::Expand { range, error },
    };
    let prefix = if escape == '`' { "# escape=`\n" } else { "" };
    let ast = crate::parser::parse_str(&format!("{prefix}{text}")).map_err(relocate)?;
    if ast.nodes.len() != 1 {
        return Err(Error::Instruction {
            range,
            error: InstructionError::Trigger(
                "onbuild trigger should be a single expression".into(),
            ),
        });
    }
    let mut node = ast.nodes.into_iter().next().ok_or(Error::Instruction {
        range,
        error: InstructionError::Trigger("empty onbuild trigger".into()),
    })?;
    node.range = range;
    super::parse_command(&node, escape).map_err(relocate)
}

fn no_flags(req: &Req) -> Result<(), InstructionError> {
    Flags::parse(&req.flags, &[]).map(|_| ())
}

fn one_arg(req: &Req, name: &'static str) -> Result<String, InstructionError> {
    match req.args.as_slice() {
        [a] => Ok(a.clone()),
        _ => Err(InstructionError::ExactlyOneArgument(name)),
    }
}

fn key_values(req: &Req, name: &'static str) -> Result<Vec<KeyValue>, InstructionError> {
    if req.args.is_empty() {
        return Err(InstructionError::AtLeastOneArgument(name));
    }
    if !req.args.len().is_multiple_of(3) {
        return Err(InstructionError::TooManyArguments(name));
    }
    req.args
        .chunks(3)
        .map(|c| match c {
            [k, _, _] if k.is_empty() => Err(InstructionError::BlankName(name)),
            [k, v, sep] => Ok(KeyValue {
                key: k.clone(),
                value: v.clone(),
                legacy: sep.is_empty(),
            }),
            _ => Err(InstructionError::TooManyArguments(name)),
        })
        .collect()
}

fn valid_stage_name(n: &str) -> bool {
    let mut it = n.chars();
    it.next().is_some_and(|c| c.is_ascii_lowercase())
        && it.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

pub(crate) fn parse_from(req: Req) -> Result<Command, InstructionError> {
    let (name, as_keyword) = match req.args.as_slice() {
        [_, kw, name] if kw.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            if !valid_stage_name(&lower) {
                return Err(InstructionError::InvalidStageName(name.clone()));
            }
            (Some(lower), Some(kw.clone()))
        }
        [_] => (None, None),
        _ => return Err(InstructionError::FromArity),
    };
    let flags = Flags::parse(&req.flags, &[("platform", Kind::String)])?;
    let base = req.args.first().cloned().unwrap_or_default();
    Ok(Command::From(FromCommand {
        base,
        name,
        platform: flags.string("platform").filter(|p| !p.is_empty()),
        as_keyword,
        source: req.source,
    }))
}

pub(crate) fn parse_env(req: Req) -> Result<Command, InstructionError> {
    no_flags(&req)?;
    let vars = key_values(&req, "ENV")?;
    Ok(Command::Env(EnvCommand {
        vars,
        source: req.source,
    }))
}

pub(crate) fn parse_label(req: Req) -> Result<Command, InstructionError> {
    no_flags(&req)?;
    let labels = key_values(&req, "LABEL")?;
    Ok(Command::Label(LabelCommand {
        labels,
        source: req.source,
    }))
}

pub(crate) fn parse_arg(req: Req) -> Result<Command, InstructionError> {
    if req.args.is_empty() {
        return Err(InstructionError::AtLeastOneArgument("ARG"));
    }
    let mut args = Vec::with_capacity(req.args.len());
    for a in &req.args {
        let def = match a.split_once('=') {
            Some(("", _)) => return Err(InstructionError::BlankName("ARG")),
            Some((k, v)) => ArgDef {
                key: k.to_string(),
                default: Some(v.to_string()),
            },
            None => ArgDef {
                key: a.clone(),
                default: None,
            },
        };
        args.push(def);
    }
    Ok(Command::Arg(ArgCommand {
        args,
        source: req.source,
    }))
}

pub(crate) fn parse_expose(req: Req) -> Result<Command, InstructionError> {
    if req.args.is_empty() {
        return Err(InstructionError::AtLeastOneArgument("EXPOSE"));
    }
    no_flags(&req)?;
    let mut ports = req.args;
    ports.sort();
    Ok(Command::Expose(ExposeCommand {
        ports,
        source: req.source,
    }))
}

pub(crate) fn parse_user(req: Req) -> Result<Command, InstructionError> {
    let user = one_arg(&req, "USER")?;
    no_flags(&req)?;
    Ok(Command::User(UserCommand {
        user,
        source: req.source,
    }))
}

pub(crate) fn parse_workdir(req: Req) -> Result<Command, InstructionError> {
    let path = one_arg(&req, "WORKDIR")?;
    no_flags(&req)?;
    Ok(Command::Workdir(WorkdirCommand {
        path,
        source: req.source,
    }))
}

pub(crate) fn parse_volume(req: Req) -> Result<Command, InstructionError> {
    if req.args.is_empty() {
        return Err(InstructionError::AtLeastOneArgument("VOLUME"));
    }
    no_flags(&req)?;
    let mut volumes = Vec::with_capacity(req.args.len());
    for v in &req.args {
        let v = v.trim();
        if v.is_empty() {
            return Err(InstructionError::EmptyVolume);
        }
        volumes.push(v.to_string());
    }
    Ok(Command::Volume(VolumeCommand {
        volumes,
        source: req.source,
    }))
}

pub(crate) fn parse_stopsignal(req: Req) -> Result<Command, InstructionError> {
    let signal = one_arg(&req, "STOPSIGNAL")?;
    Ok(Command::StopSignal(StopSignalCommand {
        signal,
        source: req.source,
    }))
}

pub(crate) fn parse_maintainer(req: Req) -> Result<Command, InstructionError> {
    let maintainer = one_arg(&req, "MAINTAINER")?;
    no_flags(&req)?;
    Ok(Command::Maintainer(MaintainerCommand {
        maintainer,
        source: req.source,
    }))
}

/// Go's `\s` (`[\t\n\f\r ]`).
fn re_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

pub(crate) fn parse_onbuild(req: Req) -> Result<Command, InstructionError> {
    let Some(first) = req.args.first() else {
        return Err(InstructionError::AtLeastOneArgument("ONBUILD"));
    };
    no_flags(&req)?;
    let trigger = first.trim().to_uppercase();
    match trigger.as_str() {
        "ONBUILD" => return Err(InstructionError::OnbuildChain),
        "MAINTAINER" | "FROM" => return Err(InstructionError::OnbuildTrigger(trigger)),
        _ => {}
    }
    // (?i)^\s*ONBUILD\s*
    let s = req.original.trim_start_matches(re_space);
    let expression = match (s.get(..7), s.get(7..)) {
        (Some(kw), Some(rest)) if kw.eq_ignore_ascii_case("onbuild") => rest,
        _ => s,
    };
    Ok(Command::Onbuild(OnbuildCommand {
        expression: expression.trim_start_matches(re_space).to_string(),
        heredocs: req.heredocs,
        source: req.source,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        let p = PortSpec::parse("8000-8002/UDP").unwrap();
        assert_eq!((p.start, p.end, p.proto), (8000, 8002, Protocol::Udp));
        assert_eq!(p.keys(), ["8000/udp", "8001/udp", "8002/udp"]);
        assert_eq!(PortSpec::parse("80").unwrap().keys(), ["80/tcp"]);
        assert_eq!(
            PortSpec::parse("x").unwrap_err().to_string(),
            "invalid containerPort: x"
        );
        assert_eq!(
            PortSpec::parse("80/foo").unwrap_err().to_string(),
            "invalid proto: foo"
        );
        assert!(PortSpec::parse("70000").is_err());
        assert!(PortSpec::parse("90-80").is_err());
        assert!(PortSpec::parse("-80").is_err());
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("kill").unwrap(), 9);
        assert_eq!(parse_signal("10").unwrap(), 10);
        assert_eq!(parse_signal("RTMIN+3").unwrap(), 37);
        assert_eq!(parse_signal("SIGRTMAX-1").unwrap(), 63);
        assert_eq!(
            parse_signal("0").unwrap_err().to_string(),
            "Invalid signal: 0"
        );
        assert!(parse_signal("SIGFOO").is_err());
    }
}
