//! AST → typed instructions, one [`Command`] variant per Dockerfile
//! instruction, grouped into build [`Stage`]s.
//!
//! Every command keeps its [`Source`]: the original (continuation-joined)
//! text and line range, which the builder uses for history `created_by` and
//! `--explain`. Commands are *unexpanded*; call [`Command::expand`] with the
//! environment in effect (see [`crate::args`] for who provides it).
//!
//! ```
//! use strata_dockerfile::{Dockerfile, instructions::Command};
//! let df = Dockerfile::parse(b"FROM alpine AS base\nCOPY --chown=app a /b/\n").unwrap();
//! let stage = &df.stages[0];
//! assert_eq!(stage.name.as_deref(), Some("base"));
//! let Command::Copy(copy) = &stage.commands[0] else { panic!() };
//! assert_eq!(copy.chown.as_deref(), Some("app"));
//! assert_eq!(copy.dest, "/b/");
//! ```

mod error;
mod exec;
mod expand;
mod files;
mod flags;
mod lint;
mod meta;
mod mount;
mod parse;

pub use error::InstructionError;
pub use exec::{
    CmdCommand, CommandLine, EntrypointCommand, HEREDOC_PIPES_DIR, HealthConfig,
    HealthcheckCommand, NetworkMode, RunCommand, RunScript, SecurityMode, ShellCommand,
};
pub use expand::Expanded;
pub use files::{AddCommand, Chmod, ChmodClause, CopyCommand, InlineSource};
pub use meta::{
    ArgCommand, ArgDef, EnvCommand, ExposeCommand, FromCommand, KeyValue, LabelCommand,
    MaintainerCommand, OnbuildCommand, PortSpec, Protocol, StopSignalCommand, UserCommand,
    VolumeCommand, WorkdirCommand,
};
pub use mount::{BindMount, CacheMount, CacheSharing, Mount, SecretMount, SshMount, TmpfsMount};
pub use parse::parse_command;
use parse::parse_owned;

use crate::error::{Error, LineRange, Warning};
use crate::parser::{self, Ast, Directives};

/// Where a command came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The instruction text as written, continuations joined, trimmed
    /// (BuildKit's `String()` of a command).
    pub text: String,
    /// The keyword as written (`RUN`, `run`…).
    pub keyword: String,
    /// Physical lines covered.
    pub range: LineRange,
    /// The Dockerfile's escape character, used when expanding.
    pub escape: char,
}

/// One typed instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `FROM [--platform=p] image [AS name]` (begins a stage).
    From(FromCommand),
    /// `RUN`.
    Run(RunCommand),
    /// `CMD`.
    Cmd(CmdCommand),
    /// `ENTRYPOINT`.
    Entrypoint(EntrypointCommand),
    /// `ENV`.
    Env(EnvCommand),
    /// `ARG`.
    Arg(ArgCommand),
    /// `LABEL`.
    Label(LabelCommand),
    /// `EXPOSE`.
    Expose(ExposeCommand),
    /// `USER`.
    User(UserCommand),
    /// `WORKDIR`.
    Workdir(WorkdirCommand),
    /// `VOLUME`.
    Volume(VolumeCommand),
    /// `COPY`.
    Copy(CopyCommand),
    /// `ADD`.
    Add(AddCommand),
    /// `SHELL`.
    Shell(ShellCommand),
    /// `HEALTHCHECK`.
    Healthcheck(HealthcheckCommand),
    /// `STOPSIGNAL`.
    StopSignal(StopSignalCommand),
    /// `ONBUILD`.
    Onbuild(OnbuildCommand),
    /// `MAINTAINER` (deprecated).
    Maintainer(MaintainerCommand),
}

impl Command {
    /// Where the command came from.
    pub fn source(&self) -> &Source {
        match self {
            Command::From(c) => &c.source,
            Command::Run(c) => &c.source,
            Command::Cmd(c) => &c.source,
            Command::Entrypoint(c) => &c.source,
            Command::Env(c) => &c.source,
            Command::Arg(c) => &c.source,
            Command::Label(c) => &c.source,
            Command::Expose(c) => &c.source,
            Command::User(c) => &c.source,
            Command::Workdir(c) => &c.source,
            Command::Volume(c) => &c.source,
            Command::Copy(c) => &c.source,
            Command::Add(c) => &c.source,
            Command::Shell(c) => &c.source,
            Command::Healthcheck(c) => &c.source,
            Command::StopSignal(c) => &c.source,
            Command::Onbuild(c) => &c.source,
            Command::Maintainer(c) => &c.source,
        }
    }

