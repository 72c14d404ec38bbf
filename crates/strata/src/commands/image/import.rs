//! `strata image import` (`strata import`): a rootfs tarball (plain, gzip
//! or zstd; a file or `-` for stdin) becomes a one-layer image, like
//! `docker import`. Prints the new image's ID.

use std::fs::File;
use std::io::Read;

use anyhow::{Context as _, bail};
use clap::Args;
use strata_oci::Reference;
use strata_store::archive::ImportOptions;

use crate::context::Ctx;

/// Flags of `image import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL, ONBUILD)
    #[arg(short, long, value_name = "CHANGE")]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long)]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable (only the host's is supported)
    #[arg(long)]
    pub platform: Option<String>,
    /// A tarball path, or - for STDIN
    #[arg(value_name = "file|-")]
    pub source: String,
    /// Name the image REPOSITORY[:TAG]
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// Runs `image import`.
pub fn run(ctx: &Ctx, args: ImportArgs) -> anyhow::Result<i32> {
    if let Some(p) = &args.platform {
        crate::commands::check_platform(p)?;
    }
    let reference = args
        .reference
        .as_deref()
        .map(Reference::parse)
        .transpose()?;
    let mut image = strata_oci::ImageConfig::default();
    strata_build::changes::apply_changes(&mut image, &args.change)?;
    let config = image.config.unwrap_or_default();
    let reader: Box<dyn Read> = if args.source == "-" {
        Box::new(std::io::stdin().lock())
    } else if args.source.contains("://") {
        bail!(
            "importing from a URL is not supported; download {} first and import the file",
            args.source
        );
    } else {
        Box::new(File::open(&args.source).with_context(|| format!("opening {}", args.source))?)
    };
    let store = ctx.store()?;
    let opts = ImportOptions {
        message: args.message.clone(),
        // docker streams a file exactly like stdin, so both say "Imported from -".
        source: "-".to_string(),
        config,
    };
    let row = store
        .import_rootfs(reader, &opts)
        .with_context(|| format!("importing {}", args.source))?;
    if let Some(r) = &reference {
        store.tag_image(&row.id, r)?;
    }
    println!("{}", row.id);
    Ok(0)
}
