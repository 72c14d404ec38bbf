//! The small documents a pull reads whole — manifests, indexes, configs —
//! fetched with hard bounds: a size limit enforced *while* the body
//! streams (a 2 GiB answer costs at most the limit in memory, never the
//! whole), `Content-Length` checked before the first byte, HTML answers
//! (a login page, a proxy's error page) refused by their content type, and
//! every attempt inside the request timeout (see [`crate::config`]).

use futures_util::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, Response};
use strata_oci::Digest;

use crate::client::{Access, FetchedManifest, MANIFEST_ACCEPT, MAX_MANIFEST, RegistryClient};
use crate::error::{RegistryError, Result};

/// Reads `resp`'s body, failing as soon as it exceeds `limit` bytes.
async fn read_limited(
    client: &RegistryClient,
    what: &str,
    resp: Response,
    limit: u64,
    too_big: impl Fn(String) -> RegistryError,
) -> Result<Vec<u8>> {
    if let Some(len) = resp.content_length()
        && len > limit
    {
        return Err(too_big(format!(
            "{len} bytes, more than the {limit} allowed"
        )));
    }
    let mut out = Vec::new();
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| client.connection_error(what, &e))?;
        if out.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_big(format!("more than the {limit} bytes allowed")));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

impl RegistryClient {
    /// GETs a manifest or index by tag or digest; its digest is checked
    /// against the reference (when it names one) and the registry's
    /// `Docker-Content-Digest`.
    pub async fn get_manifest(
        &self,
        repo: &str,
        tag_or_digest: &str,
        shown: &str,
    ) -> Result<FetchedManifest> {
        let what = format!("pull {shown}");
        let url = self.url(repo, &format!("manifests/{tag_or_digest}"))?;
        let accept = MANIFEST_ACCEPT.join(", ");
        let refused = |reason: String| RegistryError::Manifest {
            context: shown.to_string(),
            reason,
        };
        let (bytes, said, content_type) = self
            .retrying(&what, || async {
                let resp = self
                    .send(&what, repo, Access::Pull, false, |c| {
                        c.request(Method::GET, url.clone())
                            .header(ACCEPT, &accept)
                            .build()
                            .map_err(|e| self.connection_error(&what, &e))
                    })
                    .await?;
                if !resp.status().is_success() {
                    return Err(self.status_error(&what, Some(shown), resp).await);
                }
                let content_type = resp
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.split(';').next().unwrap_or(v).trim().to_ascii_lowercase())
                    .unwrap_or_default();
                if content_type.starts_with("text/") {
                    return Err(refused(format!(
                        "{} answered {content_type}, not a manifest (a login page or a proxy error?)",
                        self.domain()
                    )));
                }
                let said = resp
                    .headers()
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let bytes = read_limited(self, &what, resp, MAX_MANIFEST as u64, |m| {
                    refused(format!("the manifest is {m}"))
                })
                .await?;
                Ok((bytes, said, content_type))
            })
            .await?;
        let got = Digest::of(&bytes);
        if let Some(said) = said.filter(|s| s.starts_with("sha256:"))
            && said != got.as_str()
        {
            return Err(RegistryError::Protocol {
                what,
                registry: self.domain().to_string(),
                reason: format!(
                    "the registry says the manifest is {said}, its bytes hash to {got}"
                ),
            });
        }
        if let Some(want) = tag_or_digest.strip_prefix("sha256:")
            && want != got.hex()
        {
            return Err(RegistryError::DigestMismatch {
                what: "manifest",
                expected: Digest::from_hex(want).unwrap_or_else(|_| got.clone()),
                detail: format!("content hashes to {got}"),
            });
        }
        let declared = strata_oci::media::is_manifest(&content_type)
            || strata_oci::media::is_index(&content_type);
        let media_type =
            strata_oci::manifest::classify(&bytes, declared.then_some(content_type.as_str()))
                .map(|(_, mt)| mt)
                .map_err(|e| RegistryError::Manifest {
                    context: format!("{shown} ({got})"),
                    reason: e.to_string(),
                })?;
        Ok(FetchedManifest {
            bytes,
            digest: got,
            media_type,
        })
    }

    /// The digest of what the registry serves for `digest` (read to the
    /// end, at most `size` + 1 bytes; nothing kept). For diagnosing a layer
    /// that would not unpack.
    pub async fn blob_digest(&self, repo: &str, digest: &Digest, size: u64) -> Result<Digest> {
        let what = format!("download blob {digest}");
        self.timed(&what, async {
            let resp = self.blob_response(repo, digest, 0).await?;
            let mut d = strata_oci::Digester::new();
            let mut s = resp.bytes_stream();
            while let Some(chunk) = s.next().await {
                let chunk = chunk.map_err(|e| self.connection_error(&what, &e))?;
                d.update(&chunk);
                if d.len() > size {
                    break;
                }
            }
            Ok(d.finish())
        })
        .await
    }

    /// Reads a small blob (config) whole and checks its digest and size;
    /// more than `limit` bytes are refused as they arrive.
    pub async fn get_small_blob(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
        limit: u64,
    ) -> Result<Vec<u8>> {
        if size > limit {
            return Err(RegistryError::Invalid(format!(
                "blob {digest} is {size} bytes, more than the {limit} allowed for a config"
            )));
        }
        let what = format!("download blob {digest}");
        self.retrying(&what, || async {
            let resp = self.blob_response(repo, digest, 0).await?;
            // A config is `size` bytes: one byte more already is a mismatch.
            let out = read_limited(self, &what, resp, size, |m| RegistryError::DigestMismatch {
                what: "blob",
                expected: digest.clone(),
                detail: m,
            })
            .await?;
            let got = Digest::of(&out);
            if &got != digest || out.len() as u64 != size {
                return Err(RegistryError::DigestMismatch {
                    what: "blob",
                    expected: digest.clone(),
                    detail: format!(
                        "{} bytes hashing to {got} (expected {size} bytes)",
                        out.len()
                    ),
                });
            }
            Ok(out)
        })
        .await
    }
}
