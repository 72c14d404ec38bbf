//! Testcontainers (PyPI `testcontainers`, pinned by scripts/test.sh in a
//! venv named by `STRATA_TEST_TESTCONTAINERS_PYTHON`) against `strata
//! system service`: start a container, wait for a log line, reach its
//! published port, clean up (issue 17).
//!
//! Ryuk (Testcontainers' reaper) is an image from Docker Hub, unreachable
//! here: it is turned off, and the `with` block removes the container.
//! This machine has a `/.dockerenv`, which makes Testcontainers assume it
//! runs inside docker and dial the bridge gateway; strata publishes on
//! 127.0.0.1 as docker on a host does, so the connection mode is the
//! host's (`docker_host`), what Testcontainers picks on a plain host.

use std::process::Command;

use crate::service_common::Svc;
use crate::support::skip;

const SCRIPT: &str = r#"
import sys, urllib.request
from testcontainers.core.container import DockerContainer
from testcontainers.core.waiting_utils import wait_for_logs
c = (DockerContainer("busybox")
     .with_command(["sh", "-c", "mkdir /w && echo tc-page > /w/index.html && echo serving && exec httpd -f -p 8080 -h /w"])
     .with_exposed_ports(8080))
with c:
    wait_for_logs(c, "serving", timeout=30)
    host, port = c.get_container_host_ip(), c.get_exposed_port(8080)
    print("page", urllib.request.urlopen(f"http://{host}:{port}/index.html", timeout=10).read().decode().strip())
print("done")
"#;

#[test]
fn service_testcontainers_waits_for_a_log_line_and_reaches_a_port() {
    let Some(python) = std::env::var_os("STRATA_TEST_TESTCONTAINERS_PYTHON") else {
        return skip(
            "no Testcontainers (STRATA_TEST_TESTCONTAINERS_PYTHON; scripts/test.sh installs it)",
        );
    };
    let Some(s) = Svc::new() else { return };
    let out = Command::new(python)
        .args(["-W", "ignore", "-c", SCRIPT])
        .env("DOCKER_HOST", format!("unix://{}", s.sock.display()))
        .env("TESTCONTAINERS_RYUK_DISABLED", "true")
        .env("TESTCONTAINERS_CONNECTION_MODE", "docker_host")
        .output()
        .expect("python");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text, "page tc-page\ndone\n");
    assert_eq!(s.t.ok(["ps", "-aq"]), "", "the container is gone");
}
