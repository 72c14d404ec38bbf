//! `/sys/fs/cgroup` inside a container, read-only as docker mounts it.
//!
//! On a cgroup v2 host the spec keeps one `cgroup` mount with `ro`: both
//! runtimes mount `cgroup2` with the spec's flags (the container's own
//! subtree under a cgroup namespace, docker's default there).
//!
//! On a v1 (or hybrid) host libcontainer ignores the `ro` of a `cgroup`
//! mount and binds each hierarchy read-write, which lets a container lift
//! its own `--memory` or `--pids-limit`. So strata spells the mount out as
//! runc does it: a tmpfs on `/sys/fs/cgroup`, then each v1 hierarchy's
//! directory of this container (`<hierarchy>/<cgroupsPath>`) bound on
//! `/sys/fs/cgroup/<hierarchy>` read-only (`--privileged`: read-write).
//! A co-mounted hierarchy (`cpu,cpuacct`) is also bound under each of its
//! names, where runc makes symlinks. The same spec serves runc.
//!
//! The runtime creates the directories of the controllers it manages
//! before it mounts anything; those of the other hierarchies (the named
//! `systemd` one, `rdma`, `misc`) are created by [`create_unmanaged`] and
//! removed with the container's other cgroup directories.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Mount, MountBuilder};

use crate::error::{Result, RuntimeError};

/// The controllers libcontainer (youki's libcgroups) creates directories
/// for on a v1 host.
const MANAGED: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "hugetlb",
    "memory",
    "pids",
    "perf_event",
    "blkio",
    "net_prio",
    "net_cls",
    "freezer",
];

/// Where cgroup hierarchies live.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// One v1 hierarchy mounted under `/sys/fs/cgroup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Its mount point (`/sys/fs/cgroup/memory`).
    pub mount_point: PathBuf,
    /// Its controllers and `name=` option (`["cpu", "cpuacct"]`,
    /// `["name=systemd"]`).
    pub options: Vec<String>,
}

impl Hierarchy {
    /// True if the runtime creates this hierarchy's directory itself.
    pub fn managed(&self) -> bool {
        self.options.iter().any(|o| MANAGED.contains(&o.as_str()))
    }

    /// The names it is reached by in the container: its directory name
    /// and, when co-mounted, each controller's.
    fn names(&self) -> Vec<String> {
        let Some(dir) = self.mount_point.file_name() else {
            return Vec::new();
        };
        let dir = dir.to_string_lossy().into_owned();
        let mut out = vec![dir.clone()];
        let controllers: Vec<&String> = self.options.iter().filter(|o| !o.contains('=')).collect();
        if controllers.len() > 1 {
            for c in controllers {
                if *c != dir {
                    out.push(c.clone());
                }
            }
        }
        out
    }
}

/// The host's cgroup layout.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    /// The v1 hierarchies under `/sys/fs/cgroup` (empty on a pure v2
    /// host).
    pub v1: Vec<Hierarchy>,
}

impl Layout {
    /// Reads this process's mount table.
    pub fn probe() -> Layout {
        // Rootless strata sees cgroup2 (see `rootless_linux`); the host's
        // v1 mounts it shadows are still listed in its mount table.
        if strata_store::userns::rootless() {
            return Layout::default();
        }
        std::fs::read_to_string("/proc/self/mountinfo")
            .map(|t| Layout::parse(&t))
            .unwrap_or_default()
    }

    /// Parses `/proc/self/mountinfo` text.
    pub fn parse(mountinfo: &str) -> Layout {
        let mut v1 = Vec::new();
        for m in strata_store::mounts::parse(mountinfo) {
            if m.fs_type != "cgroup" {
                continue;
            }
            let super_opts = m.super_options.as_str();
            let mount_point = m.mount_point;
            if mount_point.parent() != Some(Path::new(CGROUP_ROOT)) {
                continue;
            }
            let options = super_opts
                .split(',')
                .filter(|o| !matches!(*o, "rw" | "ro") && !o.starts_with("release_agent"))
                .filter(|o| o.starts_with("name=") || !o.contains('='))
                .filter(|o| {
                    !matches!(
                        *o,
                        "noprefix" | "clone_children" | "xattr" | "cpuset_v2_mode"
                    )
                })
                .map(str::to_string)
                .collect();
            v1.push(Hierarchy {
                mount_point,
                options,
            });
        }
        Layout { v1 }
    }

