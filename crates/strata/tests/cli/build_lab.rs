//! The five lab cases of ../shared/lab/cases build, and their configs
//! equal what BuildKit writes for them: field by field against a live
//! `docker build` (BuildKit) when a docker daemon is available, and against
//! the fields BuildKit wrote in the lab (recorded below) otherwise. Cases on
//! node/debian bases skip without the lab's base images; busybox ones run
//! everywhere. See: issue 6.

use serde_json::{Value, json};

use crate::build_common::{build_ok, inspect, lab_base, lab_case, raw_config, step_states};
use crate::support::{Env, docker, sh, skip};

/// The config fields BuildKit sets that strata must match (`OnBuild: null`
/// and absent are the same).
const FIELDS: &[&str] = &[
    "User",
    "ExposedPorts",
    "Env",
    "Entrypoint",
    "Cmd",
    "Volumes",
    "WorkingDir",
    "Labels",
    "StopSignal",
    "ArgsEscaped",
    "Healthcheck",
    "Shell",
];

fn fields(cfg: &Value) -> Vec<(String, Value)> {
    FIELDS
        .iter()
        .map(|f| (f.to_string(), cfg.get(*f).cloned().unwrap_or(Value::Null)))
        .filter(|(_, v)| !v.is_null() && v.as_str() != Some(""))
        .collect()
}

/// Compares with a live BuildKit build of the same case, when possible.
fn compare_with_docker(env: &Env, case: &str, dir: &std::path::Path, ours: &str) {
    let Some(mut d) = docker() else {
        return skip("no docker daemon: compared with the recorded BuildKit fields only");
    };
    let tag = format!("strata-parity/{case}:latest");
    let st = d
        .env("DOCKER_BUILDKIT", "1")
        .args(["build", "-q", "--network=host", "-t", &tag])
        .arg(dir)
        .output()
        .unwrap();
    if !st.status.success() {
        return skip(&format!(
            "docker (BuildKit) could not build {case}: {}",
            String::from_utf8_lossy(&st.stderr)
        ));
    }
    let out = sh(docker().unwrap().args(["image", "inspect", &tag]));
    let theirs: Value = serde_json::from_str(&out).unwrap();
    let mine = inspect(env, ours);
    assert_eq!(
        fields(&mine["Config"]),
        fields(&theirs[0]["Config"]),
        "{case}: config differs from BuildKit's"
    );
    assert_eq!(
        mine["RootFS"]["Layers"].as_array().unwrap().len(),
        theirs[0]["RootFS"]["Layers"].as_array().unwrap().len(),
        "{case}: layer count differs from BuildKit's"
    );
    let _ = docker().unwrap().args(["image", "rm", "-f", &tag]).output();
}

fn check(env: &Env, case: &str, image: &str, want: Value, layers: usize, history: usize) {
    let raw = raw_config(env, image);
    let got: Value = Value::Object(fields(&inspect(env, image)["Config"]).into_iter().collect());
    assert_eq!(got, want, "{case}: config");
    assert_eq!(
        raw["rootfs"]["diff_ids"].as_array().unwrap().len(),
        layers,
        "{case}: layers"
    );
    assert_eq!(
        raw["history"].as_array().unwrap().len(),
        history,
        "{case}: history"
    );
}

#[test]
fn multi_stage_case() {
    let env = Env::new();
    let Some(dir) = lab_case(&env, "multi-stage") else {
        return;
    };
    assert!(lab_base(&env, "busybox"));
    let p = build_ok(&env, &dir, &["-t", "lab-ms"]);
    assert!(
        p.contains("[build 4/4] RUN sh /src/build.sh /src /out"),
        "{p}"
    );
    check(
        &env,
        "multi-stage",
        "lab-ms",
        json!({
            "ExposedPorts": {"8080/tcp": {}},
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["httpd", "-f", "-v", "-p", "8080", "-h", "/srv/www"],
            "Labels": {"lab.case": "multi-stage"},
            "ArgsEscaped": true
        }),
        3,
        6,
    );
    let sums = env.ok(["run", "--rm", "lab-ms", "cat", "/srv/SHA256SUMS"]);
    assert!(sums.lines().count() > 3, "{sums}");
    // The change case: only the build stage's COPY and what follows re-run.
    std::fs::write(dir.join("src/pages/index.txt"), "changed\n").unwrap();
    let p = build_ok(&env, &dir, &["-t", "lab-ms"]);
    let states = step_states(&p);
    assert!(
        states.contains(&("[build 2/4] WORKDIR /src".into(), "CACHED".into())),
        "{p}"
    );
    assert!(
        states.contains(&("[build 3/4] COPY src/ /src/".into(), "DONE".into())),
        "{p}"
    );
    compare_with_docker(&env, "multi-stage", &dir, "lab-ms");
}

