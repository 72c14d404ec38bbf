//! The HTTP plumbing of the Engine API: bodies (whole or streamed from a
//! worker thread), docker's `{"message": …}` errors with its status codes,
//! query strings, and the API version prefix (`/v1.41/…`).

use std::collections::HashMap;
use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::{Response, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use strata_runtime::RuntimeError;
use strata_store::StoreError;
use tokio::sync::mpsc;

/// The newest and oldest API versions served (docker 20.10's), the
/// ones `version` reports.
pub use crate::commands::system::version::{API_VERSION, MIN_API_VERSION};

/// A response body.
pub type Body = BoxBody<Bytes, Infallible>;
/// A response.
pub type Resp = Response<Body>;

/// A failed request: docker's status code and message.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The `message` field.
    pub message: String,
}

impl ApiError {
    /// An error with this status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400.
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }

    /// 500.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The response docker sends.
    pub fn response(&self) -> Resp {
        json_status(self.status, &json!({ "message": self.message }))
    }
}

/// docker's status for a store error.
fn store_status(e: &StoreError) -> StatusCode {
    match e {
        StoreError::ImageNotFound(_)
        | StoreError::ContainerNotFound(_)
        | StoreError::BlobNotFound(_) => StatusCode::NOT_FOUND,
        StoreError::Conflict(_) => StatusCode::CONFLICT,
        StoreError::Invalid(_) | StoreError::Reference(_) | StoreError::AmbiguousImage(_) => {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// docker's status for a runtime error.
fn runtime_status(e: &RuntimeError) -> StatusCode {
    match e {
        RuntimeError::Store(s) => store_status(s),
        RuntimeError::NoSuchContainer(_) | RuntimeError::NoSuchNetwork(_) => StatusCode::NOT_FOUND,
        RuntimeError::NameInUse { .. }
        | RuntimeError::RemoveRunning { .. }
        | RuntimeError::NotRunning(_)
        | RuntimeError::Conflict(_)
        | RuntimeError::AlreadyRunning(_) => StatusCode::CONFLICT,
        RuntimeError::InvalidName(_)
        | RuntimeError::Invalid(_)
        | RuntimeError::AmbiguousContainer(_)
        | RuntimeError::IdOutOfRange
        | RuntimeError::NoCommand => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::new(store_status(&e), e.to_string())
    }
}

impl From<RuntimeError> for ApiError {
    fn from(e: RuntimeError) -> ApiError {
        ApiError::new(runtime_status(&e), e.to_string())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        let status = if let Some(s) = e.downcast_ref::<StoreError>() {
            store_status(s)
        } else if let Some(r) = e.downcast_ref::<RuntimeError>() {
            runtime_status(r)
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        ApiError::new(status, format!("{e:#}"))
    }
}

/// What a handler returns.
pub type ApiResult = Result<Resp, ApiError>;

/// A whole body.
pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

/// An empty body.
pub fn empty() -> Body {
    full(Bytes::new())
}

/// A JSON response with this status.
pub fn json_status(status: StatusCode, v: &impl Serialize) -> Resp {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// A 200 JSON response.
pub fn json_ok(v: &impl Serialize) -> ApiResult {
    Ok(json_status(StatusCode::OK, v))
}

/// A 200 response with no body.
pub fn ok_empty() -> ApiResult {
    Ok(Response::new(empty()))
}

/// A response with no body.
pub fn no_content() -> ApiResult {
    let mut r = Response::new(empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    Ok(r)
}

/// A body fed chunk by chunk through a channel (from a worker thread with
/// `blocking_send`); the body ends when every sender is dropped.
pub fn channel() -> (mpsc::Sender<Bytes>, Body) {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    (tx, StreamBody::new(stream).boxed())
}

/// A body of `first`, then what `rx` receives.
pub fn body_from(first: Bytes, rx: mpsc::UnboundedReceiver<Bytes>) -> Body {
    let head = futures_util::stream::once(async move { Ok::<_, Infallible>(Frame::data(first)) });
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    StreamBody::new(futures_util::StreamExt::chain(head, rest)).boxed()
}

/// A streamed response with this content type.
pub fn streamed(content_type: &'static str, body: Body) -> Resp {
    let mut r = Response::new(body);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    r
}

/// One JSON message of a progress stream (docker's `jsonmessage`), a line.
pub fn json_line(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.extend_from_slice(b"\r\n");
    Bytes::from(b)
}

/// The query string, decoded; repeated keys keep every value.
#[derive(Debug, Default)]
pub struct Query(HashMap<String, Vec<String>>);

impl Query {
    /// Parses `a=1&b=2&b=3`.
    pub fn parse(q: Option<&str>) -> Query {
        let mut m: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(q.unwrap_or("").as_bytes()) {
            m.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        Query(m)
    }

    /// The last value of `k`.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).and_then(|v| v.last()).map(String::as_str)
    }

    /// Every value of `k`.
    pub fn all(&self, k: &str) -> &[String] {
        self.0.get(k).map_or(&[], Vec::as_slice)
    }

    /// docker's boolean query values: absent, `""`, `0`, `false` are false.
    pub fn flag(&self, k: &str) -> bool {
        self.get(k)
            .is_some_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "" | "0" | "false" | "no"))
    }

    /// An integer (`None` when absent or empty; 400 when not a number).
    pub fn int(&self, k: &str) -> Result<Option<i64>, ApiError> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad(format!("invalid value for {k}: {v:?}"))),
        }
    }

    /// A JSON-encoded query value (`filters`, `buildargs`, `labels`).
    pub fn json(&self, k: &str) -> Result<Option<Value>, ApiError> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => serde_json::from_str(v)
                .map(Some)
                .map_err(|e| ApiError::bad(format!("invalid {k} parameter: {e}"))),
        }
    }

    /// docker's `filters` as `key=value` words (the form the CLI's
    /// `--filter` takes): both `{"k":["v"]}` and `{"k":{"v":true}}`.
    pub fn filters(&self) -> Result<Vec<String>, ApiError> {
        let Some(v) = self.json("filters")? else {
            return Ok(Vec::new());
        };
        let Some(map) = v.as_object() else {
            return Err(ApiError::bad("invalid filter: not an object"));
        };
        let mut out = Vec::new();
        for (k, vals) in map {
            match vals {
                Value::Array(a) => {
                    for x in a {
                        out.push(format!("{k}={}", x.as_str().unwrap_or_default()));
                    }
                }
                Value::Object(o) => {
                    for (x, on) in o {
                        if on.as_bool().unwrap_or(true) {
                            out.push(format!("{k}={x}"));
                        }
                    }
                }
                _ => return Err(ApiError::bad(format!("invalid filter '{k}'"))),
            }
        }
        Ok(out)
    }
}

