//! `POST /containers/create`: docker's `Config` + `HostConfig` (parsed
//! with the API's generated models) turned into the runtime's
//! [`CreateOptions`] — the same options `strata create` builds from its
//! flags — so the container is made by the same `ops::create`.

use bollard_stubs::models::{ContainerCreateBody, HostConfig, NetworkingConfig};
use strata_runtime::ops::CreateOptions;
use strata_runtime::spec::process::EntrypointFlag;

use super::http::ApiError;

/// The options for a create request (`name` from the query).
pub fn options(body: ContainerCreateBody, name: Option<String>) -> Result<CreateOptions, ApiError> {
    let image = body
        .image
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ApiError::bad("Config.Image is required"))?;
    let cmd = body.cmd.unwrap_or_default();
    let (entrypoint, args) = match body.entrypoint {
        None => (EntrypointFlag::Unset, cmd),
        Some(ep) if ep.is_empty() || ep == [""] => (EntrypointFlag::Reset, cmd),
        Some(ep) => {
            let mut args: Vec<String> = ep[1..].to_vec();
            args.extend(cmd);
            (EntrypointFlag::Program(ep[0].clone()), args)
        }
    };
    let hc = body.host_config.unwrap_or_default();
    let mut opts = CreateOptions {
        name: name.filter(|n| !n.is_empty()),
        image,
        args,
        entrypoint,
        env: body.env.unwrap_or_default(),
        user: body.user.filter(|u| !u.is_empty()),
        workdir: body.working_dir.filter(|w| !w.is_empty()),
        hostname: body.hostname.filter(|h| !h.is_empty()),
        tty: body.tty.unwrap_or(false),
        interactive: body.open_stdin.unwrap_or(false),
        attach: (
            body.attach_stdin.unwrap_or(false),
            body.attach_stdout.unwrap_or(false),
            body.attach_stderr.unwrap_or(false),
        ),
        labels: body
            .labels
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        stop_signal: body.stop_signal.filter(|s| !s.is_empty()),
        stop_timeout: body.stop_timeout,
        ..CreateOptions::default()
    };
    opts.net.hostname_given = opts.hostname.is_some();
    opts.net.domainname = body.domainname.filter(|d| !d.is_empty());
    opts.net.expose = body.exposed_ports.unwrap_or_default();
    host_config(&mut opts, hc)?;
    endpoint(&mut opts, body.networking_config);
    opts.labels.sort();
    Ok(opts)
}

/// `NetworkingConfig.EndpointsConfig`: the endpoint of the network the
/// container joins (its aliases and IPv4 address, as `--network-alias`
/// and `--ip`); a lone endpoint names the network when `NetworkMode`
/// does not.
fn endpoint(o: &mut CreateOptions, nc: Option<NetworkingConfig>) {
    let mut eps = nc.and_then(|n| n.endpoints_config).unwrap_or_default();
    if o.net.network.is_none() && eps.len() == 1 {
        o.net.network = eps.keys().next().cloned();
    }
    let Some(ep) = o.net.network.as_ref().and_then(|n| eps.remove(n)) else {
        return;
    };
    o.net.aliases = ep.aliases.unwrap_or_default();
    o.net.ip = ep
        .ipam_config
        .and_then(|i| i.ipv4_address)
        .filter(|a| !a.is_empty());
}

/// The `HostConfig` fields strata has options for.
fn host_config(o: &mut CreateOptions, hc: HostConfig) -> Result<(), ApiError> {
    o.auto_remove = hc.auto_remove.unwrap_or(false);
    o.read_only = hc.readonly_rootfs.unwrap_or(false);
    o.volumes = hc.binds.unwrap_or_default();
    o.tmpfs = hc
        .tmpfs
        .unwrap_or_default()
        .into_iter()
        .map(|(p, opt)| {
            if opt.is_empty() {
                p
            } else {
                format!("{p}:{opt}")
            }
        })
        .collect();
    o.tmpfs.sort();
    for m in hc.mounts.unwrap_or_default() {
        let mut parts = Vec::new();
        if let Some(t) = &m.typ {
            parts.push(format!("type={t}"));
        }
        if let Some(s) = m.source.as_deref().filter(|s| !s.is_empty()) {
            parts.push(format!("source={s}"));
        }
        if let Some(t) = &m.target {
            parts.push(format!("target={t}"));
        }
        if m.read_only.unwrap_or(false) {
            parts.push("readonly".into());
        }
        o.mounts.push(parts.join(","));
    }
    o.volumes_from = hc.volumes_from.unwrap_or_default();
    o.net.network = hc.network_mode.filter(|n| !n.is_empty() && n != "default");
    for (port, bindings) in hc.port_bindings.unwrap_or_default() {
        for b in bindings.unwrap_or_default() {
            let ip = b.host_ip.unwrap_or_default();
            let hp = b.host_port.unwrap_or_default();
            o.net.publish.push(if ip.is_empty() {
                format!("{hp}:{port}")
            } else {
                format!("{ip}:{hp}:{port}")
            });
        }
    }
    o.net.publish.sort();
    o.net.publish_all = hc.publish_all_ports.unwrap_or(false);
    o.net.dns = hc.dns.unwrap_or_default();
    o.net.dns_search = hc.dns_search.unwrap_or_default();
    o.net.dns_option = hc.dns_options.unwrap_or_default();
    o.net.add_host = hc.extra_hosts.unwrap_or_default();
    o.net.links = hc.links.unwrap_or_default();
    o.memory = hc.memory.filter(|m| *m > 0).map(|m| m.to_string());
    o.cpus = hc
        .nano_cpus
        .filter(|n| *n > 0)
        .map(|n| format!("{}", n as f64 / 1e9));
    o.pids_limit = hc.pids_limit.filter(|p| *p != 0);
    o.memory_swap = hc.memory_swap.filter(|m| *m != 0).map(|m| m.to_string());
    o.cpu_shares = hc.cpu_shares.filter(|n| *n > 0);
    // The supervisor carries the policy out, as for the CLI's `--restart`.
    o.restart = hc.restart_policy.and_then(restart_word);
    o.group_add = hc.group_add.unwrap_or_default();
    o.init = hc.init.unwrap_or(false);
    let s = &mut o.security;
    s.privileged = hc.privileged.unwrap_or(false);
    s.cap_add = hc.cap_add.unwrap_or_default();
    s.cap_drop = hc.cap_drop.unwrap_or_default();
    s.security_opt = hc.security_opt.unwrap_or_default();
    s.devices = hc
        .devices
        .unwrap_or_default()
        .into_iter()
        .map(|d| {
            let host = d.path_on_host.unwrap_or_default();
            let inside = d
                .path_in_container
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| host.clone());
            let perms = d.cgroup_permissions.unwrap_or_else(|| "rwm".into());
            format!("{host}:{inside}:{perms}")
        })
        .collect();
    s.ulimits = hc
        .ulimits
        .unwrap_or_default()
        .into_iter()
        .map(|u| {
            format!(
                "{}={}:{}",
                u.name.unwrap_or_default(),
                u.soft.unwrap_or(0),
                u.hard.unwrap_or(0)
            )
        })
        .collect();
    s.sysctls = hc
        .sysctls
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    s.sysctls.sort();
    s.shm_size = hc.shm_size.filter(|n| *n > 0).map(|n| n.to_string());
    s.ipc = hc.ipc_mode.filter(|m| !m.is_empty());
    s.pid = hc.pid_mode.filter(|m| !m.is_empty());
    s.userns = hc.userns_mode.filter(|m| !m.is_empty());
    s.cgroupns = hc
        .cgroupns_mode
        .map(|m| m.to_string())
        .filter(|m| !m.is_empty());
    Ok(())
}