#[test]
fn many_files_case() {
    let env = Env::new();
    let Some(dir) = lab_case(&env, "many-files") else {
        return;
    };
    assert!(lab_base(&env, "busybox"));
    // The generator makes 213 MB; a few hundred small files keep the shape.
    for d in 0..5 {
        for f in 0..60 {
            let p = dir.join(format!("data/small/d{d:03}/f{f:04}.txt"));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(
                &p,
                format!("many-files fixture {d} {f}\n").repeat(f % 7 + 1),
            )
            .unwrap();
        }
    }
    std::fs::create_dir_all(dir.join("data/large")).unwrap();
    std::fs::write(dir.join("data/large/asset-a.bin"), vec![7u8; 3 << 20]).unwrap();
    build_ok(&env, &dir, &["-t", "lab-mf"]);
    check(
        &env,
        "many-files",
        "lab-mf",
        json!({
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["sh", "-c", "find /data -type f | wc -l; du -sh /data"],
            "WorkingDir": "/data",
            "ArgsEscaped": true
        }),
        3,
        4,
    );
    let out = env.ok(["run", "--rm", "lab-mf"]);
    assert_eq!(out.lines().next(), Some("301"), "{out}");
    let p = build_ok(&env, &dir, &["-t", "lab-mf"]);
    assert!(step_states(&p).iter().all(|(_, s)| s == "CACHED"), "{p}");
    std::fs::write(dir.join("data/small/d002/f0017.txt"), "one file changed\n").unwrap();
    let p = build_ok(&env, &dir, &["-t", "lab-mf", "--explain"]);
    assert!(p.contains("d002/f0017.txt: content changed"), "{p}");
    compare_with_docker(&env, "many-files", &dir, "lab-mf");
}

#[test]
fn web_ping_cases() {
    let env = Env::new();
    let Some(dir) = lab_case(&env, "web-ping") else {
        return;
    };
    let Some(opt) = lab_case(&env, "web-ping-optimized") else {
        return;
    };
    if !lab_base(&env, "node") {
        return;
    }
    build_ok(&env, &dir, &["-t", "web-ping"]);
    let want = json!({
        "Env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TARGET=blog.sixeyed.com", "METHOD=HEAD", "INTERVAL=3000"
        ],
        "Cmd": ["node", "/web-ping/app.js"],
        "WorkingDir": "/web-ping",
        "ArgsEscaped": true
    });
    check(&env, "web-ping", "web-ping", want.clone(), 4, 9);
    build_ok(&env, &opt, &["-t", "web-ping-opt"]);
    check(&env, "web-ping-optimized", "web-ping-opt", want, 4, 7);
    let logs = env.ok([
        "run",
        "--rm",
        "--network",
        "none",
        "-e",
        "MAX_PINGS=1",
        "-e",
        "INTERVAL=100",
        "web-ping",
    ]);
    assert!(logs.contains("blog.sixeyed.com"), "{logs}");
    compare_with_docker(&env, "web-ping", &dir, "web-ping");
}

#[test]
fn run_heavy_case() {
    let env = Env::new();
    let Some(dir) = lab_case(&env, "run-heavy") else {
        return;
    };
    if !lab_base(&env, "debian") {
        return;
    }
    build_ok(&env, &dir, &["-t", "lab-rh"]);
    check(
        &env,
        "run-heavy",
        "lab-rh",
        json!({
            "User": "app",
            "ExposedPorts": {"8080/tcp": {}, "9090/udp": {}},
            "Env": [
                "PATH=/opt/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "APP_HOME=/opt/app",
                "APP_VERSION=1.4.2"
            ],
            "Entrypoint": ["/opt/app/bin/entrypoint.sh"],
            "Cmd": ["--serve"],
            "WorkingDir": "/opt/app",
            "Labels": {
                "lab.case": "run-heavy",
                "org.opencontainers.image.title": "run-heavy",
                "org.opencontainers.image.version": "1.4.2"
            },
            "ArgsEscaped": true
        }),
        8,
        16,
    );
    // Whiteouts and the opaque directory made it into the layers.
    let out = env.path("rootfs");
    build_ok(
        &env,
        &dir,
        &["--output", &format!("type=local,dest={}", out.display())],
    );
    assert!(!out.join("var/scratch/blob.bin").exists());
    assert!(!out.join("usr/share/doc").exists());
    assert!(
        !out.join("opt/app/data/rec-1.txt").exists() && out.join("opt/app/data/rec-2.txt").exists()
    );
    let only: Vec<_> = std::fs::read_dir(out.join("opt/app/cache/apt-copy"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(only, ["only-file"]);
    compare_with_docker(&env, "run-heavy", &dir, "lab-rh");
}
