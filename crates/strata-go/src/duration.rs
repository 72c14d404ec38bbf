//! Go's `time.ParseDuration` (`1h2m3.5s`, `300ms`, `-1.5h`), with Go's
//! error messages: `--stop-timeout`-style flags, `--health-*`, `--since`
//! and `--until` offsets, and HEALTHCHECK's `--interval` and friends.

use std::time::Duration;

/// A duration flag that does not parse; the message is Go's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseDurationError {
    /// Malformed, empty, or out of range.
    #[error("time: invalid duration {}", go_time_quote(.0))]
    Invalid(String),
    /// A number without a unit (`"10"`).
    #[error("time: missing unit in duration {}", go_time_quote(.0))]
    MissingUnit(String),
    /// A unit other than `ns us µs ms s m h`.
    #[error("time: unknown unit {} in duration {}", go_time_quote(.unit), go_time_quote(.input))]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole flag value.
        input: String,
    },
    /// Parsed, but negative where only non-negative durations make sense.
    #[error("negative duration {}", go_time_quote(.0))]
    Negative(String),
}

/// The `time` package's quoting: non-ASCII bytes as `\xNN`.
fn go_time_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for &b in s.as_bytes() {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            b' '..=b'~' => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// Go's `time.ParseDuration`, in nanoseconds: a sign, then one or more
/// `<decimal><unit>` (`1h2m3.5s`, `300ms`, `-1.5h`, `0`).
///
/// ```
/// use strata_go::duration::parse_go_duration;
/// assert_eq!(parse_go_duration("1h2m3.5s"), Ok(3_723_500_000_000));
/// assert_eq!(parse_go_duration("-300ms"), Ok(-300_000_000));
/// assert_eq!(parse_go_duration("10").unwrap_err().to_string(),
///            "time: missing unit in duration \"10\"");
/// ```
pub fn parse_go_duration(input: &str) -> Result<i64, ParseDurationError> {
    const LIMIT: u64 = 1 << 63;
    let invalid = || ParseDurationError::Invalid(input.to_string());
    let mut s = input.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = &s[1..];
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // Integer part; overflow is an error.
        let mut v: u64 = 0;
        let mut i = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(s[i] - b'0');
            if v > LIMIT {
                return Err(invalid());
            }
            i += 1;
        }
        let pre = i > 0;
        s = &s[i..];
        // Fraction; digits past what fits are ignored.
        let (mut f, mut frac_scale, mut post) = (0u64, 1f64, false);
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let mut i = 0;
            let mut overflow = false;
            while i < s.len() && s[i].is_ascii_digit() {
                if !overflow {
                    if f > (LIMIT - 1) / 10 {
                        overflow = true;
                    } else {
                        let y = f * 10 + u64::from(s[i] - b'0');
                        if y > LIMIT {
                            overflow = true;
                        } else {
                            f = y;
                            frac_scale *= 10.0;
                        }
                    }
                }
                i += 1;
            }
            post = i > 0;
            s = &s[i..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        let i = s
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if i == 0 {
            return Err(ParseDurationError::MissingUnit(input.to_string()));
        }
        let unit = &s[..i];
        s = &s[i..];
        let mult: u64 = match unit {
            b"ns" => 1,
            // "us", "µs" (U+00B5) and "μs" (U+03BC)
            b"us" | [0xC2, 0xB5, b's'] | [0xCE, 0xBC, b's'] => 1_000,
            b"ms" => 1_000_000,
            b"s" => 1_000_000_000,
            b"m" => 60_000_000_000,
            b"h" => 3_600_000_000_000,
            _ => {
                return Err(ParseDurationError::UnknownUnit {
                    unit: String::from_utf8_lossy(unit).into_owned(),
                    input: input.to_string(),
                });
            }
        };
        if v > LIMIT / mult {
            return Err(invalid());
        }
        v *= mult;
        if f > 0 {
            v += (f as f64 * (mult as f64 / frac_scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total = total
            .checked_add(v)
            .filter(|&t| t <= LIMIT)
            .ok_or_else(invalid)?;
    }
    if neg {
        return Ok((total as i64).wrapping_neg());
    }
    if total > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(total as i64)
}

/// [`parse_go_duration`] for flags that take a non-negative duration.
///
/// ```
/// use std::time::Duration;
/// use strata_go::duration::parse_duration;
/// assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
/// assert!(parse_duration("-1s").is_err());
/// ```
pub fn parse_duration(input: &str) -> Result<Duration, ParseDurationError> {
    let nanos = parse_go_duration(input)?;
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| ParseDurationError::Negative(input.to_string()))
}

/// Go's `time.Duration.String` of `nanos`: `1h2m3.5s`, `1m0s`, `1.5s`,
/// `300ms`, `500µs`, `7ns`, `0s` (docker's healthcheck timeout message).
///
/// ```
/// use strata_go::duration::format_go_duration;
/// assert_eq!(format_go_duration(1_000_000_000), "1s");
/// assert_eq!(format_go_duration(90_000_000_000), "1m30s");
/// assert_eq!(format_go_duration(3_723_500_000_000), "1h2m3.5s");
/// assert_eq!(format_go_duration(1_500_000), "1.5ms");
/// assert_eq!(format_go_duration(-2_000), "-2µs");
/// assert_eq!(format_go_duration(0), "0s");
/// ```
pub fn format_go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    // `value` in units of `10^digits` nanoseconds, without trailing zeros.
    let frac = |value: u64, digits: u32| -> String {
        let div = 10u64.pow(digits);
        let (int, rest) = (value / div, value % div);
        if rest == 0 {
            return int.to_string();
        }
        let f = format!("{rest:0width$}", width = digits as usize);
        format!("{int}.{}", f.trim_end_matches('0'))
    };
    if u < 1_000_000_000 {
        let (digits, unit) = match u {
            0..1_000 => (0, "ns"),
            1_000..1_000_000 => (3, "µs"),
            _ => (6, "ms"),
        };
        return format!("{sign}{}{unit}", frac(u, digits));
    }
    let (h, rest) = (u / 3_600_000_000_000, u % 3_600_000_000_000);
    let (m, s) = (rest / 60_000_000_000, rest % 60_000_000_000);
    let mut out = sign.to_string();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&frac(s, 9));
    out.push('s');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go's own time.ParseDuration test table (parseDurationTests).
    #[test]
    fn go_parse_duration_table() {
        const S: i64 = 1_000_000_000;
        for (s, want) in [
            ("0", 0),
            ("5s", 5 * S),
            ("30s", 30 * S),
            ("1478s", 1478 * S),
            ("-5s", -5 * S),
            ("+5s", 5 * S),
            ("-0", 0),
            ("+0", 0),
            ("5.0s", 5 * S),
            ("5.6s", 5 * S + 600_000_000),
            ("5.s", 5 * S),
            (".5s", S / 2),
            ("1.0s", S),
            ("1.00s", S),
            ("1.004s", S + 4_000_000),
            ("100.00100s", 100 * S + 1_000_000),
            ("10ns", 10),
            ("11us", 11_000),
            ("12µs", 12_000),
            ("12μs", 12_000),
            ("13ms", 13_000_000),
            ("14s", 14 * S),
            ("15m", 15 * 60 * S),
            ("16h", 16 * 3600 * S),
            ("3h30m", 3 * 3600 * S + 30 * 60 * S),
            ("10.5s4m", 4 * 60 * S + 10 * S + S / 2),
            ("-2m3.4s", -(2 * 60 * S + 3 * S + 400_000_000)),
            (
                "1h2m3s4ms5us6ns",
                3600 * S + 2 * 60 * S + 3 * S + 4_000_000 + 5_000 + 6,
            ),
            (
                "39h9m14.425s",
                39 * 3600 * S + 9 * 60 * S + 14 * S + 425_000_000,
            ),
            ("52763797000ns", 52_763_797_000),
            ("0.3333333333333333333h", 20 * 60 * S),
            ("9007199254740993ns", (1 << 53) + 1),
            ("9223372036854775807ns", i64::MAX),
            ("9223372036854775.807us", i64::MAX),
            ("9223372036s854ms775us807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("-9223372036854775.808us", i64::MIN),
            ("0.100000000000000000000h", 6 * 60 * S),
            ("2562047h47m16.854775807s", i64::MAX),
            ("-2562047h47m16.854775808s", i64::MIN),
            (
                "0.830103483285477580700h",
                49 * 60 * S + 48 * S + 372_539_827,
            ),
        ] {
            assert_eq!(parse_go_duration(s), Ok(want), "{s}");
        }
        for bad in [
            "",
            "3",
            "-",
            "s",
            ".",
            "-.",
            ".s",
            "+.s",
            "1d",
            "\u{85}\u{85}",
            "\u{ffff}",
            "9223372036854775808ns",
            "9223372036854775.808us",
            "-9223372036854775809ns",
        ] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_go_duration("3").unwrap_err().to_string(),
            r#"time: missing unit in duration "3""#
        );
        assert_eq!(
            parse_go_duration("1d").unwrap_err().to_string(),
            r#"time: unknown unit "d" in duration "1d""#
        );
        assert_eq!(
            parse_go_duration("").unwrap_err().to_string(),
            r#"time: invalid duration """#
        );
        assert!(parse_duration("-1s").is_err());
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
    }
}
