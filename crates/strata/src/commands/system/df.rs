//! `strata system df`: disk usage by images, containers, local volumes
//! and build cache, in docker's layout. The build cache row counts its records and the
//! bytes only it keeps alive (configs, layers no image uses). Layers are counted once however many images share
//! them; `-v` shows each image's shared and unique size and (ours) every
//! layer with the number of images using it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::SystemTime;

use clap::Args;
use serde_json::json;
use strata_format::output::render_list;
use strata_format::units;

use crate::commands::image::common::created_unix;
use crate::context::Ctx;

/// Flags of `system df`.
#[derive(Debug, Args)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    pub verbose: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long)]
    pub format: Option<String>,
}

/// What `system df` and the API's `GET /system/df` count.
pub struct Usage {
    /// Every image.
    pub images: Vec<strata_store::db::images::ImageRow>,
    /// Layer chain ID → (bytes, diff ID or `layer N`, images using it).
    pub layers: BTreeMap<String, (u64, String, usize)>,
    /// Image ID → its layer chain IDs.
    pub image_chains: HashMap<String, Vec<String>>,
    /// Every container's record.
    pub containers: Vec<strata_store::db::containers::ContainerRow>,
    /// Bytes of each container's writable layer (as `containers`).
    pub container_sizes: Vec<u64>,
    /// The build cache.
    pub cache: strata_store::gc::BuildCacheUsage,
    /// The build cache's records (docker's build cache rows).
    pub cache_entries: Vec<strata_build::cache::Entry>,
    /// Volumes: (name, containers using it, bytes in its `_data`).
    pub volumes: Vec<(String, usize, u64)>,
}

impl Usage {
    /// Bytes of `image_id`'s layers other images use too.
    pub fn shared(&self, image_id: &str) -> u64 {
        self.image_chains
            .get(image_id)
            .into_iter()
            .flatten()
            .filter(|c| self.layers[*c].2 > 1)
            .map(|c| self.layers[c].0)
            .sum()
    }

    /// The containers made from `image_id`.
    pub fn containers_of(&self, image_id: &str) -> usize {
        self.containers
            .iter()
            .filter(|c| c.image_id == image_id)
            .count()
    }
}

