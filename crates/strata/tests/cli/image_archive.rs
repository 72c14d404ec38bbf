//! save and load: both formats, round trips, several images, stdin/stdout,
//! and a load killed half-way.

use std::process::Stdio;

use crate::support::{self, Env};

#[test]
fn docker_and_oci_archives_round_trip() {
    for format in ["docker", "oci"] {
        let env = Env::new();
        let id = env.busybox("busybox:latest");
        env.ok(["tag", "busybox", "other:v2"]);
        let tar = env.path("out.tar");
        env.ok([
            "save",
            "--format",
            format,
            "-o",
            tar.to_str().unwrap(),
            "busybox",
            "other:v2",
        ]);
        let files_before = env.store_files();

        let env2 = Env::new();
        let out = env2.ok(["load", "-i", tar.to_str().unwrap()]);
        assert!(
            out.contains("Loaded image: busybox:latest"),
            "{format}: {out}"
        );
        assert!(out.contains("Loaded image: other:v2"), "{format}: {out}");
        assert_eq!(env2.ok(["images", "-q", "--no-trunc"]).trim(), id);
        // Same blobs, byte for byte (same manifest digest, no recompression).
        let blobs = |files: &[(String, u64)]| -> Vec<(String, u64)> {
            files
                .iter()
                .filter(|(p, _)| p.starts_with("blobs/"))
                .cloned()
                .collect()
        };
        assert_eq!(blobs(&env2.store_files()), blobs(&files_before), "{format}");
    }
}

#[test]
fn save_to_stdout_and_load_from_stdin() {
    let env = Env::new();
    let id = env.busybox("busybox:latest");
    let out = env
        .cmd(["save", "busybox"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.len() > 500_000);
    let env2 = Env::new();
    let loaded = env2.run_stdin(["load"], &out.stdout);
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    assert_eq!(env2.ok(["images", "-q", "--no-trunc"]).trim(), id);
    // gzip-compressed archives load too.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &out.stdout).unwrap();
    let env3 = Env::new();
    let loaded = env3.run_stdin(["load", "-q"], &gz.finish().unwrap());
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    assert!(loaded.stdout.is_empty());
}

#[test]
fn saving_by_id_records_no_tag() {
    let env = Env::new();
    let id = env.busybox("busybox:latest");
    let tar = env.path("byid.tar");
    env.ok(["save", "-o", tar.to_str().unwrap(), &id[7..19]]);
    let env2 = Env::new();
    let out = env2.ok(["load", "-i", tar.to_str().unwrap()]);
    assert_eq!(out, format!("Loaded image ID: {id}\n"));
}

#[test]
fn killed_load_leaves_no_partial_image() {
    let env = Env::new();
    // A big layer so the load is still running when it is killed.
    let rootfs = env.path("big");
    std::fs::create_dir_all(&rootfs).unwrap();
    let mut data = vec![0u8; 64 << 20];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    for i in 0..4 {
        std::fs::write(rootfs.join(format!("f{i}")), &data).unwrap();
    }
    let layer = env.path("big.tar");
    support::tar_dir(&rootfs, &layer);
    env.ok(["import", layer.to_str().unwrap(), "big:latest"]);
    let archive = env.path("big-save.tar");
    env.ok(["save", "-o", archive.to_str().unwrap(), "big"]);

    let env2 = Env::new();
    env2.ok(["images"]); // creates the root
    let mut child = env2
        .cmd(["load", "-i", archive.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it is writing into its scratch space, then kill it.
    let tmp = env2.root.join("tmp");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let busy = std::fs::read_dir(&tmp)
            .map(|rd| {
                rd.flatten().any(|e| {
                    e.path().is_dir()
                        && std::fs::read_dir(e.path())
                            .map(|mut d| d.next().is_some())
                            .unwrap_or(false)
                })
            })
            .unwrap_or(false);
        if busy || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(env2.ok(["images", "-q"]), "", "no partial image is visible");
    // That command's start swept the dead process's scratch space.
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "tmp/ not cleaned: {left:?}");
    // And loading again works.
    env2.ok(["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(
        env2.ok(["images", "--format", "{{.Repository}}"]).trim(),
        "big"
    );
}
