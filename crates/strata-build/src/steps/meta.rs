//! Metadata steps and history: what each instruction writes into the
//! image config's `history` (BuildKit's `commitToHistory` texts), the
//! config a stage starts from, and metadata instructions applied through
//! [`crate::config_ops`].
//!
//! | instruction | `created_by` (BuildKit dockerfile frontend) | layer |
//! |---|---|---|
//! | `ENV A=1 B=2` | `ENV A=1 B=2` | no |
//! | `LABEL a=b` | `LABEL a=b` | no |
//! | `ARG V=1` | `ARG V=1` (resolved value) | no |
//! | `CMD ["a","b"]` / `ENTRYPOINT` | `CMD ["a" "b"]` (Go `%q` of the argv) | no |
//! | `EXPOSE 80 53/udp` | `EXPOSE [80/tcp 53/udp]` | no |
//! | `USER`, `STOPSIGNAL`, `MAINTAINER` | `USER app` … | no |
//! | `VOLUME /a /b`, `SHELL [...]` | `VOLUME [/a /b]`, `SHELL [/bin/bash -c]` | no |
//! | `HEALTHCHECK` | `HEALTHCHECK {Test:[CMD-SHELL x] Interval:5s …}` | no |
//! | `WORKDIR x` | `WORKDIR /abs/x` | yes, unless `/` |
//! | `RUN …` | `RUN \|N K=V … /bin/sh -c … # buildkit` | yes |
//! | `COPY --chown=u a b` | `COPY --chown=u a b # buildkit` | yes |
//! | `ONBUILD …` | none (only the config's OnBuild changes) | — |
//!
//! Every entry carries `comment: "buildkit.dockerfile.v0"`.

use strata_dockerfile::instructions::{Command, HealthConfig};
use strata_dockerfile::parser::go_quote;
use strata_oci::{History, ImageConfig};

use crate::config_ops::{self, StageState};
use crate::error::{BuildError, Result};

/// The history comment BuildKit writes.
pub const HISTORY_COMMENT: &str = "buildkit.dockerfile.v0";

/// Go's `%q` of a string slice: `["a" "b"]`.
pub fn go_quote_list(args: &[String]) -> String {
    let parts: Vec<String> = args.iter().map(|a| go_quote(a)).collect();
    format!("[{}]", parts.join(" "))
}

/// Go's `%v` of a string slice: `[a b]`.
fn go_list(args: &[String]) -> String {
    format!("[{}]", args.join(" "))
}

/// Go's `time.Duration.String()`.
pub fn go_duration(d: std::time::Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", trim_frac(ns as f64 / 1e3));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", trim_frac(ns as f64 / 1e6));
    }
    let total_s = d.as_secs();
    let (h, m, s) = (total_s / 3600, (total_s / 60) % 60, total_s % 60);
    let frac = d.subsec_nanos();
    let secs = if frac == 0 {
        format!("{s}")
    } else {
        let f = format!("{frac:09}");
        format!("{s}.{}", f.trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => format!("{secs}s"),
        (0, m) => format!("{m}m{secs}s"),
        (h, m) => format!("{h}h{m}m{secs}s"),
    }
}

