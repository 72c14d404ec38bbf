//! Integration tests: the real `strata` binary against real stores,
//! tools and registries. One module per command family; helpers in
//! `support`.

mod support;

mod image_archive;
mod image_bad_input;
mod image_basics;
mod image_interop;
mod store_concurrency;
mod registry_auth;
mod registry_faults;
mod registry_interop;
mod registry_pull;
mod registry_push;
