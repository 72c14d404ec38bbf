//! `strata container create` (`create`), and the flags `run` shares with
//! it, spelled as docker spells them (`-h` is `--hostname`, so help is
//! `--help` only, as in docker).

use std::path::PathBuf;

use clap::{ArgAction, Args};
use strata_runtime::Container;
use strata_runtime::ops::{self, CreateOptions};
use strata_runtime::spec::process::{EntrypointFlag, normalize_user_env, read_env_file};
use strata_store::StoreError;

use super::rt;
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `create` (and `run`).
#[derive(Debug, Clone, Args)]
pub struct CreateFlags {
    /// Assign a name to the container (also `-n`, the seed chapter's spelling)
    #[arg(short = 'n', long)]
    pub name: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long, value_name = "list")]
    pub env_file: Vec<PathBuf>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long = "attach", value_name = "list")]
    pub attach: Vec<String>,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long, value_name = "string")]
    pub entrypoint: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long, value_name = "string", allow_hyphen_values = true)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long, value_name = "string")]
    pub workdir: Option<String>,
    /// Container host name
    #[arg(short = 'h', long, value_name = "string")]
    pub hostname: Option<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    pub read_only: bool,
    /// Bind mount a volume
    #[arg(short = 'v', long = "volume", value_name = "list")]
    pub volumes: Vec<String>,
    /// Attach a filesystem mount to the container
    #[arg(long = "mount", value_name = "mount")]
    pub mounts: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long, value_name = "list")]
    pub volumes_from: Vec<String>,
    /// Mount a tmpfs directory (PATH[:OPTIONS])
    #[arg(long, value_name = "list")]
    pub tmpfs: Vec<String>,
    /// Memory limit
    #[arg(short = 'm', long, value_name = "bytes")]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long, value_name = "bytes", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Number of CPUs
    #[arg(long, value_name = "decimal")]
    pub cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long, value_name = "int")]
    pub cpu_shares: Option<i64>,
    /// Restart policy to apply when a container exits (default "no")
    #[arg(long, value_name = "string")]
    pub restart: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, value_name = "int", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// OCI runtime to use for this container (path to a runc-compatible binary)
    #[arg(long, value_name = "string")]
    pub runtime: Option<PathBuf>,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label", value_name = "list")]
    pub labels: Vec<String>,
    /// Add additional groups to join
    #[arg(long, value_name = "list")]
    pub group_add: Vec<String>,
    /// Signal to stop the container
    #[arg(long, value_name = "string")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long, value_name = "int")]
    pub stop_timeout: Option<i64>,
    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,
    /// Write the container ID to the file
    #[arg(long, value_name = "string")]
    pub cidfile: Option<std::path::PathBuf>,
    /// Pull image before running ("always"|"missing"|"never")
    #[arg(long, value_name = "string", default_value = "missing")]
    pub pull: String,
    /// Confinement flags.
    #[command(flatten)]
    pub security: super::security_flags::SecurityFlags,
    /// Network flags.
    #[command(flatten)]
    pub net: super::network_flags::NetworkFlags,
    /// Healthcheck flags.
    #[command(flatten)]
    pub health: super::health_flags::HealthFlags,
    /// Print help
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// Flags of `create`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    /// Create flags.
    #[command(flatten)]
    pub flags: CreateFlags,
    /// The image
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Command and arguments
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub args: Vec<String>,
}

/// Runs `create`.
pub fn run(ctx: &Ctx, args: CreateArgs) -> anyhow::Result<i32> {
    let c = create(ctx, &args.flags, &args.image, &args.args, true)?;
    println!("{}", c.id);
    Ok(0)
}

/// docker's `-a` values, validated.
pub fn attach_streams(list: &[String]) -> anyhow::Result<(bool, bool, bool)> {
    let mut out = (false, false, false);
    for a in list {
        match a.to_ascii_lowercase().as_str() {
            "stdin" => out.0 = true,
            "stdout" => out.1 = true,
            "stderr" => out.2 = true,
            _ => {
                return Err(ExitError::new(
                    125,
                    format!("invalid argument \"{a}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"),
                )
                .into());
            }
        }
    }
    Ok(out)
}

/// The image `create`/`run` use, pulled as docker's `--pull` says:
/// `missing` (the default) pulls an image the store lacks, after docker's
/// "Unable to find image" line; `always` pulls first; `never` fails with
/// docker's "No such image". Progress goes to stderr: stdout is the
/// container's (or the ID `create` prints). An image ID is never pulled.
fn image_for(
    ctx: &Ctx,
    image: &str,
    pull: &str,
    platform: Option<&str>,
) -> anyhow::Result<strata_store::Image> {
    if !matches!(pull, "always" | "missing" | "never") {
        return Err(ExitError::new(
            125,
            format!(
                "invalid pull option: '{pull}': must be one of \"always\", \"missing\" or \"never\""
            ),
        )
        .into());
    }
    let store = ctx.store()?;
    // docker's `namedRef`: what a registry could serve (not an image ID).
    let named = strata_oci::Reference::parse(image)
        .ok()
        .filter(|_| !looks_like_id(image));
    let do_pull = |r: &strata_oci::Reference| -> anyhow::Result<()> {
        let render = crate::commands::image::progress::Render::stderr();
        crate::commands::image::pull::pull_one(
            ctx,
            ctx.global(),
            r,
            platform.map(str::to_string),
            &render,
        )
        .map_err(|e| ExitError::new(125, crate::exit::message(&e)))?;
        Ok(())
    };
    if pull == "always"
        && let Some(r) = &named
    {
        do_pull(r)?;
    }
    match store.resolve_image(image) {
        Ok(i) => Ok(i),
        Err(StoreError::ImageNotFound(_)) => {
            let shown = named
                .as_ref()
                .map_or_else(|| image.to_string(), |r| r.familiar());
            match &named {
                Some(r) if pull == "missing" => {
                    eprintln!("Unable to find image '{shown}' locally");
                    do_pull(r)?;
                    store
                        .resolve_image(image)
                        .map_err(|e| ExitError::new(125, e.to_string()).into())
                }
                _ => Err(ExitError::new(125, format!("No such image: {shown}")).into()),
            }
        }
        Err(e) => Err(ExitError::new(125, e.to_string()).into()),
    }
}

