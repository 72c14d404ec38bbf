//! The confinement flags `run` and `create` share, spelled as docker's:
//! `--privileged`, `--cap-add`/`--cap-drop`, `--security-opt`,
//! `--device`, `--ulimit`, `--sysctl`, `--shm-size`, `--ipc`, `--pid`,
//! `--userns`, `--cgroupns`. They are checked and recorded by
//! [`strata_runtime::confine`] (docker's errors, `HostConfig` fields).

use clap::Args;
use strata_runtime::confine::SecurityOptions;

/// Confinement flags (flattened into `CreateFlags`).
#[derive(Debug, Clone, Default, Args)]
pub struct SecurityFlags {
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Add Linux capabilities
    #[arg(long, value_name = "list")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long, value_name = "list")]
    pub cap_drop: Vec<String>,
    /// Security Options
    #[arg(long, value_name = "list")]
    pub security_opt: Vec<String>,
    /// Add a host device to the container
    #[arg(long = "device", value_name = "list")]
    pub devices: Vec<String>,
    /// Ulimit options
    #[arg(long = "ulimit", value_name = "ulimit")]
    pub ulimits: Vec<String>,
    /// Sysctl options
    #[arg(long = "sysctl", value_name = "map")]
    pub sysctls: Vec<String>,
    /// Size of /dev/shm
    #[arg(long, value_name = "bytes", allow_hyphen_values = true)]
    pub shm_size: Option<String>,
    /// IPC mode to use
    #[arg(long, value_name = "string")]
    pub ipc: Option<String>,
    /// PID namespace to use
    #[arg(long, value_name = "string")]
    pub pid: Option<String>,
    /// User namespace to use
    #[arg(long, value_name = "string")]
    pub userns: Option<String>,
    /// Cgroup namespace to use (host|private)
    #[arg(long, value_name = "string")]
    pub cgroupns: Option<String>,
}

impl SecurityFlags {
    /// The runtime's options.
    pub fn options(&self) -> SecurityOptions {
        SecurityOptions {
            privileged: self.privileged,
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            security_opt: self.security_opt.clone(),
            devices: self.devices.clone(),
            ulimits: self.ulimits.clone(),
            sysctls: self.sysctls.clone(),
            shm_size: self.shm_size.clone(),
            ipc: self.ipc.clone(),
            pid: self.pid.clone(),
            userns: self.userns.clone(),
            cgroupns: self.cgroupns.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        f: SecurityFlags,
    }

    #[test]
    fn flags_parse_like_dockers() {
        let c = Cli::parse_from([
            "x",
            "--privileged",
            "--cap-add",
            "NET_ADMIN",
            "--cap-add=sys_time",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--security-opt=seccomp=unconfined",
            "--device",
            "/dev/null:/dev/mynull:rw",
            "--ulimit",
            "nofile=512:512",
            "--sysctl",
            "kernel.shmmax=1048576",
            "--shm-size",
            "1m",
            "--ipc",
            "container:db",
            "--pid=host",
            "--userns",
            "host",
            "--cgroupns",
            "private",
        ]);
        let o = c.f.options();
        assert!(o.privileged);
        assert_eq!(o.cap_add, ["NET_ADMIN", "sys_time"]);
        assert_eq!(o.cap_drop, ["ALL"]);
        assert_eq!(o.security_opt, ["no-new-privileges", "seccomp=unconfined"]);
        assert_eq!(o.devices, ["/dev/null:/dev/mynull:rw"]);
        assert_eq!(o.ulimits, ["nofile=512:512"]);
        assert_eq!(o.sysctls, ["kernel.shmmax=1048576"]);
        assert_eq!(o.shm_size.as_deref(), Some("1m"));
        assert_eq!(o.ipc.as_deref(), Some("container:db"));
        assert_eq!(o.pid.as_deref(), Some("host"));
        assert_eq!(o.userns.as_deref(), Some("host"));
        assert_eq!(o.cgroupns.as_deref(), Some("private"));
        let none = Cli::parse_from(["x"]).f.options();
        assert!(!none.privileged && none.cap_add.is_empty() && none.ipc.is_none());
    }
}
