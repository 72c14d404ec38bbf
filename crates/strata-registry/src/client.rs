//! One registry's client: TLS policy, credentials, auth, retries and error
//! mapping for every request strata makes.
//!
//! Two HTTP paths share one auth state:
//!
//! * [`oci_client::Client`] negotiates auth (the `/v2/` challenge, Bearer
//!   token requests with our credentials, basic fallback) and handles the
//!   small JSON documents: manifest GET (with its digest checks against the
//!   reference and `Docker-Content-Digest`), manifest PUT and tag listing.
//! * Blob transfer goes over [`reqwest`] directly ([`RegistryClient::send`]),
//!   reusing the token oci-client obtained. oci-client's blob API does not fit:
//!   its streams cannot resume a broken download with a `Range` request, its
//!   uploads read from memory or restart from byte 0 (no resumable chunked
//!   upload from a file), and its `mount_blob` treats the spec's `202`
//!   answer (mount refused, here is an upload session) as an error and
//!   drops the session.
//!
//! Retries: connection errors, 5xx and 429 are retried with exponential
//! backoff ([`crate::RetryPolicy`]); a 401 with a cached token re-negotiates
//! once. Requests to a host other than the registry's (a CDN redirect, an
//! upload `Location` elsewhere) never carry our credentials.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use oci_client::RegistryOperation;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciEnvelope, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, Request, Response, StatusCode};
use strata_oci::media;
use strata_oci::{Digest, Reference};
use url::Url;

use crate::auth::{Credentials, DockerConfig, default_config_path};
use crate::challenge;
use crate::config::{RegistryOptions, RetryPolicy};
use crate::error::{RegistryError, Result, chain};
use crate::host::{endpoint_host, login_hint};

/// strata's User-Agent.
pub const USER_AGENT: &str = concat!("strata/", env!("CARGO_PKG_VERSION"));

/// Every manifest type strata accepts, for `Accept`.
pub const MANIFEST_ACCEPT: &[&str] = &[
    media::OCI_INDEX,
    media::DOCKER_MANIFEST_LIST,
    media::OCI_MANIFEST,
    media::DOCKER_MANIFEST,
];

/// Largest manifest accepted (docker's limit is 4 MiB), enforced while it
/// streams in.
pub const MAX_MANIFEST: usize = strata_oci::manifest::MAX_MANIFEST_SIZE as usize;

/// Least bytes a blob transfer must move per idle timeout.
pub const MIN_PROGRESS: u64 = 1024;

/// Pull or push access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Read.
    Pull,
    /// Read and write.
    Push,
}

impl Access {
    fn op(self) -> RegistryOperation {
        match self {
            Access::Pull => RegistryOperation::Pull,
            Access::Push => RegistryOperation::Push,
        }
    }
}

/// A manifest as fetched.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The raw bytes (their digest is the manifest's identity).
    pub bytes: Vec<u8>,
    /// Their digest (verified).
    pub digest: Digest,
    /// The media type (from the document, else its shape).
    pub media_type: String,
}

/// A client for one registry.
pub struct RegistryClient {
    domain: String,
    host: String,
    base: Url,
    oci: oci_client::Client,
    http: reqwest::Client,
    creds: Option<Credentials>,
    oci_auth: RegistryAuth,
    retry: RetryPolicy,
    request_timeout: Duration,
    idle_timeout: Duration,
    auth_cache: tokio::sync::Mutex<HashMap<(String, Access), Option<HeaderValue>>>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("domain", &self.domain)
            .field("base", &self.base.as_str())
            .field("creds", &self.creds)
            .finish()
    }
}

/// Decides `https` or `http` for an insecure registry: HTTPS (certificate
/// not verified) when something answers TLS there, plain HTTP otherwise.
async fn probe_scheme(host: &str, opts: &RegistryOptions) -> &'static str {
    let Ok(c) = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .connect_timeout(opts.connect_timeout.min(Duration::from_secs(5)))
        .timeout(opts.request_timeout.min(Duration::from_secs(10)))
        .user_agent(USER_AGENT)
        .build()
    else {
        return "http";
    };
    match c.get(format!("https://{host}/v2/")).send().await {
        Ok(_) => "https",
        Err(e) => {
            tracing::debug!("{host}: no TLS ({}); using plain HTTP", chain(&e));
            "http"
        }
    }
}

