//! Instructions that describe processes: RUN (with `--mount`, `--network`,
//! `--security` and heredocs), CMD, ENTRYPOINT, SHELL and HEALTHCHECK, plus
//! Go-compatible duration parsing for HEALTHCHECK.

use std::time::Duration;

use super::error::InstructionError;
use super::flags::{Flags, Kind};
use super::mount::{self, Mount};
use super::parse::Req;
use super::{Command, Source};
use crate::parser::{Heredoc, go_quote, parse_heredoc};

/// A command line in shell or exec form (BuildKit's
/// `ShellDependantCmdLine`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// Exec form: the argv. Shell form: one element, the command text.
    pub args: Vec<String>,
    /// Shell form: the current SHELL must be prepended.
    pub prepend_shell: bool,
}

impl CommandLine {
    fn from_args(args: Vec<String>, json: bool) -> CommandLine {
        let args = if json || args.len() <= 1 {
            args
        } else {
            vec![args.join(" ")]
        };
        CommandLine {
            args,
            prepend_shell: !json,
        }
    }

    /// The argv to execute, given the shell in effect.
    pub fn argv(&self, shell: &[String]) -> Vec<String> {
        if self.prepend_shell {
            shell.iter().chain(&self.args).cloned().collect()
        } else {
            self.args.clone()
        }
    }
}

/// `RUN --network=…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkMode {
    /// `default`: the build's network.
    Default,
    /// `none`.
    None,
    /// `host` (needs the `network.host` entitlement).
    Host,
}

/// `RUN --security=…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityMode {
    /// `sandbox` (default).
    Sandbox,
    /// `insecure` (needs the `security.insecure` entitlement).
    Insecure,
}

/// `RUN [flags] command`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCommand {
    /// The command line.
    pub cmdline: CommandLine,
    /// Heredoc files (`RUN <<EOF`), bodies raw.
    pub heredocs: Vec<Heredoc>,
    /// The `--mount` values as written.
    pub mount_specs: Vec<String>,
    /// The typed mounts. Complete for literal specs; a spec that uses
    /// variables is only parsed once the command is expanded.
    pub mounts: Vec<Mount>,
    /// `--network`.
    pub network: NetworkMode,
    /// `--security`.
    pub security: SecurityMode,
    /// Names of the flags given (for feature checks).
    pub flags_used: Vec<&'static str>,
    /// Where.
    pub source: Source,
}

/// How a RUN with heredocs is executed (BuildKit's `dispatchRun` rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunScript {
    /// No heredocs: run `cmdline` as usual.
    Plain,
    /// `RUN <<EOF` whose body starts with `#!`: write the body to a file
    /// (mode 0755, name = delimiter) and execute it directly.
    ShebangFile {
        /// File name (the delimiter).
        name: String,
        /// File contents (tabs chomped for `<<-`).
        data: String,
    },
    /// `RUN <<EOF`: run the body with the shell, as a shell-form command.
    Shell(String),
    /// Heredocs inside a longer command: the command line followed by each
    /// body and terminator, passed to the shell as one script.
    Reconstituted(String),
}

/// Where BuildKit mounts the file of a [`RunScript::ShebangFile`].
pub const HEREDOC_PIPES_DIR: &str = "/dev/pipes/";

impl RunCommand {
    /// The argv to execute with `shell` in effect, heredocs resolved as in
    /// BuildKit's `dispatchRun` (also the text of the history `created_by`
    /// after `RUN `). For [`RunScript::ShebangFile`] the file must be
    /// mounted at [`HEREDOC_PIPES_DIR`]`<name>`.
    pub fn argv(&self, shell: &[String]) -> Vec<String> {
        let line = match self.script() {
            RunScript::Plain => return self.cmdline.argv(shell),
            RunScript::Shell(data) | RunScript::Reconstituted(data) => data,
            RunScript::ShebangFile { name, .. } => format!("{HEREDOC_PIPES_DIR}{name}"),
        };
        CommandLine {
            args: vec![line],
            prepend_shell: self.cmdline.prepend_shell,
        }
        .argv(shell)
    }

    /// How to execute this RUN, resolving heredocs the way BuildKit does.
    pub fn script(&self) -> RunScript {
        let Some(first) = self.heredocs.first() else {
            return RunScript::Plain;
        };
        let [cmd] = self.cmdline.args.as_slice() else {
            return RunScript::Plain;
        };
        if !self.cmdline.prepend_shell {
            return RunScript::Plain;
        }
        if parse_heredoc(cmd).ok().flatten().is_some() {
            let data = first.data();
            if data.starts_with("#!") {
                return RunScript::ShebangFile {
                    name: first.name.clone(),
                    data,
                };
            }
            return RunScript::Shell(data);
        }
        let mut full = cmd.clone();
        for h in &self.heredocs {
            full.push('\n');
            full.push_str(&h.content);
            full.push_str(&h.name);
        }
        RunScript::Reconstituted(full)
    }
}

/// `CMD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdCommand {
    /// The command line.
    pub cmdline: CommandLine,
    /// Where.
    pub source: Source,
}

