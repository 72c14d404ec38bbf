//! Fuzz target: see `strata_oci::fuzzing::reference`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    strata_oci::fuzzing::reference(data);
});
