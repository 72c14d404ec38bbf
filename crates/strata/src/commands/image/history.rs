//! `strata image history` (`history`): one row per config history entry,
//! newest first, laid out as docker's CLI lays it out.
//!
//! What docker hides, strata can show:
//!
//! * `--digests` adds DIGEST (the row's layer as the manifest names it)
//!   and CACHE KEY (for images strata built: the build-cache key of the
//!   step that wrote the row); `--format` has `{{.Digest}}` and
//!   `{{.CacheKey}}` with or without it. Rows without a layer or a key show
//!   `<none>`.
//! * Parent image IDs: docker fills IMAGE by walking each image's `Parent`,
//!   which only its classic builder sets (one intermediate image per step;
//!   BuildKit images have no parent, so every row but the top shows
//!   `<missing>`, and so do a pulled base image's rows). strata keeps no
//!   intermediate images, but records the image a build started FROM: the
//!   row that was that image's top row shows its ID while the image is in
//!   the store, and so on down through bases strata built too — as docker
//!   shows a locally present parent; a committed image's parent (the
//!   image its container ran) likewise. Every other row shows `<missing>`.
//! * `--layers` (ours): each layer row's diffID instead of `<missing>`.

use std::time::SystemTime;

use clap::{ArgAction, Args};
use serde_json::json;
use strata_format::output::ListFormat;
use strata_format::{units, width};

use std::collections::{BTreeMap, BTreeSet};

use strata_build::record::BuildRecord;
use strata_oci::Digest;
use strata_oci::manifest::descriptor_digest;
use strata_store::Store;

use crate::commands::image::common::{created_unix, image_id_text};
use crate::context::Ctx;

/// Flags of `image history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, action = ArgAction::Set, default_value_t = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub human: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show each row's layer diffID instead of <missing>
    #[arg(long)]
    pub layers: bool,
    /// Show each row's layer digest and (for images strata built) its build-cache key
    #[arg(long)]
    pub digests: bool,
    /// Show history for the given platform (only the host's)
    #[arg(long)]
    pub platform: Option<String>,
    /// The image
    pub image: String,
}

const HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedBy", "CREATED BY"),
    ("Size", "SIZE"),
    ("Comment", "COMMENT"),
    ("Digest", "DIGEST"),
    ("CacheKey", "CACHE KEY"),
];

/// One history row, newest first: what `history` and the API's
/// `GET /images/{name}/history` show.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The image whose top row this is (the image itself, or a base it
    /// was built FROM), if known.
    pub image: Option<Digest>,
    /// The row's layer diffID (`None` for an empty layer).
    pub diff_id: Option<Digest>,
    /// The row's layer blob digest.
    pub blob: Option<Digest>,
    /// The build-cache key of the step that wrote it (strata builds).
    pub cache_key: Option<String>,
    /// Unix seconds.
    pub created: i64,
    /// The instruction (tabs as spaces).
    pub created_by: String,
    /// The layer's size.
    pub size: u64,
    /// The comment.
    pub comment: String,
}

