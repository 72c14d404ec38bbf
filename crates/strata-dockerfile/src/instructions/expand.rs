//! Variable expansion of commands: which instruction expands which
//! arguments, and which variables a step used (for the build cache).
//!
//! | instruction | expanded (single word unless noted) |
//! | --- | --- |
//! | ENV, LABEL | keys and values |
//! | ARG | default values (keys never; see [`crate::args`] for precedence) |
//! | COPY | sources, dest, `--from`, `--chown`, `--chmod` (then validated), `--exclude`; heredoc bodies whose delimiter is unquoted |
//! | ADD | sources, dest, `--chown`, `--chmod`, `--checksum`, `--exclude`; heredoc bodies likewise |
//! | WORKDIR, USER, STOPSIGNAL | the argument |
//! | VOLUME | each path |
//! | EXPOSE | each word, with word splitting |
//! | RUN | each `--mount` value (the command itself is left to the shell) |
//! | FROM | base and `--platform`, with global ARGs only ([`crate::args::GlobalArgs`]) |
//! | CMD, ENTRYPOINT, SHELL, HEALTHCHECK, MAINTAINER, ONBUILD | nothing |
//!
//! BuildKit itself does not expand `COPY --from` or `--chmod`/`--exclude`
//! (a `$` there is an error or a literal); strata expands them, which is a
//! strict superset of what BuildKit accepts.

use std::collections::BTreeSet;

use super::error::InstructionError;
use super::{Command, Source, files, meta, mount};
use crate::error::Error;
use crate::shell::{Env, Lexer};

/// A command after expansion, with the variables it referenced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    /// The expanded command.
    pub command: Command,
    /// Variables referenced and set: the step's cache key needs their values.
    pub used: BTreeSet<String>,
    /// Variables referenced but unset (defining one later changes the step).
    pub unset: BTreeSet<String>,
}

struct Expander<'a> {
    lex: Lexer,
    env: &'a dyn Env,
    source: &'a Source,
    used: BTreeSet<String>,
    unset: BTreeSet<String>,
}

impl Expander<'_> {
    fn err(&self, error: InstructionError) -> Error {
        Error::Instruction {
            range: self.source.range,
            error,
        }
    }

    fn word_with(&mut self, lex: Lexer, s: &str) -> Result<crate::shell::Processed, Error> {
        let r = lex
            .process_word_with_matches(s, self.env)
            .map_err(|error| Error::Expand {
                range: self.source.range,
                error,
            })?;
        self.used.extend(r.matched.iter().cloned());
        self.unset.extend(r.unmatched.iter().cloned());
        Ok(r)
    }

    fn word(&mut self, s: &str) -> Result<String, Error> {
        Ok(self.word_with(self.lex, s)?.result)
    }

    fn words(&mut self, s: &str) -> Result<Vec<String>, Error> {
        Ok(self.word_with(self.lex, s)?.words)
    }

    fn opt(&mut self, s: &Option<String>) -> Result<Option<String>, Error> {
        match s {
            Some(v) => Ok(Some(self.word(v)?).filter(|v| !v.is_empty())),
            None => Ok(None),
        }
    }

    fn list(&mut self, v: &[String]) -> Result<Vec<String>, Error> {
        v.iter().map(|s| self.word(s)).collect()
    }

    /// Heredoc bodies: `\` escapes, quotes kept (BuildKit `ExpandRaw`).
    fn inline(&mut self, v: &[files::InlineSource]) -> Result<Vec<files::InlineSource>, Error> {
        let mut lex = Lexer::new('\\');
        lex.skip_process_quotes = true;
        v.iter()
            .map(|i| {
                let data = if i.expand {
                    self.word_with(lex, &i.data)?.result
                } else {
                    i.data.clone()
                };
                Ok(files::InlineSource { data, ..i.clone() })
            })
            .collect()
    }

    fn kvs(&mut self, v: &[meta::KeyValue]) -> Result<Vec<meta::KeyValue>, Error> {
        v.iter()
            .map(|kv| {
                Ok(meta::KeyValue {
                    key: self.word(&kv.key)?,
                    value: self.word(&kv.value)?,
                    legacy: kv.legacy,
                })
            })
            .collect()
    }
}

