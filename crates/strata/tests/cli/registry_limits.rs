//! Bounded resources against hostile registries, each a tiny server on
//! 127.0.0.1 started by the test: a slow-loris registry (a byte every 2 s)
//! fails the pull within the configured timeout, naming the registry; an
//! endless manifest is cut at 4 MiB with the pull's peak RSS ≤ 64 MB; an
//! HTML answer and absurd descriptor sizes are refused with clear errors.
//! See: issue 11 ("Bounded resources").

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::Env;

/// What the server answers to one request.
#[derive(Clone)]
enum Answer {
    /// A complete response.
    Static(u16, &'static str, Vec<u8>),
    /// The response, one byte every 2 s, forever.
    Trickle,
    /// A manifest that never ends (chunked, 64 KiB of spaces at a time).
    Endless,
}

type Route = Arc<dyn Fn(&str) -> Answer + Send + Sync>;

/// A one-route-table HTTP/1.1 server on 127.0.0.1; stops when dropped.
struct Server {
    addr: String,
    stop: Arc<AtomicBool>,
}

impl Server {
    fn start(route: impl Fn(&str) -> Answer + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let route: Route = Arc::new(route);
        let st = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (route, st) = (route.clone(), st.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &route, &st);
                });
            }
        });
        Server { addr, stop }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

