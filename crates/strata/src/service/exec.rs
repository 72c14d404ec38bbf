//! Exec: `POST /containers/{id}/exec` records the request,
//! `POST /exec/{id}/start` runs it through the same exec helper the CLI's
//! `exec` becomes (`__shim exec`), its stdio piped to the client over the
//! hijacked connection (docker's stream framing without a TTY), and
//! `GET /exec/{id}/json` reports its exit code.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde::Deserialize;
use serde_json::json;
use strata_runtime::exec_linux::ExecRequest;
use strata_runtime::helper;
use tokio::sync::mpsc;

use super::Service;
use super::attach::{frame, hijack};
use super::http::{ApiError, ApiResult, channel, json_ok, json_status};

/// One exec instance.
#[derive(Debug, Clone)]
struct Instance {
    container: String,
    req: ExecRequest,
    attach: (bool, bool, bool),
    running: bool,
    started: bool,
    exit_code: Option<i32>,
    pid: u32,
}

/// The exec instances of this service.
#[derive(Debug, Default)]
pub struct Execs(Mutex<HashMap<String, Instance>>);

impl Execs {
    fn with<T>(&self, id: &str, f: impl FnOnce(&mut Instance) -> T) -> Option<T> {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.get_mut(id).map(f)
    }
}

/// docker's `ExecConfig` (the fields strata serves).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ExecConfig {
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    tty: bool,
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    user: Option<String>,
    working_dir: Option<String>,
}

/// docker's `ExecStartConfig`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct StartConfig {
    detach: bool,
}

async fn body_json<T: for<'a> Deserialize<'a> + Default>(
    req: &mut Request<Incoming>,
) -> Result<T, ApiError> {
    let bytes = req
        .body_mut()
        .collect()
        .await
        .map_err(|e| ApiError::bad(format!("reading the request: {e}")))?
        .to_bytes();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad(format!("invalid JSON: {e}")))
}

/// `POST /containers/{id}/exec`.
pub async fn create(svc: Arc<Service>, id: String, mut req: Request<Incoming>) -> ApiResult {
    let cfg: ExecConfig = body_json(&mut req).await?;
    let cmd = cfg.cmd.unwrap_or_default();
    if cmd.is_empty() {
        return Err(ApiError::bad("No exec command specified"));
    }
    let s2 = svc.clone();
    let c = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        Ok(strata_runtime::containers::lookup(s2.store()?, &id)?)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    if !c.is_running() {
        return Err(ApiError::conflict(format!(
            "Container {} is not running",
            c.id
        )));
    }
    if c.state.paused {
        return Err(ApiError::conflict(format!(
            "Container {} is paused, unpause the container before exec",
            c.id
        )));
    }
    let exec_id =
        strata_oci::Digest::of(format!("{}-{:?}", c.id, std::time::SystemTime::now()).as_bytes())
            .hex()
            .to_string();
    let inst = Instance {
        container: c.id.clone(),
        req: ExecRequest {
            args: cmd,
            env: cfg.env.unwrap_or_default(),
            user: cfg.user.filter(|u| !u.is_empty()),
            workdir: cfg.working_dir.filter(|w| !w.is_empty()),
            tty: cfg.tty,
            interactive: cfg.attach_stdin,
            detach: false,
        },
        attach: (cfg.attach_stdin, cfg.attach_stdout, cfg.attach_stderr),
        running: false,
        started: false,
        exit_code: None,
        pid: 0,
    };
    svc.execs
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(exec_id.clone(), inst);
    Ok(json_status(StatusCode::CREATED, &json!({ "Id": exec_id })))
}

/// `POST /exec/{id}/start`.
pub async fn start(svc: Arc<Service>, id: String, mut req: Request<Incoming>) -> ApiResult {
    let start: StartConfig = body_json(&mut req).await?;
    let inst = svc
        .execs
        .with(&id, |i| {
            if i.started {
                return Err(ApiError::conflict(format!(
                    "Exec {id} has already been started"
                )));
            }
            i.started = true;
            i.running = true;
            Ok(i.clone())
        })
        .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))??;
    let root = svc.store()?.root().to_path_buf();
    let mut r = inst.req.clone();
    r.detach = start.detach;
    let (stdin_on, out_on, err_on) = inst.attach;
    let tty = r.tty;
    let mut cmd = std::process::Command::new(helper::helper_binary());
    let piped = |on: bool| {
        if on && !start.detach {
            Stdio::piped()
        } else {
            Stdio::null()
        }
    };
    cmd.args(helper::exec_args(&root, &inst.container, &r))
        .env("STRATA_LOG", helper::log_filter())
        .stdin(piped(stdin_on))
        .stdout(piped(out_on))
        .stderr(piped(err_on));
    let mut child = cmd
        .spawn()
        .map_err(|e| ApiError::internal(format!("starting the exec helper: {e}")))?;
    svc.execs.with(&id, |i| i.pid = child.id());
    let (tx, body) = channel();
    // Blocking pipes, so threads of their own (a runtime's reactor is not
    // needed for three pipes).
    let pump = |rd: Option<Box<dyn Read + Send>>, n: u8, tx: mpsc::Sender<Bytes>| {
        std::thread::spawn(move || {
            let Some(mut rd) = rd else { return };
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match rd.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(k) => {
                        let b = if tty {
                            Bytes::copy_from_slice(&buf[..k])
                        } else {
                            frame(n, &buf[..k])
                        };
                        if tx.blocking_send(b).is_err() {
                            return;
                        }
                    }
                }
            }
        })
    };
    let out = pump(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        1,
        tx.clone(),
    );
    let err = pump(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        2,
        tx.clone(),
    );
    let (in_tx, in_rx) = std::sync::mpsc::channel::<Option<Vec<u8>>>();
    if let Some(mut stdin) = child.stdin.take() {
        std::thread::spawn(move || {
            while let Ok(Some(d)) = in_rx.recv() {
                if stdin.write_all(&d).is_err() {
                    break;
                }
            }
            // Dropping stdin closes it: the command sees EOF.
        });
    }
    let svc2 = svc.clone();
    let id2 = id.clone();
    std::thread::spawn(move || {
        let code = child.wait().ok().and_then(|s| s.code()).unwrap_or(126);
        let _ = out.join();
        let _ = err.join();
        svc2.execs.with(&id2, |i| {
            i.running = false;
            i.exit_code = Some(code);
        });
        drop(tx);
    });
    if start.detach {
        return json_ok(&json!({}));
    }
    Ok(hijack(&mut req, body, move |d| {
        let _ = in_tx.send(d);
    }))
}

/// `GET /exec/{id}/json`.
pub fn inspect(svc: &Service, id: &str) -> ApiResult {
    let i = svc
        .execs
        .with(id, |i| i.clone())
        .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))?;
    json_ok(&json!({
        "ID": id,
        "Running": i.running,
        "ExitCode": i.exit_code,
        "ProcessConfig": {
            "tty": i.req.tty,
            "entrypoint": i.req.args.first(),
            "arguments": i.req.args.get(1..).unwrap_or_default(),
            "privileged": false,
            "user": i.req.user.clone().unwrap_or_default(),
        },
        "OpenStdin": i.attach.0,
        "OpenStderr": i.attach.2,
        "OpenStdout": i.attach.1,
        "CanRemove": false,
        "ContainerID": i.container,
        "DetachKeys": "",
        "Pid": i.pid,
    }))
}
