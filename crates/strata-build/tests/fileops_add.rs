//! ADD: local archives extracted (tar, tar.gz, tar.bz2, tar.xz), URL
//! sources from a loopback HTTP server with right and wrong `--checksum`,
//! git sources refused, and `build -` contexts from a tar.

mod fileops_common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

use fileops_common::*;
use strata_build::context::BuildContext;
use strata_build::fileops::{self, CopyOptions, FileOpError, SelectOptions, SourceTree};

fn add_opts(env: &Env) -> SelectOptions {
    SelectOptions {
        command: fileops::Command::Add,
        download_dir: Some(env.tmp.path().join("dl")),
        ..SelectOptions::default()
    }
}

/// Makes `name` in the context from a small tree, with `tar` flags.
fn make_archive(env: &Env, name: &str, flag: &str) {
    let src = env.tmp.path().join(format!("tree-{name}"));
    std::fs::create_dir_all(src.join("pkg/bin")).unwrap();
    std::fs::write(src.join("pkg/bin/tool"), "#!/bin/sh\necho tool\n").unwrap();
    chmod(&src.join("pkg/bin/tool"), 0o755);
    std::fs::write(src.join("pkg/README"), "readme").unwrap();
    std::os::unix::fs::chown(src.join("pkg/README"), Some(7), Some(8)).unwrap();
    set_mtime(&src.join("pkg/README"), 1_234_567_890);
    let st = Command::new("tar")
        .arg(flag)
        .arg(env.ctx.join(name))
        .arg("-C")
        .arg(&src)
        .arg("pkg")
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn local_archives_are_extracted_into_the_destination() {
    for (name, flag) in [
        ("a.tar", "-cf"),
        ("a.tar.gz", "-czf"),
        ("a.tbz", "-cjf"),
        ("a.txz", "-cJf"),
    ] {
        let env = Env::new();
        make_archive(&env, name, flag);
        let stats = env
            .copy(&[name], "/opt", &add_opts(&env), CopyOptions::default())
            .unwrap();
        assert!(stats.extracted >= 4, "{name}: {stats:?}");
        let l = env.listing();
        assert!(
            l.contains(&"opt/pkg/bin/tool f 755 0:0 20".to_string()),
            "{name}: {l:?}"
        );
        assert!(
            l.contains(&"opt/pkg/README f 644 7:8 6".to_string()),
            "{name}: {l:?}"
        );
        assert_eq!(mtime(&env.layer.join("opt/pkg/README")), 1_234_567_890);
    }
}

#[test]
fn archive_with_chown_and_unpack_false() {
    let env = Env::new();
    make_archive(&env, "a.tar.gz", "-czf");
    let opts = CopyOptions {
        chown: Some("100:200".into()),
        ..CopyOptions::default()
    };
    env.copy(&["a.tar.gz"], "/x/", &add_opts(&env), opts)
        .unwrap();
    let l = env.listing();
    assert!(
        l.contains(&"x/pkg/README f 644 100:200 6".to_string()),
        "{l:?}"
    );
    let env = Env::new();
    make_archive(&env, "a.tar.gz", "-czf");
    let mut o = add_opts(&env);
    o.unpack = Some(false);
    env.copy(&["a.tar.gz"], "/x/", &o, CopyOptions::default())
        .unwrap();
    let l = env.listing();
    assert_eq!(l.len(), 2, "{l:?}");
    assert!(l[1].starts_with("x/a.tar.gz f 644 0:0"), "{l:?}");
    // COPY never extracts.
    let env = Env::new();
    make_archive(&env, "a.tar", "-cf");
    env.copy(&["a.tar"], "/y/", &copy_opts(), CopyOptions::default())
        .unwrap();
    assert!(env.layer.join("y/a.tar").is_file());
}

#[test]
fn archive_entries_cannot_escape() {
    let env = Env::new();
    // A tar whose member climbs out with `..`.
    let src = env.tmp.path().join("evil");
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::write(src.join("x"), "x").unwrap();
    let st = Command::new("tar")
        .args(["-cf"])
        .arg(env.ctx.join("evil.tar"))
        .arg("-C")
        .arg(src.join("a"))
        .arg("--absolute-names")
        .arg("../x")
        .status()
        .unwrap();
    assert!(st.success());
    env.copy(
        &["evil.tar"],
        "/in/",
        &add_opts(&env),
        CopyOptions::default(),
    )
    .unwrap();
    // Clamped inside the destination; nothing beside the layer.
    assert!(env.layer.join("in/x").is_file(), "{:?}", env.listing());
    assert!(!env.tmp.path().join("x").exists());
}

struct Server {
    url: String,
    handle: Option<std::thread::JoinHandle<()>>,
}

/// Serves `body` for every GET on 127.0.0.1 (`count` requests), with a
/// Last-Modified header; `/missing` answers 404.
fn serve(body: &'static [u8], count: usize) -> Server {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        for _ in 0..count {
            let Ok((mut s, _)) = l.accept() else { return };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                    break;
                }
            }
            if line.contains("/missing") {
                let _ = s.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                continue;
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(body);
        }
    });
    Server {
        url: format!("http://127.0.0.1:{port}"),
        handle: Some(handle),
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            // Unblock a pending accept so the thread ends.
            let _ = std::net::TcpStream::connect(self.url.trim_start_matches("http://"));
            let _ = h.join();
        }
    }
}

