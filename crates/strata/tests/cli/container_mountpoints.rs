//! `run -v HOSTDIR:DEST` into an image whose DEST is a hostile symlink
//! (`/data -> ../../tmp`, `/rootlink -> /`, a link to a path that does not
//! exist yet): the mount lands inside the rootfs where the container
//! itself would find DEST (docker's behaviour), missing mount points are
//! made inside the rootfs, never on the host, and a DEST that is the root
//! itself is refused — with the embedded runtime and with runc. See:
//! issue 9.

use crate::build_common::{build_ok, context};
use crate::build_escape::Canaries;
use crate::container_common::Ctr;
use crate::support::{skip, which};

#[test]
fn volume_destinations_resolve_inside_the_rootfs() {
    let Some(t) = Ctr::new() else { return };
    let c = Canaries::new(&t.env);
    let tk = c.token.clone();
    let df = format!(
        "FROM busybox\nRUN ln -s ../../tmp /data && ln -s / /rootlink && ln -s ../../../tmp/{tk}-mp/sub /newdir\n"
    );
    let dir = context(&t.env, "ctx", &[("Dockerfile", &df)]);
    build_ok(&t.env, &dir, &["-t", "hostile"]);
    let vol = t.env.path("vol");
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::write(vol.join("hostfile"), "from-host\n").unwrap();
    let v = |dest: &str| format!("{}:{dest}", vol.display());
    let mut runtimes: Vec<Vec<String>> = vec![vec![]];
    match which("runc")
        .or_else(|| Some("/usr/sbin/runc".into()).filter(|p: &std::path::PathBuf| p.is_file()))
    {
        Some(r) => runtimes.push(vec!["--runtime".into(), r.display().to_string()]),
        None => skip("runc is not installed: only the embedded runtime is checked"),
    }
    let mut seen = String::new();
    for rt in &runtimes {
        let run = |vol_arg: &str, script: &str| -> std::process::Output {
            let mut args: Vec<&str> = vec!["run", "--rm"];
            args.extend(rt.iter().map(String::as_str));
            args.extend(["-v", vol_arg, "hostile", "sh", "-c", script]);
            t.run(&args)
        };
        let ok = |out: std::process::Output| -> String {
            let s = String::from_utf8_lossy(&out.stdout).into_owned();
            let e = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(out.status.success(), "{rt:?}: {s}{e}");
            s + &e
        };
        // /data -> ../../tmp: the volume is the container's /tmp.
        let out = ok(run(
            &v("/data"),
            "cat /tmp/hostfile /data/hostfile; grep -c ' /tmp ' /proc/mounts",
        ));
        assert_eq!(out, "from-host\nfrom-host\n1\n", "{rt:?}");
        // A link to a missing path: the mount point is made in the rootfs.
        let script = format!("cat /tmp/{tk}-mp/sub/hostfile && test -d /tmp/{tk}-mp");
        let out = ok(run(&v("/newdir"), &script));
        assert_eq!(out, "from-host\n", "{rt:?}");
        // Through /rootlink -> /, inside the rootfs too.
        let script = format!("cat /tmp/{tk}-x/hostfile");
        let out = ok(run(&v(&format!("/rootlink/tmp/{tk}-x")), &script));
        assert_eq!(out, "from-host\n", "{rt:?}");
        // The root itself: refused.
        let out = run(&v("/rootlink"), "true");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(125), "{rt:?}: {err}");
        assert!(
            err.contains("resolves to the container's root directory"),
            "{rt:?}: {err}"
        );
        seen.push_str(&err);
    }
    c.check(&seen, &t.env.root);
    assert_eq!(
        std::fs::read_to_string(vol.join("hostfile")).unwrap(),
        "from-host\n"
    );
}
