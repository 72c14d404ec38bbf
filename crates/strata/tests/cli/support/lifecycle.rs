//! Helpers of the lifecycle tests (signals, `kill -9`, concurrent
//! commands; issues 11 and 18): a seeded random source that prints its
//! seed, a throttling loopback proxy (a slow registry), a command watched
//! line by line, and the checks for what a command may not leave behind
//! (processes, cgroups, mounts, an inconsistent store).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::Env;

/// A small, seeded random source (splitmix64). The seed comes from
/// `STRATA_TEST_SEED`, else the clock, and is printed so a failure can be
/// replayed.
pub struct Rng(u64);

impl Rng {
    /// Seeds from the environment (or the clock) and prints the seed.
    pub fn from_env(test: &str) -> Rng {
        let seed = std::env::var("STRATA_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        eprintln!("{test}: seed {seed} (replay with STRATA_TEST_SEED={seed})");
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// A duration between `lo` and `hi` milliseconds.
    pub fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi.saturating_sub(lo) + 1))
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

/// A TCP proxy on 127.0.0.1 that forwards to `upstream` at most
/// `bytes_per_sec` in each direction: a slow registry.
pub struct Throttle {
    addr: String,
    stop: Arc<AtomicBool>,
}

impl Throttle {
    /// Starts the proxy.
    pub fn start(upstream: &str, bytes_per_sec: usize) -> Throttle {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("addr").to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let (up, st) = (upstream.to_string(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = conn else { continue };
                let Ok(server) = TcpStream::connect(&up) else {
                    continue;
                };
                for (from, to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ] {
                    let (Ok(mut from), Ok(mut to)) = (from, to) else {
                        continue;
                    };
                    std::thread::spawn(move || {
                        pump(&mut from, &mut to, bytes_per_sec);
                        let _ = to.shutdown(Shutdown::Write);
                    });
                }
            }
        });
        Throttle { addr, stop }
    }

    /// `127.0.0.1:PORT` to use as the registry.
    pub fn addr(&self) -> &str {
        &self.addr
    }
}

impl Drop for Throttle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

/// Copies in slices of a twentieth of the rate, one every 50 ms.
fn pump(from: &mut TcpStream, to: &mut TcpStream, bytes_per_sec: usize) {
    let slice = (bytes_per_sec / 20).max(1);
    let mut buf = vec![0u8; slice];
    loop {
        let t = Instant::now();
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).is_err() {
            return;
        }
        if let Some(rest) = Duration::from_millis(50).checked_sub(t.elapsed()) {
            std::thread::sleep(rest);
        }
    }
}

/// A running strata command whose stderr is collected line by line (to
/// send a signal at a chosen point) and whose stdout is collected whole.
pub struct Watched {
    child: Child,
    lines: Arc<(Mutex<Vec<String>>, Condvar)>,
    stdout: Arc<Mutex<Vec<u8>>>,
    started: Instant,
}

impl Watched {
    /// Spawns `cmd` (stdin from /dev/null) with SIGINT, SIGTERM and SIGHUP
    /// at their defaults: a test run in the background of a
    /// non-interactive shell (`./.ci/run &`) inherits SIGINT ignored, and
    /// strata keeps a signal it was started with ignored, as `nohup`
    /// expects — which is not the case these tests are about.
    pub fn spawn(mut cmd: Command) -> Watched {
        use std::os::unix::process::CommandExt;
        // SAFETY: signal(2) is async-signal-safe; nothing else runs
        // between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                    libc::signal(sig, libc::SIG_DFL);
                }
                Ok(())
            });
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn strata");
        let lines = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let err = child.stderr.take().expect("stderr");
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                l.0.lock().unwrap().push(line);
                l.1.notify_all();
            }
        });
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let mut out = child.stdout.take().expect("stdout");
        let o = stdout.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                o.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Watched {
            child,
            lines,
            stdout,
            started: Instant::now(),
        }
    }

    /// The process ID.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits until a line it printed (stderr or stdout) satisfies `pred`,
    /// at most `timeout`; true if one did.
    pub fn wait_line(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if self.lines.0.lock().unwrap().iter().any(|l| pred(l))
                || self.stdout().lines().any(&pred)
            {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            let g = self.lines.0.lock().unwrap();
            let _ = self.lines.1.wait_timeout(g, Duration::from_millis(10));
        }
    }

    /// Sends `sig`; returns when it was sent.
    pub fn signal(&self, sig: i32) -> Instant {
        // SAFETY: kill(2) on the PID of our own child, not yet reaped.
        unsafe { libc::kill(self.pid(), sig) };
        Instant::now()
    }

    /// Waits for the exit, at most `timeout`; kills it after that.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Everything it printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.lines.0.lock().unwrap().join("\n")
    }

    /// Everything it printed on stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    /// Time since it was spawned.
    pub fn age(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The code a shell reports: the exit code, or 128 + the signal that
/// killed it.
pub fn shell_code(st: &ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

/// How long a cancelled command may take to exit: the 2 s plus
/// strata's own grace before it stops waiting for an operation to unwind
/// (0.9 s, `signals::GRACE`).
pub const EXIT_BOUND: Duration = Duration::from_millis(2900);

/// Processes whose command line contains `token` (`pid: cmdline`).
pub fn processes_with(token: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) || name == me {
            continue;
        }
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(token) {
            out.push(format!("{name}: {cmd}"));
        }
    }
    out
}

