//! `build`: every metadata instruction and its config field, history
//! rows, tags, `-q`, `--iidfile`, `--label`, `--build-arg`, `--target`,
//! ONBUILD. See: issue 6.

use crate::build_common::{build_ok, context, image_id, inspect, raw_config};
use crate::support::Env;

const WEB_PING: &str = "FROM base\n\nENV TARGET=\"blog.sixeyed.com\"\nENV METHOD=\"HEAD\"\nENV INTERVAL=\"3000\"\n\nWORKDIR /web-ping\nCOPY app.js .\n\nCMD [\"sh\", \"-c\", \"cat /web-ping/app.js\"]\n";

#[test]
fn web_ping_shape_history_and_config() {
    let env = Env::new();
    env.busybox("base");
    let dir = context(
        &env,
        "ctx",
        &[
            ("Dockerfile", WEB_PING),
            ("app.js", "console.log('ping');\n"),
        ],
    );
    build_ok(&env, &dir, &["-t", "web-ping", "-t", "web-ping:v1"]);
    assert_eq!(image_id(&env, "web-ping"), image_id(&env, "web-ping:v1"));

    let i = inspect(&env, "web-ping");
    let c = &i["Config"];
    assert_eq!(
        c["Env"],
        serde_json::json!([
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TARGET=blog.sixeyed.com",
            "METHOD=HEAD",
            "INTERVAL=3000"
        ])
    );
    assert_eq!(c["WorkingDir"], "/web-ping");
    assert_eq!(
        c["Cmd"],
        serde_json::json!(["sh", "-c", "cat /web-ping/app.js"])
    );
    assert_eq!(c["ArgsEscaped"], true);
    // base layer + WORKDIR + COPY, as BuildKit.
    assert_eq!(i["RootFS"]["Layers"].as_array().unwrap().len(), 3);

    let raw = raw_config(&env, "web-ping");
    let hist: Vec<(String, bool, String)> = raw["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["created_by"].as_str().unwrap_or("").to_string(),
                h["empty_layer"].as_bool().unwrap_or(false),
                h["comment"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let ours: Vec<&(String, bool, String)> = hist.iter().skip(1).collect();
    let want = [
        ("ENV TARGET=blog.sixeyed.com", true),
        ("ENV METHOD=HEAD", true),
        ("ENV INTERVAL=3000", true),
        ("WORKDIR /web-ping", false),
        ("COPY app.js . # buildkit", false),
        ("CMD [\"sh\" \"-c\" \"cat /web-ping/app.js\"]", true),
    ];
    assert_eq!(ours.len(), want.len(), "{hist:?}");
    for (got, (text, empty)) in ours.iter().zip(want) {
        assert_eq!((got.0.as_str(), got.1), (text, empty));
        assert_eq!(got.2, "buildkit.dockerfile.v0");
    }

    // `image history`: one row per instruction, newest first, with sizes.
    let h = env.ok([
        "image",
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Size}}",
        "web-ping",
    ]);
    let rows: Vec<&str> = h.lines().collect();
    assert_eq!(rows.len(), 7, "{h}");
    assert_eq!(rows[0], "CMD [\"sh\" \"-c\" \"cat /web-ping/app.js\"]|0B");
    assert!(rows[1].starts_with("COPY app.js . # buildkit|"), "{h}");
    assert_ne!(rows[1], "COPY app.js . # buildkit|0B", "{h}");
    assert!(rows[2].starts_with("WORKDIR /web-ping|"), "{h}");
    let table = env.ok(["history", "web-ping"]);
    assert!(table.starts_with("IMAGE "), "{table}");
    assert!(
        table.contains("CREATED BY") && table.contains("SIZE"),
        "{table}"
    );
}

