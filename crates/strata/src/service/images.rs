//! Image endpoints: list, inspect, history, tag, delete, and the pull
//! (`POST /images/create`) and push streams, over the same functions the
//! CLI's `images`, `image inspect`, `history`, `tag`, `rmi`, `pull` and
//! `push` use.

use std::collections::HashMap;
use std::sync::Arc;

use bollard_stubs::models::{ImageDeleteResponseItem, ImageSummary};
use bytes::Bytes;
use hyper::Request;
use hyper::body::Incoming;
use serde_json::{Value, json};
use strata_oci::Reference;
use strata_registry::progress::{Event, LayerStatus, Progress};
use strata_store::images::Removal;
use tokio::sync::mpsc;

use super::Service;
use super::http::{ApiError, ApiResult, Query, body_from, json_line, json_ok, streamed};
use crate::commands::image::common::created_unix;
use crate::commands::image::progress::progress_text;
use crate::commands::image::{history as history_cmd, inspect as inspect_cmd, ls};
use crate::commands::registry;

/// `GET /images/json`.
pub fn list(svc: &Service, q: &Query) -> ApiResult {
    let store = svc.store()?;
    let filters = ls::Filters::parse(&q.filters()?, None, store).map_err(bad)?;
    let mut out = Vec::new();
    for img in store.list_images()? {
        let tags = store.image_tags(&img.id)?;
        let digests = store.image_repo_digests(&img.id)?;
        if !filters.keep_image(&img, &tags, &digests, store)? {
            continue;
        }
        let kept: Vec<String> = tags
            .iter()
            .filter(|t| filters.keep_ref(&t.familiar_repository(), t.tag().unwrap_or("latest")))
            .map(Reference::familiar)
            .collect();
        if kept.is_empty() && !tags.is_empty() && !q.filters()?.is_empty() {
            let by_ref = q.filters()?.iter().any(|f| f.starts_with("reference="));
            if by_ref {
                continue;
            }
        }
        let labels = store
            .image(&img.id)
            .ok()
            .and_then(|i| i.config.config.and_then(|c| c.labels))
            .unwrap_or_default();
        let summary = ImageSummary {
            id: img.id.to_string(),
            parent_id: String::new(),
            repo_tags: if kept.is_empty() && tags.is_empty() {
                // docker 20.10 lists an untagged image as `<none>:<none>`.
                vec!["<none>:<none>".into()]
            } else {
                kept
            },
            repo_digests: digests.iter().map(Reference::familiar).collect(),
            created: created_unix(img.created.as_deref()),
            size: img.size as i64,
            shared_size: -1,
            labels: labels.into_iter().collect::<HashMap<_, _>>(),
            containers: -1,
            manifests: None,
            descriptor: None,
        };
        // API 1.41 still has `VirtualSize` (the models are of a later API).
        let mut v =
            serde_json::to_value(&summary).map_err(|e| ApiError::internal(e.to_string()))?;
        v["VirtualSize"] = json!(img.size);
        out.push(v);
    }
    json_ok(&out)
}

/// A filter the user got wrong: 400.
fn bad(e: anyhow::Error) -> ApiError {
    ApiError::bad(format!("{e:#}"))
}

/// `GET /images/{name}/json`.
pub fn inspect(svc: &Service, name: &str) -> ApiResult {
    let store = svc.store()?;
    let img = store.resolve_image(name).map_err(|e| match e {
        // dockerd 20.10's wording on this endpoint.
        strata_store::StoreError::ImageNotFound(n) => {
            ApiError::not_found(format!("no such image: {n}: No such image: {n}"))
        }
        other => other.into(),
    })?;
    json_ok(&inspect_cmd::image_json(store, &img)?)
}

/// `GET /images/{name}/history`.
pub fn history(svc: &Service, name: &str) -> ApiResult {
    let store = svc.store()?;
    let img = store.resolve_image(name)?;
    let tags: Vec<String> = store
        .image_tags(img.id())?
        .iter()
        .map(Reference::familiar)
        .collect();
    let rows: Vec<Value> = history_cmd::entries(store, &img)?
        .into_iter()
        .map(|e| {
            let top = e.image.as_ref() == Some(img.id());
            json!({
                "Id": e.image.map_or_else(|| "<missing>".to_string(), |d| d.to_string()),
                "Created": e.created,
                "CreatedBy": e.created_by,
                "Tags": if top && !tags.is_empty() { json!(tags) } else { Value::Null },
                "Size": e.size,
                "Comment": e.comment,
            })
        })
        .collect();
    json_ok(&rows)
}

