//! `strata cp` both ways, tar streams, and symlinks that try to leave the
//! container (issue 4).

use std::io::Read;

use crate::container_common::{Ctr, mounts_under};

#[test]
fn copy_out_and_in() {
    let Some(t) = Ctr::new() else { return };
    t.ok(["run", "--name", "cc", "busybox", "sh", "-c",
          "mkdir -p /data/sub && echo one > /data/a.txt && echo two > /data/sub/b.txt && ln -sf /data/a.txt /data/link && ls /data"]);
    let out = t.env.path("out");
    std::fs::create_dir_all(&out).unwrap();
    // A file to a new name, a directory into an existing one.
    t.ok([
        "cp",
        "cc:/data/a.txt",
        out.join("copy.txt").to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(out.join("copy.txt")).unwrap(),
        "one\n"
    );
    t.ok(["cp", "cc:/data", out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(out.join("data/sub/b.txt")).unwrap(),
        "two\n"
    );
    assert_eq!(
        std::fs::read_link(out.join("data/link")).unwrap(),
        std::path::Path::new("/data/a.txt")
    );
    // The container is stopped: nothing stays mounted after the copy.
    assert!(mounts_under(&t.env.root).is_empty());

    // Into the container, then read it back from a run of the container.
    let src = t.env.path("in.txt");
    std::fs::write(&src, "from host\n").unwrap();
    t.ok(["cp", src.to_str().unwrap(), "cc:/data/"]);
    t.ok(["cp", src.to_str().unwrap(), "cc:/data/renamed.txt"]);
    // The container's process sees both copies.
    let listing = t.ok(["start", "-a", "cc"]);
    assert!(
        listing.contains("in.txt") && listing.contains("renamed.txt"),
        "{listing}"
    );
    let check = t.ok(["cp", "cc:/data/renamed.txt", "-"]);
    assert!(check.contains("from host"));
    let err = t
        .env
        .fails(["cp", src.to_str().unwrap(), "cc:/missing/dir/x"]);
    assert!(err.contains("no such directory"), "{err}");
}

#[test]
fn tar_streams_and_running_containers() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "run",
        "-d",
        "--name",
        "rr",
        "--tmpfs",
        "/mnt/t",
        "busybox",
        "sh",
        "-c",
        "echo live > /mnt/t/f; sleep 60",
    ]);
    t.until(10, "the write", || {
        t.run(["exec", "rr", "cat", "/mnt/t/f"]).stdout == b"live\n"
    });
    // A running container is copied from its own view (its tmpfs too).
    let mut child = t
        .env
        .cmd(["cp", "rr:/mnt/t/f", "-"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut tar_bytes = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut tar_bytes)
        .unwrap();
    assert!(child.wait().unwrap().success());
    let mut ar = tar::Archive::new(&tar_bytes[..]);
    let mut names = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        names.push(e.path().unwrap().display().to_string());
        let mut s = String::new();
        e.read_to_string(&mut s).unwrap();
        assert_eq!(s, "live\n");
    }
    assert_eq!(names, ["f"]);
    // A tar on stdin lands in a directory of the running container.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "streamed.txt", &b"tar\n"[..])
        .unwrap();
    let data = b.into_inner().unwrap();
    let out = t.env.run_stdin(["cp", "-", "rr:/tmp"], &data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(t.ok(["exec", "rr", "cat", "/tmp/streamed.txt"]), "tar\n");
}

#[test]
fn symlinks_never_lead_out_of_the_container() {
    let Some(t) = Ctr::new() else { return };
    let marker = t.env.path("host-secret");
    std::fs::write(&marker, "host only\n").unwrap();
    let escape = format!(
        "ln -s {} /escape && ln -s / /root-link && ln -s ../../../../.. /up",
        marker.display()
    );
    t.ok(["run", "--name", "evil", "busybox", "sh", "-c", &escape]);
    // Reading through the links reads the container's files, not the host's.
    let out = t.run(["cp", "evil:/root-link/etc/passwd", "-"]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nobody:x:65534"),
        "container passwd"
    );
    let out = t.run(["cp", "-L", "evil:/escape", "-"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("host only"));
    // Writing through them writes inside the container.
    let src = t.env.path("payload");
    std::fs::write(&src, "payload\n").unwrap();
    let host_dir = t.env.path("victim");
    std::fs::create_dir_all(&host_dir).unwrap();
    let target = format!("evil:/up{}/", host_dir.display());
    let _ = t.run(["cp", src.to_str().unwrap(), &target]);
    assert!(!host_dir.join("payload").exists(), "escaped to the host");
    assert!(mounts_under(&t.env.root).is_empty());
}