/// Counts the store's disk usage.
pub fn usage(store: &strata_store::Store) -> anyhow::Result<Usage> {
    let images = store.list_images()?;
    // chain → (size, images using it)
    let mut layers: BTreeMap<String, (u64, String, usize)> = BTreeMap::new();
    let mut image_chains: HashMap<String, Vec<String>> = HashMap::new();
    for img in &images {
        let chains: Vec<String> = store
            .image(&img.id)?
            .chain_ids()
            .iter()
            .map(|c| c.to_string())
            .collect();
        for (i, c) in chains.iter().enumerate() {
            let entry = layers
                .entry(c.clone())
                .or_insert_with(|| (0, String::new(), 0));
            if entry.2 == 0 {
                let snap = store.snapshots().get(&strata_oci::Digest::parse(c)?)?;
                entry.0 = snap.as_ref().map_or(0, |s| s.size);
                entry.1 = snap.map_or_else(|| format!("layer {i}"), |s| s.diff_id.to_string());
            }
            entry.2 += 1;
        }
        image_chains.insert(img.id.to_string(), chains);
    }
    let containers = store.db().with(strata_store::db::containers::list)?;
    let container_sizes: Vec<u64> = containers
        .iter()
        .map(|c| {
            let upper = store.container_dir(&c.id).join("upper");
            strata_store::layer::disk_usage(&upper).unwrap_or(0)
        })
        .collect();
    let cache = store.build_cache_usage()?;
    let cache_entries = strata_build::cache::entries(store)?;
    // Volumes: (name, containers using it, bytes in its _data).
    let volumes: Vec<(String, usize, u64)> = strata_runtime::volumes::list(store)?
        .into_iter()
        .map(|v| {
            let links = strata_runtime::volumes::users(store, &v.name)?.len();
            let data = strata_runtime::volumes::data_dir(store, &v.name);
            let size = strata_store::layer::disk_usage(&data).unwrap_or(0);
            Ok((v.name, links, size))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Usage {
        images,
        layers,
        image_chains,
        containers,
        container_sizes,
        cache,
        cache_entries,
        volumes,
    })
}

/// docker's `CACHE TYPE` of a record: every strata record is a step result
/// (BuildKit's `regular`).
pub const CACHE_TYPE: &str = "regular";

/// Runs `system df`.
pub fn run(ctx: &Ctx, args: DfArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let u = usage(store)?;
    let Usage {
        images,
        layers,
        image_chains,
        containers,
        container_sizes,
        cache,
        cache_entries,
        volumes,
    } = &u;
    let used_images: HashSet<&str> = containers.iter().map(|c| c.image_id.as_str()).collect();
    let running = containers.iter().filter(|c| c.running).count();
    let total: u64 = layers.values().map(|l| l.0).sum();
    let active_chains: HashSet<&String> = image_chains
        .iter()
        .filter(|(id, _)| used_images.contains(id.as_str()))
        .flat_map(|(_, c)| c)
        .collect();
    let active_size: u64 = active_chains.iter().map(|c| layers[*c].0).sum();
    let reclaim = |r: u64, t: u64| match (r * 100).checked_div(t) {
        None => units::human_size_precise(r),
        Some(pct) => format!("{} ({pct}%)", units::human_size_precise(r)),
    };
    let ctotal: u64 = container_sizes.iter().sum();
    let crunning: u64 = containers
        .iter()
        .zip(container_sizes.iter())
        .filter(|(c, _)| c.running)
        .map(|(_, s)| *s)
        .sum();
    let vtotal: u64 = volumes.iter().map(|v| v.2).sum();
    let vunused: u64 = volumes.iter().filter(|v| v.1 == 0).map(|v| v.2).sum();
    let vactive = volumes.iter().filter(|v| v.1 > 0).count();
    let summary = vec![
        json!({"Type": "Images", "TotalCount": images.len().to_string(), "Active": used_images.len().to_string(), "Size": units::human_size_precise(total), "Reclaimable": reclaim(total - active_size, total)}),
        json!({"Type": "Containers", "TotalCount": containers.len().to_string(), "Active": running.to_string(), "Size": units::human_size_precise(ctotal), "Reclaimable": reclaim(ctotal - crunning, ctotal)}),
        json!({"Type": "Local Volumes", "TotalCount": volumes.len().to_string(), "Active": vactive.to_string(), "Size": units::human_size_precise(vtotal), "Reclaimable": reclaim(vunused, vtotal)}),
        json!({"Type": "Build Cache", "TotalCount": cache.records.to_string(), "Active": "0", "Size": units::human_size_precise(cache.bytes), "Reclaimable": units::human_size_precise(cache.bytes)}),
    ];
    let headers = &[
        ("Type", "TYPE"),
        ("TotalCount", "TOTAL"),
        ("Active", "ACTIVE"),
        ("Size", "SIZE"),
        ("Reclaimable", "RECLAIMABLE"),
    ];
    if !args.verbose {
        let fmt = match args.format.as_deref() {
            None | Some("") | Some("table") => {
                "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
            }
            Some(f) => f,
        };
        print!("{}", render_list(fmt, headers, &summary)?);
        return Ok(0);
    }
    let now = SystemTime::now();
    let mut image_rows = Vec::new();
    for img in images {
        let shared = u.shared(img.id.as_str());
        let tags = store.image_tags(&img.id)?;
        let (repo, tag) = tags
            .first()
            .map(|t| (t.familiar_repository(), t.tag().unwrap_or("").to_string()))
            .unwrap_or_else(|| ("<none>".into(), "<none>".into()));
        let n_containers = u.containers_of(img.id.as_str());
        image_rows.push(json!({
            "Repository": repo, "Tag": tag, "ID": img.id.short(),
            "CreatedSince": units::since(created_unix(img.created.as_deref()), now),
            "Size": units::human_size(img.size), "SharedSize": units::human_size(shared),
            "UniqueSize": units::human_size(img.size - shared.min(img.size)), "Containers": n_containers.to_string(),
        }));
    }
    println!("Images space usage:\n");
    print!(
        "{}",
        render_list(
            "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
            &[
                ("Repository", "REPOSITORY"),
                ("Tag", "TAG"),
                ("ID", "IMAGE ID"),
                ("CreatedSince", "CREATED"),
                ("Size", "SIZE"),
                ("SharedSize", "SHARED SIZE"),
                ("UniqueSize", "UNIQUE SIZE"),
                ("Containers", "CONTAINERS")
            ],
            &image_rows,
        )?
    );
    let layer_rows: Vec<_> = layers
        .values()
        .map(|(size, diff, n)| json!({"Layer": diff.strip_prefix("sha256:").unwrap_or(diff).chars().take(12).collect::<String>(), "Size": units::human_size(*size), "Images": n.to_string()}))
        .collect();
    println!("\nLayers space usage:\n");
    print!(
        "{}",
        render_list(
            "table {{.Layer}}\t{{.Size}}\t{{.Images}}",
            &[("Layer", "LAYER"), ("Size", "SIZE"), ("Images", "IMAGES")],
            &layer_rows
        )?
    );
    let container_rows: Vec<_> = containers
        .iter()
        .zip(container_sizes.iter())
        .map(|(c, s)| json!({"ID": c.id.chars().take(12).collect::<String>(), "Image": c.image_name, "Size": units::human_size(*s), "Names": c.name}))
        .collect();
    println!("\nContainers space usage:\n");
    print!(
        "{}",
        render_list(
            "table {{.ID}}\t{{.Image}}\t{{.Size}}\t{{.Names}}",
            &[
                ("ID", "CONTAINER ID"),
                ("Image", "IMAGE"),
                ("Size", "SIZE"),
                ("Names", "NAMES")
            ],
            &container_rows
        )?
    );
    let volume_rows: Vec<_> = volumes
        .iter()
        .map(|(name, links, size)| json!({"Name": name, "Links": links.to_string(), "Size": units::human_size(*size)}))
        .collect();
    println!("\nLocal Volumes space usage:\n");
    print!(
        "{}",
        render_list(
            "table {{.Name}}\t{{.Links}}\t{{.Size}}",
            &[
                ("Name", "VOLUME NAME"),
                ("Links", "LINKS"),
                ("Size", "SIZE")
            ],
            &volume_rows
        )?
    );
    println!("\nBuild cache usage: {}\n", units::human_size(cache.bytes));
    let cache_rows: Vec<_> = cache_entries
        .iter()
        .map(|e| json!({
            "ID": e.key.strip_prefix("sha256:").unwrap_or(&e.key).chars().take(12).collect::<String>(),
            "CacheType": CACHE_TYPE, "Size": units::human_size(e.size),
            "CreatedSince": units::since(e.created_at, now), "LastUsedSince": units::since(e.last_used, now),
            "UsageCount": e.lineages.to_string(), "Shared": e.shared.to_string(),
        }))
        .collect();
    print!(
        "{}",
        render_list(
            "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}",
            &[
                ("ID", "CACHE ID"),
                ("CacheType", "CACHE TYPE"),
                ("Size", "SIZE"),
                ("CreatedSince", "CREATED"),
                ("LastUsedSince", "LAST USED"),
                ("UsageCount", "USAGE"),
                ("Shared", "SHARED")
            ],
            &cache_rows
        )?
    );
    Ok(0)
}
