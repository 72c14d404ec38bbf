//! One module per command family, one file per verb (cargo's layout):
//! each file declares its clap `Args` and a `run(ctx, args)` that calls the
//! library crates and prints docker's output.

pub mod builder;
pub mod completion;
pub mod container;
pub mod image;
pub mod login;
pub mod logout;
pub mod network;
pub mod prune_filter;
pub mod registry;
pub mod system;
pub mod volume;

use crate::cli::{Cli, Command, GlobalArgs, ImageCommand, SystemCommand};
use crate::context::Ctx;

/// Runs the parsed command; returns the process exit code.
pub fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    let ctx = Ctx::new(&cli.global);
    match cli.command {
        Command::Image(c) => image_command(&ctx, &cli.global, c),
        Command::System(SystemCommand::Df(a)) => system::df::run(&ctx, a),
        Command::System(SystemCommand::Check(a)) => system::check::run(&ctx, a),
        Command::System(SystemCommand::Info(a)) => system::info::run(&ctx, a),
        Command::System(SystemCommand::Prune(a)) => system::prune::run(&ctx, a),
        Command::System(SystemCommand::Events(a)) | Command::Events(a) => {
            system::events::run(&ctx, a)
        }
        Command::System(SystemCommand::Service(a)) => crate::service::run(ctx, a),
        Command::Info(a) => system::info::run(&ctx, a),
        Command::Version(a) => system::version::run(&ctx, a),
        Command::Images(a) => image::ls::run(&ctx, a),
        Command::Rmi(a) => image::rm::run(&ctx, a),
        Command::Tag(a) => image::tag::run(&ctx, a),
        Command::History(a) => image::history::run(&ctx, a),
        Command::Save(a) => image::save::run(&ctx, a),
        Command::Load(a) => image::load::run(&ctx, a),
        Command::Import(a) => image::import::run(&ctx, a),
        Command::Build(a) => image::build::run(&ctx, &cli.global, *a),
        Command::Builder(c) => builder::dispatch(&ctx, c),
        Command::Network(c) => network::dispatch(&ctx, c),
        Command::Volume(c) => volume::dispatch(&ctx, c),
        Command::Pull(a) => image::pull::run(&ctx, &cli.global, a),
        Command::Push(a) => image::push::run(&ctx, &cli.global, a),
        Command::Login(a) => login::run(&cli.global, a),
        Command::Logout(a) => logout::run(&cli.global, a),
        Command::Container(c) => container::dispatch(&ctx, c),
        Command::Run(a) => container::run::run(&ctx, a),
        Command::Create(a) => container::create::run(&ctx, a),
        Command::Start(a) => container::start::run(&ctx, a),
        Command::Ps(a) => container::ps::run(&ctx, a),
        Command::Logs(a) => container::logs::run(&ctx, a),
        Command::Stop(a) => container::stop::run(&ctx, a),
        Command::Kill(a) => container::kill::run(&ctx, a),
        Command::Rm(a) => container::rm::run(&ctx, a),
        Command::Exec(a) => container::exec::run(&ctx, a),
        Command::Wait(a) => container::wait::run(&ctx, a),
        Command::Commit(a) => container::commit::run(&ctx, a),
        Command::Cp(a) => container::cp::run(&ctx, a),
        Command::Rename(a) => container::rename::run(&ctx, a),
        Command::Port(a) => container::port::run(&ctx, a),
        Command::Top(a) => container::top::run(&ctx, a),
        Command::Stats(a) => container::stats::run(&ctx, a),
        Command::Diff(a) => container::diff::run(&ctx, a),
        Command::Export(a) => container::export::run(&ctx, a),
        Command::Pause(a) => container::pause::pause(&ctx, a),
        Command::Unpause(a) => container::pause::unpause(&ctx, a),
        Command::Restart(a) => container::restart::run(&ctx, a),
        Command::Attach(a) => container::attach::run(&ctx, a),
        Command::Update(a) => container::update::run(&ctx, a),
        Command::Inspect(a) => container::inspect::run_any(&ctx, a),
        Command::Shim(a) => container::shim::run(a),
        Command::Completion(a) => completion::completion(a),
        Command::Man(a) => completion::man(a),
    }
}

