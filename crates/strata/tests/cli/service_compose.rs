//! Debian's `docker-compose` (1.29, docker-py) against `strata system
//! service`: a two-service app on a user-defined network with a named
//! volume — the web side reaches the store by service name — then `ps`,
//! `logs` and `down -v` leaving nothing behind (issue 17).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use crate::service_common::Svc;
use crate::support::skip;

const COMPOSE: &str = r#"version: "3.8"
services:
  store:
    image: busybox
    command: ["sh", "-c", "echo stored-value > /data/index.html && exec httpd -f -p 8080 -h /data"]
    volumes: ["data:/data"]
    networks: [app]
    stop_grace_period: 1s
  web:
    image: busybox
    command: ["sh", "-c", "until wget -qO- http://store:8080/index.html; do sleep 0.2; done; exec sleep 300"]
    depends_on: [store]
    networks: [app]
    stop_grace_period: 1s
networks:
  app: {}
volumes:
  data: {}
"#;

fn compose_bin() -> Option<PathBuf> {
    let p = PathBuf::from("/usr/bin/docker-compose");
    p.is_file().then_some(p)
}

fn compose(s: &Svc, dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(compose_bin().expect("docker-compose"))
        .current_dir(dir)
        .env("DOCKER_HOST", format!("unix://{}", s.sock.display()))
        .env("DOCKER_CONFIG", s.t.env.path("docker-config"))
        .env_remove("DOCKER_CONTEXT")
        .env_remove("COMPOSE_PROJECT_NAME")
        .args(["-p", "strataapp"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run docker-compose")
}

fn compose_ok(s: &Svc, dir: &std::path::Path, args: &[&str]) -> String {
    let out = compose(s, dir, args);
    assert!(
        out.status.success(),
        "docker-compose {} failed ({}):\nstdout: {}\nstderr: {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn service_docker_compose_up_ps_logs_down() {
    let Some(s) = Svc::new() else { return };
    if compose_bin().is_none() {
        skip("docker-compose (Debian's docker-compose 1.29) is not installed");
        return;
    }
    let dir = s.t.env.path("app");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("docker-compose.yml"), COMPOSE).unwrap();
    compose_ok(&s, &dir, &["up", "-d"]);
    // The network, volume and containers are strata's, under compose's names.
    assert_eq!(
        s.t.ok([
            "network",
            "ls",
            "--filter",
            "type=custom",
            "--format",
            "{{.Name}}"
        ]),
        "strataapp_app\n"
    );
    assert_eq!(s.t.ok(["volume", "ls", "-q"]), "strataapp_data\n");
    let ps = compose_ok(&s, &dir, &["ps"]);
    for name in ["strataapp_store_1", "strataapp_web_1"] {
        assert!(
            ps.lines().any(|l| l.starts_with(name) && l.contains(" Up")),
            "{name}: {ps}"
        );
    }
    // web reached store by its service name.
    let mut logs = String::new();
    for _ in 0..200 {
        logs = compose_ok(&s, &dir, &["logs", "--no-color", "web"]);
        if logs.contains("stored-value") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(logs.contains("stored-value"), "{logs}");
    compose_ok(&s, &dir, &["down", "-v"]);
    assert_eq!(s.t.ok(["ps", "-aq"]), "");
    assert_eq!(
        s.t.ok(["network", "ls", "-q", "--filter", "type=custom"]),
        ""
    );
    assert_eq!(s.t.ok(["volume", "ls", "-q"]), "");
}
