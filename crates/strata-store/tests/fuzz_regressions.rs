//! Replays every input kept under `tests/fuzz-regressions/<target>/`
//! (crashes found by fuzzing and since fixed, plus a small corpus) through
//! the entry points the `cargo fuzz` targets in `fuzz/` use, then runs the
//! seeded stable driver briefly on each target (`drive::<target>`; see
//! `strata_oci::fuzzing` for its knobs). A panic fails the named test.

use std::path::Path;

use libtest_mimic::{Arguments, Trial};
use strata_oci::fuzzing::{DriveOptions, Rng, drive};
use strata_store::fuzzing;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    strata_testkit::regression_inputs(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fuzz-regressions")
            .join(target),
    )
}

const TAR_DICT: &[&[u8]] = &[
    b"ustar\x0000",
    b"../",
    b"/",
    b".wh.",
    b".wh..wh..opq",
    b"PaxHeader",
    b"path=",
    b"linkpath=",
];

fn main() {
    let args = Arguments::from_args();
    // The targets make their directories (and the archive target its
    // store) here, so a run leaves nothing behind.
    let tmp = tempfile::tempdir().expect("tempdir");
    // SAFETY: no other thread exists yet.
    unsafe { std::env::set_var("STRATA_FUZZ_TMP", tmp.path()) };
    type Entry = fn(&[u8]);
    type Gen = fn(&mut Rng) -> Vec<u8>;
    let targets: [(&str, Entry, Gen); 2] = [
        ("layer", fuzzing::layer, fuzzing::gen_layer),
        ("archive", fuzzing::archive, fuzzing::gen_archive),
    ];
    let mut trials = Vec::new();
    for (target, run, generate) in targets {
        let inputs = corpus(target);
        let seeds: Vec<Vec<u8>> = inputs.iter().map(|(_, d)| d.clone()).collect();
        for (name, data) in inputs {
            trials.push(Trial::test(format!("{target}::{name}"), move || {
                run(&data);
                Ok(())
            }));
        }
        trials.push(Trial::test(format!("drive::{target}"), move || {
            let r = drive(
                target,
                &seeds,
                TAR_DICT,
                Some(&generate),
                run,
                DriveOptions::from_env(),
            );
            eprintln!("drive::{target}: {} inputs in {:?}", r.runs, r.elapsed);
            Ok(())
        }));
    }
    let conclusion = libtest_mimic::run(&args, trials);
    drop(tmp);
    conclusion.exit();
}