/// Splits `/v1.41/containers/json` into the version (if any) and the
/// path; refuses versions outside what is served (docker's 400).
pub fn split_version(path: &str) -> Result<(Option<&str>, &str), ApiError> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok((None, path));
    };
    let (ver, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let Some(v) = parse_version(ver) else {
        return Ok((None, path));
    };
    if v > parse_version(API_VERSION).unwrap_or_default() {
        return Err(ApiError::bad(format!(
            "client version {ver} is too new. Maximum supported API version is {API_VERSION}"
        )));
    }
    if v < parse_version(MIN_API_VERSION).unwrap_or_default() {
        return Err(ApiError::bad(format!(
            "client version {ver} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
        )));
    }
    Ok((Some(ver), tail))
}

fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The path's segments after the leading `/` (percent-decoded).
pub fn segments(path: &str) -> Vec<String> {
    path.trim_matches('/').split('/').map(decode).collect()
}

/// Percent-decodes a path piece (`+` stays a plus).
pub fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A request body (a build context, an archive) written to an unnamed file
/// in `dir` (the store's scratch; gone when closed), rewound: a body of
/// any size costs disk, never the service's memory.
pub async fn spool(
    dir: &std::path::Path,
    mut body: hyper::body::Incoming,
) -> Result<std::fs::File, ApiError> {
    use std::io::Seek;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .mode(0o600)
        .open(dir)
        .map_err(|e| {
            ApiError::internal(format!("spool the request body in {}: {e}", dir.display()))
        })?;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::bad(format!("reading the request body: {e}")))?;
        if let Some(data) = frame.data_ref() {
            std::io::Write::write_all(&mut file, data)
                .map_err(|e| ApiError::internal(format!("spool the request body: {e}")))?;
        }
    }
    file.rewind()
        .map_err(|e| ApiError::internal(format!("spool the request body: {e}")))?;
    Ok(file)
}

/// The largest JSON request body read (a container create with every
/// option is a few KiB).
const MAX_JSON_BODY: usize = 16 << 20;

/// Reads a request's JSON body (an empty body reads as `{}`; one over
/// [`MAX_JSON_BODY`] is refused).
pub async fn read_json<T: serde::de::DeserializeOwned>(
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<T, ApiError> {
    let bytes = http_body_util::Limited::new(req.into_body(), MAX_JSON_BODY)
        .collect()
        .await
        .map_err(|e| ApiError::bad(format!("reading the request: {e}")))?
        .to_bytes();
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &bytes
    };
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad(format!("invalid JSON: {e}")))
}

/// A CLI function's error as an API error: docker's message without the
/// CLI's `Error response from daemon: ` prefix, status 400.
pub fn cli_bad(e: anyhow::Error) -> ApiError {
    let m = format!("{e:#}");
    ApiError::bad(
        m.trim_start_matches("Error response from daemon: ")
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_split_and_bound() {
        assert_eq!(
            split_version("/v1.41/containers/json").unwrap(),
            (Some("1.41"), "/containers/json")
        );
        assert_eq!(split_version("/_ping").unwrap(), (None, "/_ping"));
        assert_eq!(
            split_version("/v1.40/info").unwrap(),
            (Some("1.40"), "/info")
        );
        assert_eq!(
            split_version("/v9.99/info").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            split_version("/v1.5/info").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn filters_in_both_shapes() {
        let q = Query::parse(Some(
            "filters=%7B%22status%22%3A%5B%22exited%22%5D%2C%22name%22%3A%7B%22web%22%3Atrue%7D%7D",
        ));
        let mut f = q.filters().unwrap();
        f.sort();
        assert_eq!(f, vec!["name=web", "status=exited"]);
    }

    #[test]
    fn segments_decode() {
        assert_eq!(
            segments("/images/127.0.0.1%3A5000%2Fweb/json"),
            vec!["images", "127.0.0.1:5000/web", "json"]
        );
    }
}
