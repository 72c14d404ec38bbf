//! Fuzz target: see `strata_format::fuzzing::template`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    strata_format::fuzzing::template(data);
});
