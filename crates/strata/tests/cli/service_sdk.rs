//! The Python Docker SDK (Debian's `python3-docker`, docker-py 5) against
//! `strata system service`: build an image from a context directory, run
//! it detached (the classic builder's `Step N/M` stream), stream its logs,
//! exec in it, save and load it (`/images/{name}/get`, `/images/load`),
//! remove both — the SDK's own calls, no docker CLI (issue 17).

use std::process::Command;

use crate::service_common::Svc;
use crate::support::skip;

/// Debian's interpreter, where `python3-docker` is installed (a `python3`
/// earlier on PATH, e.g. pyenv's, may not have it).
const PYTHON: &str = "/usr/bin/python3";

const SCRIPT: &str = r#"
import sys, docker
sock, ctx = sys.argv[1], sys.argv[2]
c = docker.DockerClient(base_url="unix://" + sock)
print("api", c.version()["ApiVersion"])
img, logs = c.images.build(path=ctx, tag="sdk-img:1", rm=True)
print("tags", img.tags)
steps = [l["stream"] for l in logs if l.get("stream", "").startswith("Step ")]
print("steps", len(steps), steps[0])
ctr = c.containers.run("sdk-img:1", detach=True, name="sdk-ctr", environment={"WHO": "sdk"})
for line in ctr.logs(stream=True, follow=True):
    print("log", line.decode().rstrip())
    break
code, out = ctr.exec_run(["sh", "-c", "echo $GREETING $WHO; exit 3"])
print("exec", code, out.decode().rstrip())
ctr.reload()
print("status", ctr.status, ctr.name)
ctr.remove(force=True)
data = b"".join(c.images.get("sdk-img:1").save(named=True))
c.images.remove("sdk-img:1")
print("loaded", [t for i in c.images.load(data) for t in i.tags])
c.images.remove("sdk-img:1")
print("left", [x.name for x in c.containers.list(all=True)], [t for i in c.images.list() for t in i.tags if t.startswith("sdk-img")])
"#;

#[test]
fn service_python_sdk_builds_runs_streams_execs_and_removes() {
    let has_sdk = Command::new(PYTHON)
        .args(["-c", "import docker"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_sdk {
        return skip("the Python Docker SDK is not installed (apt install python3-docker)");
    }
    let Some(s) = Svc::new() else { return };
    let ctx = s.t.env.path("sdk-ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nENV GREETING=hello\nCMD [\"sh\", \"-c\", \"echo $GREETING from $WHO; exec sleep 60\"]\n",
    )
    .unwrap();
    let out = Command::new(PYTHON)
        .args(["-c", SCRIPT])
        .arg(&s.sock)
        .arg(&ctx)
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text,
        "api 1.41\ntags ['sdk-img:1']\nsteps 3 Step 1/3 : FROM busybox\nlog hello from sdk\nexec 3 hello sdk\n\
         status running sdk-ctr\nloaded ['sdk-img:1']\nleft [] []\n"
    );
    assert_eq!(s.t.ok(["ps", "-aq"]), "");
}
