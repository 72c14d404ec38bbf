//! ARG and ENV scoping, the way BuildKit resolves them, as a small API the
//! build engine drives step by step.
//!
//! * **Global scope** ([`GlobalArgs`]): the automatic platform ARGs
//!   (`BUILDPLATFORM`, `BUILDOS`, `BUILDARCH`, `BUILDVARIANT`,
//!   `TARGETPLATFORM`, `TARGETOS`, `TARGETARCH`, `TARGETVARIANT`,
//!   `TARGETSTAGE`, overridable with `--build-arg`) plus the ARGs declared
//!   before the first FROM (a `--build-arg` replaces the default; defaults
//!   may use earlier global ARGs). Only FROM lines see this scope
//!   ([`GlobalArgs::resolve_from`]).
//! * **Stage scope** ([`StageScope`]): starts from the base image's config
//!   env (PATH is added if missing). `ARG x` makes `x` visible: its value is
//!   the `--build-arg`, else its expanded default, else the global value of
//!   the same name. `ENV` sets variables; ENV values also go to the image
//!   config, ARG values never do. Expansion sees both. A stage built `FROM`
//!   another stage inherits that stage's scope ([`StageScope::derive`]).
//! * **RUN** sees the stage env plus the proxy variables passed as
//!   `--build-arg` (`HTTP_PROXY`, `http_proxy`, …, `ALL_PROXY`,
//!   `all_proxy`), which need no declaration and never enter the history or
//!   the cache key ([`StageScope::run_env`], [`StageScope::proxy_env`]).
//! * `--build-arg`s that no ARG consumed are reported by
//!   [`GlobalArgs::unused_build_args`].
//!
//! ```
//! use std::collections::BTreeMap;
//! use strata_dockerfile::Dockerfile;
//! use strata_dockerfile::args::{BuildOptions, GlobalArgs};
//! use strata_dockerfile::instructions::Command;
//!
//! let df = Dockerfile::parse(b"ARG TAG=3.20\nFROM alpine:$TAG\nARG TAG\nARG MODE=dev\nENV HOME_DIR=/srv/$MODE\nRUN echo $TAG\nWORKDIR $HOME_DIR\n").unwrap();
//! let mut opts = BuildOptions::default();
//! opts.build_args.insert("MODE".into(), "prod".into());
//! let global = GlobalArgs::new(&df, &opts).unwrap();
//! let stage = &df.stages[0];
//! assert_eq!(global.resolve_from(stage).unwrap().base, "alpine:3.20");
//!
//! // The base image's config env would be passed here.
//! let mut scope = global.stage_scope(stage, Vec::<(String, String)>::new());
//! let mut workdir = String::new();
//! for cmd in &stage.commands {
//!     let step = scope.apply(cmd).unwrap();
//!     if let Command::Run(_) = &step.command {
//!         // RUN sees ARGs as env, but they are not persisted in the image.
//!         assert_eq!(scope.run_env().get("TAG"), Some("3.20"));
//!         assert_eq!(scope.image_env().get("TAG"), None);
//!     }
//!     if let Command::Workdir(w) = &step.command {
//!         workdir = w.path.clone();
//!         assert!(step.used.contains("HOME_DIR"));
//!     }
//! }
//! assert_eq!(workdir, "/srv/prod");
//! assert!(global.unused_build_args([&scope]).is_empty());
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, LineRange};
use crate::instructions::{ArgCommand, ArgDef, Command, Dockerfile, InstructionError, Stage};
use crate::platform::Platform;
use crate::shell::{Env, Lexer};

/// Proxy ARGs usable without declaration (BuildKit/docker builtins).
pub const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Automatic platform ARGs of the global scope.
pub const PLATFORM_ARGS: [&str; 9] = [
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "TARGETSTAGE",
];

/// The default `PATH` BuildKit puts in an image config that lacks one.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// An ordered variable list: setting an existing name replaces its value in
/// place (docker's env semantics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars(Vec<(String, String)>);

