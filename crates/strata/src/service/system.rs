//! `/_ping`, `/version`, `/info`: the documents `strata version` and
//! `strata info` print, under the API's field names.

use hyper::header::HeaderValue;
use hyper::{Method, Response};

use super::Service;
use super::http::{API_VERSION, ApiResult, empty, full, json_ok};
use crate::commands::system::{info as info_cmd, version as version_cmd};

/// `GET|HEAD /_ping`: `OK`, with the headers a client negotiates from.
pub fn ping(m: &Method) -> ApiResult {
    let body = if m == Method::HEAD {
        empty()
    } else {
        full("OK")
    };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert("Api-Version", HeaderValue::from_static(API_VERSION));
    // The classic builder's `POST /build` (BuildKit's session is not served).
    h.insert("Builder-Version", HeaderValue::from_static("1"));
    h.insert(
        "Cache-Control",
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert("Pragma", HeaderValue::from_static("no-cache"));
    h.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(r)
}

/// `GET /version`: the Server part of `strata version`'s document.
pub fn version() -> ApiResult {
    let doc = version_cmd::document();
    json_ok(&doc["Server"])
}

/// `GET /info`: `strata info`'s document.
pub fn info(svc: &Service) -> ApiResult {
    let mut doc = info_cmd::info(&svc.ctx)?;
    if let Some(o) = doc.as_object_mut() {
        o.remove("ClientInfo");
    }
    json_ok(&doc)
}
