//! `--runtime PATH`: the same bundle under runc gives the same result as
//! the embedded runtime (issue 4).

use crate::container_common::Ctr;
use crate::support::{skip, which};

const PROBE: &str = "id; grep ^Cap /proc/self/status; grep NoNewPrivs /proc/self/status; \
    cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /dev; env | grep -v ^HOSTNAME= | sort; \
    cat /etc/hosts; ls /sys/class/net; awk '{print $5, $9}' /proc/self/mountinfo | sort; \
    echo x > /proc/sys/vm/overcommit_memory 2>/dev/null || echo ro-proc-sys; exit 3";

#[test]
fn runc_and_the_embedded_runtime_agree() {
    let Some(t) = Ctr::new() else { return };
    let Some(runc) = which("runc")
        .or_else(|| Some("/usr/sbin/runc".into()).filter(|p: &std::path::PathBuf| p.is_file()))
    else {
        return skip("runc is not installed");
    };
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--rm", "--network", "none", "-e", "X=1", "-u", "0:0"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["busybox", "sh", "-c", PROBE]);
        let out = t.run(&args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let embedded = run(&[]);
    let external = run(&["--runtime", runc.to_str().unwrap()]);
    assert_eq!(embedded.0, Some(3), "{}", embedded.2);
    assert_eq!(embedded, external);
    assert!(embedded.1.contains("ro-proc-sys"));

    // Detached, stop and exec work the same way under runc.
    t.ok([
        "run",
        "-d",
        "--name",
        "rr",
        "--runtime",
        runc.to_str().unwrap(),
        "busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(t.ok(["exec", "rr", "echo", "exec ok"]), "exec ok\n");
    t.ok(["stop", "-t", "0", "rr"]);
    assert_eq!(
        t.inspect("rr", "{{.State.ExitCode}} {{.HostConfig.Runtime}}"),
        format!("137 {}", runc.display())
    );
}
