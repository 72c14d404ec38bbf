//! Bad input to `build`: Dockerfile errors with file:line and BuildKit's
//! snippet, a missing base image, COPY of a missing file, a context escape
//! — each names what is wrong, exits 1 and tags nothing. See: issue 6.

use crate::build_common::{build_fails, context};
use crate::support::Env;

#[test]
fn dockerfile_errors_name_file_and_line() {
    let env = Env::new();
    env.busybox("base");
    let dir = context(
        &env,
        "ctx",
        &[("Dockerfile", "FROM base\nRUN true\nRUNN make\n")],
    );
    let err = build_fails(&env, &dir, &["-t", "x"]);
    assert!(
        err.contains("Dockerfile:3: unknown instruction: RUNN"),
        "{err}"
    );
    assert!(err.contains("   3 | >>> RUNN make"), "{err}");
    let dir = context(
        &env,
        "ctx2",
        &[(
            "Dockerfile",
            "FROM base\nCOPY --from=later /x /y\nFROM base AS later\n",
        )],
    );
    let err = build_fails(&env, &dir, &[]);
    assert!(err.contains("Dockerfile:2:"), "{err}");
    let dir = context(&env, "ctx3", &[("Dockerfile", "FROM base\n")]);
    let err = build_fails(&env, &dir, &["--target", "nope"]);
    assert!(
        err.contains("target stage \"nope\" could not be found"),
        "{err}"
    );
    let err = build_fails(
        &env,
        &dir,
        &["-f", dir.join("missing.Dockerfile").to_str().unwrap()],
    );
    assert!(err.contains("missing.Dockerfile"), "{err}");
    assert!(
        env.ok(["images", "--format", "{{.Repository}}"])
            .lines()
            .all(|l| l == "base")
    );
}

#[test]
fn missing_base_image_is_named() {
    let env = Env::new();
    // Nothing listens on port 9 of loopback: the pull fails at once.
    let dir = context(
        &env,
        "ctx",
        &[(
            "Dockerfile",
            "FROM 127.0.0.1:9/nothing/here:1.0\nRUN true\n",
        )],
    );
    let err = build_fails(&env, &dir, &["-t", "x"]);
    assert!(err.contains("127.0.0.1:9/nothing/here:1.0"), "{err}");
    assert!(err.contains("Dockerfile:1"), "{err}");
    assert!(env.ok(["images", "-q"]).is_empty());
}

#[test]
fn copy_of_a_missing_file_and_context_escapes() {
    let env = Env::new();
    env.busybox("base");
    let dir = context(
        &env,
        "ctx",
        &[
            ("Dockerfile", "FROM base\nCOPY missing.txt /\n"),
            ("present.txt", "x"),
        ],
    );
    let err = build_fails(&env, &dir, &["-t", "x"]);
    assert!(err.contains("\"/missing.txt\": not found"), "{err}");
    assert!(err.contains(">>> COPY missing.txt /"), "{err}");
    std::fs::write(dir.join("Dockerfile"), "FROM base\nCOPY ../outside /\n").unwrap();
    let err = build_fails(&env, &dir, &[]);
    assert!(
        err.contains("../outside") && err.contains("outside the build context"),
        "{err}"
    );
    std::os::unix::fs::symlink("/etc", dir.join("link")).unwrap();
    std::fs::write(dir.join("Dockerfile"), "FROM base\nCOPY link/passwd /\n").unwrap();
    let err = build_fails(&env, &dir, &[]);
    assert!(
        err.contains("link") && err.contains("outside the build context"),
        "{err}"
    );
    assert!(env.run(["image", "inspect", "x"]).status.code() != Some(0));
}
