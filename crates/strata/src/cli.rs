//! docker's command tree, declared with clap: management commands
//! (`image`, `container`, `system`) and docker's short forms (`images`,
//! `rmi`, `tag`, …), which share their argument structs with the long
//! forms so both spell every flag the same way.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands::{image, system};

/// A daemonless, Docker-compatible image builder, store, registry client and container runner.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about, propagate_version = true)]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Global flags.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Store root directory (default /var/lib/strata as root, $XDG_DATA_HOME/strata otherwise)
    #[arg(long, global = true, env = "STRATA_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Log filter (error, warn, info, debug, trace; or a tracing filter)
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Enable debug logging
    #[arg(short = 'D', long, global = true)]
    pub debug: bool,
    /// Reach this registry over plain HTTP or unverified TLS (repeatable; loopback registries always are; also STRATA_INSECURE_REGISTRY)
    #[arg(long, global = true, value_name = "HOST")]
    pub insecure_registry: Vec<String>,
}

/// Top-level commands. Their arguments are deferred: clap builds a
/// command's arguments only when asked to, so parsing builds just the
/// command used ([`crate::grammar::parse_tree`]) rather than all of them.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage strata
    #[command(subcommand)]
    System(SystemCommand),
    /// Manage the build cache
    #[command(subcommand)]
    Builder(crate::commands::builder::BuilderCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(crate::commands::network::NetworkCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(crate::commands::volume::VolumeCommand),

    /// List images
    Images(image::ls::LsArgs),
    /// Remove one or more images
    Rmi(image::rm::RmArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(image::tag::TagArgs),
    /// Show the history of an image
    History(image::history::HistoryArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(image::save::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(image::load::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(image::import::ImportArgs),
    /// Build an image from a Dockerfile
    Build(Box<image::build::BuildArgs>),
    /// Download an image from a registry
    Pull(image::pull::PullArgs),
    /// Upload an image to a registry
    Push(image::push::PushArgs),
    /// Display system-wide information
    Info(system::info::InfoArgs),
    /// Show the strata version information
    Version(system::version::VersionArgs),
    /// Log in to a registry
    Login(crate::commands::login::LoginArgs),
    /// Log out from a registry
    Logout(crate::commands::logout::LogoutArgs),

    /// Manage containers
    #[command(subcommand)]
    Container(crate::commands::container::ContainerCommand),
    /// Create and run a new container from an image
    Run(crate::commands::container::run::RunArgs),
    /// Create a new container
    Create(crate::commands::container::create::CreateArgs),
    /// Start one or more stopped containers
    Start(crate::commands::container::start::StartArgs),
    /// List containers
    Ps(crate::commands::container::ps::PsArgs),
    /// Fetch the logs of a container
    Logs(crate::commands::container::logs::LogsArgs),
    /// Stop one or more running containers
    Stop(crate::commands::container::stop::StopArgs),
    /// Kill one or more running containers
    Kill(crate::commands::container::kill::KillArgs),
    /// Remove one or more containers
    Rm(crate::commands::container::rm::RmArgs),
    /// Execute a command in a running container
    Exec(crate::commands::container::exec::ExecArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(crate::commands::container::wait::WaitArgs),
    /// Create a new image from a container's changes
    Commit(crate::commands::container::commit::CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(crate::commands::container::cp::CpArgs),
    /// Rename a container
    Rename(crate::commands::container::rename::RenameArgs),
    /// List port mappings or a specific mapping for the container
    Port(crate::commands::container::port::PortArgs),
    /// Display the running processes of a container
    Top(crate::commands::container::top::TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(crate::commands::container::stats::StatsArgs),
    /// Get real time events from the server
    Events(system::events::EventsArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(crate::commands::container::diff::DiffArgs),
    /// Export a container's filesystem as a tar archive
    Export(crate::commands::container::export::ExportArgs),
    /// Pause all processes within one or more containers
    Pause(crate::commands::container::pause::PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(crate::commands::container::pause::PauseArgs),
    /// Restart one or more containers
    Restart(crate::commands::container::restart::RestartArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(crate::commands::container::attach::AttachArgs),
    /// Update configuration of one or more containers
    Update(crate::commands::container::update::UpdateArgs),
    /// Return low-level information on containers or images
    Inspect(crate::commands::container::inspect::AnyInspectArgs),
    /// Internal: strata-runtime's helper processes
    #[command(name = "__shim", hide = true)]
    Shim(crate::commands::container::shim::ShimArgs),
    /// Print a shell completion script (bash, zsh, fish)
    Completion(crate::commands::completion::CompletionArgs),
    /// Internal: write the man pages into a directory
    #[command(name = "__man", hide = true)]
    Man(crate::commands::completion::ManArgs),
}

/// `strata image …`
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ImageCommand {
    /// Build an image from a Dockerfile
    Build(Box<image::build::BuildArgs>),
    /// Import the contents from a tarball to create a filesystem image
    Import(image::import::ImportArgs),
    /// Display detailed information on one or more images
    Inspect(image::inspect::InspectArgs),
    /// List images
    #[command(visible_alias = "list")]
    Ls(image::ls::LsArgs),
    /// Remove one or more images
    #[command(visible_alias = "remove")]
    Rm(image::rm::RmArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(image::tag::TagArgs),
    /// Show the history of an image
    History(image::history::HistoryArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(image::save::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(image::load::LoadArgs),
    /// Download an image from a registry
    Pull(image::pull::PullArgs),
    /// Upload an image to a registry
    Push(image::push::PushArgs),
    /// Rebuild an image from its build record with the cache off and compare digests
    Verify(image::verify::VerifyArgs),
    /// Remove unused images
    Prune(image::prune::PruneArgs),
}

/// `strata system …`
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum SystemCommand {
    /// Show strata disk usage
    Df(system::df::DfArgs),
    /// Verify the store (blobs, images, snapshots, containers, mounts, build cache) and repair what is safe
    Check(system::check::CheckArgs),
    /// Display system-wide information
    Info(system::info::InfoArgs),
    /// Remove unused data
    Prune(system::prune::PruneArgs),
    /// Get real time events from the server
    Events(system::events::EventsArgs),
    /// Serve the Docker Engine API on a unix socket (for docker's CLI, compose, SDKs)
    Service(crate::service::ServiceArgs),
}
