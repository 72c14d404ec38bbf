//! Hostile input: templates, formats, sizes and durations assembled at
//! random from meaningful fragments must fail cleanly, never panic.
//! `STRATA_FUZZ_ROUNDS` raises the number of rounds (default 3000).

use serde_json::{Value, json};
use strata_format::output::{ListFormat, render_inspect};
use strata_format::table::align;
use strata_format::template::{MissingKey, RenderOptions, Template};
use strata_format::units::{from_human_size, parse_go_duration, ram_in_bytes};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

fn rounds() -> usize {
    std::env::var("STRATA_FUZZ_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000)
}

const TEMPLATE_PARTS: &[&str] = &[
    "{{",
    "}}",
    "{{-",
    "-}}",
    " ",
    "\n",
    "\t",
    ".",
    ".A",
    ".B.C",
    ".Tags",
    ".M",
    ".N",
    "$",
    "$x",
    "$x :=",
    "$i, $e :=",
    "=",
    ":=",
    "|",
    "(",
    ")",
    "\"s\"",
    "\"\\u00e9\"",
    "`raw`",
    "'c'",
    "'\\n'",
    "1",
    "-1",
    "1.5",
    "1e9",
    "0x1F",
    "99999999999999999999",
    "true",
    "nil",
    "if",
    "else",
    "end",
    "range",
    "with",
    "break",
    "continue",
    "template",
    "define",
    "block",
    "json",
    "index",
    "len",
    "slice",
    "printf",
    "print",
    "println",
    "join",
    "split",
    "upper",
    "title",
    "pad",
    "truncate",
    "eq",
    "lt",
    "and",
    "or",
    "not",
    "html",
    "js",
    "urlquery",
    "\"%d %s %q %v %x %5.2f %*d\"",
    "\"%\"",
    ",",
    "/*",
    "*/",
    "é",
    "日本",
    "\u{0}",
    "#",
    "}",
    "{",
    "x",
];

fn data() -> Value {
    json!({
        "A": "a", "B": {"C": [1, 2.5, "x", null, {"D": true}]}, "Tags": ["t1", "t2"],
        "M": {"k": "v", "n": 1}, "N": null, "Num": 7,
    })
}

#[test]
fn random_templates_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let data = data();
    let mut parsed = 0;
    for _ in 0..rounds() {
        let n = 1 + rng.next() % 24;
        let text: String = (0..n).map(|_| rng.pick(TEMPLATE_PARTS)).collect();
        let Ok(t) = Template::parse(&text) else {
            continue;
        };
        parsed += 1;
        for opts in [
            RenderOptions::default(),
            RenderOptions {
                missing_key: MissingKey::Error,
                header: false,
            },
            RenderOptions {
                missing_key: MissingKey::Default,
                header: true,
            },
        ] {
            let _ = t.render_with(&data, opts);
        }
        let _ = ListFormat {
            format: &format!("table {text}"),
            quiet: false,
            quiet_overrides_format: false,
            default_table: "",
            quiet_format: "",
            headers: &[("A", "AH")],
        }
        .render(std::slice::from_ref(&data));
        let _ = render_inspect(&text, std::slice::from_ref(&data));
    }
    // The fragments must produce valid templates too, or this test tests
    // only the parser's error paths.
    assert!(parsed > rounds() / 50, "only {parsed} templates parsed");
}

#[test]
fn random_printf_formats_never_panic() {
    let parts = [
        "%", "-", "+", "#", "0", " ", "*", ".", "1", "9", "99999999", "d", "s", "q", "v", "x", "X",
        "f", "e", "g", "c", "U", "T", "t", "o", "b", "é", "[", "]", "%%",
    ];
    let args = [
        "1", "-7", "2.5", "\"s\"", ".Tags", ".M", ".N", ".Nope", "true", "1e300", "'x'",
    ];
    let mut rng = Rng(42);
    let data = data();
    for _ in 0..rounds() {
        let n = 1 + rng.next() % 8;
        let fmt: String = (0..n).map(|_| rng.pick(&parts)).collect();
        let nargs = rng.next() % 4;
        let args: Vec<&str> = (0..nargs).map(|_| rng.pick(&args)).collect();
        let text = format!("{{{{printf {:?} {}}}}}", fmt, args.join(" "));
        let t = Template::parse(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        t.render(&data).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    }
}

#[test]
fn random_sizes_durations_and_tables_never_panic() {
    let parts = [
        "0",
        "1",
        "9",
        ".",
        "-",
        "+",
        " ",
        "k",
        "m",
        "g",
        "i",
        "b",
        "B",
        "h",
        "s",
        "ms",
        "µs",
        "ns",
        "é",
        "e",
        "99999999999999999999",
        "\t",
        "\n",
        "\u{c}",
        "\u{b}",
        "日本",
    ];
    let mut rng = Rng(7);
    for _ in 0..rounds() {
        let n = 1 + rng.next() % 10;
        let s: String = (0..n).map(|_| rng.pick(&parts)).collect();
        let _ = ram_in_bytes(&s);
        let _ = from_human_size(&s);
        let _ = parse_go_duration(&s);
        let out = align(&s);
        assert_eq!(
            out.matches('\n').count(),
            s.matches(['\n', '\u{c}']).count(),
            "{s:?}"
        );
    }
}