#[test]
fn metadata_instructions_set_buildkit_fields() {
    let env = Env::new();
    env.busybox("base");
    let df = "FROM base\nARG VER=1.2\nLABEL org.example.version=\"$VER\" two=\"a b\"\nEXPOSE 80 53/udp 8000-8001\nUSER nobody:nobody\nVOLUME /data /cache\nSTOPSIGNAL SIGINT\nHEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost || exit 1\nSHELL [\"/bin/sh\", \"-xc\"]\nMAINTAINER someone@example.com\nENTRYPOINT [\"/bin/echo\"]\nCMD hello\nONBUILD RUN echo never\n";
    let dir = context(&env, "ctx", &[("Dockerfile", df)]);
    build_ok(&env, &dir, &["-t", "meta", "--label", "from.cli=yes"]);
    let raw = raw_config(&env, "meta");
    let c = &raw["config"];
    assert_eq!(c["Labels"]["org.example.version"], "1.2");
    assert_eq!(c["Labels"]["two"], "a b");
    assert_eq!(c["Labels"]["from.cli"], "yes");
    let ports: Vec<&String> = c["ExposedPorts"].as_object().unwrap().keys().collect();
    assert_eq!(ports, ["53/udp", "80/tcp", "8000/tcp", "8001/tcp"]);
    assert_eq!(c["User"], "nobody:nobody");
    assert!(c["Volumes"].as_object().unwrap().contains_key("/data"));
    assert_eq!(c["StopSignal"], "SIGINT");
    assert_eq!(c["Healthcheck"]["Test"][0], "CMD-SHELL");
    assert_eq!(c["Healthcheck"]["Interval"], 5_000_000_000i64);
    assert_eq!(c["Healthcheck"]["Retries"], 2);
    assert_eq!(c["Shell"], serde_json::json!(["/bin/sh", "-xc"]));
    assert_eq!(raw["author"], "someone@example.com");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/echo"]));
    // CMD after ENTRYPOINT keeps; shell form uses the SHELL in effect.
    assert_eq!(c["Cmd"], serde_json::json!(["/bin/sh", "-xc", "hello"]));
    assert_eq!(c["OnBuild"], serde_json::json!(["RUN echo never"]));
    // ARG is never persisted in the env.
    assert!(!c["Env"].to_string().contains("VER="));
    let texts: Vec<String> = raw["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["created_by"].as_str().map(String::from))
        .collect();
    for want in [
        "ARG VER=1.2",
        "LABEL org.example.version=1.2 two=a b",
        "EXPOSE [53/udp 80/tcp 8000/tcp 8001/tcp]",
        "USER nobody:nobody",
        "VOLUME [/data /cache]",
        "STOPSIGNAL SIGINT",
        "SHELL [/bin/sh -xc]",
        "MAINTAINER someone@example.com",
        "ENTRYPOINT [\"/bin/echo\"]",
        "CMD [\"/bin/sh\" \"-xc\" \"hello\"]",
    ] {
        assert!(
            texts.iter().any(|t| t == want),
            "missing {want:?} in {texts:#?}"
        );
    }
    assert!(!texts.iter().any(|t| t.starts_with("ONBUILD")), "{texts:?}");
}

#[test]
fn onbuild_triggers_run_in_the_child_and_entrypoint_resets_cmd() {
    let env = Env::new();
    env.busybox("base");
    let parent = context(
        &env,
        "parent",
        &[(
            "Dockerfile",
            "FROM base\nCMD [\"sh\"]\nONBUILD RUN echo triggered > /onbuild\n",
        )],
    );
    build_ok(&env, &parent, &["-t", "parent"]);
    assert_eq!(
        raw_config(&env, "parent")["config"]["OnBuild"],
        serde_json::json!(["RUN echo triggered > /onbuild"])
    );
    // A later stage's ENTRYPOINT resets the inherited CMD.
    let child = context(
        &env,
        "child",
        &[("Dockerfile", "FROM parent\nENTRYPOINT [\"/bin/cat\"]\n")],
    );
    let progress = build_ok(&env, &child, &["-t", "child"]);
    assert!(
        progress.contains("ONBUILD RUN echo triggered"),
        "{progress}"
    );
    let c = raw_config(&env, "child");
    assert_eq!(c["config"]["Cmd"], serde_json::Value::Null);
    assert_eq!(
        c["config"]["OnBuild"],
        serde_json::Value::Null,
        "triggers are consumed"
    );
    let out = env.ok(["run", "--rm", "child", "/onbuild"]);
    assert_eq!(out, "triggered\n");
}

#[test]
fn quiet_iidfile_build_args_and_target() {
    let env = Env::new();
    env.busybox("base");
    let df = "ARG GREETING=hi\nFROM base AS first\nARG GREETING\nRUN echo \"$GREETING\" > /greeting\nFROM base AS second\nRUN echo second > /second\n";
    let dir = context(&env, "ctx", &[("Dockerfile", df)]);
    let iid = env.path("iid");
    let out = env.ok([
        "build",
        "-q",
        "--build-arg",
        "GREETING=hello",
        "--target",
        "first",
        "--iidfile",
        iid.to_str().unwrap(),
        "-t",
        "first",
        dir.to_str().unwrap(),
    ]);
    let id = out.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{out:?}");
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), id);
    assert_eq!(image_id(&env, "first"), id);
    let got = env.ok(["run", "--rm", "first", "cat", "/greeting"]);
    assert_eq!(got, "hello\n");
    // The second stage was not needed: not built, not shown.
    let progress = build_ok(
        &env,
        &dir,
        &["--target", "first", "--build-arg", "GREETING=hello"],
    );
    assert!(!progress.contains("[second"), "{progress}");
    // RUN history carries the ARGs in scope, as BuildKit's `|N K=V`.
    let raw = raw_config(&env, "first");
    let texts = raw["history"].to_string();
    assert!(
        texts.contains(
            "RUN |1 GREETING=hello /bin/sh -c echo \\\"$GREETING\\\" > /greeting # buildkit"
        ),
        "{texts}"
    );
}
