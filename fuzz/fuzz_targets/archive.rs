//! Fuzz target: see `strata_store::fuzzing::archive`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    strata_store::fuzzing::archive(data);
});
