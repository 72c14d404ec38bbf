//! Replays every input kept under `tests/fuzz-regressions/<target>/`
//! (crashes found by `cargo fuzz` and since fixed, plus a minimized corpus)
//! through the same entry points as the fuzz targets in `fuzz/`. A panic
//! fails the named test.

use std::fs;
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
        let mut files: Vec<_> = fs::read_dir(root.join(target))
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file())
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        assert!(!files.is_empty(), "no regression inputs for {target}");
        for file in files {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            trials.push(Trial::test(format!("{target}::{name}"), move || {
                let data = fs::read(&file)?;
                run(&data);
                Ok(())
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