impl RegistryClient {
    /// A client for `domain` with the credentials docker's config holds.
    pub async fn connect(domain: &str, opts: &RegistryOptions) -> Result<RegistryClient> {
        let path = opts
            .docker_config
            .clone()
            .unwrap_or_else(default_config_path);
        let d = domain.to_string();
        let looked_up = tokio::task::spawn_blocking(move || DockerConfig::load(&path)?.lookup(&d))
            .await
            .map_err(|e| RegistryError::Credentials(e.to_string()))?;
        // A broken helper or config must not stop anonymous access.
        let creds = looked_up.unwrap_or_else(|e| {
            tracing::warn!("{domain}: {e}; continuing without credentials");
            None
        });
        Self::with_credentials(domain, creds, opts).await
    }

    /// A client for `domain` with explicit credentials (`strata login`).
    pub async fn with_credentials(
        domain: &str,
        creds: Option<Credentials>,
        opts: &RegistryOptions,
    ) -> Result<RegistryClient> {
        let host = endpoint_host(domain).to_string();
        let insecure = opts.insecure.allows(domain);
        let scheme = if insecure {
            probe_scheme(&host, opts).await
        } else {
            "https"
        };
        let base = Url::parse(&format!("{scheme}://{host}/"))
            .map_err(|e| RegistryError::Invalid(format!("registry {domain}: invalid host: {e}")))?;
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(opts.connect_timeout)
            .read_timeout(opts.read_timeout)
            .danger_accept_invalid_certs(insecure)
            .pool_max_idle_per_host(8)
            .build()
            .map_err(|e| RegistryError::Invalid(format!("HTTP client: {}", chain(&e))))?;
        let config = ClientConfig {
            protocol: if scheme == "http" {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            accept_invalid_certificates: insecure,
            platform_resolver: None,
            read_timeout: Some(opts.read_timeout),
            connect_timeout: Some(opts.connect_timeout),
            user_agent: USER_AGENT,
            ..ClientConfig::default()
        };
        let oci = oci_client::Client::try_from(config)
            .map_err(|e| RegistryError::Invalid(format!("registry client: {}", chain(&e))))?;
        let oci_auth = match &creds {
            None => RegistryAuth::Anonymous,
            Some(Credentials::Basic { username, password }) => {
                RegistryAuth::Basic(username.clone(), password.clone())
            }
            Some(Credentials::Bearer(t)) => RegistryAuth::Bearer(t.clone()),
        };
        Ok(RegistryClient {
            domain: domain.to_string(),
            host,
            base,
            oci,
            http,
            creds,
            oci_auth,
            retry: opts.retry,
            request_timeout: opts.request_timeout,
            idle_timeout: opts.read_timeout,
            auth_cache: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    /// The reference domain (`docker.io`, `127.0.0.1:5000`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// `scheme://host/`.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// True when credentials are configured.
    pub fn has_credentials(&self) -> bool {
        self.creds.is_some()
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// The overall timeout of one request (not of a blob body).
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// The idle timeout: the longest silence on a connection, and the
    /// window in which a blob transfer must move at least
    /// [`MIN_PROGRESS`] bytes.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// The error for a request that got no complete answer in time.
    pub fn timeout_error(&self, what: &str, after: Duration) -> RegistryError {
        RegistryError::Connection {
            what: what.to_string(),
            registry: self.domain.clone(),
            reason: format!("no complete answer within {after:?} (timed out)"),
        }
    }

    /// Runs `fut`, failing with [`RegistryClient::timeout_error`] when it
    /// takes longer than the request timeout.
    pub async fn timed<T>(&self, what: &str, fut: impl Future<Output = Result<T>>) -> Result<T> {
        match tokio::time::timeout(self.request_timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(self.timeout_error(what, self.request_timeout)),
        }
    }

    pub(crate) fn oci_ref(&self, repo: &str, tag_or_digest: &str) -> oci_client::Reference {
        if tag_or_digest.contains(':') {
            oci_client::Reference::with_digest(
                self.host.clone(),
                repo.to_string(),
                tag_or_digest.to_string(),
            )
        } else {
            oci_client::Reference::with_tag(
                self.host.clone(),
                repo.to_string(),
                tag_or_digest.to_string(),
            )
        }
    }

    /// `https://host/v2/<repo>/<rest>`.
    pub fn url(&self, repo: &str, rest: &str) -> Result<Url> {
        self.base
            .join(&format!("v2/{repo}/{rest}"))
            .map_err(|e| RegistryError::Invalid(format!("{repo}: bad URL: {e}")))
    }

    pub(crate) fn unauthorized(&self, what: &str, reason: impl Into<String>) -> RegistryError {
        RegistryError::Unauthorized {
            what: what.to_string(),
            reason: reason.into(),
            login: login_hint(&self.domain),
        }
    }

    /// Runs `f` until it succeeds, fails for good, or retries run out.
    pub async fn retrying<T, F, Fut>(&self, what: &str, mut f: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.timed(what, f()).await {
                Err(e) if e.is_transient() && attempt < self.retry.attempts => {
                    let d = self.retry.delay(attempt);
                    // The error names the operation already.
                    tracing::warn!("{e}; retrying in {d:?}");
                    tokio::time::sleep(d).await;
                }
                Err(e) if attempt > 1 => return Err(e.after_attempts(attempt)),
                r => return r,
            }
        }
    }

    /// The `Authorization` header for `repo`, negotiated once per access
    /// kind through oci-client (challenge, token request, basic fallback).
    pub async fn authorization(&self, repo: &str, access: Access) -> Result<Option<HeaderValue>> {
        let key = (repo.to_string(), access);
        if let Some(h) = self.auth_cache.lock().await.get(&key) {
            return Ok(h.clone());
        }
        let what = format!("{} access to {}/{repo}", op_word(access), self.domain);
        let oref = self.oci_ref(repo, "latest");
        let token = self
            .retrying(&what, || async {
                self.oci
                    .auth(&oref, &self.oci_auth, access.op())
                    .await
                    .map_err(|e| self.map_oci(&what, None, e))
            })
            .await?;
        let header = match (token, &self.creds) {
            (Some(t), _) => Some(header_value(&format!("Bearer {t}"))?),
            (None, Some(Credentials::Basic { username, password })) => {
                use base64::Engine as _;
                let raw = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{password}"));
                Some(header_value(&format!("Basic {raw}"))?)
            }
            (None, Some(Credentials::Bearer(t))) => Some(header_value(&format!("Bearer {t}"))?),
            (None, None) => None,
        };
        self.auth_cache.lock().await.insert(key, header.clone());
        Ok(header)
    }

    async fn forget_authorization(&self, repo: &str, access: Access) {
        self.auth_cache
            .lock()
            .await
            .remove(&(repo.to_string(), access));
    }

    fn same_origin(&self, url: &Url) -> bool {
        url.scheme() == self.base.scheme()
            && url.host_str() == self.base.host_str()
            && url.port_or_known_default() == self.base.port_or_known_default()
    }

    /// Sends a request built by `build` (called again for each attempt),
    /// with auth for `repo`. With `retry`, connection errors, 5xx and 429
    /// are retried; a 401 re-negotiates auth once either way.
    pub async fn send(
        &self,
        what: &str,
        repo: &str,
        access: Access,
        retry: bool,
        mut build: impl FnMut(&reqwest::Client) -> Result<Request>,
    ) -> Result<Response> {
        let mut attempt = 0;
        let mut renegotiated = false;
        let mut scoped: Option<HeaderValue> = None;
        loop {
            attempt += 1;
            let mut req = build(&self.http)?;
            let auth = if !self.same_origin(req.url()) {
                None
            } else if scoped.is_some() {
                scoped.clone()
            } else {
                self.authorization(repo, access).await?
            };
            if let Some(h) = &auth {
                req.headers_mut().insert(AUTHORIZATION, h.clone());
            }
            let can_retry = retry && attempt < self.retry.attempts;
            // Headers within the request timeout; a streamed body (an
            // upload) may take as long as it keeps moving.
            let streamed = req.body().is_some_and(|b| b.as_bytes().is_none());
            let sent = if streamed {
                Ok(self.http.execute(req).await)
            } else {
                tokio::time::timeout(self.request_timeout, self.http.execute(req)).await
            };
            let sent = match sent {
                Ok(r) => r,
                Err(_) if can_retry => {
                    let d = self.retry.delay(attempt);
                    tracing::warn!(
                        "{what}: no answer within {:?}; retrying in {d:?}",
                        self.request_timeout
                    );
                    tokio::time::sleep(d).await;
                    continue;
                }
                Err(_) => {
                    let e = self.timeout_error(what, self.request_timeout);
                    return Err(if attempt > 1 {
                        e.after_attempts(attempt)
                    } else {
                        e
                    });
                }
            };
            match sent {
                Ok(resp) => {
                    let s = resp.status();
                    if s == StatusCode::UNAUTHORIZED && scoped.is_none() {
                        // A token for exactly the scope the registry names.
                        if let Some(ch) = challenge::insufficient_scope(&resp)
                            && let Ok(Some(t)) = tokio::time::timeout(
                                self.request_timeout,
                                challenge::fetch_token(
                                    &self.http,
                                    &ch,
                                    self.creds.as_ref(),
                                    &self.host,
                                ),
                            )
                            .await
                        {
                            scoped = Some(header_value(&format!("Bearer {t}"))?);
                            continue;
                        }
                    }
                    if s == StatusCode::UNAUTHORIZED && auth.is_some() && !renegotiated {
                        renegotiated = true;
                        self.forget_authorization(repo, access).await;
                        continue;
                    }
                    if can_retry && (s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS) {
                        let d = self.retry.delay(attempt);
                        tracing::warn!("{what}: HTTP {s}; retrying in {d:?}");
                        tokio::time::sleep(d).await;
                        continue;
                    }
                    return Ok(resp);
                }
                Err(e) if can_retry => {
                    let d = self.retry.delay(attempt);
                    tracing::warn!("{what}: {}; retrying in {d:?}", chain(&e));
                    tokio::time::sleep(d).await;
                }
                Err(e) => {
                    let e = self.connection_error(what, &e);
                    return Err(if attempt > 1 {
                        e.after_attempts(attempt)
                    } else {
                        e
                    });
                }
            }
        }
    }

    /// The error for a transport failure.
    pub fn connection_error(&self, what: &str, e: &reqwest::Error) -> RegistryError {
        RegistryError::Connection {
            what: what.to_string(),
            registry: self.domain.clone(),
            reason: chain(e),
        }
    }

    /// The error for an unexpected response (reads its error envelope).
    pub async fn status_error(
        &self,
        what: &str,
        reference: Option<&str>,
        resp: Response,
    ) -> RegistryError {
        let status = resp.status();
        let body = resp.bytes().await.unwrap_or_default();
        let body = &body[..body.len().min(64 << 10)];
        let (code, message) = match serde_json::from_slice::<OciEnvelope>(body) {
            Ok(env) if !env.errors.is_empty() => {
                let msgs: Vec<String> = env
                    .errors
                    .iter()
                    .map(|e| {
                        let c = serde_json::to_value(&e.code)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_lowercase))
                            .unwrap_or_default()
                            .replace('_', " ");
                        if e.message.is_empty() || e.message.eq_ignore_ascii_case(&c) {
                            c
                        } else {
                            format!("{c}: {}", e.message)
                        }
                    })
                    .collect();
                (
                    env.errors.into_iter().next().map(|e| e.code),
                    msgs.join("; "),
                )
            }
            _ => (None, String::from_utf8_lossy(body).trim().to_string()),
        };
        self.classify(what, reference, status.as_u16(), code, message)
    }

    fn classify(
        &self,
        what: &str,
        reference: Option<&str>,
        status: u16,
        code: Option<OciErrorCode>,
        message: String,
    ) -> RegistryError {
        let message = if message.is_empty() && status == 401 {
            "authentication required".to_string()
        } else if message.is_empty() {
            StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("error")
                .to_lowercase()
        } else {
            message
        };
        let message = ["unauthorized: ", "denied: "]
            .iter()
            .find_map(|p| message.strip_prefix(p))
            .map(str::to_string)
            .unwrap_or(message);
        match (status, &code) {
            (401, _) | (_, Some(OciErrorCode::Unauthorized)) => {
                let reason = if self.creds.is_some() {
                    format!("{message} (the stored credentials were rejected)")
                } else {
                    message
                };
                self.unauthorized(what, reason)
            }
            (403, _) | (_, Some(OciErrorCode::Denied)) => RegistryError::Forbidden {
                what: what.to_string(),
                reason: message,
            },
            (404, _) | (_, Some(OciErrorCode::ManifestUnknown)) if reference.is_some() => {
                RegistryError::ManifestUnknown {
                    reference: reference.unwrap_or_default().to_string(),
                    registry: self.domain.clone(),
                }
            }
            (404, _) => RegistryError::NotFound {
                what: what.to_string(),
                registry: self.domain.clone(),
                reason: message,
            },
            _ => RegistryError::Status {
                what: what.to_string(),
                registry: self.domain.clone(),
                status,
                message,
            },
        }
    }

    /// Maps an oci-client error.
    fn map_oci(
        &self,
        what: &str,
        reference: Option<&str>,
        e: OciDistributionError,
    ) -> RegistryError {
        match e {
            OciDistributionError::UnauthorizedError { .. } => {
                self.classify(what, reference, 401, None, "authentication required".into())
            }
            OciDistributionError::AuthenticationFailure(m) => {
                let m = m.trim();
                let reason = if m.is_empty() {
                    "the token server refused the credentials".to_string()
                } else {
                    format!("the token server refused the credentials: {m}")
                };
                self.unauthorized(what, reason)
            }
            OciDistributionError::RegistryError { envelope, .. } => {
                let status = match envelope.errors.first().map(|e| &e.code) {
                    Some(OciErrorCode::ManifestUnknown)
                    | Some(OciErrorCode::NameUnknown)
                    | Some(OciErrorCode::BlobUnknown)
                    | Some(OciErrorCode::NotFound) => 404,
                    Some(OciErrorCode::Unauthorized) => 401,
                    Some(OciErrorCode::Denied) => 403,
                    Some(OciErrorCode::Toomanyrequests) => 429,
                    _ => 400,
                };
                let msg = envelope
                    .errors
                    .iter()
                    .map(|e| e.message.clone())
                    .collect::<Vec<_>>()
                    .join("; ");
                let code = envelope.errors.into_iter().next().map(|e| e.code);
                self.classify(what, reference, status, code, msg)
            }
            OciDistributionError::ServerError { code, message, .. } => {
                self.classify(what, reference, code, None, message.trim().to_string())
            }
            OciDistributionError::RequestError(e) => match e.status() {
                Some(s) => self.classify(what, reference, s.as_u16(), None, String::new()),
                None => self.connection_error(what, &e),
            },
            OciDistributionError::DigestError(d) => RegistryError::Protocol {
                what: what.to_string(),
                registry: self.domain.clone(),
                reason: format!("digest check failed: {}", chain(&d)),
            },
            other => RegistryError::Protocol {
                what: what.to_string(),
                registry: self.domain.clone(),
                reason: chain(&other),
            },
        }
    }

    /// PUTs a manifest under a tag or its digest; returns its digest.
    pub async fn put_manifest(
        &self,
        repo: &str,
        tag_or_digest: &str,
        bytes: &[u8],
        media_type: &str,
        shown: &str,
    ) -> Result<Digest> {
        let what = format!("push {shown}");
        self.authorization(repo, Access::Push).await?;
        let oref = self.oci_ref(repo, tag_or_digest);
        let ct = header_value(media_type)?;
        let body = bytes::Bytes::copy_from_slice(bytes);
        self.retrying(&what, || async {
            self.oci
                .push_manifest_raw(&oref, body.clone(), ct.clone())
                .await
                .map_err(|e| self.map_oci(&what, None, e))
        })
        .await?;
        Ok(Digest::of(bytes))
    }

    /// Every tag of `repo`, following pagination.
    pub async fn list_tags(&self, repo: &str) -> Result<Vec<String>> {
        const PAGE: usize = 1000;
        let what = format!("list tags of {}/{repo}", self.domain);
        self.authorization(repo, Access::Pull).await?;
        let oref = self.oci_ref(repo, "latest");
        let mut out: Vec<String> = Vec::new();
        loop {
            let last = out.last().cloned();
            let page = self
                .retrying(&what, || async {
                    self.oci
                        .list_tags(&oref, &self.oci_auth, Some(PAGE), last.as_deref())
                        .await
                        .map_err(|e| self.map_oci(&what, None, e))
                })
                .await?;
            let n = page.tags.len();
            let fresh: Vec<String> = page.tags.into_iter().filter(|t| !out.contains(t)).collect();
            let progressed = !fresh.is_empty();
            out.extend(fresh);
            if n < PAGE || !progressed {
                break;
            }
        }
        Ok(out)
    }

    /// HEADs a blob: its size when the repository has it.
    pub async fn blob_exists(&self, repo: &str, digest: &Digest) -> Result<Option<u64>> {
        let what = format!("check blob {digest} in {}/{repo}", self.domain);
        let url = self.url(repo, &format!("blobs/{digest}"))?;
        let resp = self
            .send(&what, repo, Access::Pull, true, |c| {
                c.request(Method::HEAD, url.clone())
                    .build()
                    .map_err(|e| self.connection_error(&what, &e))
            })
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(Some(resp.content_length().unwrap_or(0))),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.status_error(&what, None, resp).await),
        }
    }