fn trim_frac(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn health_text(h: &HealthConfig) -> String {
    format!(
        "HEALTHCHECK {{Test:{} Interval:{} Timeout:{} StartPeriod:{} StartInterval:{} Retries:{}}}",
        go_list(&h.test),
        go_duration(h.interval),
        go_duration(h.timeout),
        go_duration(h.start_period),
        go_duration(h.start_interval),
        h.retries
    )
}

/// The history `created_by` of a metadata instruction (already expanded),
/// given the config *after* it was applied; `None` for ONBUILD (BuildKit
/// writes no entry) and for the instructions with a layer (RUN, COPY, ADD,
/// WORKDIR have their own texts).
pub fn meta_history(cmd: &Command, after: &ImageConfig) -> Option<String> {
    let kvs = |word: &str, kv: &[strata_dockerfile::instructions::KeyValue]| {
        let mut s = word.to_string();
        for p in kv {
            s.push_str(&format!(" {}={}", p.key, p.value));
        }
        s
    };
    let cc = after.config.clone().unwrap_or_default();
    Some(match cmd {
        Command::Env(e) => kvs("ENV", &e.vars),
        Command::Label(l) => kvs("LABEL", &l.labels),
        Command::Arg(a) => {
            let parts: Vec<String> = a
                .args
                .iter()
                .map(|d| match &d.default {
                    Some(v) => format!("{}={v}", d.key),
                    None => d.key.clone(),
                })
                .collect();
            format!("ARG {}", parts.join(" "))
        }
        Command::Cmd(_) => format!("CMD {}", go_quote_list(&cc.cmd.unwrap_or_default())),
        Command::Entrypoint(_) => format!(
            "ENTRYPOINT {}",
            go_quote_list(&cc.entrypoint.unwrap_or_default())
        ),
        Command::Expose(x) => {
            let ports: Vec<String> = x
                .port_specs()
                .unwrap_or_default()
                .iter()
                .flat_map(|s| (s.start..=s.end).map(move |p| format!("{p}/{}", s.proto.as_str())))
                .collect();
            format!("EXPOSE {}", go_list(&ports))
        }
        Command::User(u) => format!("USER {}", u.user),
        Command::Volume(v) => format!("VOLUME {}", go_list(&v.volumes)),
        Command::StopSignal(s) => format!("STOPSIGNAL {}", s.signal),
        Command::Healthcheck(h) => health_text(&h.health),
        Command::Shell(s) => format!("SHELL {}", go_list(&s.shell)),
        Command::Maintainer(m) => format!("MAINTAINER {}", m.maintainer),
        _ => return None,
    })
}

/// Applies a metadata instruction (or ARG, which changes only history) to
/// `config`, with BuildKit's extra: CMD (and only CMD: BuildKit's
/// `dispatchCmd`, not `dispatchEntrypoint`, in `dockerfile2llb/convert.go`)
/// sets `ArgsEscaped`.
pub fn apply_meta(config: &mut ImageConfig, cmd: &Command, state: &mut StageState) -> Result<()> {
    config_ops::apply(config, cmd, state).map_err(|e| BuildError::Invalid(e.to_string()))?;
    if matches!(cmd, Command::Cmd(_)) {
        config.config_mut().args_escaped = Some(true);
    }
    Ok(())
}

/// Appends a history entry.
pub fn push_history(config: &mut ImageConfig, created_by: String, empty_layer: bool, now: &str) {
    config.history.push(History {
        created: Some(now.to_string()),
        created_by: Some(created_by),
        author: None,
        comment: Some(HISTORY_COMMENT.to_string()),
        empty_layer,
    });
    config.created = Some(now.to_string());
}

/// The config a stage starts from, as BuildKit derives it from its base:
/// fields of the docker image spec only (legacy `container_config` and the
/// like dropped), no `created`, no ONBUILD triggers (they run now instead),
/// and a `PATH` in the env.
pub fn stage_start_config(base: &ImageConfig) -> ImageConfig {
    let mut c = base.clone();
    c.created = None;
    c.extra
        .retain(|k, _| matches!(k.as_str(), "os.version" | "os.features"));
    if let Some(cc) = c.config.as_mut() {
        cc.extra.clear();
        cc.on_build = None;
    }
    if c.config
        .as_ref()
        .and_then(|cc| cc.get_env("PATH"))
        .is_none()
    {
        c.config_mut()
            .set_env("PATH", strata_dockerfile::args::DEFAULT_PATH);
    }
    c
}

/// The config of `FROM scratch` on the host platform: BuildKit's
/// `emptyImage` (`dockerfile2llb/image.go`), with `WorkingDir` `/` and a
/// `PATH`.
pub fn scratch_config() -> ImageConfig {
    let (os, arch, variant) = strata_oci::host_platform();
    let mut c = ImageConfig {
        architecture: arch.to_string(),
        os: os.to_string(),
        variant: variant.map(str::to_string),
        ..ImageConfig::default()
    };
    let cc = c.config_mut();
    cc.set_env("PATH", strata_dockerfile::args::DEFAULT_PATH);
    cc.working_dir = Some("/".into());
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(Duration::from_secs(5)), "5s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
    }

    #[test]
    fn history_texts() {
        let src = "FROM scratch\nENV TARGET=\"blog.sixeyed.com\" B=2\nCMD [\"node\", \"/web-ping/app.js\"]\nEXPOSE 8080/tcp 9090/udp\nVOLUME /a /b\nHEALTHCHECK --interval=5s --retries=2 CMD true\nARG V=1\nONBUILD RUN x\n";
        let df = strata_dockerfile::Dockerfile::parse(src.as_bytes()).unwrap();
        let g = strata_dockerfile::args::GlobalArgs::new(&df, &Default::default()).unwrap();
        let stage = &df.stages[0];
        let mut scope = g.stage_scope(stage, Vec::<(String, String)>::new());
        let mut cfg = scratch_config();
        let mut st = StageState::default();
        let mut texts = Vec::new();
        for c in &stage.commands {
            let step = scope.apply(c).unwrap();
            apply_meta(&mut cfg, &step.command, &mut st).unwrap();
            texts.push(meta_history(&step.command, &cfg));
        }
        assert_eq!(texts[0].as_deref(), Some("ENV TARGET=blog.sixeyed.com B=2"));
        assert_eq!(
            texts[1].as_deref(),
            Some("CMD [\"node\" \"/web-ping/app.js\"]")
        );
        assert_eq!(texts[2].as_deref(), Some("EXPOSE [8080/tcp 9090/udp]"));
        assert_eq!(texts[3].as_deref(), Some("VOLUME [/a /b]"));
        assert_eq!(
            texts[4].as_deref(),
            Some(
                "HEALTHCHECK {Test:[CMD-SHELL true] Interval:5s Timeout:0s StartPeriod:0s StartInterval:0s Retries:2}"
            )
        );
        assert_eq!(texts[5].as_deref(), Some("ARG V=1"));
        assert_eq!(texts[6], None);
        assert_eq!(cfg.config.as_ref().unwrap().args_escaped, Some(true));
    }

    /// `FROM scratch` as BuildKit's `emptyImage`; `ArgsEscaped` only from
    /// CMD. See: issue 14.
    #[test]
    fn scratch_and_args_escaped_as_buildkit() {
        let src = "FROM scratch\nENTRYPOINT [\"/app\"]\nFROM scratch\nENTRYPOINT /app\nCMD x\n";
        let df = strata_dockerfile::Dockerfile::parse(src.as_bytes()).unwrap();
        let g = strata_dockerfile::args::GlobalArgs::new(&df, &Default::default()).unwrap();
        let mut escaped = Vec::new();
        for stage in &df.stages {
            let mut scope = g.stage_scope(stage, Vec::<(String, String)>::new());
            let mut cfg = scratch_config();
            assert_eq!(
                cfg.config.as_ref().unwrap().working_dir.as_deref(),
                Some("/")
            );
            let mut st = StageState::default();
            for c in &stage.commands {
                let step = scope.apply(c).unwrap();
                apply_meta(&mut cfg, &step.command, &mut st).unwrap();
            }
            escaped.push(cfg.config.unwrap().args_escaped);
        }
        assert_eq!(escaped, vec![None, Some(true)]);
    }

    #[test]
    fn stage_start_drops_legacy_fields() {
        let mut base: ImageConfig = serde_json::from_str(
            r#"{"architecture":"amd64","os":"linux","container_config":{"Cmd":["x"]},"docker_version":"20.10",
                "config":{"Hostname":"abc","Cmd":["sh"],"OnBuild":["RUN x"]},"rootfs":{"type":"layers","diff_ids":[]},
                "created":"2020-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        base.extra.insert("os.version".into(), "1".into());
        let c = stage_start_config(&base);
        assert!(c.extra.contains_key("os.version"));
        assert!(!c.extra.contains_key("container_config"));
        let cc = c.config.unwrap();
        assert!(cc.extra.is_empty() && cc.on_build.is_none());
        assert_eq!(cc.cmd, Some(vec!["sh".to_string()]));
        assert!(cc.get_env("PATH").is_some());
        assert!(c.created.is_none());
    }
}
