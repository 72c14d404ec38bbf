//! `container inspect`: docker's container JSON (`types.ContainerJSON`),
//! field for field in docker's order, built from the records. strata's
//! private state (supervisor and process identities) is left out.

use serde_json::{Value, json};
use strata_store::Store;

use crate::containers::{Container, paths};
use crate::spec::{MASKED_PATHS, READONLY_PATHS};

/// The inspect document of `c`.
pub fn inspect(store: &Store, c: &Container) -> Value {
    let p = paths(store, &c.id);
    let s = &c.state;
    let hc = &c.spec.host_config;
    let mut state = json!({
        "Status": s.status,
        "Running": c.is_running(),
        "Paused": s.paused,
        "Restarting": s.restarting,
        "OOMKilled": s.oom_killed,
        "Dead": s.dead,
        "Pid": if c.is_running() { s.pid } else { 0 },
        "ExitCode": s.exit_code,
        "Error": s.error,
        "StartedAt": s.started_at,
        "FinishedAt": s.finished_at,
    });
    if let (Some(h), Some(obj)) = (&s.health, state.as_object_mut()) {
        obj.insert("Health".into(), json!(h));
    }
    let mounts = mounts(store, c);
    let lowers = store
        .image(
            &strata_oci::Digest::parse(&c.image_id).unwrap_or_else(|_| strata_oci::Digest::of(b"")),
        )
        .ok()
        .and_then(|img| store.snapshots().dir_names(&img.chain_ids()).ok())
        .map(|l| {
            std::iter::once(p.init.display().to_string())
                .chain(l.iter().map(|d| d.display().to_string()))
                .collect::<Vec<_>>()
                .join(":")
        })
        .unwrap_or_default();
    let mut host_config = json!({
        "Binds": hc.binds,
        "ContainerIDFile": "",
        "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": hc.network_mode,
        "PortBindings": {},
        "RestartPolicy": hc.restart_policy,
        "AutoRemove": hc.auto_remove,
        "VolumeDriver": "",
        "VolumesFrom": hc.volumes_from,
        "CapAdd": null,
        "CapDrop": null,
        "CgroupnsMode": "host",
        "Dns": [],
        "DnsOptions": [],
        "DnsSearch": [],
        "ExtraHosts": null,
        "GroupAdd": hc.group_add,
        "IpcMode": "private",
        "Cgroup": "",
        "Links": null,
        "OomScoreAdj": 0,
        "PidMode": "",
        "Privileged": false,
        "PublishAllPorts": false,
        "ReadonlyRootfs": hc.readonly_rootfs,
        "SecurityOpt": null,
        "UTSMode": "",
        "UsernsMode": "",
        "ShmSize": 67108864,
        "Runtime": hc.runtime,
        "ConsoleSize": [0, 0],
        "Isolation": "",
        "CpuShares": hc.cpu_shares,
        "Memory": hc.memory,
        "NanoCpus": hc.nano_cpus,
        "CgroupParent": "",
        "BlkioWeight": 0,
        "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": null,
        "BlkioDeviceWriteBps": null,
        "BlkioDeviceReadIOps": null,
        "BlkioDeviceWriteIOps": null,
        "CpuPeriod": 0,
        "CpuQuota": 0,
        "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0,
        "CpusetCpus": "",
        "CpusetMems": "",
        "Devices": [],
        "DeviceCgroupRules": null,
        "DeviceRequests": null,
        "KernelMemory": 0,
        "KernelMemoryTCP": 0,
        "MemoryReservation": 0,
        "MemorySwap": hc.memory_swap,
        "MemorySwappiness": null,
        "OomKillDisable": false,
        "PidsLimit": hc.pids_limit,
        "Ulimits": null,
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        "MaskedPaths": MASKED_PATHS,
        "ReadonlyPaths": READONLY_PATHS,
    });
    crate::net::inspect::patch_host_config(&mut host_config, c);
    if let (Some(t), Some(obj)) = (&hc.tmpfs, host_config.as_object_mut()) {
        obj.insert("Tmpfs".into(), json!(t));
    }
    if let Some(obj) = host_config.as_object_mut() {
        crate::confine::inspect_into(&hc.security, obj);
    }
    let cfg = &c.spec.config;
    let mut config = serde_json::to_value(cfg).unwrap_or(Value::Null);
    if let Some(obj) = config.as_object_mut() {
        obj.insert("Labels".into(), json!(cfg.labels));
    }
    json!({
        "Id": c.id,
        "Created": c.created,
        "Path": c.spec.path,
        "Args": c.spec.args,
        "State": state,
        "Image": c.image_id,
        "ResolvConfPath": p.resolv_conf,
        "HostnamePath": p.hostname,
        "HostsPath": p.hosts,
        "LogPath": p.log,
        "Name": format!("/{}", c.name),
        "RestartCount": s.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": null,
        "HostConfig": host_config,
        "GraphDriver": {
            "Data": {
                "LowerDir": lowers,
                "MergedDir": p.rootfs,
                "UpperDir": p.upper,
                "WorkDir": p.work,
            },
            "Name": "overlay",
        },
        "Mounts": mounts,
        "Config": config,
        "NetworkSettings": crate::net::inspect::network_settings(store, c),
    })
}

/// A container's `Mounts`, as `inspect` and the Engine API's container
/// list show them (from its record alone).
pub fn mounts(store: &Store, c: &Container) -> Vec<Value> {
    crate::mounts::points_of(&c.spec)
        .into_iter()
        .map(|m| match m.kind.as_str() {
            "volume" => json!({
                "Type": "volume",
                "Name": m.name,
                "Source": crate::volumes::data_dir(store, &m.name),
                "Destination": m.destination,
                "Driver": crate::volumes::LOCAL,
                "Mode": m.mode,
                "RW": m.rw,
                "Propagation": "",
            }),
            "tmpfs" => json!({
                "Type": "tmpfs",
                "Source": "",
                "Destination": m.destination,
                "Mode": "",
                "RW": m.rw,
                "Propagation": "",
            }),
            _ => json!({
                "Type": "bind",
                "Source": m.source,
                "Destination": m.destination,
                "Mode": m.mode,
                "RW": m.rw,
                "Propagation": "rprivate",
            }),
        })
        .collect()
}
