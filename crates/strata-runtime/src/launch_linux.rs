//! Turning a container (or build step) into a runnable OCI bundle, the
//! part shared by the supervisor and the build-step helper:
//!
//! 1. resolve the mount destinations inside the rootfs
//!    ([`crate::mountpoint_linux`]), mount the overlay rootfs;
//! 2. resolve `-u` through the rootfs's `/etc/passwd` and `/etc/group`
//!    (opened inside the root, see [`crate::inroot_linux`]);
//! 3. compute the process environment (docker's defaults, `HOME`);
//! 4. create the working directory if missing (owned by the user, as
//!    docker does), and fill empty volumes from the image (copy-up);
//! 5. look the command up as runc would (docker's 126/127 errors), in the
//!    container's view: through its mounts, so a binary on a `-v` mount
//!    can be the command;
//! 6. write `config.json` (with the [`Confinement`]), and create the
//!    container's directories in the cgroup hierarchies the runtime does
//!    not manage, so they can be bound read-only
//!    ([`crate::spec::cgroupfs`]).
//!
//! Any failure unmounts what step 1 mounted. [`release_cgroup_parent`]
//! removes the shared `/strata` cgroup directories once the last
//! container using them is gone.

use std::fs;
use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::error::{IoContext, Result, RuntimeError};
use crate::inroot_linux::{MountedView, RootDir, find_executable};
use crate::oci_linux::OciRuntime;
use crate::rootfs_linux::{Mounter, Overlay};
use crate::spec::process::{env_value, process_env};
use crate::spec::user::resolve_user;
use crate::spec::{
    CgroupSupport, Confinement, EtcFiles, MountSpec, NetworkMode, Resources, SpecInput, build_spec,
};

/// The cgroup parent of every strata container.
pub const CGROUP_PARENT: &str = "strata";

/// What to launch.
#[derive(Debug, Clone)]
pub struct LaunchInput {
    /// Root filesystem layers.
    pub overlay: Overlay,
    /// Mount them `volatile` (single-use upper dir).
    pub volatile: bool,
    /// Where to mount it.
    pub rootfs: PathBuf,
    /// Where `config.json` goes.
    pub bundle: PathBuf,
    /// argv (never empty).
    pub argv: Vec<String>,
    /// The container's `Config.Env` (image + user, merged).
    pub env: Vec<String>,
    /// `-u` (may be empty).
    pub user: String,
    /// `--group-add`.
    pub group_add: Vec<String>,
    /// Working directory (empty = `/`).
    pub cwd: String,
    /// `-t`.
    pub tty: bool,
    /// Hostname.
    pub hostname: String,
    /// Network mode.
    pub network: NetworkMode,
    /// The network namespace to join (see [`SpecInput::netns_path`]).
    pub netns_path: Option<PathBuf>,
    /// `/etc` files to bind.
    pub etc_files: Option<EtcFiles>,
    /// User mounts.
    pub mounts: Vec<MountSpec>,
    /// Volumes to fill from the image before the start, if empty:
    /// (destination, the volume's directory). See [`crate::volumes::copy_up`].
    pub copy_up: Vec<(String, PathBuf)>,
    /// Limits.
    pub resources: Resources,
    /// `--read-only`.
    pub readonly: bool,
    /// `cgroupsPath`.
    pub cgroups_path: String,
    /// Seccomp, capabilities, namespaces, devices, rlimits.
    pub confinement: Confinement,
}

/// Mounts the rootfs and writes the bundle; returns the spec.
pub fn prepare(m: &dyn Mounter, input: &LaunchInput) -> Result<Spec> {
    // Mount destinations resolved inside the rootfs as it is now (the
    // upper dir included: a restarted container may have changed it).
    let mut layers = vec![input.overlay.upper.clone()];
    layers.extend(input.overlay.lowers.iter().cloned());
    let mounts = crate::mountpoint_linux::plan(layers, &input.mounts)?.mounts;
    // Copy-ups follow the plan: the same destinations, resolved.
    let copy_up = input
        .copy_up
        .iter()
        .filter_map(|(dest, data)| {
            let i = input
                .mounts
                .iter()
                .position(|m| mount_destination(m) == dest)?;
            Some((mount_destination(&mounts[i]).to_string(), data.clone()))
        })
        .collect::<Vec<_>>();
    input.overlay.mount_with(m, &input.rootfs, input.volatile)?;
    match prepare_mounted(input, mounts, &copy_up) {
        Ok(spec) => Ok(spec),
        Err(e) => {
            if let Some(name) = input
                .cgroups_path
                .strip_prefix(&format!("/{CGROUP_PARENT}/"))
            {
                remove_cgroup(name);
            }
            let _ = m.unmount(&input.rootfs);
            Err(e)
        }
    }
}

