//! RUN: shell and exec form, SHELL, ENV/ARG visible, USER, WORKDIR
//! created, `--mount=type=cache|bind|tmpfs|secret`, `--network`, heredocs,
//! and the overlay upper dir as the layer (deletions become whiteouts).
//! See: issue 6.

use crate::build_common::{build_ok, context, raw_config};
use crate::support::Env;

#[test]
fn run_forms_env_user_workdir_and_whiteouts() {
    let env = Env::new();
    env.busybox("base");
    let df = r#"FROM base
ARG WHO=world
ENV GREETING=hello
RUN echo "$GREETING $WHO" > /shell-form
RUN ["/bin/sh", "-c", "echo exec-form > /exec-form"]
SHELL ["/bin/sh", "-c", "-e"]
RUN echo "shell changed" > /shell-changed
WORKDIR /work/dir
RUN pwd > here && id -u > /uid-root
RUN rm /exec-form
USER nobody
RUN id -u > /tmp/uid-nobody
USER root
RUN cp /tmp/uid-nobody /uid-nobody
RUN <<EOF
echo heredoc > /heredoc
EOF
RUN <<EOF
#!/bin/sh
echo shebang > /shebang
EOF
CMD ["sh", "-c", "cat /shell-form /work/dir/here /uid-root /uid-nobody /heredoc /shebang /shell-changed; ls /exec-form 2>&1 || true"]
"#;
    let dir = context(&env, "ctx", &[("Dockerfile", df)]);
    build_ok(&env, &dir, &["-t", "runs", "--build-arg", "WHO=strata"]);
    let out = env.ok(["run", "--rm", "runs"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "hello strata");
    assert_eq!(lines[1], "/work/dir");
    assert_eq!(lines[2], "0");
    assert_eq!(lines[3], "65534");
    assert_eq!(lines[4], "heredoc");
    assert_eq!(lines[5], "shebang");
    assert_eq!(lines[6], "shell changed");
    assert!(lines[7].contains("No such file"), "{out}");
    let raw = raw_config(&env, "runs");
    let hist = raw["history"].to_string();
    assert!(
        hist.contains(
            "RUN |1 WHO=strata /bin/sh -c echo \\\"$GREETING $WHO\\\" > /shell-form # buildkit"
        ),
        "{hist}"
    );
    assert!(
        hist.contains("RUN |1 WHO=strata /bin/sh -c echo exec-form > /exec-form # buildkit"),
        "{hist}"
    );
    assert!(
        hist.contains("/bin/sh -c -e echo \\\"shell changed\\\""),
        "{hist}"
    );
}

#[test]
fn failing_run_shows_output_and_tags_nothing() {
    let env = Env::new();
    env.busybox("base");
    let dir = context(
        &env,
        "ctx",
        &[(
            "Dockerfile",
            "FROM base\nRUN echo building\nRUN echo about to fail; echo on stderr >&2; exit 3\nRUN echo never\n",
        )],
    );
    let before = env.ok(["images", "-q"]);
    let err = crate::build_common::build_fails(&env, &dir, &["-t", "broken"]);
    assert!(err.contains("about to fail"), "{err}");
    assert!(err.contains("on stderr"), "{err}");
    assert!(
        err.contains("process \"/bin/sh -c echo about to fail; echo on stderr >&2; exit 3\" did not complete successfully: exit code: 3"),
        "{err}"
    );
    assert!(err.contains(" > [3/4] RUN echo about to fail"), "{err}");
    assert!(err.contains(">>> RUN echo about to fail"), "{err}");
    assert!(err.contains("Dockerfile:3"), "{err}");
    assert!(
        !err.contains(" never\n#"),
        "the step after the failure ran: {err}"
    );
    assert_eq!(env.ok(["images", "-q"]), before, "no image tagged");
    assert!(env.run(["image", "inspect", "broken"]).status.code() != Some(0));
    // The steps before the failure were recorded: a fixed rebuild reuses them.
    let dir = context(
        &env,
        "ctx",
        &[("Dockerfile", "FROM base\nRUN echo building\nRUN true\n")],
    );
    let p = build_ok(&env, &dir, &["-t", "fixed"]);
    let states = crate::build_common::step_states(&p);
    assert_eq!(
        states[1],
        ("[2/3] RUN echo building".to_string(), "CACHED".to_string()),
        "{p}"
    );
    assert_eq!(states[2].1, "DONE", "{p}");
}

#[test]
fn mounts_cache_bind_tmpfs_secret() {
    let env = Env::new();
    env.busybox("base");
    let df = r#"FROM base
RUN --mount=type=cache,target=/cache,id=counter sh -c 'echo x >> /cache/count; wc -l < /cache/count > /count'
RUN --mount=type=bind,source=data,target=/data cat /data/input > /from-bind
RUN --mount=type=tmpfs,target=/scratch sh -c 'echo temp > /scratch/t && grep -q tmpfs /proc/mounts && echo ok > /tmpfs-ok'
RUN --mount=type=secret,id=token,required=true sh -c 'cat /run/secrets/token > /dev/null && wc -c < /run/secrets/token > /secret-len'
RUN --mount=type=secret,id=token,env=TOKEN sh -c 'printf %s "$TOKEN" | wc -c > /secret-env'
RUN --network=none sh -c 'ls /sys/class/net > /nets'
"#;
    let dir = context(
        &env,
        "ctx",
        &[("Dockerfile", df), ("data/input", "bound\n")],
    );
    let secret = env.path("token");
    std::fs::write(&secret, "s3cr3t").unwrap();
    let sec = format!("id=token,src={}", secret.display());
    build_ok(&env, &dir, &["-t", "mounts", "--secret", &sec]);
    let out = env.path("rootfs");
    build_ok(
        &env,
        &dir,
        &[
            "--secret",
            &sec,
            "--output",
            &format!("type=local,dest={}", out.display()),
        ],
    );
    let read =
        |p: &str| std::fs::read_to_string(out.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert_eq!(read("count").trim(), "1");
    assert_eq!(read("from-bind"), "bound\n");
    assert_eq!(read("tmpfs-ok"), "ok\n");
    assert_eq!(read("secret-len").trim(), "6");
    assert_eq!(read("secret-env").trim(), "6");
    assert_eq!(read("nets").split_whitespace().collect::<Vec<_>>(), ["lo"]);
    assert!(!out.join("scratch/t").exists() && !out.join("cache/count").exists());
    assert!(!out.join("run/secrets/token").exists(), "secret in a layer");
    // The secret's bytes are in no layer blob.
    for e in std::fs::read_dir(env.root.join("blobs/sha256"))
        .unwrap()
        .flatten()
    {
        let b = std::fs::read(e.path()).unwrap();
        assert!(
            !b.windows(6).any(|w| w == b"s3cr3t"),
            "secret found in blob {:?}",
            e.path()
        );
    }
    // The cache mount persists across builds that run the step again.
    build_ok(
        &env,
        &dir,
        &["--no-cache", "--secret", &sec, "-t", "mounts2"],
    );
    let got = env.ok(["run", "--rm", "mounts2", "cat", "/count"]);
    assert_eq!(got.trim(), "2");
    // A required secret that was not given is an error naming it.
    let err = crate::build_common::build_fails(&env, &dir, &["--no-cache"]);
    assert!(err.contains("secret token not found"), "{err}");
}
