//! strata-registry: the OCI distribution client — reference resolution,
//! auth, pull, push and the registry build cache.
//!
//! Main entry points (all synchronous; each runs its own small tokio
//! runtime, see [`runtime`]):
//! - [`pull()`] / [`pull_report`] / [`pull_all_tags`]: reference → image in the
//!   store, layers in parallel, each streamed through digest check,
//!   decompression and extraction into its snapshot ([`fetch`]).
//! - [`push()`] / [`push_all_tags`]: HEAD, cross-repository mount, parallel
//!   monolithic or chunked uploads ([`upload`]), manifest last.
//! - [`cache::export_cache`] / [`cache::import_cache`]: the build cache as an
//!   OCI artifact (format drawn in [`cache`]).
//! - [`login`] / [`logout`]: credentials in docker's `config.json` ([`auth`]).
//!
//! Resolution and transport rules are in [`host`] (Docker Hub is served by
//! `registry-1.docker.io`; plain HTTP only for loopback and configured
//! insecure registries) and [`config`] (the strata config file). The HTTP
//! layer is [`client::RegistryClient`]: oci-client for auth negotiation and
//! manifests, reqwest for blob streams.
//!
//! ```no_run
//! use strata_registry::{pull, PullOptions, RegistryOptions};
//! let store = strata_store::Store::open("/var/lib/strata").unwrap();
//! let r = strata_oci::Reference::parse("127.0.0.1:5000/node").unwrap();
//! let opts = PullOptions { registry: RegistryOptions::from_env().unwrap(), ..Default::default() };
//! let image = pull(&store, &r, &opts).unwrap();
//! println!("{}", image.id());
//! ```

pub mod auth;
pub mod cache;
pub mod challenge;
pub mod client;
pub mod config;
pub mod documents;
pub mod download;
pub mod error;
pub mod fetch;
pub mod host;
pub mod login;
pub mod progress;
pub mod pull;
pub mod push;
pub mod runtime;
pub mod upload;

pub use config::{RegistryOptions, RetryPolicy};
pub use error::{RegistryError, Result};
pub use host::InsecureRegistries;
pub use login::{login, logout};
pub use oci_client;
pub use progress::{Event, LayerStatus, Progress, ProgressRef};
pub use pull::{PullOptions, PullReport, pull, pull_all_tags, pull_report};
pub use push::{PushOptions, PushReport, push, push_all_tags};