    /// The mounts that replace the spec's `cgroup` mount on a v1 host
    /// (`None` on a v2 host: keep it).
    pub fn mounts(&self, cgroups_path: &str, readonly: bool) -> Result<Option<Vec<Mount>>> {
        if self.v1.is_empty() {
            return Ok(None);
        }
        let build = |b: MountBuilder| {
            b.build()
                .map_err(|e| RuntimeError::Invalid(format!("runtime spec: {e}")))
        };
        let opts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut out = vec![build(
            MountBuilder::default()
                .destination(CGROUP_ROOT)
                .typ("tmpfs")
                .source("tmpfs")
                .options(opts(&["nosuid", "nodev", "noexec", "mode=755"])),
        )?];
        let rel = cgroups_path.trim_start_matches('/');
        let mut bind_opts = opts(&["rbind", "nosuid", "nodev", "noexec"]);
        if readonly {
            bind_opts.push("ro".to_string());
        }
        for h in &self.v1 {
            let source = h.mount_point.join(rel);
            for name in h.names() {
                out.push(build(
                    MountBuilder::default()
                        .destination(Path::new(CGROUP_ROOT).join(&name))
                        .typ("bind")
                        .source(&source)
                        .options(bind_opts.clone()),
                )?);
            }
        }
        Ok(Some(out))
    }

    /// Creates this container's directory in the hierarchies the runtime
    /// does not manage, so they can be bound (idempotent).
    pub fn create_unmanaged(&self, cgroups_path: &str) -> Result<()> {
        let rel = cgroups_path.trim_start_matches('/');
        for h in self.v1.iter().filter(|h| !h.managed()) {
            let dir = h.mount_point.join(rel);
            std::fs::create_dir_all(&dir).map_err(|e| RuntimeError::Io {
                op: "create cgroup directory",
                path: dir.clone(),
                source: e,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
25 1 0:22 / /sys rw,nosuid - sysfs sysfs rw
30 25 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
32 30 0:28 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
33 30 0:29 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
34 30 0:30 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
35 1 0:31 / /mnt/elsewhere rw - cgroup cgroup rw,pids
";

    #[test]
    fn parses_v1_hierarchies() {
        let l = Layout::parse(HYBRID);
        assert_eq!(l.v1.len(), 3, "{l:?}");
        assert_eq!(l.v1[0].options, ["cpu", "cpuacct"]);
        assert_eq!(l.v1[2].options, ["name=systemd"]);
        assert!(l.v1[1].managed() && !l.v1[2].managed());
        assert!(
            Layout::parse("30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")
                .v1
                .is_empty()
        );
    }

    #[test]
    fn v1_binds_are_read_only_and_per_container() {
        let l = Layout::parse(HYBRID);
        let m = l.mounts("/strata/abc", true).unwrap().unwrap();
        let dests: Vec<String> = m
            .iter()
            .map(|m| m.destination().display().to_string())
            .collect();
        assert_eq!(
            dests,
            [
                "/sys/fs/cgroup",
                "/sys/fs/cgroup/cpu,cpuacct",
                "/sys/fs/cgroup/cpu",
                "/sys/fs/cgroup/cpuacct",
                "/sys/fs/cgroup/memory",
                "/sys/fs/cgroup/systemd"
            ]
        );
        assert_eq!(
            m[4].source().as_deref(),
            Some(Path::new("/sys/fs/cgroup/memory/strata/abc"))
        );
        assert!(m[4].options().as_ref().unwrap().contains(&"ro".to_string()));
        let rw = l.mounts("/strata/abc", false).unwrap().unwrap();
        assert!(
            !rw[4]
                .options()
                .as_ref()
                .unwrap()
                .contains(&"ro".to_string())
        );
        assert!(
            Layout::default()
                .mounts("/strata/abc", true)
                .unwrap()
                .is_none()
        );
    }
}
