//! Entry points shared by the `cargo fuzz` targets (`fuzz/`), the
//! regression test replaying `tests/fuzz-regressions/` and the stable
//! seeded driver (`strata_oci::fuzzing::drive`). Any panic is a bug:
//! templates come from users (`--format`).

use serde_json::{Value, json};

use crate::output::{render_inspect, render_list};
use crate::template::{MissingKey, RenderOptions, Template};

/// Go templates: byte 0 picks the options, the rest is the template, then
/// optionally a NUL and JSON data (a fixed docker-like object otherwise).
pub fn template(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (text, json_data) = match rest.iter().position(|b| *b == 0) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let text = String::from_utf8_lossy(text);
    let value = json_data
        .and_then(|d| serde_json::from_slice::<Value>(d).ok())
        .unwrap_or_else(sample);
    let opts = RenderOptions {
        missing_key: if flags & 1 == 0 {
            MissingKey::Default
        } else {
            MissingKey::Error
        },
        header: flags & 2 != 0,
    };
    match Template::parse(&text) {
        Ok(t) => {
            let mut out = String::new();
            let _ = t.execute(&value, opts, &mut out);
            let _ = t.render(&Value::Null);
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("template: "), "{msg}");
        }
    }
    if flags & 4 != 0 {
        let _ = render_list(
            &text,
            &[("ID", "ID"), ("Name", "NAME")],
            std::slice::from_ref(&value),
        );
    }
    if flags & 8 != 0 {
        let _ = render_inspect(&text, &[value]);
    }
}

/// A docker-like object with every JSON kind.
fn sample() -> Value {
    json!({
        "ID": "0123456789ab",
        "Name": "web",
        "Size": 12345,
        "Ratio": 1.5,
        "Big": 1e300,
        "Neg": -7,
        "Running": true,
        "Nil": null,
        "Tags": ["a", "b", "c"],
        "Empty": [],
        "Labels": {"a": "1", "b": "2"},
        "Config": {"Env": ["A=1", "B=2"], "Cmd": ["sh", "-c", "x"], "Nested": {"Deep": [1, [2, [3]]]}},
    })
}

/// Structure-aware templates: actions, pipelines and functions mixed.
pub fn gen_template(rng: &mut dyn FnMut(usize) -> usize) -> Vec<u8> {
    const PIECES: &[&str] = &[
        "{{.ID}}",
        "{{.Config.Env}}",
        "{{json .}}",
        "{{range .Tags}}",
        "{{range $i, $e := .Labels}}",
        "{{end}}",
        "{{else}}",
        "{{if .Running}}",
        "{{with .Nil}}",
        "{{break}}",
        "{{continue}}",
        "{{$x := .Size}}",
        "{{$x}}",
        "{{printf \"%5.2f|%x|%q|%v\" .Ratio .Size .Name .Tags}}",
        "{{index .Tags 1}}",
        "{{index .Labels \"z\"}}",
        "{{slice .Name 1 3}}",
        "{{len .Tags}}",
        "{{split .Name \"e\"}}",
        "{{join .Tags \",\"}}",
        "{{pad .Name 3 3}}",
        "{{truncate .Name 2}}",
        "{{title .Name}}",
        "{{upper .Name}}",
        "{{eq .Size 12345}}",
        "{{lt .Neg 0}}",
        "{{and 1 0}}",
        "{{or .Nil \"x\"}}",
        "{{not .Running}}",
        "{{html \"<a>\"}}",
        "{{js \"'\"}}",
        "{{urlquery \"a b\"}}",
        "{{print 1 2}}",
        "{{println}}",
        "{{/* c */}}",
        "{{- .Name -}}",
        "{{.Missing.Key}}",
        "{{(.Config).Env}}",
        "{{.Big}}",
        "{{printf \"%d\" .Big}}",
        "{{index .Config.Nested.Deep 1 1 0}}",
        "\t",
        "\n",
        "text",
        "{{",
        "}}",
        "(",
        ")",
        "|",
        "\"",
        "`",
    ];
    let mut s = String::new();
    for _ in 0..1 + rng(12) {
        s.push_str(PIECES[rng(PIECES.len())]);
    }
    let mut out = vec![rng(16) as u8];
    out.extend_from_slice(s.as_bytes());
    out
}
