//! What metadata instructions do to an image config, with BuildKit's
//! semantics: ENV, LABEL, CMD, ENTRYPOINT (which resets a CMD not set in
//! the same stage), EXPOSE, USER, WORKDIR (relative to the previous one),
//! VOLUME, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD, MAINTAINER. Used by the
//! build engine for every such step and by `import`/`commit --change`.
//!
//! Commands must already be expanded (`StageScope::apply`).

use std::collections::BTreeMap;

use strata_dockerfile::instructions::Command;
use strata_oci::config::{EmptyObject, HealthConfig};
use strata_oci::{ContainerConfig, ImageConfig};

/// The shell docker uses when an image sets none.
pub const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// Per-stage state the config rules need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageState {
    /// A CMD was set in this stage (then ENTRYPOINT keeps it).
    pub cmd_set: bool,
}

/// Errors applying an instruction to a config.
#[derive(Debug, thiserror::Error)]
pub enum ConfigOpError {
    /// The instruction's arguments are invalid after expansion.
    #[error("{instruction}: {message}")]
    Invalid {
        /// The instruction text.
        instruction: String,
        /// What is wrong.
        message: String,
    },
}

/// The shell in effect for shell-form commands.
pub fn shell_of(cc: &ContainerConfig) -> Vec<String> {
    cc.shell
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_SHELL.iter().map(|s| s.to_string()).collect())
}

