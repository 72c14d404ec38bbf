//! `image verify`: rebuilding from the build record with the cache off
//! gives the same image for the web-ping demo and the multi-stage lab case
//! built with SOURCE_DATE_EPOCH, and a different one, naming the file, when
//! a RUN writes the date; the build cache is left as it was.
//! SOURCE_DATE_EPOCH dates history and the image and clamps layer mtimes.
//! See: issue 15.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::Output;

use crate::build_common::{
    build_fails, build_ok, context, image_id, inspect, lab_base, lab_case, step_states,
};
use crate::support::Env;

fn verify(env: &Env, image: &str) -> Output {
    env.run(["image", "verify", image])
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn web_ping_demo_verifies() {
    let env = Env::new();
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../demo/web-ping");
    let dir = env.path("web-ping");
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(&demo)
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success());
    // The demo's base (diamol/node) only has to exist: nothing runs node.
    env.busybox("diamol/node");
    let out = env
        .cmd(["build", "-q", "-t", "web-ping", dir.to_str().unwrap()])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let v = verify(&env, "web-ping");
    let (stdout, stderr) = text(&v);
    assert!(v.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Verified: the rebuild of web-ping is identical"),
        "{stdout}"
    );
    assert!(stdout.contains("SOURCE_DATE_EPOCH 1700000000"), "{stdout}");
    // The epoch dates the image and the new history rows.
    let i = inspect(&env, "web-ping");
    assert_eq!(i["Created"], "2023-11-14T22:13:20Z");
    let h = env.ok(["history", "--format", "{{.CreatedAt}}", "web-ping"]);
    assert!(
        h.lines()
            .take(6)
            .all(|l| l.starts_with("2023-11-14T22:13:20")),
        "{h}"
    );
}

#[test]
fn multi_stage_lab_case_verifies() {
    let env = Env::new();
    let Some(dir) = lab_case(&env, "multi-stage") else {
        return;
    };
    assert!(lab_base(&env, "busybox"));
    build_ok(
        &env,
        &dir,
        &["-t", "lab-ms", "--build-arg", "SOURCE_DATE_EPOCH=0"],
    );
    let v = verify(&env, "lab-ms");
    let (stdout, stderr) = text(&v);
    assert!(v.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("identical"), "{stdout}");
    assert!(!stderr.contains("not consumed"), "{stderr}");
}

/// The sleep makes the rebuild's date a later second than the build's.
const DATED: &str = "FROM base\nCOPY a.txt /a.txt\nRUN date > /built-at && sleep 1\n";

#[test]
fn a_run_that_writes_the_date_is_named() {
    let env = Env::new();
    let base = env.busybox("base");
    let dir = context(&env, "ctx", &[("Dockerfile", DATED), ("a.txt", "a\n")]);
    let args = ["-t", "dated", "--build-arg", "SOURCE_DATE_EPOCH=1600000000"];
    build_ok(&env, &dir, &args);
    let id = image_id(&env, "dated");
    let v = verify(&env, "dated");
    let (stdout, stderr) = text(&v);
    assert_eq!(v.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("/built-at: content differs"), "{stdout}");
    assert!(stdout.contains("layer 3 (RUN"), "{stdout}");
    assert!(
        stderr.contains("dated is not reproducible: /built-at differs"),
        "{stderr}"
    );
    // The rebuild is gone and the build cache is as it was: a build is
    // all cached and gives the very same image.
    assert_eq!(env.ok(["images", "-q"]).lines().count(), 2);
    let p = build_ok(&env, &dir, &args);
    assert!(step_states(&p).iter().all(|(_, s)| s == "CACHED"), "{p}");
    assert_eq!(image_id(&env, "dated"), id);
    // What changed since the build is said.
    std::fs::write(dir.join("Dockerfile"), "FROM base\nRUN true\n").unwrap();
    env.busybox("other");
    env.ok(["tag", "other", "base"]);
    let (stdout, _) = text(&verify(&env, "dated"));
    assert!(stdout.contains("note: FROM base now names"), "{stdout}");
    assert!(
        stdout.contains("Dockerfile was edited since the build"),
        "{stdout}"
    );
    env.ok(["tag", &base, "base"]);
    std::fs::write(dir.join("Dockerfile"), DATED).unwrap();
    // Layer mtimes are clamped to the epoch.
    let out = env.path("rootfs");
    build_ok(
        &env,
        &dir,
        &[
            &args[..],
            &["--output", &format!("type=local,dest={}", out.display())],
        ]
        .concat(),
    );
    let m = std::fs::metadata(out.join("built-at")).unwrap();
    assert_eq!(m.mtime(), 1_600_000_000);
}

#[test]
fn without_an_epoch_the_times_differ_and_the_hint_says_so() {
    let env = Env::new();
    env.busybox("base");
    let dir = context(&env, "ctx", &[("Dockerfile", "FROM base\nWORKDIR /w\n")]);
    build_ok(&env, &dir, &["-t", "plain"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let v = verify(&env, "plain");
    let (stdout, _) = text(&v);
    assert_eq!(v.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("first difference: layer 2 (WORKDIR /w)"),
        "{stdout}"
    );
    assert!(stdout.contains("/w: mtime "), "{stdout}");
    assert!(
        stdout.contains("hint: build with SOURCE_DATE_EPOCH"),
        "{stdout}"
    );
}

#[test]
fn only_built_images_can_be_verified() {
    let env = Env::new();
    env.busybox("base");
    let v = verify(&env, "base");
    let (_, stderr) = text(&v);
    assert_eq!(v.status.code(), Some(1));
    assert!(stderr.contains("has no build record"), "{stderr}");
    let dir = context(&env, "ctx", &[("Dockerfile", "FROM base\n")]);
    let err = build_fails(&env, &dir, &["--build-arg", "SOURCE_DATE_EPOCH=soon"]);
    assert!(err.contains("invalid SOURCE_DATE_EPOCH: soon"), "{err}");
}

#[test]
fn epoch_from_a_global_arg_default() {
    let env = Env::new();
    env.busybox("base");
    let dir = context(
        &env,
        "ctx",
        &[(
            "Dockerfile",
            "ARG SOURCE_DATE_EPOCH=1600000000\nFROM base\nRUN echo x > /x\n",
        )],
    );
    build_ok(&env, &dir, &["-t", "ga"]);
    assert_eq!(inspect(&env, "ga")["Created"], "2020-09-13T12:26:40Z");
    // A build arg wins over the default, and changes the cache key.
    let p = build_ok(
        &env,
        &dir,
        &["-t", "gb", "--build-arg", "SOURCE_DATE_EPOCH=1500000000"],
    );
    assert!(step_states(&p).iter().any(|(_, s)| s == "DONE"), "{p}");
    assert_eq!(inspect(&env, "gb")["Created"], "2017-07-14T02:40:00Z");
}
