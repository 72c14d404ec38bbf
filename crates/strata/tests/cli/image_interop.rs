//! Interop with real tools: skopeo and umoci read what strata saves; docker
//! loads strata's docker-archives; strata loads what skopeo and docker write,
//! and agrees with docker on history and inspect.

use std::process::Command;

use crate::support::{self, Env, sh, skip, which};

#[test]
fn skopeo_and_umoci_read_oci_archives() {
    let (Some(skopeo), Some(umoci)) = (which("skopeo"), which("umoci")) else {
        return skip("skopeo and umoci are needed (apt-get install skopeo umoci)");
    };
    let env = Env::new();
    let id = env.busybox("busybox:latest");
    let tar = env.path("oci.tar");
    env.ok([
        "save",
        "--format",
        "oci",
        "-o",
        tar.to_str().unwrap(),
        "busybox",
    ]);
    let out = sh(Command::new(&skopeo).args([
        "inspect",
        "--raw",
        &format!("oci-archive:{}", tar.display()),
    ]));
    let m: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(m["config"]["digest"], id.as_str());
    let cfg = sh(Command::new(&skopeo).args([
        "inspect",
        "--config",
        &format!("oci-archive:{}", tar.display()),
    ]));
    assert!(cfg.contains("\"sh\""), "{cfg}");

    // umoci unpacks the same rootfs as the tarball we imported.
    let layout = env.path("layout");
    support::untar(&tar, &layout);
    let bundle = env.path("bundle");
    sh(Command::new(&umoci).args([
        "unpack",
        "--image",
        &format!("{}:latest", layout.display()),
        bundle.to_str().unwrap(),
    ]));
    let expected = env.path("expected");
    support::untar(&support::busybox_rootfs_tar(), &expected);
    support::assert_same_tree(&bundle.join("rootfs"), &expected);
}

#[test]
fn skopeo_made_layout_loads() {
    let Some(skopeo) = which("skopeo") else {
        return skip("skopeo is needed (apt-get install skopeo)");
    };
    let env = Env::new();
    let id = env.busybox("busybox:latest");
    let docker_tar = env.path("d.tar");
    env.ok(["save", "-o", docker_tar.to_str().unwrap(), "busybox"]);
    // skopeo re-encodes it as an OCI archive of its own making.
    let oci = env.path("skopeo-oci.tar");
    sh(Command::new(&skopeo).args([
        "copy",
        &format!("docker-archive:{}", docker_tar.display()),
        &format!("oci-archive:{}:copied", oci.display()),
    ]));
    let env2 = Env::new();
    let out = env2.ok(["load", "-i", oci.to_str().unwrap()]);
    assert!(out.contains("Loaded image"), "{out}");
    // skopeo rewrites the config for OCI (so the ID changes); the layers and
    // the runtime config must survive.
    let _ = id;
    let fmt = "{{json .RootFS.Layers}} {{json .Config.Cmd}} {{.Os}}";
    let loaded = env2.ok(["images", "-q", "--no-trunc"]);
    assert_eq!(loaded.lines().count(), 1, "{loaded}");
    assert_eq!(
        env2.ok(["image", "inspect", "-f", fmt, loaded.trim()]),
        env.ok(["image", "inspect", "-f", fmt, "busybox"])
    );
}

#[test]
fn docker_loads_strata_archives_and_strata_loads_docker_saves() {
    let Some(mut docker) = support::docker() else {
        return skip(
            "no running dockerd (scripts/test.sh starts one; STRATA_TEST_DOCKER_HOST unset)",
        );
    };
    let env = Env::new();
    let id = env.busybox("strata-interop/busybox:latest");
    let tar = env.path("d.tar");
    env.ok([
        "save",
        "-o",
        tar.to_str().unwrap(),
        "strata-interop/busybox",
    ]);
    let out = sh(docker.args(["load", "-i", tar.to_str().unwrap()]));
    assert!(out.contains("strata-interop/busybox:latest"), "{out}");
    let mut d = support::docker().unwrap();
    let did = sh(d.args([
        "image",
        "inspect",
        "-f",
        "{{.Id}}",
        "strata-interop/busybox:latest",
    ]));
    assert_eq!(did.trim(), id);

    // docker's own import + save loads into strata; history and inspect agree.
    let mut d = support::docker().unwrap();
    let dimg = sh(d.args([
        "import",
        "-m",
        "from docker",
        support::busybox_rootfs_tar().to_str().unwrap(),
        "strata-interop/from-docker:1",
    ]));
    let dtar = env.path("docker-save.tar");
    let mut d = support::docker().unwrap();
    sh(d.args([
        "save",
        "-o",
        dtar.to_str().unwrap(),
        "strata-interop/from-docker:1",
    ]));
    let env2 = Env::new();
    let out = env2.ok(["load", "-i", dtar.to_str().unwrap()]);
    assert!(
        out.contains("Loaded image: strata-interop/from-docker:1"),
        "{out}"
    );
    assert_eq!(env2.ok(["images", "-q", "--no-trunc"]).trim(), dimg.trim());
    let fmt = "{{.CreatedBy}}|{{.Size}}|{{.Comment}}";
    let mut d = support::docker().unwrap();
    let dh = sh(d.args(["history", "--format", fmt, "strata-interop/from-docker:1"]));
    let sh_ = env2.ok(["history", "--format", fmt, "strata-interop/from-docker:1"]);
    assert_eq!(sh_, dh);
    let ifmt = "{{.Id}} {{.Os}} {{.Architecture}} {{json .Config.Cmd}} {{json .RootFS.Layers}} {{.Size}} {{.Comment}}";
    let mut d = support::docker().unwrap();
    let di = sh(d.args([
        "image",
        "inspect",
        "-f",
        ifmt,
        "strata-interop/from-docker:1",
    ]));
    let si = env2.ok([
        "image",
        "inspect",
        "-f",
        ifmt,
        "strata-interop/from-docker:1",
    ]);
    assert_eq!(si, di);
    for img in [
        "strata-interop/busybox:latest",
        "strata-interop/from-docker:1",
    ] {
        let mut d = support::docker().unwrap();
        let _ = d.args(["rmi", "-f", img]).output();
    }
}
