//! Attaching to containers: the service keeps the supervisor socket of
//! every container it starts and relays its frames (stdout, stderr, the
//! exit) to the clients attached (`POST /containers/{id}/attach`, a
//! hijacked connection, docker's stream framing without a TTY), and its
//! exit code to `wait` — also after `--rm` removed the record. Stdin and
//! terminal sizes go the other way as frames. A container started by
//! someone else (the CLI) is followed through its log instead.

use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use strata_runtime::attach::Frame;
use strata_runtime::client_linux::Supervised;
use strata_store::cancel::Cancel;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use super::Service;
use super::http::{ApiError, ApiResult, Body, Query, Resp, channel, empty, streamed};
use http_body_util::BodyExt;

/// docker's stream framing: `[stream, 0, 0, 0, len (BE u32)]` + payload.
pub fn frame(stream: u8, data: &[u8]) -> Bytes {
    let mut b = Vec::with_capacity(8 + data.len());
    b.push(stream);
    b.extend_from_slice(&[0, 0, 0]);
    b.extend_from_slice(&(data.len() as u32).to_be_bytes());
    b.extend_from_slice(data);
    Bytes::from(b)
}

/// An attached client.
struct Sink {
    tx: mpsc::Sender<Bytes>,
    stdout: bool,
    stderr: bool,
    tty: bool,
}

/// What the service knows of one container it started or was asked about.
struct Entry {
    sinks: Vec<Sink>,
    exit: watch::Sender<Option<i32>>,
    /// The supervisor socket's write side while the container runs.
    control: Option<UnixStream>,
    /// Stdin that came before the start (docker's client attaches and
    /// writes before it starts the container).
    pending: Vec<Frame>,
}

impl Entry {
    fn new() -> Entry {
        Entry {
            sinks: Vec::new(),
            exit: watch::channel(None).0,
            control: None,
            pending: Vec::new(),
        }
    }
}

/// Per-container attach state of this service.
#[derive(Default)]
pub struct Attachments {
    inner: Mutex<HashMap<String, Entry>>,
}

impl Attachments {
    fn with<T>(&self, id: &str, f: impl FnOnce(&mut Entry) -> T) -> T {
        let mut m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(m.entry(id.to_string()).or_insert_with(Entry::new))
    }

    /// A receiver of the container's next exit code (as this service saw
    /// its supervisor report it).
    pub fn exit_watch(&self, id: &str) -> watch::Receiver<Option<i32>> {
        self.with(id, |e| e.exit.subscribe())
    }

    /// Whether the service holds the container's supervisor socket.
    pub fn supervised(&self, id: &str) -> bool {
        self.with(id, |e| e.control.is_some())
    }

    /// Sends a frame to the container's supervisor (stdin, a resize);
    /// false when the service does not hold its socket.
    pub fn send(&self, id: &str, f: &Frame) -> bool {
        self.with(id, |e| match e.control.as_mut() {
            Some(s) => f.write_to(s).is_ok(),
            None => false,
        })
    }

    /// Sends stdin to the container, kept until its start when it has not
    /// started yet.
    fn send_stdin(&self, id: &str, f: Frame) {
        self.with(id, |e| match e.control.as_mut() {
            Some(s) => {
                let _ = f.write_to(s);
            }
            None => e.pending.push(f),
        });
    }

    fn add_sink(&self, id: &str, sink: Sink) {
        self.with(id, |e| e.sinks.push(sink));
    }

    /// Takes over a started container's supervisor socket: relays its
    /// frames until the container exits (on a thread of its own).
    pub fn started(self: &Arc<Self>, id: &str, mut sup: Supervised) {
        let mut control = sup.socket.try_clone().ok();
        self.with(id, |e| {
            if let Some(s) = control.as_mut() {
                for f in e.pending.drain(..) {
                    let _ = f.write_to(s);
                }
            }
            e.control = control;
            e.exit.send_replace(None);
        });
        let me = self.clone();
        let id = id.to_string();
        std::thread::spawn(move || {
            let never = Cancel::new();
            let mut code = None;
            loop {
                let f = match sup.next_frame(&never) {
                    Ok(Some(f)) => f,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!("container {id}: supervisor socket: {e}");
                        break;
                    }
                };
                match f {
                    Frame::Stdout(b) => me.deliver(&id, 1, &b),
                    Frame::Stderr(b) => me.deliver(&id, 2, &b),
                    Frame::Exit(c) => {
                        code = Some(c);
                        break;
                    }
                    Frame::Error { code: c, .. } => {
                        code = Some(c);
                        break;
                    }
                    _ => {}
                }
            }
            tracing::debug!("container {id}: relay ended, exit code {code:?}");
            me.with(&id, |e| {
                e.sinks.clear();
                e.control = None;
                e.pending.clear();
                if let Some(c) = code {
                    e.exit.send_replace(Some(c));
                }
            });
            // The supervisor may live on (restarts); once it ends, it is
            // not left a zombie of the service.
            sup.reap();
        });
    }

    fn deliver(&self, id: &str, stream: u8, data: &[u8]) {
        let sinks: Vec<(mpsc::Sender<Bytes>, Bytes)> = self.with(id, |e| {
            e.sinks.retain(|s| !s.tx.is_closed());
            e.sinks
                .iter()
                .filter(|s| if stream == 1 { s.stdout } else { s.stderr })
                .map(|s| {
                    let b = if s.tty {
                        Bytes::copy_from_slice(data)
                    } else {
                        frame(stream, data)
                    };
                    (s.tx.clone(), b)
                })
                .collect()
        });
        for (tx, b) in sinks {
            let _ = tx.blocking_send(b);
        }
    }
}

