//! The Python Docker SDK (Debian's `python3-docker`, docker-py 5) against
//! `strata system service`: build an image from a context directory, run
//! it detached (the classic builder's `Step N/M` stream), stream its logs,
//! exec in it, save and load it (`/images/{name}/get`, `/images/load`),
//! remove both — the SDK's own calls, no docker CLI; and its container
//! calls: diff, top, stats, pause, rename, update, export (issue 17).

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

const INSPECT_SCRIPT: &str = r#"
import io, sys, tarfile, time, docker
c = docker.DockerClient(base_url="unix://" + sys.argv[1])
ctr = c.containers.run("busybox", ["sh", "-c", "touch /made; exec sleep 60"], detach=True, name="sdk-insp")
for _ in range(200):
    ch = ctr.diff() or []
    if any(x["Path"] == "/made" for x in ch):
        break
    time.sleep(0.05)
print("diff", sorted((x["Kind"], x["Path"]) for x in ch))
t = ctr.top(ps_args="-o pid,comm")
print("top", t["Titles"], [p[-1] for p in t["Processes"]])
st = ctr.stats(stream=False)
print("stats", st["name"], st["pids_stats"]["current"], st["precpu_stats"]["system_cpu_usage"] > 0)
it = ctr.stats(decode=True)
a, b = next(it), next(it)
print("stream", b["preread"] == a["read"])
ctr.pause(); ctr.reload(); print("paused", ctr.status)
try:
    ctr.pause()
except docker.errors.APIError as e:
    print("again", e.status_code)
ctr.unpause(); ctr.reload(); print("unpaused", ctr.status)
ctr.rename("sdk-insp2"); ctr.reload(); print("renamed", ctr.name)
print("update", ctr.update(mem_limit="64m", memswap_limit="128m"))
ctr.reload(); print("memory", ctr.attrs["HostConfig"]["Memory"])
names = tarfile.open(fileobj=io.BytesIO(b"".join(ctr.export()))).getnames()
print("export", "made" in names, "bin/busybox" in names)
ctr.remove(force=True)
"#;

#[test]
fn service_python_sdk_inspects_and_adjusts_a_container() {
    let has_sdk = Command::new(PYTHON)
        .args(["-c", "import docker"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_sdk {
        return skip("the Python Docker SDK is not installed (apt install python3-docker)");
    }
    let Some(s) = Svc::new() else { return };
    let out = Command::new(PYTHON)
        .args(["-c", INSPECT_SCRIPT])
        .arg(&s.sock)
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
        "diff [(1, '/made')]\ntop ['PID', 'COMMAND'] ['sleep']\nstats /sdk-insp 1 True\n\
         stream True\npaused paused\nagain 409\nunpaused running\nrenamed sdk-insp2\n\
         update {'Warnings': None}\nmemory 67108864\nexport True True\n"
    );
    assert_eq!(s.t.ok(["ps", "-aq"]), "");
}
