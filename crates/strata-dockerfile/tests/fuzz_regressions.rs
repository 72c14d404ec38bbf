//! Replays every input kept under `tests/fuzz-regressions/<target>/`
//! (crashes found by `cargo fuzz` and since fixed, plus a minimized corpus)
//! through the same entry points as the fuzz targets in `fuzz/`. A panic
//! fails the named test.

use std::path::Path;

use libtest_mimic::{Arguments, Trial};
use strata_dockerfile::fuzzing;

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    type Entry = fn(&[u8]);
    let targets: [(&str, Entry); 3] = [
        ("parser", fuzzing::parser),
        ("expander", fuzzing::expander),
        ("dockerignore", fuzzing::dockerignore),
    ];
    let mut trials = Vec::new();
    for (target, run) in targets {
        for (name, data) in strata_testkit::regression_inputs(&root.join(target)) {
            trials.push(Trial::test(format!("{target}::{name}"), move || {
                run(&data);
                Ok(())
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
