//! Display width of text, and docker's two truncations: IDs and `…`.
//!
//! Docker measures text twice, differently:
//! * its tabwriter fork (`cli/command/formatter/tabwriter`) sizes cells with
//!   `go-runewidth`: East Asian wide and fullwidth characters count 2,
//!   combining marks, zero-width and control characters count 0 —
//!   [`display_width`];
//! * `formatter.Ellipsis` (used for `CREATED BY`, `COMMAND`, …) uses
//!   `golang.org/x/text/width`: wide/fullwidth count 2, everything else 1 —
//!   [`ellipsis`].
//!
//! The tables below are a condensed restatement of Unicode's East Asian
//! Width (W, F) and combining-mark ranges; they cover CJK, Hangul, kana,
//! fullwidth forms and the common emoji blocks. Grapheme clusters (emoji
//! joined by U+200D) are measured per character, not per cluster.

/// Ranges (inclusive) of East Asian Wide and Fullwidth characters.
const WIDE: &[(u32, u32)] = &[
    (0x1100, 0x115F),
    (0x231A, 0x231B),
    (0x2329, 0x232A),
    (0x23E9, 0x23EC),
    (0x23F0, 0x23F0),
    (0x23F3, 0x23F3),
    (0x25FD, 0x25FE),
    (0x2614, 0x2615),
    (0x2648, 0x2653),
    (0x267F, 0x267F),
    (0x2693, 0x2693),
    (0x26A1, 0x26A1),
    (0x26AA, 0x26AB),
    (0x26BD, 0x26BE),
    (0x26C4, 0x26C5),
    (0x26CE, 0x26CE),
    (0x26D4, 0x26D4),
    (0x26EA, 0x26EA),
    (0x26F2, 0x26F3),
    (0x26F5, 0x26F5),
    (0x26FA, 0x26FA),
    (0x26FD, 0x26FD),
    (0x2705, 0x2705),
    (0x270A, 0x270B),
    (0x2728, 0x2728),
    (0x274C, 0x274C),
    (0x274E, 0x274E),
    (0x2753, 0x2755),
    (0x2757, 0x2757),
    (0x2795, 0x2797),
    (0x27B0, 0x27B0),
    (0x27BF, 0x27BF),
    (0x2B1B, 0x2B1C),
    (0x2B50, 0x2B50),
    (0x2B55, 0x2B55),
    (0x2E80, 0x303E),
    (0x3041, 0x33FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xA000, 0xA4CF),
    (0xA960, 0xA97F),
    (0xAC00, 0xD7A3),
    (0xF900, 0xFAFF),
    (0xFE10, 0xFE19),
    (0xFE30, 0xFE6F),
    (0xFF00, 0xFF60),
    (0xFFE0, 0xFFE6),
    (0x16FE0, 0x16FE4),
    (0x17000, 0x18CFF),
    (0x1B000, 0x1B2FF),
    (0x1F004, 0x1F004),
    (0x1F0CF, 0x1F0CF),
    (0x1F18E, 0x1F18E),
    (0x1F191, 0x1F19A),
    (0x1F200, 0x1F251),
    (0x1F260, 0x1F265),
    (0x1F300, 0x1F320),
    (0x1F32D, 0x1F335),
    (0x1F337, 0x1F37C),
    (0x1F37E, 0x1F393),
    (0x1F3A0, 0x1F3CA),
    (0x1F3CF, 0x1F3D3),
    (0x1F3E0, 0x1F3F0),
    (0x1F3F4, 0x1F3F4),
    (0x1F3F8, 0x1F43E),
    (0x1F440, 0x1F440),
    (0x1F442, 0x1F4FC),
    (0x1F4FF, 0x1F53D),
    (0x1F54B, 0x1F54E),
    (0x1F550, 0x1F567),
    (0x1F57A, 0x1F57A),
    (0x1F595, 0x1F596),
    (0x1F5A4, 0x1F5A4),
    (0x1F5FB, 0x1F64F),
    (0x1F680, 0x1F6C5),
    (0x1F6CC, 0x1F6CC),
    (0x1F6D0, 0x1F6D2),
    (0x1F6D5, 0x1F6D7),
    (0x1F6DC, 0x1F6DF),
    (0x1F6EB, 0x1F6EC),
    (0x1F6F4, 0x1F6FC),
    (0x1F7E0, 0x1F7EB),
    (0x1F7F0, 0x1F7F0),
    (0x1F90C, 0x1F93A),
    (0x1F93C, 0x1F945),
    (0x1F947, 0x1F9FF),
    (0x1FA70, 0x1FAFF),
    (0x20000, 0x2FFFD),
    (0x30000, 0x3FFFD),
];

