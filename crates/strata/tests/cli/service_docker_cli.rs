//! `strata system service` driven by docker's own CLI (`/usr/bin/docker`
//! with `DOCKER_HOST=unix://…`): the seed flow (build, history, images,
//! tag, rmi, run, logs, ps, inspect, stop, rm), pull/push with the test
//! registry, stdin, exec, cp and exit codes, docker's errors and API versions — and
//! where the private dockerd can run the same client case, its answers
//! are the expected ones (issue 17).

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::service_common::{Svc, docker_at, dockerd_sock, header, raw};
use crate::support::{self, skip};

#[test]
fn service_seed_flow_with_dockers_cli() {
    let Some(s) = Svc::new() else { return };
    // version and info: the server is strata, API 1.41 negotiated.
    let v = s.ok(&[
        "version",
        "--format",
        "{{.Server.APIVersion}}|{{.Server.MinAPIVersion}}",
    ]);
    assert_eq!(v.trim(), "1.41|1.12");
    assert_eq!(
        s.ok(&["info", "--format", "{{.Driver}}"]).trim(),
        "overlay2"
    );

    // build: the classic builder's endpoint, with its query parameters.
    let ctx = s.t.env.path("web-ping");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile.web"),
        "FROM busybox AS base\nRUN echo never > /never\n\
         FROM busybox AS final\nARG GREETING=hi\nENV TARGET=example.com\nCOPY hello.txt /hello.txt\n\
         RUN echo \"$GREETING\" > /greeting\nCMD [\"sh\", \"-c\", \"echo ping $TARGET; cat /greeting /hello.txt\"]\n",
    )
    .unwrap();
    std::fs::write(ctx.join("hello.txt"), "hello\n").unwrap();
    let dockerfile = ctx.join("Dockerfile.web");
    let built = s.ok(&[
        "build",
        "-t",
        "web-ping",
        "-t",
        "web-ping:v1",
        "-f",
        dockerfile.to_str().unwrap(),
        "--build-arg",
        "GREETING=yo",
        "--label",
        "team=strata",
        "--target",
        "final",
        "--no-cache",
        ctx.to_str().unwrap(),
    ]);
    assert!(built.contains("Successfully built "), "{built}");
    assert!(
        built.contains("Successfully tagged web-ping:latest"),
        "{built}"
    );
    assert!(built.contains("Successfully tagged web-ping:v1"), "{built}");
    let id = s.ok(&["image", "inspect", "-f", "{{.Id}}", "web-ping"]);
    assert_eq!(
        s.ok(&[
            "image",
            "inspect",
            "-f",
            "{{index .Config.Labels \"team\"}}",
            "web-ping:v1"
        ])
        .trim(),
        "strata"
    );
    // The store is the CLI's: strata sees the same image.
    assert_eq!(
        s.t.ok(["image", "inspect", "-f", "{{.Id}}", "web-ping"]),
        id
    );
    // history through the API equals strata's own.
    let fmt = "{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}";
    assert_eq!(
        s.ok(&["history", "--no-trunc", "--format", fmt, "web-ping"]),
        s.t.ok(["history", "--no-trunc", "--format", fmt, "web-ping"])
    );
    let images = s.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        images.contains("web-ping:latest") && images.contains("web-ping:v1"),
        "{images}"
    );
    assert_eq!(
        s.ok(&[
            "images",
            "--filter",
            "reference=web-ping:v1",
            "--format",
            "{{.Tag}}"
        ])
        .trim(),
        "v1"
    );
    s.ok(&["tag", "web-ping", "web-ping:again"]);
    let rmi = s.ok(&["rmi", "web-ping:again"]);
    assert_eq!(rmi.trim(), "Untagged: web-ping:again");

    // run --name -e in the foreground: output and exit code.
    let out = s.run(&["run", "--name", "fg", "-e", "TARGET=strata.dev", "web-ping"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ping strata.dev\nyo\nhello\n"
    );
    assert_eq!(out.status.code(), Some(0));
    let out = s.run(&[
        "run",
        "--label",
        "tier=test",
        "--name",
        "codes",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    let out = s.run(&["run", "--rm", "busybox", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "--rm keeps the exit code");

    // logs: stdout and stderr apart (docker's stream framing).
    let out = s.run(&["logs", "codes"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");

    // run -d, ps with filters, inspect, stop, rm -f.
    let bg = s.ok(&[
        "run",
        "-d",
        "--name",
        "bg",
        "-p",
        "127.0.0.1::80",
        "busybox",
        "sleep",
        "60",
    ]);
    let bg = bg.trim();
    assert_eq!(bg.len(), 64, "{bg}");
    assert_eq!(s.ok(&["ps", "--format", "{{.Names}}"]).trim(), "bg");
    let ports = s.ok(&["ps", "--format", "{{.Ports}}"]);
    assert!(ports.contains("->80/tcp"), "{ports}");
    assert_eq!(ports, s.t.ok(["ps", "--format", "{{.Ports}}"]));
    let all = s.ok(&["ps", "-a", "--format", "{{.Names}}|{{.State}}"]);
    let mut rows: Vec<&str> = all.lines().collect();
    rows.sort();
    assert_eq!(rows, ["bg|running", "codes|exited", "fg|exited"], "{all}");
    assert_eq!(
        s.ok(&[
            "ps",
            "-a",
            "--filter",
            "status=exited",
            "--filter",
            "name=cod",
            "--format",
            "{{.Names}}"
        ])
        .trim(),
        "codes"
    );
    assert_eq!(
        s.ok(&[
            "ps",
            "-a",
            "--filter",
            "label=tier=test",
            "--format",
            "{{.Names}}"
        ])
        .trim(),
        "codes"
    );
    assert_eq!(
        s.ok(&[
            "ps",
            "-a",
            "--filter",
            "label=tier",
            "--filter",
            "label=nope",
            "-q"
        ]),
        ""
    );
    assert_eq!(
        s.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "codes"
        ])
        .trim(),
        "exited 3"
    );
    let env = s.ok(&["inspect", "-f", "{{json .Config.Env}}", "fg"]);
    assert!(env.contains("\"TARGET=strata.dev\""), "{env}");
    // The CLI and the service share containers.
    assert!(s.t.ok(["ps", "--format", "{{.Names}}"]).contains("bg"));
    s.ok(&["stop", "-t", "1", "bg"]);
    assert_eq!(
        s.ok(&["inspect", "-f", "{{.State.Running}}", "bg"]).trim(),
        "false"
    );
    s.ok(&["rm", "-f", "fg", "codes", "bg"]);
    assert_eq!(s.ok(&["ps", "-aq"]), "");
}

#[test]
fn service_stdin_and_containers_outliving_it() {
    let Some(mut s) = Svc::new() else { return };
    // stdin written before the start reaches the container (`run -i`).
    let mut child = s
        .docker()
        .args(["run", "-i", "--rm", "busybox", "sh", "-c", "cat; exit 4"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("docker run -i");
    child.stdin.take().unwrap().write_all(b"piped\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "piped\n");
    assert_eq!(out.status.code(), Some(4));

    // exec: output, exit code, stdin, env and workdir; a missing command.
    s.ok(&["run", "-d", "--name", "ex", "busybox", "sleep", "60"]);
    let out = s.run(&["exec", "ex", "sh", "-c", "echo in-exec; echo e >&2; exit 6"]);
    assert_eq!(out.status.code(), Some(6));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "in-exec\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "e\n");
    let mut child = s
        .docker()
        .args([
            "exec",
            "-i",
            "-e",
            "X=1",
            "-w",
            "/tmp",
            "ex",
            "sh",
            "-c",
            "echo $X $(pwd); cat",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("docker exec -i");
    child.stdin.take().unwrap().write_all(b"to-exec\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1 /tmp\nto-exec\n");
    assert_eq!(s.run(&["exec", "ex", "nosuchcmd"]).status.code(), Some(126));
    // cp both ways (the archive endpoints).
    let host = s.t.env.path("cp-in.txt");
    std::fs::write(&host, "copied in\n").unwrap();
    s.ok(&["cp", host.to_str().unwrap(), "ex:/tmp/in.txt"]);
    assert_eq!(s.ok(&["exec", "ex", "cat", "/tmp/in.txt"]), "copied in\n");
    let back = s.t.env.path("cp-out");
    std::fs::create_dir_all(&back).unwrap();
    s.ok(&["cp", "ex:/tmp/in.txt", back.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(back.join("in.txt")).unwrap(),
        "copied in\n"
    );
    let missing = s.run(&["cp", "ex:/nonexistent", back.to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(1));
    let err = String::from_utf8_lossy(&missing.stderr);
    // docker's CLI words a 404 of the stat as its own message.
    assert!(
        err.contains("No such container:path: ex:/nonexistent")
            || err.contains("Could not find the file /nonexistent in container ex"),
        "{err}"
    );
    s.ok(&["rm", "-f", "ex"]);

    // A container keeps running when the service exits, and the next
    // service (and the CLI meanwhile) still manage it.
    s.ok(&["run", "-d", "--name", "keeps", "busybox", "sleep", "60"]);
    // Supervisors of this store: the one of `keeps`, and the spare the
    // service keeps ready for its next start (made after each start).
    let root = s.t.env.root.display().to_string();
    let supervisors = || {
        let mut p = support::lifecycle::processes_with(&format!("__shim spare {root} "));
        p.extend(support::lifecycle::processes_with(&format!(
            "__shim supervise {root} "
        )));
        p
    };
    let mut seen = supervisors();
    for _ in 0..200 {
        if seen.len() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        seen = supervisors();
    }
    assert_eq!(seen.len(), 2, "{seen:#?}");
    s.stop();
    assert_eq!(s.t.inspect("keeps", "{{.State.Running}}"), "true");
    // The spare went with the service; the supervisor of `keeps` stays.
    for _ in 0..200 {
        seen = supervisors();
        if seen.len() <= 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(seen.len(), 1, "{seen:#?}");
    s.start();
    assert_eq!(s.ok(&["ps", "--format", "{{.Names}}"]).trim(), "keeps");
    s.ok(&["rm", "-f", "keeps"]);

    // A restart policy through the API is carried out by the supervisor.
    s.ok(&[
        "run",
        "-d",
        "--name",
        "rp",
        "--restart",
        "on-failure:2",
        "busybox",
        "false",
    ]);
    let mut count = String::new();
    for _ in 0..300 {
        count = s.t.inspect("rp", "{{.RestartCount}} {{.State.Status}}");
        if count == "2 exited" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(count, "2 exited");
    assert_eq!(
        s.t.inspect(
            "rp",
            "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "on-failure:2"
    );
    s.ok(&["rm", "-f", "rp"]);
    assert_eq!(s.t.ok(["ps", "-aq"]), "");
}

#[test]
fn service_pull_and_push_with_the_test_registry() {
    let Some(s) = Svc::new() else { return };
    let Some(reg) = support::registry() else {
        skip("no test registry (STRATA_TEST_REGISTRY)");
        return;
    };
    let name = format!("{reg}/{}:v1", support::registry::unique_repo("service"));
    s.ok(&["tag", "busybox", &name]);
    let pushed = s.ok(&["push", &name]);
    assert!(pushed.contains("The push refers to repository"), "{pushed}");
    assert!(pushed.contains("v1: digest: sha256:"), "{pushed}");
    s.ok(&["rmi", &name]);
    let pulled = s.ok(&["pull", &name]);
    assert!(pulled.contains("Digest: sha256:"), "{pulled}");
    assert!(
        pulled.contains(&format!("Status: Downloaded newer image for {name}")),
        "{pulled}"
    );
    let out = s.run(&["run", "--rm", &name, "echo", "pulled"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "pulled\n");
    let missing = s.run(&["push", &format!("{reg}/nosuch-{}:x", std::process::id())]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("An image does not exist locally with the tag"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    // A missing manifest is an error response (404), as dockerd's.
    let gone = format!("{reg}/nosuch-{}:x", std::process::id());
    let missing = s.run(&["pull", &gone]);
    assert_eq!(missing.status.code(), Some(1));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.starts_with("Error response from daemon: ") && err.contains("manifest unknown"),
        "{err}"
    );
    // dockerd pulls what the service pushed and runs it the same.
    if let Some(d) = dockerd_sock() {
        let cfg = s.t.env.path("dockerd-config");
        let host = format!("unix://{}", d.display());
        support::sh(docker_at(&host, &cfg).args(["pull", "-q", &name]));
        let theirs = docker_at(&host, &cfg)
            .args(["run", "--rm", &name, "echo", "pulled"])
            .output()
            .unwrap();
        let _ = docker_at(&host, &cfg).args(["rmi", &name]).output();
        assert_eq!(theirs.stdout, out.stdout);
    }
}

#[test]
fn service_answers_as_dockerd() {
    let Some(s) = Svc::new() else { return };
    // Version negotiation: `/_ping` headers, versioned and bare paths.
    let (status, head, body) = raw(&s.sock, "GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n").unwrap();
    assert_eq!((status, body.as_str()), (200, "OK"));
    assert_eq!(header(&head, "Api-Version"), Some("1.41"));
    assert_eq!(header(&head, "Ostype"), Some("linux"));
    let (status, _, head_body) = raw(&s.sock, "HEAD /_ping HTTP/1.1\r\nHost: d\r\n\r\n").unwrap();
    assert_eq!((status, head_body.as_str()), (200, ""));
    for path in [
        "/containers/json",
        "/v1.41/containers/json",
        "/v1.24/containers/json",
    ] {
        let (status, _, body) =
            raw(&s.sock, &format!("GET {path} HTTP/1.1\r\nHost: d\r\n\r\n")).unwrap();
        assert_eq!((status, body.as_str()), (200, "[]"), "{path}");
    }
    let (status, _, body) = raw(&s.sock, "GET /v9.99/info HTTP/1.1\r\nHost: d\r\n\r\n").unwrap();
    assert_eq!(status, 400);
    assert!(
        body.contains("\"message\":\"client version 9.99 is too new"),
        "{body}"
    );

    // Errors: docker's status codes and messages, the same as dockerd's.
    let cases = [
        "GET /v1.41/containers/nosuch/json HTTP/1.1\r\nHost: d\r\n\r\n",
        "GET /v1.41/images/nosuch:x/json HTTP/1.1\r\nHost: d\r\n\r\n",
        "DELETE /v1.41/containers/nosuch HTTP/1.1\r\nHost: d\r\n\r\n",
        "POST /v1.41/containers/nosuch/start HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n",
        "GET /v1.41/containers/nosuch/logs?stdout=1 HTTP/1.1\r\nHost: d\r\n\r\n",
    ];
    let ours: Vec<(u16, String)> = cases
        .iter()
        .map(|c| {
            let (st, _, b) = raw(&s.sock, c).unwrap();
            (st, b.trim().to_string())
        })
        .collect();
    assert_eq!(
        ours[0],
        (
            404,
            r#"{"message":"No such container: nosuch"}"#.to_string()
        )
    );
    assert_eq!(
        ours[1],
        (
            404,
            r#"{"message":"no such image: nosuch:x: No such image: nosuch:x"}"#.to_string()
        )
    );
    if let Some(d) = dockerd_sock() {
        for (c, o) in cases.iter().zip(&ours) {
            let (st, _, b) = raw(&d, c).unwrap();
            assert_eq!(&(st, b.trim().to_string()), o, "{c}");
        }
    }
    // 409: removing a running container; docker's CLI prints the message.
    s.ok(&["run", "-d", "--name", "busy", "busybox", "sleep", "60"]);
    let out = s.run(&["rm", "busy"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("You cannot remove a running container"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = s.run(&["run", "--name", "busy", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("Conflict. The container name \"/busy\" is already in use")
    );
    // A command that does not exist: docker's 127.
    let out = s.run(&["run", "--rm", "busybox", "nosuchcmd"]);
    assert_eq!(out.status.code(), Some(127));
    s.ok(&["rm", "-f", "busy"]);
}

#[test]
fn service_container_table_matches_dockerd() {
    let Some(s) = Svc::new() else { return };
    let Some(d) = dockerd_sock() else {
        skip("no docker daemon (STRATA_TEST_DOCKER_HOST) to compare with");
        return;
    };
    let docker = crate::support::docker::Docker::new().expect("dockerd");
    docker.load_from(&s.t.env, "busybox");
    let cfg = s.t.env.path("dockerd-config");
    let host = format!("unix://{}", d.display());
    let name = format!("svc-cmp-{}", std::process::id());
    let args = [
        "run",
        "--name",
        &name,
        "-e",
        "A=B",
        "busybox",
        "sh",
        "-c",
        "echo $A; echo err >&2; exit 3",
    ];
    let theirs = docker_at(&host, &cfg).args(args).output().unwrap();
    let ours = s.run(&args);
    let cleanup = || {
        let _ = docker_at(&host, &cfg).args(["rm", "-f", &name]).output();
    };
    let same = |what: &str, a: &[&str]| {
        let t = docker_at(&host, &cfg).args(a).output().unwrap();
        let o = s.run(a);
        if (t.status.code(), &t.stdout, &t.stderr) != (o.status.code(), &o.stdout, &o.stderr) {
            cleanup();
            panic!(
                "{what}: dockerd {:?} {:?} {:?}, strata {:?} {:?} {:?}",
                t.status.code(),
                String::from_utf8_lossy(&t.stdout),
                String::from_utf8_lossy(&t.stderr),
                o.status.code(),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
    };
    assert_eq!(
        (ours.status.code(), &ours.stdout, &ours.stderr),
        (theirs.status.code(), &theirs.stdout, &theirs.stderr)
    );
    let filter = format!("name={name}");
    same(
        "ps",
        &[
            "ps",
            "-a",
            "--filter",
            &filter,
            "--format",
            "{{.Names}}|{{.Image}}|{{.Command}}|{{.State}}",
        ],
    );
    same("logs", &["logs", &name]);
    same(
        "inspect",
        &[
            "inspect",
            "-f",
            "{{.Name}} {{.Path}} {{.Args}} {{.State.ExitCode}} {{.Config.Tty}}",
            &name,
        ],
    );
    same(
        "empty table",
        &["ps", "--filter", "name=nothing-has-this-name"],
    );
    same("rm", &["rm", &name]);
    cleanup();
}

#[test]
fn service_idles_out_but_not_during_a_session() {
    let Some(mut s) = Svc::new() else { return };
    s.stop();
    s.t.ok(["run", "-d", "--name", "idle", "busybox", "sleep", "60"]);
    // `--time 1`: an exec longer than that keeps it up (its connection
    // is handed over, still a session), then it exits and removes its
    // socket; the container runs on.
    let mut child =
        s.t.env
            .cmd(["system", "service", "--time", "1"])
            .arg(format!("unix://{}", s.sock.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the service");
    let end = Instant::now() + Duration::from_secs(20);
    while raw(&s.sock, "GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n").is_none() {
        assert!(Instant::now() < end, "the service did not answer");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = s.ok(&["exec", "idle", "sh", "-c", "sleep 2.5; echo survived"]);
    assert_eq!(out, "survived\n");
    let end = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("the service did not exit when idle");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
    assert!(!s.sock.exists(), "socket left behind");
    assert_eq!(s.t.inspect("idle", "{{.State.Running}}"), "true");
}
