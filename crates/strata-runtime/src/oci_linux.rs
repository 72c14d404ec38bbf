//! OCI runtimes behind one small interface: [`Embedded`] runs youki's
//! `libcontainer` in this process (which must be single-threaded: it
//! forks); [`External`] drives a runc-compatible binary (`--runtime PATH`)
//! through its command line with the same bundle. Both create the
//! container's init as a process this (subreaper) process can `waitpid`,
//! and both hand over a terminal's pty master through a console socket
//! ([`ConsoleSocket`]), as runc does for containerd.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio as StdStdio};
use std::time::Duration;

use libcontainer::container::Container;
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
use oci_spec::runtime::{Capabilities, LinuxCapabilities, LinuxSeccomp, Process, Spec};

use crate::error::{IoContext, Result, RuntimeError};
use crate::seccomp_bpf_linux::{self, Bpf};
use crate::workload_linux::{CONFINE_CAPS, OrderedEnvExecutor};

/// The container process's stdio (`None`: inherit this process's).
#[derive(Debug, Default)]
pub struct Stdio {
    /// stdin.
    pub stdin: Option<OwnedFd>,
    /// stdout.
    pub stdout: Option<OwnedFd>,
    /// stderr.
    pub stderr: Option<OwnedFd>,
}

/// A runc-like runtime.
pub trait OciRuntime {
    /// Creates container `id` from `bundle`; returns its init's host PID.
    /// With a terminal, the pty master is sent to `console_socket`.
    fn create(
        &self,
        id: &str,
        bundle: &Path,
        console: Option<&ConsoleSocket>,
        stdio: Stdio,
    ) -> Result<i32>;
    /// Lets the created container run its command.
    fn start(&self, id: &str) -> Result<()>;
    /// Starts another process (`process.json`) in a running container;
    /// returns its host PID (this process can wait for it).
    fn exec(
        &self,
        id: &str,
        process_json: &Path,
        console: Option<&ConsoleSocket>,
        stdio: Stdio,
    ) -> Result<i32>;
    /// Forgets the container: kills what is left, removes its cgroups and
    /// runtime state. Idempotent.
    fn delete(&self, id: &str) -> Result<()>;
}

fn oci_err(op: &'static str, id: &str, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Oci {
        op,
        id: id.to_string(),
        message: e.to_string(),
    }
}

/// youki's libcontainer, in-process.
#[derive(Debug, Clone)]
pub struct Embedded {
    root: PathBuf,
}

impl Embedded {
    /// A runtime keeping its state under `root`.
    pub fn new(root: &Path) -> Result<Embedded> {
        std::fs::create_dir_all(root).ctx("create directory", root)?;
        Ok(Embedded {
            root: root.to_path_buf(),
        })
    }

    fn builder(
        &self,
        id: &str,
        console: Option<&ConsoleSocket>,
        stdio: Stdio,
        op: &'static str,
        executor: OrderedEnvExecutor,
    ) -> Result<ContainerBuilder> {
        let mut b = ContainerBuilder::new(id.to_string(), SyscallType::default())
            .with_root_path(&self.root)
            .map_err(|e| oci_err(op, id, e))?
            .with_executor(executor)
            .with_console_socket(console.map(ConsoleSocket::path));
        if let Some(fd) = stdio.stdin {
            b = b.with_stdin(fd);
        }
        if let Some(fd) = stdio.stdout {
            b = b.with_stdout(fd);
        }
        if let Some(fd) = stdio.stderr {
            b = b.with_stderr(fd);
        }
        Ok(b)
    }
}

impl OciRuntime for Embedded {
    fn create(
        &self,
        id: &str,
        bundle: &Path,
        console: Option<&ConsoleSocket>,
        stdio: Stdio,
    ) -> Result<i32> {
        let executor = match precompile_seccomp(bundle).map_err(|e| oci_err("create", id, e))? {
            Some((bpf, caps)) => OrderedEnvExecutor::confined(bpf, caps),
            None => OrderedEnvExecutor::default(),
        };
        let c = self
            .builder(id, console, stdio, "create", executor)?
            .as_init(bundle)
            .with_systemd(false)
            .with_detach(true)
            .build()
            .map_err(|e| oci_err("create", id, error_chain(&e)))?;
        c.pid()
            .map(|p| p.as_raw())
            .ok_or_else(|| oci_err("create", id, "no init process"))
    }

    fn start(&self, id: &str) -> Result<()> {
        let mut c = Container::load(self.root.join(id)).map_err(|e| oci_err("start", id, e))?;
        c.start().map_err(|e| oci_err("start", id, error_chain(&e)))
    }