/// The rows of `image`'s history, newest first.
pub fn entries(store: &Store, image: &strata_store::Image) -> anyhow::Result<Vec<Entry>> {
    let sizes: Vec<u64> = image
        .layers
        .iter()
        .map(|l| {
            store
                .snapshots()
                .get(&l.chain_id)
                .map(|s| s.map_or(0, |s| s.size))
        })
        .collect::<Result<_, _>>()?;
    let record = BuildRecord::load(store, image.id())?;
    let keys = record.as_ref().map(|r| r.keys.as_slice()).unwrap_or(&[]);
    let parents = parent_rows(store, image.id(), image.config.history.len());
    let mut out = Vec::new();
    let mut layer = image.layers.len();
    for (i, h) in image.config.history.iter().enumerate().rev() {
        let (size, diff_id, blob) = if h.empty_layer || layer == 0 {
            (0, None, None)
        } else {
            layer -= 1;
            let blob = image
                .manifest
                .layers()
                .get(layer)
                .and_then(|d| descriptor_digest(d).ok());
            (
                sizes[layer],
                Some(image.layers[layer].diff_id.clone()),
                blob,
            )
        };
        let top = if i + 1 == image.config.history.len() {
            Some(image.id().clone())
        } else {
            parents.get(&i).cloned()
        };
        out.push(Entry {
            image: top,
            diff_id,
            blob,
            cache_key: keys.get(i).cloned().flatten(),
            created: created_unix(h.created.as_deref()),
            created_by: h.created_by.clone().unwrap_or_default().replace('\t', " "),
            size,
            comment: h.comment.clone().unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Runs `image history`.
pub fn run(ctx: &Ctx, args: HistoryArgs) -> anyhow::Result<i32> {
    if let Some(p) = &args.platform {
        crate::commands::check_platform(p)?;
    }
    let store = ctx.store()?;
    let image = store.resolve_image(&args.image)?;
    let now = SystemTime::now();
    let none = || "<none>".to_string();
    let mut rows = Vec::new();
    for e in entries(store, &image)? {
        let id = match (&e.image, args.layers, &e.diff_id) {
            (Some(top), _, _) => image_id_text(top, args.no_trunc),
            (None, true, Some(d)) => image_id_text(d, args.no_trunc),
            _ => "<missing>".to_string(),
        };
        let key = match &e.cache_key {
            Some(k) if args.no_trunc => k.clone(),
            Some(k) => k.chars().take(12).collect(),
            None => none(),
        };
        let created_by = e.created_by;
        rows.push(json!({
            "CacheKey": key,
            "Comment": e.comment,
            "CreatedAt": units::rfc3339(e.created, 0),
            "CreatedBy": if args.no_trunc { created_by } else { width::ellipsis(&created_by, 45) },
            "CreatedSince": units::since(e.created, now),
            "Digest": e.blob.map_or_else(none, |b| b.to_string()),
            "ID": id,
            "Size": if args.human { units::human_size(e.size) } else { e.size.to_string() },
        }));
    }
    let since = if args.human {
        "{{.CreatedSince}}"
    } else {
        "{{.CreatedAt}}"
    };
    let extra = if args.digests {
        "\t{{.Digest}}\t{{.CacheKey}}"
    } else {
        ""
    };
    let default_table = format!(
        "table {{{{.ID}}}}\t{since}\t{{{{.CreatedBy}}}}\t{{{{.Size}}}}{extra}\t{{{{.Comment}}}}"
    );
    let fmt = ListFormat {
        format: args.format.as_deref().unwrap_or(""),
        quiet: args.quiet,
        quiet_overrides_format: false,
        default_table: &default_table,
        quiet_format: "{{.ID}}",
        headers: HEADERS,
    };
    print!("{}", fmt.render(&rows)?);
    Ok(0)
}

/// The rows (history index, bottom first) that show a parent image's ID:
/// the image a commit started from, or the base a build started FROM,
/// owns the row that was its top row while it is in the store (and has
/// that many rows), then that image's own parent, and so on.
fn parent_rows(store: &Store, image: &Digest, rows: usize) -> BTreeMap<usize, Digest> {
    let mut out = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut parent = parent_of(store, image);
    while let Some((p, history)) = parent.take() {
        if history == 0 || history >= rows || !seen.insert(p.clone()) {
            break;
        }
        let Ok(img) = store.image(&p) else {
            break;
        };
        if img.config.history.len() != history {
            break;
        }
        out.insert(history - 1, p.clone());
        parent = parent_of(store, &p);
    }
    out
}

/// The image `id` was made from and how many history rows that image had
/// then: its commit parent (all of that image's rows), or the base its
/// build record names.
fn parent_of(store: &Store, id: &Digest) -> Option<(Digest, usize)> {
    if let Some(p) = store.image_parent(id).ok().flatten() {
        let rows = store.image(&p).ok()?.config.history.len();
        return Some((p, rows));
    }
    let base = BuildRecord::load(store, id).ok().flatten()?.base?;
    Some((base.image, base.history))
}
