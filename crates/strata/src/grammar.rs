//! docker's argument grammar over the clap tree of [`crate::cli`].
//!
//! docker's CLI parses with spf13/pflag, whose rules differ from clap's
//! defaults; [`docker_rules`] makes clap follow them everywhere:
//!
//! * a flag given twice takes its last value (clap would refuse);
//! * a boolean flag takes an optional `=value` (`--rm=false`, `-d=true`,
//!   `-it=false`), parsed as Go's `strconv.ParseBool`; without `=` it
//!   never takes the next word (`--sig-proxy false` is not a value);
//! * a flag that takes a value takes the next word whatever it looks like
//!   (`-e -x` sets `-x`, `-e --` sets `--`).
//!
//! And [`end_options`] puts docker's end of options where docker's is:
//! `run`/`create` (image) and `exec` (container) parse with
//! `SetInterspersed(false)`, so their options end at the first
//! positional, and every word after it — `-h`, `--help`, `--`, `-e A=1` —
//! is the command's argv. clap would keep reading flags until the
//! trailing argument has its first word, so an `--` is inserted before
//! the first positional of every command whose last positional is a
//! trailing argv (found in the clap tree, not listed here). Combined short
//! flags (`-dit`, `-eA=1`, `-e=A=1`), `--flag=value` and `--` itself read
//! as pflag reads them.

use std::ffi::{OsStr, OsString};

use clap::builder::ValueParser;
use clap::{Arg, ArgAction, Command, CommandFactory};

/// Go's `strconv.ParseBool`, the parser of pflag's boolean flags.
pub fn go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing \"{s}\": invalid syntax"
        )),
    }
}

/// The tree `args` (the process's, program name first) is parsed with:
/// the command tree with docker's rules, built (see [`Command::build`])
/// for the commands on the path `args` names only (`image`, then
/// `build`). Every command's arguments are deferred (`#[command(defer)]`
/// on the subcommand enums of [`crate::cli`]), and the commands off the
/// path stay empty, so a parse does not build the ~100 commands it does
/// not use (1.8 ms of every strata command's start became 0.9 ms). A word
/// that names no command leaves the rest empty, for clap to report.
pub fn parse_tree(args: &[OsString]) -> Command {
    let root = crate::cli::Cli::command();
    let globals: Vec<Arg> = root
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    let (root, leaf) = keep_path(root, args, 1, &globals);
    // clap's `help` subcommands hold a copy of the tree once built: left
    // out when the words name a command (not `help`, nor a group alone).
    let mut root = root.disable_help_subcommand(leaf);
    root.build();
    docker_rules(root, true)
}

/// `cmd` (whose words end before `args[i]`) with only the subcommand the
/// next command word names kept, and that one's path likewise; and
/// whether the path ends at a command without subcommands.
fn keep_path(cmd: Command, args: &[OsString], mut i: usize, globals: &[Arg]) -> (Command, bool) {
    let globals_ref: Vec<&Arg> = globals.iter().collect();
    let word = loop {
        let Some(word) = args.get(i).map(|w| w.to_string_lossy()) else {
            break None;
        };
        if word == "--" {
            break None;
        }
        if word.len() > 1 && word.starts_with('-') {
            i += option_words(&cmd, &globals_ref, &word);
            continue;
        }
        break Some(word);
    };
    let used = word.as_deref().and_then(|w| {
        cmd.find_subcommand(OsStr::new(w))
            .map(|s| s.get_name().to_string())
    });
    let mut leaf = !cmd.has_subcommands();
    let cmd = cmd.mut_subcommands(|s| match used.as_deref() {
        Some(u) if u == s.get_name() => {
            let (s, l) = keep_path(s, args, i + 1, globals);
            leaf = l;
            s
        }
        // Not used, and no error will list it: its name alone.
        Some(_) => Command::new(s.get_name().to_string()),
        // An error will list the commands (and aliases) of this level.
        None => left_empty(s),
    });
    (cmd, leaf)
}

/// `cmd` and its subcommands with their deferred arguments dropped.
fn left_empty(cmd: Command) -> Command {
    cmd.defer(|empty| empty).mut_subcommands(left_empty)
}