    fn exec(
        &self,
        id: &str,
        process_json: &Path,
        console: Option<&ConsoleSocket>,
        stdio: Stdio,
    ) -> Result<i32> {
        // libcontainer leaves the container's seccomp filter out of a
        // tenant: the executor loads it (see `workload_linux`), from a
        // process started with the capabilities that takes.
        let (path, executor, temporary) = match self.container_seccomp(id)? {
            Some(seccomp) => {
                let seccomp = match seccomp {
                    Filter::Compiled(bpf) => bpf,
                    Filter::Spec(spec) => seccomp_bpf_linux::cached(&spec)?,
                };
                let (boosted, caps) = boost_process(process_json)?;
                (boosted, OrderedEnvExecutor::confined(seccomp, caps), true)
            }
            None => (
                process_json.to_path_buf(),
                OrderedEnvExecutor::default(),
                false,
            ),
        };
        let built = self
            .builder(id, console, stdio, "exec", executor)?
            .as_tenant()
            .with_process(Some(&path))
            .with_detach(console.is_some())
            .build();
        if temporary {
            let _ = std::fs::remove_file(&path);
        }
        let pid = built.map_err(|e| oci_err("exec", id, error_chain(&e)))?;
        Ok(pid.as_raw())
    }

    fn delete(&self, id: &str) -> Result<()> {
        let dir = self.root.join(id);
        if !dir.exists() {
            return Ok(());
        }
        match Container::load(dir.clone()) {
            Ok(mut c) => c
                .delete(true)
                .map_err(|e| oci_err("delete", id, error_chain(&e))),
            // A state file never written (create failed early): nothing
            // but the directory to forget.
            Err(_) => std::fs::remove_dir_all(&dir).ctx("remove", &dir),
        }
    }
}

/// A container's seccomp filter, as its start left it.
enum Filter {
    /// Compiled at the start ([`SECCOMP_BPF`] in the bundle).
    Compiled(Bpf),
    /// Still in `config.json` (a container started before the cache).
    Spec(LinuxSeccomp),
}

/// The compiled filter in a bundle, for `exec`s.
const SECCOMP_BPF: &str = "seccomp.bpf";

impl Embedded {
    /// The seccomp filter of container `id`.
    fn container_seccomp(&self, id: &str) -> Result<Option<Filter>> {
        let c = Container::load(self.root.join(id)).map_err(|e| oci_err("exec", id, e))?;
        let compiled = c.bundle().join(SECCOMP_BPF);
        if compiled.exists() {
            return Ok(Some(Filter::Compiled(Bpf::read(&compiled)?)));
        }
        let cfg = c.bundle().join("config.json");
        let spec = Spec::load(&cfg).map_err(|e| oci_err("exec", id, e))?;
        Ok(spec
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().clone())
            .map(Filter::Spec))
    }
}

/// Takes the seccomp filter out of the bundle's `config.json` for the
/// executor to load it compiled (see [`crate::seccomp_bpf_linux`]) and
/// keeps the program as [`SECCOMP_BPF`] for `exec`s; the process starts
/// with [`CONFINE_CAPS`] on top of its own, which the executor drops right
/// after loading the filter. Returns the program and the real
/// capabilities; `None` without a filter (or with one only libcontainer
/// can load: a notify listener).
fn precompile_seccomp(bundle: &Path) -> Result<Option<(Bpf, LinuxCapabilities)>> {
    let compiled = bundle.join(SECCOMP_BPF);
    let _ = std::fs::remove_file(&compiled);
    let cfg = bundle.join("config.json");
    let mut spec = Spec::load(&cfg).map_err(|e| RuntimeError::Invalid(e.to_string()))?;
    let Some(mut linux) = spec.linux().clone() else {
        return Ok(None);
    };
    let Some(seccomp) = linux.seccomp().clone() else {
        return Ok(None);
    };
    if !seccomp_bpf_linux::compilable(&seccomp) {
        return Ok(None);
    }
    let Some(mut process) = spec.process().clone() else {
        return Ok(None);
    };
    let bpf = seccomp_bpf_linux::cached(&seccomp)?;
    bpf.write(&compiled)?;
    let caps = process.capabilities().clone().unwrap_or_default();
    process.set_capabilities(Some(boosted(&caps)));
    spec.set_process(Some(process));
    linux.set_seccomp(None);
    spec.set_linux(Some(linux));
    spec.save(&cfg)
        .map_err(|e| RuntimeError::Invalid(format!("{}: {e}", cfg.display())))?;
    Ok(Some((bpf, caps)))
}

