//! Container endpoints: list, create, inspect, start, stop/kill/restart,
//! wait, logs, resize, delete — over strata-runtime's `ops` and the
//! functions the CLI's `ps` and `logs` use.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bollard_stubs::models::{
    ContainerCreateBody, ContainerCreateResponse, ContainerSummary, ContainerSummaryHostConfig,
    ContainerWaitResponse, PortSummary,
};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::json;
use strata_runtime::attach::Frame;
use strata_runtime::logs::{LogEntry, Stream};
use strata_runtime::{Container, containers as rc, ops};

use super::Service;
use super::attach::frame;
use super::http::{
    ApiError, ApiResult, Query, channel, empty, json_line, json_ok, json_status, no_content,
    streamed,
};
use super::router::blocking;
use crate::commands::container::logs::{LogSelect, emit_logs};
use crate::commands::container::{pause, ps, rm};

fn lookup(svc: &Service, id: &str) -> Result<Container, ApiError> {
    Ok(rc::lookup(svc.store()?, id)?)
}

/// `GET /containers/json?all=&limit=&filters=`.
pub fn list(svc: &Service, q: &Query) -> ApiResult {
    let store = svc.store()?;
    let limit = q.int("limit")?.unwrap_or(-1);
    let list = ps::select(store, &q.filters()?, q.flag("all"), limit)
        .map_err(|e| ApiError::bad(format!("{e:#}")))?;
    let now = SystemTime::now();
    // Every container's networks from one query; nothing per container
    // but its record (the list is what `docker ps` waits for).
    let atts = strata_runtime::net::networks::all_attachments(store)?;
    let mut out = Vec::with_capacity(list.len());
    for c in &list {
        let a = atts.get(&c.id).map(Vec::as_slice).unwrap_or(&[]);
        let created = ps::system_time(&c.created)
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs() as i64);
        let summary = ContainerSummary {
            id: Some(c.id.clone()),
            names: Some(vec![format!("/{}", c.name)]),
            image: Some(c.image_name.clone()),
            image_id: Some(c.image_id.clone()),
            command: Some(ps::command_line(c)),
            created: Some(created),
            ports: Some(ports(c)),
            labels: Some(c.spec.config.labels.clone().into_iter().collect()),
            state: serde_json::from_value(json!(ps::status_word(c))).ok(),
            status: Some(ps::status_text(c, now)),
            host_config: Some(ContainerSummaryHostConfig {
                network_mode: Some(c.spec.host_config.network_mode.clone()),
                annotations: None,
            }),
            // docker's list carries each network's endpoint and the
            // mounts (Testcontainers reads the gateway from here).
            network_settings: serde_json::from_value(json!({
                "Networks": strata_runtime::net::inspect::networks_of(c, a)
            }))
            .ok(),
            mounts: serde_json::from_value(json!(strata_runtime::inspect::mounts(store, c))).ok(),
            ..ContainerSummary::default()
        };
        out.push(summary);
    }
    json_ok(&out)
}

/// A running container's published and exposed ports (as `ps` shows them).
fn ports(c: &Container) -> Vec<PortSummary> {
    if !c.is_running() {
        return Vec::new();
    }
    strata_runtime::net::ports::port_list(&c.state.net.ports)
        .into_iter()
        .map(|p| PortSummary {
            ip: Some(p.ip).filter(|i| !i.is_empty()),
            private_port: p.private,
            public_port: (p.public != 0).then_some(p.public),
            typ: serde_json::from_value(json!(p.proto)).ok(),
        })
        .collect()
}

/// `POST /containers/create?name=`.
pub async fn create(svc: Arc<Service>, q: Query, req: Request<Incoming>) -> ApiResult {
    let body: ContainerCreateBody = super::http::read_json(req).await?;
    let opts = super::create::options(body, q.get("name").map(str::to_string))?;
    blocking(move || {
        // docker's `run` starts it next: the spare supervisor gets ready.
        svc.spares.warm();
        let store = svc.store()?;
        let img = store.resolve_image(&opts.image).map_err(|e| match e {
            strata_store::StoreError::ImageNotFound(_) => {
                ApiError::not_found(format!("No such image: {}", opts.image))
            }
            other => other.into(),
        })?;
        let c = ops::create(store, &img, &opts)?;
        // `create` leaves its lock held for this process (the CLI's `run`
        // starts next); the service lives on, so let it go: a later start
        // claims it, and the CLI or a prune may act on the container meanwhile.
        drop(strata_runtime::lock::take(&c.id));
        let resp = ContainerCreateResponse {
            id: c.id,
            warnings: Vec::new(),
        };
        Ok(json_status(StatusCode::CREATED, &resp))
    })
    .await
}

