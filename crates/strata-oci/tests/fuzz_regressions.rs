//! Replays every input kept under `tests/fuzz-regressions/<target>/`
//! (crashes found by fuzzing and since fixed, plus a small corpus) through
//! the entry points the `cargo fuzz` targets in `fuzz/` use, then runs the
//! seeded stable driver briefly on each target (`drive::<target>`; see
//! `strata_oci::fuzzing` for its knobs). A panic fails the named test.

use std::path::Path;

use libtest_mimic::{Arguments, Trial};
use strata_oci::fuzzing::{self, DriveOptions, JSON_DICT, Rng};

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    strata_testkit::regression_inputs(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fuzz-regressions")
            .join(target),
    )
}

fn main() {
    let args = Arguments::from_args();
    type Entry = fn(&[u8]);
    type Gen = fn(&mut Rng) -> Vec<u8>;
    type Dict = &'static [&'static [u8]];
    let targets: [(&str, Entry, Dict, Gen); 2] = [
        (
            "manifest",
            fuzzing::manifest,
            JSON_DICT,
            fuzzing::gen_manifest,
        ),
        (
            "reference",
            fuzzing::reference,
            &[b"/", b":", b"@", b"sha256:", b"."],
            fuzzing::gen_reference,
        ),
    ];
    let mut trials = Vec::new();
    for (target, run, dict, generate) in targets {
        let inputs = corpus(target);
        let seeds: Vec<Vec<u8>> = inputs.iter().map(|(_, d)| d.clone()).collect();
        for (name, data) in inputs {
            trials.push(Trial::test(format!("{target}::{name}"), move || {
                run(&data);
                Ok(())
            }));
        }
        trials.push(Trial::test(format!("drive::{target}"), move || {
            let r = fuzzing::drive(
                target,
                &seeds,
                dict,
                Some(&generate),
                run,
                DriveOptions::from_env(),
            );
            eprintln!("drive::{target}: {} inputs in {:?}", r.runs, r.elapsed);
            Ok(())
        }));
    }
    libtest_mimic::run(&args, trials).exit();
}