/// `caps` with [`CONFINE_CAPS`] added to the bounding, effective and
/// permitted sets.
fn boosted(caps: &LinuxCapabilities) -> LinuxCapabilities {
    let add = |set: &Option<Capabilities>| -> Capabilities {
        let mut s = set.clone().unwrap_or_default();
        s.extend(CONFINE_CAPS);
        s
    };
    let mut boosted = caps.clone();
    boosted.set_bounding(Some(add(caps.bounding())));
    boosted.set_effective(Some(add(caps.effective())));
    boosted.set_permitted(Some(add(caps.permitted())));
    boosted
}

/// Writes a copy of `process.json` whose bounding, effective and
/// permitted sets also hold [`CONFINE_CAPS`] (for the executor to load the
/// filter); returns its path and the process's real capabilities.
fn boost_process(path: &Path) -> Result<(PathBuf, LinuxCapabilities)> {
    let text = std::fs::read(path).ctx("read", path)?;
    let mut process: Process =
        serde_json::from_slice(&text).map_err(|e| RuntimeError::Invalid(e.to_string()))?;
    let caps = process.capabilities().clone().unwrap_or_default();
    process.set_capabilities(Some(boosted(&caps)));
    let out = path.with_extension("confine.json");
    std::fs::write(
        &out,
        serde_json::to_vec(&process).map_err(|e| RuntimeError::Invalid(e.to_string()))?,
    )
    .ctx("write", &out)?;
    Ok((out, caps))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = c.source();
    }
    s
}

/// A runc-compatible runtime binary.
#[derive(Debug, Clone)]
pub struct External {
    program: PathBuf,
    root: PathBuf,
}

impl External {
    /// `program` (e.g. `/usr/sbin/runc`) with its state under `root`.
    pub fn new(program: &Path, root: &Path) -> Result<External> {
        std::fs::create_dir_all(root).ctx("create directory", root)?;
        Ok(External {
            program: program.to_path_buf(),
            root: root.to_path_buf(),
        })
    }

    fn cmd(&self, id: &str) -> Command {
        let mut c = Command::new(&self.program);
        c.arg("--root")
            .arg(&self.root)
            .arg("--log")
            .arg(self.log_path(id))
            .arg("--log-format")
            .arg("json");
        c
    }

    fn log_path(&self, id: &str) -> PathBuf {
        self.root.join(format!("{id}.log"))
    }

    /// The last error the runtime logged (runc logs JSON lines).
    fn last_error(&self, id: &str, fallback: &str) -> String {
        let text = std::fs::read_to_string(self.log_path(id)).unwrap_or_default();
        text.lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["level"] == "error")
            .and_then(|v| v["msg"].as_str().map(str::to_string))
            .unwrap_or_else(|| fallback.to_string())
    }

    /// Runs `create`/`exec` (whose process detaches) with the console
    /// socket and stdio given; returns the PID the runtime wrote.
    fn run_detached(
        &self,
        op: &'static str,
        id: &str,
        mut c: Command,
        console: Option<&ConsoleSocket>,
        stdio: Stdio,
        pid_file: &Path,
    ) -> Result<i32> {
        if let Some(s) = console {
            c.arg("--console-socket")
                .arg(s.relative())
                .current_dir(s.dir());
        }
        c.arg(id);
        set_stdio(&mut c, stdio);
        let status = c
            .status()
            .map_err(|e| oci_err(op, id, format!("{}: {e}", self.program.display())))?;
        if !status.success() {
            return Err(oci_err(op, id, self.last_error(id, &status.to_string())));
        }
        read_pid(pid_file).ok_or_else(|| oci_err(op, id, "no pid file written"))
    }

    fn run(&self, op: &'static str, id: &str, mut c: Command) -> Result<()> {
        let out = c
            .stdin(StdStdio::null())
            .stdout(StdStdio::null())
            .stderr(StdStdio::piped())
            .output()
            .map_err(|e| oci_err(op, id, format!("{}: {e}", self.program.display())))?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(oci_err(op, id, self.last_error(id, &stderr)))
    }
}

fn set_stdio(c: &mut Command, stdio: Stdio) {
    c.stdin(stdio.stdin.map_or_else(StdStdio::null, StdStdio::from));
    if let Some(fd) = stdio.stdout {
        c.stdout(StdStdio::from(fd));
    }
    if let Some(fd) = stdio.stderr {
        c.stderr(StdStdio::from(fd));
    }
}