/// `POST /images/{name}/tag?repo=&tag=`.
pub fn tag(svc: &Service, name: &str, q: &Query) -> ApiResult {
    let store = svc.store()?;
    let id = store.resolve_image_id(name)?;
    let repo = q.get("repo").unwrap_or_default();
    let target = match q.get("tag") {
        Some(t) if !t.is_empty() => format!("{repo}:{t}"),
        _ => repo.to_string(),
    };
    let r = Reference::parse(&target).map_err(|e| {
        ApiError::bad(format!(
            "Error parsing reference: {target:?} is not a valid repository/tag: {e}"
        ))
    })?;
    store.tag_image(&id, &r)?;
    strata_runtime::events::record(
        store,
        "image",
        "tag",
        id.as_str(),
        &[("name", r.familiar())],
    );
    let mut resp = hyper::Response::new(super::http::empty());
    *resp.status_mut() = hyper::StatusCode::CREATED;
    Ok(resp)
}

/// `DELETE /images/{name}?force=`.
pub fn remove(svc: &Service, name: &str, q: &Query) -> ApiResult {
    let store = svc.store()?;
    let done = store.remove_image(name, q.flag("force"))?;
    json_ok(&delete_items(done))
}

/// Removals as docker's `[{"Untagged": …}, {"Deleted": …}]`.
pub fn delete_items(done: Vec<Removal>) -> Vec<ImageDeleteResponseItem> {
    done.into_iter()
        .map(|r| match r {
            Removal::Untagged(n) => ImageDeleteResponseItem {
                untagged: Some(n),
                deleted: None,
            },
            Removal::Deleted(d) => ImageDeleteResponseItem {
                untagged: None,
                deleted: Some(d.to_string()),
            },
        })
        .collect()
}

/// Registry progress as docker's JSON messages, each given to a sink (a
/// pull's or push's response body, or a build's classic output).
pub(super) struct JsonProgress(Box<dyn Fn(Value) + Send + Sync>);

impl JsonProgress {
    /// Messages to `sink`.
    pub(super) fn new(sink: impl Fn(Value) + Send + Sync + 'static) -> JsonProgress {
        JsonProgress(Box::new(sink))
    }

    /// Messages as lines of a response body.
    fn lines(tx: mpsc::UnboundedSender<Bytes>) -> JsonProgress {
        JsonProgress::new(move |v| {
            let _ = tx.send(json_line(&v));
        })
    }

    pub(super) fn send(&self, v: Value) {
        (self.0)(v)
    }
}

/// docker's words for a failed pull: dockerd's for a manifest the
/// registry does not have, else strata's.
pub(super) fn pull_error(e: &anyhow::Error) -> String {
    let unknown = e.chain().find_map(|c| match c.downcast_ref() {
        Some(strata_registry::RegistryError::ManifestUnknown { reference, .. }) => {
            Some(reference.clone())
        }
        _ => None,
    });
    match unknown {
        Some(r) => format!("manifest for {r} not found: manifest unknown: manifest unknown"),
        None => crate::exit::message(e),
    }
}

impl Progress for JsonProgress {
    fn event(&self, event: Event) {
        let v = match event {
            Event::PullStart { tag, repository } => {
                json!({"status": format!("Pulling from {repository}"), "id": tag})
            }
            Event::PushStart { repository } => {
                json!({"status": format!("The push refers to repository [{repository}]")})
            }
            Event::Layer { id, status } => {
                let detail = match &status {
                    LayerStatus::Downloading { current, total }
                    | LayerStatus::Pushing { current, total } => {
                        json!({"current": current, "total": total})
                    }
                    _ => json!({}),
                };
                let mut v = json!({"status": status.text(), "progressDetail": detail, "id": id});
                if status.is_transfer() {
                    v["progress"] = json!(progress_text(&status));
                }
                v
            }
        };
        self.send(v);
    }
}

