//! Store-wide endpoints: `GET /events` (the store's event journal,
//! streamed), `GET /system/df`, and the container and image prunes —
//! over the functions the CLI's `events`, `system df` and prunes use.

use std::sync::Arc;

use bollard_stubs::models::{ContainerPruneResponse, ImagePruneResponse};
use serde_json::{Value, json};
use strata_runtime::volumes;

use super::Service;
use super::http::{ApiResult, Query, channel, cli_bad, json_line, json_ok, streamed};
use crate::commands::container::rm::prune_ids;
use crate::commands::image::common::created_unix;
use crate::commands::image::prune::prune_images;
use crate::commands::prune_filter::PruneFilter;
use crate::commands::system::df;
use crate::commands::system::events::Selection;
use crate::commands::volume::volume_json;

/// `GET /events?since=&until=&filters=`: one JSON message a line; without
/// `until`, the stream follows the journal until the client leaves.
pub async fn events(svc: Arc<Service>, q: Query) -> ApiResult {
    let sel = Selection::parse(&q.filters()?, q.get("since"), q.get("until")).map_err(cli_bad)?;
    let (tx, body) = channel();
    tokio::task::spawn_blocking(move || {
        let Ok(store) = svc.store() else { return };
        let journal = store.journal();
        let _busy = super::Busy::new();
        let mut emit = |batch: &[&strata_store::events::Event]| -> anyhow::Result<bool> {
            for e in batch {
                let v = serde_json::to_value(e)?;
                if tx.blocking_send(json_line(&v)).is_err() {
                    return Ok(false);
                }
            }
            Ok(!tx.is_closed())
        };
        if let Err(e) = sel.follow(&journal, &mut emit) {
            tracing::debug!("events: {e:#}");
        }
    });
    Ok(streamed("application/json", body))
}

/// `GET /system/df`: images (with their shared sizes and containers),
/// containers (writable layer bytes), volumes (usage) and the layers'
/// total, as docker's CLI reads them.
pub fn system_df(svc: &Service) -> ApiResult {
    let store = svc.store()?;
    let u = df::usage(store)?;
    let layers_size: u64 = u.layers.values().map(|l| l.0).sum();
    let mut images = Vec::new();
    for img in &u.images {
        let tags: Vec<String> = store
            .image_tags(&img.id)?
            .iter()
            .map(|t| t.familiar())
            .collect();
        images.push(json!({
            "Id": img.id.to_string(),
            "ParentId": "",
            "RepoTags": tags,
            "RepoDigests": [],
            "Created": created_unix(img.created.as_deref()),
            "Size": img.size,
            "SharedSize": u.shared(img.id.as_str()),
            "VirtualSize": img.size,
            "Labels": {},
            "Containers": u.containers_of(img.id.as_str()),
        }));
    }
    let containers: Vec<Value> = u
        .containers
        .iter()
        .zip(u.container_sizes.iter())
        .map(|(c, size)| {
            json!({
                "Id": c.id,
                "Names": [format!("/{}", c.name)],
                "Image": c.image_name,
                "ImageID": c.image_id,
                "Created": created_unix(Some(&c.created_at)),
                "State": if c.running { "running" } else { "exited" },
                "Status": "",
                "SizeRw": size,
                "SizeRootFs": size,
                "Labels": {},
                "Mounts": [],
                "Ports": [],
            })
        })
        .collect();
    let mut vols = Vec::new();
    for (name, links, size) in &u.volumes {
        let Some(v) = volumes::get(store, name)? else {
            continue;
        };
        let mut j = volume_json(&v);
        j["UsageData"] = json!({"Size": size, "RefCount": links});
        vols.push(j);
    }
    json_ok(&json!({
        "LayersSize": layers_size,
        "Images": images,
        "Containers": containers,
        "Volumes": vols,
        "BuildCache": build_cache(&u.cache_entries),
        "BuilderSize": u.cache.bytes,
    }))
}

/// docker's build cache rows (API 1.41 names the parent `Parent`, later
/// versions `Parents`: both are given; hence JSON rather than
/// bollard-stubs' `BuildCache`, which has only the newer field). `Size` is
/// the record's layer unpacked (0 for a metadata step); `Shared` says an
/// image uses that layer too; nothing is `InUse` between builds.
fn build_cache(entries: &[strata_build::cache::Entry]) -> Vec<Value> {
    let time = |secs: i64| {
        chrono::DateTime::from_timestamp(secs, 0)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    };
    entries
        .iter()
        .map(|e| {
            let parent = e.parent.clone().unwrap_or_default();
            json!({
                "ID": e.key,
                "Parent": parent,
                "Parents": e.parent.iter().collect::<Vec<_>>(),
                "Type": df::CACHE_TYPE,
                "Description": e.step,
                "InUse": false,
                "Shared": e.shared,
                "Size": e.size,
                "CreatedAt": time(e.created_at),
                "LastUsedAt": time(e.last_used),
                "UsageCount": e.lineages,
            })
        })
        .collect()
}

/// `POST /containers/prune?filters=`.
pub fn containers_prune(svc: &Service, q: &Query) -> ApiResult {
    let f = PruneFilter::parse_api(&q.filters()?).map_err(cli_bad)?;
    let (ids, bytes) = prune_ids(svc.store()?, &f).map_err(cli_bad)?;
    json_ok(&ContainerPruneResponse {
        containers_deleted: Some(ids),
        space_reclaimed: Some(bytes as i64),
    })
}

/// `POST /images/prune?filters=`: `dangling=false` prunes every image no
/// container uses (`image prune -a`).
pub fn images_prune(svc: &Service, q: &Query) -> ApiResult {
    let mut all = false;
    let mut rest = Vec::new();
    for f in q.filters()? {
        match f.strip_prefix("dangling=") {
            Some(v) => all = matches!(v, "false" | "0"),
            None => rest.push(f),
        }
    }
    let f = PruneFilter::parse_api(&rest).map_err(cli_bad)?;
    let pruned = prune_images(svc.store()?, all, &f).map_err(cli_bad)?;
    json_ok(&ImagePruneResponse {
        images_deleted: Some(super::images::delete_items(pruned.removed)),
        space_reclaimed: Some(pruned.reclaimed as i64),
    })
}
