//! What every strata test crate shares. Today: the skip policy. A test
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

#[cfg(test)]
mod tests {
    #[test]
    fn skip_panics_only_in_ci() {
        let r = std::panic::catch_unwind(|| super::skip("a reason"));
        assert_eq!(r.is_err(), super::in_ci());
    }
}