/// The PID of a process whose command line contains `token`.
pub fn pid_with(token: &str) -> Option<i32> {
    processes_with(token)
        .first()
        .and_then(|l| l.split(':').next())
        .and_then(|p| p.parse().ok())
}

/// Polls (up to `patience`, for a SIGKILLed process to be torn down on a
/// loaded machine) until `f` returns nothing; returns what is left.
pub fn left_after(patience: Duration, f: impl Fn() -> Vec<String>) -> Vec<String> {
    let end = Instant::now() + patience;
    loop {
        let left = f();
        if left.is_empty() || Instant::now() >= end {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The cgroup of `pid` (from its v1 `pids` line, else its v2 line).
pub fn cgroup_of(pid: i32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let line = |pred: &dyn Fn(&str) -> bool| {
        text.lines()
            .find(|l| pred(l))
            .and_then(|l| l.splitn(3, ':').nth(2))
            .map(str::to_string)
    };
    line(&|l: &str| l.split(':').nth(1) == Some("pids"))
        .filter(|p| p != "/")
        .or_else(|| line(&|l: &str| l.starts_with("0::")))
}

/// The directories of cgroup `path` that exist in any hierarchy.
pub fn cgroup_dirs(path: &str) -> Vec<String> {
    let rel = path.trim_start_matches('/');
    let root = Path::new("/sys/fs/cgroup");
    let mut out = Vec::new();
    if root.join(rel).is_dir() && root.join("cgroup.procs").exists() {
        out.push(root.join(rel).display().to_string());
    }
    for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let d = e.path().join(rel);
        if d.is_dir() {
            out.push(d.display().to_string());
        }
    }
    out
}

/// Mount points at or under `path` in this process's mount table.
pub fn mounts_under(path: &Path) -> Vec<String> {
    let p = path.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&p))
        .map(str::to_string)
        .collect()
}

/// The store passes `strata system check`.
pub fn assert_store_checks(env: &Env, after: &str) {
    let out = env.run(["system", "check"]);
    assert!(
        out.status.success(),
        "system check after {after} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Directories under the store's `tmp/` (scratch of processes; none may be
/// left once every command has exited and one more has run).
pub fn scratch_dirs(env: &Env) -> Vec<String> {
    std::fs::read_dir(env.root.join("tmp"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Container directories without a record, and records without a
/// directory.
pub fn container_orphans(env: &Env) -> Vec<String> {
    let ids: Vec<String> = env
        .ok(["ps", "-aq", "--no-trunc"])
        .lines()
        .map(str::to_string)
        .collect();
    let dirs: Vec<String> = std::fs::read_dir(env.root.join("containers"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut out: Vec<String> = dirs
        .iter()
        .filter(|d| !ids.contains(d))
        .map(|d| format!("directory without record: {d}"))
        .collect();
    out.extend(
        ids.iter()
            .filter(|i| !dirs.contains(i))
            .map(|i| format!("record without directory: {i}")),
    );
    out
}

/// Writes a build context of `files` random files of `size` bytes under
/// `dir/data`.
pub fn random_context(rng: &mut Rng, dir: &Path, files: usize, size: usize) {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    for i in 0..files {
        std::fs::write(data.join(format!("f{i:04}")), rng.bytes(size)).expect("write");
    }
}

/// Force-removes every container of an environment when dropped: a
/// failing test must not leave containers running behind it.
pub struct RemoveContainers<'a>(pub &'a Env);

impl Drop for RemoveContainers<'_> {
    fn drop(&mut self) {
        let out = self.0.run(["ps", "-aq"]);
        for id in String::from_utf8_lossy(&out.stdout).lines() {
            let _ = self.0.run(["rm", "-f", id]);
        }
    }
}
