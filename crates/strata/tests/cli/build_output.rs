//! Build inputs and outputs: `-f -`, context `-` (tar or Dockerfile on
//! stdin), `--output type=oci|docker|local`, `--progress json|tty`,
//! `--check`, `--platform`. See: issue 6.

use crate::build_common::{build_ok, context, image_id};
use crate::support::{Env, tar_dir};

#[test]
fn dockerfile_and_context_from_stdin() {
    let env = Env::new();
    env.busybox("base");
    let dir = context(&env, "ctx", &[("hello.txt", "hi\n")]);
    // -f -: the Dockerfile on stdin, the context a directory.
    let out = env.run_stdin(
        ["build", "-q", "-f", "-", "-t", "a", dir.to_str().unwrap()],
        b"FROM base\nCOPY hello.txt /\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.ok(["run", "--rm", "a", "cat", "/hello.txt"]), "hi\n");
    // context -: a tar with its Dockerfile.
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM base\nCOPY hello.txt /from-tar.txt\n",
    )
    .unwrap();
    let tar = env.path("ctx.tar");
    tar_dir(&dir, &tar);
    let out = env.run_stdin(
        ["build", "-q", "-t", "b", "-"],
        &std::fs::read(&tar).unwrap(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.ok(["run", "--rm", "b", "cat", "/from-tar.txt"]), "hi\n");
    // context - that is not a tar: a Dockerfile with an empty context.
    let out = env.run_stdin(
        ["build", "-q", "-t", "c", "-"],
        b"FROM base\nRUN echo c > /c\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.ok(["run", "--rm", "c", "cat", "/c"]), "c\n");
    // Both on stdin is refused.
    let out = env.run_stdin(["build", "-f", "-", "-"], b"FROM base\n");
    assert!(!out.status.success());
}

#[test]
fn outputs_oci_docker_and_json_progress() {
    let env = Env::new();
    env.busybox("base");
    let dir = context(
        &env,
        "ctx",
        &[("Dockerfile", "FROM base\nRUN echo x > /x\n")],
    );
    let (oci, docker) = (env.path("o.tar"), env.path("d.tar"));
    let out = env.run([
        "build",
        "--progress",
        "json",
        "-t",
        "out",
        "--output",
        &format!("type=oci,dest={}", oci.display()),
        "--output",
        &format!("type=docker,dest={}", docker.display()),
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let mut running = 0;
    for line in err.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        if v["status"] == "running" {
            running += 1;
        }
    }
    assert!(running >= 2, "{err}");
    for tar in [&oci, &docker] {
        let list = std::process::Command::new("tar")
            .arg("-tf")
            .arg(tar)
            .output()
            .unwrap();
        let names = String::from_utf8_lossy(&list.stdout);
        assert!(names.contains("index.json"), "{names}");
    }
    let list = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&docker)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("manifest.json"));
    // The OCI archive loads back as the same image.
    let id = image_id(&env, "out");
    let env2 = Env::new();
    env2.ok(["load", "-i", oci.to_str().unwrap()]);
    assert_eq!(image_id(&env2, "out"), id);
}

#[test]
fn check_lints_without_building() {
    let env = Env::new();
    let dir = context(
        &env,
        "ctx",
        &[("Dockerfile", "FROM busybox as base\nCMD echo hi\n")],
    );
    let out = env.run(["build", "--check", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Check complete, 2 warnings have been found!"),
        "{text}"
    );
    assert!(text.contains("WARN: FromAsCasing"), "{text}");
    assert!(text.contains("WARN: JSONArgsRecommended"), "{text}");
    assert!(text.contains(">>> CMD echo hi"), "{text}");
    assert!(env.ok(["images", "-q"]).is_empty(), "nothing built");
    let dir = context(
        &env,
        "ok",
        &[("Dockerfile", "FROM busybox\nCMD [\"sh\"]\n")],
    );
    let text = env.ok(["build", "--check", dir.to_str().unwrap()]);
    assert_eq!(text, "Check complete, no warnings found.\n");
}

#[test]
fn platform_other_than_the_host_is_refused() {
    let env = Env::new();
    env.busybox("base");
    let dir = context(&env, "ctx", &[("Dockerfile", "FROM base\n")]);
    let other = if cfg!(target_arch = "x86_64") {
        "linux/arm64"
    } else {
        "linux/amd64"
    };
    let err = crate::build_common::build_fails(&env, &dir, &["--platform", other]);
    assert!(
        err.contains(other) && err.contains("host platform"),
        "{err}"
    );
    let dir = context(
        &env,
        "ctx2",
        &[("Dockerfile", &format!("FROM --platform={other} base\n"))],
    );
    let err = crate::build_common::build_fails(&env, &dir, &[]);
    assert!(err.contains(other), "{err}");
    // The host's own platform is fine.
    let host = if cfg!(target_arch = "x86_64") {
        "linux/amd64"
    } else {
        "linux/arm64"
    };
    build_ok(
        &env,
        &dir.parent().unwrap().join("ctx"),
        &["--platform", host],
    );
}
