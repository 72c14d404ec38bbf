//! Container endpoints that look into or adjust a container: pause and
//! unpause, top, changes, export, rename and update — thin front ends
//! over the functions the CLI's commands of the same names call, with
//! docker's shapes and status codes (stats are in [`super::stats`]).

use std::sync::Arc;

use bollard_stubs::models::{
    ChangeType, ContainerTopResponse, ContainerUpdateBody, FilesystemChange,
};
use hyper::Request;
use hyper::body::Incoming;
use serde_json::json;
use strata_runtime::diff::{self, Kind};
use strata_runtime::restart_policy::RestartPolicy;
use strata_runtime::update_linux::{self, UpdateOptions};
use strata_runtime::{Container, containers as rc};

use super::Service;
use super::archive::BodyWriter;
use super::http::{ApiError, ApiResult, Query, channel, json_ok, no_content, streamed};
use super::router::blocking;
use crate::commands::container::{pause, top};

fn lookup(svc: &Service, id: &str) -> Result<Container, ApiError> {
    Ok(rc::lookup(svc.store()?, id)?)
}

/// `POST /containers/{id}/pause|unpause`.
pub fn pause(svc: &Service, id: &str, verb: &str) -> ApiResult {
    let c = lookup(svc, id)?;
    let store = svc.store()?;
    if verb == "pause" {
        pause::pause_container(store, &c)?;
    } else {
        pause::unpause_container(store, &c)?;
    }
    no_content()
}

/// `GET /containers/{id}/top?ps_args=`.
pub fn top(svc: &Service, id: &str, q: &Query) -> ApiResult {
    let (titles, processes) = top::processes(svc.store()?, id, q.get("ps_args").unwrap_or(""))?;
    json_ok(&ContainerTopResponse {
        titles: Some(titles),
        processes: Some(processes),
    })
}

/// `GET /containers/{id}/changes`: `null` when nothing changed, as
/// dockerd answers.
pub fn changes(svc: &Service, id: &str) -> ApiResult {
    let c = lookup(svc, id)?;
    let list: Vec<FilesystemChange> = diff::changes(svc.store()?, &c)?
        .into_iter()
        .map(|ch| FilesystemChange {
            path: ch.path,
            kind: match ch.kind {
                Kind::Changed => ChangeType::_0,
                Kind::Added => ChangeType::_1,
                Kind::Deleted => ChangeType::_2,
            },
        })
        .collect();
    if list.is_empty() {
        return json_ok(&serde_json::Value::Null);
    }
    json_ok(&list)
}

/// `GET /containers/{id}/export`: the tar streamed as it is written.
pub async fn export(svc: Arc<Service>, id: String) -> ApiResult {
    let s2 = svc.clone();
    let c = tokio::task::spawn_blocking(move || lookup(&s2, &id))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    let (tx, body) = channel();
    tokio::task::spawn_blocking(move || {
        let Ok(store) = svc.store() else { return };
        let out = std::io::BufWriter::with_capacity(64 << 10, BodyWriter(tx));
        // An error after the head went out can only cut the body short.
        if let Err(e) = strata_runtime::export::export(store, &c, out) {
            tracing::debug!("export {}: {e}", c.id);
        }
    });
    Ok(streamed("application/x-tar", body))
}

/// `POST /containers/{id}/rename?name=`.
pub fn rename(svc: &Service, id: &str, q: &Query) -> ApiResult {
    let name = q.get("name").unwrap_or("");
    if name.is_empty() {
        // dockerd checks before it looks the container up.
        return Err(ApiError::bad("Neither old nor new names may be empty"));
    }
    let c = lookup(svc, id)?;
    rc::rename(svc.store()?, &c, name)?;
    no_content()
}

/// The limits `update` changes from docker's body; a value strata does
/// not apply is refused rather than ignored.
fn update_options(b: ContainerUpdateBody) -> Result<UpdateOptions, ApiError> {
    let unsupported = [
        ("CpuPeriod", b.cpu_period.is_some_and(|v| v != 0)),
        ("CpuQuota", b.cpu_quota.is_some_and(|v| v != 0)),
        (
            "CpuRealtimePeriod",
            b.cpu_realtime_period.is_some_and(|v| v != 0),
        ),
        (
            "CpuRealtimeRuntime",
            b.cpu_realtime_runtime.is_some_and(|v| v != 0),
        ),
        (
            "CpusetCpus",
            b.cpuset_cpus.as_ref().is_some_and(|v| !v.is_empty()),
        ),
        (
            "CpusetMems",
            b.cpuset_mems.as_ref().is_some_and(|v| !v.is_empty()),
        ),
        ("BlkioWeight", b.blkio_weight.is_some_and(|v| v != 0)),
        (
            "MemoryReservation",
            b.memory_reservation.is_some_and(|v| v != 0),
        ),
    ];
    if let Some((field, _)) = unsupported.iter().find(|(_, set)| *set) {
        return Err(ApiError::bad(format!(
            "{field} cannot be updated by strata (Memory, MemorySwap, NanoCpus, CpuShares, PidsLimit and RestartPolicy can)"
        )));
    }
    let restart = b
        .restart_policy
        .and_then(super::create::restart_word)
        .map(|w| RestartPolicy::parse(&w))
        .transpose()?;
    Ok(UpdateOptions {
        memory: b.memory,
        memory_swap: b.memory_swap,
        nano_cpus: b.nano_cpus,
        cpu_shares: b.cpu_shares,
        pids_limit: b.pids_limit,
        restart,
    })
}

/// `POST /containers/{id}/update` with docker's resources body; dockerd
/// answers `{"Warnings":null}`.
pub async fn update(svc: Arc<Service>, id: String, req: Request<Incoming>) -> ApiResult {
    let body: ContainerUpdateBody = super::http::read_json(req).await?;
    let opts = update_options(body)?;
    blocking(move || {
        let c = lookup(&svc, &id)?;
        update_linux::update(svc.store()?, &c, &opts)?;
        json_ok(&json!({ "Warnings": null }))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_update_body_maps_to_the_clis_options() {
        let body: ContainerUpdateBody = serde_json::from_str(
            r#"{"Memory":67108864,"MemorySwap":-1,"NanoCpus":0,"CpuShares":0,"PidsLimit":null,
                "CpusetCpus":"","BlkioWeight":0,"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3}}"#,
        )
        .unwrap();
        let o = update_options(body).unwrap();
        assert_eq!(o.memory, Some(67_108_864));
        assert_eq!(o.memory_swap, Some(-1));
        assert_eq!(o.pids_limit, None);
        assert_eq!(
            o.restart,
            Some(RestartPolicy::parse("on-failure:3").unwrap())
        );
        let body: ContainerUpdateBody = serde_json::from_str(r#"{"CpusetCpus":"0"}"#).unwrap();
        assert_eq!(
            update_options(body).unwrap_err().status,
            hyper::StatusCode::BAD_REQUEST
        );
        // An empty policy name leaves the policy as it is.
        let body: ContainerUpdateBody =
            serde_json::from_str(r#"{"RestartPolicy":{"Name":"","MaximumRetryCount":0}}"#).unwrap();
        assert!(update_options(body).unwrap().is_empty());
    }
}