/// `GET /containers/{id}/json`.
pub fn inspect(svc: &Service, id: &str) -> ApiResult {
    let c = lookup(svc, id)?;
    json_ok(&strata_runtime::inspect::inspect(svc.store()?, &c))
}

fn not_modified() -> ApiResult {
    let mut r = Response::new(empty());
    *r.status_mut() = StatusCode::NOT_MODIFIED;
    Ok(r)
}

/// Starts `c` and keeps its supervisor socket for attach and wait.
fn start_container(svc: &Service, c: &Container) -> Result<(), ApiError> {
    let store = svc.store()?;
    let mut sup = ops::start_with(store, c, || svc.spares.take())?;
    let started = sup.wait_started();
    // The next start's supervisor, after this one answered.
    svc.spares.refill_later();
    if let Err(e) = started {
        // It ends once it cleaned up (and removed, with --rm).
        std::thread::spawn(move || sup.reap());
        return Err(match e {
            // docker's client maps the message to 126/127; the status is 400.
            strata_runtime::RuntimeError::Start { message, .. } => ApiError::bad(message),
            other => other.into(),
        });
    }
    svc.attach.started(&c.id, sup);
    Ok(())
}

/// `POST /containers/{id}/start`.
pub fn start(svc: &Service, id: &str) -> ApiResult {
    let c = lookup(svc, id)?;
    if c.is_running() {
        return not_modified();
    }
    start_container(svc, &c)?;
    no_content()
}

/// `POST /containers/{id}/stop|restart|kill`.
pub fn stop_kill(svc: &Service, id: &str, verb: &str, q: &Query) -> ApiResult {
    let store = svc.store()?;
    let c = lookup(svc, id)?;
    match verb {
        "kill" => {
            if !c.is_running() {
                return Err(ApiError::conflict(format!(
                    "Cannot kill container: {id}: Container {} is not running",
                    c.id
                )));
            }
            let sig = q.get("signal").filter(|s| !s.is_empty()).unwrap_or("KILL");
            let sig = ops::parse_signal(sig)?;
            ops::kill(store, &c, sig)?;
            // docker resumes a paused container once the signal is sent.
            pause::thaw_for_signal(store, &c)?;
            no_content()
        }
        "stop" => {
            if !c.is_running() {
                return not_modified();
            }
            pause::thaw_for_signal(store, &c)?;
            ops::stop(store, &c, q.int("t")?)?;
            no_content()
        }
        _ => {
            if c.is_running() {
                pause::thaw_for_signal(store, &c)?;
                ops::stop(store, &c, q.int("t")?)?;
            }
            let c = lookup(svc, id)?;
            start_container(svc, &c)?;
            no_content()
        }
    }
}

/// `POST /containers/{id}/resize?h=&w=`.
pub fn resize(svc: &Service, id: &str, q: &Query) -> ApiResult {
    let c = lookup(svc, id)?;
    let rows = q.int("h")?.unwrap_or(0).clamp(0, u16::MAX as i64) as u16;
    let cols = q.int("w")?.unwrap_or(0).clamp(0, u16::MAX as i64) as u16;
    svc.attach.send(&c.id, &Frame::Resize { rows, cols });
    json_ok(&json!({}))
}

/// `DELETE /containers/{id}?force=&v=`.
pub fn remove(svc: &Service, id: &str, q: &Query) -> ApiResult {
    let c = lookup(svc, id)?;
    rm::remove_container(svc.store()?, &c, q.flag("force"), q.flag("v"))?;
    no_content()
}