/// A restart policy as the CLI's `--restart` word (`on-failure:3`);
/// `None` for an empty name (docker: unchanged, or the default).
pub fn restart_word(rp: bollard_stubs::models::RestartPolicy) -> Option<String> {
    let name = rp.name.map(|n| n.to_string()).unwrap_or_default();
    match rp.maximum_retry_count {
        Some(n) if n > 0 && name == "on-failure" => Some(format!("{name}:{n}")),
        _ => Some(name).filter(|n| !n.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> CreateOptions {
        options(serde_json::from_str(json).unwrap(), Some("web".into())).unwrap()
    }

    #[test]
    fn docker_cli_body_becomes_options() {
        let o = parse(
            r#"{"Hostname":"","Env":["A=B"],"Cmd":["echo","hi"],"Image":"busybox",
            "Entrypoint":null,"AttachStdout":true,"AttachStderr":true,"Tty":false,
            "HostConfig":{"Binds":["/a:/b:ro"],"AutoRemove":true,"NetworkMode":"default",
            "PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]},
            "RestartPolicy":{"Name":"no","MaximumRetryCount":0},"Memory":0,"NanoCpus":1500000000}}"#,
        );
        assert_eq!(o.name.as_deref(), Some("web"));
        assert_eq!(o.image, "busybox");
        assert_eq!(o.args, ["echo", "hi"]);
        assert!(matches!(o.entrypoint, EntrypointFlag::Unset));
        assert_eq!(o.env, ["A=B"]);
        assert_eq!(o.attach, (false, true, true));
        assert!(o.auto_remove);
        assert_eq!(o.volumes, ["/a:/b:ro"]);
        assert_eq!(o.net.network, None);
        assert_eq!(o.net.publish, ["8080:80/tcp"]);
        assert_eq!(o.cpus.as_deref(), Some("1.5"));
        assert_eq!(o.hostname, None);
    }

    #[test]
    fn entrypoint_list_keeps_its_words() {
        let o = parse(r#"{"Image":"x","Entrypoint":["sh","-c"],"Cmd":["echo hi"]}"#);
        assert!(matches!(&o.entrypoint, EntrypointFlag::Program(p) if p == "sh"));
        assert_eq!(o.args, ["-c", "echo hi"]);
        let o = parse(r#"{"Image":"x","Entrypoint":[""]}"#);
        assert!(matches!(o.entrypoint, EntrypointFlag::Reset));
    }

    #[test]
    fn endpoint_aliases_reach_the_options() {
        let o = parse(
            r#"{"Image":"x","HostConfig":{"NetworkMode":"app"},
            "NetworkingConfig":{"EndpointsConfig":{"app":{"Aliases":["db","store"],
            "IPAMConfig":{"IPv4Address":"10.9.0.5"}}}}}"#,
        );
        assert_eq!(o.net.network.as_deref(), Some("app"));
        assert_eq!(o.net.aliases, ["db", "store"]);
        assert_eq!(o.net.ip.as_deref(), Some("10.9.0.5"));
        let o = parse(r#"{"Image":"x","NetworkingConfig":{"EndpointsConfig":{"n2":{}}}}"#);
        assert_eq!(o.net.network.as_deref(), Some("n2"));
        assert!(o.net.aliases.is_empty());
    }

    #[test]
    fn missing_image_is_a_bad_request() {
        let e = options(serde_json::from_str("{}").unwrap(), None).unwrap_err();
        assert_eq!(e.status, hyper::StatusCode::BAD_REQUEST);
    }
}
