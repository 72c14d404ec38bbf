//! `strata inspect` / `container inspect`: docker's container JSON (issue 4).

use crate::container_common::Ctr;

#[test]
fn inspect_has_dockers_fields() {
    let Some(t) = Ctr::new() else { return };
    let data = t.env.path("vol");
    std::fs::create_dir_all(&data).unwrap();
    let vol = format!("{}:/vol:ro", data.display());
    let _ = t.run([
        "run",
        "--name",
        "insp",
        "-e",
        "A=1",
        "-v",
        &vol,
        "--network",
        "none",
        "-w",
        "/tmp",
        "busybox",
        "sh",
        "-c",
        "exit 2",
    ]);
    let out = t.ok(["container", "inspect", "insp"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = &v[0];
    assert_eq!(c["Id"].as_str().unwrap().len(), 64);
    assert_eq!(c["Name"], "/insp");
    assert_eq!(c["Path"], "sh");
    assert_eq!(c["Args"], serde_json::json!(["-c", "exit 2"]));
    assert_eq!(c["Driver"], "overlay");
    assert_eq!(c["Platform"], "linux");
    assert_eq!(c["RestartCount"], 0);
    assert_eq!(c["MountLabel"], "");
    let s = &c["State"];
    assert_eq!(s["Status"], "exited");
    assert_eq!(s["Running"], false);
    assert_eq!(s["ExitCode"], 2);
    assert_eq!(s["Pid"], 0);
    for k in ["Paused", "Restarting", "OOMKilled", "Dead"] {
        assert_eq!(s[k], false, "{k}");
    }
    assert!(s["StartedAt"].as_str().unwrap().ends_with('Z'));
    assert!(s["FinishedAt"].as_str().unwrap() >= s["StartedAt"].as_str().unwrap());
    assert!(c["Image"].as_str().unwrap().starts_with("sha256:"));
    for k in ["ResolvConfPath", "HostnamePath", "HostsPath", "LogPath"] {
        assert!(std::path::Path::new(c[k].as_str().unwrap()).exists(), "{k}");
    }
    assert_eq!(c["HostConfig"]["NetworkMode"], "none");
    assert_eq!(c["HostConfig"]["Binds"][0], vol.as_str());
    assert_eq!(c["Mounts"][0]["Destination"], "/vol");
    assert_eq!(c["Mounts"][0]["RW"], false);
    assert_eq!(c["Config"]["Image"], "busybox");
    assert_eq!(c["Config"]["WorkingDir"], "/tmp");
    assert_eq!(
        c["Config"]["Cmd"],
        serde_json::json!(["sh", "-c", "exit 2"])
    );
    assert!(
        c["Config"]["Env"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("A=1"))
    );
    assert!(c["NetworkSettings"]["Networks"]["none"].is_object());
    assert!(
        c["State"].get("Strata").is_none(),
        "private state stays private"
    );

    // Templates, and the top-level inspect falling back to images.
    assert_eq!(
        t.inspect("insp", "{{.State.ExitCode}} {{json .Config.Cmd}}"),
        r#"2 ["sh","-c","exit 2"]"#
    );
    let img = t.ok(["inspect", "-f", "{{index .RepoTags 0}}", "busybox"]);
    assert_eq!(img.trim(), "busybox:latest");
    let out = t.run(["inspect", "nothing-like-it"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such object: nothing-like-it"));
}

#[test]
fn inspect_of_a_running_container() {
    let Some(t) = Ctr::new() else { return };
    t.ok(["run", "-d", "--name", "rr", "busybox", "sleep", "60"]);
    let pid: i32 = t.inspect("rr", "{{.State.Pid}}").parse().unwrap();
    assert!(pid > 0);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(cmdline, b"sleep\x0060\x00");
    assert_eq!(
        t.inspect("rr", "{{.State.Status}} {{.State.Running}}"),
        "running true"
    );
}