fn mount_destination(m: &MountSpec) -> &str {
    match m {
        MountSpec::Bind { destination, .. } | MountSpec::Tmpfs { destination, .. } => destination,
    }
}

fn prepare_mounted(
    input: &LaunchInput,
    mounts: Vec<MountSpec>,
    copy_up: &[(String, PathBuf)],
) -> Result<Spec> {
    let root = RootDir::open(&input.rootfs)?;
    let passwd = root.read_to_string("/etc/passwd");
    let group = root.read_to_string("/etc/group");
    let user = resolve_user(
        &input.user,
        passwd.as_deref(),
        group.as_deref(),
        &input.group_add,
    )?;
    let env = process_env(&input.env, &input.hostname, input.tty, &user.home);
    let cwd = if input.cwd.is_empty() {
        "/".to_string()
    } else {
        input.cwd.clone()
    };
    if !input.readonly {
        ensure_workdir(&root, &cwd, user.uid, user.gid)?;
    }
    for (dest, data) in copy_up {
        // The image's directory, resolved inside the rootfs (the stub
        // shows the lower layers' content through the overlay).
        let src = root.resolve(dest, true).ctx("resolve volume path", dest)?;
        crate::volumes::copy_up(&src, data, &input.bundle)?;
    }
    // The command must exist in the image (docker's 126/127 errors); with
    // `--init` that is the one after `docker-init --`, which is mounted
    // over its stub later, by the runtime.
    let command = match input.argv.as_slice() {
        [init, dashes, cmd, ..] if init == crate::spec::INIT_PATH && dashes == "--" => cmd,
        _ => &input.argv[0],
    };
    let view = MountedView::new(&root, &mounts);
    find_executable(&view, command, env_value(&env, "PATH"), &cwd)?;
    let spec = build_spec(&SpecInput {
        rootfs: input.rootfs.clone(),
        readonly_rootfs: input.readonly,
        args: input.argv.clone(),
        env,
        cwd,
        user,
        terminal: input.tty,
        hostname: input.hostname.clone(),
        network: input.network,
        netns_path: input.netns_path.clone(),
        etc_files: input.etc_files.clone(),
        mounts,
        resources: input.resources,
        cgroups: CgroupSupport::probe(),
        cgroups_path: input.cgroups_path.clone(),
        confinement: input.confinement.clone(),
    })?;
    let cfg = input.bundle.join("config.json");
    let json =
        serde_json::to_vec_pretty(&spec).map_err(|e| RuntimeError::Invalid(e.to_string()))?;
    fs::write(&cfg, json).ctx("write", &cfg)?;
    // Under the lock, so the shared parent cannot vanish in between; the
    // directories go with the container's others (`remove_cgroup`).
    let _lock = CgroupParentLock::shared();
    input
        .confinement
        .cgroup_layout
        .create_unmanaged(&input.cgroups_path)?;
    Ok(spec)
}

/// `mkdir -p` of the working directory inside the root, new directories
/// owned by the container's user (docker's `SetupWorkingDirectory`).
pub(crate) fn ensure_workdir(root: &RootDir, cwd: &str, uid: u32, gid: u32) -> Result<()> {
    let host = root
        .resolve(cwd, true)
        .ctx("resolve working directory", cwd)?;
    if host.is_dir() {
        return Ok(());
    }
    if host.exists() {
        return Err(RuntimeError::Invalid(format!(
            "Cannot mkdir: {cwd} is not a directory"
        )));
    }
    let mut missing = Vec::new();
    let mut p = host.as_path();
    while !p.exists() && p.starts_with(root.path()) && p != root.path() {
        missing.push(p.to_path_buf());
        p = p.parent().unwrap_or(root.path());
    }
    fs::create_dir_all(&host).ctx("create working directory", &host)?;
    for d in missing {
        chown(&d, Some(uid), Some(gid)).ctx("chown working directory", &d)?;
    }
    Ok(())
}

/// `/strata/<name>`.
pub fn cgroups_path(name: &str) -> String {
    format!("/{CGROUP_PARENT}/{name}")
}

/// A lock on the `strata` cgroup parent: held shared while a runtime
/// creates a container's cgroups (they need the parent to exist), taken
/// exclusively — without waiting — to remove the parent.
#[derive(Debug)]
pub struct CgroupParentLock {
    _file: Option<fs::File>,
}