fn image_command(ctx: &Ctx, global: &GlobalArgs, c: ImageCommand) -> anyhow::Result<i32> {
    match c {
        ImageCommand::Import(a) => image::import::run(ctx, a),
        ImageCommand::Build(a) => image::build::run(ctx, global, *a),
        ImageCommand::Inspect(a) => image::inspect::run(ctx, a),
        ImageCommand::Ls(a) => image::ls::run(ctx, a),
        ImageCommand::Rm(a) => image::rm::run(ctx, a),
        ImageCommand::Tag(a) => image::tag::run(ctx, a),
        ImageCommand::History(a) => image::history::run(ctx, a),
        ImageCommand::Save(a) => image::save::run(ctx, a),
        ImageCommand::Load(a) => image::load::run(ctx, a),
        ImageCommand::Pull(a) => image::pull::run(ctx, global, a),
        ImageCommand::Push(a) => image::push::run(ctx, global, a),
        ImageCommand::Verify(a) => image::verify::run(ctx, global, a),
        ImageCommand::Prune(a) => image::prune::run(ctx, a),
    }
}

/// One `--filter` value split at its first `=`; docker's flag error
/// (exit 125) when it has none.
pub fn filter_pair(f: &str) -> anyhow::Result<(&str, &str)> {
    f.split_once('=').ok_or_else(|| {
        crate::exit::ExitError::new(
            125,
            format!(
                "invalid argument \"{f}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"
            ),
        )
        .into()
    })
}

/// The items docker's `--filter` words select: values of one key are
/// OR'ed, different keys AND'ed (docker's `filters.Args`); `test` answers
/// one item against one `key=value`.
pub fn select_filtered<T>(
    items: Vec<T>,
    filter: &[String],
    mut test: impl FnMut(&T, &str, &str) -> anyhow::Result<bool>,
) -> anyhow::Result<Vec<T>> {
    let mut filters = Vec::new();
    for f in filter {
        filters.push(filter_pair(f)?);
    }
    filters.sort();
    let mut keys: Vec<&str> = filters.iter().map(|(k, _)| *k).collect();
    keys.dedup();
    let mut out = Vec::new();
    'items: for item in items {
        for key in &keys {
            let mut any = false;
            for (_, v) in filters.iter().filter(|(k, _)| k == key) {
                any |= test(&item, key, v)?;
            }
            if !any {
                continue 'items;
            }
        }
        out.push(item);
    }
    Ok(out)
}

/// docker's `label=KEY` / `label=KEY=VALUE` filter against `labels`.
pub fn label_matches(
    labels: Option<&std::collections::BTreeMap<String, String>>,
    want: &str,
) -> bool {
    match want.split_once('=') {
        Some((k, v)) => labels.and_then(|m| m.get(k)).is_some_and(|x| x == v),
        None => labels.is_some_and(|m| m.contains_key(want)),
    }
}

/// docker's prune prompt: "WARNING! This will remove {what}." and the
/// question; true when the answer is y or yes (read from stdin; an empty
/// or closed input is a no, as docker's).
pub fn confirm_removal(what: &str) -> std::io::Result<bool> {
    confirm(&format!(
        "WARNING! This will remove {what}.\nAre you sure you want to continue?"
    ))
}

/// docker's `PromptForConfirmation`: `message` and ` [y/N] `; true when
/// the answer is y or yes (an empty or closed input is a no).
pub fn confirm(message: &str) -> std::io::Result<bool> {
    use std::io::{BufRead, Write};
    print!("{message} [y/N] ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Accepts `--platform` only for the host's platform (`linux/amd64`,
/// `linux/amd64/v1`…): strata does not emulate other architectures.
pub fn check_platform(p: &str) -> anyhow::Result<()> {
    if !strata_oci::is_host_platform(p) {
        anyhow::bail!(
            "platform {p:?} is not supported: strata runs images of the host platform ({}) only",
            strata_oci::host_platform_string()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_or_within_a_key_and_across_keys() {
        let items = vec![("a1", "x"), ("a2", "y"), ("b1", "x")];
        let pick = |f: &[&str]| -> Vec<&str> {
            let f: Vec<String> = f.iter().map(|s| s.to_string()).collect();
            select_filtered(items.clone(), &f, |(n, d), k, v| {
                Ok(match k {
                    "name" => n.starts_with(v),
                    "driver" => *d == v,
                    _ => anyhow::bail!("Invalid filter '{k}'"),
                })
            })
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect()
        };
        assert_eq!(pick(&[]), ["a1", "a2", "b1"]);
        assert_eq!(pick(&["name=a", "name=b1"]), ["a1", "a2", "b1"]);
        assert_eq!(pick(&["name=a", "driver=x"]), ["a1"]);
        assert!(select_filtered(items.clone(), &["bad".into()], |_, _, _| Ok(true)).is_err());
        let mut labels = std::collections::BTreeMap::new();
        labels.insert("team".to_string(), "a".to_string());
        assert!(label_matches(Some(&labels), "team"));
        assert!(label_matches(Some(&labels), "team=a"));
        assert!(!label_matches(Some(&labels), "team=b"));
        assert!(!label_matches(None, "team"));
    }
}
