//! import, ls, tag, inspect, history, rm and system df on a real store.

use crate::support::Env;

#[test]
fn import_lists_and_inspects_like_docker() {
    let env = Env::new();
    let id = env.busybox("busybox:latest");
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");

    let ls = env.ok(["image", "ls"]);
    let mut lines = ls.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("REPOSITORY   TAG       IMAGE ID       CREATED"),
        "{header:?}"
    );
    let row = lines.next().unwrap();
    assert!(row.starts_with("busybox      latest    "), "{row:?}");
    assert!(row.contains(&id[7..19]), "{row:?}");

    let q = env.ok(["images", "-q"]);
    assert_eq!(q.trim(), &id[7..19]);
    let full = env.ok(["images", "-q", "--no-trunc"]);
    assert_eq!(full.trim(), id);

    let inspect: serde_json::Value =
        serde_json::from_str(&env.ok(["image", "inspect", "busybox"])).unwrap();
    let i = &inspect[0];
    assert_eq!(i["Id"], id.as_str());
    assert_eq!(i["RepoTags"][0], "busybox:latest");
    assert_eq!(i["Config"]["Cmd"][0], "sh");
    assert_eq!(i["Os"], "linux");
    assert_eq!(i["RootFS"]["Type"], "layers");
    assert_eq!(i["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert!(i["Size"].as_u64().unwrap() > 500_000);
    assert_eq!(i["Comment"], "Imported from -");
    let fmt = env.ok([
        "image",
        "inspect",
        "-f",
        "{{.Id}} {{index .Config.Cmd 0}}",
        "busybox",
    ]);
    assert_eq!(fmt.trim(), format!("{id} sh"));
}

#[test]
fn tag_and_rm_follow_docker_rules() {
    let env = Env::new();
    let id = env.busybox("busybox:latest");
    env.ok(["tag", "busybox", "mybox:1"]);
    env.ok(["image", "tag", &id[7..19], "127.0.0.1:5000/mybox"]);
    let ls = env.ok(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let mut names: Vec<&str> = ls.lines().collect();
    names.sort();
    assert_eq!(
        names,
        ["127.0.0.1:5000/mybox:latest", "busybox:latest", "mybox:1"]
    );

    // Removing one of several references only untags.
    let out = env.ok(["rmi", "mybox:1"]);
    assert_eq!(out, "Untagged: mybox:1\n");
    // By ID with references in several repositories: refused without -f.
    let err = env.fails(["rmi", &id[7..19]]);
    assert!(
        err.contains("image is referenced in multiple repositories"),
        "{err}"
    );
    let out = env.ok(["rmi", "-f", &id[7..19]]);
    assert!(out.contains("Untagged: busybox:latest"), "{out}");
    assert!(out.ends_with(&format!("Deleted: {id}\n")), "{out}");
    assert_eq!(env.ok(["images", "-q"]), "");
    // The layer's blob and snapshot are gone too.
    assert!(
        env.store_files().iter().all(|(p, _)| p.ends_with('/')),
        "{:?}",
        env.store_files()
    );
    let err = env.fails(["rmi", "busybox"]);
    assert!(err.contains("No such image: busybox"), "{err}");
}

#[test]
fn shared_layers_survive_while_used() {
    let env = Env::new();
    env.busybox("one:latest");
    // A second image with the same layer but another config.
    let tar = crate::support::busybox_rootfs_tar();
    env.ok([
        "import",
        "-m",
        "second",
        tar.to_str().unwrap(),
        "two:latest",
    ]);
    let df = env.ok(["system", "df", "-v"]);
    assert!(df.contains("one") && df.contains("two"), "{df}");
    env.ok(["rmi", "one"]);
    // two still runs off the shared layer.
    let hist = env.ok(["history", "two"]);
    assert!(hist.contains("second"), "{hist}");
    let blobs_before = env
        .store_files()
        .iter()
        .filter(|(p, _)| p.starts_with("blobs/sha256/") && !p.ends_with('/'))
        .count();
    assert!(
        blobs_before >= 3,
        "layer + config + manifest of two: {blobs_before}"
    );
}

#[test]
fn history_rows_match_docker_layout() {
    let env = Env::new();
    let id = env.busybox("busybox:latest");
    let h = env.ok(["image", "history", "busybox"]);
    let lines: Vec<&str> = h.lines().collect();
    let cols: Vec<&str> = lines[0]
        .split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        cols,
        ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
        "{h}"
    );
    assert!(lines[0].starts_with("IMAGE          CREATED "), "{h}");
    assert!(lines[1].starts_with(&id[7..19]), "{h}");
    assert!(lines[1].contains("Imported from"), "{h}");
    let q = env.ok(["history", "-q", "--no-trunc", "busybox"]);
    assert_eq!(q.trim(), id);
    let json = env.ok(["history", "--format", "json", "busybox"]);
    let v: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(v["ID"], &id[7..19]);
    assert!(v["Size"].as_str().unwrap().ends_with("MB"), "{v}");
    let human = env.ok(["history", "--human=false", "busybox"]);
    assert!(human.starts_with("IMAGE          CREATED AT"), "{human}");
}

#[test]
fn system_df_counts_shared_and_unique() {
    let env = Env::new();
    env.busybox("a:1");
    let df = env.ok(["system", "df"]);
    let lines: Vec<&str> = df.lines().collect();
    assert!(lines[0].starts_with("TYPE"), "{df}");
    assert!(lines[1].starts_with("Images          1         "), "{df}");
}
