//! The two JSON documents strata keeps per container in the `containers`
//! table, in docker's own field names so `inspect` shows them as they are:
//!
//! * `spec` = [`ContainerSpec`]: how the container was created — docker's
//!   `Config` (the image config merged with `run`'s flags) and
//!   `HostConfig`, plus `Path`/`Args`. Written once at create (and by
//!   `rename`).
//! * `state` = [`State`]: docker's `State` (`Status`, `Running`, `Pid`,
//!   `ExitCode`, `StartedAt`, …) plus strata's own `Strata` object naming
//!   the supervisor and container processes by PID and start time. Written
//!   by the supervisor at every transition. `Running` is also stored as
//!   the row's typed `running` column (written with the state), which is
//!   what the image store reads to refuse deleting a running container's
//!   image.
//!
//! Unknown fields are kept (`extra`), so a newer strata's documents survive
//! an older one reading and writing them back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::net::NetMode;
use crate::net::attach_linux::RuntimeNet;
use crate::procs_linux::ProcRef;
use crate::spec::Resources;

/// docker's zero time, shown for times not yet reached.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// docker's `Config` of a container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Config {
    /// Hostname (short ID unless `--hostname`).
    pub hostname: String,
    /// Domain name.
    #[serde(default)]
    pub domainname: String,
    /// `-u` (or the image's `USER`).
    #[serde(default)]
    pub user: String,
    /// `-a stdin` / `-i` in the foreground.
    #[serde(default)]
    pub attach_stdin: bool,
    /// Attached stdout.
    #[serde(default)]
    pub attach_stdout: bool,
    /// Attached stderr.
    #[serde(default)]
    pub attach_stderr: bool,
    /// `-t`.
    #[serde(default)]
    pub tty: bool,
    /// `-i`.
    #[serde(default)]
    pub open_stdin: bool,
    /// Close stdin when the attached client closes it (`run -i`).
    #[serde(default)]
    pub stdin_once: bool,
    /// Env: the user's entries, then the image's (docker's merge).
    #[serde(default)]
    pub env: Vec<String>,
    /// Cmd.
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// `Healthcheck`: the image's `HEALTHCHECK` merged with `--health-*`
    /// (see [`crate::health`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<strata_oci::config::HealthConfig>,
    /// The image as the user named it.
    #[serde(default)]
    pub image: String,
    /// Volumes.
    #[serde(default)]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    /// Working directory (`-w` or the image's `WORKDIR`).
    #[serde(default)]
    pub working_dir: String,
    /// Entrypoint.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// ONBUILD triggers of the image.
    #[serde(default)]
    pub on_build: Option<Vec<String>>,
    /// Labels (image + `--label`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Signal `stop` sends first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Seconds `stop` waits before SIGKILL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// `ExposedPorts`.
    #[serde(flatten)]
    pub net: crate::net::NetConfig,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// docker's `HostConfig` (the fields strata implements).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    /// `-v HOST:CTR[:ro]`.
    #[serde(default)]
    pub binds: Option<Vec<String>>,
    /// `--network` (`default`, `bridge`, `host`, `none`, `container:X`,
    /// a network name).
    #[serde(default)]
    pub network_mode: String,
    /// `--rm`.
    #[serde(default)]
    pub auto_remove: bool,
    /// `--read-only`.
    #[serde(default)]
    pub readonly_rootfs: bool,
    /// `--tmpfs PATH[:OPTS]`.
    #[serde(default)]
    pub tmpfs: Option<BTreeMap<String, String>>,
    /// `--volumes-from CONTAINER[:ro|rw]`, as typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes_from: Option<Vec<String>>,
    /// `--group-add`.
    #[serde(default)]
    pub group_add: Option<Vec<String>>,
    /// `--memory` in bytes (0 = unlimited).
    #[serde(default)]
    pub memory: i64,
    /// `--cpus` × 10⁹.
    #[serde(default)]
    pub nano_cpus: i64,
    /// `--pids-limit`.
    #[serde(default)]
    pub pids_limit: Option<i64>,
    /// `--memory-swap` in bytes (memory + swap; -1 = unlimited, 0 = unset).
    #[serde(default)]
    pub memory_swap: i64,
    /// `--cpu-shares` (0 = the default weight).
    #[serde(default)]
    pub cpu_shares: i64,
    /// `--restart`.
    #[serde(default)]
    pub restart_policy: crate::restart_policy::RestartPolicy,
    /// OCI runtime: `strata` (embedded) or a path (`--runtime`).
    #[serde(default)]
    pub runtime: String,
    /// `--init`.
    #[serde(default)]
    pub init: Option<bool>,
    /// `Privileged`, `CapAdd`, `SecurityOpt`, `IpcMode`, … (see
    /// [`crate::confine`]).
    #[serde(flatten)]
    pub security: crate::confine::SecurityConfig,
    /// `PortBindings`, `Dns*`, `ExtraHosts`, `PublishAllPorts`.
    #[serde(flatten)]
    pub net: crate::net::NetHostConfig,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl HostConfig {
    /// The network mode.
    pub fn network(&self) -> NetMode {
        NetMode::parse(&self.network_mode).unwrap_or_default()
    }

    /// The cgroup limits.
    pub fn resources(&self) -> Resources {
        Resources {
            memory: (self.memory > 0).then_some(self.memory),
            memory_swap: (self.memory > 0 && self.memory_swap != 0).then_some(self.memory_swap),
            nano_cpus: (self.nano_cpus > 0).then_some(self.nano_cpus),
            cpu_shares: (self.cpu_shares > 0).then_some(self.cpu_shares as u64),
            pids_limit: self.pids_limit.filter(|p| *p > 0),
        }
    }

    /// The external runtime, if one was asked for.
    pub fn external_runtime(&self) -> Option<&str> {
        (!self.runtime.is_empty() && self.runtime != EMBEDDED_RUNTIME).then_some(&*self.runtime)
    }
}

