//! The build-step executor against a real store, as root: output streams,
//! exit codes, the upper dir as a layer (whiteouts included), errors,
//! concurrent callers, and runc parity. A custom harness: this test binary
//! is also the helper binary (`__shim …` invocations are dispatched to
//! `strata_runtime::helper::main` before any test runs).

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use strata_runtime::RuntimeError;
use strata_runtime::isolation::Isolation;
use strata_runtime::logs::Stream;
use strata_runtime::step::{StepSpec, run_step, run_step_with};
use strata_store::Store;
use strata_store::archive::import::ImportOptions;
use strata_store::cancel::Cancel;
use strata_store::ingest::DirLayerOptions;
use strata_store::layer::{Compression, WhiteoutFormat};

fn busybox_tar(dir: &Path) -> PathBuf {
    let bb = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("busybox-static is required");
    let path = dir.join("busybox.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&path).unwrap());
    let add_dir = |b: &mut tar::Builder<std::fs::File>, p: &str| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_cksum();
        b.append_data(&mut h, p, std::io::empty()).unwrap();
    };
    for d in [
        "bin/",
        "etc/",
        "tmp/",
        "usr/",
        "usr/bin/",
        "usr/sbin/",
        "sbin/",
        "root/",
        "home/",
    ] {
        add_dir(&mut b, d);
    }
    let data = std::fs::read(&bb).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_mode(0o755);
    h.set_size(data.len() as u64);
    h.set_cksum();
    b.append_data(&mut h, "bin/busybox", &data[..]).unwrap();
    let list = Command::new(&bb).arg("--list-full").output().unwrap();
    for p in String::from_utf8_lossy(&list.stdout).lines() {
        if p == "bin/busybox" || p.is_empty() {
            continue;
        }
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        h.set_cksum();
        b.append_link(&mut h, p, "/bin/busybox").unwrap();
    }
    for (p, body) in [
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
        ),
        ("etc/group", "root:x:0:\nnobody:x:65534:\n"),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(body.len() as u64);
        h.set_cksum();
        b.append_data(&mut h, p, body.as_bytes()).unwrap();
    }
    b.finish().unwrap();
    path
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    lowers: Vec<PathBuf>,
    parent: strata_oci::Digest,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("root")).unwrap();
    let tar = busybox_tar(dir.path());
    let row = store
        .import_rootfs(std::fs::File::open(tar).unwrap(), &ImportOptions::default())
        .unwrap();
    let img = store.image(&row.id).unwrap();
    let lowers = store.snapshots().lower_dirs(&img.chain_ids()).unwrap();
    let parent = img.chain_ids().last().unwrap().clone();
    Fixture {
        _dir: dir,
        store,
        lowers,
        parent,
    }
}

impl Fixture {
    fn spec(&self, script: &str) -> StepSpec {
        let d = self.store.scratch().new_dir("step-test").unwrap();
        let (upper, work) = (d.join("upper"), d.join("work"));
        std::fs::create_dir_all(&upper).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        StepSpec {
            lowers: self.lowers.clone(),
            upper,
            work,
            args: vec!["/bin/sh".into(), "-c".into(), script.into()],
            env: vec!["PATH=/usr/bin:/bin".into()],
            ..StepSpec::default()
        }
    }

