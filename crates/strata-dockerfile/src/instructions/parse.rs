//! Dispatch from an AST node to the per-instruction parsers.

use super::error::{InstructionError, suggest};
use super::{Command, INSTRUCTIONS, Source, exec, files, meta};
use crate::error::Error;
use crate::parser::{Heredoc, Node};

/// Everything an instruction parser needs from a node, owned so parsers
/// can move the strings into the command.
pub(crate) struct Req {
    /// Argument nodes; for ONBUILD the trigger keyword followed by its args.
    pub(crate) args: Vec<String>,
    pub(crate) json: bool,
    pub(crate) flags: Vec<String>,
    pub(crate) original: String,
    pub(crate) heredocs: Vec<Heredoc>,
    pub(crate) source: Source,
}

fn push_args(node: Node, out: &mut Vec<String>) {
    match node.sub {
        Some(sub) => {
            out.push(sub.keyword.clone());
            push_args(*sub, out);
        }
        None => out.extend(node.args),
    }
}

/// Turn one AST node into a typed command.
pub fn parse_command(node: &Node, escape: char) -> Result<Command, Error> {
    parse_owned(node.clone(), escape)
}

/// [`parse_command`] consuming the node (no copies of its strings).
pub(crate) fn parse_owned(mut node: Node, escape: char) -> Result<Command, Error> {
    let range = node.range;
    let kind = crate::parser::keyword(&node.keyword);
    let keyword = std::mem::take(&mut node.keyword);
    let mut original = std::mem::take(&mut node.original);
    let text = if original.trim().len() == original.len() && kind != Some("onbuild") {
        // Only ONBUILD needs the untrimmed line; everyone else can move it.
        std::mem::take(&mut original)
    } else {
        original.trim().to_string()
    };
    let flags = std::mem::take(&mut node.flags);
    let heredocs = std::mem::take(&mut node.heredocs);
    let json = node.json;
    let args = match node.sub.is_some() {
        true => {
            let mut args = Vec::new();
            push_args(node, &mut args);
            args
        }
        false => node.args,
    };
    let source = Source {
        text,
        keyword,
        range,
        escape,
    };
    let unknown = |source: &Source| InstructionError::UnknownInstruction {
        name: source.keyword.clone(),
        suggestion: suggest(&source.keyword, INSTRUCTIONS, false),
    };
    let Some(kind) = kind else {
        return Err(Error::Instruction {
            range,
            error: unknown(&source),
        });
    };
    let req = Req {
        args,
        json,
        flags,
        original,
        heredocs,
        source,
    };
    let r = match kind {
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
        _ => Err(unknown(&req.source)),
    };
    r.map_err(|error| Error::Instruction { range, error })
}
