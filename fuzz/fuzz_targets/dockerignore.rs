//! Fuzz target: see `strata_dockerfile::fuzzing::dockerignore`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    strata_dockerfile::fuzzing::dockerignore(data);
});