    /// The lower-case instruction name (`run`, `copy`…).
    pub fn name(&self) -> &'static str {
        match self {
            Command::From(_) => "from",
            Command::Run(_) => "run",
            Command::Cmd(_) => "cmd",
            Command::Entrypoint(_) => "entrypoint",
            Command::Env(_) => "env",
            Command::Arg(_) => "arg",
            Command::Label(_) => "label",
            Command::Expose(_) => "expose",
            Command::User(_) => "user",
            Command::Workdir(_) => "workdir",
            Command::Volume(_) => "volume",
            Command::Copy(_) => "copy",
            Command::Add(_) => "add",
            Command::Shell(_) => "shell",
            Command::Healthcheck(_) => "healthcheck",
            Command::StopSignal(_) => "stopsignal",
            Command::Onbuild(_) => "onbuild",
            Command::Maintainer(_) => "maintainer",
        }
    }

    /// The lines of the command.
    pub fn range(&self) -> LineRange {
        self.source().range
    }
}

/// All instruction keywords BuildKit knows (lower case).
pub const INSTRUCTIONS: &[&str] = &[
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// One build stage: a FROM and the commands after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// `AS name`, lower-cased (stage names are case-insensitive).
    pub name: Option<String>,
    /// Position among the stages, from 0.
    pub index: usize,
    /// The base image or stage name, unexpanded (may use global ARGs).
    pub base: String,
    /// `--platform`, unexpanded.
    pub platform: Option<String>,
    /// The FROM instruction itself.
    pub from: FromCommand,
    /// The commands after FROM, in order.
    pub commands: Vec<Command>,
    /// From the FROM line to the stage's last command.
    pub range: LineRange,
    /// The description from a comment above FROM of the form
    /// `# <name> <description>` (BuildKit's stage description), if any.
    pub comment: Option<String>,
}

impl Stage {
    /// `name` or `stage-N`, as BuildKit names stages in progress output.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("stage-{}", self.index))
    }
}

/// A whole Dockerfile: directives, global ARGs and stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// Parser directives.
    pub directives: Directives,
    /// The escape character.
    pub escape: char,
    /// ARG instructions before the first FROM (global scope).
    pub global_args: Vec<ArgCommand>,
    /// The stages in order.
    pub stages: Vec<Stage>,
    /// Parser warnings and build-check findings (filtered by `# check=`).
    pub warnings: Vec<Warning>,
}

impl Dockerfile {
    /// Parse Dockerfile bytes into stages.
    pub fn parse(input: &[u8]) -> Result<Dockerfile, Error> {
        Dockerfile::from_ast(parser::parse(input)?)
    }

    /// Parse Dockerfile text into stages.
    pub fn parse_str(input: &str) -> Result<Dockerfile, Error> {
        Dockerfile::from_ast(parser::parse_str(input)?)
    }

    /// Turn an AST into typed stages.
    pub fn from_ast(ast: Ast) -> Result<Dockerfile, Error> {
        let mut global_args = Vec::new();
        let mut stages: Vec<Stage> = Vec::new();
        let escape = ast.escape;
        let mut warnings = ast.warnings;
        warnings.extend(lint::check_nodes(&ast.nodes));
        for mut node in ast.nodes {
            let range = node.range;
            let comments = std::mem::take(&mut node.comments);
            let cmd = parse_owned(node, escape)?;
            match cmd {
                Command::Arg(a) if stages.is_empty() => global_args.push(a),
                Command::From(from) => {
                    let comment = stage_comment(&comments, from.name.as_deref());
                    stages.push(Stage {
                        name: from.name.clone(),
                        index: stages.len(),
                        base: from.base.clone(),
                        platform: from.platform.clone(),
                        range: from.source.range,
                        from,
                        commands: Vec::new(),
                        comment,
                    });
                }
                cmd => {
                    let Some(stage) = stages.last_mut() else {
                        return Err(Error::Instruction {
                            range,
                            error: InstructionError::NoStage,
                        });
                    };
                    stage.range.end = cmd.range().end;
                    stage.commands.push(cmd);
                }
            }
        }
        let check = ast.directives.check_config();
        warnings.extend(lint::check_stages(&stages));
        warnings.sort_by_key(|w| w.range);
        warnings.retain(|w| check.enabled(w.rule));
        Ok(Dockerfile {
            directives: ast.directives,
            escape,
            global_args,
            stages,
            warnings,
        })
    }

    /// The stage called `name` (case-insensitive; the last of that name,
    /// as BuildKit resolves a duplicated name), or the stage at index
    /// `name` when it is a number.
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        let lower = name.to_lowercase();
        self.stages
            .iter()
            .rfind(|s| s.name.as_deref() == Some(lower.as_str()))
            .or_else(|| name.parse::<usize>().ok().and_then(|i| self.stages.get(i)))
    }

    /// The stage to build for `--target` (the last one when `None`).
    pub fn target(&self, target: Option<&str>) -> Option<&Stage> {
        match target {
            Some(t) => self.stage(t),
            None => self.stages.last(),
        }
    }
}

/// BuildKit's stage description: the remainder of the first comment line
/// above FROM that starts with `<name> `.
fn stage_comment(comments: &[String], name: Option<&str>) -> Option<String> {
    let name = name?;
    comments.iter().find_map(|c| {
        c.strip_prefix(name)
            .and_then(|r| r.strip_prefix(' '))
            .map(str::to_string)
    })
}

#[cfg(test)]
mod tests;
