//! Shared helpers of the container tests: a root-only environment with the
//! busybox image whose containers are force-removed when it is dropped
//! (even when the test failed), and a pseudo-terminal driver.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Env, is_root, skip};

/// An environment with a `busybox` image; drops every container it holds.
pub struct Ctr {
    pub env: Env,
}

impl Ctr {
    /// Root only: `None` (after saying why) when not root.
    pub fn new() -> Option<Ctr> {
        if !is_root() {
            skip("container tests need root");
            return None;
        }
        let env = Env::new();
        env.busybox("busybox");
        Some(Ctr { env })
    }

    /// Runs strata, returns the output.
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.env.run(args)
    }

    /// Runs strata, asserts success, returns stdout.
    pub fn ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S> + Clone,
        S: AsRef<OsStr>,
    {
        self.env.ok(args)
    }

    /// Runs strata expecting exit code `code`; returns stderr.
    pub fn fails_with<I, S>(&self, code: i32, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = self.env.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "stdout: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        stderr
    }

    /// `strata inspect -f TEMPLATE NAME`, trimmed.
    pub fn inspect(&self, name: &str, template: &str) -> String {
        self.ok(["inspect", "-f", template, name])
            .trim()
            .to_string()
    }

    /// Polls `f` until it returns true (panics after `secs`).
    pub fn until(&self, secs: u64, what: &str, mut f: impl FnMut() -> bool) {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            if f() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}");
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        let out = self.env.run(["ps", "-aq", "--no-trunc"]);
        for id in String::from_utf8_lossy(&out.stdout).lines() {
            let _ = self.env.run(["rm", "-f", id.trim()]);
        }
    }
}

/// A spawned strata process, killed on drop if the test did not reap it.
pub struct Spawned(pub Option<Child>);

impl Spawned {
    /// The process.
    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("child already taken")
    }

    /// Takes the process (the test waits for it).
    pub fn take(&mut self) -> Child {
        self.0.take().expect("child already taken")
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// True once `strata logs NAME` shows `text` (false while the container
/// does not exist yet).
pub fn logs_contain(t: &Ctr, name: &str, text: &str) -> bool {
    let out = t.run(["logs", name]);
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains(text)
}

/// A strata process on a pseudo-terminal this test holds the master of.
pub struct Pty {
    pub master: OwnedFd,
    pub child: Child,
}

impl Pty {
    /// Spawns `cmd` with a new pty (rows × cols) as its controlling terminal
    /// and stdio.
    pub fn spawn(mut cmd: Command, rows: u16, cols: u16) -> Pty {
        let ws = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&ws), None).expect("openpty");
        let slave = pty.slave;
        let raw = slave.as_raw_fd();
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()));
        // SAFETY: setsid and ioctl are async-signal-safe.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                libc::setsid();
                libc::ioctl(raw, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn on pty");
        drop(slave);
        Pty {
            master: pty.master,
            child,
        }
    }

    /// Reads until `token` appears (or `secs` pass); returns all read.
    pub fn read_until(&mut self, token: &str, secs: u64) -> String {
        let end = Instant::now() + Duration::from_secs(secs);
        let mut buf = Vec::new();
        while Instant::now() < end {
            let mut fds = [nix::poll::PollFd::new(
                self.master.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16));
            if fds[0].revents().is_some_and(|r| !r.is_empty()) {
                let mut chunk = [0u8; 4096];
                match nix::unistd::read(self.master.as_raw_fd(), &mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
                if String::from_utf8_lossy(&buf).contains(token) {
                    break;
                }
            }
        }
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Reads whatever is available now.
    pub fn drain(&mut self) -> String {
        let mut buf = Vec::new();
        loop {
            let mut fds = [nix::poll::PollFd::new(
                self.master.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO);
            if !fds[0]
                .revents()
                .is_some_and(|r| r.contains(nix::poll::PollFlags::POLLIN))
            {
                break;
            }
            let mut chunk = [0u8; 4096];
            match nix::unistd::read(self.master.as_raw_fd(), &mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Types `text`.
    pub fn write(&mut self, text: &str) {
        let mut f = std::fs::File::from(self.master.try_clone().unwrap());
        f.write_all(text.as_bytes()).unwrap();
    }

    /// Waits for the process (at most `secs`); returns its exit code.
    pub fn wait(&mut self, secs: u64) -> Option<i32> {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            // Keep draining so the child never blocks on a full pty.
            self.drain();
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        None
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Container directories left in a store root.
pub fn container_dirs(env: &Env) -> Vec<String> {
    std::fs::read_dir(env.root.join("containers"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Mounts (mount points) under `path` in this process's mount table.
pub fn mounts_under(path: &std::path::Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let p = path.to_string_lossy().into_owned();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mp| mp.starts_with(&p))
        .map(str::to_string)
        .collect()
}
