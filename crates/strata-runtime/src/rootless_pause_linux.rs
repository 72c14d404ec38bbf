//! The rootless pause process (podman's model): the first rootless command
//! leaves a process that does nothing but hold its user, mount and cgroup
//! namespaces; every later command of the same user joins them with
//! `setns` instead of making new ones. So a detached container, its mounts
//! and its supervisor live in the namespaces later `exec`, `stop`, `logs`
//! or `commit` run in, and a command skips `newuidmap`'s two setuid
//! executions.
//!
//! ```text
//! <run dir>/pause.lock   flock held while a command looks for or starts it
//! <run dir>/pause.pid    "<pid> ranges|single"
//! ```
//! The run dir is `$XDG_RUNTIME_DIR/strata` (or `/tmp/strata-run-<uid>`).
//! A pause process is trusted only if `/proc/<pid>/comm` is
//! `strata-pause` and it belongs to the user. `kill` it to start afresh
//! (after changing `/etc/subuid`, say).

use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::unistd::ForkResult;

use crate::rootless_linux::{Mapping, RootlessError};

const NAME: &str = "strata-pause";

fn io(path: &Path, source: std::io::Error) -> RootlessError {
    RootlessError::Map {
        path: path.display().to_string(),
        source,
    }
}

fn sys(what: &'static str) -> impl FnOnce(nix::Error) -> RootlessError {
    move |source| RootlessError::Sys { what, source }
}

/// The user's run dir, made private to the user (refused if someone
/// else owns it: it may be a planted directory in /tmp).
pub(crate) fn run_dir(uid: u32) -> Result<PathBuf, RootlessError> {
    let dir = strata_store::userns::rootless_run_dir(&uid.to_string());
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| io(&dir, e))?;
    let md = fs::symlink_metadata(&dir).map_err(|e| io(&dir, e))?;
    if !md.is_dir() || md.uid() != uid {
        return Err(io(
            &dir,
            std::io::Error::other("not a directory of this user's"),
        ));
    }
    Ok(dir)
}

/// Takes the pause lock (released when the file is dropped).
pub(crate) fn lock(dir: &Path) -> Result<fs::File, RootlessError> {
    let path = dir.join("pause.lock");
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io(&path, e))?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(io(&path, std::io::Error::last_os_error()));
    }
    Ok(f)
}

/// Joins the live pause process's namespaces, if there is one.
pub(crate) fn join(dir: &Path, uid: u32) -> Result<Option<Mapping>, RootlessError> {
    let Ok(text) = fs::read_to_string(dir.join("pause.pid")) else {
        return Ok(None);
    };
    let mut words = text.split_whitespace();
    let Some(pid) = words.next().and_then(|p| p.parse::<i32>().ok()) else {
        return Ok(None);
    };
    let mapping = match words.next() {
        Some("ranges") => Mapping::Ranges,
        _ => Mapping::Single("the namespace maps this user's id alone".into()),
    };
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let ours = fs::read_to_string(proc_dir.join("comm")).is_ok_and(|c| c.trim() == NAME)
        && fs::metadata(&proc_dir).is_ok_and(|m| m.uid() == uid);
    if !ours {
        return Ok(None);
    }
    let open = |ns: &str| {
        let p = proc_dir.join("ns").join(ns);
        fs::File::open(&p).map_err(|e| io(&p, e))
    };
    let (user, mnt, cgroup) = match (open("user"), open("mnt"), open("cgroup")) {
        (Ok(u), Ok(m), Ok(c)) => (u, m, c),
        // It died meanwhile.
        _ => return Ok(None),
    };
    // Entering a mount namespace moves the cwd to its root: come back.
    let cwd = std::env::current_dir().ok();
    nix::sched::setns(&user, CloneFlags::CLONE_NEWUSER).map_err(sys("join the user namespace"))?;
    nix::sched::setns(&mnt, CloneFlags::CLONE_NEWNS).map_err(sys("join the mount namespace"))?;
    if let Err(e) = nix::sched::setns(&cgroup, CloneFlags::CLONE_NEWCGROUP) {
        tracing::debug!("rootless: join the cgroup namespace: {e}");
    }
    if let Some(cwd) = cwd {
        let _ = std::env::set_current_dir(cwd);
    }
    Ok(Some(mapping))
}

/// Starts the pause process in this process's namespaces (which it must
/// have entered) and records it. Must run before any thread exists.
pub(crate) fn start(dir: &Path, mapping: &Mapping) -> Result<(), RootlessError> {
    let kind = match mapping {
        Mapping::Ranges => "ranges",
        Mapping::Single(_) => "single",
    };
    let pidfile = dir.join("pause.pid");
    let tmp = dir.join("pause.pid.tmp");
    // SAFETY: one thread (the caller's contract); the child only forks
    // again, writes a file and exits.
    match unsafe { nix::unistd::fork() }.map_err(sys("fork"))? {
        ForkResult::Child => {
            // SAFETY: as above; the grandchild only makes syscalls.
            let code = match unsafe { nix::unistd::fork() } {
                Ok(ForkResult::Child) => pause_forever(),
                Ok(ForkResult::Parent { child }) => {
                    let ok = fs::write(&tmp, format!("{child} {kind}\n")).is_ok()
                        && fs::rename(&tmp, &pidfile).is_ok();
                    if ok { 0 } else { 1 }
                }
                Err(_) => 1,
            };
            // SAFETY: ends the forked child without the parent's atexit
            // handlers or destructors.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => match nix::sys::wait::waitpid(child, None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => Ok(()),
            _ => Err(io(
                &pidfile,
                std::io::Error::other("the pause process did not start"),
            )),
        },
    }
}

/// The pause process: its own session, no inherited descriptor (the
/// pause lock among them), then nothing until killed.
fn pause_forever() -> ! {
    let _ = nix::unistd::setsid();
    // SAFETY: plain syscalls on descriptors this process owns; the name
    // is a NUL-terminated string that outlives the call.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            if null > 2 {
                libc::close(null);
            }
        }
        libc::prctl(libc::PR_SET_NAME, c"strata-pause".as_ptr(), 0, 0, 0);
        let _ = libc::chdir(c"/".as_ptr());
        loop {
            libc::pause();
        }
    }
}