impl OciRuntime for External {
    fn create(
        &self,
        id: &str,
        bundle: &Path,
        console: Option<&ConsoleSocket>,
        stdio: Stdio,
    ) -> Result<i32> {
        let pid_file = self.root.join(format!("{id}.pid"));
        let mut c = self.cmd(id);
        c.arg("create")
            .arg("--bundle")
            .arg(bundle)
            .arg("--pid-file")
            .arg(&pid_file);
        self.run_detached("create", id, c, console, stdio, &pid_file)
    }

    fn start(&self, id: &str) -> Result<()> {
        let mut c = self.cmd(id);
        c.arg("start").arg(id);
        self.run("start", id, c)
    }

    fn exec(
        &self,
        id: &str,
        process_json: &Path,
        console: Option<&ConsoleSocket>,
        stdio: Stdio,
    ) -> Result<i32> {
        let pid_file = self.root.join(format!(
            "exec-{}.pid",
            hex::encode(crate::names::random_bytes::<6>())
        ));
        let mut c = self.cmd(id);
        c.arg("exec")
            .arg("--detach")
            .arg("--pid-file")
            .arg(&pid_file);
        c.arg("--process").arg(process_json);
        let pid = self.run_detached("exec", id, c, console, stdio, &pid_file);
        let _ = std::fs::remove_file(&pid_file);
        pid
    }

    fn delete(&self, id: &str) -> Result<()> {
        if !self.root.join(id).exists() {
            return Ok(());
        }
        let mut c = self.cmd(id);
        c.arg("delete").arg("--force").arg(id);
        self.run("delete", id, c)
    }
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The runtime a container uses: the embedded one, or `program`.
pub fn runtime_for(program: Option<&Path>, state_root: &Path) -> Result<Box<dyn OciRuntime>> {
    Ok(match program {
        Some(p) => Box::new(External::new(p, state_root)?),
        None => Box::new(Embedded::new(state_root)?),
    })
}

/// A listening console socket: the runtime connects and sends the pty
/// master (SCM_RIGHTS). Bound by a relative name from `dir` (this process
/// must be the only thread: it changes directory for the bind), so long
/// store paths never hit the 108-byte `sun_path` limit; [`Self::path`]
/// is the absolute path for libcontainer (which symlinks it into its own
/// directory) and [`Self::relative`] the name runc gets, run from `dir`.
#[derive(Debug)]
pub struct ConsoleSocket {
    listener: UnixListener,
    path: PathBuf,
    name: String,
}

impl ConsoleSocket {
    /// Binds `dir/<name>`.
    pub fn bind(dir: &Path, name: &str) -> Result<ConsoleSocket> {
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        let prev = std::env::current_dir().ctx("get current directory", ".")?;
        std::env::set_current_dir(dir).ctx("change directory", dir)?;
        let res = UnixListener::bind(name);
        let _ = std::env::set_current_dir(&prev);
        let listener = res.ctx("bind console socket", &path)?;
        Ok(ConsoleSocket {
            listener,
            path,
            name: name.to_string(),
        })
    }

    /// Absolute path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The name relative to its directory.
    pub fn relative(&self) -> &Path {
        Path::new(&self.name)
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("/"))
    }

    /// Accepts the runtime's connection and receives the pty master.
    pub fn receive_master(&self, timeout: Duration) -> Result<OwnedFd> {
        let mut fds = [PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
        let ms = PollTimeout::try_from(timeout.as_millis() as i32).unwrap_or(PollTimeout::MAX);
        let ready = poll(&mut fds, ms).map_err(|e| RuntimeError::Sys {
            op: "wait for the console socket",
            source: e,
        })?;
        if ready == 0 {
            return Err(RuntimeError::Invalid(
                "the runtime sent no terminal on the console socket".to_string(),
            ));
        }
        let (conn, _) = self
            .listener
            .accept()
            .ctx("accept console socket", &self.path)?;
        let mut buf = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| RuntimeError::Sys {
            op: "receive the pty master",
            source: e,
        })?;
        for c in msg.cmsgs().map_err(|e| RuntimeError::Sys {
            op: "read the console message",
            source: e,
        })? {
            if let ControlMessageOwned::ScmRights(fds) = c
                && let Some(&fd) = fds.first()
            {
                // SAFETY: SCM_RIGHTS just installed this descriptor in our table.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
        Err(RuntimeError::Invalid(
            "the console socket message carried no descriptor".to_string(),
        ))
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