/// `POST /containers/{id}/attach?stream=1&stdin=&stdout=&stderr=`.
pub async fn attach(
    svc: Arc<Service>,
    id: String,
    q: Query,
    mut req: Request<Incoming>,
) -> ApiResult {
    let s2 = svc.clone();
    let c = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        Ok(strata_runtime::containers::lookup(s2.store()?, &id)?)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    if !q.flag("stream") && !q.flag("logs") {
        return Err(ApiError::bad("attach needs stream=1 or logs=1"));
    }
    let tty = c.spec.config.tty;
    let want_stdin = q.flag("stdin");
    let (tx, body) = channel();
    let sink = Sink {
        tx: tx.clone(),
        stdout: q.flag("stdout"),
        stderr: q.flag("stderr"),
        tty,
    };
    let running = c.is_running();
    if !running && c.state.status != "created" {
        return Err(ApiError::conflict(
            "You cannot attach to a stopped container, start it first",
        ));
    }
    if !running || svc.attach.supervised(&c.id) {
        svc.attach.add_sink(&c.id, sink);
    } else {
        // Started by someone else: follow its log from now on.
        follow_log(svc.clone(), c.clone(), sink);
    }
    drop(tx);
    let id = c.id.clone();
    let input = move |data: Option<Vec<u8>>| {
        if want_stdin {
            let f = match data {
                Some(d) => Frame::Stdin(d),
                None => Frame::StdinClose,
            };
            svc.attach.send_stdin(&id, f);
        }
    };
    Ok(hijack(&mut req, body, input))
}

/// What the client sends on a hijacked connection: `Some(bytes)`, then
/// `None` at its end.
pub type Input = Box<dyn FnMut(Option<Vec<u8>>) + Send>;

/// Answers an attach-style request. With `Upgrade: tcp` (docker's
/// clients): switches protocols, then relays `body` to the client and
/// what the client sends to `input`, closing the connection when `body`
/// ends. Without: `body` is the response.
pub fn hijack(
    req: &mut Request<Incoming>,
    body: Body,
    input: impl FnMut(Option<Vec<u8>>) + Send + 'static,
) -> Resp {
    let upgrade = req
        .headers()
        .get(hyper::header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"tcp"));
    if !upgrade {
        return streamed("application/vnd.docker.raw-stream", body);
    }
    let on_upgrade = hyper::upgrade::on(req);
    let mut input: Input = Box::new(input);
    let busy = super::Busy::new();
    tokio::spawn(async move {
        let _busy = busy;
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let (mut rd, mut wr) = tokio::io::split(TokioIo::new(upgraded));
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => {
                        input(None);
                        return;
                    }
                    Ok(n) => input(Some(buf[..n].to_vec())),
                }
            }
        });
        let mut body = body;
        while let Some(Ok(f)) = body.frame().await {
            if let Ok(data) = f.into_data()
                && wr.write_all(&data).await.is_err()
            {
                break;
            }
        }
        let _ = wr.shutdown().await;
        reader.abort();
    });
    let mut r = Response::new(empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.docker.raw-stream"),
    );
    h.insert(
        hyper::header::CONNECTION,
        HeaderValue::from_static("Upgrade"),
    );
    h.insert(hyper::header::UPGRADE, HeaderValue::from_static("tcp"));
    r
}

/// Streams a running container's new log entries to `sink` until it stops.
fn follow_log(svc: Arc<Service>, c: strata_runtime::Container, sink: Sink) {
    tokio::task::spawn_blocking(move || {
        let Ok(store) = svc.store() else { return };
        let sel = crate::commands::container::logs::LogSelect {
            tail: Some(0),
            follow: true,
            ..Default::default()
        };
        let tx = sink.tx.clone();
        let mut emit = |batch: &[&strata_runtime::logs::LogEntry]| -> std::io::Result<()> {
            for e in batch {
                let n = match e.stream {
                    strata_runtime::logs::Stream::Stdout if sink.stdout => 1,
                    strata_runtime::logs::Stream::Stderr if sink.stderr => 2,
                    _ => continue,
                };
                let b = if sink.tty {
                    Bytes::copy_from_slice(&e.log)
                } else {
                    frame(n, &e.log)
                };
                tx.blocking_send(b)
                    .map_err(|_| std::io::Error::other("client gone"))?;
            }
            Ok(())
        };
        let gone = || {
            if sink.tx.is_closed() {
                anyhow::bail!("client gone")
            }
            Ok(())
        };
        let _ = crate::commands::container::logs::emit_logs(store, &c, &sel, &mut emit, &gone);
    });
}
