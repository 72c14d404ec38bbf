//! `strata image verify IMAGE`: rebuild an image strata built from what it
//! recorded (context, Dockerfile, target, build args, labels, platform,
//! `SOURCE_DATE_EPOCH`) with the cache off, and compare layer and image
//! digests (strata-build's `verify`). Exit 0 when the rebuild is the same
//! image; 1 when it differs, after naming the first differing layer and
//! file (or config field). The rebuild leaves the build cache untouched.

use std::path::PathBuf;

use clap::Args;
use strata_build::options;
use strata_build::progress::{Progress, ProgressMode};
use strata_build::verify::{Difference, VerifyOptions, VerifyReport};

use crate::cli::GlobalArgs;
use crate::commands::registry;
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `image verify`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  SOURCE_DATE_EPOCH=0 strata build -t app .   # pin the times, so the build can be reproduced
  strata image verify app                     # rebuild it with the cache off and compare")]
pub struct VerifyArgs {
    /// Progress of the rebuild (auto, tty, plain, json, quiet)
    #[arg(long, default_value = "quiet")]
    pub progress: String,
    /// A secret the build used (id=ID,src=FILE or id=ID,env=VAR): contents are never recorded
    #[arg(long = "secret", value_name = "SPEC")]
    pub secrets: Vec<String>,
    /// Run RUN steps with this OCI runtime (runc, crun) instead of the embedded one
    #[arg(long, value_name = "PATH")]
    pub runtime: Option<PathBuf>,
    /// The image
    pub image: String,
}

/// Runs `image verify`.
pub fn run(ctx: &Ctx, global: &GlobalArgs, args: VerifyArgs) -> anyhow::Result<i32> {
    let mode = ProgressMode::parse(&args.progress).ok_or_else(|| {
        anyhow::anyhow!(
            "invalid progress mode {:?} (auto, tty, plain, json, quiet)",
            args.progress
        )
    })?;
    let store = ctx.store()?;
    let image = store.resolve_image(&args.image)?;
    let opts = VerifyOptions {
        secrets: args
            .secrets
            .iter()
            .map(|s| options::parse_secret(s))
            .collect::<Result<_, _>>()?,
        runtime: args.runtime,
        registry: registry::options(global).unwrap_or_default(),
    };
    println!(
        "Rebuilding {} ({}) with the cache off",
        args.image,
        image.id().short()
    );
    let progress = Progress::new(mode, Box::new(std::io::stderr()));
    let result = strata_build::verify::verify(store, &image, opts, &progress);
    progress.finish(result.is_ok());
    let report = result.map_err(|e| {
        if let Some(l) = e.step_log() {
            eprint!("{l}");
        }
        ExitError::new(1, format!("the rebuild failed: {e}"))
    })?;
    print!("{}", text(&args.image, &report));
    match &report.difference {
        None => Ok(0),
        Some(d) => Err(ExitError::new(
            1,
            format!("{} is not reproducible: {}", args.image, short(d)),
        )
        .into()),
    }
}

/// The report as printed.
fn text(name: &str, r: &VerifyReport) -> String {
    let rec = &r.record;
    let mut s = format!(
        "  context     {}\n  dockerfile  {}\n",
        rec.context
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        rec.dockerfile_path
            .as_deref()
            .map_or_else(|| rec.dockerfile_name.clone(), |p| p.display().to_string()),
    );
    if let Some(t) = &rec.target {
        s.push_str(&format!("  target      {t}\n"));
    }
    match rec.source_date_epoch {
        Some(e) => s.push_str(&format!("  SOURCE_DATE_EPOCH {e}\n")),
        None => s.push_str("  SOURCE_DATE_EPOCH unset: times are not pinned\n"),
    }
    for n in &r.notes {
        s.push_str(&format!("note: {n}\n"));
    }
    let Some(d) = &r.difference else {
        s.push_str(&format!(
            "Verified: the rebuild of {name} is identical ({})\n",
            r.original
        ));
        return s;
    };
    s.push_str(&format!(
        "DIFFERS: the rebuild of {name} is not the same image\n  image       {}\n  rebuild     {}\n",
        r.original, r.rebuilt
    ));
    match d {
        Difference::Layer {
            index,
            created_by,
            path,
        } => {
            s.push_str(&format!(
                "  first difference: layer {} ({created_by})\n",
                index + 1
            ));
            match path {
                Some((p, why)) => s.push_str(&format!("    {p}: {why}\n")),
                None => s.push_str("    every file is the same; the tars differ in encoding\n"),
            }
        }
        Difference::LayerCount { original, rebuilt } => s.push_str(&format!(
            "  first difference: {original} layers in the image, {rebuilt} in the rebuild\n"
        )),
        Difference::Config {
            field,
            original,
            rebuilt,
        } => s.push_str(&format!(
            "  first difference: the config's {field}: {original} != {rebuilt}\n"
        )),
    }
    if rec.source_date_epoch.is_none() {
        s.push_str(
            "hint: build with SOURCE_DATE_EPOCH set (an environment variable or --build-arg) to pin history times and file mtimes\n",
        );
    }
    s
}

fn short(d: &Difference) -> String {
    match d {
        Difference::Layer {
            index,
            path: Some((p, _)),
            ..
        } => format!("{p} differs (layer {})", index + 1),
        Difference::Layer { index, .. } => format!("layer {} differs", index + 1),
        Difference::LayerCount { .. } => "the number of layers differs".into(),
        Difference::Config { field, .. } => format!("the config's {field} differs"),
    }
}