/// Applies pflag's rules to `cmd` and all its subcommands. `bool_values`:
/// boolean flags accept `=value` (the parsing tree); the tree that only
/// shows help leaves them plain so help reads `-d, --detach` as docker's.
pub fn docker_rules(cmd: Command, bool_values: bool) -> Command {
    cmd.args_override_self(true)
        .mut_args(|a| flag_rules(a, bool_values))
        .mut_subcommands(|s| docker_rules(s, bool_values))
}

fn flag_rules(a: Arg, bool_values: bool) -> Arg {
    if a.is_positional() {
        return a;
    }
    let is_bool = a.get_value_parser().type_id() == ValueParser::bool().type_id();
    match a.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse if bool_values => {
            let missing = if matches!(a.get_action(), ArgAction::SetTrue) {
                "true"
            } else {
                "false"
            };
            a.num_args(0..=1)
                .require_equals(true)
                .default_missing_value(missing)
                .value_parser(go_bool)
        }
        ArgAction::Set | ArgAction::Append => match a.get_num_args() {
            // An optional value (`--sig-proxy[=false]`): only with `=`.
            Some(r) if r.min_values() == 0 => {
                let a = a.require_equals(true);
                if is_bool { a.value_parser(go_bool) } else { a }
            }
            // One value: the next word, whatever it starts with.
            None => a.allow_hyphen_values(true),
            Some(r) if r.max_values() == 1 => a.allow_hyphen_values(true),
            Some(_) => a,
        },
        _ => a,
    }
}

/// True when `cmd`'s options end at its first positional: its last
/// positional is a trailing argv (`run IMAGE [COMMAND]...`,
/// `exec CONTAINER COMMAND...`). Hidden internal commands keep clap's way.
fn argv_trails(cmd: &Command) -> bool {
    !cmd.is_hide_set()
        && cmd.get_positionals().count() > 1
        && cmd
            .get_positionals()
            .last()
            .is_some_and(Arg::is_trailing_var_arg_set)
}

/// Whether `a` takes the next word as its value when none is attached.
fn takes_next_word(a: &Arg) -> bool {
    a.get_action().takes_values() && !a.is_require_equals_set()
}

/// Finds the flag `--name` (or an alias) of `cmd` or of the globals.
fn find_long<'a>(cmd: &'a Command, globals: &[&'a Arg], name: &str) -> Option<&'a Arg> {
    let hit = |a: &&Arg| {
        a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|v| v.contains(&name))
    };
    cmd.get_arguments()
        .find(hit)
        .or_else(|| globals.iter().copied().find(hit))
}

/// Finds the flag `-c` (or a short alias) of `cmd` or of the globals.
fn find_short<'a>(cmd: &'a Command, globals: &[&'a Arg], c: char) -> Option<&'a Arg> {
    let hit = |a: &&Arg| {
        a.get_short() == Some(c) || a.get_all_short_aliases().is_some_and(|v| v.contains(&c))
    };
    cmd.get_arguments()
        .find(hit)
        .or_else(|| globals.iter().copied().find(hit))
}

/// How many words the option word `tok` (starting with `-`) uses, as
/// pflag reads it: 2 when its last flag takes the next word as value.
fn option_words(cmd: &Command, globals: &[&Arg], tok: &str) -> usize {
    if let Some(long) = tok.strip_prefix("--") {
        if long.contains('=') {
            return 1;
        }
        return match find_long(cmd, globals, long) {
            Some(a) if takes_next_word(a) => 2,
            _ => 1,
        };
    }
    // A group of short flags: `-dit`, `-eA=1`, `-e=A=1`, `-d=false`.
    let mut rest = &tok[1..];
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        let Some(a) = find_short(cmd, globals, c) else {
            return 1; // unknown: clap reports it
        };
        if rest.starts_with('=') {
            return 1; // `=value` ends the group
        }
        if takes_next_word(a) {
            // The rest of the word is the value, or else the next word.
            return if rest.is_empty() { 2 } else { 1 };
        }
    }
    1
}

