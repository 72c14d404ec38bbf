//! Registry helpers for the registry tests: the test registries' addresses,
//! unique repository names, a raw HTTP/1.1 client (to build what strata
//! cannot make, like a multi-arch index) and a fault-injecting proxy to put
//! in front of a real registry.
//!
//! The proxy ([`FaultProxy`]) listens on 127.0.0.1, serves each client
//! connection one request (answering `Connection: close`), forwards it to
//! the upstream registry and passes the answer back — except that blob
//! downloads (`GET /v2/<repo>/blobs/<digest>` answering 200 or 206 with a
//! body bigger than [`FaultProxy::MIN_BLOB`]) get the configured [`Fault`].

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// The htpasswd registry: (address, user, password), when scripts/test.sh
/// started one.
pub fn auth_registry() -> Option<(String, String, String)> {
    let get = |k: &str| std::env::var(k).ok().filter(|s| !s.is_empty());
    Some((
        get("STRATA_TEST_AUTH_REGISTRY")?,
        get("STRATA_TEST_AUTH_USER")?,
        get("STRATA_TEST_AUTH_PASSWORD")?,
    ))
}

/// The token-auth registry: (address, user, password), when scripts/test.sh
/// started one with its token server.
pub fn token_registry() -> Option<(String, String, String)> {
    let get = |k: &str| std::env::var(k).ok().filter(|s| !s.is_empty());
    Some((
        get("STRATA_TEST_TOKEN_REGISTRY")?,
        get("STRATA_TEST_TOKEN_USER")?,
        get("STRATA_TEST_TOKEN_PASSWORD")?,
    ))
}

/// A repository name no other test (or earlier run) uses.
pub fn unique_repo(name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "strata-it/{name}-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000
    )
}

/// An HTTP answer.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_head(r: &mut impl BufRead) -> std::io::Result<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l)? == 0 {
            break;
        }
        let l = l.trim_end_matches(['\r', '\n']).to_string();
        if l.is_empty() {
            break;
        }
        lines.push(l);
    }
    Ok(lines)
}

fn parse_headers(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// One plain-HTTP request (`Connection: close`); decodes a chunked body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write request");
    s.write_all(body).expect("write body");
    let mut r = BufReader::new(s);
    let head = read_head(&mut r).expect("read response head");
    let status = head
        .first()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad response from {addr}: {head:?}"));
    let headers = parse_headers(&head);
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).expect("chunk size");
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            let mut buf = vec![0; n + 2];
            r.read_exact(&mut buf).expect("chunk");
            body.extend_from_slice(&buf[..n]);
        }
    } else {
        r.read_to_end(&mut body).expect("read body");
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn path_of(location: &str) -> String {
    match location.split_once("://") {
        Some((_, rest)) => rest
            .find('/')
            .map_or("/".to_string(), |i| rest[i..].to_string()),
        None => location.to_string(),
    }
}

/// Uploads `data` to `repo` (POST + monolithic PUT); returns its digest.
pub fn upload_blob(addr: &str, repo: &str, data: &[u8]) -> String {
    let digest = format!("sha256:{}", super::sha256_hex(data));
    let start = http(
        addr,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        &[],
        b"",
    );
    assert_eq!(
        start.status,
        202,
        "start upload: {:?}",
        String::from_utf8_lossy(&start.body)
    );
    let loc = path_of(start.header("Location").expect("Location"));
    let sep = if loc.contains('?') { '&' } else { '?' };
    let put = http(
        addr,
        "PUT",
        &format!("{loc}{sep}digest={digest}"),
        &[("Content-Type", "application/octet-stream")],
        data,
    );
    assert_eq!(
        put.status,
        201,
        "upload: {}",
        String::from_utf8_lossy(&put.body)
    );
    digest
}

/// PUTs a manifest; returns its digest.
pub fn put_manifest(
    addr: &str,
    repo: &str,
    reference: &str,
    media_type: &str,
    bytes: &[u8],
) -> String {
    let r = http(
        addr,
        "PUT",
        &format!("/v2/{repo}/manifests/{reference}"),
        &[("Content-Type", media_type)],
        bytes,
    );
    assert_eq!(
        r.status,
        201,
        "put manifest: {}",
        String::from_utf8_lossy(&r.body)
    );
    format!("sha256:{}", super::sha256_hex(bytes))
}

/// GETs a manifest (any type): (bytes, content type).
pub fn get_manifest(addr: &str, repo: &str, reference: &str) -> (Vec<u8>, String) {
    let accept = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
    let r = http(
        addr,
        "GET",
        &format!("/v2/{repo}/manifests/{reference}"),
        &[("Accept", accept)],
        b"",
    );
    assert_eq!(
        r.status,
        200,
        "get manifest: {}",
        String::from_utf8_lossy(&r.body)
    );
    let ct = r.header("Content-Type").unwrap_or_default().to_string();
    (r.body, ct)
}

/// GETs a blob.
pub fn get_blob(addr: &str, repo: &str, digest: &str) -> Vec<u8> {
    let r = http(addr, "GET", &format!("/v2/{repo}/blobs/{digest}"), &[], b"");
    assert_eq!(r.status, 200, "get blob {digest}");
    r.body
}

/// What the proxy does to blob downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Nothing: a transparent proxy.
    None,
    /// Flip one byte in the middle of every blob body (same length).
    CorruptBlob,
    /// Close the connection halfway through the first `n` blob bodies.
    DropBlob(usize),
    /// Answer 503 to the first `n` requests of any kind.
    Unavailable(usize),
}

