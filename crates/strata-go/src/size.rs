//! docker/go-units size parsing (`RAMInBytes`, `FromHumanSize`), as the
//! docker 20.10 CLI vendors it (go-units v0.4.0): the number is
//! `\d+(\.\d+)*`, so `inf`, `NaN`, exponents and signs are invalid sizes.
//! Used for `--memory`, `--shm-size`, `--memory-swap`, tmpfs `size=` and
//! `RUN --mount=type=tmpfs,size=`.

/// A size flag that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseSizeError {
    /// Not of the form `<number>[ ][k|m|g|t|p][i][b]`.
    #[error("invalid size: '{0}'")]
    Invalid(String),
    /// The number matched but is not a float (`1.2.3`).
    #[error("strconv.ParseFloat: parsing {}: invalid syntax", crate::quote::go_quote(.0))]
    Number(String),
    /// The number is beyond `f64`.
    #[error("strconv.ParseFloat: parsing {}: value out of range", crate::quote::go_quote(.0))]
    Range(String),
}

/// go-units `RAMInBytes`: `512m`, `1g`, `1.5GiB`, `100`, `2 kb` — binary
/// multiples, case-insensitive, `b` optional; fractions truncated.
///
/// ```
/// use strata_go::size::ram_in_bytes;
/// assert_eq!(ram_in_bytes("512m"), Ok(512 * 1024 * 1024));
/// assert_eq!(ram_in_bytes("1.5k"), Ok(1536));
/// assert!(ram_in_bytes("12 bytes").is_err());
/// ```
pub fn ram_in_bytes(s: &str) -> Result<i64, ParseSizeError> {
    parse_size(s, 1024)
}

/// go-units `FromHumanSize`: like [`ram_in_bytes`] with decimal multiples
/// (`44kB` = 44000).
pub fn from_human_size(s: &str) -> Result<i64, ParseSizeError> {
    parse_size(s, 1000)
}

/// Matches go-units' `(?i)^(\d+(\.\d+)*) ?([kmgtp])?i?b?$`.
fn parse_size(s: &str, base: i64) -> Result<i64, ParseSizeError> {
    let invalid = || ParseSizeError::Invalid(s.to_string());
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return Err(invalid());
    }
    while i < b.len() && b[i] == b'.' {
        i += 1;
        if !digits(&mut i) {
            return Err(invalid());
        }
    }
    let number = &s[..i];
    if i < b.len() && b[i] == b' ' {
        i += 1;
    }
    let mut power = 0;
    if i < b.len()
        && let Some(p) = b"kmgtp"
            .iter()
            .position(|&u| u == b[i].to_ascii_lowercase())
    {
        power = p as u32 + 1;
        i += 1;
    }
    if i < b.len() && b[i].eq_ignore_ascii_case(&b'i') {
        i += 1;
    }
    if i < b.len() && b[i].eq_ignore_ascii_case(&b'b') {
        i += 1;
    }
    if i != b.len() {
        return Err(invalid());
    }
    if number.matches('.').count() > 1 {
        return Err(ParseSizeError::Number(number.to_string()));
    }
    let value: f64 = number
        .parse()
        .map_err(|_| ParseSizeError::Number(number.to_string()))?;
    if value.is_infinite() {
        return Err(ParseSizeError::Range(number.to_string()));
    }
    Ok(go_int64(value * (base as f64).powi(power as i32)))
}

/// Go's `int64(f)` on amd64: truncation, and `math.MinInt64` for a value
/// out of range (`--memory 99999999999999999999g` reaches docker's daemon
/// as a negative size, hence its "Minimum memory limit" message).
fn go_int64(f: f64) -> i64 {
    const RANGE: std::ops::Range<f64> = -9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0;
    if !RANGE.contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// go-units' own TestRAMInBytes cases, and docker's flag examples.
    #[test]
    fn go_units_ram_in_bytes() {
        const KIB: i64 = 1024;
        for (s, want) in [
            ("32", 32),
            ("32b", 32),
            ("32B", 32),
            ("32k", 32 * KIB),
            ("32K", 32 * KIB),
            ("32kb", 32 * KIB),
            ("32Kb", 32 * KIB),
            ("32Kib", 32 * KIB),
            ("32Mb", 32 * KIB * KIB),
            ("32Gb", 32 * KIB * KIB * KIB),
            ("32Tb", 32 * KIB.pow(4)),
            ("32Pb", 32 * KIB.pow(5)),
            ("32PB", 32 * KIB.pow(5)),
            ("32P", 32 * KIB.pow(5)),
            ("32.3", 32),
            ("1GiB", KIB.pow(3)),
            ("1g", KIB.pow(3)),
            ("2 GiB", 2 * KIB.pow(3)),
            ("1.5k", 1536),
        ] {
            assert_eq!(ram_in_bytes(s), Ok(want), "{s}");
        }
        for bad in [
            "", "hello", "-32", "32.3.", " 32 ", "32m b", "32bm", "inf", "NaN", "Infinity", "1e3",
            "0x10", "+1", "1q", "1gi b",
        ] {
            assert!(ram_in_bytes(bad).is_err(), "{bad}");
        }
        assert_eq!(
            ram_in_bytes("inf").unwrap_err().to_string(),
            "invalid size: 'inf'"
        );
        assert_eq!(
            ram_in_bytes("1.2.3m").unwrap_err().to_string(),
            r#"strconv.ParseFloat: parsing "1.2.3": invalid syntax"#
        );
        assert_eq!(ram_in_bytes("99999999999999999999g"), Ok(i64::MIN));
        assert_eq!(
            ram_in_bytes("9223372036854774784"),
            Ok(9_223_372_036_854_774_784)
        );
        assert_eq!(from_human_size("32.5 kB"), Ok(32_500));
        assert_eq!(from_human_size("1GiB"), Ok(1_000_000_000));
    }
}
