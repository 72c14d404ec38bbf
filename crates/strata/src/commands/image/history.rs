//! `strata image history` (`history`): one row per config history entry,
//! newest first, laid out as docker's CLI lays it out. With `--layers`
//! (ours) the IMAGE column shows each row's layer diffID where docker can
//! only show `<missing>`.

use std::time::SystemTime;

use clap::{ArgAction, Args};
use serde_json::json;
use strata_format::output::ListFormat;
use strata_format::{units, width};

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
];

/// Runs `image history`.
pub fn run(ctx: &Ctx, args: HistoryArgs) -> anyhow::Result<i32> {
    if let Some(p) = &args.platform {
        crate::commands::check_platform(p)?;
    }
    let store = ctx.store()?;
    let image = store.resolve_image(&args.image)?;
    let now = SystemTime::now();
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
    let mut rows = Vec::new();
    let mut layer = image.layers.len();
    for (i, h) in image.config.history.iter().enumerate().rev() {
        let (size, diff) = if h.empty_layer || layer == 0 {
            (0, None)
        } else {
            layer -= 1;
            (sizes[layer], Some(&image.layers[layer].diff_id))
        };
        let id = if i + 1 == image.config.history.len() {
            image_id_text(image.id(), args.no_trunc)
        } else {
            match (args.layers, diff) {
                (true, Some(d)) => image_id_text(d, args.no_trunc),
                _ => "<missing>".to_string(),
            }
        };
        let created = created_unix(h.created.as_deref());
        let created_by = h.created_by.clone().unwrap_or_default().replace('\t', " ");
        rows.push(json!({
            "Comment": h.comment.clone().unwrap_or_default(),
            "CreatedAt": units::rfc3339(created, 0),
            "CreatedBy": if args.no_trunc { created_by } else { width::ellipsis(&created_by, 45) },
            "CreatedSince": units::since(created, now),
            "ID": id,
            "Size": if args.human { units::human_size(size) } else { size.to_string() },
        }));
    }
    let default_table = if args.human {
        "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    } else {
        "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    };
    let fmt = ListFormat {
        format: args.format.as_deref().unwrap_or(""),
        quiet: args.quiet,
        quiet_overrides_format: false,
        default_table,
        quiet_format: "{{.ID}}",
        headers: HEADERS,
    };
    print!("{}", fmt.render(&rows)?);
    Ok(0)
}
