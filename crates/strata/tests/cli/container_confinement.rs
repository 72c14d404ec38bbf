//! Confinement equal to docker's, compared line for line with the private
//! dockerd: the same probe prints the same `Seccomp`, `CapEff`,
//! `NoNewPrivs` and the same EPERM/ok for keyctl, add_key,
//! unshare(CLONE_NEWUSER), mount, bpf, perf_event_open and writes to the
//! cgroup limit files — for `run` (as root, as a user, with the flags
//! that change it), `exec`, a build's `RUN` step, and `--runtime runc`.
//! See: issue 9.

use crate::build_common::{build_ok, context};
use crate::confinement_common::{Docker, RUN_PROBE, bind_probe, probe_dir};
use crate::container_common::Ctr;
use crate::support::{sh, skip, which};

/// `strata run --rm --network none -v probe <flags> busybox sh -c /p/probe`.
fn strata_probe(t: &Ctr, probe: &std::path::Path, flags: &[&str]) -> String {
    let bind = bind_probe(probe);
    let mut args = vec!["run", "--rm", "--network", "none", "-v", &bind];
    args.extend_from_slice(flags);
    args.push("busybox");
    args.extend_from_slice(&RUN_PROBE);
    t.ok(args)
}

fn docker_probe(d: &Docker, probe: &std::path::Path, flags: &[&str]) -> String {
    let bind = bind_probe(probe);
    let mut f = vec!["-v", &bind];
    f.extend_from_slice(flags);
    let (code, out, err) = d.run(&f, &RUN_PROBE);
    assert_eq!(code, Some(0), "docker run {flags:?}: {err}");
    out
}

#[test]
fn run_is_confined_like_docker() {
    let Some(t) = Ctr::new() else { return };
    let Some(probe) = probe_dir(&t.env) else {
        return;
    };
    // Without docker the expected values are docker's, written out.
    let ours = strata_probe(&t, &probe, &[]);
    for line in [
        "Seccomp:\t2",
        "CapEff:\t00000000a80425fb",
        "NoNewPrivs:\t0",
        "keyctl: EPERM",
        "add_key: EPERM",
        "unshare_user: EPERM",
        "mount: EPERM",
        "bpf: EPERM",
        "perf_event_open: EPERM",
    ] {
        assert!(
            ours.lines().any(|l| l == line),
            "missing {line:?} in:\n{ours}"
        );
    }
    assert!(
        !ours
            .lines()
            .any(|l| l.ends_with(": ok") && l.contains("max")),
        "a cgroup limit was writable:\n{ours}"
    );
    let Some(d) = Docker::new("probe") else {
        return;
    };
    for flags in [
        &[][..],
        &["-u", "1000"],
        &["--security-opt", "no-new-privileges"],
        &["-u", "1000", "--security-opt", "no-new-privileges"],
        &["--security-opt", "seccomp=unconfined"],
        &["--cap-add", "SYS_ADMIN"],
        &["-u", "1000", "--cap-add", "SYS_ADMIN"],
        &["--cap-drop", "ALL"],
        &["--cgroupns", "private"],
        &["--memory", "64m", "--pids-limit", "50"],
    ] {
        assert_eq!(
            strata_probe(&t, &probe, flags),
            docker_probe(&d, &probe, flags),
            "strata and docker differ with {flags:?}"
        );
    }
}

