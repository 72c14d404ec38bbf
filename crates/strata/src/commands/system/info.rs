//! `strata info` (`system info`): what docker's `info` shows, under
//! docker's field names (moby `types.Info`), so `--format '{{.Driver}}'`
//! and the like answer as scripts expect. strata has no daemon: the
//! "server" is the store (its root, containers, images) and this machine.
//! The storage driver is `overlay2`: images are overlayfs lower layers
//! (one snapshot directory per layer) under a per-container upper dir,
//! what docker calls overlay2.

use std::path::Path;

use clap::Args;
use serde_json::{Value, json};
use strata_format::template::Template;

use crate::context::Ctx;
use crate::exit::ExitError;

/// The storage driver's name, as docker shows it.
pub const DRIVER: &str = "overlay2";

/// Flags of `info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Format the output using the given Go template
    #[arg(short, long, value_name = "string")]
    pub format: Option<String>,
}

/// Runs `info`.
pub fn run(ctx: &Ctx, args: InfoArgs) -> anyhow::Result<i32> {
    let info = info(ctx)?;
    match args.format.as_deref() {
        Some(f) if !f.is_empty() => {
            let tmpl = Template::parse(f)
                .map_err(|e| ExitError::new(64, format!("Template parsing error: {e}")))?;
            let out = tmpl
                .render(&info)
                .map_err(|e| ExitError::new(1, e.to_string()))?;
            println!("{out}");
        }
        _ => print!("{}", human(&info)),
    }
    Ok(0)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn os_release(key: &str) -> String {
    read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_default()
}

fn mem_total() -> u64 {
    read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The document (docker's `Info` fields).
pub fn info(ctx: &Ctx) -> anyhow::Result<Value> {
    let store = ctx.store()?;
    let containers = strata_runtime::containers::list(store)?;
    let running = containers.iter().filter(|c| c.is_running()).count();
    let paused = containers.iter().filter(|c| c.state.paused).count();
    let images = store.list_images()?.len();
    let uname = nix::sys::utsname::uname()?;
    let s = |o: &std::ffi::OsStr| o.to_string_lossy().into_owned();
    let cgroup_v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let exists = |p: &str| Path::new(p).exists();
    let root = store.root().display().to_string();
    let backing = if exists("/sys/fs/ext4") { "extfs" } else { "" };
    let env = |k: &str| {
        std::env::var(k)
            .or_else(|_| std::env::var(k.to_lowercase()))
            .unwrap_or_default()
    };
    let mut doc = json!({
        "ID": strata_oci::Digest::of(root.as_bytes()).hex()[..48].to_string(),
        "Containers": containers.len(),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": containers.len() - running - paused,
        "Images": images,
        "Driver": DRIVER,
        "DriverStatus": [
            ["Backing Filesystem", backing],
            ["Supports d_type", "true"],
            ["Native Overlay Diff", "true"],
            ["userxattr", "false"],
        ],
        "Plugins": {
            "Volume": ["local"],
            "Network": ["bridge", "host", "none", "null", "pasta"],
            "Authorization": null,
            "Log": ["json-file"],
        },
    });
    let more = json!({
        "MemoryLimit": true,
        "SwapLimit": exists("/sys/fs/cgroup/memory.swap.max"),
        "KernelMemory": !cgroup_v2,
        "KernelMemoryTCP": !cgroup_v2,
        "CpuCfsPeriod": true,
        "CpuCfsQuota": true,
        "CPUShares": true,
        "CPUSet": true,
        "PidsLimit": true,
        "IPv4Forwarding": true,
        "BridgeNfIptables": false,
        "BridgeNfIp6tables": false,
        "Debug": false,
        "NFd": std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count()),
        "OomKillDisable": !cgroup_v2,
    });
    let rest = json!({
        "NGoroutines": 1,
        "SystemTime": chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, false),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": if cgroup_v2 { "2" } else { "1" },
        "NEventsListener": 0,
        "KernelVersion": s(uname.release()),
        "OperatingSystem": os_release("PRETTY_NAME"),
        "OSVersion": os_release("VERSION_ID"),
        "OSType": "linux",
        "Architecture": s(uname.machine()),
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {
            "AllowNondistributableArtifactsCIDRs": [],
            "AllowNondistributableArtifactsHostnames": [],
            "InsecureRegistryCIDRs": ["127.0.0.0/8"],
            "IndexConfigs": {},
            "Mirrors": [],
        },
        "NCPU": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "MemTotal": mem_total(),
        "GenericResources": null,
        "DockerRootDir": root,
        "HttpProxy": env("HTTP_PROXY"),
        "HttpsProxy": env("HTTPS_PROXY"),
        "NoProxy": env("NO_PROXY"),
        "Name": s(uname.nodename()),
        "Labels": [],
        "ExperimentalBuild": false,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Runtimes": {"strata": {"path": "strata"}},
        "DefaultRuntime": "strata",
        "Swarm": {
            "NodeID": "",
            "NodeAddr": "",
            "LocalNodeState": "inactive",
            "ControlAvailable": false,
            "Error": "",
            "RemoteManagers": null,
        },
        "LiveRestoreEnabled": true,
        "Isolation": "",
        "InitBinary": "docker-init",
        "SecurityOptions": if cgroup_v2 {
            json!(["name=seccomp,profile=default", "name=cgroupns"])
        } else {
            json!(["name=seccomp,profile=default"])
        },
        "Warnings": null,
        "ClientInfo": {"Debug": false, "Context": "default", "Plugins": []},
    });
    // In parts: one `json!` of them all is too deep for the macro.
    if let (Some(d), Some(m), Some(r)) = (doc.as_object_mut(), more.as_object(), rest.as_object()) {
        d.extend(m.clone());
        d.extend(r.clone());
    }
    Ok(doc)
}

/// docker's plain layout (the fields a person reads).
fn human(i: &Value) -> String {
    let v = |k: &str| match &i[k] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = String::new();
    out.push_str("Client:\n Context:    default\n Debug Mode: false\n\nServer:\n");
    out.push_str(&format!(" Containers: {}\n", v("Containers")));
    out.push_str(&format!("  Running: {}\n", v("ContainersRunning")));
    out.push_str(&format!("  Paused: {}\n", v("ContainersPaused")));
    out.push_str(&format!("  Stopped: {}\n", v("ContainersStopped")));
    out.push_str(&format!(" Images: {}\n", v("Images")));
    out.push_str(&format!(" Server Version: {}\n", v("ServerVersion")));
    out.push_str(&format!(" Storage Driver: {}\n", v("Driver")));
    for pair in i["DriverStatus"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {}: {}\n",
            pair[0].as_str().unwrap_or_default(),
            pair[1].as_str().unwrap_or_default()
        ));
    }
    out.push_str(&format!(" Logging Driver: {}\n", v("LoggingDriver")));
    out.push_str(&format!(" Cgroup Driver: {}\n", v("CgroupDriver")));
    out.push_str(&format!(" Cgroup Version: {}\n", v("CgroupVersion")));
    out.push_str(
        " Plugins:\n  Volume: local\n  Network: bridge host none null pasta\n  Log: json-file\n",
    );
    out.push_str(&format!(" Runtimes: {}\n", v("DefaultRuntime")));
    out.push_str(&format!(" Default Runtime: {}\n", v("DefaultRuntime")));
    out.push_str(" Security Options:\n");
    for o in i["SecurityOptions"].as_array().into_iter().flatten() {
        let o = o.as_str().unwrap_or_default();
        let name = o.strip_prefix("name=").unwrap_or(o);
        match name.split_once(",profile=") {
            Some((n, p)) => out.push_str(&format!("  {n}\n   Profile: {p}\n")),
            None => out.push_str(&format!("  {name}\n")),
        }
    }
    out.push_str(&format!(" Kernel Version: {}\n", v("KernelVersion")));
    out.push_str(&format!(" Operating System: {}\n", v("OperatingSystem")));
    out.push_str(&format!(" OSType: {}\n", v("OSType")));
    out.push_str(&format!(" Architecture: {}\n", v("Architecture")));
    out.push_str(&format!(" CPUs: {}\n", v("NCPU")));
    let mem = i["MemTotal"].as_u64().unwrap_or(0) as f64;
    out.push_str(&format!(
        " Total Memory: {:.2}GiB\n",
        mem / 1024.0 / 1024.0 / 1024.0
    ));
    out.push_str(&format!(" Name: {}\n", v("Name")));
    out.push_str(&format!(" ID: {}\n", v("ID")));
    out.push_str(&format!(" Docker Root Dir: {}\n", v("DockerRootDir")));
    out.push_str(" Debug Mode: false\n Experimental: false\n Insecure Registries:\n  127.0.0.0/8\n Live Restore Enabled: true\n\n");
    out
}
