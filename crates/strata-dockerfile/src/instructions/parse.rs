//! Dispatch from an AST node to the per-instruction parsers.

use super::error::{InstructionError, suggest};
use super::{Command, INSTRUCTIONS, Source, exec, files, meta};
use crate::error::Error;
use crate::parser::{Heredoc, Node};

/// Everything an instruction parser needs from a node.
pub(crate) struct Req<'a> {
    /// Argument nodes; for ONBUILD the trigger keyword followed by its args.
    pub(crate) args: Vec<String>,
    pub(crate) json: bool,
    pub(crate) flags: &'a [String],
    pub(crate) original: &'a str,
    pub(crate) heredocs: &'a [Heredoc],
    pub(crate) comments: &'a [String],
    pub(crate) source: Source,
}

fn node_args(node: &Node) -> Vec<String> {
    match &node.sub {
        Some(sub) => {
            let mut v = vec![sub.keyword.clone()];
            v.extend(node_args(sub));
            v
        }
        None => node.args.clone(),
    }
}

/// Turn one AST node into a typed command.
pub fn parse_command(node: &Node, escape: char) -> Result<Command, Error> {
    let req = Req {
        args: node_args(node),
        json: node.json,
        flags: &node.flags,
        original: &node.original,
        heredocs: &node.heredocs,
        comments: &node.comments,
        source: Source {
            text: node.original.trim().to_string(),
            keyword: node.keyword.clone(),
            range: node.range,
            escape,
        },
    };
    let located = |error| Error::Instruction {
        range: node.range,
        error,
    };
    let r = match node.name().as_str() {
        "from" => meta::parse_from(req),
        "env" => meta::parse_env(req),
        "arg" => meta::parse_arg(req),
        "label" => meta::parse_label(req),
        "expose" => meta::parse_expose(req),
        "user" => meta::parse_user(req),
        "workdir" => meta::parse_workdir(req),
        "volume" => meta::parse_volume(req),
        "stopsignal" => meta::parse_stopsignal(req),
        "maintainer" => meta::parse_maintainer(req),
        "onbuild" => meta::parse_onbuild(req),
        "run" => exec::parse_run(req),
        "cmd" => exec::parse_cmd(req),
        "entrypoint" => exec::parse_entrypoint(req),
        "shell" => exec::parse_shell(req),
        "healthcheck" => exec::parse_healthcheck(req),
        "copy" => files::parse_copy(req),
        "add" => files::parse_add(req),
        _ => Err(InstructionError::UnknownInstruction {
            name: node.keyword.clone(),
            suggestion: suggest(&node.keyword, INSTRUCTIONS, false),
        }),
    };
    r.map_err(located)
}