/// A progress stream run on a blocking thread: what `job` sends, then
/// docker's error message if it fails. A job failing before its first
/// message is an error response instead (dockerd's 404 for a missing
/// image or manifest), as docker's clients expect.
async fn progress_stream(
    job: impl FnOnce(&Arc<JsonProgress>) -> anyhow::Result<()> + Send + 'static,
) -> ApiResult {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let progress = Arc::new(JsonProgress::lines(tx));
    tokio::task::spawn_blocking(move || {
        if let Err(e) = job(&progress) {
            let msg = pull_error(&e);
            progress.send(json!({"errorDetail": {"message": msg}, "error": msg}));
        }
    });
    // The pull's first line (`Pulling from …`) comes before the registry
    // answered: held until the next message says whether it did.
    let mut head = Vec::new();
    let first = loop {
        let Some(m) = rx.recv().await else {
            let mut chunk = Vec::new();
            head.iter().for_each(|b: &Bytes| chunk.extend_from_slice(b));
            return Ok(streamed("application/json", super::http::full(chunk)));
        };
        let is_header = serde_json::from_slice::<Value>(&m).is_ok_and(|v| {
            v.get("status")
                .and_then(Value::as_str)
                .is_some_and(|s| s.starts_with("Pulling from "))
        });
        if !is_header {
            break m;
        }
        head.push(m);
    };
    if let Ok(v) = serde_json::from_slice::<Value>(&first)
        && let Some(msg) = v.get("error").and_then(Value::as_str)
    {
        let status = if msg.contains("not found")
            || msg.contains("manifest unknown")
            || msg.contains("does not exist")
        {
            hyper::StatusCode::NOT_FOUND
        } else {
            hyper::StatusCode::INTERNAL_SERVER_ERROR
        };
        return Err(ApiError::new(status, msg));
    }
    let mut chunk = Vec::new();
    head.iter().for_each(|b| chunk.extend_from_slice(b));
    chunk.extend_from_slice(&first);
    Ok(streamed(
        "application/json",
        body_from(Bytes::from(chunk), rx),
    ))
}

/// `POST /images/create?fromImage=&tag=`: a pull.
pub async fn pull(svc: Arc<Service>, q: Query, _req: &Request<Incoming>) -> ApiResult {
    let Some(from) = q.get("fromImage").filter(|s| !s.is_empty()) else {
        return Err(ApiError::new(
            hyper::StatusCode::NOT_IMPLEMENTED,
            "import (fromSrc) is not served yet",
        ));
    };
    let name = match q.get("tag").filter(|t| !t.is_empty()) {
        Some(t) if t.contains(':') => format!("{from}@{t}"),
        Some(t) => format!("{from}:{t}"),
        None => from.to_string(),
    };
    let reference = Reference::parse(&name)
        .map_err(|e| ApiError::bad(format!("invalid reference format: {e}")))?;
    let platform = q
        .get("platform")
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    progress_stream(move |p| {
        let pr: strata_registry::progress::ProgressRef = p.clone();
        crate::commands::image::pull::pull_with(
            &svc.ctx,
            svc.ctx.global(),
            &reference,
            platform,
            pr,
            &|| {},
            &|l| p.send(json!({"status": l})),
        )?;
        Ok(())
    })
    .await
}

/// `POST /images/{name}/push?tag=`.
pub async fn push(
    svc: Arc<Service>,
    name: String,
    q: Query,
    _req: &Request<Incoming>,
) -> ApiResult {
    let tag = q.get("tag").unwrap_or_default().to_string();
    let named = Reference::parse_name_only(&name)
        .map_err(|e| ApiError::bad(format!("invalid reference format: {e}")))?;
    {
        let store = svc.store()?;
        let probe = if tag.is_empty() {
            name.clone()
        } else {
            format!("{name}:{tag}")
        };
        if !tag.is_empty() {
            store.resolve_image(&probe).map_err(|_| {
                ApiError::not_found(format!(
                    "An image does not exist locally with the tag: {name}"
                ))
            })?;
        }
    }
    progress_stream(move |p| {
        let opts = strata_registry::PushOptions {
            registry: registry::options(svc.ctx.global())?,
            progress: p.clone(),
            ..strata_registry::PushOptions::default()
        };
        let store = svc.store()?;
        let reports = if tag.is_empty() {
            strata_registry::push_all_tags(store, &named, &opts)?
        } else {
            let r = Reference::parse(&format!("{name}:{tag}"))?;
            vec![strata_registry::push(store, &r, &opts)?]
        };
        for r in reports {
            p.send(json!({"status": format!(
                "{}: digest: {} size: {}",
                r.tag, r.manifest_digest, r.manifest_size
            )}));
            p.send(json!({
                "progressDetail": {},
                "aux": {"Tag": r.tag, "Digest": r.manifest_digest.to_string(), "Size": r.manifest_size},
            }));
        }
        Ok(())
    })
    .await
}
