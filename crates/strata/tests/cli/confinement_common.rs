//! Helpers of the confinement tests: a static probe (C, compiled with the
//! host's gcc at test time) that prints `Seccomp`, `CapEff`, `NoNewPrivs`
//! and what the kernel says to the calls docker's confinement refuses,
//! and the same busybox image in a private dockerd to compare with.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{self, Env, sh, skip, which};

/// The probe: one `name: ok|ERRNO` line per check. Every check is
/// harmless on the host too, but it is only ever run in containers.
pub const PROBE_C: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/keyctl.h>

static const char *res(long rc) {
    if (rc >= 0) return "ok";
    switch (errno) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOSYS: return "ENOSYS";
    case EROFS: return "EROFS";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    default: return strerror(errno);
    }
}

static void status(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Seccomp:", 8) || !strncmp(line, "CapEff:", 7) ||
            !strncmp(line, "CapPrm:", 7) || !strncmp(line, "CapBnd:", 7) ||
            !strncmp(line, "NoNewPrivs:", 11))
            fputs(line, stdout);
    if (f) fclose(f);
}

static void write_file(const char *name, const char *path, const char *val) {
    int fd = open(path, O_WRONLY);
    long rc = fd;
    if (fd >= 0) { rc = write(fd, val, strlen(val)); close(fd); }
    printf("%s: %s\n", name, res(rc));
}

int main(void) {
    status();
    printf("keyctl: %s\n", res(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1)));
    printf("add_key: %s\n", res(syscall(SYS_add_key, "user", "probe", "x", 1, KEY_SPEC_PROCESS_KEYRING)));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        long rc = unshare(CLONE_NEWUSER);
        printf("unshare_user: %s\n", res(rc));
        if (rc == 0)
            printf("userns_mount: %s\n",
                   res(unshare(CLONE_NEWNS) == 0 ? mount("none", "/tmp", "tmpfs", 0, NULL) : -1));
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    mkdir("/tmp/probe-mnt", 0755);
    printf("mount: %s\n", res(mount("none", "/tmp/probe-mnt", "tmpfs", 0, NULL)));
    printf("bpf: %s\n", res(syscall(SYS_bpf, 0, NULL, 0)));
    printf("perf_event_open: %s\n", res(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0)));
    write_file("memory_limit", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "-1");
    write_file("pids_max", "/sys/fs/cgroup/pids/pids.max", "max");
    write_file("memory_max_v2", "/sys/fs/cgroup/memory.max", "max");
    write_file("pids_max_v2", "/sys/fs/cgroup/pids.max", "max");
    return 0;
}
"#;

/// Compiles the probe into `<env>/probe/probe` (a directory, bound into
/// containers at `/p`); `None` (after saying why) without gcc.
pub fn probe_dir(env: &Env) -> Option<PathBuf> {
    let Some(gcc) = which("gcc") else {
        skip("gcc is needed to build the probe (apt-get install gcc libc6-dev)");
        return None;
    };
    let dir = env.path("probe");
    std::fs::create_dir_all(&dir).unwrap();
    let src = env.path("probe.c");
    std::fs::write(&src, PROBE_C).unwrap();
    sh(Command::new(gcc)
        .args(["-static", "-O1", "-o"])
        .arg(dir.join("probe"))
        .arg(&src));
    Some(dir)
}

/// The command line that runs the probe from `/p`.
pub const RUN_PROBE: [&str; 3] = ["sh", "-c", "/p/probe"];

/// A docker CLI for the private dockerd, with the test busybox image
/// loaded under a tag of its own (removed on drop).
pub struct Docker {
    pub image: String,
}

impl Docker {
    /// `None` (after saying why) without a dockerd.
    pub fn new(tag: &str) -> Option<Docker> {
        let Some(mut d) = support::docker() else {
            skip(
                "no docker daemon to compare with (STRATA_TEST_DOCKER_HOST; scripts/test.sh starts one)",
            );
            return None;
        };
        let image = format!("strata-confine/{tag}:{}", std::process::id());
        sh(d.args(["import", "--change", "CMD [\"sh\"]"])
            .arg(support::busybox_rootfs_tar())
            .arg(&image));
        Some(Docker { image })
    }

    /// A `docker` command.
    pub fn cmd(&self) -> Command {
        support::docker().expect("dockerd went away")
    }

    /// `docker run --rm --network none <flags> IMAGE <args>`: (code,
    /// stdout, stderr).
    pub fn run(&self, flags: &[&str], args: &[&str]) -> (Option<i32>, String, String) {
        let out = self
            .cmd()
            .args(["run", "--rm", "--network", "none"])
            .args(flags)
            .arg(&self.image)
            .args(args)
            .output()
            .expect("docker run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        let _ = self.cmd().args(["image", "rm", "-f", &self.image]).output();
    }
}

/// `-v DIR:/p:ro`.
pub fn bind_probe(dir: &Path) -> String {
    format!("{}:/p:ro", dir.display())
}