impl Command {
    /// Expand the command's arguments with `env` (ENV values and ARG values
    /// in scope), following the table in this module's docs. Returns the
    /// expanded command and the variable names it referenced.
    pub fn expand(&self, env: &dyn Env) -> Result<Expanded, Error> {
        let source = self.source();
        let mut x = Expander {
            lex: Lexer::new(source.escape),
            env,
            source,
            used: BTreeSet::new(),
            unset: BTreeSet::new(),
        };
        let command = match self {
            Command::Env(c) => Command::Env(meta::EnvCommand {
                vars: x.kvs(&c.vars)?,
                ..c.clone()
            }),
            Command::Label(c) => Command::Label(meta::LabelCommand {
                labels: x.kvs(&c.labels)?,
                ..c.clone()
            }),
            Command::Arg(c) => {
                let mut args = c.args.clone();
                for a in &mut args {
                    if let Some(d) = &a.default {
                        a.default = Some(x.word(d)?);
                    }
                }
                Command::Arg(meta::ArgCommand { args, ..c.clone() })
            }
            Command::Copy(c) => {
                let copy = files::CopyCommand {
                    sources: x.list(&c.sources)?,
                    inline: x.inline(&c.inline)?,
                    dest: x.word(&c.dest)?,
                    from: x.opt(&c.from)?,
                    chown: x.opt(&c.chown)?,
                    chmod: x.opt(&c.chmod)?,
                    excludes: x.list(&c.excludes)?,
                    ..c.clone()
                };
                copy.mode().map_err(|e| x.err(e))?;
                Command::Copy(copy)
            }
            Command::Add(c) => {
                let add = files::AddCommand {
                    sources: x.list(&c.sources)?,
                    inline: x.inline(&c.inline)?,
                    dest: x.word(&c.dest)?,
                    chown: x.opt(&c.chown)?,
                    chmod: x.opt(&c.chmod)?,
                    checksum: x.opt(&c.checksum)?,
                    excludes: x.list(&c.excludes)?,
                    ..c.clone()
                };
                add.mode().map_err(|e| x.err(e))?;
                if let Some(d) = &add.checksum {
                    files::check_digest(d).map_err(|e| x.err(e))?;
                    if add.sources.len() + add.inline.len() != 1 {
                        return Err(x.err(InstructionError::Checksum(
                            "checksum can't be specified for multiple sources",
                        )));
                    }
                }
                Command::Add(add)
            }
            Command::Workdir(c) => Command::Workdir(meta::WorkdirCommand {
                path: x.word(&c.path)?,
                ..c.clone()
            }),
            Command::User(c) => Command::User(meta::UserCommand {
                user: x.word(&c.user)?,
                ..c.clone()
            }),
            Command::StopSignal(c) => {
                let signal = x.word(&c.signal)?;
                meta::parse_signal(&signal).map_err(|e| x.err(e))?;
                Command::StopSignal(meta::StopSignalCommand {
                    signal,
                    ..c.clone()
                })
            }
            Command::Volume(c) => {
                let volumes = x.list(&c.volumes)?;
                if volumes.iter().any(String::is_empty) {
                    return Err(x.err(InstructionError::EmptyVolume));
                }
                Command::Volume(meta::VolumeCommand {
                    volumes,
                    ..c.clone()
                })
            }
            Command::Expose(c) => {
                let mut ports = Vec::new();
                for p in &c.ports {
                    ports.extend(x.words(p)?);
                }
                let e = meta::ExposeCommand { ports, ..c.clone() };
                e.port_specs().map_err(|err| x.err(err))?;
                Command::Expose(e)
            }
            Command::Run(c) => {
                let mut mounts = Vec::with_capacity(c.mount_specs.len());
                for spec in &c.mount_specs {
                    let m = mount::parse_mount(spec, |v| x.word(v))?;
                    mounts.push(m.map_err(|e| x.err(e))?);
                }
                Command::Run(super::RunCommand {
                    mounts,
                    ..c.clone()
                })
            }
            other => other.clone(),
        };
        Ok(Expanded {
            command,
            used: x.used,
            unset: x.unset,
        })
    }
}
