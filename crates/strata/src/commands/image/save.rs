//! `strata image save` (`strata save`): images to a docker-archive or
//! OCI-layout tar, on stdout or `-o FILE`. Blobs are copied as stored.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::IsTerminal;
use std::os::fd::AsFd;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use strata_oci::{Digest, Reference};
use strata_store::archive::{SaveFormat, SaveItem};

use crate::context::Ctx;

/// Archive formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// docker-archive (`docker save`/`docker load`)
    Docker,
    /// OCI image layout
    Oci,
}

/// Flags of `image save`.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Archive format
    #[arg(long, value_enum, default_value = "docker")]
    pub format: Format,
    /// Images to save (a repository without a tag saves all its tags)
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// Runs `image save`.
pub fn run(ctx: &Ctx, args: SaveArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let items = select(store, &args.images)?;
    let format = match args.format {
        Format::Docker => SaveFormat::Docker,
        Format::Oci => SaveFormat::Oci,
    };
    match &args.output {
        Some(path) => {
            let tmp = path.with_extension("strata-tmp");
            let f = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
            // Written beside the target and renamed over it when complete,
            // as docker's CLI does: a failed save never leaves a partial
            // archive under the name. No fsync (docker does none either): an
            // archive is an export, not store state, and syncing 100s of MB
            // would double the cost of the copy.
            let result = store.save(&items, format, f);
            if let Err(e) = result {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
            std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        }
        None => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            // A File on fd 1 lets blob copies use copy_file_range/splice.
            let out = File::from(stdout.as_fd().try_clone_to_owned()?);
            store.save(&items, format, out)?;
        }
    }
    Ok(0)
}

/// Resolves the names to images with the tags each should carry, merging
/// names that reach the same image (archive order = first mention). The
/// API's `GET /images/get` selects the same way.
pub fn select(store: &strata_store::Store, names: &[String]) -> anyhow::Result<Vec<SaveItem>> {
    let mut order: Vec<Digest> = Vec::new();
    let mut tags: BTreeMap<Digest, Vec<Reference>> = BTreeMap::new();
    let mut add = |id: Digest, tag: Option<Reference>| {
        if !order.contains(&id) {
            order.push(id.clone());
        }
        let t = tags.entry(id).or_default();
        if let Some(tag) = tag
            && !t.contains(&tag)
        {
            t.push(tag);
        }
    };
    for name in names {
        let name_only = Reference::parse_name_only(name).ok();
        match name_only {
            // A repository without tag or digest: every tag of it.
            Some(r) if r.tag().is_none() && r.digest().is_none() => {
                let repo = r.repository();
                let mut found = false;
                for img in store.list_images()? {
                    for t in store.image_tags(&img.id)? {
                        if t.repository() == repo {
                            add(img.id.clone(), Some(t));
                            found = true;
                        }
                    }
                }
                if !found {
                    // Maybe an image ID prefix.
                    let id = store.resolve_image_id(name)?;
                    add(id, None);
                }
            }
            Some(r) if r.tag().is_some() && r.digest().is_none() => {
                let id = store.resolve_image_id(name)?;
                add(id, Some(r));
            }
            _ => {
                let id = store.resolve_image_id(name)?;
                add(id, None);
            }
        }
    }
    order
        .into_iter()
        .map(|id| {
            Ok(SaveItem {
                image: store.image(&id)?,
                tags: tags.remove(&id).unwrap_or_default(),
            })
        })
        .collect()
}
