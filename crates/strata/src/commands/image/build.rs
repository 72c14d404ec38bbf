//! `strata image build` (`strata build`): build an image from a Dockerfile
//! with docker's flags (strata-build does the work). Progress goes to
//! stderr in BuildKit's forms (`--progress auto|tty|plain|json`); `-q`
//! prints only the image ID on stdout. A failure prints BuildKit's block —
//! the failing step's last output lines and the quoted Dockerfile lines —
//! then the error, and exits 1 with no tag changed.
//!
//! `PATH` is the context directory, or `-`: a tar (plain or compressed) on
//! stdin, or — when stdin is not a tar — a Dockerfile with an empty context,
//! as docker does. `-f -` reads the Dockerfile from stdin.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use strata_build::options::{self, ContextSource};
use strata_build::progress::{Progress, ProgressMode};
use strata_build::{BuildError, BuildRequest};
use strata_dockerfile::args::BuildOptions;
use strata_oci::Reference;

use crate::cli::GlobalArgs;
use crate::commands::registry;
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `image build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Name and optionally a tag in the "name:tag" format (repeatable)
    #[arg(short, long = "tag", value_name = "NAME[:TAG]")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: "PATH/Dockerfile"; "-" reads stdin)
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<String>,
    /// Set build-time variables (KEY=VALUE, or KEY to take it from the environment)
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
    /// Set the target build stage to build
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use cache when building the image
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull all referenced images
    #[arg(long)]
    pub pull: bool,
    /// Set metadata for an image (KEY=VALUE, repeatable)
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Set target platform for build (the host's only)
    #[arg(long)]
    pub platform: Option<String>,
    /// Set the networking mode for the RUN instructions during build (host, none)
    #[arg(long, default_value = "default")]
    pub network: String,
    /// Set type of progress output (auto, tty, plain, json, quiet)
    #[arg(long, default_value = "auto")]
    pub progress: String,
    /// Suppress the build output and print image ID on success
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image ID to the file
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// Output destination (type=oci|docker|local,dest=PATH; a bare PATH means type=local)
    #[arg(short, long = "output", value_name = "SPEC")]
    pub outputs: Vec<String>,
    /// External cache sources (type=registry,ref=REF)
    #[arg(long = "cache-from", value_name = "SPEC")]
    pub cache_from: Vec<String>,
    /// Cache export destinations (type=registry,ref=REF[,mode=min|max])
    #[arg(long = "cache-to", value_name = "SPEC")]
    pub cache_to: Vec<String>,
    /// Secret to expose to the build (id=ID,src=FILE or id=ID,env=VAR)
    #[arg(long = "secret", value_name = "SPEC")]
    pub secrets: Vec<String>,
    /// Shorthand for "--call=check": lint the Dockerfile without building
    #[arg(long)]
    pub check: bool,
    /// Say, for every step, whether the cache answered it and why not
    #[arg(long)]
    pub explain: bool,
    /// Run RUN steps with this OCI runtime (runc, crun) instead of the embedded one
    #[arg(long, value_name = "PATH")]
    pub runtime: Option<PathBuf>,
    /// Isolation of RUN steps: default (oci) or chroot, for containers that allow no mounts or user namespaces (default: $STRATA_ISOLATION)
    #[arg(long)]
    pub isolation: Option<String>,
    /// Say whether the context sends PATH (relative to the context) and which .dockerignore line decided; builds nothing
    #[arg(long = "explain-context", value_name = "PATH", num_args = 1..)]
    pub explain_context: Vec<String>,
    /// Write the build's timeline: FILE.json (Chrome/Perfetto trace events), FILE.svg or FILE.png (a picture)
    #[arg(long = "trace", value_name = "FILE")]
    pub traces: Vec<PathBuf>,
    /// Build context: a directory, or "-" for a tar (or a Dockerfile) on stdin
    #[arg(value_name = "PATH")]
    pub context: String,
}

/// `KEY=VALUE` pairs; a bare `KEY` takes `$KEY` (dropped if unset).
fn key_values(items: &[String], from_env: bool) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for i in items {
        match i.split_once('=') {
            Some((k, v)) => {
                out.insert(k.to_string(), v.to_string());
            }
            None if from_env => {
                if let Ok(v) = std::env::var(i) {
                    out.insert(i.clone(), v);
                }
            }
            None => {
                out.insert(i.clone(), String::new());
            }
        }
    }
    out
}

/// Whether `head` starts a tar or a compressed stream.
fn looks_like_archive(head: &[u8]) -> bool {
    strata_oci::media::Compression::sniff(head) != strata_oci::media::Compression::Plain
        || head.get(257..262) == Some(b"ustar")
}

struct Inputs {
    dockerfile: Vec<u8>,
    name: String,
    path: Option<PathBuf>,
    context: ContextSource,
    _empty: Option<tempfile_dir::TempDir>,
}

/// A tiny owned temp dir for `build - < Dockerfile` (empty context).
mod tempfile_dir {
    use std::path::{Path, PathBuf};

    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new() -> std::io::Result<TempDir> {
            let p = std::env::temp_dir().join(format!("strata-empty-ctx-{}", std::process::id()));
            std::fs::create_dir_all(&p)?;
            Ok(TempDir(p))
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn read_inputs(args: &BuildArgs) -> anyhow::Result<Inputs> {
    let stdin_df = args.file.as_deref() == Some("-");
    if args.context == "-" {
        if stdin_df {
            anyhow::bail!(
                "invalid argument: can't use stdin for both build context and dockerfile"
            );
        }
        let mut stdin = std::io::stdin();
        let mut head = vec![0u8; 512];
        let mut n = 0;
        while n < head.len() {
            match stdin.read(&mut head[n..]).context("reading stdin")? {
                0 => break,
                k => n += k,
            }
        }
        head.truncate(n);
        if looks_like_archive(&head) {
            let reader = std::io::Cursor::new(head).chain(stdin);
            // The Dockerfile is read from the context once it is unpacked.
            let name = args.file.clone().unwrap_or_else(|| "Dockerfile".into());
            return Ok(Inputs {
                dockerfile: Vec::new(),
                name,
                path: None,
                context: ContextSource::Tar(Box::new(reader)),
                _empty: None,
            });
        }
        let mut df = head;
        stdin
            .read_to_end(&mut df)
            .context("reading the Dockerfile from stdin")?;
        let dir = tempfile_dir::TempDir::new().context("creating an empty build context")?;
        return Ok(Inputs {
            dockerfile: df,
            name: "Dockerfile".into(),
            path: None,
            context: ContextSource::Dir(dir.path().to_path_buf()),
            _empty: Some(dir),
        });
    }
    let ctx_dir = PathBuf::from(&args.context);
    if !ctx_dir.is_dir() {
        anyhow::bail!(
            "unable to prepare context: path {:?} not found",
            args.context
        );
    }
    let (dockerfile, name, path) = if stdin_df {
        let mut df = Vec::new();
        std::io::stdin()
            .read_to_end(&mut df)
            .context("reading the Dockerfile from stdin")?;
        (df, "Dockerfile".to_string(), None)
    } else {
        let p = match &args.file {
            Some(f) => PathBuf::from(f),
            None => ctx_dir.join("Dockerfile"),
        };
        // A Dockerfile named inside the context never leads out of it
        // (a hostile `Dockerfile -> /etc/shadow` is refused unread).
        let real = strata_build::context::confined_file(&ctx_dir, &p)
            .map_err(|e| anyhow::anyhow!("failed to read dockerfile: {e}"))?;
        let df = std::fs::read(&real).map_err(|e| {
            anyhow::anyhow!(
                "failed to read dockerfile: open {}: {}",
                p.display(),
                strip_os_error(&e)
            )
        })?;
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "Dockerfile".into());
        (df, name, Some(p))
    };
    Ok(Inputs {
        dockerfile,
        name,
        path,
        context: ContextSource::Dir(ctx_dir),
        _empty: None,
    })
}

fn strip_os_error(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        "no such file or directory".into()
    } else {
        e.to_string()
    }
}

/// Runs `image build`.
pub fn run(ctx: &Ctx, global: &GlobalArgs, args: BuildArgs) -> anyhow::Result<i32> {
    if !args.explain_context.is_empty() {
        return super::explain_context::run(
            &args.context,
            args.file.as_deref(),
            &args.explain_context,
        );
    }
    let traces = super::trace::targets(&args.traces)?;
    let inputs = read_inputs(&args)?;
    let mut build_args = key_values(&args.build_args, true);
    if args.check {
        let opts = BuildOptions {
            build_args,
            target: args.target.clone(),
            ..BuildOptions::default()
        };
        let report = strata_build::check::check(&inputs.dockerfile, &inputs.name, &opts)
            .map_err(|e| report_error(&e, &inputs))?;
        print!("{}", report.text);
        return Ok(i32::from(!report.warnings.is_empty()));
    }
    // As buildx: $SOURCE_DATE_EPOCH becomes the build arg unless one is given.
    if let Ok(v) = std::env::var("SOURCE_DATE_EPOCH")
        && !build_args.contains_key("SOURCE_DATE_EPOCH")
    {
        build_args.insert("SOURCE_DATE_EPOCH".into(), v);
    }
    let mode = if args.quiet {
        ProgressMode::Quiet
    } else {
        ProgressMode::parse(&args.progress).ok_or_else(|| {
            anyhow::anyhow!(
                "invalid progress mode {:?} (auto, tty, plain, json, quiet)",
                args.progress
            )
        })?
    };
    let network = match args.network.as_str() {
        "default" | "host" => strata_runtime::spec::NetworkMode::Host,
        "none" => strata_runtime::spec::NetworkMode::None,
        other => anyhow::bail!("network mode {other:?} not supported by strata (host, none)"),
    };
    let mut req = BuildRequest::new(
        inputs.dockerfile.clone(),
        ContextSource::Dir(PathBuf::new()),
    );
    req.dockerfile_name = inputs.name.clone();
    req.dockerfile_path = inputs.path.clone();
    req.tags = args
        .tags
        .iter()
        .map(|t| {
            // docker's flag validation: exit 125.
            Reference::parse(t).map_err(|e| {
                ExitError::new(
                    125,
                    format!("invalid argument {t:?} for \"-t, --tag\" flag: {e}"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    req.build_args = build_args;
    req.target = args.target.clone();
    req.no_cache = args.no_cache;
    req.pull = args.pull;
    req.labels = key_values(&args.labels, false);
    req.platform = args.platform.clone();
    req.network = network;
    req.secrets = args
        .secrets
        .iter()
        .map(|s| options::parse_secret(s))
        .collect::<Result<_, _>>()?;
    req.outputs = args
        .outputs
        .iter()
        .map(|s| options::parse_output(s))
        .collect::<Result<_, _>>()?;
    req.cache_from = args
        .cache_from
        .iter()
        .map(|s| options::parse_cache_from(s))
        .collect::<Result<_, _>>()?;
    req.cache_to = args
        .cache_to
        .iter()
        .map(|s| options::parse_cache_to(s))
        .collect::<Result<_, _>>()?;
    req.iidfile = args.iidfile.clone();
    req.explain = args.explain;
    req.runtime = args.runtime.clone();
    // docker's flag validation: exit 125.
    req.isolation = strata_runtime::isolation::Isolation::choose(args.isolation.as_deref())
        .map_err(|e| ExitError::new(125, e.to_string()))?;
    if !req.cache_from.is_empty() || !req.cache_to.is_empty() || args.pull {
        req.registry = registry::options(global)?;
    } else {
        req.registry = registry::options(global).unwrap_or_default();
    }
    let to_stdout = req
        .outputs
        .iter()
        .any(|o| matches!(o, options::OutputSpec::Oci(p) | options::OutputSpec::Docker(p) if p.as_os_str() == "-"));
    if to_stdout && std::io::stdout().is_terminal() {
        anyhow::bail!(
            "refusing to write an image archive to a terminal: redirect stdout or give dest=FILE"
        );
    }
    let Inputs {
        context, _empty, ..
    } = inputs;
    req.context = context;
    let store = ctx.store()?;
    let progress = Progress::new(mode, Box::new(std::io::stderr()));
    let dockerfile_text = String::from_utf8_lossy(&req.dockerfile).into_owned();
    let name = req.dockerfile_name.clone();
    let result = strata_build::build(store, req, &progress);
    progress.finish(result.is_ok());
    let timeline = progress.timeline();
    if progress.mode() == ProgressMode::Tty {
        eprintln!("{}", summary(&timeline));
    }
    let traced = super::trace::write(&traces, &timeline);
    if let (Err(e), Err(_)) = (&traced, &result) {
        eprintln!("WARNING: {e:#}");
    }
    if result.is_ok() {
        traced?;
    }
    match result {
        Ok(out) => {
            let mut err = std::io::stderr().lock();
            for w in &out.warnings {
                let _ = writeln!(err, "WARNING: {w}");
            }
            if args.explain {
                let _ = writeln!(err, "Cache explanation:");
                for r in &out.report {
                    match &r.reason {
                        None => {
                            let _ = writeln!(err, " CACHED  {}", r.step);
                        }
                        Some(why) => {
                            let _ = writeln!(err, " MISS    {}: {why}", r.step);
                        }
                    }
                }
            }
            if args.quiet {
                println!("{}", out.image_id);
            }
            Ok(0)
        }
        Err(e) => {
            let mut err = std::io::stderr().lock();
            if let Some(l) = e.step_log() {
                let _ = write!(err, "{l}");
            }
            if let Some(s) = e.snippet(&dockerfile_text, &name) {
                let _ = write!(err, "{s}");
            }
            Err(ExitError::new(exit_code(&e), e.to_string()).into())
        }
    }
}

/// The tty view's last line: `Built in 3.4s: 5 steps run, 3 cached, 12.3MB written`.
fn summary(t: &strata_build::timeline::Timeline) -> String {
    let head = match t.ok {
        Some(false) => "Failed after",
        _ => "Built in",
    };
    format!(
        "{head} {:.1}s: {} step{} run, {} cached, {} written",
        t.total.as_secs_f64(),
        t.steps_run,
        if t.steps_run == 1 { "" } else { "s" },
        t.steps_cached,
        strata_format::units::human_size(t.written)
    )
}

/// docker's 1 for a failed build; 125 when strata cannot isolate a step
/// here (the message names `--isolation chroot`).
fn exit_code(e: &BuildError) -> i32 {
    match e.root() {
        BuildError::Runtime(strata_runtime::RuntimeError::NeedsChroot(_)) => 125,
        _ => 1,
    }
}

fn report_error(e: &BuildError, inputs: &Inputs) -> anyhow::Error {
    let text = String::from_utf8_lossy(&inputs.dockerfile);
    if let Some(s) = e.snippet(&text, &inputs.name) {
        eprint!("{s}");
    }
    ExitError::new(exit_code(e), e.to_string()).into()
}
