//! go-units and `time.ParseDuration`, checked against values derived from
//! their Go algorithms (go-units' own test tables included).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use strata_format::units::{
    ContainerStatus, ParseDurationError, ParseSizeError, bytes_size, container_size,
    container_status, from_human_size, human_duration, human_size, human_size_precise,
    human_size_with_precision, parse_duration, parse_go_duration, ram_in_bytes, rfc3339,
    running_for, since,
};

const KIB: i64 = 1024;
const MIB: i64 = KIB * 1024;
const GIB: i64 = MIB * 1024;
const TIB: i64 = GIB * 1024;
const PIB: i64 = TIB * 1024;

#[test]
fn human_size_three_digits() {
    let cases: &[(u64, &str)] = &[
        (0, "0B"),
        (1, "1B"),
        (999, "999B"),
        (1000, "1kB"),
        (1024, "1.02kB"),
        (1250, "1.25kB"),
        // 1.125 is exact in binary: Go rounds the tie to even.
        (1125, "1.12kB"),
        (1175, "1.18kB"),
        (1_990_000, "1.99MB"),
        (8_460_000, "8.46MB"),
        (245_000_000, "245MB"),
        (123_456_789, "123MB"),
        // %.3g of 99.95 rounds to 100, still in %f form.
        (99_950, "100kB"),
        // %.3g of 999.999 rounds to 1e+03: go-units' well-known quirk.
        (999_999, "1e+03kB"),
        (1_000_000_000_000, "1TB"),
        (1_500_000_000_000_000, "1.5PB"),
        (u64::MAX, "18.4EB"),
    ];
    for &(n, want) in cases {
        assert_eq!(human_size(n), want, "human_size({n})");
    }
}

#[test]
fn human_size_go_units_table() {
    // go-units TestHumanSize (HumanSize = 4 digits).
    assert_eq!(human_size_precise(1000), "1kB");
    assert_eq!(human_size_precise(1024), "1.024kB");
    assert_eq!(human_size_precise(1_000_000), "1MB");
    assert_eq!(human_size_precise(1_048_576), "1.049MB");
    assert_eq!(human_size_precise(2_000_000), "2MB");
    assert_eq!(human_size_precise(3_420_000_000), "3.42GB");
    assert_eq!(human_size_precise(5_372_000_000_000), "5.372TB");
    assert_eq!(human_size_precise(2_220_000_000_000_000), "2.22PB");
    assert_eq!(human_size_with_precision(1e28, 4), "1e+04YB");
    assert_eq!(human_size_with_precision(2_746_000.0, 4), "2.746MB");
    assert_eq!(human_size_with_precision(796_000.0, 4), "796kB");
}

#[test]
fn bytes_size_go_units_table() {
    assert_eq!(bytes_size(0), "0B");
    assert_eq!(bytes_size(1023), "1023B");
    assert_eq!(bytes_size(1024), "1KiB");
    assert_eq!(bytes_size(1536), "1.5KiB");
    assert_eq!(bytes_size(1024 * 1024), "1MiB");
    assert_eq!(bytes_size(2 * MIB as u64), "2MiB");
    assert_eq!(bytes_size((3.42 * GIB as f64) as u64), "3.42GiB");
    assert_eq!(bytes_size((5.372 * TIB as f64) as u64), "5.372TiB");
    assert_eq!(bytes_size((2.22 * PIB as f64) as u64), "2.22PiB");
    // 1023.999 KiB rounds to 4 digits: 1024.
    assert_eq!(bytes_size(1_048_575), "1024KiB");
}

#[test]
fn container_size_with_virtual() {
    assert_eq!(container_size(2, 245_000_000), "2B (virtual 245MB)");
    assert_eq!(container_size(1250, 0), "1.25kB");
}

