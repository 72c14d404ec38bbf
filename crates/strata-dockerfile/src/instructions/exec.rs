//! Instructions that describe processes: RUN (with `--mount`, `--network`,
//! `--security` and heredocs), CMD, ENTRYPOINT, SHELL and HEALTHCHECK (its
//! durations parsed by strata-go's `time.ParseDuration`).

use std::time::Duration;

use super::error::InstructionError;
use super::flags::{Flags, Kind};
use super::mount::{self, Mount};
use super::parse::Req;
use super::{Command, Source};
use crate::parser::{Heredoc, parse_heredoc};

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

fn interval(flags: &Flags, name: &str) -> Result<Duration, InstructionError> {
    let Some(s) = flags.string(name).filter(|s| !s.is_empty()) else {
        return Ok(Duration::ZERO);
    };
    let ns = strata_go::duration::parse_go_duration(&s)
        .map_err(|e| InstructionError::Duration(e.to_string()))?;
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
