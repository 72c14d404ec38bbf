//! A CLI that teaches itself: the clap command of [`crate::cli`], dressed
//! once for everything that shows it — `--help`, the man pages
//! (`strata __man DIR`, clap_mangen) and shell completions (`strata
//! completion bash|zsh|fish`, clap_complete):
//!
//! * an EXAMPLES section for `build`, `run`, `history`, `pull` and `push`
//!   (long and short forms alike);
//! * the global options (`--root`, `--log-level`, `-D`,
//!   `--insecure-registry`) listed once, under `strata --help`: clap copies
//!   a `global = true` argument into every subcommand where its id is
//!   absent, so each subcommand gets a hidden copy first (still global: it
//!   parses anywhere, `strata build --root DIR .`, and its value reaches
//!   the top) and its help ends with a note naming them.

use std::io::Write;
use std::path::Path;

use clap::error::ErrorKind;
use clap::{Command, CommandFactory, FromArgMatches};

use crate::cli::Cli;
use crate::grammar;

/// The note ending every subcommand's help.
const GLOBAL_NOTE: &str = "Global options (--root, --log-level, -D/--debug, --insecure-registry) \
go anywhere on the command line; see `strata --help`.";

/// Examples, by command path (short forms too).
const EXAMPLES: &[(&[&str], &str)] = &[
    (&["build"], BUILD),
    (&["image", "build"], BUILD),
    (&["run"], RUN),
    (&["container", "run"], RUN),
    (&["history"], HISTORY),
    (&["image", "history"], HISTORY),
    (&["pull"], PULL),
    (&["image", "pull"], PULL),
    (&["push"], PUSH),
    (&["image", "push"], PUSH),
];

const BUILD: &str = "  strata build -t web-ping .                  # ./Dockerfile, tagged web-ping
  strata build -t app -f build/app.Dockerfile .
  strata build --target test --build-arg V=1 .  # stop at stage test, set ARG V
  strata build --explain -t app .             # why each step missed the cache
  strata build --trace build.svg -t app .     # the timeline (.json, .svg, .png)
  strata build . --explain-context a/x b      # sent? which .dockerignore line?
  SOURCE_DATE_EPOCH=0 strata build -t app .   # pinned times: image verify works
  tar -c . | strata build -t app -            # the context as a tar on stdin";

const RUN: &str = "  strata run --rm busybox echo hello         # remove the container after
  strata run -d --name web -e TARGET=example.com web-ping
  strata run -it --rm busybox sh              # an interactive shell
  strata run --rm -v \"$PWD\":/src -w /src busybox ls
  strata run --rm --network none --entrypoint cat app /etc/os-release";

const HISTORY: &str = "  strata history web-ping                     # one row per instruction
  strata history --no-trunc web-ping          # full IDs and commands
  strata history --digests web-ping           # layer digests and cache keys
  strata history --format '{{.CreatedBy}}\\t{{.Size}}' web-ping
  strata history --format json web-ping";

const PULL: &str =
    "  strata pull busybox                         # docker.io/library/busybox:latest
  strata pull 127.0.0.1:5000/team/app:1.2     # loopback registries: plain HTTP
  strata pull --insecure-registry reg.lan:5000 reg.lan:5000/app
  strata pull --all-tags 127.0.0.1:5000/team/app";

const PUSH: &str = "  strata tag app 127.0.0.1:5000/team/app:1.2
  strata push 127.0.0.1:5000/team/app:1.2
  strata login reg.example.com && strata push reg.example.com/team/app
  strata push --all-tags 127.0.0.1:5000/team/app  # every tag of the repository";

/// The examples of the command at `path`, if it has some.
fn examples(path: &[&str]) -> Option<&'static str> {
    EXAMPLES.iter().find(|(p, _)| *p == path).map(|(_, t)| *t)
}

/// The dressed command tree (docker's grammar, boolean flags shown plain).
pub fn command() -> Command {
    dressed(Cli::command())
}

/// `root` with every command's arguments built (they are deferred, see
/// [`grammar::parse_tree`]), then dressed: the global flags, which clap
/// copies into every command as it builds them, hidden there (they are
/// shown once, at the top), and the examples and the note added to the
/// help.
fn dressed(root: Command) -> Command {
    let shells = root.clone();
    let mut root = root;
    root.build();
    let root = keep_abouts(root, &shells);
    let cmd = grammar::docker_rules(root, false);
    let globals: Vec<clap::Id> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .map(|a| a.get_id().clone())
        .collect();
    cmd.mut_subcommands(|s| {
        let name = s.get_name().to_string();
        dress(s, &[name], &globals)
    })
}

/// `built` with the help texts of the commands of `shell` (the same tree
/// before it was built): a deferred command's arguments struct brings its
/// own `about` (its doc comment) when built, over the command's.
fn keep_abouts(built: Command, shell: &Command) -> Command {
    let mut built = built;
    if let Some(a) = shell.get_about() {
        built = built.about(a.clone());
    }
    if let Some(l) = shell.get_long_about() {
        built = built.long_about(l.clone());
    }
    built.mut_subcommands(|s| match shell.find_subcommand(s.get_name()) {
        Some(sh) => keep_abouts(s, sh),
        None => s,
    })
}

