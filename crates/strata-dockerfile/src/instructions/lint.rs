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

fn self_consistent(name: &str) -> bool {
    name == name.to_lowercase() || name == name.to_uppercase()
}

/// Run the checks over the AST and the stages built from it.
pub(crate) fn check(nodes: &[Node], stages: &[Stage]) -> Vec<Warning> {
    let mut out = Vec::new();
    for n in nodes {
        match n.name().as_str() {
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
                    if name != &name.to_lowercase() {
                        out.push(warn(
                            "StageNameCasing",
                            format!("Stage name '{name}' should be lowercase"),
                            n.range,
                        ));
                    }
                    let from_upper = n.keyword == n.keyword.to_uppercase();
                    let as_upper = kw == &kw.to_uppercase();
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
            if matches!(
                c,
                Command::Cmd(_) | Command::Entrypoint(_) | Command::Healthcheck(_)
            ) && s.commands[i + 1..].iter().any(|l| l.name() == c.name())
            {
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
        if self_consistent(k) {
            if *k == k.to_lowercase() {
                lower += 1;
            } else {
                upper += 1;
            }
        }
    }
    let majority_lower = lower > upper;
    for (k, range) in keywords() {
        let want = if majority_lower && *k != k.to_lowercase() {
            "lowercase"
        } else if !majority_lower && *k != k.to_uppercase() {
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
    out.sort_by_key(|w| w.range);
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