/// The runtime name shown for the embedded runtime.
pub const EMBEDDED_RUNTIME: &str = "strata";

/// The `spec` document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSpec {
    /// The executable.
    pub path: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// docker's `Config`.
    pub config: Config,
    /// docker's `HostConfig`.
    pub host_config: HostConfig,
    /// The mount points registered at create (binds, volumes, `--mount`
    /// tmpfs; see [`crate::mounts`]); `None` for a container made before
    /// strata had volumes (its `Binds` are its mounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_points: Option<Vec<crate::mounts::MountPoint>>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// strata's own part of the state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Processes {
    /// The supervisor process while it lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor: Option<ProcRef>,
    /// The container's init process while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<ProcRef>,
    /// A `kill` or `stop` since the last manual start (docker's
    /// `HasBeenManuallyStopped`: `unless-stopped` does not restart).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manually_stopped: bool,
    /// `stop` (or a stopping `kill`) ended the restart policy until the
    /// next manual start (see [`crate::restart_policy`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restart_cancelled: bool,
}

/// docker's `State`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    /// `created`, `running`, `exited`, `removing`, `dead`.
    pub status: String,
    /// True while the container's process runs.
    pub running: bool,
    /// Frozen (`commit --pause` while it commits).
    #[serde(default)]
    pub paused: bool,
    /// Exited, waiting out the restart policy's backoff (`Running` stays
    /// true meanwhile, as docker has it).
    #[serde(default)]
    pub restarting: bool,
    /// Killed by the OOM killer.
    #[serde(default, rename = "OOMKilled")]
    pub oom_killed: bool,
    /// Removal failed half-way.
    #[serde(default)]
    pub dead: bool,
    /// Host PID of the container's init while running, else 0.
    #[serde(default)]
    pub pid: i32,
    /// Exit code of the last run (126/127 when it could not start).
    #[serde(default)]
    pub exit_code: i32,
    /// Why the last start failed.
    #[serde(default)]
    pub error: String,
    /// RFC 3339 (nanoseconds) start time of the last run.
    pub started_at: String,
    /// RFC 3339 (nanoseconds) end time of the last run.
    pub finished_at: String,
    /// Restarts made by the restart policy since the last manual start
    /// (docker's top-level `RestartCount`).
    #[serde(default)]
    pub restart_count: u32,
    /// docker's `Health`: set at each start of a container with a
    /// healthcheck, written by its supervisor (see [`crate::health`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<crate::health::Health>,
    /// strata's process records (not shown by `inspect`).
    #[serde(default)]
    pub strata: Processes,
    /// The network while running (ports, interfaces).
    #[serde(
        default,
        rename = "StrataNet",
        skip_serializing_if = "RuntimeNet::is_empty"
    )]
    pub net: RuntimeNet,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Default for State {
    fn default() -> Self {
        State {
            status: "created".to_string(),
            running: false,
            paused: false,
            restarting: false,
            oom_killed: false,
            dead: false,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: ZERO_TIME.to_string(),
            finished_at: ZERO_TIME.to_string(),
            restart_count: 0,
            health: None,
            strata: Processes::default(),
            net: RuntimeNet::default(),
            extra: serde_json::Map::new(),
        }
    }
}

impl State {
    /// True if the container has never been started.
    pub fn never_started(&self) -> bool {
        self.started_at == ZERO_TIME
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_flag_is_what_the_image_store_looks_for() {
        let s = State {
            running: true,
            status: "running".into(),
            ..State::default()
        };
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"Running\":true"), "{json}");
        assert!(json.contains("\"OOMKilled\":false"));
        let back: State = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn unknown_fields_survive() {
        let doc = r#"{"Path":"sh","Config":{"Hostname":"h","Future":1},"HostConfig":{},"New":[1]}"#;
        let spec: ContainerSpec = serde_json::from_str(doc).unwrap();
        let again = serde_json::to_value(&spec).unwrap();
        assert_eq!(again["Config"]["Future"], 1);
        assert_eq!(again["New"][0], 1);
    }
}