/// Hides `cmd`'s copies of the `globals` (clap keeps them global, so
/// their values still reach the top) and adds the examples and the note
/// to its help, and to its subcommands' (`cmd` is at `path`).
fn dress(mut cmd: Command, path: &[String], globals: &[clap::Id]) -> Command {
    // In place: a built command finds its arguments by position.
    cmd = cmd.mut_args(|a| {
        if globals.contains(a.get_id()) {
            a.hide(true)
        } else {
            a
        }
    });
    let mut after = String::new();
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    if let Some(e) = examples(&p) {
        after.push_str("Examples:\n");
        after.push_str(e);
        after.push_str("\n\n");
    }
    if let Some(h) = cmd.get_after_help() {
        after.push_str(&h.to_string());
        after.push_str("\n\n");
    }
    after.push_str(GLOBAL_NOTE);
    cmd.after_help(after).mut_subcommands(|s| {
        let mut sub = path.to_vec();
        sub.push(s.get_name().to_string());
        dress(s, &sub, globals)
    })
}

/// Parses the process's arguments with docker's grammar
/// ([`grammar`]). The plain tree, built for the command used only
/// ([`grammar::parse_tree`]), parses as the dressed one (hiding changes
/// no parse) and costs a small part of it, so the dressed tree is made
/// only to show help; should it refuse what the plain tree read (a
/// boolean's `=value`, which only the plain tree takes), the plain tree's
/// help is shown.
pub fn parse() -> (Cli, clap::ArgMatches) {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let plain = grammar::parse_tree(&args);
    let args = grammar::end_options(&plain, args);
    let is_help = |e: &clap::Error| {
        matches!(
            e.kind(),
            ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        )
    };
    let matches = match plain.try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e) if is_help(&e) => match command().try_get_matches_from(&args) {
            Err(dressed) if is_help(&dressed) => dressed.exit(),
            _ => e.exit(),
        },
        Err(e) => e.exit(),
    };
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    (cli, matches)
}

/// `strata completion SHELL`: the completion script on `out`.
pub fn completion(shell: clap_complete::Shell, out: &mut dyn Write) {
    let mut cmd = command();
    clap_complete::generate(shell, &mut cmd, "strata", out);
}

/// `strata __man DIR`: one page per visible command (`strata.1`,
/// `strata-image-build.1`, …) with the EXAMPLES sections; returns the
/// number written.
pub fn man_pages(dir: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    // Built: subcommands get their display names (`strata-image-build`)
    // and the propagated version.
    let cmd = dressed(Cli::command().disable_help_subcommand(true));
    let mut n = 0;
    write_pages(&cmd, &[], dir, &mut n)?;
    Ok(n)
}

fn write_pages(cmd: &Command, path: &[&str], dir: &Path, n: &mut usize) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let mut p = path.to_vec();
        p.push(sub.get_name());
        write_pages(sub, &p, dir, n)?;
    }
    // The help note is for the terminal; the page has sections instead.
    let page_cmd = cmd.clone().after_help(None::<&str>);
    let man = clap_mangen::Man::new(page_cmd);
    let mut buf: Vec<u8> = Vec::new();
    man.render_title(&mut buf)?;
    man.render_name_section(&mut buf)?;
    man.render_synopsis_section(&mut buf)?;
    man.render_description_section(&mut buf)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut buf)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut buf)?;
    }
    if let Some(e) = examples(path) {
        buf.extend_from_slice(b".SH EXAMPLES\n.nf\n");
        for line in e.lines() {
            buf.extend_from_slice(roff_line(line).as_bytes());
            buf.push(b'\n');
        }
        buf.extend_from_slice(b".fi\n");
    }
    if !path.is_empty() {
        buf.extend_from_slice(
            b".SH \"GLOBAL OPTIONS\"\n\\-\\-root, \\-\\-log\\-level, \\-D, \\-\\-insecure\\-registry: see \\fBstrata\\fR(1).\n",
        );
    }
    if cmd.get_version().is_some() {
        man.render_version_section(&mut buf)?;
    }
    std::fs::write(dir.join(man.get_filename()), buf)?;
    *n += 1;
    Ok(())
}

/// A line of literal text for roff: backslashes and hyphens escaped, a
/// leading `.` or `'` protected.
fn roff_line(line: &str) -> String {
    let mut s = line.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        s.insert_str(0, "\\&");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn help_of(path: &[&str]) -> String {
        let mut cmd = command();
        let mut c = &mut cmd;
        for p in path {
            c = c.find_subcommand_mut(p).unwrap();
        }
        c.render_long_help().to_string()
    }

    #[test]
    fn globals_once_at_the_top() {
        let top = help_of(&[]);
        assert!(top.contains("--root <DIR>"), "{top}");
        let build = help_of(&["image", "build"]);
        assert!(!build.contains("--root <DIR>"), "{build}");
        assert!(
            build.contains("Examples:") && build.contains("Global options"),
            "{build}"
        );
        // Still parsed after the subcommand.
        let m = command()
            .try_get_matches_from(["strata", "image", "ls", "--root", "/x"])
            .unwrap();
        let cli = Cli::from_arg_matches(&m).unwrap();
        assert_eq!(cli.global.root.as_deref(), Some(Path::new("/x")));
    }

    #[test]
    fn examples_on_both_forms() {
        for p in [
            &["run"][..],
            &["container", "run"],
            &["pull"],
            &["image", "push"],
        ] {
            assert!(help_of(p).contains("Examples:"), "{p:?}");
        }
        assert!(!help_of(&["ps"]).contains("Examples:"));
    }

    #[test]
    fn roff_escapes() {
        assert_eq!(roff_line(".x -a \\n"), "\\&.x \\-a \\en");
    }
}
