//! strata-build: `strata image build` — the build graph from a Dockerfile,
//! cache keys, the context index, the executor and the exporters.
//!
//! Map (in the order a build uses them):
//!
//! * [`build()`]: the entry point; [`options`]: what a build is asked to do
//!   ([`BuildRequest`]) and the parsers of `--secret`/`--output`/`--cache-*`.
//! * [`context`] (build context, `.dockerignore`, stat index) and
//!   [`fileops`] (COPY/ADD selection, checksums and writing).
//! * [`graph`]: stages as a DAG, the stages the target needs.
//! * [`plan`]: bases resolved (pulled if needed), ONBUILD triggers,
//!   instructions expanded, every step's [`key`] computed up front.
//! * [`cache`]: the `build_cache` table (hits, records, `last_used`).
//! * [`executor`]: which stages must run, one thread per stage, `COPY
//!   --from` waiting only for its stage; [`steps`]: RUN, COPY/ADD,
//!   WORKDIR and metadata steps with BuildKit's history texts, on top of
//!   [`config_ops`] (metadata rules, also used by [`changes`] for
//!   `--change`); [`view`]: mounted rootfs views.
//! * [`export`]: the image, tags, `--iidfile`, `--output`, registry cache.
//! * [`progress`] (BuildKit-style tty/plain/json) and the [`timeline`] it
//!   records (`--trace`), [`explain`] (why a step missed), [`check`]
//!   (`--check`).
//! * [`record`]: what a build records to be rebuilt (`history`'s cache
//!   keys and parent IDs, `image verify`), and [`verify`] itself.
//!
//! ```no_run
//! use strata_build::{BuildRequest, ContextSource, build, progress::{Progress, ProgressMode}};
//! let store = strata_store::Store::open("/var/lib/strata").unwrap();
//! let mut req = BuildRequest::new(std::fs::read("Dockerfile").unwrap(), ContextSource::Dir(".".into()));
//! req.tags.push(strata_oci::Reference::parse("web-ping").unwrap());
//! let progress = Progress::new(ProgressMode::Plain, Box::new(std::io::stderr()));
//! let out = build(&store, req, &progress).unwrap();
//! println!("{}", out.image_id);
//! ```

mod build;
pub mod cache;
pub mod changes;
pub mod check;
pub mod classic;
pub mod config_ops;
pub mod context;
pub mod error;
pub mod executor;
pub mod explain;
pub mod export;
pub mod fileops;
pub mod graph;
pub mod key;
pub mod late;
pub mod options;
pub mod plan;
pub mod progress;
pub mod record;
pub mod steps;
pub mod timeline;
pub mod verify;
pub mod view;

pub use build::{BuildOutput, build, host_platform};
pub use error::{BuildError, Result};
pub use options::{BuildRequest, ContextSource};
