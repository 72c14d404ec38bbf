//! A built image saved with `save --format docker` runs in `docker run`
//! with the same output as `strata run` (when a docker daemon is
//! available). See: issue 6.

use crate::build_common::{build_ok, context};
use crate::support::{Env, docker, sh, skip};

#[test]
fn built_image_runs_the_same_in_docker() {
    let env = Env::new();
    env.busybox("base");
    let df = "FROM base\nENV GREETING=hello\nWORKDIR /app\nCOPY msg.txt .\nRUN echo \"built $(cat msg.txt)\" > built.txt\nCMD [\"sh\", \"-c\", \"echo $GREETING; pwd; cat /app/built.txt; id -u\"]\n";
    let dir = context(
        &env,
        "ctx",
        &[("Dockerfile", df), ("msg.txt", "with strata")],
    );
    build_ok(&env, &dir, &["-t", "strata-interop/built:1"]);
    let ours = env.ok(["run", "--rm", "--network", "none", "strata-interop/built:1"]);
    assert_eq!(ours, "hello\n/app\nbuilt with strata\n0\n");
    let Some(mut d) = docker() else {
        return skip("no docker daemon (STRATA_TEST_DOCKER_HOST)");
    };
    let tar = env.path("built.tar");
    env.ok([
        "save",
        "--format",
        "docker",
        "-o",
        tar.to_str().unwrap(),
        "strata-interop/built:1",
    ]);
    sh(d.args(["load", "-i"]).arg(&tar));
    let theirs =
        sh(docker()
            .unwrap()
            .args(["run", "--rm", "--network=none", "strata-interop/built:1"]));
    let _ = docker()
        .unwrap()
        .args(["image", "rm", "-f", "strata-interop/built:1"])
        .output();
    assert_eq!(theirs, ours);
}