#[test]
fn a_custom_seccomp_profile_applies_like_docker() {
    let Some(t) = Ctr::new() else { return };
    let Some(probe) = probe_dir(&t.env) else {
        return;
    };
    // Everything allowed but mkdir and the keyring calls (EACCES).
    let profile = t.env.path("profile.json");
    std::fs::write(
        &profile,
        r#"{
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [
    {"names": ["keyctl", "add_key"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
    {"name": "mkdir", "action": "SCMP_ACT_ERRNO"}
  ]
}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let ours = strata_probe(&t, &probe, &["--security-opt", &opt]);
    assert!(ours.contains("keyctl: EACCES\nadd_key: EACCES\n"), "{ours}");
    assert!(ours.contains("Seccomp:\t2\n"), "{ours}");
    // The profile is kept inline: the container outlives the file.
    t.ok([
        "create",
        "--name",
        "inline",
        "--security-opt",
        &opt,
        "busybox",
        "true",
    ]);
    std::fs::remove_file(&profile).unwrap();
    assert_eq!(t.ok(["start", "-a", "inline"]), "");
    let shown = t.inspect("inline", "{{json .HostConfig.SecurityOpt}}");
    assert!(
        shown.starts_with(r#"["seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\""#),
        "{shown}"
    );
    let Some(d) = Docker::new("profile") else {
        return;
    };
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["keyctl","add_key"],"action":"SCMP_ACT_ERRNO","errnoRet":13},{"name":"mkdir","action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    assert_eq!(ours, docker_probe(&d, &probe, &["--security-opt", &opt]));
}

#[test]
fn exec_is_confined_like_docker() {
    let Some(t) = Ctr::new() else { return };
    let Some(probe) = probe_dir(&t.env) else {
        return;
    };
    let bind = bind_probe(&probe);
    t.ok([
        "run",
        "-d",
        "--name",
        "ex",
        "--network",
        "none",
        "-v",
        &bind,
        "busybox",
        "sleep",
        "60",
    ]);
    let ours = t.ok(["exec", "ex", "/p/probe"]);
    let ours_user = t.ok(["exec", "-u", "1000", "ex", "/p/probe"]);
    assert!(
        ours.contains("Seccomp:\t2\n") && ours.contains("keyctl: EPERM\n"),
        "{ours}"
    );
    assert!(
        ours_user.contains("Seccomp:\t2\n") && ours_user.contains("CapEff:\t0000000000000000\n")
    );
    let Some(d) = Docker::new("exec") else { return };
    let name = format!("strata-confine-exec-{}", std::process::id());
    sh(d.cmd().args([
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        "-v",
        &bind,
        &d.image,
        "sleep",
        "60",
    ]));
    let theirs = sh(d.cmd().args(["exec", &name, "/p/probe"]));
    let theirs_user = sh(d.cmd().args(["exec", "-u", "1000", &name, "/p/probe"]));
    let _ = d.cmd().args(["rm", "-f", &name]).output();
    assert_eq!(ours, theirs);
    assert_eq!(ours_user, theirs_user);
}

/// The probe's lines of a plain-progress build log (`#7 0.081 CapEff:…`).
fn step_lines(log: &str) -> Vec<String> {
    let keys = [
        "Seccomp:",
        "CapPrm:",
        "CapEff:",
        "CapBnd:",
        "NoNewPrivs:",
        "keyctl:",
        "add_key:",
        "unshare_user:",
        "mount:",
        "bpf:",
        "perf_event_open:",
        "memory_limit:",
        "pids_max:",
    ];
    log.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix('#')?;
            let mut parts = rest.splitn(3, ' ');
            let (_, _, text) = (parts.next()?, parts.next()?, parts.next()?);
            keys.iter()
                .any(|k| text.starts_with(k))
                .then(|| text.to_string())
        })
        .collect()
}

#[test]
fn build_steps_are_confined_like_buildkit() {
    let Some(t) = Ctr::new() else { return };
    let Some(probe) = probe_dir(&t.env) else {
        return;
    };
    let tag = format!("strata-confine/build:{}", std::process::id());
    t.ok(["tag", "busybox", &tag]);
    let df = format!("FROM {tag}\nCOPY probe /probe\nRUN /probe\n");
    let dir = context(&t.env, "ctx", &[("Dockerfile", &df)]);
    std::fs::copy(probe.join("probe"), dir.join("probe")).unwrap();
    let log = build_ok(&t.env, &dir, &["--no-cache", "-t", "strata-confine/built"]);
    let ours = step_lines(&log);
    for want in [
        "Seccomp:\t2",
        "CapEff:\t00000000a80425fb",
        "NoNewPrivs:\t0",
        "keyctl: EPERM",
        "unshare_user: EPERM",
    ] {
        assert!(
            ours.iter().any(|l| l == want),
            "missing {want:?} in {ours:?}\n{log}"
        );
    }
    let Some(d) = Docker::new("build") else {
        return;
    };
    sh(d.cmd().args(["tag", &d.image, &tag]));
    let iid = t.env.path("iid");
    let out = d
        .cmd()
        .env("DOCKER_BUILDKIT", "1")
        .args([
            "build",
            "--no-cache",
            "--network",
            "none",
            "--progress",
            "plain",
            "--iidfile",
        ])
        .arg(&iid)
        .arg(&dir)
        .output()
        .unwrap();
    let theirs_log = String::from_utf8_lossy(&out.stderr).into_owned();
    let _ = d.cmd().args(["image", "rm", "-f", &tag]).output();
    if let Ok(id) = std::fs::read_to_string(&iid) {
        let _ = d.cmd().args(["image", "rm", "-f", id.trim()]).output();
    }
    if !out.status.success() && theirs_log.contains("buildx component is missing") {
        return skip("this docker CLI needs buildx for BuildKit builds");
    }
    assert!(out.status.success(), "docker build failed:\n{theirs_log}");
    assert_eq!(ours, step_lines(&theirs_log), "\n{log}\n{theirs_log}");
}

#[test]
fn runc_gets_the_same_confinement() {
    let Some(t) = Ctr::new() else { return };
    let Some(probe) = probe_dir(&t.env) else {
        return;
    };
    let Some(runc) = which("runc")
        .or_else(|| Some(std::path::PathBuf::from("/usr/sbin/runc")).filter(|p| p.is_file()))
    else {
        return skip("runc is not installed");
    };
    let runc = runc.display().to_string();
    for flags in [
        &[][..],
        &["-u", "1000"],
        &["--security-opt", "no-new-privileges"],
    ] {
        let embedded = strata_probe(&t, &probe, flags);
        let mut with_runc = vec!["--runtime", runc.as_str()];
        with_runc.extend_from_slice(flags);
        assert_eq!(embedded, strata_probe(&t, &probe, &with_runc), "{flags:?}");
    }
}

/// `CapEff` of `grep CapEff /proc/self/status` output.
fn cap_eff(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("CapEff:\t"))
        .unwrap_or_else(|| panic!("no CapEff in {out}"))
        .to_string()
}

