//! `exec`: another process in a running container, run by a helper
//! process (the CLI re-execs into it, so it owns the CLI's terminal and
//! signals). The helper resolves `-u` and the command against the
//! container's own view of its root (`/proc/<pid>/root`), builds the OCI
//! `process.json` (the container's env plus `-e`, the container's
//! capabilities and no_new_privs for the user, `TERM` with `-t`; the
//! runtime applies the container's seccomp filter), and asks the
//! container's runtime to
//! start it. With `-t` it receives the pty master through a console
//! socket and relays it to its own terminal (raw mode, SIGWINCH); without,
//! the process inherits the helper's stdio. docker's exit codes: the
//! process's, or 126 when it cannot start.

use std::fs;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;
use oci_spec::runtime::{ProcessBuilder, UserBuilder};
use serde::{Deserialize, Serialize};
use strata_store::{OpenOptions, Store};

use crate::containers::{self, Container, paths};
use crate::error::{IoContext, Result, RuntimeError};
use crate::inroot_linux::{RootDir, find_executable};
use crate::oci_linux::{ConsoleSocket, Stdio, runtime_for};
use crate::spec::process::{env_value, process_env, replace_or_append};
use crate::spec::user::resolve_user;
use crate::sys_linux::{self, PROXIED, RawMode};

