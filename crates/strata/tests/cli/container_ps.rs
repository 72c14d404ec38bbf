//! `strata ps`: docker's columns, flags and filters (issue 4).

use crate::container_common::Ctr;

#[test]
fn ps_table_and_flags() {
    let Some(t) = Ctr::new() else { return };
    let done = t.run([
        "run",
        "--name",
        "done",
        "busybox",
        "sh",
        "-c",
        "echo a long command line here; exit 1",
    ]);
    assert_eq!(done.status.code(), Some(1));
    let up = t
        .ok(["run", "-d", "--name", "up", "busybox", "sleep", "60"])
        .trim()
        .to_string();
    t.ok(["create", "--name", "fresh", "busybox"]);

    let ps = t.ok(["ps"]);
    let lines: Vec<&str> = ps.lines().collect();
    assert_eq!(lines.len(), 2, "{ps}");
    assert!(
        lines[0].starts_with("CONTAINER ID   IMAGE     COMMAND      CREATED"),
        "{ps}"
    );
    assert!(lines[0].ends_with("PORTS     NAMES"), "{ps}");
    assert!(lines[1].starts_with(&up[..12]));
    assert!(lines[1].contains("\"sleep 60\""));
    assert!(lines[1].contains("Up "));

    let all = t.ok([
        "ps",
        "-a",
        "--format",
        "{{.Names}}|{{.Command}}|{{.Status}}",
    ]);
    let rows: Vec<&str> = all.lines().collect();
    assert_eq!(rows.len(), 3, "{all}");
    assert_eq!(rows[0], "fresh|\"sh\"|Created");
    assert!(
        rows[2].starts_with("done|\"sh -c 'echo a long …\"|Exited (1) "),
        "{all}"
    );

    assert_eq!(t.ok(["ps", "-q"]).trim(), &up[..12]);
    assert_eq!(t.ok(["ps", "-q", "--no-trunc"]).trim(), up);
    assert_eq!(t.ok(["ps", "-l", "--format", "{{.Names}}"]), "fresh\n");
    assert_eq!(
        t.ok(["ps", "-n", "2", "--format", "{{.Names}}"]),
        "fresh\nup\n"
    );
    assert_eq!(
        t.ok([
            "ps",
            "-a",
            "--filter",
            "status=exited",
            "--format",
            "{{.Names}}"
        ]),
        "done\n"
    );
    assert_eq!(
        t.ok(["ps", "-a", "-f", "name=fre", "--format", "{{.Names}}"]),
        "fresh\n"
    );
    assert_eq!(
        t.ok([
            "ps",
            "-a",
            "-f",
            &format!("id={}", &up[..6]),
            "--format",
            "{{.Names}}"
        ]),
        "up\n"
    );
    assert_eq!(
        t.ok(["ps", "-a", "-f", "ancestor=busybox", "-q"])
            .lines()
            .count(),
        3
    );
    assert_eq!(
        t.ok([
            "ps",
            "-a",
            "-f",
            "status=running",
            "-f",
            "status=created",
            "--format",
            "{{.Names}}"
        ]),
        "fresh\nup\n"
    );
    let json = t.ok(["ps", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["Names"], "up");
    assert_eq!(v["State"], "running");
    assert_eq!(v["Command"], "\"sleep 60\"");
    t.fails_with(1, ["ps", "-f", "status=bogus"]);
}
