//! The Dockerfile front end of strata: everything BuildKit's dockerfile
//! frontend (1.x) does before it builds anything, as a pure library (no
//! I/O besides reading the bytes it is given).
//!
//! Layers, each usable and tested alone:
//!
//! * [`parser`] — text → AST with line ranges (directives, continuations,
//!   JSON vs shell form, `--flags`, heredocs), plus BuildKit's AST dump.
//! * [`instructions`] — AST → typed [`instructions::Command`]s grouped into
//!   [`instructions::Stage`]s, with BuildKit's validation and error messages,
//!   build-check [`Warning`]s, and [`instructions::Command::expand`].
//! * [`shell`] — the shell-word lexer (`$v`, `${v:-w}`, `${v#p}`, quotes,
//!   escapes, word splitting) that reports the variables a word used.
//! * [`args`] — ARG/ENV scoping: global ARGs, stage ARGs, `--build-arg`,
//!   proxy and platform ARGs, stepped by the build engine command by command.
//! * [`dockerignore`] — `.dockerignore` reading and matching with
//!   moby/patternmatcher semantics, explain, and directory pruning.
//!
//! Errors are [`Error`] values carrying a [`LineRange`]; `Display` is
//! `Dockerfile:LINE: message` and [`Error::snippet`] renders BuildKit's
//! quoted source block.
//!
//! ```
//! use strata_dockerfile::{Dockerfile, args::{BuildOptions, GlobalArgs}, instructions::Command};
//!
//! let src = "ARG BASE=alpine:3.20\nFROM $BASE AS app\nENV APP=/srv/app\nWORKDIR $APP\nCOPY --chown=app . .\nRUN make\nCMD [\"./app\"]\n";
//! let df = Dockerfile::parse(src.as_bytes())?;
//! let global = GlobalArgs::new(&df, &BuildOptions::default())?;
//! let stage = df.target(None).expect("a stage");
//! assert_eq!(global.resolve_from(stage)?.base, "alpine:3.20");
//!
//! let mut scope = global.stage_scope(stage, Vec::<(String, String)>::new());
//! let mut steps = Vec::new();
//! for cmd in &stage.commands {
//!     let step = scope.apply(cmd)?;
//!     steps.push((step.command.source().text.clone(), step.used));
//! }
//! assert_eq!(steps[1].0, "WORKDIR $APP");
//! assert!(steps[1].1.contains("APP"));
//!
//! let bad = "FROM alpine\nRUNN make\n";
//! let err = Dockerfile::parse(bad.as_bytes()).unwrap_err();
//! assert_eq!(err.to_string(), "Dockerfile:2: unknown instruction: RUNN (did you mean run?)");
//! assert!(err.snippet(bad, "Dockerfile").unwrap().contains("   2 | >>> RUNN make"));
//! # Ok::<(), strata_dockerfile::Error>(())
//! ```

pub mod args;
pub mod dockerignore;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod instructions;
pub mod parser;
mod platform;
pub mod shell;

pub use error::{Error, LineRange, Warning, escape_controls, render_snippet};
pub use instructions::Dockerfile;
pub use platform::{Platform, PlatformError};
