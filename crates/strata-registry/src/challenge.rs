//! Bearer challenges that name a scope, and the token request for them.
//!
//! oci-client negotiates one token per repository. Some requests need more:
//! a cross-repository mount needs `pull` on the source repository too, and
//! a token registry answers it with
//!
//! ```text
//! 401  WWW-Authenticate: Bearer realm="https://auth.example/token",service="registry",
//!                        scope="repository:app:pull,push repository:base:pull",error="insufficient_scope"
//! ```
//! [`RegistryClient::send`](crate::client::RegistryClient::send) then asks the
//! realm for a token with exactly those scopes (docker's token spec:
//! `GET realm?service=…&scope=…&scope=…`, basic auth with our credentials)
//! and retries once with it.

use reqwest::header::WWW_AUTHENTICATE;
use url::Url;

use crate::auth::Credentials;
use crate::host::is_loopback;

/// A parsed `Bearer` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The token endpoint.
    pub realm: String,
    /// The service to name.
    pub service: Option<String>,
    /// Space-separated scopes the registry wants.
    pub scope: Option<String>,
    /// `insufficient_scope`, `invalid_token`…
    pub error: Option<String>,
}

/// Parses `Bearer k="v",k2=v2` (quoted strings with `\` escapes).
pub fn parse_bearer(header: &str) -> Option<Challenge> {
    let h = header.trim();
    let (scheme, rest) = h.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params: Vec<(String, String)> = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() {
            break;
        }
        if chars.next() != Some('=') {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect();
        }
        params.push((key.trim().to_ascii_lowercase(), value));
    }
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    Some(Challenge {
        realm: get("realm")?,
        service: get("service"),
        scope: get("scope"),
        error: get("error"),
    })
}

/// The challenge of a 401 answer, when it asks for more scope.
pub fn insufficient_scope(resp: &reqwest::Response) -> Option<Challenge> {
    resp.headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(parse_bearer)
        .find(|c| c.scope.is_some() && c.error.as_deref() == Some("insufficient_scope"))
}

/// Asks the challenge's realm for a token; `None` when it will not give one.
/// Credentials go only to an HTTPS realm or one on the registry's own host
/// or a loopback host.
pub async fn fetch_token(
    http: &reqwest::Client,
    ch: &Challenge,
    creds: Option<&Credentials>,
    registry_host: &str,
) -> Option<String> {
    let mut url = Url::parse(&ch.realm).ok()?;
    {
        let mut q = url.query_pairs_mut();
        if let Some(s) = &ch.service {
            q.append_pair("service", s);
        }
        for s in ch
            .scope
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
        {
            q.append_pair("scope", s);
        }
    }
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => return None,
    };
    let trusted = url.scheme() == "https" || host == registry_host || is_loopback(&host);
    let mut rb = http.get(url);
    if let (Some(Credentials::Basic { username, password }), true) = (creds, trusted) {
        rb = rb.basic_auth(username, Some(password));
    }
    let resp = rb.send().await.ok()?;
    if !resp.status().is_success() {
        tracing::debug!(
            "token request for {:?} refused: HTTP {}",
            ch.scope,
            resp.status()
        );
        return None;
    }
    #[derive(serde::Deserialize)]
    struct Token {
        token: Option<String>,
        access_token: Option<String>,
    }
    let t: Token = resp.json().await.ok()?;
    t.token.or(t.access_token).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_distribution_challenges() {
        let c = parse_bearer(
            r#"Bearer realm="http://127.0.0.1:5103/token",service="strata-test-registry",scope="repository:a:pull,push repository:b:pull",error="insufficient_scope""#,
        )
        .unwrap();
        assert_eq!(c.realm, "http://127.0.0.1:5103/token");
        assert_eq!(c.service.as_deref(), Some("strata-test-registry"));
        assert_eq!(
            c.scope.as_deref(),
            Some("repository:a:pull,push repository:b:pull")
        );
        assert_eq!(c.error.as_deref(), Some("insufficient_scope"));
        let q = parse_bearer(r#"bearer realm="x\"y",service=plain"#).unwrap();
        assert_eq!(q.realm, "x\"y");
        assert_eq!(q.service.as_deref(), Some("plain"));
        assert!(parse_bearer(r#"Basic realm="strata-test""#).is_none());
        assert!(parse_bearer("Bearer service=\"no-realm\"").is_none());
    }
}