impl Vars {
    /// Set `key` to `value`, keeping its position if it exists.
    pub fn set(&mut self, key: &str, value: &str) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.to_string(),
            None => self.0.push((key.to_string(), value.to_string())),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `KEY=value` strings, as in an image config.
    pub fn to_env_list(&self) -> Vec<String> {
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// Number of variables.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Env for Vars {
    fn get(&self, name: &str) -> Option<&str> {
        Vars::get(self, name)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Vars {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        let mut v = Vars::default();
        for (k, val) in iter {
            v.set(&k.into(), &val.into());
        }
        v
    }
}

/// What the caller knows about the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOptions {
    /// `--build-arg NAME=value`.
    pub build_args: BTreeMap<String, String>,
    /// The platform the build runs on.
    pub build_platform: Platform,
    /// The platform the image is for.
    pub target_platform: Platform,
    /// `--target` (the last stage when `None`).
    pub target: Option<String>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            build_args: BTreeMap::new(),
            build_platform: Platform::linux_amd64(),
            target_platform: Platform::linux_amd64(),
            target: None,
        }
    }
}

/// A FROM line resolved with the global ARGs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedFrom {
    /// The base image or stage name, expanded.
    pub base: String,
    /// `--platform`, expanded and parsed.
    pub platform: Option<Platform>,
    /// Global ARGs the line used.
    pub used: BTreeSet<String>,
}

/// The global ARG scope of a build.
#[derive(Debug, Clone)]
pub struct GlobalArgs {
    vars: Vars,
    build_args: BTreeMap<String, String>,
    consumed: BTreeSet<String>,
    escape: char,
}

fn expand_err(range: LineRange) -> impl Fn(crate::shell::ExpandError) -> Error {
    move |error| Error::Expand { range, error }
}

impl GlobalArgs {
    /// Evaluate the automatic and the global (pre-FROM) ARGs.
    pub fn new(df: &Dockerfile, opts: &BuildOptions) -> Result<GlobalArgs, Error> {
        let (b, t) = (&opts.build_platform, &opts.target_platform);
        let target_name = match &opts.target {
            Some(t) => t.clone(),
            None => df
                .stages
                .last()
                .and_then(|s| s.name.clone())
                .unwrap_or_default(),
        };
        let auto = [
            ("BUILDPLATFORM", b.to_string()),
            ("BUILDOS", b.os.clone()),
            ("BUILDARCH", b.architecture.clone()),
            ("BUILDVARIANT", b.variant.clone()),
            ("TARGETPLATFORM", t.to_string()),
            ("TARGETOS", t.os.clone()),
            ("TARGETARCH", t.architecture.clone()),
            ("TARGETVARIANT", t.variant.clone()),
            ("TARGETSTAGE", target_name),
        ];
        let mut g = GlobalArgs {
            vars: Vars::default(),
            build_args: opts.build_args.clone(),
            consumed: BTreeSet::new(),
            escape: df.escape,
        };
        for (k, v) in auto {
            let v = opts.build_args.get(k).cloned().unwrap_or(v);
            g.vars.set(k, &v);
        }
        let lex = Lexer::new(df.escape);
        for cmd in &df.global_args {
            for def in &cmd.args {
                let value = match (g.build_args.get(&def.key), &def.default) {
                    (Some(v), _) => {
                        g.consumed.insert(def.key.clone());
                        Some(v.clone())
                    }
                    (None, Some(d)) => Some(
                        lex.process_word(d, &g.vars)
                            .map_err(expand_err(cmd.source.range))?,
                    ),
                    (None, None) => None,
                };
                if let Some(v) = value {
                    g.vars.set(&def.key, &v);
                }
            }
        }
        Ok(g)
    }

