//! A running container's cgroup from the host: the PIDs in it (`top`) and
//! the freezer (`pause`/`unpause`, `commit --pause`).
//!
//! Containers live in `strata/<id>` of every hierarchy
//! ([`crate::launch_linux::cgroups_path`]). Under cgroup v1 the freezer
//! controller's `freezer.state` takes `FROZEN`/`THAWED`; under v2 (a
//! unified hierarchy at `/sys/fs/cgroup`) `cgroup.freeze` takes `1`/`0` and
//! `cgroup.events` says `frozen 1` once done. Freezing waits until the
//! kernel reports the whole group frozen, as runc does.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{IoContext, Result, RuntimeError};
use crate::launch_linux::CGROUP_PARENT;

const ROOT: &str = "/sys/fs/cgroup";

/// The cgroup directories of one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerCgroup {
    dir: PathBuf,
    v2: bool,
}

impl ContainerCgroup {
    /// Container `id`'s cgroup under the host's hierarchy.
    pub fn of(id: &str) -> ContainerCgroup {
        ContainerCgroup::under(Path::new(ROOT), id)
    }

    /// Container `id`'s cgroup under a cgroup root mounted at `root`.
    pub fn under(root: &Path, id: &str) -> ContainerCgroup {
        if root.join("cgroup.controllers").exists() {
            ContainerCgroup {
                dir: root.join(CGROUP_PARENT).join(id),
                v2: true,
            }
        } else {
            ContainerCgroup {
                dir: root.join("freezer").join(CGROUP_PARENT).join(id),
                v2: false,
            }
        }
    }

    /// The host PIDs of the processes in the container, ascending.
    pub fn pids(&self) -> Result<Vec<u32>> {
        let f = self.dir.join("cgroup.procs");
        let text = fs::read_to_string(&f).ctx("read", &f)?;
        let mut pids: Vec<u32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// True when the group is frozen.
    pub fn is_frozen(&self) -> bool {
        if self.v2 {
            fs::read_to_string(self.dir.join("cgroup.events"))
                .is_ok_and(|s| s.lines().any(|l| l.trim() == "frozen 1"))
        } else {
            fs::read_to_string(self.dir.join("freezer.state")).is_ok_and(|s| s.trim() == "FROZEN")
        }
    }

    /// Freezes every process of the container; waits (up to 5 s) until the
    /// kernel reports the group frozen, thawing it again if it never is.
    pub fn freeze(&self) -> Result<()> {
        self.write(true)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if self.is_frozen() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = self.write(false);
                return Err(RuntimeError::Invalid(format!(
                    "{}: the cgroup did not freeze within 5s",
                    self.dir.display()
                )));
            }
            if !self.v2 {
                // v1 may fall back to FREEZING; asking again retries the
                // tasks that were busy.
                let _ = self.write(true);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Thaws the container's processes.
    pub fn thaw(&self) -> Result<()> {
        self.write(false)
    }

    fn write(&self, frozen: bool) -> Result<()> {
        let (file, value) = match (self.v2, frozen) {
            (true, true) => ("cgroup.freeze", "1"),
            (true, false) => ("cgroup.freeze", "0"),
            (false, true) => ("freezer.state", "FROZEN"),
            (false, false) => ("freezer.state", "THAWED"),
        };
        let f = self.dir.join(file);
        fs::write(&f, value).ctx("write", &f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_hierarchy_of_the_host() {
        let v1 = tempfile::tempdir().unwrap();
        let cg = ContainerCgroup::under(v1.path(), "abc");
        assert_eq!(cg.dir, v1.path().join("freezer/strata/abc"));
        assert!(!cg.v2);

        let v2 = tempfile::tempdir().unwrap();
        fs::write(v2.path().join("cgroup.controllers"), "cpu memory").unwrap();
        let cg = ContainerCgroup::under(v2.path(), "abc");
        assert_eq!(cg.dir, v2.path().join("strata/abc"));
        assert!(cg.v2);
    }

    #[test]
    fn reads_pids_and_freezer_files() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("cgroup.controllers"), "").unwrap();
        let cg = ContainerCgroup::under(root.path(), "c1");
        fs::create_dir_all(&cg.dir).unwrap();
        fs::write(cg.dir.join("cgroup.procs"), "42\n7\n42\n").unwrap();
        assert_eq!(cg.pids().unwrap(), vec![7, 42]);
        fs::write(cg.dir.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        cg.freeze().unwrap();
        assert_eq!(
            fs::read_to_string(cg.dir.join("cgroup.freeze")).unwrap(),
            "1"
        );
        cg.thaw().unwrap();
        assert_eq!(
            fs::read_to_string(cg.dir.join("cgroup.freeze")).unwrap(),
            "0"
        );
    }
}