/// `args` (the process's, program name first) with `--` inserted where
/// docker's options end: before the first positional of a command whose
/// argv trails (see the module doc). Anything clap will reject is left
/// as it is, for clap to report.
pub fn end_options(root: &Command, mut args: Vec<OsString>) -> Vec<OsString> {
    let mut cmd = root;
    let mut globals: Vec<&Arg> = root.get_arguments().filter(|a| a.is_global_set()).collect();
    let mut i = 1;
    while i < args.len() {
        let word = args[i].to_string_lossy();
        if word == "--" {
            break;
        }
        if word.len() > 1 && word.starts_with('-') {
            i += option_words(cmd, &globals, &word);
            continue;
        }
        if cmd.has_subcommands() {
            let Some(sub) = cmd.find_subcommand(OsStr::new(word.as_ref())) else {
                break;
            };
            cmd = sub;
            globals.extend(cmd.get_arguments().filter(|a| a.is_global_set()));
            i += 1;
            continue;
        }
        if argv_trails(cmd) {
            args.insert(i, OsString::from("--"));
        }
        break;
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

    use crate::cli::{Cli, Command as Top};
    use crate::commands::container::ContainerCommand;

    fn parse(words: &[&str]) -> Result<Cli, clap::Error> {
        let mut args: Vec<OsString> = vec!["strata".into()];
        args.extend(words.iter().map(OsString::from));
        let cmd = parse_tree(&args);
        let args = end_options(&cmd, args);
        let m = cmd.try_get_matches_from(args)?;
        Cli::from_arg_matches(&m)
    }

    /// (image, argv, detach, env, hostname) of a `run`.
    fn run(words: &[&str]) -> (String, Vec<String>, bool, Vec<String>, Option<String>) {
        let cli = parse(words).unwrap_or_else(|e| panic!("{words:?}: {e}"));
        let r = match cli.command {
            Top::Run(r) => r,
            Top::Container(ContainerCommand::Run(r)) => r,
            other => panic!("{other:?}"),
        };
        (r.image, r.args, r.detach, r.flags.env, r.flags.hostname)
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options_end_at_the_image() {
        let (img, argv, _, _, host) =
            run(&["run", "--rm", "--entrypoint", "echo", "bb", "-h", "x"]);
        assert_eq!((img.as_str(), argv, host), ("bb", s(&["-h", "x"]), None));
        let (_, argv, d, env, _) = run(&["run", "bb", "-d", "-e", "A=1", "--help"]);
        assert_eq!(
            (argv, d, env),
            (s(&["-d", "-e", "A=1", "--help"]), false, s(&[]))
        );
        let (_, argv, ..) = run(&["container", "run", "bb", "--", "x"]);
        assert_eq!(argv, s(&["--", "x"]));
        let (img, argv, ..) = run(&["--root", "/r", "run", "--", "bb", "--root"]);
        assert_eq!((img.as_str(), argv), ("bb", s(&["--root"])));
    }

    #[test]
    fn short_groups_values_and_repeats() {
        let (_, _, d, env, host) = run(&[
            "run",
            "-dit",
            "-e=A=1",
            "-eB=2",
            "-e",
            "-x",
            "-h",
            "h1",
            "--hostname=h2",
            "bb",
        ]);
        assert!(d);
        assert_eq!(env, s(&["A=1", "B=2", "-x"]));
        assert_eq!(host.as_deref(), Some("h2"));
        let (_, _, d, ..) = run(&["run", "-d", "--detach=false", "bb"]);
        assert!(!d);
        let (_, _, d, ..) = run(&["run", "-it=false", "-d=1", "bb"]);
        assert!(d);
        assert!(parse(&["run", "--detach=maybe", "bb"]).is_err());
        // `--sig-proxy` takes its value only with `=`.
        let (img, ..) = run(&["run", "--sig-proxy", "bb", "x"]);
        assert_eq!(img, "bb");
    }

    #[test]
    fn exec_and_create_end_at_their_first_positional() {
        let cli = parse(&["exec", "-e", "A=1", "c1", "sh", "-e", "-c", "x"]).unwrap();
        let Top::Exec(e) = cli.command else { panic!() };
        assert_eq!((e.container.as_str(), e.env), ("c1", s(&["A=1"])));
        assert_eq!(e.command, s(&["sh", "-e", "-c", "x"]));
        let cli = parse(&["container", "create", "--name", "n", "bb", "--name", "m"]).unwrap();
        let Top::Container(ContainerCommand::Create(c)) = cli.command else {
            panic!()
        };
        assert_eq!(c.flags.name.as_deref(), Some("n"));
        assert_eq!(c.args, s(&["--name", "m"]));
    }

    #[test]
    fn other_commands_are_untouched() {
        let args: Vec<OsString> = ["strata", "image", "ls", "-a", "x"]
            .iter()
            .map(OsString::from)
            .collect();
        let cmd = parse_tree(&args);
        assert_eq!(end_options(&cmd, args.clone()), args);
    }

    fn words(w: &[&str]) -> Vec<OsString> {
        w.iter().map(OsString::from).collect()
    }

    /// The names of the commands of `tree` with arguments built (their
    /// own or their subcommands').
    fn built(tree: &Command) -> Vec<&str> {
        fn has_args(c: &Command) -> bool {
            let own =
                |a: &Arg| !a.is_global_set() && !matches!(a.get_id().as_str(), "help" | "version");
            c.get_arguments().any(own) || c.get_subcommands().any(has_args)
        }
        tree.get_subcommands()
            .filter(|s| has_args(s))
            .map(|s| s.get_name())
            .collect()
    }

    #[test]
    fn the_parse_tree_builds_only_the_command_used() {
        let tree = parse_tree(&words(&["strata", "build", "-t", "x", "."]));
        assert_eq!(built(&tree), ["build"]);
        // After global options (with and without a value), by an alias.
        let tree = parse_tree(&words(&["strata", "--root", "/r", "-D", "image", "list"]));
        assert_eq!(built(&tree), ["image"]);
        let image = tree.find_subcommand("image").unwrap();
        assert_eq!(built(image), ["ls"]);
        let tree = parse_tree(&words(&["strata", "--root=/r", "ps", "-a"]));
        assert_eq!(built(&tree), ["ps"]);
        // Nothing named: nothing built, and clap says what is wrong.
        for w in [
            &["strata"][..],
            &["strata", "buidl"],
            &["strata", "--", "ps"],
        ] {
            let tree = parse_tree(&words(w));
            assert!(built(&tree).is_empty(), "{w:?}");
            assert!(tree.try_get_matches_from(words(w)).is_err(), "{w:?}");
        }
        // The whole tree, built, holds every command's arguments.
        let mut all = Cli::command();
        all.build();
        assert!(built(&all).len() > 40, "{:?}", built(&all));
    }

    #[test]
    fn a_command_parses_alike_in_the_pruned_and_the_whole_tree() {
        for w in [
            &["strata", "build", "--no-cache", "-t", "a", "-f", "D", "."][..],
            &[
                "strata",
                "-D",
                "run",
                "--rm=false",
                "-e",
                "-x",
                "bb",
                "sh",
                "-c",
                "x",
            ],
            &["strata", "image", "ls", "--root", "/r", "-a"],
            &["strata", "container", "run", "-dit", "bb"],
        ] {
            let args = words(w);
            let pruned = parse_tree(&args);
            let mut whole = Cli::command();
            whole.build();
            let whole = docker_rules(whole, true);
            let (pa, wa) = (
                end_options(&pruned, args.clone()),
                end_options(&whole, args),
            );
            assert_eq!(pa, wa, "{w:?}");
            let a = pruned.try_get_matches_from(pa);
            let b = whole.try_get_matches_from(wa);
            let (a, b) = (a.unwrap(), b.unwrap());
            assert_eq!(
                format!("{:?}", Cli::from_arg_matches(&a).unwrap()),
                format!("{:?}", Cli::from_arg_matches(&b).unwrap()),
                "{w:?}"
            );
        }
    }
}
