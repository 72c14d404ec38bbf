//! Volumes as docker users meet them: named volumes outliving their
//! containers, anonymous volumes from `-v /path` and an image's `VOLUME`
//! (filled from the image, left out of `commit`), `--mount`,
//! `--volumes-from`, `volume rm` of a volume in use, `volume prune`, and
//! a binary on a `-v` mount as the command. See: issue 10.

use std::os::unix::fs::PermissionsExt;

use crate::build_common::{build_ok, context};
use crate::container_common::Ctr;

fn names(t: &Ctr) -> Vec<String> {
    t.ok(["volume", "ls", "-q"])
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn volume_named_survives_rm_and_is_seen_by_a_second_container() {
    let Some(t) = Ctr::new() else { return };
    t.ok([
        "run",
        "--name",
        "writer",
        "-v",
        "data:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    assert_eq!(names(&t), ["data"]);
    // In use by a (stopped) container: docker's refusal.
    let id = t.inspect("writer", "{{.Id}}");
    let err = t.fails_with(1, ["volume", "rm", "data"]);
    assert_eq!(
        err.trim_end(),
        format!("Error response from daemon: remove data: volume is in use - [{id}]")
    );
    let mounts = t.inspect(
        "writer",
        "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.RW}} {{.Driver}}{{end}}",
    );
    assert_eq!(mounts, "volume data /data true local");
    t.ok(["rm", "-v", "writer"]);
    assert_eq!(names(&t), ["data"], "rm -v keeps named volumes");
    let out = t.ok([
        "run",
        "--rm",
        "-n",
        "reader",
        "-v",
        "data:/d:ro",
        "busybox",
        "cat",
        "/d/f",
    ]);
    assert_eq!(out, "kept\n");
    let err = t.fails_with(
        1,
        [
            "run",
            "--rm",
            "--mount",
            "type=volume,src=data,dst=/d,readonly",
            "busybox",
            "touch",
            "/d/x",
        ],
    );
    assert!(err.contains("Read-only file system"), "{err}");
    // --mount of a volume and a tmpfs.
    let out = t.ok([
        "run",
        "--rm",
        "--mount",
        "source=data,target=/m",
        "--mount",
        "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770",
        "busybox",
        "sh",
        "-c",
        "cat /m/f; stat -c %a /t; grep ' /t ' /proc/mounts | grep -o 'size=[0-9]*k'",
    ]);
    assert_eq!(out, "kept\n1770\nsize=1024k\n");
    t.ok(["volume", "rm", "data"]);
    assert!(names(&t).is_empty());
    let err = t.fails_with(1, ["volume", "rm", "data"]);
    assert!(err.contains("no such volume"), "{err}");
    // Bad names and flags fail as docker's do.
    let err = t.fails_with(125, ["run", "--rm", "-v", "a/b:/x", "busybox", "true"]);
    assert!(
        err.contains("includes invalid characters for a local volume name"),
        "{err}"
    );
    let err = t.fails_with(125, ["run", "--rm", "-v", "/x:/", "busybox", "true"]);
    assert!(err.contains("destination can't be '/'"), "{err}");
    let err = t.fails_with(
        125,
        [
            "run",
            "--rm",
            "--mount",
            "type=bind,src=/no/such/strata,dst=/x",
            "busybox",
            "true",
        ],
    );
    assert!(
        err.contains("bind source path does not exist: /no/such/strata"),
        "{err}"
    );
    assert!(names(&t).is_empty(), "failed creates leave no volume");
}

#[test]
fn volume_from_an_image_is_copied_up_and_left_out_of_commit() {
    let Some(t) = Ctr::new() else { return };
    let df = "FROM busybox\nRUN mkdir -p /vol/sub && echo seed > /vol/sub/seed && chown -R 1234:5678 /vol && chmod 0600 /vol/sub/seed && chmod 1777 /vol\nVOLUME /vol\n";
    let dir = context(&t.env, "ctx", &[("Dockerfile", df)]);
    build_ok(&t.env, &dir, &["-t", "withvol"]);
    let out = t.ok([
        "run",
        "--name",
        "c1",
        "withvol",
        "sh",
        "-c",
        "cat /vol/sub/seed; stat -c '%u:%g %a' /vol/sub/seed /vol; echo added > /vol/added; grep -c ' /vol ' /proc/mounts",
    ]);
    assert_eq!(out, "seed\n1234:5678 600\n1234:5678 1777\n1\n");
    let anon = names(&t);
    assert_eq!(anon.len(), 1, "{anon:?}");
    assert_eq!(anon[0].len(), 64, "anonymous volumes have 64-hex names");
    assert_eq!(
        t.inspect("c1", "{{range .Mounts}}{{.Name}}{{end}}"),
        anon[0]
    );
    // The data is in the volume, not the container's layer.
    t.ok(["commit", "c1", "committed"]);
    let out = t.ok(["run", "--rm", "committed", "ls", "/vol"]);
    assert_eq!(out, "sub\n", "commit left the volume's content out");
    // nocopy: an empty volume.
    let out = t.ok([
        "run",
        "--rm",
        "-v",
        "empty:/vol:nocopy",
        "withvol",
        "ls",
        "-A",
        "/vol",
    ]);
    assert_eq!(out, "");
    // A second start does not copy again (the volume is not empty).
    t.ok(["start", "-a", "c1"]);
    let out = t.ok([
        "run",
        "--rm",
        "--volumes-from",
        "c1:ro",
        "busybox",
        "cat",
        "/vol/added",
    ]);
    assert_eq!(out, "added\n", "--volumes-from shares the anonymous volume");
    let err = t.fails_with(
        1,
        [
            "run",
            "--rm",
            "--volumes-from",
            "c1:ro",
            "busybox",
            "touch",
            "/vol/x",
        ],
    );
    assert!(err.contains("Read-only file system"), "{err}");
    // rm -v takes the anonymous volume with it; --rm does too.
    t.ok(["rm", "-v", "c1"]);
    assert_eq!(names(&t), ["empty"]);
    t.ok(["run", "--rm", "withvol", "true"]);
    t.ok(["run", "--rm", "-v", "/anon", "busybox", "true"]);
    assert_eq!(names(&t), ["empty"]);
}

#[test]
fn volume_prune_frees_only_unused_volumes() {
    let Some(t) = Ctr::new() else { return };
    t.ok(["volume", "create", "free"]);
    t.ok(["volume", "create", "--label", "k=v", "used"]);
    t.ok([
        "create", "--name", "holder", "-v", "used:/u", "-v", "/anon", "busybox",
    ]);
    assert_eq!(
        t.ok(["volume", "ls", "-q", "--filter", "dangling=true"]),
        "free\n"
    );
    let dangling_false = t.ok(["volume", "ls", "-q", "--filter", "dangling=false"]);
    assert_eq!(dangling_false.lines().count(), 2, "{dangling_false}");
    assert_eq!(
        t.ok(["volume", "ls", "-q", "--filter", "name=us"]),
        "used\n"
    );
    assert_eq!(
        t.ok(["volume", "ls", "-q", "--filter", "label=k=v"]),
        "used\n"
    );
    // system df counts them: 3 volumes, 2 in use, the unused one's 5
    // bytes reclaimable (docker's row and verbose table).
    std::fs::write(t.env.root.join("volumes/free/_data/f"), b"12345").unwrap();
    let df = t.ok([
        "system",
        "df",
        "--format",
        "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}",
    ]);
    assert!(df.contains("Local Volumes|3|2|5B|5B (100%)\n"), "{df}");
    let dfv = t.ok(["system", "df", "-v"]);
    let rows: Vec<Vec<&str>> = dfv
        .split("Local Volumes space usage:\n\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{dfv}"))
        .lines()
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["VOLUME", "NAME", "LINKS", "SIZE"], "{dfv}");
    assert!(rows.contains(&vec!["free", "0", "5B"]), "{dfv}");
    assert!(rows.contains(&vec!["used", "1", "0B"]), "{dfv}");
    std::fs::remove_file(t.env.root.join("volumes/free/_data/f")).unwrap();
    let out = t.ok(["volume", "prune", "-f"]);
    assert_eq!(out, "Deleted Volumes:\nfree\n\nTotal reclaimed space: 0B\n");
    assert_eq!(names(&t).len(), 2);
    assert!(names(&t).contains(&"used".to_string()));
    t.ok(["rm", "holder"]);
    let out = t.ok(["volume", "prune", "-f"]);
    assert!(out.starts_with("Deleted Volumes:\n"), "{out}");
    assert!(names(&t).is_empty());
}

#[test]
fn container_binary_on_a_mount_can_be_the_command() {
    let Some(t) = Ctr::new() else { return };
    // See: issue 10 (`stat /rt/tool: no such file`).
    let dir = t.env.path("rt");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tool"), "#!/bin/sh\necho tool ran \"$@\"\n").unwrap();
    std::fs::set_permissions(dir.join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let v = format!("{}:/rt:ro", dir.display());
    assert_eq!(
        t.ok(["run", "--rm", "-v", &v, "busybox", "/rt/tool", "x"]),
        "tool ran x\n"
    );
    assert_eq!(
        t.ok([
            "run",
            "--rm",
            "-v",
            &v,
            "-e",
            "PATH=/rt:/bin",
            "busybox",
            "tool"
        ]),
        "tool ran\n"
    );
    let err = t.fails_with(127, ["run", "--rm", "-v", &v, "busybox", "/rt/nope"]);
    assert!(
        err.contains("stat /rt/nope: no such file or directory"),
        "{err}"
    );
}