#[test]
fn capability_flags_give_dockers_sets() {
    let Some(t) = Ctr::new() else { return };
    let ours = |flags: &[&str]| {
        let mut a = vec!["run", "--rm", "--network", "none"];
        a.extend_from_slice(flags);
        a.extend_from_slice(&["busybox", "grep", "CapEff", "/proc/self/status"]);
        cap_eff(&t.ok(a))
    };
    let cases: &[(&[&str], &str)] = &[
        (&["--cap-add", "NET_ADMIN"], "00000000a80435fb"),
        (&["--cap-add", "cap_net_admin"], "00000000a80435fb"),
        (&["--cap-drop", "ALL"], "0000000000000000"),
        (
            &["--cap-drop", "all", "--cap-add", "chown"],
            "0000000000000001",
        ),
        (&["--cap-drop", "CHOWN"], "00000000a80425fa"),
        (&["--cap-add", "SYS_ADMIN"], "00000000a82425fb"),
    ];
    for (flags, want) in cases {
        assert_eq!(ours(flags), *want, "{flags:?}");
    }
    assert!(
        t.fails_with(125, ["run", "--rm", "--cap-add", "foo", "busybox", "true"])
            .contains("invalid CapAdd: unknown capability: \"CAP_FOO\"")
    );
    // --privileged: docker 20.10's "all" (up to CAP_AUDIT_READ,
    // 0000003fffffffff) that strata holds itself (this VM's bounding set
    // lacks CAP_SYS_RESOURCE; docker fails there).
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    let bnd = own
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:\t"))
        .unwrap();
    let bnd = format!(
        "{:016x}",
        u64::from_str_radix(bnd, 16).unwrap() & 0x3f_ffff_ffff
    );
    let priv_out = t.ok([
        "run", "--rm", "--network", "none", "--privileged", "busybox", "sh", "-c",
        "grep -E 'CapEff|Seccomp:|NoNewPrivs' /proc/self/status; echo 1 > /proc/sys/vm/overcommit_memory && echo rw-proc-sys; ls /dev | grep -c .",
    ]);
    assert_eq!(cap_eff(&priv_out), bnd, "{priv_out}");
    assert!(priv_out.contains("Seccomp:\t0\n"), "{priv_out}");
    assert!(priv_out.contains("rw-proc-sys\n"), "{priv_out}");
    let Some(d) = Docker::new("caps") else { return };
    for (flags, _) in cases {
        let (code, out, err) = d.run(flags, &["grep", "CapEff", "/proc/self/status"]);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(ours(flags), cap_eff(&out), "{flags:?}");
    }
    let (code, out, err) = d.run(&["--privileged"], &["grep", "CapEff", "/proc/self/status"]);
    if code == Some(0) {
        assert_eq!(cap_eff(&priv_out), cap_eff(&out));
    } else {
        // docker cannot grant what its own bounding set lacks.
        assert!(err.contains("unable to apply caps"), "{err}");
    }
}