/// Ranges (inclusive) of characters `go-runewidth` gives no width:
/// combining marks, zero-width spaces and joiners, variation selectors.
const ZERO: &[(u32, u32)] = &[
    (0x0300, 0x036F),
    (0x0483, 0x0489),
    (0x0591, 0x05BD),
    (0x05BF, 0x05BF),
    (0x05C1, 0x05C2),
    (0x05C4, 0x05C5),
    (0x05C7, 0x05C7),
    (0x0610, 0x061A),
    (0x064B, 0x065F),
    (0x0670, 0x0670),
    (0x06D6, 0x06DC),
    (0x06DF, 0x06E4),
    (0x06E7, 0x06E8),
    (0x06EA, 0x06ED),
    (0x0E31, 0x0E31),
    (0x0E34, 0x0E3A),
    (0x0E47, 0x0E4E),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x20D0, 0x20FF),
    (0x302A, 0x302F),
    (0x3099, 0x309A),
    (0xFE00, 0xFE0F),
    (0xFE20, 0xFE2F),
    (0xFEFF, 0xFEFF),
    (0xE0000, 0xE007F),
    (0xE0100, 0xE01EF),
];

fn in_table(table: &[(u32, u32)], c: char) -> bool {
    let u = c as u32;
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < u {
                std::cmp::Ordering::Less
            } else if lo > u {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Whether `c` is East Asian Wide or Fullwidth (takes two columns).
pub fn is_wide(c: char) -> bool {
    (c as u32) >= 0x1100 && in_table(WIDE, c)
}

/// Columns `c` takes in a terminal, as `go-runewidth` counts them.
pub fn char_width(c: char) -> usize {
    if c.is_control() || in_table(ZERO, c) {
        0
    } else if is_wide(c) {
        2
    } else {
        1
    }
}

/// Columns `s` takes in a terminal, as docker's tabwriter counts them.
///
/// ```
/// use strata_format::width::display_width;
/// assert_eq!(display_width("abc"), 3);
/// assert_eq!(display_width("日本"), 4);
/// assert_eq!(display_width("e\u{301}"), 1); // e + combining acute
/// ```
pub fn display_width(s: &str) -> usize {
    if s.is_ascii() {
        return s.bytes().filter(|b| !b.is_ascii_control()).count();
    }
    s.chars().map(char_width).sum()
}

/// docker's `formatter.Ellipsis`: cut `s` to `max` display columns, the
/// last of them `…` (wide characters count 2, everything else 1).
///
/// Reproduces docker's edge cases: `max == 0` gives `""`; `max == 1` gives
/// the first character alone; a string whose first character is already
/// wider than `max - 1` comes back whole.
///
/// ```
/// use strata_format::width::ellipsis;
/// assert_eq!(ellipsis("/bin/sh -c #(nop) CMD [\"sh\"]", 10), "/bin/sh -…");
/// assert_eq!(ellipsis("short", 10), "short");
/// ```
pub fn ellipsis(s: &str, max: usize) -> String {
    if max == 0 {
        return String::new();
    }
    let chars: Vec<char> = s.chars().collect();
    if max == 1 {
        return chars.first().map(|c| c.to_string()).unwrap_or_default();
    }
    if s.is_ascii() {
        if s.len() <= max {
            return s.to_string();
        }
        return chars[..max - 1].iter().collect::<String>() + "…";
    }
    let mut cumulative = Vec::with_capacity(chars.len());
    let mut total = 0;
    for &c in &chars {
        total += if is_wide(c) { 2 } else { 1 };
        cumulative.push(total);
    }
    if total <= max {
        return s.to_string();
    }
    for i in 0..cumulative.len().saturating_sub(1) {
        if cumulative[i] < max && cumulative[i + 1] >= max {
            return chars[..=i].iter().collect::<String>() + "…";
        }
    }
    s.to_string()
}

/// docker's `TruncateID`: drop everything up to and including the first
/// `:` (the digest algorithm), keep the first 12 bytes.
///
/// ```
/// use strata_format::width::truncate_id;
/// assert_eq!(truncate_id("sha256:0123456789abcdef0123"), "0123456789ab");
/// assert_eq!(truncate_id("image:tag"), "tag");
/// ```
pub fn truncate_id(id: &str) -> &str {
    let id = match id.find(':') {
        Some(i) => &id[i + 1..],
        None => id,
    };
    if id.len() <= 12 {
        return id;
    }
    let mut end = 12;
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    &id[..end]
}