#[test]
fn human_duration_go_units_table() {
    let s = Duration::from_secs;
    let m = |n: u64| s(60 * n);
    let h = |n: u64| s(3600 * n);
    let day = |n: u64| h(24 * n);
    let week = |n: u64| day(7 * n);
    let month = |n: u64| day(30 * n);
    let year = |n: u64| day(365 * n);
    let cases: Vec<(Duration, &str)> = vec![
        (Duration::ZERO, "Less than a second"),
        (Duration::from_millis(450), "Less than a second"),
        (Duration::from_millis(999), "Less than a second"),
        (s(1), "1 second"),
        (Duration::from_millis(1999), "1 second"),
        (s(45), "45 seconds"),
        (s(46), "46 seconds"),
        (s(47), "47 seconds"),
        (s(59), "59 seconds"),
        (s(60), "About a minute"),
        (s(119), "About a minute"),
        (m(3), "3 minutes"),
        (m(35), "35 minutes"),
        (m(35) + s(40), "35 minutes"),
        (m(45), "45 minutes"),
        (m(45) + s(40), "45 minutes"),
        (m(46), "46 minutes"),
        (m(59), "59 minutes"),
        (h(1), "About an hour"),
        (h(1) + m(29), "About an hour"),
        // Hours are rounded half up: 1h30m is 2 hours.
        (h(1) + m(30), "2 hours"),
        (h(1) + m(31), "2 hours"),
        (h(1) + m(59), "2 hours"),
        (h(3), "3 hours"),
        (h(3) + m(29), "3 hours"),
        (h(3) + m(31), "4 hours"),
        (h(3) + m(59), "4 hours"),
        (h(3) + m(60), "4 hours"),
        (h(24), "24 hours"),
        (day(1) + h(12), "36 hours"),
        (h(47) + m(29), "47 hours"),
        (h(47) + m(30), "2 days"),
        (day(2), "2 days"),
        (day(7), "7 days"),
        (day(13) + h(5), "13 days"),
        (week(2), "2 weeks"),
        (week(2) + day(4), "2 weeks"),
        (week(3), "3 weeks"),
        (week(4), "4 weeks"),
        (week(4) + day(3), "4 weeks"),
        (month(1), "4 weeks"),
        (month(1) + week(2), "6 weeks"),
        (month(2), "2 months"),
        (month(2) + week(2), "2 months"),
        (month(3), "3 months"),
        (month(3) + week(1), "3 months"),
        (month(5) + week(2), "5 months"),
        (month(13), "13 months"),
        (month(23), "23 months"),
        (month(24), "24 months"),
        (month(24) + week(2), "2 years"),
        (year(3) + month(2), "3 years"),
        (year(100), "100 years"),
    ];
    for (d, want) in cases {
        assert_eq!(human_duration(d), want, "human_duration({d:?})");
    }
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[test]
fn since_and_the_2000_rule() {
    let now = at(1_700_000_000);
    assert_eq!(since(1_700_000_000, now), "Less than a second ago");
    assert_eq!(since(1_699_999_999, now), "1 second ago");
    assert_eq!(since(1_700_000_000 - 86_400 * 3, now), "3 days ago");
    // Created in the future (clock skew): Go's negative duration.
    assert_eq!(since(1_700_000_100, now), "Less than a second ago");
    // At or before 2000-01-01T00:00:00Z: N/A.
    assert_eq!(since(946_684_800, now), "N/A");
    assert_eq!(since(946_684_801, now), "23 years ago");
    assert_eq!(since(0, now), "N/A");
    assert_eq!(since(-5, now), "N/A");
    assert_eq!(running_for(at(100), at(160)), "About a minute ago");
}

#[test]
fn container_status_spellings() {
    let now = at(10_000);
    let started = at(10_000 - 3);
    let cases = [
        (ContainerStatus::Created, "Created"),
        (
            ContainerStatus::Running {
                started,
                health: None,
            },
            "Up 3 seconds",
        ),
        (
            ContainerStatus::Running {
                started: now,
                health: None,
            },
            "Up Less than a second",
        ),
        (
            ContainerStatus::Running {
                started,
                health: Some("healthy".into()),
            },
            "Up 3 seconds (healthy)",
        ),
        (
            ContainerStatus::Running {
                started,
                health: Some("starting".into()),
            },
            "Up 3 seconds (health: starting)",
        ),
        (
            ContainerStatus::Paused {
                started: at(10_000 - 7200),
            },
            "Up 2 hours (Paused)",
        ),
        (
            ContainerStatus::Restarting {
                exit_code: 1,
                finished: started,
            },
            "Restarting (1) 3 seconds ago",
        ),
        (
            ContainerStatus::Exited {
                exit_code: 0,
                finished: at(10_000 - 120),
            },
            "Exited (0) 2 minutes ago",
        ),
        (
            ContainerStatus::Exited {
                exit_code: 137,
                finished: at(10_000 - 3600),
            },
            "Exited (137) About an hour ago",
        ),
        (ContainerStatus::RemovalInProgress, "Removal In Progress"),
        (ContainerStatus::Dead, "Dead"),
    ];
    for (st, want) in cases {
        assert_eq!(container_status(&st, now), want);
    }
}

#[test]
fn rfc3339_dates() {
    assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(1_483_272_003, 0), "2017-01-01T12:00:03Z");
    assert_eq!(rfc3339(951_782_400, 0), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(-1, 0), "1969-12-31T23:59:59Z");
    assert_eq!(
        rfc3339(1_483_272_003, 3600 + 1800),
        "2017-01-01T13:30:03+01:30"
    );
    assert_eq!(rfc3339(1_483_228_800, -3600), "2016-12-31T23:00:00-01:00");
}