/// `POST /containers/{id}/wait?condition=not-running|next-exit|removed`.
/// The status line goes out at once (docker's client waits for it before
/// it starts the container); the body when the condition is met.
pub async fn wait(svc: Arc<Service>, id: String, q: Query) -> ApiResult {
    let condition = q.get("condition").unwrap_or("not-running").to_string();
    if !matches!(
        condition.as_str(),
        "" | "not-running" | "next-exit" | "removed"
    ) {
        return Err(ApiError::bad(format!("invalid condition: {condition:?}")));
    }
    let s2 = svc.clone();
    let c = blocking_lookup(s2, id).await?;
    let mut rx = svc.attach.exit_watch(&c.id);
    rx.borrow_and_update();
    let (tx, body) = channel();
    tokio::spawn(async move {
        let mut seen_live = false;
        let mut last = c.state.exit_code;
        let mut reported: Option<i32> = None;
        loop {
            let s3 = svc.clone();
            let cid = c.id.clone();
            let now = tokio::task::spawn_blocking(move || {
                s3.store()
                    .ok()
                    .and_then(|st| rc::get(st, &cid).ok().flatten())
            })
            .await
            .ok()
            .flatten();
            // After the read: an exit reported before the record went is seen.
            if rx.has_changed().unwrap_or(false) {
                reported = *rx.borrow_and_update();
            }
            let done = match &now {
                // Removed (`--rm`): its supervisor reports the exit code
                // after it removed the record.
                None if reported.is_none() && svc.attach.supervised(&c.id) => None,
                // The relay drops the socket and publishes the code under
                // one lock: once it no longer supervises, a code it had is
                // in the watch (read again: it may have come after the
                // `has_changed` above).
                None => Some(reported.or(*rx.borrow_and_update()).unwrap_or(last)),
                Some(n) => {
                    let live = n.is_running()
                        || n.state.status == "created"
                            && n.state.strata.supervisor.is_some_and(|s| s.is_alive());
                    seen_live |= live || reported.is_some();
                    if !live && n.state.status == "exited" {
                        last = n.state.exit_code;
                    }
                    match condition.as_str() {
                        "next-exit" => reported
                            .or((seen_live && !live && n.state.status == "exited").then_some(last)),
                        "removed" => None,
                        _ => (!live).then(|| reported.unwrap_or(last)),
                    }
                }
            };
            tracing::trace!(
                "wait {}: record {}, reported {reported:?}, done {done:?}",
                c.id,
                now.as_ref().map_or("gone", |n| n.state.status.as_str())
            );
            if let Some(code) = done {
                let resp = ContainerWaitResponse {
                    status_code: code as i64,
                    error: None,
                };
                let v = serde_json::to_value(&resp).unwrap_or_default();
                let _ = tx.send(json_line(&v)).await;
                return;
            }
            if tx.is_closed() {
                return;
            }
            tokio::select! {
                r = rx.changed() => {
                    if r.is_ok() {
                        reported = *rx.borrow_and_update();
                    }
                }
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    });
    Ok(streamed("application/json", body))
}

async fn blocking_lookup(svc: Arc<Service>, id: String) -> Result<Container, ApiError> {
    tokio::task::spawn_blocking(move || lookup(&svc, &id))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
}

/// `GET /containers/{id}/logs?stdout=&stderr=&follow=&tail=&since=&until=&timestamps=`.
pub async fn logs(svc: Arc<Service>, id: String, q: Query) -> ApiResult {
    let c = blocking_lookup(svc.clone(), id).await?;
    let (stdout, stderr) = (q.flag("stdout"), q.flag("stderr"));
    if !stdout && !stderr {
        return Err(ApiError::bad(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let sel = LogSelect::parse(
        q.get("since"),
        q.get("until"),
        q.get("tail").unwrap_or("all"),
        q.flag("follow"),
    )
    .map_err(|e| ApiError::bad(format!("{e:#}")))?;
    let timestamps = q.flag("timestamps");
    let tty = c.spec.config.tty;
    let (tx, body) = channel();
    tokio::task::spawn_blocking(move || {
        let Ok(store) = svc.store() else { return };
        let mut emit = |batch: &[&LogEntry]| -> std::io::Result<()> {
            for e in batch {
                let n = match e.stream {
                    Stream::Stdout if stdout => 1,
                    Stream::Stderr if stderr => 2,
                    _ => continue,
                };
                let mut data = Vec::with_capacity(e.log.len() + 32);
                if timestamps {
                    data.extend_from_slice(e.time_text.as_bytes());
                    data.push(b' ');
                }
                data.extend_from_slice(&e.log);
                let b = if tty {
                    Bytes::from(data)
                } else {
                    frame(n, &data)
                };
                tx.blocking_send(b)
                    .map_err(|_| std::io::Error::other("client gone"))?;
            }
            Ok(())
        };
        let gone = || {
            if tx.is_closed() {
                anyhow::bail!("client gone")
            }
            Ok(())
        };
        if let Err(e) = emit_logs(store, &c, &sel, &mut emit, &gone) {
            tracing::debug!("logs {}: {e:#}", c.id);
        }
    });
    Ok(streamed("application/vnd.docker.raw-stream", body))
}