/// Joins WORKDIR `path` onto the current working dir, cleaned, as BuildKit
/// does (`system.NormalizeWorkdir`).
pub fn normalize_workdir(current: Option<&str>, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!(
            "{}/{path}",
            current.filter(|c| !c.is_empty()).unwrap_or("/")
        )
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            x => parts.push(x),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Applies a metadata instruction to `image`. Returns false for
/// instructions that are not metadata (RUN, COPY, ADD, FROM, ARG), which
/// the caller executes itself.
pub fn apply(
    image: &mut ImageConfig,
    cmd: &Command,
    state: &mut StageState,
) -> Result<bool, ConfigOpError> {
    let invalid = |message: String| ConfigOpError::Invalid {
        instruction: cmd.source().text.clone(),
        message,
    };
    match cmd {
        Command::Maintainer(m) => {
            image.author = Some(m.maintainer.clone());
            return Ok(true);
        }
        Command::Run(_)
        | Command::Copy(_)
        | Command::Add(_)
        | Command::From(_)
        | Command::Arg(_) => {
            return Ok(false);
        }
        _ => {}
    }
    let cc = image.config_mut();
    match cmd {
        Command::Env(e) => {
            for kv in &e.vars {
                cc.set_env(&kv.key, &kv.value);
            }
        }
        Command::Label(l) => {
            let labels = cc.labels.get_or_insert_with(BTreeMap::new);
            for kv in &l.labels {
                labels.insert(kv.key.clone(), kv.value.clone());
            }
        }
        Command::Cmd(c) => {
            cc.cmd = Some(c.cmdline.argv(&shell_of(cc)));
            state.cmd_set = true;
        }
        Command::Entrypoint(e) => {
            let argv = e.cmdline.argv(&shell_of(cc));
            cc.entrypoint = if argv.is_empty() { None } else { Some(argv) };
            if !state.cmd_set {
                cc.cmd = None;
            }
        }
        Command::Expose(x) => {
            let specs = x.port_specs().map_err(|e| invalid(e.to_string()))?;
            let ports = cc.exposed_ports.get_or_insert_with(BTreeMap::new);
            for s in specs {
                for p in s.start..=s.end {
                    ports.insert(format!("{p}/{}", s.proto.as_str()), EmptyObject {});
                }
            }
        }
        Command::User(u) => cc.user = Some(u.user.clone()),
        Command::Workdir(w) => {
            cc.working_dir = Some(normalize_workdir(cc.working_dir.as_deref(), &w.path));
        }
        Command::Volume(v) => {
            if v.volumes.iter().any(|v| v.trim().is_empty()) {
                return Err(invalid(
                    "VOLUME specified can not be an empty string".into(),
                ));
            }
            let vols = cc.volumes.get_or_insert_with(BTreeMap::new);
            for p in &v.volumes {
                vols.insert(p.clone(), EmptyObject {});
            }
        }
        Command::StopSignal(s) => cc.stop_signal = Some(s.signal.clone()),
        Command::Healthcheck(h) => {
            let hc = &h.health;
            cc.healthcheck = Some(HealthConfig {
                test: Some(hc.test.clone()),
                interval: hc.interval.as_nanos() as i64,
                timeout: hc.timeout.as_nanos() as i64,
                start_period: hc.start_period.as_nanos() as i64,
                start_interval: hc.start_interval.as_nanos() as i64,
                retries: i64::from(hc.retries),
            });
        }
        Command::Shell(s) => cc.shell = Some(s.shell.clone()),
        Command::Onbuild(o) => cc
            .on_build
            .get_or_insert_with(Vec::new)
            .push(o.trigger_text()),
        _ => return Ok(false),
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_dockerfile::Dockerfile;
    use strata_dockerfile::args::{BuildOptions, GlobalArgs};

    fn build(src: &str) -> ImageConfig {
        let df = Dockerfile::parse(src.as_bytes()).unwrap();
        let global = GlobalArgs::new(&df, &BuildOptions::default()).unwrap();
        let stage = df.target(None).unwrap();
        let mut scope = global.stage_scope(stage, Vec::<(String, String)>::new());
        let mut img = ImageConfig::default();
        let mut st = StageState::default();
        for c in &stage.commands {
            let step = scope.apply(c).unwrap();
            apply(&mut img, &step.command, &mut st).unwrap();
        }
        img
    }

    #[test]
    fn cmd_entrypoint_interplay() {
        let c = build("FROM scratch\nCMD [\"a\"]\nENTRYPOINT [\"e\"]\n");
        let cc = c.config.unwrap();
        assert_eq!(cc.cmd, Some(vec!["a".to_string()]));
        let c = build("FROM scratch\nENTRYPOINT e x\n");
        let cc = c.config.unwrap();
        assert_eq!(
            cc.entrypoint,
            Some(vec!["/bin/sh".into(), "-c".into(), "e x".into()])
        );
        assert_eq!(cc.cmd, None);
        let c = build("FROM scratch\nSHELL [\"/bin/bash\", \"-xc\"]\nCMD echo hi\n");
        assert_eq!(
            c.config.unwrap().cmd,
            Some(vec!["/bin/bash".into(), "-xc".into(), "echo hi".into()])
        );
    }

    #[test]
    fn env_workdir_expose_label() {
        let c = build(
            "FROM scratch\nENV A=1 B=\"two words\"\nWORKDIR /a\nWORKDIR b/../c\nEXPOSE 80 8000-8001/udp\nLABEL x=y\nUSER app:app\nSTOPSIGNAL SIGINT\nVOLUME /data\nMAINTAINER me\n",
        );
        let cc = c.config.clone().unwrap();
        assert_eq!(cc.get_env("B"), Some("two words"));
        assert_eq!(cc.working_dir.as_deref(), Some("/a/c"));
        let ports: Vec<&String> = cc.exposed_ports.as_ref().unwrap().keys().collect();
        assert_eq!(ports, ["80/tcp", "8000/udp", "8001/udp"]);
        assert_eq!(cc.labels.unwrap()["x"], "y");
        assert_eq!(cc.user.as_deref(), Some("app:app"));
        assert_eq!(cc.stop_signal.as_deref(), Some("SIGINT"));
        assert!(cc.volumes.unwrap().contains_key("/data"));
        assert_eq!(c.author.as_deref(), Some("me"));
    }

    #[test]
    fn healthcheck_and_onbuild() {
        let c = build(
            "FROM scratch\nHEALTHCHECK --interval=5s --retries=2 CMD true\nONBUILD RUN echo hi\n",
        );
        let cc = c.config.unwrap();
        let h = cc.healthcheck.unwrap();
        assert_eq!(h.test, Some(vec!["CMD-SHELL".into(), "true".into()]));
        assert_eq!(h.interval, 5_000_000_000);
        assert_eq!(h.retries, 2);
        assert_eq!(cc.on_build, Some(vec!["RUN echo hi".into()]));
    }

    #[test]
    fn workdir_normalisation() {
        assert_eq!(normalize_workdir(None, "app"), "/app");
        assert_eq!(normalize_workdir(Some("/a/b"), "../c/./d/"), "/a/c/d");
        assert_eq!(normalize_workdir(Some("/x"), "/abs"), "/abs");
        assert_eq!(normalize_workdir(None, "/../.."), "/");
    }
}
