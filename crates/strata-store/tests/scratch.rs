//! Scratch ownership across processes (see `strata_store::scratch`): a
//! process SIGKILLed while writing many directories never stops the next
//! open, even while a straggler keeps writing into its dead scratch; a
//! live process's scratch survives every other process's sweep; the pid in
//! an owner's name means nothing (only its lock does).
//!
//! The child processes are this test binary run again with
//! `STRATA_SCRATCH_CHILD=<role>:<path>` (test `child`), so they use the
//! library exactly as strata does. See: issue 11 ("Store refuses to open
//! after a kill"), issue 18 ("scratch and in-progress work is owned").

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use strata_store::Store;
use strata_store::scratch;

const ROLE: &str = "STRATA_SCRATCH_CHILD";

/// Runs as a child when `STRATA_SCRATCH_CHILD` is set; a no-op otherwise.
#[test]
fn child() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let (role, path) = role.split_once(':').expect("role:path");
    // SAFETY: prctl(PR_SET_PDEATHSIG) has no memory effects; a child must
    // not outlive a test that panicked.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    match role {
        // Own a store's scratch and fill it with nested dirs until killed.
        "writer" => {
            let store = Store::open(path).expect("open store");
            let dir = store.scratch().dir().to_path_buf();
            announce(&dir);
            write_forever(&dir);
        }
        // Write into a directory this process does not own (a step process
        // outliving its build), through its cwd so a rename does not stop it.
        "straggler" => {
            std::env::set_current_dir(path).expect("chdir");
            announce(Path::new(path));
            write_forever(Path::new("."));
        }
        other => panic!("unknown role {other}"),
    }
}

fn announce(p: &Path) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "\nPATH={}", p.display()).expect("stdout");
    out.flush().expect("flush");
}

/// Writes nested dirs (a bounded number, so a stray child cannot fill the
/// disk), then stays alive until killed.
fn write_forever(base: &Path) -> ! {
    for n in 0..MAX_DIRS {
        let d = base.join(format!("d{}/e{n}", n % 64));
        if fs::create_dir_all(&d).is_ok() {
            let _ = fs::write(d.join("f"), b"data");
        }
        if n % 16 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

const MAX_DIRS: u64 = 4000;

/// A child process, SIGKILLed and reaped when dropped.
struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        kill(&mut self.0);
    }
}

/// Starts this binary as a child in `role`; returns it and the path it
/// printed.
fn spawn(role: &str, path: &Path) -> (Kid, PathBuf) {
    let mut child = Command::new(std::env::current_exe().expect("current exe"))
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(ROLE, format!("{role}:{}", path.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    // The test harness prints its own lines; ours starts with `PATH=`.
    let path = loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).expect("read child") > 0,
            "child exited early"
        );
        if let Some(p) = line.trim().strip_prefix("PATH=") {
            break PathBuf::from(p);
        }
    };
    (Kid(child), path)
}

fn kill(child: &mut Child) {
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
}

/// Waits until `dir` holds at least `n` entries below it.
fn wait_for_entries(dir: &Path, n: usize) {
    let start = Instant::now();
    while count(dir) < n {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the child never wrote {n} entries"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count(dir: &Path) -> usize {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    1 + if e.file_type().is_ok_and(|t| t.is_dir()) {
                        count(&e.path())
                    } else {
                        0
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn a_killed_writer_never_stops_the_next_open() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    drop(Store::open(&root).unwrap());
    for round in 0..3 {
        let (writer, dir) = spawn("writer", &root);
        wait_for_entries(&dir, 500);
        drop(writer);
        assert!(
            dir.exists(),
            "round {round}: the dead scratch is still there"
        );
        // Something the dead command started keeps writing into its scratch.
        let (straggler, _) = spawn("straggler", &dir);
        wait_for_entries(&dir, 700);
        for _ in 0..5 {
            let s = Store::open(&root).unwrap_or_else(|e| panic!("round {round}: open: {e}"));
            assert!(
                !dir.exists(),
                "round {round}: the dead scratch was moved aside"
            );
            drop(s);
        }
        drop(straggler);
        // Now nothing writes: the next open deletes the trash.
        let s = Store::open(&root).unwrap();
        assert_eq!(
            scratch::leftovers(&root.join("tmp")).unwrap(),
            Vec::<PathBuf>::new(),
            "round {round}: the trash is gone once its writer is"
        );
        drop(s);
    }
}

#[test]
fn a_live_scratch_survives_other_sweeps() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    drop(Store::open(&root).unwrap());
    let (writer, dir) = spawn("writer", &root);
    wait_for_entries(&dir, 200);
    for _ in 0..10 {
        let before = count(&dir);
        let s = Store::open(&root).unwrap();
        assert!(dir.exists(), "a live scratch was removed");
        assert!(
            count(&dir) >= before,
            "entries vanished from a live scratch"
        );
        assert!(
            scratch::leftovers(&root.join("tmp")).unwrap().is_empty(),
            "a live scratch counts as a leftover"
        );
        drop(s);
    }
    drop(writer);
    drop(Store::open(&root).unwrap());
    assert!(!dir.exists(), "reclaimed once its owner died");
}

#[test]
fn the_pid_in_a_name_does_not_keep_a_scratch_alive() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    drop(Store::open(&root).unwrap());
    // Named after this (live) process, but nobody holds its lock: a pid
    // that was reused by now.
    let owner = format!("p{}-dead", std::process::id());
    let tmp = root.join("tmp");
    fs::create_dir_all(tmp.join(&owner).join("x")).unwrap();
    fs::write(tmp.join(format!("{owner}.lock")), b"").unwrap();
    drop(Store::open(&root).unwrap());
    assert!(!tmp.join(&owner).exists());
    assert!(!tmp.join(format!("{owner}.lock")).exists());
}
