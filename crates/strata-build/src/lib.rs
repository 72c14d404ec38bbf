//! strata-build: `strata image build` — the build graph from a Dockerfile,
//! cache keys, the context index, the executor and the exporters.
//!
//! Modules so far: [`config_ops`] (what metadata instructions do to an
//! image config, BuildKit's rules) and [`changes`] (`--change` for import
//! and commit, on top of `config_ops`).

pub mod changes;
pub mod config_ops;
pub mod context;
pub mod fileops;