    /// The value of a global ARG (or automatic platform ARG).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name)
    }

    /// All global values in order.
    pub fn vars(&self) -> &Vars {
        &self.vars
    }

    /// Expand a stage's FROM base and `--platform` with the global ARGs.
    pub fn resolve_from(&self, stage: &Stage) -> Result<ResolvedFrom, Error> {
        let range = stage.from.source.range;
        let lex = Lexer::new(self.escape);
        let base = lex
            .process_word_with_matches(&stage.base, &self.vars)
            .map_err(expand_err(range))?;
        if base.result.is_empty() {
            return Err(Error::Instruction {
                range,
                error: InstructionError::BlankBase(stage.base.clone()),
            });
        }
        let mut used = base.matched;
        let platform = match &stage.platform {
            None => None,
            Some(expr) => {
                let p = lex
                    .process_word_with_matches(expr, &self.vars)
                    .map_err(expand_err(range))?;
                if p.result.is_empty() {
                    return Err(Error::Instruction {
                        range,
                        error: InstructionError::BlankPlatform(expr.clone()),
                    });
                }
                used.extend(p.matched);
                let parsed = Platform::parse(&p.result).map_err(|e| Error::Instruction {
                    range,
                    error: InstructionError::Platform {
                        value: p.result.clone(),
                        reason: e.to_string(),
                    },
                })?;
                Some(parsed)
            }
        };
        Ok(ResolvedFrom {
            base: base.result,
            platform,
            used,
        })
    }

    /// A fresh scope for a stage whose base is an image with config env
    /// `base_env` (`KEY=value` pairs in order; PATH is added if missing).
    pub fn stage_scope<I, K, V>(&self, stage: &Stage, base_env: I) -> StageScope
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut env: Vars = base_env.into_iter().collect();
        if env.get("PATH").is_none() {
            env.set("PATH", DEFAULT_PATH);
        }
        StageScope {
            image_env: env.clone(),
            env,
            args: Vec::new(),
            shell: vec!["/bin/sh".to_string(), "-c".to_string()],
            global: self.vars.clone(),
            build_args: self.build_args.clone(),
            consumed: BTreeSet::new(),
            escape: self.escape,
            stage_index: stage.index,
        }
    }

    /// `--build-arg`s that no global ARG and no ARG in `stages` consumed,
    /// builtin proxy and platform ARGs excepted. Sorted.
    pub fn unused_build_args<'a>(
        &self,
        stages: impl IntoIterator<Item = &'a StageScope>,
    ) -> Vec<String> {
        let mut consumed = self.consumed.clone();
        for s in stages {
            consumed.extend(s.consumed.iter().cloned());
        }
        self.build_args
            .keys()
            .filter(|k| !consumed.contains(*k))
            .filter(|k| !PROXY_ARGS.contains(&k.as_str()) && !PLATFORM_ARGS.contains(&k.as_str()))
            .cloned()
            .collect()
    }
}

/// docker's message for unused build args, or `None` when all were used.
pub fn unused_build_args_warning(names: &[String]) -> Option<String> {
    (!names.is_empty()).then(|| {
        format!(
            "[Warning] One or more build-args [{}] were not consumed",
            names.join(" ")
        )
    })
}

impl Dockerfile {
    /// Statically: `--build-arg` names that no ARG anywhere in the file
    /// declares (builtins excepted).
    pub fn unused_build_args(&self, build_args: &BTreeMap<String, String>) -> Vec<String> {
        let declared: BTreeSet<&str> = self
            .global_args
            .iter()
            .chain(self.stages.iter().flat_map(|s| {
                s.commands.iter().filter_map(|c| match c {
                    Command::Arg(a) => Some(a),
                    _ => None,
                })
            }))
            .flat_map(|a: &ArgCommand| a.args.iter().map(|d| d.key.as_str()))
            .collect();
        build_args
            .keys()
            .filter(|k| !declared.contains(k.as_str()))
            .filter(|k| !PROXY_ARGS.contains(&k.as_str()) && !PLATFORM_ARGS.contains(&k.as_str()))
            .cloned()
            .collect()
    }
}

/// The result of applying one command in a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The command with its arguments expanded (for ARG: the values in
    /// effect after precedence).
    pub command: Command,
    /// Variables referenced and set.
    pub used: BTreeSet<String>,
    /// Variables referenced but unset.
    pub unset: BTreeSet<String>,
}

/// The variables in effect while a stage's commands are applied in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageScope {
    env: Vars,
    image_env: Vars,
    args: Vec<(String, Option<String>)>,
    shell: Vec<String>,
    global: Vars,
    build_args: BTreeMap<String, String>,
    consumed: BTreeSet<String>,
    escape: char,
    stage_index: usize,
}

impl StageScope {
    /// The scope for a stage built `FROM` this one: everything (env, ARGs
    /// in effect, SHELL) carries over, as in BuildKit.
    pub fn derive(&self, stage: &Stage) -> StageScope {
        StageScope {
            consumed: BTreeSet::new(),
            stage_index: stage.index,
            ..self.clone()
        }
    }

    /// Apply `cmd`: expand it with the current scope, then record what it
    /// changes (ARG, ENV, SHELL).
    pub fn apply(&mut self, cmd: &Command) -> Result<Step, Error> {
        match cmd {
            Command::Arg(a) => self.apply_arg(a),
            _ => {
                let x = cmd.expand(&self.env)?;
                match &x.command {
                    Command::Env(e) => {
                        for kv in &e.vars {
                            self.env.set(&kv.key, &kv.value);
                            self.image_env.set(&kv.key, &kv.value);
                        }
                    }
                    Command::Shell(s) => self.shell = s.shell.clone(),
                    _ => {}
                }
                Ok(Step {
                    command: x.command,
                    used: x.used,
                    unset: x.unset,
                })
            }
        }
    }