#[test]
fn ram_in_bytes_go_units_table() {
    let ok: &[(&str, i64)] = &[
        ("32", 32),
        ("32b", 32),
        ("32B", 32),
        ("32k", 32 * KIB),
        ("32K", 32 * KIB),
        ("32kb", 32 * KIB),
        ("32Kb", 32 * KIB),
        ("32Kib", 32 * KIB),
        ("32KIB", 32 * KIB),
        ("32Mb", 32 * MIB),
        ("32Gb", 32 * GIB),
        ("32Tb", 32 * TIB),
        ("32Pb", 32 * PIB),
        ("32PB", 32 * PIB),
        ("32P", 32 * PIB),
        ("32.3", 32),
        ("32.3 mb", (32.3 * MIB as f64) as i64),
        ("0.3MB", (0.3 * MIB as f64) as i64),
        ("512m", 512 * MIB),
        ("1.5g", 3 * GIB / 2),
    ];
    for &(s, want) in ok {
        assert_eq!(ram_in_bytes(s), Ok(want), "ram_in_bytes({s:?})");
    }
    for bad in [
        "", "hello", "-32", " 32 ", "32m b", "32bm", ".3kB", "32 bytes", "1e3",
    ] {
        assert_eq!(
            ram_in_bytes(bad),
            Err(ParseSizeError::Invalid(bad.into())),
            "ram_in_bytes({bad:?})"
        );
    }
    assert_eq!(
        ram_in_bytes("hello").unwrap_err().to_string(),
        "invalid size: 'hello'"
    );
    let err = ram_in_bytes("1.2.3m").unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"strconv.ParseFloat: parsing "1.2.3": invalid syntax"#
    );
}

#[test]
fn from_human_size_go_units_table() {
    let ok: &[(&str, i64)] = &[
        ("32", 32),
        ("32b", 32),
        ("32k", 32_000),
        ("32Kb", 32_000),
        ("32Mb", 32_000_000),
        ("32Gb", 32_000_000_000),
        ("32Tb", 32_000_000_000_000),
        ("32Pb", 32_000_000_000_000_000),
        ("32.5kB", 32_500),
        ("32.5 kB", 32_500),
        ("32.5 B", 32),
        ("0.3 K", 300),
    ];
    for &(s, want) in ok {
        assert_eq!(from_human_size(s), Ok(want), "from_human_size({s:?})");
    }
    for bad in ["", "hello", "-32", ".3kB", " 32 ", "32m b", "32bm"] {
        assert!(from_human_size(bad).is_err(), "from_human_size({bad:?})");
    }
}

