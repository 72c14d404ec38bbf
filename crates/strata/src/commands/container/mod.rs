//! `strata container …` and its short forms (`run`, `ps`, `logs`, …):
//! one file per verb over strata-runtime. Errors of the runtime keep
//! docker's exit codes (125/126/127) through [`rt`].

pub mod attach;
pub mod commit;
pub mod cp;
pub mod create;
pub mod diff;
pub mod exec;
pub mod export;
pub mod health_flags;
pub mod inspect;
pub mod kill;
pub mod logs;
pub mod network_flags;
pub mod pause;
pub mod port;
pub mod ps;
pub mod rename;
pub mod restart;
pub mod rm;
pub mod run;
pub mod security_flags;
pub mod shim;
pub mod start;
pub mod stats;
pub mod stop;
pub mod top;
pub mod update;
pub mod wait;

use clap::Subcommand;
use strata_runtime::{Container, RuntimeError};
use strata_store::Store;

use crate::context::Ctx;
use crate::exit::ExitError;

/// `strata container …`
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ContainerCommand {
    /// Create and run a new container from an image
    Run(run::RunArgs),
    /// Create a new container
    Create(create::CreateArgs),
    /// Start one or more stopped containers
    Start(start::StartArgs),
    /// List containers
    #[command(visible_alias = "ps", visible_alias = "list")]
    Ls(ps::PsArgs),
    /// Fetch the logs of a container
    Logs(logs::LogsArgs),
    /// Stop one or more running containers
    Stop(stop::StopArgs),
    /// Kill one or more running containers
    Kill(kill::KillArgs),
    /// Remove one or more containers
    #[command(visible_alias = "remove")]
    Rm(rm::RmArgs),
    /// Execute a command in a running container
    Exec(exec::ExecArgs),
    /// Display detailed information on one or more containers
    Inspect(inspect::InspectArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(wait::WaitArgs),
    /// Create a new image from a container's changes
    Commit(commit::CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(cp::CpArgs),
    /// Rename a container
    Rename(rename::RenameArgs),
    /// List port mappings or a specific mapping for the container
    Port(port::PortArgs),
    /// Remove all stopped containers
    Prune(rm::PruneArgs),
    /// Display the running processes of a container
    Top(top::TopArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(diff::DiffArgs),
    /// Export a container's filesystem as a tar archive
    Export(export::ExportArgs),
    /// Pause all processes within one or more containers
    Pause(pause::PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(pause::PauseArgs),
    /// Restart one or more containers
    Restart(restart::RestartArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(attach::AttachArgs),
    /// Update configuration of one or more containers
    Update(update::UpdateArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(stats::StatsArgs),
}

/// Runs `strata container …`.
pub fn dispatch(ctx: &Ctx, c: ContainerCommand) -> anyhow::Result<i32> {
    match c {
        ContainerCommand::Run(a) => run::run(ctx, a),
        ContainerCommand::Create(a) => create::run(ctx, a),
        ContainerCommand::Start(a) => start::run(ctx, a),
        ContainerCommand::Ls(a) => ps::run(ctx, a),
        ContainerCommand::Logs(a) => logs::run(ctx, a),
        ContainerCommand::Stop(a) => stop::run(ctx, a),
        ContainerCommand::Kill(a) => kill::run(ctx, a),
        ContainerCommand::Rm(a) => rm::run(ctx, a),
        ContainerCommand::Exec(a) => exec::run(ctx, a),
        ContainerCommand::Inspect(a) => inspect::run(ctx, a),
        ContainerCommand::Wait(a) => wait::run(ctx, a),
        ContainerCommand::Commit(a) => commit::run(ctx, a),
        ContainerCommand::Cp(a) => cp::run(ctx, a),
        ContainerCommand::Rename(a) => rename::run(ctx, a),
        ContainerCommand::Port(a) => port::run(ctx, a),
        ContainerCommand::Prune(a) => rm::prune(ctx, a),
        ContainerCommand::Top(a) => top::run(ctx, a),
        ContainerCommand::Diff(a) => diff::run(ctx, a),
        ContainerCommand::Export(a) => export::run(ctx, a),
        ContainerCommand::Pause(a) => pause::pause(ctx, a),
        ContainerCommand::Unpause(a) => pause::unpause(ctx, a),
        ContainerCommand::Restart(a) => restart::run(ctx, a),
        ContainerCommand::Attach(a) => attach::run(ctx, a),
        ContainerCommand::Update(a) => update::run(ctx, a),
        ContainerCommand::Stats(a) => stats::run(ctx, a),
    }
}

/// A runtime error as the CLI reports it: docker's message and exit code.
pub fn rt(e: RuntimeError) -> anyhow::Error {
    ExitError::new(e.exit_code(), e.to_string()).into()
}

/// Looks a container up (docker's order: ID, name, ID prefix).
pub fn lookup(store: &Store, name: &str) -> anyhow::Result<Container> {
    strata_runtime::containers::lookup(store, name).map_err(|e| match e {
        RuntimeError::NoSuchContainer(n) => {
            ExitError::new(1, format!("No such container: {n}")).into()
        }
        other => ExitError::new(1, other.to_string()).into(),
    })
}

/// Runs `f` for every container argument as docker's multi-target commands
/// do: prints what `f` returns, reports each failure on stderr, exits 1 if
/// any failed.
pub fn each(
    ctx: &Ctx,
    names: &[String],
    mut f: impl FnMut(&Store, &str) -> anyhow::Result<Option<String>>,
) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let mut failed = false;
    for n in names {
        match f(store, n) {
            Ok(Some(line)) => println!("{line}"),
            Ok(None) => {}
            Err(e) => {
                failed = true;
                eprintln!("Error response from daemon: {e:#}");
            }
        }
    }
    if failed {
        return Err(ExitError::new(1, "").into());
    }
    Ok(0)
}