    fn run(&self, spec: &StepSpec) -> (Result<i32, RuntimeError>, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let r = run_step(&self.store, spec, &mut |s, b| match s {
            Stream::Stdout => out.extend_from_slice(b),
            Stream::Stderr => err.extend_from_slice(b),
        });
        (
            r.map(|s| s.code),
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    }
}

fn step_output_exit_code_and_layer() {
    let f = fixture();
    let spec = f.spec(
        "echo out; echo err >&2; echo data > /new; rm /etc/group; mkdir -p /app; hostname; exit 0",
    );
    let (code, out, err) = f.run(&spec);
    assert_eq!(code.unwrap(), 0);
    assert_eq!(out, "out\nbuildkitsandbox\n");
    assert_eq!(err, "err\n");
    assert_eq!(
        std::fs::read_to_string(spec.upper.join("new")).unwrap(),
        "data\n"
    );
    let wh = std::fs::symlink_metadata(spec.upper.join("etc/group")).unwrap();
    assert!(
        wh.file_type().is_char_device(),
        "deletion = overlay whiteout"
    );
    assert!(
        !spec.upper.join("etc/hosts").exists(),
        "no mount stubs in the layer"
    );
    assert!(!spec.upper.join("etc/resolv.conf").exists());

    let layer = f
        .store
        .layer_from_dir(
            &spec.upper,
            Some(&f.parent),
            &DirLayerOptions {
                whiteouts: WhiteoutFormat::Overlay,
                compression: Compression::GZIP,
                source_date_epoch: None,
                adopt_dir: false,
            },
        )
        .unwrap();
    let blob = layer.blob.unwrap();
    let raw = f.store.content().open(&blob.digest).unwrap();
    let mut gz = flate2_free_decompress(raw);
    let mut names = Vec::new();
    let mut ar = tar::Archive::new(&mut gz);
    for e in ar.entries().unwrap() {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    for want in ["new", "etc/.wh.group", "app/"] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }

    let (code, _, _) = f.run(&f.spec("exit 7"));
    assert_eq!(code.unwrap(), 7);
    // A child killed by a signal: the shell reports 128 + n.
    let (code, _, _) = f.run(&f.spec("sh -c 'kill -TERM $$'; exit $?"));
    assert_eq!(code.unwrap(), 143);
}

/// The layer blob is gzip; decompress with the store's own reader.
fn flate2_free_decompress(r: impl Read + 'static) -> Box<dyn Read> {
    strata_store::layer::decompress(Box::new(r), strata_oci::media::LayerCompression::Gzip).unwrap()
}

fn step_user_cwd_env_and_errors() {
    let f = fixture();
    let mut spec = f.spec("id -u; pwd; echo $HOME $GREETING");
    spec.user = "nobody".into();
    spec.cwd = "/work/dir".into();
    spec.env.push("GREETING=hi".into());
    let (code, out, _) = f.run(&spec);
    assert_eq!(code.unwrap(), 0);
    assert_eq!(out, "65534\n/work/dir\n/home hi\n");

    let mut spec = f.spec("");
    spec.args = vec!["definitely-missing".into()];
    match f.run(&spec).0 {
        Err(RuntimeError::Start { code, message }) => {
            assert_eq!(code, 127);
            assert!(
                message.contains("executable file not found in $PATH"),
                "{message}"
            );
        }
        other => panic!("expected a start error, got {other:?}"),
    }
    let mut spec = f.spec("true");
    spec.user = "ghost".into();
    assert!(matches!(
        f.run(&spec).0,
        Err(RuntimeError::Start { code: 125, .. })
    ));
}

fn steps_from_many_threads() {
    let f = Arc::new(fixture());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let f = f.clone();
            std::thread::spawn(move || {
                let (code, out, _) = f.run(&f.spec(&format!("echo thread {i}")));
                assert_eq!(code.unwrap(), 0);
                assert_eq!(out, format!("thread {i}\n"));
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

fn step_under_runc_matches() {
    let runc = Path::new("/usr/sbin/runc");
    if !runc.is_file() {
        return strata_testkit::skip("runc is not installed (apt install runc)");
    }
    let f = fixture();
    let script =
        "id; grep ^Cap /proc/self/status; ls /dev; cat /proc/1/cmdline; echo x > /f; exit 4";
    let a = f.run(&f.spec(script));
    let mut spec = f.spec(script);
    spec.runtime = Some(runc.to_path_buf());
    let b = f.run(&spec);
    assert_eq!(a.0.unwrap(), 4);
    assert_eq!(b.0.unwrap(), 4);
    assert_eq!(a.1, b.1);
    assert!(spec.upper.join("f").is_file());
}

/// A process whose command line holds `token`: (pid, cgroup of its
/// `pids` hierarchy or v2 line).
fn find(token: &str) -> Option<(i32, String)> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmd).contains(token) {
            let cg = std::fs::read_to_string(e.path().join("cgroup")).unwrap_or_default();
            let line = cg
                .lines()
                .find(|l| l.split(':').nth(1) == Some("pids"))
                .or_else(|| cg.lines().find(|l| l.starts_with("0::")))
                .unwrap_or("");
            return Some((pid, line.splitn(3, ':').nth(2).unwrap_or("").to_string()));
        }
    }
    None
}

/// Waits (bounded) until `f` holds.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !f() {
        assert!(std::time::Instant::now() < end, "{what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn cgroup_gone(cg: &str) -> bool {
    let rel = cg.trim_start_matches('/');
    !rel.is_empty()
        && std::fs::read_dir("/sys/fs/cgroup")
            .map(|rd| rd.flatten().all(|e| !e.path().join(rel).exists()))
            .unwrap_or(true)
}

/// Runs a `sleep` step in the background, stops it with `stop`, and checks
/// nothing of it is left. See: issue 18.
fn stopped_step_leaves_nothing(runtime: Option<&Path>, stop: impl FnOnce(&Cancel)) {
    let f = Arc::new(fixture());
    let token = format!("step-token-{}", std::process::id());
    let mut spec = f.spec(&format!("sleep 300; : {token}"));
    spec.runtime = runtime.map(Path::to_path_buf);
    let cancel = Cancel::new();
    let h = {
        let (f, cancel) = (f.clone(), cancel.clone());
        std::thread::spawn(move || run_step_with(&f.store, &spec, &cancel, &mut |_, _| {}))
    };
    let mut found = None;
    eventually("the step starts", || {
        found = find(&token);
        found.is_some()
    });
    let (_, cgroup) = found.unwrap();
    assert!(cgroup.contains("strata/step-"), "{cgroup}");
    stop(&cancel);
    let r = h.join().unwrap();
    assert!(matches!(r, Err(RuntimeError::Cancelled)), "{r:?}");
    eventually("the step's processes are gone", || find(&token).is_none());
    eventually("the step's cgroup is gone", || cgroup_gone(&cgroup));
}

fn a_cancelled_step_leaves_nothing() {
    stopped_step_leaves_nothing(None, |c| {
        c.cancel(libc::SIGINT);
    });
    let runc = Path::new("/usr/sbin/runc");
    if runc.is_file() {
        stopped_step_leaves_nothing(Some(runc), |c| {
            c.cancel(libc::SIGTERM);
        });
    }
}

/// SIGTERM to the helper itself (not through the build) stops the step:
/// it used to be forwarded to the step's PID 1, which ignores it.
fn sigterm_to_the_helper_stops_the_step() {
    stopped_step_leaves_nothing(None, |_| {
        let me = std::process::id().to_string();
        let shim = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .find(|e| {
                let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
                let ppid = stat
                    .rsplit_once(')')
                    .and_then(|(_, r)| r.split_whitespace().nth(1).map(str::to_string));
                let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                ppid.as_deref() == Some(me.as_str())
                    && String::from_utf8_lossy(&cmd).contains("__shim")
            })
            .expect("the step helper is our child");
        let pid: i32 = shim.file_name().to_string_lossy().parse().unwrap();
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    });
}

/// Chroot isolation: a cancelled step's processes are gone, the one that
/// left its process group with `setsid` included (the helper is their
/// subreaper). See: issue 12.
fn a_cancelled_chroot_step_leaves_nothing() {
    let f = Arc::new(fixture());
    let rootfs = f._dir.path().join("chroot-rootfs");
    std::fs::create_dir(&rootfs).unwrap();
    strata_store::plainfs_linux::materialize(&f.lowers, &rootfs).unwrap();
    // Unique sleep durations find the processes.
    let (a, b) = (
        200_000 + std::process::id() % 100_000,
        300_000 + std::process::id() % 100_000,
    );
    let spec = StepSpec {
        lowers: vec![rootfs],
        args: vec![
            "/bin/sh".into(),
            "-c".into(),
            format!("(setsid sleep {a} &); sleep {b}"),
        ],
        env: vec!["PATH=/bin".into()],
        isolation: Isolation::Chroot,
        ..StepSpec::default()
    };
    let cancel = Cancel::new();
    let h = {
        let (f, cancel) = (f.clone(), cancel.clone());
        std::thread::spawn(move || run_step_with(&f.store, &spec, &cancel, &mut |_, _| {}))
    };
    let (a, b) = (format!("\0{a}"), format!("\0{b}"));
    eventually("the step starts", || {
        find(&a).is_some() && find(&b).is_some()
    });
    cancel.cancel(libc::SIGINT);
    let r = h.join().unwrap();
    assert!(matches!(r, Err(RuntimeError::Cancelled)), "{r:?}");
    eventually("the step's processes are gone", || {
        find(&a).is_none() && find(&b).is_none()
    });
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args
        .get(1)
        .is_some_and(|a| a == strata_runtime::helper::SHIM)
    {
        std::process::exit(strata_runtime::helper::main(&args[2..]));
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return strata_testkit::skip("build-step tests need root");
    }
    strata_runtime::helper::set_helper_binary(std::env::current_exe().unwrap());
    let filter = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .find(|a| !a.starts_with('-'));
    let tests: &[(&str, fn())] = &[
        (
            "step_output_exit_code_and_layer",
            step_output_exit_code_and_layer,
        ),
        ("step_user_cwd_env_and_errors", step_user_cwd_env_and_errors),
        ("steps_from_many_threads", steps_from_many_threads),
        ("step_under_runc_matches", step_under_runc_matches),
        (
            "a_cancelled_step_leaves_nothing",
            a_cancelled_step_leaves_nothing,
        ),
        (
            "sigterm_to_the_helper_stops_the_step",
            sigterm_to_the_helper_stops_the_step,
        ),
        (
            "a_cancelled_chroot_step_leaves_nothing",
            a_cancelled_chroot_step_leaves_nothing,
        ),
    ];
    let mut failed = 0;
    let mut ran = 0;
    for (name, t) in tests {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        ran += 1;
        match std::panic::catch_unwind(t) {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {failed} failed",
        if failed == 0 { "ok" } else { "FAILED" },
        ran - failed
    );
    if failed > 0 {
        std::process::exit(101);
    }
}
