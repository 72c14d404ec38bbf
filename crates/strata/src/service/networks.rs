//! Network endpoints: list (filters), inspect, create, connect,
//! disconnect, delete, prune — over `strata_runtime::net::networks` and
//! the functions the CLI's `network` commands use.

use std::collections::BTreeMap;
use std::sync::Arc;

use bollard_stubs::models::{
    NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest,
    NetworkPruneResponse,
};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use strata_runtime::containers as rc;
use strata_runtime::net::inspect::network_json;
use strata_runtime::net::networks::{self, CreateNetwork, EndpointConfig, Network};
use strata_store::Store;

use super::Service;
use super::http::{
    ApiError, ApiResult, Query, cli_bad, json_ok, json_status, no_content, ok_empty, read_json,
};
use super::router::blocking;
use crate::commands::network::{connect, ls, prune};
use crate::commands::prune_filter::PruneFilter;

fn lookup(store: &Store, id: &str) -> Result<Network, ApiError> {
    Ok(networks::lookup(store, id)?)
}

fn json(store: &Store, net: &Network) -> serde_json::Value {
    let running = |id: &str| rc::get(store, id).ok().flatten().filter(|c| c.is_running());
    network_json(store, net, &running)
}

/// `GET /networks?filters=`.
pub fn list(svc: &Service, q: &Query) -> ApiResult {
    let store = svc.store()?;
    let nets = ls::select(store, &q.filters()?).map_err(cli_bad)?;
    let out: Vec<_> = nets.iter().map(|n| json(store, n)).collect();
    json_ok(&out)
}

/// `GET /networks/{id}`.
pub fn inspect(svc: &Service, id: &str) -> ApiResult {
    let store = svc.store()?;
    json_ok(&json(store, &lookup(store, id)?))
}

/// `POST /networks/create`.
pub async fn create(svc: Arc<Service>, req: Request<Incoming>) -> ApiResult {
    let body: NetworkCreateRequest = read_json(req).await?;
    blocking(move || {
        let store = svc.store()?;
        if body.name.is_empty() {
            return Err(ApiError::bad("network name must not be empty"));
        }
        if networks::list(store)?.iter().any(|n| n.name == body.name) {
            return Err(ApiError::conflict(format!(
                "network with name {} already exists",
                body.name
            )));
        }
        if body.enable_ipv6 == Some(true) {
            return Err(ApiError::bad(
                "strata networks are IPv4 only (EnableIPv6 is not supported)",
            ));
        }
        let ipam = body.ipam.unwrap_or_default();
        if let Some(d) = ipam
            .driver
            .as_deref()
            .filter(|d| !d.is_empty() && *d != "default")
        {
            return Err(ApiError::not_found(format!("plugin \"{d}\" not found")));
        }
        let (mut subnet, mut gateway, mut ip_range) = (Vec::new(), Vec::new(), Vec::new());
        for c in ipam.config.unwrap_or_default() {
            subnet.extend(c.subnet.filter(|s| !s.is_empty()));
            gateway.extend(c.gateway.filter(|s| !s.is_empty()));
            ip_range.extend(c.ip_range.filter(|s| !s.is_empty()));
        }
        let pairs = |m: Option<std::collections::HashMap<String, String>>| -> Vec<String> {
            let m: BTreeMap<_, _> = m.unwrap_or_default().into_iter().collect();
            m.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
        };
        let n = networks::create(
            store,
            &CreateNetwork {
                name: body.name,
                driver: body.driver.filter(|d| !d.is_empty()),
                subnet,
                gateway,
                ip_range,
                internal: body.internal.unwrap_or(false),
                labels: pairs(body.labels),
                options: pairs(body.options),
            },
        )?;
        let resp = NetworkCreateResponse {
            id: n.id,
            warning: String::new(),
        };
        Ok(json_status(StatusCode::CREATED, &resp))
    })
    .await
}

/// `POST /networks/{id}/connect`.
pub async fn connect(svc: Arc<Service>, id: String, req: Request<Incoming>) -> ApiResult {
    let body: NetworkConnectRequest = read_json(req).await?;
    blocking(move || {
        let store = svc.store()?;
        let net = lookup(store, &id)?;
        let c = rc::lookup(store, &body.container)?;
        let ep = body.endpoint_config.unwrap_or_default();
        let cfg = EndpointConfig {
            aliases: ep.aliases.unwrap_or_default(),
            ipv4: ep
                .ipam_config
                .and_then(|i| i.ipv4_address)
                .filter(|a| !a.is_empty()),
        };
        connect::connect_endpoint(store, &net, &c, cfg)?;
        ok_empty()
    })
    .await
}

/// `POST /networks/{id}/disconnect`.
pub async fn disconnect(svc: Arc<Service>, id: String, req: Request<Incoming>) -> ApiResult {
    let body: NetworkDisconnectRequest = read_json(req).await?;
    blocking(move || {
        let store = svc.store()?;
        let net = lookup(store, &id)?;
        let c = rc::lookup(store, &body.container)?;
        connect::disconnect_endpoint(store, &net, &c)?;
        ok_empty()
    })
    .await
}

/// `DELETE /networks/{id}`: 409 while a running container uses it.
pub fn remove(svc: &Service, id: &str) -> ApiResult {
    let store = svc.store()?;
    let net = lookup(store, id)?;
    if net.is_predefined() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "{} is a pre-defined network and cannot be removed",
                net.name
            ),
        ));
    }
    if networks::in_use(store, &net)? {
        return Err(ApiError::conflict(format!(
            "error while removing network: network {} id {} has active endpoints",
            net.name, net.id
        )));
    }
    networks::remove(store, &net)?;
    no_content()
}

/// `POST /networks/prune?filters=`.
pub fn prune(svc: &Service, q: &Query) -> ApiResult {
    let store = svc.store()?;
    let f = PruneFilter::parse_api(&q.filters()?).map_err(cli_bad)?;
    let names = prune::prune_names(store, &f).map_err(cli_bad)?;
    json_ok(&NetworkPruneResponse {
        networks_deleted: Some(names),
    })
}