/// `ENTRYPOINT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrypointCommand {
    /// The command line (empty exec form clears the entrypoint).
    pub cmdline: CommandLine,
    /// Where.
    pub source: Source,
}

/// `SHELL ["executable", "args"…]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellCommand {
    /// The new shell.
    pub shell: Vec<String>,
    /// Where.
    pub source: Source,
}

/// A healthcheck as stored in the image config. Zero durations and retries
/// mean "not set" (inherit the runtime's default), as in docker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    /// `["NONE"]`, `["CMD", argv…]` or `["CMD-SHELL", command]`.
    pub test: Vec<String>,
    /// `--interval`.
    pub interval: Duration,
    /// `--timeout`.
    pub timeout: Duration,
    /// `--start-period`.
    pub start_period: Duration,
    /// `--start-interval`.
    pub start_interval: Duration,
    /// `--retries`.
    pub retries: u32,
}

/// `HEALTHCHECK NONE` or `HEALTHCHECK [flags] CMD …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthcheckCommand {
    /// The parsed configuration.
    pub health: HealthConfig,
    /// Where.
    pub source: Source,
}

pub(crate) fn parse_run(req: Req) -> Result<Command, InstructionError> {
    let mut flags = Flags::parse(
        &req.flags,
        &[
            ("mount", Kind::Strings),
            ("network", Kind::String),
            ("security", Kind::String),
        ],
    )?;
    let network = match flags.string("network").as_deref().unwrap_or("default") {
        "default" => NetworkMode::Default,
        "none" => NetworkMode::None,
        "host" => NetworkMode::Host,
        other => return Err(InstructionError::Network(other.to_string())),
    };
    let security = match flags.string("security").as_deref().unwrap_or("sandbox") {
        "sandbox" => SecurityMode::Sandbox,
        "insecure" => SecurityMode::Insecure,
        other => return Err(InstructionError::Security(other.to_string())),
    };
    let mount_specs = flags.take_strings("mount");
    let mounts = mount::parse_literal_specs(&mount_specs)?;
    Ok(Command::Run(RunCommand {
        cmdline: CommandLine::from_args(req.args, req.json),
        heredocs: req.heredocs,
        mount_specs,
        mounts,
        network,
        security,
        flags_used: flags.used(),
        source: req.source,
    }))
}

pub(crate) fn parse_cmd(req: Req) -> Result<Command, InstructionError> {
    Flags::parse(&req.flags, &[])?;
    Ok(Command::Cmd(CmdCommand {
        cmdline: CommandLine::from_args(req.args, req.json),
        source: req.source,
    }))
}

pub(crate) fn parse_entrypoint(req: Req) -> Result<Command, InstructionError> {
    Flags::parse(&req.flags, &[])?;
    Ok(Command::Entrypoint(EntrypointCommand {
        cmdline: CommandLine::from_args(req.args, req.json),
        source: req.source,
    }))
}

pub(crate) fn parse_shell(req: Req) -> Result<Command, InstructionError> {
    Flags::parse(&req.flags, &[])?;
    if req.args.is_empty() {
        return Err(InstructionError::AtLeastOneArgument("SHELL"));
    }
    if !req.json {
        return Err(InstructionError::NotJson("SHELL"));
    }
    Ok(Command::Shell(ShellCommand {
        shell: req.args,
        source: req.source,
    }))
}

/// Parse a Go duration (`1h30m`, `1.5s`, `300ms`, `-2us`) into signed
/// nanoseconds, with Go's error messages.
pub fn parse_go_duration(s: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", go_quote(s));
    let mut rest = s;
    let mut neg = false;
    if let Some(r) = rest.strip_prefix('-') {
        neg = true;
        rest = r;
    } else if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    }
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let b = rest.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // Integer part.
        let mut v: u64 = 0;
        let mut i = 0;
        while i < b.len() && b[i].is_ascii_digit() {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(b[i] - b'0');
            if v > LIMIT {
                return Err(invalid());
            }
            i += 1;
        }
        let pre = i > 0;
        // Fraction.
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if i < b.len() && b[i] == b'.' {
            i += 1;
            let start = i;
            let mut overflow = false;
            while i < b.len() && b[i].is_ascii_digit() {
                if !overflow {
                    if f > (LIMIT - 1) / 10 {
                        overflow = true;
                    } else {
                        let y = f * 10 + u64::from(b[i] - b'0');
                        if y > LIMIT {
                            overflow = true;
                        } else {
                            f = y;
                            scale *= 10.0;
                        }
                    }
                }
                i += 1;
            }
            post = i > start;
        }
        if !pre && !post {
            return Err(invalid());
        }
        // Unit.
        let ustart = i;
        while i < b.len() && b[i] != b'.' && !b[i].is_ascii_digit() {
            i += 1;
        }
        if i == ustart {
            return Err(format!("time: missing unit in duration {}", go_quote(s)));
        }
        let unit_str = &rest[ustart..i];
        let unit: u64 = match unit_str {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    go_quote(unit_str),
                    go_quote(s)
                ));
            }
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total += v;
        if total > LIMIT {
            return Err(invalid());
        }
        rest = &rest[i..];
    }
    if neg {
        return Ok((total as i128).wrapping_neg() as i64);
    }
    i64::try_from(total).map_err(|_| invalid())
}