/// What `exec` runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecRequest {
    /// The command.
    pub args: Vec<String>,
    /// `-e` (already normalised).
    pub env: Vec<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-t`.
    pub tty: bool,
    /// `-i`.
    pub interactive: bool,
    /// `-d`.
    pub detach: bool,
}

/// Runs the exec helper; returns the exit code.
pub fn run(root: &Path, id: &str, req: &ExecRequest) -> i32 {
    match exec(root, id, req) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            match e {
                RuntimeError::NotRunning(_) | RuntimeError::NoSuchContainer(_) => 1,
                _ => 126,
            }
        }
    }
}

fn exec_failed(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Invalid(format!(
        "OCI runtime exec failed: exec failed: unable to start container process: {e}"
    ))
}

/// An exec's `process.json`, written in the container's directory and
/// removed when dropped.
pub(crate) struct Prepared {
    /// The file (removed on drop).
    pub json: RemoveOnDrop,
    /// A terminal is asked for.
    pub tty: bool,
    /// A random tag naming this exec's files.
    pub tag: String,
}

/// Resolves `req` against running container `c` as docker's exec does
/// (user through the container's passwd/group, env with links, the
/// container's working directory, the command looked up in its root)
/// and writes the OCI process document.
pub(crate) fn prepare(store: &Store, c: &Container, req: &ExecRequest) -> Result<Prepared> {
    let init = c
        .state
        .strata
        .init
        .filter(|p| c.state.running && p.is_alive())
        .ok_or_else(|| RuntimeError::NotRunning(c.id.clone()))?;
    let p = paths(store, &c.id);
    let link_env = crate::net::links::exec_env(store, c);
    let cfg = &c.spec.config;

    let rootdir = RootDir::open(Path::new(&format!("/proc/{}/root", init.pid)))?;
    let user_spec = req.user.clone().unwrap_or_else(|| cfg.user.clone());
    let passwd = rootdir.read_to_string("/etc/passwd");
    let group = rootdir.read_to_string("/etc/group");
    let group_add = c.spec.host_config.group_add.clone().unwrap_or_default();
    let user = resolve_user(&user_spec, passwd.as_deref(), group.as_deref(), &group_add)?;
    // docker's order: the links' variables, the container's, the exec's.
    let mut container_env = link_env;
    container_env.extend(cfg.env.iter().cloned());
    replace_or_append(&mut container_env, &req.env);
    let tty = req.tty && !req.detach;
    let env = process_env(&container_env, &cfg.hostname, tty, &user.home);
    let cwd = req
        .workdir
        .clone()
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| cfg.working_dir.clone());
    let cwd = if cwd.is_empty() { "/".to_string() } else { cwd };
    match rootdir.stat(&cwd) {
        Ok(m) if m.is_dir() => {}
        _ => {
            return Err(exec_failed(format!(
                "chdir to cwd ({cwd:?}) set in config.json failed: no such file or directory"
            )));
        }
    }
    let Some(argv0) = req.args.first() else {
        return Err(RuntimeError::Invalid("exec: no command given".into()));
    };
    // /proc/<pid>/root is the running container's view, mounts included.
    let view = crate::inroot_linux::MountedView::new(&rootdir, &[]);
    find_executable(&view, argv0, env_value(&env, "PATH"), &cwd).map_err(exec_failed)?;

    let (caps, no_new_privileges) = crate::confine::exec_settings(&c.spec.host_config);
    let capabilities = crate::spec::caps::process_capabilities(&caps, user.uid)?;
    let mut process = ProcessBuilder::default()
        .terminal(tty)
        .user(
            UserBuilder::default()
                .uid(user.uid)
                .gid(user.gid)
                .additional_gids(user.additional_gids.clone())
                .build()
                .map_err(|e| RuntimeError::Invalid(e.to_string()))?,
        )
        .args(req.args.clone())
        .env(env)
        .cwd(cwd)
        .capabilities(capabilities)
        .build()
        .map_err(|e| RuntimeError::Invalid(e.to_string()))?;
    process.set_rlimits(None);
    process.set_no_new_privileges(no_new_privileges);
    let tag = hex::encode(crate::names::random_bytes::<6>());
    let process_json = p.dir.join(format!("exec-{tag}.json"));
    fs::write(
        &process_json,
        serde_json::to_vec(&process).map_err(|e| RuntimeError::Invalid(e.to_string()))?,
    )
    .ctx("write", &process_json)?;
    Ok(Prepared {
        json: RemoveOnDrop(process_json),
        tty,
        tag,
    })
}

fn exec(root: &Path, id: &str, req: &ExecRequest) -> Result<i32> {
    let store = Store::open_with(root, &OpenOptions { gc_guard: false })?;
    let c = containers::get(&store, id)?
        .ok_or_else(|| RuntimeError::NoSuchContainer(id.to_string()))?;
    let prepared = prepare(&store, &c, req)?;
    let p = paths(&store, &c.id);
    drop(store);
    let tty = prepared.tty;
    let tag = prepared.tag.clone();
    let process_json = prepared.json.0.clone();
    let _cleanup = prepared.json;

    sys_linux::set_subreaper()?;
    let mut signals: Vec<Signal> = PROXIED.to_vec();
    signals.push(Signal::SIGCHLD);
    signals.push(Signal::SIGWINCH);
    let sfd = sys_linux::SignalPipe::install(&signals)?;

    let program = c.spec.host_config.external_runtime().map(PathBuf::from);
    let runtime = runtime_for(program.as_deref(), &p.runtime_root)?;
    let console = if tty {
        Some(ConsoleSocket::bind(&p.dir, &format!("exec-{tag}.sock"))?)
    } else {
        None
    };
    let stdio = if req.detach {
        Stdio {
            stdin: Some(sys_linux::dev_null()?),
            stdout: Some(sys_linux::dev_null()?),
            stderr: Some(sys_linux::dev_null()?),
        }
    } else if tty {
        Stdio::default()
    } else {
        Stdio {
            stdin: if req.interactive {
                None
            } else {
                Some(sys_linux::dev_null()?)
            },
            stdout: None,
            stderr: None,
        }
    };
    let pid = runtime
        .exec(&c.id, &process_json, console.as_ref(), stdio)
        .map_err(|e| match e {
            RuntimeError::Oci { message, .. } => exec_failed(message),
            other => other,
        })?;
    if req.detach {
        return Ok(0);
    }
    let master = match &console {
        Some(cs) => Some(cs.receive_master(std::time::Duration::from_secs(10))?),
        None => None,
    };
    drop(console);
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let _raw = match (&master, req.interactive) {
        (Some(_), true) => RawMode::enable(stdin.as_fd()),
        _ => None,
    };
    if let (Some(m), Some((rows, cols))) = (&master, sys_linux::winsize(stdin.as_fd())) {
        sys_linux::set_winsize(m.as_fd(), rows, cols);
    }
    let mut code: Option<i32> = None;
    let mut stdin_open = master.is_some() && req.interactive;
    let mut master_open = master.is_some();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        if code.is_some() && !master_open {
            break;
        }
        let mut fds = vec![PollFd::new(sfd.fd(), PollFlags::POLLIN)];
        if let (Some(m), true) = (&master, master_open) {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
        }
        let stdin_slot = fds.len();
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        let timeout = if code.is_some() {
            PollTimeout::from(500u16)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Ok(0) if code.is_some() => break,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[0] {
            for signo in sfd.take() {
                match signo {
                    libc::SIGCHLD => {
                        while let Ok(st) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                            if st == nix::sys::wait::WaitStatus::StillAlive {
                                break;
                            }
                            if st.pid() == Some(Pid::from_raw(pid)) {
                                code = sys_linux::exit_code(&st);
                            }
                        }
                    }
                    libc::SIGWINCH => {
                        if let (Some(m), Some((r, c))) =
                            (&master, sys_linux::winsize(stdin.as_fd()))
                        {
                            sys_linux::set_winsize(m.as_fd(), r, c);
                        }
                    }
                    n => {
                        if let Ok(sig) = Signal::try_from(n) {
                            let _ = nix::sys::signal::kill(Pid::from_raw(pid), sig);
                        }
                    }
                }
            }
        }
        if master_open
            && ready.get(1).copied().unwrap_or(false)
            && let Some(m) = &master
        {
            match sys_linux::read_fd(m.as_fd(), &mut buf) {
                Ok(Some(0)) => {}
                Ok(Some(n)) => {
                    if sys_linux::write_all_fd(stdout.as_fd(), &buf[..n]).is_err() {
                        master_open = false;
                    }
                }
                Ok(None) | Err(_) => master_open = false,
            }
        }
        if stdin_open && ready.get(stdin_slot).copied().unwrap_or(false) {
            match sys_linux::read_fd(stdin.as_fd(), &mut buf) {
                Ok(Some(0)) => {}
                Ok(Some(n)) => {
                    if let Some(m) = &master {
                        let _ = sys_linux::write_all_fd(m.as_fd(), &buf[..n]);
                    }
                }
                Ok(None) | Err(_) => stdin_open = false,
            }
        }
    }
    Ok(code.unwrap_or(137))
}

/// A file removed when dropped.
pub(crate) struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}
