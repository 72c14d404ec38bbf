//! Maps a request (method, path without its `/vX.Y` prefix) to its
//! handler, and adds the headers dockerd puts on every response.
//! Handlers that touch the store run on blocking threads (SQLite, file
//! locks and the registry's own runtime are synchronous).

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Method, Request, StatusCode};

use super::Service;
use super::http::{API_VERSION, ApiError, ApiResult, Query, Resp, decode, segments, split_version};
use super::{archive, attach, build, containers, exec, image_archive, images, networks, system};
use super::{inspection, stats, usage, volumes};

/// Handles one request.
pub async fn handle(svc: Arc<Service>, req: Request<Incoming>) -> Resp {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    tracing::debug!("{method} {}", req.uri());
    let mut resp = match route(svc, req).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!("{method} {path}: {} {}", e.status, e.message);
            e.response()
        }
    };
    let h = resp.headers_mut();
    h.insert("Api-Version", HeaderValue::from_static(API_VERSION));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    if let Ok(v) = HeaderValue::from_str(&format!("strata/{} (linux)", env!("CARGO_PKG_VERSION"))) {
        h.insert(hyper::header::SERVER, v);
    }
    resp
}

/// Runs `f` on a blocking thread.
pub async fn blocking(f: impl FnOnce() -> ApiResult + Send + 'static) -> ApiResult {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(ApiError::internal(format!("handler failed: {e}"))))
}

