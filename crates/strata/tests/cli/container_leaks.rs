//! 50 detached containers started and removed leave no mounts, processes
//! or cgroup directories behind (issue 4).

use crate::container_common::{Ctr, container_dirs, mounts_under};

fn cgroup_dirs(ids: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for ctl in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        for id in ids {
            let p = ctl.path().join("strata").join(id);
            if p.exists() {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(needle) {
            out.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
        }
    }
    out
}

#[test]
fn fifty_containers_leave_nothing_behind() {
    let Some(t) = Ctr::new() else { return };
    // Sleep lengths unique to this run, so that other strata tests running
    // at the same time on this machine are never mistaken for leftovers.
    let base = 100_000 + (std::process::id() as u64 % 10_000) * 64;
    let mut ids = Vec::new();
    for i in 0..50 {
        let id = t.ok([
            "run",
            "-d",
            "--network",
            "none",
            "busybox",
            "sleep",
            &format!("{}", base + i),
        ]);
        ids.push(id.trim().to_string());
    }
    assert_eq!(t.ok(["ps", "-q"]).lines().count(), 50);
    assert_eq!(mounts_under(&t.env.root).len(), 50);
    let mut rm = vec!["rm".to_string(), "-f".to_string()];
    rm.extend(ids.iter().cloned());
    t.ok(&rm);
    assert_eq!(t.ok(["ps", "-aq"]), "");
    assert!(container_dirs(&t.env).is_empty());
    assert_eq!(mounts_under(&t.env.root), Vec::<String>::new());
    assert_eq!(cgroup_dirs(&ids), Vec::<String>::new());
    let root = t.env.root.display().to_string();
    // A SIGKILLed process can still be tearing down (its /proc entry
    // readable) for a moment on a loaded machine: give stragglers a few
    // seconds to go, then report what is left with its parent and state.
    let left = || {
        let mut left = processes_mentioning(&root);
        for i in 0..50 {
            left.extend(processes_mentioning(&format!("sleep {} ", base + i)));
        }
        left
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !left().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let status = |line: &String| {
        let pid = line.split(':').next().unwrap_or_default();
        let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let keep = |l: &&str| l.starts_with("State:") || l.starts_with("PPid:");
        format!(
            "{line} [{}]",
            st.lines().filter(keep).collect::<Vec<_>>().join(", ")
        )
    };
    let left: Vec<String> = left().iter().map(status).collect();
    assert_eq!(left, Vec::<String>::new(), "supervisors or containers left");
}