fn serve(conn: TcpStream, route: &Route, stop: &AtomicBool) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut r = BufReader::new(conn.try_clone()?);
    let mut w = conn;
    loop {
        // A TLS ClientHello (the HTTPS probe): hang up.
        if !r.fill_buf()?.first().is_some_and(u8::is_ascii_uppercase) {
            return Ok(());
        }
        let mut request_line = String::new();
        r.read_line(&mut request_line)?;
        loop {
            let mut l = String::new();
            if r.read_line(&mut l)? == 0 || l.trim().is_empty() {
                break;
            }
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_string();
        match route(&path) {
            Answer::Static(status, ct, body) => {
                write!(
                    w,
                    "HTTP/1.1 {status} X\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )?;
                w.write_all(&body)?;
            }
            Answer::Trickle => {
                for b in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    .iter()
                    .cycle()
                {
                    if stop.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                    w.write_all(&[*b])?;
                    w.flush()?;
                    std::thread::sleep(Duration::from_secs(2));
                }
            }
            Answer::Endless => {
                write!(
                    w,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nTransfer-Encoding: chunked\r\n\r\n"
                )?;
                let chunk = vec![b' '; 64 << 10];
                // Up to 2 GiB, or until the client hangs up.
                for _ in 0..(2u64 << 30) / chunk.len() as u64 {
                    if stop.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                    write!(w, "{:x}\r\n", chunk.len())?;
                    w.write_all(&chunk)?;
                    w.write_all(b"\r\n")?;
                }
                w.write_all(b"0\r\n\r\n")?;
            }
        }
    }
}

/// Runs `strata pull` with `envs` under `/usr/bin/time -f %M`; returns
/// (exit code, stderr, peak RSS in KiB). Kills it if it is still running
/// after `hang`. (`time` forks: a child spawned from this test process
/// would inherit the test's own high-water RSS at exec.)
fn pull(env: &Env, image: &str, envs: &[(&str, &str)], hang: Duration) -> (i32, String, i64) {
    let time = std::path::Path::new("/usr/bin/time");
    assert!(
        time.is_file(),
        "/usr/bin/time is required (apt-get install time; scripts/lib.sh lists it)"
    );
    let rss_file = env.path(&format!("rss-{}", image.replace(['/', ':'], "_")));
    let mut cmd = Command::new(time);
    cmd.arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss_file)
        .arg(crate::support::bin())
        .arg("--root")
        .arg(&env.root)
        .args(["pull", image])
        .env_remove("STRATA_ROOT")
        .env("HOME", env.dir.path());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > hang {
            let _ = child.kill();
            let _ = child.wait();
            panic!("strata pull {image} still running after {hang:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let rss = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()))
        .unwrap_or(-1);
    (status.code().unwrap_or(-1), reader.join().unwrap(), rss)
}

#[test]
fn a_slow_loris_registry_fails_the_pull_within_the_timeout() {
    let server = Server::start(|_| Answer::Trickle);
    let env = Env::new();
    env.ok(["images"]);
    let image = format!("{}/slow/loris:v1", server.addr);
    let (code, err, _) = pull(
        &env,
        &image,
        &[
            ("STRATA_REGISTRY_TIMEOUT", "2"),
            ("STRATA_REGISTRY_RETRIES", "1"),
        ],
        // The bound is 2 attempts of 2 s plus a 200 ms backoff; this only
        // catches a hang.
        Duration::from_secs(90),
    );
    assert_ne!(code, 0, "{err}");
    assert!(
        err.contains(&format!("cannot talk to {}", server.addr)),
        "names the registry: {err}"
    );
    assert!(err.contains("timed out"), "{err}");
    assert!(err.contains("gave up after 2 attempts"), "{err}");
    assert!(
        !err.contains('\x1b'),
        "no colour when stderr is not a terminal: {err:?}"
    );
}

#[test]
fn an_endless_manifest_is_cut_at_its_limit_with_bounded_memory() {
    let server = Server::start(|path| {
        if path.contains("/manifests/") {
            Answer::Endless
        } else {
            Answer::Static(200, "application/json", b"{}".to_vec())
        }
    });
    let env = Env::new();
    env.ok(["images"]);
    let image = format!("{}/huge/manifest:v1", server.addr);
    let (code, err, max_rss_kib) = pull(&env, &image, &[], Duration::from_secs(120));
    eprintln!("peak RSS of the pull: {max_rss_kib} KiB");
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("more than the 4194304 bytes allowed"), "{err}");
    assert!(
        max_rss_kib > 0 && max_rss_kib <= 64 * 1024,
        "pull peaked at {max_rss_kib} KiB of RSS (limit 64 MiB)"
    );
}

#[test]
fn html_answers_and_absurd_sizes_are_refused() {
    let layer = format!("sha256:{}", "1".repeat(64));
    let config = format!("sha256:{}", "2".repeat(64));
    let negative = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer}","size":-1}}]}}"#
    );
    let huge_config = negative
        .replace(r#""size":2"#, r#""size":99999999999"#)
        .replace("-1", "1");
    let server = Server::start(move |path| {
        let manifest = |body: &str| {
            Answer::Static(
                200,
                "application/vnd.oci.image.manifest.v1+json",
                body.as_bytes().to_vec(),
            )
        };
        if path.ends_with("/manifests/html") {
            Answer::Static(
                200,
                "text/html; charset=utf-8",
                b"<html>login</html>".to_vec(),
            )
        } else if path.ends_with("/manifests/negative") {
            manifest(&negative)
        } else if path.ends_with("/manifests/hugeconfig") {
            manifest(&huge_config)
        } else {
            Answer::Static(200, "application/json", b"{}".to_vec())
        }
    });
    let env = Env::new();
    env.ok(["images"]);
    let run = |tag: &str| {
        pull(
            &env,
            &format!("{}/bad/img:{tag}", server.addr),
            &[],
            Duration::from_secs(60),
        )
    };
    let (code, err, _) = run("html");
    assert_ne!(code, 0);
    assert!(err.contains("answered text/html, not a manifest"), "{err}");
    let (code, err, _) = run("negative");
    assert_ne!(code, 0);
    assert!(
        err.contains("layer 0 descriptor has an invalid size -1: negative"),
        "{err}"
    );
    let (code, err, _) = run("hugeconfig");
    assert_ne!(code, 0);
    assert!(
        err.contains("config descriptor has an invalid size 99999999999"),
        "{err}"
    );
    assert!(env.ok(["images", "-q"]).trim().is_empty());
}

#[test]
fn a_bad_timeout_setting_is_an_error() {
    let env = Env::new();
    let out = env
        .cmd(["pull", "127.0.0.1:1/x:y"])
        .env("STRATA_REGISTRY_TIMEOUT", "soon")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("STRATA_REGISTRY_TIMEOUT=soon"), "{err}");
}

/// `--env-file=/dev/zero` fails at once, with docker's text, in bounded
/// memory (it used to grow to 23 GB). See: issue 11.
#[test]
fn an_endless_env_file_is_refused() {
    let env = Env::new();
    env.busybox("base");
    let out = env
        .cmd(["create", "--env-file", "/dev/zero", "base"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid env file (/dev/zero): bufio.Scanner: token too long"),
        "{err}"
    );
}
