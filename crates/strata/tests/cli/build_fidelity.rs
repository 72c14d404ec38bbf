//! Byte-for-byte docker where users see it: the same Dockerfile built by
//! strata and by docker 20.10 (BuildKit) gives the same files, config and
//! `history`. Where docker 20.10's BuildKit (v0.8) and current BuildKit
//! differ, strata follows current BuildKit, and each such row names the
//! BuildKit source it follows. See: issue 14.

use serde_json::Value;

use crate::build_common::{build_ok, context, inspect};
use crate::support::Env;
use crate::support::docker::{Docker, strata_history};

/// Config fields a user sees in `image inspect` (`null`, `""` and `false`
/// are absent, as docker prints them).
fn visible(cfg: &Value) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = cfg
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, v)| {
                    !matches!(
                        k.as_str(),
                        "Hostname" | "Domainname" | "Image" | "AttachStdin" | "AttachStdout"
                    ) && !v.is_null()
                        && v.as_str() != Some("")
                        && v.as_bool() != Some(false)
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn base(env: &Env, d: Option<&Docker>, name: &str) -> String {
    let tag = format!("strata-fidelity/base:{name}");
    env.busybox(&tag);
    if let Some(d) = d {
        d.load_from(env, &tag);
    }
    tag
}

#[test]
fn duplicate_stage_names_build_the_later_stage() {
    let env = Env::new();
    let d = Docker::new();
    let b = base(&env, d.as_ref(), "dup");
    let df = format!(
        "FROM {b} AS a\nCOPY one /f\nFROM {b} AS a\nCOPY two /f\nFROM a\nCOPY --from=a /f /g\n"
    );
    let dir = context(
        &env,
        "ctx",
        &[("Dockerfile", &df), ("one", "one\n"), ("two", "two\n")],
    );
    let p = build_ok(&env, &dir, &["-t", "dup"]);
    // BuildKit's linter rule (frontend/dockerfile/linter/ruleset.go).
    assert!(
        p.contains(
            "WARNING: DuplicateStageName: Duplicate stage name \"a\", stage names should be unique (line 3)"
        ),
        "{p}"
    );
    assert_eq!(
        env.ok(["run", "--rm", "dup", "cat", "/f", "/g"]),
        "two\ntwo\n"
    );
    let Some(d) = d else { return };
    d.build_ok(&dir, "strata-fidelity/dup:docker", &[]);
    let files = d.strata_files(&env, "dup");
    assert!(
        files.iter().any(|l| l.starts_with("g file 4 ")),
        "{files:#?}"
    );
    assert_eq!(files, d.files("strata-fidelity/dup:docker"));
}

/// `FROM scratch` starts from BuildKit's `emptyImage`
/// (dockerfile2llb/image.go): `WorkingDir` `/`; `ArgsEscaped` is set by CMD
/// only (`dispatchCmd`), never by ENTRYPOINT.
#[test]
fn scratch_config_as_buildkit_records_it() {
    let env = Env::new();
    let d = Docker::new();
    let cases = [
        (
            "entrypoint",
            "FROM scratch\nCOPY f /f\nENTRYPOINT [\"/f\"]\n",
        ),
        ("cmd", "FROM scratch\nCOPY f /f\nCMD [\"/f\"]\n"),
    ];
    for (name, df) in cases {
        let dir = context(&env, name, &[("Dockerfile", df), ("f", "x\n")]);
        let tag = format!("strata-fidelity/scratch:{name}");
        build_ok(&env, &dir, &["-t", &tag]);
        let ours = inspect(&env, &tag)["Config"].clone();
        assert_eq!(ours["WorkingDir"], "/", "{name}: {ours}");
        let escaped = ours.get("ArgsEscaped").cloned().unwrap_or(Value::Null);
        assert_eq!(
            escaped.as_bool() == Some(true),
            name == "cmd",
            "{name}: {ours}"
        );
        if let Some(d) = &d {
            d.build_ok(&dir, &tag, &[]);
            assert_eq!(visible(&ours), visible(&d.config(&tag)), "{name}");
        }
    }
}

/// Rows where docker 20.10 (BuildKit v0.8) writes another `created_by`
/// than current BuildKit, which strata follows: (docker 20.10's text,
/// strata's = current BuildKit's, where current BuildKit writes it).
const HISTORY_DIFFERENCES: &[(&str, &str, &str)] = &[
    (
        "ARG W",
        "ARG W=w",
        "dockerfile2llb/convert.go dispatchArg: the --build-arg value is recorded",
    ),
    (
        "ARG G",
        "ARG G=g",
        "dockerfile2llb/convert.go dispatchArg: a global ARG's value is recorded",
    ),
    (
        "EXPOSE map[53/udp:{} 8080/tcp:{}]",
        "EXPOSE [53/udp 8080/tcp]",
        "dockerfile2llb/convert_expose.go dispatchExpose: %v of the port list",
    ),
    (
        "HEALTHCHECK &{[\"CMD-SHELL\" \"true\"] \"5s\" \"0s\" \"0s\" '\\x00'}",
        "HEALTHCHECK {Test:[CMD-SHELL true] Interval:5s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}",
        "dockerfile2llb/convert.go dispatchHealthcheck: %+v of the config",
    ),
    (
        "COPY a.txt ./ # buildkit",
        "COPY --chown=1:2 a.txt ./ # buildkit",
        "dockerfile2llb/convert_copy.go dispatchCopy: --chown and --chmod recorded",
    ),
    (
        "COPY a.txt b.txt # buildkit",
        "COPY --chmod=600 a.txt b.txt # buildkit",
        "dockerfile2llb/convert_copy.go dispatchCopy: --chown and --chmod recorded",
    ),
];

/// Every `history` row as docker 20.10 shows it: CREATED BY (but for the
/// rows in [`HISTORY_DIFFERENCES`]) and SIZE, including a RUN layer with
/// symlinks and a hardlink (docker sizes a built layer by its tar's file
/// data: symlinks count 0, a hardlinked file once); the config and the
/// files the same.
#[test]
fn history_rows_as_docker() {
    let env = Env::new();
    let d = Docker::new();
    let b = base(&env, d.as_ref(), "history");
    let df = format!(
        "ARG G=g\nFROM {b}\nARG V=1\nARG W\nARG G\nARG U\nENV E=e\nLABEL l=v\nEXPOSE 8080 53/udp\nHEALTHCHECK --interval=5s CMD true\nWORKDIR /app\nCOPY --chown=1:2 a.txt ./\nCOPY --chmod=600 a.txt b.txt\nCOPY d/ /d/\nRUN ln -s /bin/busybox link && ln -s target l2 && echo hi > x && ln x hard\nUSER 1:2\nVOLUME /data\nSTOPSIGNAL SIGTERM\nSHELL [\"/bin/sh\", \"-c\"]\nENTRYPOINT [\"sh\"]\nCMD echo $V\n"
    );
    let dir = context(
        &env,
        "ctx",
        &[("Dockerfile", &df), ("a.txt", "aaa\n"), ("d/f", "12345\n")],
    );
    std::os::unix::fs::symlink("f", dir.join("d/to-f")).unwrap();
    std::os::unix::fs::symlink("/nowhere/at/all", dir.join("d/dangling")).unwrap();
    build_ok(&env, &dir, &["-t", "hist", "--build-arg", "W=w"]);
    let ours = strata_history(&env, "hist");
    let by: Vec<&str> = ours.iter().map(|(b, _)| b.as_str()).collect();
    for (_, current, source) in HISTORY_DIFFERENCES {
        assert!(
            by.contains(current),
            "no row {current:?} ({source}): {by:#?}"
        );
    }
    let size = |prefix: &str| &ours.iter().find(|(b, _)| b.starts_with(prefix)).unwrap().1;
    assert_eq!(
        size("RUN "),
        "3",
        "the RUN layer's size: x once, symlinks 0"
    );
    assert_eq!(size("COPY d/"), "6", "the COPY layer's size: f, symlinks 0");
    let Some(d) = d else { return };
    let tag = "strata-fidelity/hist:docker";
    d.build_ok(&dir, tag, &["--build-arg", "W=w"]);
    let theirs: Vec<(String, String)> = d
        .history(tag)
        .into_iter()
        .map(|(by, size)| {
            let by = HISTORY_DIFFERENCES
                .iter()
                .find(|(old, _, _)| *old == by)
                .map_or(by, |(_, current, _)| current.to_string());
            (by, size)
        })
        .collect();
    assert_eq!(
        ours, theirs,
        "history rows (docker 20.10's mapped to current BuildKit's)"
    );
    assert_eq!(
        visible(&inspect(&env, "hist")["Config"]),
        visible(&d.config(tag))
    );
    let files = d.strata_files(&env, "hist");
    assert!(
        files
            .iter()
            .any(|l| l.starts_with("app/link symlink->/bin/busybox")),
        "{files:#?}"
    );
    assert_eq!(files, d.files(tag));
}