/// A fault-injecting proxy in front of a registry; stops when dropped.
pub struct FaultProxy {
    addr: String,
    stop: Arc<AtomicBool>,
    blob_gets: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Blob bodies at least this big get the fault (layers, not configs).
    pub const MIN_BLOB: usize = 4096;

    /// Starts a proxy to `upstream` (`127.0.0.1:5100`) on a free port.
    pub fn start(upstream: &str, fault: Fault) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("addr").to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let blob_gets = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (st, bg, rq) = (stop.clone(), blob_gets.clone(), requests.clone());
        let upstream = upstream.to_string();
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (up, bg, rq) = (upstream.clone(), bg.clone(), rq.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &up, fault, &bg, &rq);
                });
            }
        });
        FaultProxy {
            addr,
            stop,
            blob_gets,
            requests,
            accept: Some(accept),
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Blob downloads seen so far.
    pub fn blob_gets(&self) -> usize {
        self.blob_gets.load(Ordering::SeqCst)
    }

    /// Requests seen so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn serve(
    client: TcpStream,
    upstream: &str,
    fault: Fault,
    blob_gets: &AtomicUsize,
    requests: &AtomicUsize,
) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut cr = BufReader::new(client.try_clone()?);
    // Not HTTP (a TLS ClientHello probing for HTTPS): hang up at once.
    if !cr.fill_buf()?.first().is_some_and(u8::is_ascii_uppercase) {
        return Ok(());
    }
    let head = read_head(&mut cr)?;
    let Some(request_line) = head.first().cloned() else {
        return Ok(());
    };
    let n = requests.fetch_add(1, Ordering::SeqCst);
    let mut client = client;
    if let Fault::Unavailable(k) = fault
        && n < k
    {
        client.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    }
    let headers = parse_headers(&head);
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    cr.read_exact(&mut body)?;
    let mut up = TcpStream::connect(upstream)?;
    let mut req = format!("{request_line}\r\n");
    for (k, v) in &headers {
        if !k.eq_ignore_ascii_case("connection") {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    req.push_str("Connection: close\r\n\r\n");
    up.write_all(req.as_bytes())?;
    up.write_all(&body)?;
    let mut ur = BufReader::new(up);
    let rhead = read_head(&mut ur)?;
    let status = rhead
        .first()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("");
    let rheaders = parse_headers(&rhead);
    let rlen: Option<usize> = rheaders
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok());
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let is_blob = method == "GET"
        && path.contains("/blobs/sha256:")
        && (status == "200" || status == "206")
        && rlen.is_some_and(|l| l >= FaultProxy::MIN_BLOB);
    let mut out = format!("{}\r\n", rhead[0]);
    for (k, v) in &rheaders {
        if !k.eq_ignore_ascii_case("connection") {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    client.write_all(out.as_bytes())?;
    let mut rest = Vec::new();
    ur.read_to_end(&mut rest)?;
    if is_blob {
        let k = blob_gets.fetch_add(1, Ordering::SeqCst);
        match fault {
            Fault::CorruptBlob => {
                let mid = rest.len() / 2;
                rest[mid] ^= 0xff;
            }
            Fault::DropBlob(n) if k < n => {
                client.write_all(&rest[..rest.len() / 2])?;
                client.flush()?;
                let _ = client.shutdown(Shutdown::Both);
                return Ok(());
            }
            _ => {}
        }
    }
    client.write_all(&rest)?;
    client.flush()?;
    let _ = client.shutdown(Shutdown::Write);
    Ok(())
}