fn interval(flags: &Flags, name: &str) -> Result<Duration, InstructionError> {
    let Some(s) = flags.string(name).filter(|s| !s.is_empty()) else {
        return Ok(Duration::ZERO);
    };
    let ns = parse_go_duration(&s).map_err(InstructionError::Duration)?;
    if ns == 0 {
        return Ok(Duration::ZERO);
    }
    if ns < 1_000_000 {
        return Err(InstructionError::IntervalTooShort(name.to_string()));
    }
    Ok(Duration::from_nanos(ns.unsigned_abs()))
}

fn parse_retries(s: &str) -> Result<u32, InstructionError> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InstructionError::Integer {
            value: s.to_string(),
            reason: "invalid syntax",
        });
    }
    let n = s
        .parse::<i64>()
        .ok()
        .and_then(|n| i32::try_from(n).ok())
        .ok_or(InstructionError::Integer {
            value: s.to_string(),
            reason: "value out of range",
        })?;
    u32::try_from(n).map_err(|_| InstructionError::NegativeRetries(i64::from(n)))
}

pub(crate) fn parse_healthcheck(req: Req) -> Result<Command, InstructionError> {
    let Some(first) = req.args.first() else {
        return Err(InstructionError::AtLeastOneArgument("HEALTHCHECK"));
    };
    let typ = first.to_uppercase();
    let rest = &req.args[1..];
    let mut health = HealthConfig {
        test: Vec::new(),
        interval: Duration::ZERO,
        timeout: Duration::ZERO,
        start_period: Duration::ZERO,
        start_interval: Duration::ZERO,
        retries: 0,
    };
    if typ == "NONE" {
        if !rest.is_empty() {
            return Err(InstructionError::HealthcheckNoneArgs);
        }
        health.test = vec![typ];
    } else {
        let flags = Flags::parse(
            &req.flags,
            &[
                ("interval", Kind::String),
                ("timeout", Kind::String),
                ("start-period", Kind::String),
                ("start-interval", Kind::String),
                ("retries", Kind::String),
            ],
        )?;
        if typ != "CMD" {
            return Err(InstructionError::HealthcheckType(typ));
        }
        let cmd: Vec<String> = if req.json || rest.is_empty() {
            rest.to_vec()
        } else {
            vec![rest.join(" ")]
        };
        if cmd.is_empty() {
            return Err(InstructionError::HealthcheckMissingCommand);
        }
        let kind = if req.json { "CMD" } else { "CMD-SHELL" };
        health.test = std::iter::once(kind.to_string()).chain(cmd).collect();
        health.interval = interval(&flags, "interval")?;
        health.timeout = interval(&flags, "timeout")?;
        health.start_period = interval(&flags, "start-period")?;
        health.start_interval = interval(&flags, "start-interval")?;
        if let Some(r) = flags.string("retries").filter(|s| !s.is_empty()) {
            health.retries = parse_retries(&r)?;
        }
    }
    Ok(Command::Healthcheck(HealthcheckCommand {
        health,
        source: req.source,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1h30m").unwrap(), 5_400_000_000_000);
        assert_eq!(parse_go_duration("1.5s").unwrap(), 1_500_000_000);
        assert_eq!(parse_go_duration(".5ms").unwrap(), 500_000);
        assert_eq!(parse_go_duration("-2us").unwrap(), -2_000);
        assert_eq!(parse_go_duration("3µs").unwrap(), 3_000);
        assert_eq!(parse_go_duration("0").unwrap(), 0);
        assert_eq!(parse_go_duration("+0").unwrap(), 0);
        assert_eq!(
            parse_go_duration("1").unwrap_err(),
            "time: missing unit in duration \"1\""
        );
        assert_eq!(
            parse_go_duration("1d").unwrap_err(),
            "time: unknown unit \"d\" in duration \"1d\""
        );
        assert_eq!(
            parse_go_duration("").unwrap_err(),
            "time: invalid duration \"\""
        );
        assert_eq!(
            parse_go_duration(".s").unwrap_err(),
            "time: invalid duration \".s\""
        );
        assert!(parse_go_duration("9999999999999999999h").is_err());
        assert_eq!(
            parse_go_duration("2562047h47m16.854775807s").unwrap(),
            i64::MAX
        );
        assert_eq!(
            parse_go_duration("-2562047h47m16.854775808s").unwrap(),
            i64::MIN
        );
    }

    #[test]
    fn retries() {
        assert_eq!(parse_retries("3").unwrap(), 3);
        assert_eq!(
            parse_retries("-1").unwrap_err().to_string(),
            "--retries cannot be negative (-1)"
        );
        assert_eq!(
            parse_retries("x").unwrap_err().to_string(),
            "strconv.ParseInt: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            parse_retries("99999999999").unwrap_err().to_string(),
            "strconv.ParseInt: parsing \"99999999999\": value out of range"
        );
    }
}