/// An image ID (`sha256:…` or 64 hex digits): docker never pulls one.
fn looks_like_id(image: &str) -> bool {
    image.starts_with("sha256:")
        || (image.len() == 64 && image.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Creates the container for `create`/`run`; `foreground` says `run`
/// attaches (docker's defaults for `-a`).
pub fn create(
    ctx: &Ctx,
    f: &CreateFlags,
    image: &str,
    args: &[String],
    foreground: bool,
) -> anyhow::Result<Container> {
    // docker makes the ID file first and removes it if the create fails.
    let cidfile = match &f.cidfile {
        Some(p) => Some(CidFile::create(p)?),
        None => None,
    };
    let c = create_container(ctx, f, image, args, foreground)?;
    if let Some(file) = cidfile {
        file.write(&c.id)?;
    }
    Ok(c)
}

/// `--cidfile`: made empty before the container, holding its ID after;
/// removed when dropped unwritten (the create failed).
struct CidFile {
    path: std::path::PathBuf,
    written: bool,
}

impl CidFile {
    fn create(path: &std::path::Path) -> anyhow::Result<CidFile> {
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(ExitError::new(
                125,
                format!(
                    "container ID file found, make sure the other container isn't running or delete {}",
                    path.display()
                ),
            )
            .into());
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| {
                ExitError::new(125, format!("failed to create the container ID file: {e}"))
            })?;
        Ok(CidFile {
            path: path.to_path_buf(),
            written: false,
        })
    }

    fn write(mut self, id: &str) -> anyhow::Result<()> {
        std::fs::write(&self.path, id).map_err(|e| {
            ExitError::new(
                125,
                format!("failed to write the container ID to the file: {e}"),
            )
        })?;
        self.written = true;
        Ok(())
    }
}

impl Drop for CidFile {
    fn drop(&mut self) {
        if !self.written {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn create_container(
    ctx: &Ctx,
    f: &CreateFlags,
    image: &str,
    args: &[String],
    foreground: bool,
) -> anyhow::Result<Container> {
    if let Some(p) = &f.platform {
        crate::commands::check_platform(p).map_err(|e| ExitError::new(125, format!("{e:#}")))?;
    }
    // docker's CLI refuses this before anything else (no pull).
    if f.rm
        && f.restart
            .as_deref()
            .is_some_and(|r| !r.is_empty() && r != "no")
    {
        return Err(ExitError::new(
            125,
            "conflicting options: cannot specify both --restart and --rm",
        )
        .into());
    }
    let healthcheck = f.health.config()?;
    let img = image_for(ctx, image, &f.pull, f.platform.as_deref())?;
    let store = ctx.store()?;
    let mut env = Vec::new();
    for file in &f.env_file {
        // Bounded: `--env-file=/dev/zero` fails as docker's does.
        env.extend(read_env_file(file).map_err(|e| ExitError::new(125, e.to_string()))?);
    }
    env.extend(f.env.iter().cloned());
    let env = normalize_user_env(&env, |k| std::env::var(k).ok()).map_err(rt)?;
    let mut attach = attach_streams(&f.attach)?;
    if foreground && f.attach.is_empty() {
        attach = (f.interactive, true, true);
    }
    let opts = CreateOptions {
        name: f.name.clone(),
        image: image.to_string(),
        args: args.to_vec(),
        entrypoint: match &f.entrypoint {
            None => EntrypointFlag::Unset,
            Some(e) if e.is_empty() => EntrypointFlag::Reset,
            Some(e) => EntrypointFlag::Program(e.clone()),
        },
        env,
        user: f.user.clone(),
        workdir: f.workdir.clone(),
        hostname: f.hostname.clone(),
        tty: f.tty,
        interactive: f.interactive,
        attach,
        auto_remove: f.rm,
        read_only: f.read_only,
        volumes: f.volumes.clone(),
        tmpfs: f.tmpfs.clone(),
        mounts: f.mounts.clone(),
        volumes_from: f.volumes_from.clone(),
        net: f.net.options(f.hostname.is_some()),
        memory: f.memory.clone(),
        memory_swap: f.memory_swap.clone(),
        cpus: f.cpus.clone(),
        cpu_shares: f.cpu_shares,
        restart: f.restart.clone(),
        pids_limit: f.pids_limit,
        runtime: f.runtime.clone(),
        labels: f.labels.clone(),
        group_add: f.group_add.clone(),
        stop_signal: f.stop_signal.clone(),
        stop_timeout: f.stop_timeout,
        init: f.init,
        security: f.security.options(),
        healthcheck,
    };
    for w in f.net.warnings() {
        eprintln!("{w}");
    }
    ops::create(store, &img, &opts).map_err(rt)
}