    fn apply_arg(&mut self, a: &ArgCommand) -> Result<Step, Error> {
        let lex = Lexer::new(self.escape);
        let mut used = BTreeSet::new();
        let mut unset = BTreeSet::new();
        let mut resolved = Vec::with_capacity(a.args.len());
        for def in &a.args {
            let value = if let Some(v) = self.build_args.get(&def.key) {
                self.consumed.insert(def.key.clone());
                Some(v.clone())
            } else if let Some(d) = &def.default {
                let r = lex
                    .process_word_with_matches(d, &self.env)
                    .map_err(expand_err(a.source.range))?;
                used.extend(r.matched);
                unset.extend(r.unmatched);
                Some(r.result)
            } else {
                self.global.get(&def.key).map(str::to_string)
            };
            if let Some(v) = &value {
                self.env.set(&def.key, v);
            }
            match self.args.iter_mut().find(|(k, _)| *k == def.key) {
                Some(slot) => slot.1 = value.clone(),
                None => self.args.push((def.key.clone(), value.clone())),
            }
            resolved.push(ArgDef {
                key: def.key.clone(),
                default: value,
            });
        }
        Ok(Step {
            command: Command::Arg(ArgCommand {
                args: resolved,
                source: a.source.clone(),
            }),
            used,
            unset,
        })
    }

    /// A variable's value in the expansion environment.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.env.get(name)
    }

    /// The expansion environment: base env, ENV values and ARG values.
    pub fn env(&self) -> &Vars {
        &self.env
    }

    /// The env to persist in the image config (base env and ENV only).
    pub fn image_env(&self) -> &Vars {
        &self.image_env
    }

    /// The ARGs declared in this stage (and inherited from a parent
    /// stage), with their values.
    pub fn args(&self) -> &[(String, Option<String>)] {
        &self.args
    }

    /// The shell for shell-form commands (`SHELL`, default `/bin/sh -c`).
    pub fn shell(&self) -> &[String] {
        &self.shell
    }

    /// Proxy variables from `--build-arg` that the stage did not set itself:
    /// both spellings of each (`HTTP_PROXY` and `http_proxy`).
    pub fn proxy_env(&self) -> Vars {
        let mut out = Vars::default();
        for pair in PROXY_ARGS.chunks(2) {
            let [upper, lower] = pair else { continue };
            let value = self
                .build_args
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(upper))
                .map(|(_, v)| v.as_str());
            if let Some(v) = value {
                for name in [upper, lower] {
                    if self.env.get(name).is_none() {
                        out.set(name, v);
                    }
                }
            }
        }
        out
    }

    /// The environment of a RUN step: [`StageScope::env`] plus
    /// [`StageScope::proxy_env`].
    pub fn run_env(&self) -> Vars {
        let mut env = self.env.clone();
        for (k, v) in self.proxy_env().iter() {
            env.set(k, v);
        }
        env
    }

    /// The `|N K=V …` prefix BuildKit writes in front of a RUN's history
    /// `created_by`: every ARG in scope with its value, proxy ARGs excluded.
    pub fn run_history_args(&self) -> Vec<(String, String)> {
        self.args
            .iter()
            .filter(|(k, _)| !PROXY_ARGS.contains(&k.as_str()))
            .map(|(k, v)| {
                let v = self.env.get(k).map(str::to_string).or_else(|| v.clone());
                (k.clone(), v.unwrap_or_default())
            })
            .collect()
    }

    /// History `created_by` of a RUN executing `argv`:
    /// `RUN |2 A=1 B=2 /bin/sh -c make`.
    pub fn run_created_by(&self, argv: &[String]) -> String {
        let args = self.run_history_args();
        let mut parts: Vec<String> = Vec::new();
        if !args.is_empty() {
            parts.push(format!("|{}", args.len()));
            parts.extend(args.iter().map(|(k, v)| format!("{k}={v}")));
        }
        parts.extend(argv.iter().cloned());
        format!("RUN {}", parts.join(" "))
    }

    /// `--build-arg`s consumed by ARGs of this stage.
    pub fn consumed_build_args(&self) -> &BTreeSet<String> {
        &self.consumed
    }

    /// Index of the stage this scope belongs to.
    pub fn stage_index(&self) -> usize {
        self.stage_index
    }
}

#[cfg(test)]
mod tests;
