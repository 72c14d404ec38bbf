//! Integration tests: the real `strata` binary against real stores,
//! tools and registries. One module per command family; helpers in
//! `support`.

mod support;

mod build_bad_input;
mod build_basics;
mod build_cache;
mod build_common;
mod build_copy;
mod build_interop;
mod build_lab;
mod build_output;
mod build_registry;
mod build_run;
mod build_stages;

mod container_bad_input;
mod container_commit;
mod container_common;
mod container_cp;
mod container_exec;
mod container_inspect;
mod container_isolation;
mod container_leaks;
mod container_lifecycle;
mod container_logs;
mod container_network;
mod container_ps;
mod container_run;
mod container_runtime;
mod image_archive;
mod image_bad_input;
mod image_basics;
mod image_interop;
mod registry_auth;
mod registry_faults;
mod registry_interop;
mod registry_pull;
mod registry_push;
mod store_concurrency;