fn lock_file() -> Option<fs::File> {
    let dir = strata_store::userns::run_dir();
    let _ = fs::create_dir_all(&dir);
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("cgroup.lock"))
        .ok()
}

impl CgroupParentLock {
    /// Takes the lock shared (blocks while a removal runs).
    pub fn shared() -> CgroupParentLock {
        let f = lock_file();
        if let Some(f) = &f {
            use std::os::fd::AsRawFd;
            // SAFETY: flock on a descriptor we own.
            unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_SH) };
        }
        CgroupParentLock { _file: f }
    }
}

/// Removes the empty `strata` parent directories strata's cgroups live in
/// (a busy one stays: another container still uses it; nothing is removed
/// while another process is creating a container's cgroups).
pub fn release_cgroup_parent() {
    let Some(f) = lock_file() else { return };
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return;
    }
    let base = Path::new("/sys/fs/cgroup");
    let Ok(rd) = fs::read_dir(base) else { return };
    for e in rd.flatten() {
        let p = e.path().join(CGROUP_PARENT);
        if p.is_dir() {
            let _ = fs::remove_dir(&p);
        }
    }
    let _ = fs::remove_dir(base.join(CGROUP_PARENT));
}

/// Removes a container's own cgroup directories if the runtime left any
/// (a runtime killed mid-delete).
pub fn remove_cgroup(name: &str) {
    let base = Path::new("/sys/fs/cgroup");
    let Ok(rd) = fs::read_dir(base) else { return };
    for e in rd.flatten() {
        let p = e.path().join(CGROUP_PARENT).join(name);
        if p.is_dir() {
            let _ = fs::remove_dir(&p);
        }
    }
    let p = base.join(CGROUP_PARENT).join(name);
    if p.is_dir() {
        let _ = fs::remove_dir(&p);
    }
}

/// Whether container `name` has no cgroup directory left.
fn cgroup_gone(name: &str) -> bool {
    let base = Path::new("/sys/fs/cgroup");
    let Ok(rd) = fs::read_dir(base) else {
        return true;
    };
    !rd.flatten()
        .any(|e| e.path().join(CGROUP_PARENT).join(name).is_dir())
        && !base.join(CGROUP_PARENT).join(name).is_dir()
}

/// The runtime's `delete` of a container whose init has exited, cheap for
/// the embedded runtime (`state`: its state directory): once the
/// container's cgroups could be removed — no process is left in them —
/// the runtime has nothing left to do but forget that directory (strata
/// gives it no hooks). Otherwise (a process still there, an external
/// runtime) the runtime's own delete kills what is left and removes it.
pub fn delete_exited(runtime: &dyn OciRuntime, id: &str, state: Option<&Path>) -> Result<()> {
    if let Some(dir) = state {
        remove_cgroup(id);
        if cgroup_gone(id) {
            return match fs::remove_dir_all(dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(RuntimeError::Io {
                    op: "remove",
                    path: dir.to_path_buf(),
                    source: e,
                }),
                _ => Ok(()),
            };
        }
    }
    runtime.delete(id)
}

/// Starts, on a thread of its own, what makes the runtime's first cgroup
/// move slow, so it overlaps the rest of the start: moving a process
/// between cgroups takes the kernel's `cgroup_threadgroup_rwsem` for
/// writing, which waits for an RCU grace period (≈13 ms here) unless a
/// move happened just before. The thread "moves" this process into the
/// cgroup it is in (a no-op) and ends; join it before the runtime forks
/// (this process must be single-threaded then). Nothing to do (`None`)
/// without the rights to write `cgroup.procs`.
pub fn warm_cgroup_moves() -> Option<std::thread::JoinHandle<()>> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let own = fs::read_to_string("/proc/self/cgroup").ok()?;
    let procs = own.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctl, path) = (f.next()?, f.next()?, f.next()?);
        let dir = match ctl {
            "" => PathBuf::from("/sys/fs/cgroup"),
            c if !c.starts_with("name=") => Path::new("/sys/fs/cgroup").join(c),
            _ => return None,
        };
        let p = dir.join(path.trim_start_matches('/')).join("cgroup.procs");
        p.exists().then_some(p)
    })?;
    std::thread::Builder::new()
        .name("strata-cgroup-warm".into())
        .spawn(move || {
            let _ = fs::write(&procs, std::process::id().to_string());
        })
        .ok()
}