async fn route(svc: Arc<Service>, req: Request<Incoming>) -> ApiResult {
    let (_version, path) = split_version(req.uri().path())?;
    let path = path.to_string();
    let q = Query::parse(req.uri().query());
    let m = req.method().clone();
    // Image names contain slashes: `/images/{name…}/json`.
    if let Some(rest) = path.strip_prefix("/images/")
        && rest != "json"
        && rest != "create"
        && rest != "load"
        && rest != "prune"
        && rest != "search"
        && rest != "get"
    {
        let (name, verb) = match rest.rsplit_once('/') {
            Some((n, v @ ("json" | "history" | "tag" | "push" | "get"))) => (n, v),
            _ => (rest, ""),
        };
        let name = decode(name);
        return match (&m, verb) {
            (&Method::GET, "json") => blocking(move || images::inspect(&svc, &name)).await,
            (&Method::GET, "history") => blocking(move || images::history(&svc, &name)).await,
            (&Method::POST, "tag") => blocking(move || images::tag(&svc, &name, &q)).await,
            (&Method::POST, "push") => images::push(svc, name, q, &req).await,
            (&Method::GET, "get") => image_archive::save(svc, vec![name]).await,
            (&Method::DELETE, "") => blocking(move || images::remove(&svc, &name, &q)).await,
            _ => Err(not_found(&m, &path)),
        };
    }
    let seg = segments(&path);
    let s: Vec<&str> = seg.iter().map(String::as_str).collect();
    match (&m, s.as_slice()) {
        (&Method::GET | &Method::HEAD, ["_ping"]) => system::ping(&m),
        (&Method::GET, ["version"]) => system::version(),
        (&Method::GET, ["info"]) => blocking(move || system::info(&svc)).await,
        (&Method::GET, ["events"]) => usage::events(svc, q).await,
        (&Method::GET, ["system", "df"]) => blocking(move || usage::system_df(&svc)).await,
        (&Method::POST, ["containers", "prune"]) => {
            blocking(move || usage::containers_prune(&svc, &q)).await
        }
        (&Method::POST, ["images", "prune"]) => {
            blocking(move || usage::images_prune(&svc, &q)).await
        }
        (&Method::GET, ["images", "json"]) => blocking(move || images::list(&svc, &q)).await,
        (&Method::POST, ["images", "create"]) => images::pull(svc, q, &req).await,
        (&Method::POST, ["build"]) => build::build(svc, q, req).await,
        (&Method::GET, ["images", "get"]) => {
            image_archive::save(svc, image_archive::names(&q)).await
        }
        (&Method::POST, ["images", "load"]) => image_archive::load_images(svc, req).await,
        (&Method::GET, ["containers", "json"]) => {
            blocking(move || containers::list(&svc, &q)).await
        }
        (&Method::POST, ["containers", "create"]) => containers::create(svc, q, req).await,
        (&Method::GET, ["containers", id, "json"]) => {
            let id = id.to_string();
            blocking(move || containers::inspect(&svc, &id)).await
        }
        (&Method::POST, ["containers", id, "start"]) => {
            let id = id.to_string();
            blocking(move || containers::start(&svc, &id)).await
        }
        (&Method::POST, ["containers", id, verb @ ("stop" | "restart" | "kill")]) => {
            let (id, verb) = (id.to_string(), verb.to_string());
            blocking(move || containers::stop_kill(&svc, &id, &verb, &q)).await
        }
        (&Method::POST, ["containers", id, "wait"]) => {
            containers::wait(svc, id.to_string(), q).await
        }
        (&Method::GET, ["containers", id, "logs"]) => {
            containers::logs(svc, id.to_string(), q).await
        }
        (&Method::POST, ["containers", id, "attach"]) => {
            attach::attach(svc, id.to_string(), q, req).await
        }
        (&Method::POST, ["containers", id, "resize"]) => {
            let id = id.to_string();
            blocking(move || containers::resize(&svc, &id, &q)).await
        }
        (&Method::HEAD | &Method::GET | &Method::PUT, ["containers", id, "archive"]) => {
            archive::archive(svc, id.to_string(), q, req).await
        }
        // pause/unpause, top, stats, changes, export, rename, update.
        (&Method::POST, ["containers", id, verb @ ("pause" | "unpause")]) => {
            let (id, verb) = (id.to_string(), verb.to_string());
            blocking(move || inspection::pause(&svc, &id, &verb)).await
        }
        (&Method::GET, ["containers", id, "top"]) => {
            let id = id.to_string();
            blocking(move || inspection::top(&svc, &id, &q)).await
        }
        (&Method::GET, ["containers", id, "stats"]) => stats::stats(svc, id.to_string(), q).await,
        (&Method::GET, ["containers", id, "changes"]) => {
            let id = id.to_string();
            blocking(move || inspection::changes(&svc, &id)).await
        }
        (&Method::GET, ["containers", id, "export"]) => {
            inspection::export(svc, id.to_string()).await
        }
        (&Method::POST, ["containers", id, "rename"]) => {
            let id = id.to_string();
            blocking(move || inspection::rename(&svc, &id, &q)).await
        }
        (&Method::POST, ["containers", id, "update"]) => {
            inspection::update(svc, id.to_string(), req).await
        }
        (&Method::POST, ["containers", id, "exec"]) => exec::create(svc, id.to_string(), req).await,
        (&Method::POST, ["exec", id, "start"]) => exec::start(svc, id.to_string(), req).await,
        (&Method::POST, ["exec", _id, "resize"]) => super::http::json_ok(&serde_json::json!({})),
        (&Method::GET, ["exec", id, "json"]) => {
            let id = id.to_string();
            blocking(move || exec::inspect(&svc, &id)).await
        }
        (&Method::DELETE, ["containers", id]) => {
            let id = id.to_string();
            blocking(move || containers::remove(&svc, &id, &q)).await
        }
        (&Method::GET, ["networks"]) => blocking(move || networks::list(&svc, &q)).await,
        (&Method::POST, ["networks", "create"]) => networks::create(svc, req).await,
        (&Method::POST, ["networks", "prune"]) => blocking(move || networks::prune(&svc, &q)).await,
        (&Method::GET, ["networks", id]) => {
            let id = id.to_string();
            blocking(move || networks::inspect(&svc, &id)).await
        }
        (&Method::POST, ["networks", id, "connect"]) => {
            networks::connect(svc, id.to_string(), req).await
        }
        (&Method::POST, ["networks", id, "disconnect"]) => {
            networks::disconnect(svc, id.to_string(), req).await
        }
        (&Method::DELETE, ["networks", id]) => {
            let id = id.to_string();
            blocking(move || networks::remove(&svc, &id)).await
        }
        (&Method::GET, ["volumes"]) => blocking(move || volumes::list(&svc, &q)).await,
        (&Method::POST, ["volumes", "create"]) => volumes::create(svc, req).await,
        (&Method::POST, ["volumes", "prune"]) => blocking(move || volumes::prune(&svc, &q)).await,
        (&Method::GET, ["volumes", name]) => {
            let name = name.to_string();
            blocking(move || volumes::inspect(&svc, &name)).await
        }
        (&Method::DELETE, ["volumes", name]) => {
            let name = name.to_string();
            blocking(move || volumes::remove(&svc, &name, &q)).await
        }
        _ => Err(not_found(&m, &path)),
    }
}

/// docker's answer to a path it does not serve.
fn not_found(m: &Method, path: &str) -> ApiError {
    let _ = m;
    ApiError::new(StatusCode::NOT_FOUND, format!("page not found: {path}"))
}
