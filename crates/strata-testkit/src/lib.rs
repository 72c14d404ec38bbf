//! What every strata test crate shares: the skip policy, the fuzz
//! regression inputs and the conformance data. A test
//! that needs something absent (root, a registry, dockerd, runc, tini)
//! may skip on a developer's machine, saying why; under `CI=true` (set by
//! `.ci/run`) the same skip is a failure, so CI proves every test ran.

/// True under `CI=true` (or `CI=1`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Says why a test is skipped, or fails it under CI. Use as
/// `return skip("...")`.
///
/// # Panics
/// Under `CI=true`, always.
pub fn skip(why: &str) {
    assert!(!in_ci(), "CI=true and this test would skip: {why}");
    eprintln!("SKIPPED: {why}");
}

/// The inputs kept under `dir` (one file each: crashes found by fuzzing
/// and since fixed, plus a small corpus), sorted by name, as
/// `(file name, bytes)`.
///
/// # Panics
/// When `dir` holds no input or one cannot be read: a regression suite
/// that finds nothing must not pass.
pub fn regression_inputs(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    assert!(
        !files.is_empty(),
        "no regression inputs in {}",
        dir.display()
    );
    files
        .into_iter()
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let data = std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
            (name, data)
        })
        .collect()
}

/// The shared conformance folder: `$STRATA_CONFORMANCE`, else
/// `shared/conformance` beside the repository (read in place, never
/// copied).
pub fn conformance_dir() -> std::path::PathBuf {
    match std::env::var_os("STRATA_CONFORMANCE") {
        Some(p) => p.into(),
        None => {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        }
    }
}

/// Decodes the conformance TSV escapes: `\n`, `\t`, `\r`, `\\`, `\uXXXX`.
///
/// # Panics
/// On an escape the format does not have (the data is ours to fix).
pub fn tsv_unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some('u') => {
                let hex: String = it.by_ref().take(4).collect();
                let cp = u32::from_str_radix(&hex, 16).expect("\\u needs 4 hex digits");
                out.push(char::from_u32(cp).expect("\\u names a scalar value"));
            }
            other => panic!("bad escape {other:?}"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn skip_panics_only_in_ci() {
        let r = std::panic::catch_unwind(|| super::skip("a reason"));
        assert_eq!(r.is_err(), super::in_ci());
    }

    #[test]
    fn tsv_escapes() {
        assert_eq!(super::tsv_unescape(r"a\tb\n\\\u00e9"), "a\tb\n\\\u{e9}");
    }
}
