//! Go's number and string spelling, as `fmt` and `strconv` produce it.
//!
//! Docker's output is printed by Go, so a float is `1e+06` (not `1000000`),
//! `%.3g` of `999.999` is `1e+03`, and `%q` quotes like `strconv.Quote`.
//! This module restates those rules over Rust's exact float formatting:
//! Rust's `{:e}` yields the shortest round-trip digits and `{:.Ne}` the
//! correctly rounded (ties-to-even) ones — the same digits Go's `strconv`
//! picks — and the layout rules (`%e` vs `%f` choice, exponent padding) are
//! Go's.

/// More significant digits than any f64 has (767 at most): asking Rust
/// for more only appends zeros.
const MAX_EXACT_DIGITS: usize = 800;

/// Decimal digits of a finite, non-negative float: value = 0.`digits` × 10^`dp`.
/// Trailing zeros are trimmed, so zero has no digits.
struct Decimal {
    digits: Vec<u8>,
    dp: i32,
}

impl Decimal {
    /// Digits of `x` (finite, ≥ 0): shortest round-trip when `sig` is `None`,
    /// else rounded to `sig` (≥ 1) significant digits.
    fn of(x: f64, sig: Option<usize>) -> Decimal {
        // An f64 has at most 767 significant decimal digits; the rest are
        // zeros (and Rust's formatter refuses precisions over 65535, which
        // Go's `%.100000e` asks for).
        let s = match sig {
            None => format!("{x:e}"),
            Some(p) => format!("{:.*e}", p.clamp(1, MAX_EXACT_DIGITS) - 1, x),
        };
        let (mant, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let mut digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
        while digits.last() == Some(&b'0') {
            digits.pop();
        }
        if digits.is_empty() {
            return Decimal { digits, dp: 0 };
        }
        Decimal {
            digits,
            dp: exp + 1,
        }
    }

    fn nd(&self) -> i32 {
        self.digits.len() as i32
    }

    fn digit(&self, i: i32) -> char {
        if i >= 0 && i < self.nd() {
            self.digits[i as usize] as char
        } else {
            '0'
        }
    }

    /// `%e` layout with `prec` digits after the point (`e` is `'e'` or `'E'`).
    fn fmt_e(&self, prec: usize, e: char) -> String {
        let mut out = String::new();
        out.push(self.digit(0));
        if prec > 0 {
            out.push('.');
            for i in 1..=prec {
                out.push(self.digit(i as i32));
            }
        }
        out.push(e);
        let exp = if self.digits.is_empty() {
            0
        } else {
            self.dp - 1
        };
        out.push(if exp < 0 { '-' } else { '+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push('0');
        }
        out.push_str(&a.to_string());
        out
    }

    /// `%f` layout with `prec` digits after the point.
    fn fmt_f(&self, prec: usize) -> String {
        let mut out = String::new();
        if self.dp > 0 {
            for i in 0..self.dp {
                out.push(self.digit(i));
            }
        } else {
            out.push('0');
        }
        if prec > 0 {
            out.push('.');
            for i in 1..=prec as i32 {
                out.push(self.digit(self.dp + i - 1));
            }
        }
        out
    }
}

fn special(x: f64) -> Option<&'static str> {
    if x.is_nan() {
        Some("NaN")
    } else if x == f64::INFINITY {
        Some("+Inf")
    } else if x == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

fn sign(x: f64, body: String) -> String {
    if x.is_sign_negative() {
        format!("-{body}")
    } else {
        body
    }
}

/// `strconv.FormatFloat(x, 'g', prec, 64)`; `prec = None` is Go's `-1`
/// (shortest), which is also what `%v` prints.
pub fn format_g(x: f64, prec: Option<usize>, upper: bool) -> String {
    if let Some(s) = special(x) {
        return s.to_string();
    }
    let e = if upper { 'E' } else { 'e' };
    let prec = prec.map(|p| p.max(1));
    let d = Decimal::of(x.abs(), prec);
    let nd = d.nd();
    let (mut p, eprec) = match prec {
        None => (nd, 6),
        Some(p) => {
            let p = p as i32;
            let eprec = if p > nd && nd >= d.dp { nd } else { p };
            (p, eprec)
        }
    };
    let exp = d.dp - 1;
    let body = if exp < -4 || exp >= eprec {
        if p > nd {
            p = nd;
        }
        d.fmt_e((p - 1).max(0) as usize, e)
    } else {
        if p > d.dp {
            p = nd;
        }
        d.fmt_f((p - d.dp).max(0) as usize)
    };
    sign(x, body)
}

/// `strconv.FormatFloat(x, 'e', prec, 64)`; `None` is shortest.
pub fn format_e(x: f64, prec: Option<usize>, upper: bool) -> String {
    if let Some(s) = special(x) {
        return s.to_string();
    }
    let e = if upper { 'E' } else { 'e' };
    let body = match prec {
        None => {
            let d = Decimal::of(x.abs(), None);
            d.fmt_e((d.nd() - 1).max(0) as usize, e)
        }
        Some(p) => Decimal::of(x.abs(), Some(p + 1)).fmt_e(p, e),
    };
    sign(x, body)
}

/// `strconv.FormatFloat(x, 'f', prec, 64)`; `None` is shortest.
pub fn format_f(x: f64, prec: Option<usize>) -> String {
    if let Some(s) = special(x) {
        return s.to_string();
    }
    let body = match prec {
        None => {
            let d = Decimal::of(x.abs(), None);
            d.fmt_f((d.nd() - d.dp).max(0) as usize)
        }
        // Rust's fixed-point formatting rounds the exact value ties-to-even,
        // as Go does.
        Some(p) => {
            // Past 1074 places an f64's decimal expansion is all zeros.
            let exact = p.min(MAX_EXACT_DIGITS + 400);
            let mut s = format!("{:.*}", exact, x.abs());
            s.extend(std::iter::repeat_n('0', p - exact));
            s
        }
    };
    sign(x, body)
}

/// How `encoding/json` spells a float64: shortest `'f'`, switching to `'e'`
/// below 1e-6 or from 1e21, with a one-digit negative exponent (`1e-7`).
pub fn json_float(x: f64) -> String {
    let a = x.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = format_e(x, None, false);
        // Go trims "e-07" to "e-7" (only negative exponents).
        if let Some(i) = s.find("e-0") {
            return format!("{}e-{}", &s[..i], &s[i + 3..]);
        }
        return s;
    }
    format_f(x, None)
}

pub use strata_go::quote::{is_print, quote, quote_rune};

/// `%#U` of a rune: `U+0023 '#'` (the character only when printable).
pub fn sharp_u(c: char) -> String {
    if is_print(c) {
        format!("U+{:04X} '{}'", c as u32, c)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

/// `%.Nq` then `...`, as `item.String()` in the template lexer shortens long
/// tokens: the first `n` characters, quoted.
pub fn quote_prefix(s: &str, n: usize) -> String {
    let head: String = s.chars().take(n).collect();
    quote(&head, false)
}
