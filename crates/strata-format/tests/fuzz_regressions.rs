//! Replays every input kept under `tests/fuzz-regressions/template/`
//! (crashes found by fuzzing and since fixed, plus a small corpus) through
//! the entry point the `cargo fuzz` target in `fuzz/` uses, then runs the
//! seeded stable driver briefly (`drive::template`; see
//! `strata_oci::fuzzing` for its knobs). A panic fails the named test.

use std::path::Path;

use libtest_mimic::{Arguments, Trial};
use strata_format::fuzzing;
use strata_oci::fuzzing::{DriveOptions, Rng, drive};

const DICT: &[&[u8]] = &[
    b"{{",
    b"}}",
    b"{{end}}",
    b"{{range .}}",
    b"{{if .}}",
    b"|",
    b"$x",
    b":=",
    b"printf",
    b"%",
    b"index",
    b"slice",
    b"(",
    b")",
    b"\"",
    b"\x00",
];

fn main() {
    let args = Arguments::from_args();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions/template");
    let mut seeds = Vec::new();
    let mut trials = Vec::new();
    for (name, data) in strata_testkit::regression_inputs(&dir) {
        seeds.push(data.clone());
        trials.push(Trial::test(format!("template::{name}"), move || {
            fuzzing::template(&data);
            Ok(())
        }));
    }
    trials.push(Trial::test("drive::template", move || {
        let generate = |r: &mut Rng| fuzzing::gen_template(&mut |n| r.below(n));
        let r = drive(
            "template",
            &seeds,
            DICT,
            Some(&generate),
            fuzzing::template,
            DriveOptions::from_env(),
        );
        eprintln!("drive::template: {} inputs in {:?}", r.runs, r.elapsed);
        Ok(())
    }));
    libtest_mimic::run(&args, trials).exit();
}
