//! The service under test for the `service_*` suites: `strata system
//! service` over a test store on a temporary socket, docker's CLI pointed
//! at it, raw HTTP on the socket, and the private dockerd to compare with.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::container_common::Ctr;
use crate::support::{self, skip};

/// A running service over a test store, and docker's CLI pointed at it.
pub struct Svc {
    pub t: Ctr,
    pub sock: PathBuf,
    child: Option<Child>,
}

pub fn docker_cli() -> Option<PathBuf> {
    let p = PathBuf::from("/usr/bin/docker");
    p.is_file().then_some(p)
}

impl Svc {
    /// Root and docker's CLI needed (`None` after saying why not).
    pub fn new() -> Option<Svc> {
        let t = Ctr::new()?;
        if docker_cli().is_none() {
            skip("docker's CLI (/usr/bin/docker, Debian's docker.io) is not installed");
            return None;
        }
        let sock = t.env.path("api.sock");
        let mut s = Svc {
            t,
            sock,
            child: None,
        };
        s.start();
        Some(s)
    }

    pub fn start(&mut self) {
        let child = self
            .t
            .env
            .cmd(["system", "service", "--time", "0"])
            .arg(format!("unix://{}", self.sock.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start strata system service");
        self.child = Some(child);
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if raw(&self.sock, "GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
                .is_some_and(|(status, _, _)| status == 200)
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the service did not answer on {}", self.sock.display());
    }

    /// Stops the service (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill has no memory-safety preconditions; the PID is our child's.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let end = Instant::now() + Duration::from_secs(10);
            while Instant::now() < end {
                if c.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
            panic!("the service did not exit on SIGTERM");
        }
    }

    /// docker's CLI against the service (classic builder, own config dir).
    pub fn docker(&self) -> Command {
        docker_at(
            &format!("unix://{}", self.sock.display()),
            &self.t.env.path("docker-config"),
        )
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.docker()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run docker")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "docker {} failed ({}):\nstdout: {}\nstderr: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Svc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn docker_at(host: &str, config: &Path) -> Command {
    let mut c = Command::new(docker_cli().expect("docker CLI"));
    c.env("DOCKER_HOST", host)
        .env("DOCKER_CONFIG", config)
        .env("DOCKER_BUILDKIT", "0")
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_API_VERSION");
    c
}

/// One raw HTTP/1.1 request on a unix socket: (status, head, body).
pub fn raw(sock: &Path, request: &str) -> Option<(u16, String, String)> {
    let mut s = UnixStream::connect(sock).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let req = request.replacen("\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1);
    s.write_all(req.as_bytes()).ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, head.to_string(), dechunk(body, head)))
}

/// The body of a chunked answer.
pub fn dechunk(body: &str, head: &str) -> String {
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return body.to_string();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The private dockerd's socket path, when the test env started one.
pub fn dockerd_sock() -> Option<PathBuf> {
    let host = std::env::var("STRATA_TEST_DOCKER_HOST").ok()?;
    support::docker()?;
    Some(PathBuf::from(host.strip_prefix("unix://")?))
}
