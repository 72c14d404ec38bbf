//! COPY and ADD through the engine: `--chown`, `--chmod`, `--link`,
//! `--exclude`, `--parents`, globs and directory contents, heredocs, ADD
//! of a local tar (extracted) and of a URL with `--checksum` (a loopback
//! HTTP server). See: issue 6.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;

use crate::build_common::{build_fails, build_ok, context};
use crate::support::{Env, sha256_hex};

/// Serves `body` for every request until dropped; returns the base URL.
fn http_server(body: &'static [u8]) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut s = s;
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(body);
        }
    });
    format!("http://{addr}")
}

#[test]
fn copy_flags_and_semantics() {
    let env = Env::new();
    env.busybox("base");
    let df = r#"FROM base
COPY --chown=nobody:nobody --chmod=640 files/a.txt /dst/
COPY --chmod=755 files/*.sh /bin2/
COPY files /contents/
COPY --exclude=*.log files /filtered/
COPY --parents files/./nested/deep.txt /kept/
COPY --link files/a.txt /linked.txt
COPY <<EOF /inline.txt
inline body
EOF
"#;
    let dir = context(
        &env,
        "ctx",
        &[
            ("Dockerfile", df),
            ("files/a.txt", "a\n"),
            ("files/run.sh", "#!/bin/sh\n"),
            ("files/debug.log", "log\n"),
            ("files/nested/deep.txt", "deep\n"),
        ],
    );
    let out = env.path("rootfs");
    build_ok(
        &env,
        &dir,
        &["--output", &format!("type=local,dest={}", out.display())],
    );
    let md = std::fs::metadata(out.join("dst/a.txt")).unwrap();
    assert_eq!(
        (md.uid(), md.gid(), md.mode() & 0o777),
        (65534, 65534, 0o640)
    );
    assert_eq!(
        std::fs::metadata(out.join("bin2/run.sh")).unwrap().mode() & 0o777,
        0o755
    );
    assert!(out.join("contents/a.txt").is_file() && out.join("contents/nested/deep.txt").is_file());
    assert!(
        !out.join("contents/files").exists(),
        "a directory source copies its contents"
    );
    assert!(out.join("filtered/a.txt").is_file() && !out.join("filtered/debug.log").exists());
    assert!(out.join("kept/nested/deep.txt").is_file());
    assert_eq!(
        std::fs::read_to_string(out.join("linked.txt")).unwrap(),
        "a\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("inline.txt")).unwrap(),
        "inline body\n"
    );
}

#[test]
fn add_extracts_local_tars_and_fetches_urls() {
    let env = Env::new();
    env.busybox("base");
    // A small tar made with the host's tar.
    let src = env.path("tarsrc");
    std::fs::create_dir_all(src.join("pkg")).unwrap();
    std::fs::write(src.join("pkg/lib.txt"), "from the tar\n").unwrap();
    let dir = context(&env, "ctx", &[]);
    let st = std::process::Command::new("tar")
        .args(["-czf"])
        .arg(dir.join("bundle.tar.gz"))
        .arg("-C")
        .arg(&src)
        .arg("pkg")
        .status()
        .unwrap();
    assert!(st.success());
    const BODY: &[u8] = b"downloaded over http\n";
    let url = http_server(BODY);
    let sum = sha256_hex(BODY);
    let df = format!(
        "FROM base\nADD bundle.tar.gz /opt/\nADD --checksum=sha256:{sum} {url}/files/remote.txt /remote/\n"
    );
    std::fs::write(dir.join("Dockerfile"), &df).unwrap();
    let out = env.path("rootfs");
    build_ok(
        &env,
        &dir,
        &["--output", &format!("type=local,dest={}", out.display())],
    );
    assert_eq!(
        std::fs::read_to_string(out.join("opt/pkg/lib.txt")).unwrap(),
        "from the tar\n"
    );
    assert_eq!(std::fs::read(out.join("remote/remote.txt")).unwrap(), BODY);
    // A wrong checksum fails and names the URL.
    let bad = df.replace(&sum, &"0".repeat(64));
    std::fs::write(dir.join("Dockerfile"), bad).unwrap();
    let err = build_fails(&env, &dir, &[]);
    assert!(err.contains("remote.txt"), "{err}");
}
