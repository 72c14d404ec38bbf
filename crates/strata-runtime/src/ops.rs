//! Container operations as the CLI commands use them: create (the image
//! config and the flags make the spec document, by docker's rules), start
//! (spawn the supervisor), stop, kill, remove, wait, prune. Each works
//! from the records alone, so it does not matter which process started the
//! container.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;
use strata_store::{Image, Store};

use crate::client_linux::{self, Supervised};
use crate::containers::{self, Container, NewContainer, paths};
use crate::error::{Result, RuntimeError};
use crate::launch_linux;
use crate::model::{Config, ContainerSpec, EMBEDDED_RUNTIME, HostConfig};
use crate::names;
use crate::oci_linux::runtime_for;
use crate::rootfs_linux::{Mounter, SysMounter, is_mounted};
use crate::spec::process::{EntrypointFlag, combine_command, merge_config_env};
use crate::spec::{parse_bytes, parse_cpus};

/// `create`/`run` flags (already normalised by the CLI: `-e` entries with
/// host values filled in, `--env-file` contents in order).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// `--name`.
    pub name: Option<String>,
    /// The image as the user typed it.
    pub image: String,
    /// Arguments after the image.
    pub args: Vec<String>,
    /// `--entrypoint`.
    pub entrypoint: EntrypointFlag,
    /// Env entries, in order.
    pub env: Vec<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-h`/`--hostname`.
    pub hostname: Option<String>,
    /// `-t`.
    pub tty: bool,
    /// `-i`.
    pub interactive: bool,
    /// Attach stdin/stdout/stderr (foreground `run`, `-a`).
    pub attach: (bool, bool, bool),
    /// `--rm`.
    pub auto_remove: bool,
    /// `--read-only`.
    pub read_only: bool,
    /// `-v`.
    pub volumes: Vec<String>,
    /// `--tmpfs`.
    pub tmpfs: Vec<String>,
    /// `--mount`.
    pub mounts: Vec<String>,
    /// `--volumes-from`.
    pub volumes_from: Vec<String>,
    /// `--network`, `-p`, `--dns`, … (see [`crate::net::NetOptions`]).
    pub net: crate::net::NetOptions,
    /// `-m`/`--memory`.
    pub memory: Option<String>,
    /// `--memory-swap` (`-1`: unlimited).
    pub memory_swap: Option<String>,
    /// `--cpus`.
    pub cpus: Option<String>,
    /// `-c`/`--cpu-shares`.
    pub cpu_shares: Option<i64>,
    /// `--restart`.
    pub restart: Option<String>,
    /// `--pids-limit`.
    pub pids_limit: Option<i64>,
    /// `--runtime PATH`.
    pub runtime: Option<PathBuf>,
    /// `-l`/`--label`.
    pub labels: Vec<String>,
    /// `--group-add`.
    pub group_add: Vec<String>,
    /// `--stop-signal`.
    pub stop_signal: Option<String>,
    /// `--stop-timeout`.
    pub stop_timeout: Option<i64>,
    /// `--init`: run docker-init (tini) as PID 1.
    pub init: bool,
    /// `--privileged`, `--cap-add`, `--security-opt`, `--ipc`, …
    pub security: crate::confine::SecurityOptions,
    /// `--health-*`/`--no-healthcheck` (merged over the image's
    /// `HEALTHCHECK`, see [`crate::health::merge`]).
    pub healthcheck: Option<strata_oci::config::HealthConfig>,
}

/// Creates a container from `image` with docker's rules.
pub fn create(store: &Store, image: &Image, opts: &CreateOptions) -> Result<Container> {
    if let Some(n) = &opts.name {
        names::validate_name(n)?;
    }
    let icfg = image.config.config.clone().unwrap_or_default();
    let command = combine_command(
        icfg.entrypoint.as_deref(),
        icfg.cmd.as_deref(),
        &opts.entrypoint,
        &opts.args,
    )?;
    let workdir = match &opts.workdir {
        Some(w) if !w.is_empty() => {
            if !w.starts_with('/') {
                return Err(RuntimeError::Invalid(format!(
                    "the working directory '{w}' is invalid, it needs to be an absolute path"
                )));
            }
            w.clone()
        }
        _ => icfg.working_dir.clone().unwrap_or_default(),
    };
    let exposed: Vec<String> = icfg
        .exposed_ports
        .iter()
        .flat_map(|m| m.keys().cloned())
        .collect();
    let net = crate::net::config::prepare(store, &opts.net, &exposed)?;
    // docker's daemon refuses an unknown --stop-signal at create.
    if let Some(sig) = &opts.stop_signal {
        parse_signal(sig)?;
    }
    let memory = opts
        .memory
        .as_deref()
        .map(parse_bytes)
        .transpose()?
        .unwrap_or(0);
    let memory_swap = opts
        .memory_swap
        .as_deref()
        .map(crate::update_linux::parse_swap)
        .transpose()?
        .unwrap_or(0);
    let memory_swap = crate::update_linux::check_memory(memory, memory_swap)?;
    let restart_policy =
        crate::restart_policy::RestartPolicy::parse(opts.restart.as_deref().unwrap_or(""))?;
    if opts.auto_remove && !restart_policy.is_none() {
        return Err(RuntimeError::Invalid(
            "conflicting options: cannot specify both --restart and --rm".to_string(),
        ));
    }
    let nano_cpus = opts
        .cpus
        .as_deref()
        .map(parse_cpus)
        .transpose()?
        .unwrap_or(0);
    crate::rootless_linux::check_network(&net.mode, &net.host_config.port_bindings)?;
    crate::rootless_linux::check_limits(&[
        ("--memory", "memory", memory > 0),
        ("--cpus", "cpu", nano_cpus > 0),
        (
            "--pids-limit",
            "pids",
            opts.pids_limit.is_some_and(|p| p > 0),
        ),
    ])?;
    if let Some(rt) = &opts.runtime
        && !rt.is_file()
    {
        return Err(RuntimeError::Invalid(format!(
            "unknown or invalid runtime name: {}",
            rt.display()
        )));
    }
    let mut tmpfs = BTreeMap::new();
    for t in &opts.tmpfs {
        let (dest, o) = t.split_once(':').unwrap_or((t, ""));
        if !dest.starts_with('/') {
            return Err(RuntimeError::Invalid(format!(
                "invalid mount path {dest:?}: must be absolute"
            )));
        }
        tmpfs.insert(dest.to_string(), o.to_string());
    }
    let tmpfs_dests: Vec<String> = tmpfs.keys().cloned().collect();
    let binds = opts.volumes.clone();
    let mut requests = Vec::new();
    for v in &opts.volumes {
        requests.push(crate::mounts::parse_volume(v)?);
    }
    for m in &opts.mounts {
        requests.push(crate::mounts::parse_mount(m)?);
    }
    let mut inherited = Vec::new();
    for vf in &opts.volumes_from {
        let (name, mode) = vf.split_once(':').unwrap_or((vf, ""));
        let other = containers::lookup(store, name)?;
        inherited.extend(crate::mounts::inherited(
            &crate::mounts::points_of(&other.spec),
            mode,
        )?);
    }
    let image_volumes: Vec<String> = icfg
        .volumes
        .iter()
        .flat_map(|m| m.keys().cloned())
        .collect();
    let mut labels = icfg.labels.clone().unwrap_or_default();
    for l in &opts.labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_string(), v.to_string());
    }

    let id = names::new_id();
    let hostname = opts
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            // docker: a container on the host's network has its name.
            (net.mode == "host")
                .then(|| nix::unistd::gethostname().ok()?.into_string().ok())
                .flatten()
        })
        .unwrap_or_else(|| names::short_id(&id).to_string());
    if hostname.len() > 64 {
        return Err(RuntimeError::Invalid(format!(
            "invalid hostname format: {hostname}"
        )));
    }
    let security = crate::confine::host_config(store, &opts.security, &net.mode)?;
    let healthcheck = crate::health::merge(opts.healthcheck.clone(), icfg.healthcheck.as_ref());
    crate::health::validate(healthcheck.as_ref()).map_err(RuntimeError::Invalid)?;
    let mut extra = serde_json::Map::new();
    if let Some(shell) = &icfg.shell {
        extra.insert("Shell".into(), serde_json::json!(shell));
    }
    let (path, args) = command.path_and_args();
    let config = Config {
        hostname,
        domainname: net.domainname.clone(),
        user: opts
            .user
            .clone()
            .unwrap_or_else(|| icfg.user.clone().unwrap_or_default()),
        attach_stdin: opts.attach.0,
        attach_stdout: opts.attach.1,
        attach_stderr: opts.attach.2,
        tty: opts.tty,
        open_stdin: opts.interactive,
        stdin_once: opts.interactive && opts.attach.0,
        env: merge_config_env(icfg.env.as_deref().unwrap_or(&[]), &opts.env),
        cmd: (!command.cmd.is_empty()).then(|| command.cmd.clone()),
        healthcheck,
        image: opts.image.clone(),
        volumes: icfg.volumes.as_ref().map(|v| {
            v.keys()
                .map(|k| (k.clone(), serde_json::json!({})))
                .collect()
        }),
        working_dir: workdir,
        entrypoint: (!command.entrypoint.is_empty()).then(|| command.entrypoint.clone()),
        on_build: icfg.on_build.clone(),
        labels,
        stop_signal: opts
            .stop_signal
            .clone()
            .or_else(|| icfg.stop_signal.clone()),
        stop_timeout: opts.stop_timeout,
        net: net.config.clone(),
        extra,
    };
    let host_config = HostConfig {
        binds: (!binds.is_empty()).then_some(binds),
        volumes_from: (!opts.volumes_from.is_empty()).then(|| opts.volumes_from.clone()),
        network_mode: net.mode.clone(),
        auto_remove: opts.auto_remove,
        readonly_rootfs: opts.read_only,
        tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
        group_add: (!opts.group_add.is_empty()).then(|| opts.group_add.clone()),
        memory,
        memory_swap,
        nano_cpus,
        cpu_shares: opts.cpu_shares.unwrap_or(0),
        pids_limit: opts.pids_limit,
        restart_policy,
        runtime: opts
            .runtime
            .as_ref()
            .map_or_else(|| EMBEDDED_RUNTIME.to_string(), |p| p.display().to_string()),
        init: opts.init.then_some(true),
        security,
        net: net.host_config.clone(),
        extra: serde_json::Map::new(),
    };
    // Volumes are made last, once the flags are known good.
    let (points, made) =
        crate::mounts::register(store, inherited, requests, &image_volumes, &tmpfs_dests)?;
    let spec = ContainerSpec {
        path,
        args,
        config,
        host_config,
        mount_points: Some(points.clone()),
        extra: serde_json::Map::new(),
    };
    let mounts = match crate::mounts::of_container(store, &spec) {
        Ok((m, _)) => m,
        Err(e) => {
            crate::volumes::remove_unused(store, &made);
            return Err(e);
        }
    };
    let c = containers::create(
        store,
        NewContainer {
            id,
            name: opts.name.clone(),
            image_id: image.id().clone(),
            image_name: opts.image.clone(),
            spec,
            mounts,
        },
    );
    let c = match c {
        Ok(c) => c,
        Err(e) => {
            crate::volumes::remove_unused(store, &made);
            return Err(e);
        }
    };
    let recorded = crate::volumes::add_refs(store, &c.id, &crate::mounts::volume_refs(&points))
        .and_then(|()| crate::net::config::record(store, &c.id, &net));
    if let Err(e) = recorded {
        let _ = containers::delete_with_volumes(store, &c.id);
        return Err(e);
    }
    crate::events::container(store, &c, "create", &[]);
    Ok(c)
}

/// Starts a container: spawns its supervisor, which inherits the
/// container's lock (this process's, from `create`, or taken now: waiting
/// for a remover or a finishing supervisor, never for a running one). The
/// caller waits for the start with [`Supervised::wait_started`] and may
/// then relay.
pub fn start(store: &Store, c: &Container) -> Result<Supervised> {
    start_with(store, c, || None)
}

/// [`start`], handing the container to a spare supervisor that `spare`
/// gives (see [`crate::spare_linux`]) once the container's lock is
/// claimed; a new supervisor is spawned when there is none, or the spare
/// cannot take it (it died).
pub fn start_with(
    store: &Store,
    c: &Container,
    spare: impl FnOnce() -> Option<crate::spare_linux::Spare>,
) -> Result<Supervised> {
    let lock = claim_for_start(store, c)?;
    let log = paths(store, &c.id).dir.join("supervisor.log");
    if let Some(spare) = spare() {
        match spare.start(&c.id, &log, &lock) {
            Ok(sup) => return Ok(sup),
            Err(e) => tracing::debug!("spare supervisor for {}: {e}; spawning one", c.id),
        }
    }
    client_linux::spawn_supervisor(store.root(), &c.id, &log, &lock)
}

/// Starts `c` and stays attached in this process, without a supervisor
/// process (see [`crate::foreground_linux::run_in_process`]: a foreground
/// `run --rm` with neither terminal nor stdin); returns how it ended.
pub fn run_in_process(
    store: &Store,
    c: &Container,
    stdout: bool,
    stderr: bool,
    warm: Option<std::thread::JoinHandle<()>>,
) -> Result<crate::foreground_linux::Foreground> {
    let lock = claim_for_start(store, c)?;
    crate::foreground_linux::run_in_process(store, &c.id, lock, stdout, stderr, warm)
}

/// The container's lock, for a start (see [`start`]).
fn claim_for_start(store: &Store, c: &Container) -> Result<crate::lock::ContainerLock> {
    let p = paths(store, &c.id);
    let running = || {
        containers::get(store, &c.id)
            .ok()
            .flatten()
            .is_some_and(|c| c.is_running())
    };
    let lock = crate::lock::claim(&c.id, &p.dir, Duration::from_secs(30), running)?
        .ok_or_else(|| RuntimeError::AlreadyRunning(c.id.clone()))?;
    if containers::get(store, &c.id)?.is_none() {
        return Err(RuntimeError::NoSuchContainer(c.id.clone()));
    }
    // A manual start begins the restart policy afresh (docker's
    // ResetRestartManager: the count back to 0, `stop` forgotten).
    containers::update_state(store, &c.id, |s| {
        s.restart_count = 0;
        s.strata.manually_stopped = false;
        s.strata.restart_cancelled = false;
    })?;
    Ok(lock)
}

/// Parses a signal as docker does: `SIGTERM`, `TERM`, `15`.
pub fn parse_signal(s: &str) -> Result<Signal> {
    let bad = || RuntimeError::Invalid(format!("Invalid signal: {s}"));
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>().map_err(|_| bad())
}

/// Waits until the container's supervisor has recorded its end (or,
/// without a live supervisor, its process is gone).
fn wait_stopped(c: &Container, timeout: Option<Duration>) -> bool {
    match (c.state.strata.supervisor, c.state.strata.init) {
        (Some(s), _) if s.is_alive() => s.wait_gone(timeout),
        (_, Some(i)) => i.wait_gone(timeout),
        _ => true,
    }
}

/// `stop`: STOPSIGNAL (default SIGTERM), then SIGKILL after `timeout`
/// seconds (default: `--stop-timeout`, else 10).
/// Ends the restart policy (docker's `ExitOnNext`): the exit `stop`
/// causes is final; a supervisor waiting out a backoff is woken to record
/// the container exited, and waited for.
pub fn stop(store: &Store, c: &Container, timeout: Option<i64>) -> Result<()> {
    stop_with(store, c, None, timeout)
}

/// [`stop`] with `signal` instead of the container's stop signal
/// (`restart -s`).
pub fn stop_with(
    store: &Store,
    c: &Container,
    signal: Option<&str>,
    timeout: Option<i64>,
) -> Result<()> {
    let sig = parse_signal(
        signal
            .or(c.spec.config.stop_signal.as_deref())
            .unwrap_or("SIGTERM"),
    )?;
    let Some(c) = &mark_stopped(store, c, true)? else {
        return Ok(());
    };
    if !c.is_running() {
        return reconcile(store, c);
    }
    let secs = timeout.or(c.spec.config.stop_timeout).unwrap_or(10);
    if let Some(init) = c.state.strata.init {
        kill_event(store, c, sig);
        let _ = init.signal(sig);
        let wait = (secs >= 0).then(|| Duration::from_secs(secs as u64));
        if !wait_stopped(c, wait) {
            kill_event(store, c, Signal::SIGKILL);
            let _ = init.signal(Signal::SIGKILL);
            wait_stopped(c, Some(Duration::from_secs(30)));
        }
    }
    let r = reconcile(store, c);
    crate::events::container(store, c, "stop", &[]);
    r
}

/// docker's `kill` event: the signal by number.
fn kill_event(store: &Store, c: &Container, sig: Signal) {
    crate::events::container(store, c, "kill", &[("signal", (sig as i32).to_string())]);
}

/// Records a `stop` or `kill` for the restart policy: `unless-stopped`
/// no longer restarts; with `cancel` (stop, SIGKILL, the stop signal) no
/// policy does until the next manual start. A container waiting out a
/// backoff has no process: its supervisor is woken to look again (and,
/// cancelled, record it exited, which is waited for). Returns the
/// container as it is then (`None`: removed meanwhile).
fn mark_stopped(store: &Store, c: &Container, cancel: bool) -> Result<Option<Container>> {
    let restarting = match containers::update_state(store, &c.id, |s| {
        s.strata.manually_stopped = true;
        s.strata.restart_cancelled |= cancel;
    }) {
        Ok(s) => s.restarting,
        Err(RuntimeError::NoSuchContainer(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    if restarting && let Some(sup) = c.state.strata.supervisor.filter(|s| s.is_alive()) {
        let _ = sup.signal(Signal::SIGTERM);
        if cancel {
            sup.wait_gone(Some(Duration::from_secs(10)));
        }
    }
    containers::get(store, &c.id)
}

/// `kill -s SIG` (docker: a kill ends `unless-stopped`; SIGKILL or the
/// stop signal end every restart policy).
pub fn kill(store: &Store, c: &Container, sig: Signal) -> Result<()> {
    if !c.is_running() {
        return Err(RuntimeError::NotRunning(c.id.clone()));
    }
    let stop_sig = parse_signal(c.spec.config.stop_signal.as_deref().unwrap_or("SIGTERM"))?;
    let cancel = sig == Signal::SIGKILL || sig == stop_sig;
    let Some(c) = &mark_stopped(store, c, cancel)? else {
        return Err(RuntimeError::NotRunning(c.id.clone()));
    };
    if c.state.restarting || (!c.is_running() && cancel) {
        // No process to signal: the restart is called off (or was).
        return Ok(());
    }
    let init = c
        .state
        .strata
        .init
        .filter(|_| c.is_running())
        .ok_or_else(|| RuntimeError::NotRunning(c.id.clone()))?;
    kill_event(store, c, sig);
    init.signal(sig)
        .map_err(|_| RuntimeError::NotRunning(c.id.clone()))
}

/// `rm [-f] [-v]` (`-v`: its anonymous volumes too): under the container's lock, waiting for whoever holds it (a
/// supervisor finishing, another remover) — but not for a container that
/// runs: that is docker's "cannot remove a running container" (killed
/// first with `-f`).
pub fn remove(store: &Store, c: &Container, force: bool, volumes: bool) -> Result<()> {
    let p = paths(store, &c.id);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut lock = crate::lock::take(&c.id);
    while lock.is_none() {
        // Gone meanwhile (its `--rm`, another remover): removed, as asked.
        let Some(now) = containers::get(store, &c.id)? else {
            return Ok(());
        };
        if now.is_running() {
            if !force {
                return Err(remove_running(&now));
            }
            // No restart of what is being removed (and a supervisor
            // waiting out a backoff is told to leave).
            let Some(now) = mark_stopped(store, &now, true)? else {
                return Ok(());
            };
            if let Some(init) = now.state.strata.init {
                kill_event(store, &now, Signal::SIGKILL);
                let _ = init.signal(Signal::SIGKILL);
            }
            wait_stopped(&now, Some(Duration::from_secs(30)));
        }
        match crate::lock::ContainerLock::try_acquire(&p.dir)? {
            Some(l) => lock = Some(l),
            None if !p.dir.is_dir() => return Ok(()),
            None if std::time::Instant::now() >= deadline => {
                return Err(RuntimeError::Invalid(format!(
                    "removal of container {} is already in progress",
                    c.id
                )));
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let Some(now) = containers::get(store, &c.id)? else {
        return Ok(());
    };
    if now.is_running() {
        // Its supervisor died and left it running: kill what is left.
        if !force {
            return Err(remove_running(&now));
        }
    }
    reconcile_locked(store, &now)?;
    if volumes {
        containers::delete_with_volumes(store, &c.id)
    } else {
        containers::delete(store, &c.id)
    }
}

/// Cleans up after a container whose supervisor is gone without having
/// finished (killed, machine crash): kills what is left of it, deletes the
/// runtime state and cgroups, unmounts the rootfs, records it as exited.
/// Takes the container's lock unless a live process holds it (then that
/// process is the one to clean up).
pub fn reconcile(store: &Store, c: &Container) -> Result<()> {
    let p = paths(store, &c.id);
    match crate::lock::ContainerLock::try_acquire(&p.dir)? {
        Some(_lock) => reconcile_locked(store, c),
        None => Ok(()),
    }
}

/// [`reconcile`] by the holder of the container's lock.
fn reconcile_locked(store: &Store, c: &Container) -> Result<()> {
    let Some(now) = containers::get(store, &c.id)? else {
        return Ok(());
    };
    if now.state.strata.supervisor.is_some_and(|s| s.is_alive()) {
        return Ok(());
    }
    let p = paths(store, &c.id);
    let was_running = now.state.running;
    if let Some(init) = now.state.strata.init
        && init.is_alive()
    {
        let _ = init.signal(Signal::SIGKILL);
        init.wait_gone(Some(Duration::from_secs(10)));
    }
    if p.runtime_root.join(&c.id).exists() {
        let program = c.spec.host_config.external_runtime().map(PathBuf::from);
        if let Ok(rt) = runtime_for(program.as_deref(), &p.runtime_root) {
            let _ = rt.delete(&c.id);
        }
        launch_linux::remove_cgroup(&c.id);
        launch_linux::release_cgroup_parent();
    }
    if is_mounted(&p.rootfs) {
        SysMounter.unmount(&p.rootfs)?;
    }
    crate::confine::release(&p.dir)?;
    crate::net::networks::release(store, &c.id, None)?;
    if was_running {
        let finished = strata_oci::config::rfc3339_now();
        containers::update_state(store, &c.id, |s| {
            s.status = "exited".into();
            s.running = false;
            s.paused = false;
            s.pid = 0;
            if s.exit_code == 0 {
                s.exit_code = 137;
            }
            s.finished_at = finished;
            s.strata.init = None;
            s.strata.supervisor = None;
            s.net = Default::default();
        })?;
    }
    Ok(())
}

/// `wait`: blocks until the container stops; returns its exit code.
pub fn wait(store: &Store, id: &str) -> Result<i32> {
    loop {
        let Some(c) = containers::get(store, id)? else {
            return Err(RuntimeError::NoSuchContainer(id.to_string()));
        };
        if c.is_running() {
            if c.spec.host_config.restart_policy.is_none() {
                wait_stopped(&c, Some(Duration::from_secs(60)));
                continue;
            }
            // docker's `wait` returns at the next exit, even one the
            // restart policy follows with a restart.
            let finished = c.state.finished_at.clone();
            loop {
                std::thread::sleep(Duration::from_millis(20));
                let Some(now) = containers::get(store, id)? else {
                    return Err(RuntimeError::NoSuchContainer(id.to_string()));
                };
                if now.state.finished_at != finished && (now.state.restarting || !now.is_running())
                {
                    return Ok(now.state.exit_code);
                }
                if !now.is_running() {
                    break;
                }
            }
            continue;
        }
        if c.state.running {
            // The supervisor died without recording the end.
            reconcile(store, &c)?;
            continue;
        }
        if c.state.status == "exited" {
            return Ok(c.state.exit_code);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `container prune`: removes every stopped container nobody is working
/// on; returns the IDs and the bytes their writable layers held. A
/// container being created, started, or removed by another command holds
/// its lock and is skipped — prune never fails the command it raced, and a
/// race never fails prune.
pub fn prune(store: &Store) -> Result<(Vec<String>, u64)> {
    prune_where(store, &|_| true)
}

/// [`prune`] of the stopped containers `select` accepts (a prune
/// `--filter`: labels, creation time).
pub fn prune_where(
    store: &Store,
    select: &dyn Fn(&Container) -> bool,
) -> Result<(Vec<String>, u64)> {
    let mut ids = Vec::new();
    let mut bytes = 0;
    for c in containers::list(store)? {
        if c.is_running() || !select(&c) {
            continue;
        }
        let p = paths(store, &c.id);
        let Some(_lock) = crate::lock::ContainerLock::try_acquire(&p.dir)? else {
            continue; // in use, or already gone
        };
        // What it is now that nobody else works on it.
        let Some(now) = containers::get(store, &c.id)? else {
            continue;
        };
        if now.is_running() {
            continue;
        }
        let size = strata_store::layer::disk_usage(&p.upper).unwrap_or(0);
        match reconcile_locked(store, &now).and_then(|()| containers::delete(store, &c.id)) {
            Ok(()) => {
                bytes += size;
                ids.push(c.id);
            }
            Err(e) => tracing::warn!("container prune: {}: {e}", c.id),
        }
    }
    Ok((ids, bytes))
}

/// docker's refusal to remove `c` while it runs or waits to restart.
fn remove_running(c: &Container) -> RuntimeError {
    RuntimeError::RemoveRunning {
        state: if c.state.restarting {
            "restarting"
        } else {
            "running"
        },
        id: c.id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_like_docker() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("term").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("SIGUSR1").unwrap(), Signal::SIGUSR1);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("99").is_err());
    }
}
