//! Volume endpoints: list (filters), inspect, create, delete, prune —
//! over `strata_runtime::volumes` and the functions the CLI's `volume`
//! commands use.

use std::sync::Arc;

use bollard_stubs::models::{VolumeCreateRequest, VolumePruneResponse};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::json;
use strata_runtime::volumes;

use super::Service;
use super::http::{
    ApiError, ApiResult, Query, cli_bad, json_ok, json_status, no_content, read_json,
};
use super::router::blocking;
use crate::commands::prune_filter::PruneFilter;
use crate::commands::volume::{create::create_volume, ls, prune, volume_json};

/// `GET /volumes?filters=`: `{"Volumes": […], "Warnings": []}`.
pub fn list(svc: &Service, q: &Query) -> ApiResult {
    let store = svc.store()?;
    let vols = ls::select(store, &q.filters()?).map_err(cli_bad)?;
    let out: Vec<_> = vols.iter().map(volume_json).collect();
    json_ok(&json!({ "Volumes": out, "Warnings": [] }))
}

/// `GET /volumes/{name}`.
pub fn inspect(svc: &Service, name: &str) -> ApiResult {
    match volumes::get(svc.store()?, name)? {
        Some(v) => json_ok(&volume_json(&v)),
        None => Err(ApiError::not_found(format!("get {name}: no such volume"))),
    }
}

/// `POST /volumes/create`: 201 with the volume (an existing one of that
/// name is returned as it is, as docker does).
pub async fn create(svc: Arc<Service>, req: Request<Incoming>) -> ApiResult {
    let body: VolumeCreateRequest = read_json(req).await?;
    blocking(move || {
        let store = svc.store()?;
        let name = body.name.filter(|n| !n.is_empty());
        let driver = body.driver.filter(|d| !d.is_empty());
        let has_opts = body.driver_opts.as_ref().is_some_and(|o| !o.is_empty());
        let mut labels: Vec<String> = body
            .labels
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        labels.sort();
        let v = create_volume(
            store,
            name.as_deref(),
            driver.as_deref().unwrap_or(volumes::LOCAL),
            has_opts,
            &labels,
        )
        .map_err(cli_bad)?;
        Ok(json_status(StatusCode::CREATED, &volume_json(&v)))
    })
    .await
}

/// `DELETE /volumes/{name}?force=`: 404 when missing (unless forced), 409
/// while a container uses it.
pub fn remove(svc: &Service, name: &str, q: &Query) -> ApiResult {
    let store = svc.store()?;
    let force = q.flag("force");
    if volumes::get(store, name)?.is_none() {
        if force {
            return no_content();
        }
        return Err(ApiError::not_found(format!("get {name}: no such volume")));
    }
    let users = volumes::users(store, name)?;
    if !users.is_empty() {
        return Err(ApiError::conflict(format!(
            "remove {name}: volume is in use - [{}]",
            users.join(", ")
        )));
    }
    volumes::remove(store, name, force)?;
    no_content()
}

/// `POST /volumes/prune?filters=`.
pub fn prune(svc: &Service, q: &Query) -> ApiResult {
    let store = svc.store()?;
    let f = PruneFilter::parse_api(&q.filters()?).map_err(cli_bad)?;
    let (names, bytes) = prune::prune_names(store, &f).map_err(cli_bad)?;
    json_ok(&VolumePruneResponse {
        volumes_deleted: Some(names),
        space_reclaimed: Some(bytes as i64),
    })
}
