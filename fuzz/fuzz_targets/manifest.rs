//! Fuzz target: see `strata_oci::fuzzing::manifest`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    strata_oci::fuzzing::manifest(data);
});
