//! Static build checks (a subset of BuildKit's linter) that need no build
//! state, reported as [`Warning`]s with positions.

use super::{Command, Stage};
use crate::error::{LineRange, Warning};
use crate::parser::{Node, go_quote};

fn warn(rule: &'static str, message: String, range: LineRange) -> Warning {
    Warning {
        rule,
        message,
        range,
    }
}

fn is_lower(s: &str) -> bool {
    !s.chars().any(char::is_uppercase)
}

fn is_upper(s: &str) -> bool {
    !s.chars().any(char::is_lowercase)
}

fn self_consistent(name: &str) -> bool {
    is_lower(name) || is_upper(name)
}

/// Checks on the AST alone.
pub(crate) fn check_nodes(nodes: &[Node]) -> Vec<Warning> {
    let mut out = Vec::new();
    for n in nodes {
        match crate::parser::keyword(&n.keyword).unwrap_or("") {
            "maintainer" => out.push(warn(
                "MaintainerDeprecated",
                "Maintainer instruction is deprecated in favor of using label".into(),
                n.range,
            )),
            "env" | "label"
                if n.args
                    .chunks(3)
                    .any(|c| c.get(2).is_some_and(String::is_empty)) =>
            {
                let k = n.keyword.to_uppercase();
                out.push(warn(
                    "LegacyKeyValueFormat",
                    format!("\"{k} key=value\" should be used instead of legacy \"{k} key value\" format"),
                    n.range,
                ));
            }
            "from" => {
                if let [_, kw, name] = n.args.as_slice()
                    && kw.eq_ignore_ascii_case("as")
                {
                    if !is_lower(name) {
                        out.push(warn(
                            "StageNameCasing",
                            format!("Stage name '{name}' should be lowercase"),
                            n.range,
                        ));
                    }
                    let from_upper = is_upper(&n.keyword);
                    let as_upper = is_upper(kw);
                    if self_consistent(&n.keyword) && self_consistent(kw) && from_upper != as_upper
                    {
                        out.push(warn(
                            "FromAsCasing",
                            format!("'{kw}' and '{}' keywords' casing do not match", n.keyword),
                            n.range,
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Checks on the typed stages.
pub(crate) fn check_stages(stages: &[Stage]) -> Vec<Warning> {
    let mut out = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for s in stages {
        if let Some(name) = s.name.as_deref() {
            if matches!(name, "scratch" | "context") {
                out.push(warn(
                    "ReservedStageName",
                    format!(
                        "Stage name should not use the same name as reserved stage {}",
                        go_quote(name)
                    ),
                    s.from.source.range,
                ));
            }
            if seen.contains(&name) {
                out.push(warn(
                    "DuplicateStageName",
                    format!(
                        "Duplicate stage name {}, stage names should be unique",
                        go_quote(name)
                    ),
                    s.from.source.range,
                ));
            }
            seen.push(name);
        }
        let mut shell_set = false;
        let last_of = |name: &str| s.commands.iter().rposition(|c| c.name() == name);
        let last = [
            last_of("cmd"),
            last_of("entrypoint"),
            last_of("healthcheck"),
        ];
        for (i, c) in s.commands.iter().enumerate() {
            match c {
                Command::Shell(_) => shell_set = true,
                Command::Cmd(x)
                    if !shell_set && x.cmdline.prepend_shell && !x.cmdline.args.is_empty() =>
                {
                    out.push(json_args("CMD", c));
                }
                Command::Entrypoint(x)
                    if !shell_set && x.cmdline.prepend_shell && !x.cmdline.args.is_empty() =>
                {
                    out.push(json_args("ENTRYPOINT", c));
                }
                _ => {}
            }
            let slot = match c {
                Command::Cmd(_) => 0,
                Command::Entrypoint(_) => 1,
                Command::Healthcheck(_) => 2,
                _ => continue,
            };
            if last[slot].is_some_and(|l| l > i) {
                out.push(warn(
                    "MultipleInstructionsDisallowed",
                    format!(
                        "Multiple {} instructions should not be used in the same stage because only the last one will be used",
                        c.name().to_uppercase()
                    ),
                    c.range(),
                ));
            }
        }
    }

    // Instruction casing: compare with the majority of self-consistent ones.
    let keywords = || {
        stages.iter().flat_map(|s| {
            std::iter::once((&s.from.source.keyword, s.from.source.range))
                .chain(s.commands.iter().map(|c| (&c.source().keyword, c.range())))
        })
    };
    let (mut lower, mut upper) = (0, 0);
    for (k, _) in keywords() {
        if is_lower(k) {
            lower += 1;
        } else if is_upper(k) {
            upper += 1;
        }
    }
    let majority_lower = lower > upper;
    for (k, range) in keywords() {
        let want = if majority_lower && !is_lower(k) {
            "lowercase"
        } else if !majority_lower && !is_upper(k) {
            "uppercase"
        } else {
            continue;
        };
        out.push(warn(
            "ConsistentInstructionCasing",
            format!("Command '{k}' should match the case of the command majority ({want})"),
            range,
        ));
    }
    out
}

fn json_args(kw: &str, c: &Command) -> Warning {
    warn(
        "JSONArgsRecommended",
        format!(
            "JSON arguments recommended for {kw} to prevent unintended behavior related to OS signals"
        ),
        c.range(),
    )
}