const NS: i64 = 1;
const US: i64 = 1_000;
const MS: i64 = 1_000_000;
const SEC: i64 = 1_000_000_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;

#[test]
fn parse_go_duration_valid() {
    let cases: &[(&str, i64)] = &[
        ("0", 0),
        ("5s", 5 * SEC),
        ("30s", 30 * SEC),
        ("1478s", 1478 * SEC),
        ("-5s", -5 * SEC),
        ("+5s", 5 * SEC),
        ("-0", 0),
        ("+0", 0),
        ("5.0s", 5 * SEC),
        ("5.6s", 5 * SEC + 600 * MS),
        ("5.s", 5 * SEC),
        (".5s", 500 * MS),
        ("1.004s", SEC + 4 * MS),
        ("100.00100s", 100 * SEC + MS),
        ("10ns", 10 * NS),
        ("11us", 11 * US),
        ("12µs", 12 * US),
        ("12μs", 12 * US),
        ("13ms", 13 * MS),
        ("15m", 15 * MIN),
        ("16h", 16 * HOUR),
        ("3h30m", 3 * HOUR + 30 * MIN),
        ("10.5s4m", 4 * MIN + 10 * SEC + 500 * MS),
        ("-2m3.4s", -(2 * MIN + 3 * SEC + 400 * MS)),
        (
            "1h2m3s4ms5us6ns",
            HOUR + 2 * MIN + 3 * SEC + 4 * MS + 5 * US + 6 * NS,
        ),
        ("1h2m3.5s", HOUR + 2 * MIN + 3 * SEC + 500 * MS),
        ("39h9m14.425s", 39 * HOUR + 9 * MIN + 14 * SEC + 425 * MS),
        ("52763797000ns", 52_763_797_000),
        ("0.3333333333333333333h", 20 * MIN),
        ("9007199254740993ns", (1 << 53) + 1),
        ("9223372036854775807ns", i64::MAX),
        ("9223372036854775.807us", i64::MAX),
        ("9223372036.854775807s", i64::MAX),
        ("-9223372036854775808ns", i64::MIN),
        ("-9223372036.854775808s", i64::MIN),
        ("0.100000000000000000000h", 6 * MIN),
        (
            "0.830103483285477580700h",
            49 * MIN + 48 * SEC + 372_539_827,
        ),
    ];
    for &(s, want) in cases {
        assert_eq!(parse_go_duration(s), Ok(want), "parse_go_duration({s:?})");
    }
}

#[test]
fn parse_go_duration_errors() {
    for bad in [
        "",
        "-",
        "s",
        ".",
        "-.",
        ".s",
        "+.s",
        "9223372036854775808ns",
        "-9223372036854775809ns",
    ] {
        assert_eq!(
            parse_go_duration(bad),
            Err(ParseDurationError::Invalid(bad.into())),
            "parse_go_duration({bad:?})"
        );
    }
    assert_eq!(
        parse_go_duration("3").unwrap_err().to_string(),
        r#"time: missing unit in duration "3""#
    );
    assert_eq!(
        parse_go_duration("1.2.3s"),
        Err(ParseDurationError::MissingUnit("1.2.3s".into()))
    );
    assert_eq!(
        parse_go_duration("1d").unwrap_err().to_string(),
        r#"time: unknown unit "d" in duration "1d""#
    );
    assert_eq!(
        parse_go_duration("").unwrap_err().to_string(),
        r#"time: invalid duration """#
    );
    assert_eq!(
        parse_go_duration("\u{85}").unwrap_err().to_string(),
        r#"time: invalid duration "\xc2\x85""#
    );
}

#[test]
fn parse_duration_non_negative() {
    assert_eq!(parse_duration("300ms"), Ok(Duration::from_millis(300)));
    assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
    assert_eq!(
        parse_duration("-1s").unwrap_err().to_string(),
        r#"negative duration "-1s""#
    );
}
