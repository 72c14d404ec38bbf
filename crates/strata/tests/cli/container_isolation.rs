//! Isolation: PID 1, invisible host processes and mounts, docker's
//! capabilities, read-only /proc/sys, copy-on-write rootfs (issue 4).

use crate::container_common::Ctr;

fn snapshot_listing(root: &std::path::Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    fn walk(d: &std::path::Path, base: &std::path::Path, out: &mut Vec<(String, u64)>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            out.push((
                p.strip_prefix(base).unwrap().display().to_string(),
                md.len(),
            ));
            if md.is_dir() {
                walk(&p, base, out);
            }
        }
    }
    walk(&root.join("snapshots"), root, &mut out);
    out.sort();
    out
}

#[test]
fn the_container_sees_only_itself() {
    let Some(t) = Ctr::new() else { return };
    let out = t.ok(["run", "--rm", "busybox", "sh", "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /proc | grep -c '^[0-9]'; cat /proc/self/mountinfo"]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        "sh -c cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /proc | grep -c '^[0-9]'; cat /proc/self/mountinfo "
    );
    let procs: usize = lines.next().unwrap().parse().unwrap();
    assert!(procs <= 5, "host processes visible: {procs}");
    let mountinfo: Vec<&str> = lines.collect();
    let host_root = t.env.root.display().to_string();
    for m in &mountinfo {
        let mp = m.split(' ').nth(4).unwrap();
        assert!(
            !mp.starts_with("/work") && !mp.starts_with(&host_root),
            "host mount visible: {m}"
        );
    }
    assert!(mountinfo.iter().any(|m| m.split(' ').nth(4) == Some("/")));
}

#[test]
fn capabilities_are_dockers_default_set() {
    let Some(t) = Ctr::new() else { return };
    let out = t.ok([
        "run",
        "--rm",
        "busybox",
        "grep",
        "^Cap",
        "/proc/self/status",
    ]);
    assert_eq!(
        out,
        "CapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\n"
    );
    let out = t.ok([
        "run",
        "--rm",
        "-u",
        "nobody",
        "busybox",
        "grep",
        "^Cap[EB]",
        "/proc/self/status",
    ]);
    assert_eq!(
        out,
        "CapEff:\t0000000000000000\nCapBnd:\t00000000a80425fb\n"
    );
    let nnp = t.ok([
        "run",
        "--rm",
        "busybox",
        "grep",
        "NoNewPrivs",
        "/proc/self/status",
    ]);
    // docker leaves no_new_privs off unless `--security-opt no-new-privileges`.
    assert_eq!(nnp, "NoNewPrivs:\t0\n");
    let nnp = t.ok([
        "run",
        "--rm",
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "grep",
        "NoNewPrivs",
        "/proc/self/status",
    ]);
    assert_eq!(nnp, "NoNewPrivs:\t1\n");
    // Nothing blocked or ignored is inherited from strata's own processes.
    let sig = t.ok([
        "run",
        "--rm",
        "busybox",
        "grep",
        "-E",
        "^Sig(Blk|Ign)",
        "/proc/self/status",
    ]);
    assert_eq!(
        sig,
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
    );
}

#[test]
fn kernel_interfaces_are_protected() {
    let Some(t) = Ctr::new() else { return };
    let out = t.run([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo 1 > /proc/sys/vm/drop_caches",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Read-only file system"));
    let out = t.run([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo x > /sys/kernel/uevent_helper",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(
        t.ok(["run", "--rm", "busybox", "cat", "/proc/keys"]),
        "",
        "masked"
    );
    // CAP_MKNOD is in docker's set, but the device cgroup denies access.
    let out = t.run([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "mknod /tmp/sda b 8 0 && echo made && head -c1 /tmp/sda",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "made\n");
    assert_ne!(out.status.code(), Some(0), "block devices are not readable");
    let devs = t.ok(["run", "--rm", "busybox", "ls", "/dev"]);
    for d in [
        "full", "null", "ptmx", "pts", "random", "shm", "mqueue", "tty", "urandom", "zero",
    ] {
        assert!(devs.lines().any(|l| l == d), "/dev/{d} missing: {devs}");
    }
}

#[test]
fn writes_never_touch_the_image() {
    let Some(t) = Ctr::new() else { return };
    let before = snapshot_listing(&t.env.root);
    t.ok([
        "run",
        "--name",
        "ww",
        "busybox",
        "sh",
        "-c",
        "echo changed > /etc/passwd; rm /bin/ls; mkdir /newdir; echo x > /newdir/f",
    ]);
    assert_eq!(snapshot_listing(&t.env.root), before);
    assert!(
        t.ok(["run", "--rm", "busybox", "cat", "/etc/passwd"])
            .starts_with("root:x:0:0")
    );
    assert!(
        t.run(["run", "--rm", "busybox", "ls", "/"])
            .status
            .success()
    );
    let upper = std::path::PathBuf::from(t.inspect("ww", "{{.GraphDriver.Data.UpperDir}}"));
    assert!(upper.join("newdir/f").is_file());
    assert_eq!(
        std::fs::read_to_string(upper.join("etc/passwd")).unwrap(),
        "changed\n"
    );
    let meta = std::fs::symlink_metadata(upper.join("bin/ls")).unwrap();
    use std::os::unix::fs::FileTypeExt;
    assert!(
        meta.file_type().is_char_device(),
        "a deletion is an overlay whiteout"
    );
    assert!(
        !upper.join("etc/hosts").exists(),
        "mount points stay out of the upper dir"
    );
}