const BODY: &[u8] = b"remote file body\n";

fn sha(b: &[u8]) -> String {
    strata_oci::Digest::of(b).to_string()
}

#[test]
fn url_with_right_checksum_is_downloaded_0600_with_last_modified() {
    let env = Env::new();
    let srv = serve(BODY, 1);
    let url = format!("{}/files/tool.sh?v=1", srv.url);
    let mut o = add_opts(&env);
    o.checksum = Some(sha(BODY));
    env.copy(&[&url], "/usr/local/bin/", &o, CopyOptions::default())
        .unwrap();
    let l = env.listing();
    assert!(
        l.contains(&"usr/local/bin/tool.sh f 600 0:0 17".to_string()),
        "{l:?}"
    );
    assert_eq!(
        mtime(&env.layer.join("usr/local/bin/tool.sh")),
        1_445_412_480
    );
}

#[test]
fn url_with_wrong_checksum_fails() {
    let env = Env::new();
    let srv = serve(BODY, 1);
    let url = format!("{}/f.bin", srv.url);
    let mut o = add_opts(&env);
    o.checksum = Some(sha(b"something else"));
    let err = env.select(&[&url], &o).unwrap_err();
    assert!(matches!(err, FileOpError::ChecksumMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&sha(BODY)), "{err}");
    // Nothing left in the download dir.
    let left = std::fs::read_dir(env.tmp.path().join("dl"))
        .unwrap()
        .count();
    assert_eq!(left, 0);
}

#[test]
fn url_checksum_is_in_the_key_and_errors_are_named() {
    let env = Env::new();
    let srv = serve(BODY, 3);
    let url = format!("{}/a", srv.url);
    let s1 = env.select(&[&url], &add_opts(&env)).unwrap();
    let s2 = env.select(&[&url], &add_opts(&env)).unwrap();
    assert_eq!(s1.checksum(), s2.checksum());
    assert_eq!(
        s1.entries[0].sha256.map(hex::encode),
        Some(sha(BODY)[7..].to_string())
    );
    let err = env
        .select(&[&format!("{}/missing", srv.url)], &add_opts(&env))
        .unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    let err = env.select(&[&url], &copy_opts()).unwrap_err();
    assert_eq!(err.to_string(), "source can't be a URL for COPY");
    let mut o = add_opts(&env);
    o.checksum = Some(sha(BODY));
    env.write("local", "l");
    let err = env.select(&["local"], &o).unwrap_err();
    assert_eq!(
        err.to_string(),
        "checksum can't be specified for non-HTTP(S) sources"
    );
}

#[test]
fn git_sources_are_refused() {
    let env = Env::new();
    let err = env
        .select(
            &["https://github.com/moby/buildkit.git#v0.10.1"],
            &add_opts(&env),
        )
        .unwrap_err();
    assert!(matches!(err, FileOpError::GitSource { .. }), "{err}");
    assert!(
        err.to_string().contains("cannot fetch git sources"),
        "{err}"
    );
}

#[test]
fn context_from_a_gzipped_tar() {
    let env = Env::new();
    env.write("Dockerfile", "FROM scratch\n");
    env.write(".dockerignore", "**/*.secret\n");
    env.write("app/main.js", "main");
    env.write("app/k.secret", "k");
    let tgz = env.tmp.path().join("ctx.tgz");
    let st = Command::new("tar")
        .arg("-czf")
        .arg(&tgz)
        .arg("-C")
        .arg(&env.ctx)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let scratch = env.tmp.path().join("scratch");
    let ctx = BuildContext::from_tar(std::fs::File::open(&tgz).unwrap(), &scratch).unwrap();
    let root = ctx.root().to_path_buf();
    assert!(root.join("Dockerfile").is_file());
    assert!(ctx.is_ignored("app/k.secret"));
    let mut idx = strata_build::context::StatIndex::ephemeral();
    let sel = fileops::select(
        &SourceTree::context(&ctx),
        &["app".into()],
        &copy_opts(),
        &mut idx,
    )
    .unwrap();
    let rels: Vec<&str> = sel.entries.iter().map(|e| &*e.rel).collect();
    assert_eq!(rels, vec!["", "main.js"]);
    assert_eq!(sel.entries[1].uid, 0);
    drop(ctx);
    assert!(!root.exists(), "unpacked context removed on drop");
    let err = BuildContext::from_tar(&b"not a tar at all"[..], &scratch).unwrap_err();
    assert!(
        err.to_string().contains("build context from stdin"),
        "{err}"
    );
    let _ = std::fs::metadata(&scratch).map(|m| m.ino());
}