    /// GETs a blob from byte `offset` on (a `Range` request when > 0).
    /// The caller checks the status (200, or 206 for a range).
    pub async fn blob_response(
        &self,
        repo: &str,
        digest: &Digest,
        offset: u64,
    ) -> Result<Response> {
        let what = format!("download blob {digest}");
        let url = self.url(repo, &format!("blobs/{digest}"))?;
        let resp = self
            .send(&what, repo, Access::Pull, true, |c| {
                let mut rb = c.get(url.clone());
                if offset > 0 {
                    rb = rb.header(reqwest::header::RANGE, format!("bytes={offset}-"));
                }
                rb.build().map_err(|e| self.connection_error(&what, &e))
            })
            .await?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(self.status_error(&what, None, resp).await)
        }
    }

    /// Whether the credentials work: a `/v2/` request with them, after a
    /// token exchange when the registry asks for one.
    pub async fn check_login(&self) -> Result<()> {
        let what = format!("login to {}", self.domain);
        let checked = async {
            let url = self
                .base
                .join("v2/")
                .map_err(|e| RegistryError::Invalid(e.to_string()))?;
            // Any repository name gives oci-client the challenge; the token
            // request it makes proves the credentials on token registries.
            let resp = self
                .send(&what, "strata/login-check", Access::Pull, true, |c| {
                    c.get(url.clone())
                        .build()
                        .map_err(|e| self.connection_error(&what, &e))
                })
                .await?;
            if resp.status().is_success() {
                Ok(())
            } else {
                Err(self.status_error(&what, None, resp).await)
            }
        };
        match checked.await {
            Err(RegistryError::Unauthorized { login, .. }) => Err(RegistryError::Unauthorized {
                what,
                reason: "incorrect username or password".into(),
                login,
            }),
            r => r,
        }
    }
}

fn op_word(a: Access) -> &'static str {
    match a {
        Access::Pull => "pull",
        Access::Push => "push",
    }
}

fn header_value(s: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(s)
        .map_err(|_| RegistryError::Invalid("credentials contain invalid characters".into()))
}

/// Connects to the registry of `reference`.
pub async fn connect_for(reference: &Reference, opts: &RegistryOptions) -> Result<RegistryClient> {
    RegistryClient::connect(reference.domain(), opts).await
}
