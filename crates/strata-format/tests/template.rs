//! Template engine: each construct, Go's value printing, docker's
//! functions, and Go's error messages.

use serde_json::{Value, json};
use strata_format::template::{MissingKey, RenderOptions, Template};

#[track_caller]
fn render(tmpl: &str, data: &Value) -> String {
    let t = Template::parse(tmpl).unwrap_or_else(|e| panic!("parse {tmpl:?}: {e}"));
    t.render(data)
        .unwrap_or_else(|e| panic!("render {tmpl:?}: {e}"))
}

#[track_caller]
fn parse_err(tmpl: &str) -> String {
    match Template::parse(tmpl) {
        Ok(_) => panic!("{tmpl:?} parsed"),
        Err(e) => e.to_string(),
    }
}

#[track_caller]
fn exec_err(tmpl: &str, data: &Value) -> String {
    let t = Template::parse(tmpl).unwrap_or_else(|e| panic!("parse {tmpl:?}: {e}"));
    match t.render(data) {
        Ok(s) => panic!("{tmpl:?} rendered {s:?}"),
        Err(e) => e.to_string(),
    }
}

fn data() -> Value {
    json!({
        "ID": "0123456789ab",
        "Name": "web",
        "Size": 42,
        "Ratio": 1.5,
        "Big": 1_000_000.0,
        "Ok": true,
        "Nil": null,
        "Tags": ["a", "b", "c"],
        "Mixed": [1, "x", null, 2.5],
        "Empty": [],
        "Labels": {"com.example.b": "2", "com.example.a": "1"},
        "NoLabels": {},
        "Config": {"Env": ["PATH=/bin", "A=<1&2>"], "Cmd": null, "User": ""},
    })
}

#[test]
fn text_and_fields() {
    let d = data();
    assert_eq!(render("plain text", &d), "plain text");
    assert_eq!(render("{{.ID}}", &d), "0123456789ab");
    assert_eq!(
        render("{{.Config.User}}|{{.Config.Env}}", &d),
        "|[PATH=/bin A=<1&2>]"
    );
    assert_eq!(render("{{.Name}}", &json!({"Name": "x"})), "x");
    assert_eq!(render("{{.}}", &json!("raw")), "raw");
}

#[test]
fn values_print_as_go_prints_them() {
    let d = data();
    assert_eq!(render("{{.Size}}", &d), "42");
    assert_eq!(render("{{.Ratio}}", &d), "1.5");
    assert_eq!(render("{{.Big}}", &d), "1e+06");
    assert_eq!(render("{{.}}", &json!(123456.0)), "123456");
    assert_eq!(render("{{.}}", &json!(0.0001)), "0.0001");
    assert_eq!(render("{{.}}", &json!(0.00001)), "1e-05");
    assert_eq!(render("{{.Ok}}", &d), "true");
    assert_eq!(render("{{.Tags}}", &d), "[a b c]");
    assert_eq!(render("{{.Mixed}}", &d), "[1 x <nil> 2.5]");
    assert_eq!(render("{{.Empty}}", &d), "[]");
    assert_eq!(
        render("{{.Labels}}", &d),
        "map[com.example.a:1 com.example.b:2]"
    );
    assert_eq!(render("{{.NoLabels}}", &d), "map[]");
    assert_eq!(
        render("{{.}}", &json!({"b": [1, {"z": null}], "a": "x"})),
        "map[a:x b:[1 map[z:<nil>]]]"
    );
}

#[test]
fn missing_null_and_no_value() {
    let d = data();
    assert_eq!(render("{{.Nope}}", &d), "<no value>");
    assert_eq!(render("{{.Nope.Deeper}}", &d), "<no value>");
    assert_eq!(render("{{.Nil}}", &d), "<nil>");
    assert_eq!(render("{{.Config.Cmd}}", &d), "<nil>");
    assert_eq!(render("{{print .Nope}}", &d), "<nil>");
    assert_eq!(
        exec_err("{{.Nil.X}}", &d),
        r#"template: :1:6: executing "" at <.Nil.X>: nil pointer evaluating interface {}.X"#
    );
    assert_eq!(
        exec_err("{{.Name.X}}", &d),
        r#"template: :1:7: executing "" at <.Name.X>: can't evaluate field X in type string"#
    );
}

#[test]
fn missing_key_error_option() {
    let t = Template::parse("{{.Config.Nope}}").unwrap();
    let opts = RenderOptions {
        missing_key: MissingKey::Error,
        ..RenderOptions::default()
    };
    assert_eq!(
        t.render_with(&data(), opts).unwrap_err().to_string(),
        r#"template: :1:9: executing "" at <.Config.Nope>: map has no entry for key "Nope""#
    );
    let t = Template::parse("{{.Foo}}").unwrap();
    assert_eq!(
        t.render_with(&data(), opts).unwrap_err().to_string(),
        r#"template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo""#
    );
}

#[test]
fn json_function() {
    let d = data();
    assert_eq!(
        render("{{json .Config.Env}}", &d),
        r#"["PATH=/bin","A=<1&2>"]"#
    );
    assert_eq!(
        render("{{.Labels | json}}", &d),
        r#"{"com.example.b":"2","com.example.a":"1"}"#
    );
    assert_eq!(render("{{json .Nope}}", &d), "null");
    assert_eq!(render("{{json .Nil}}", &d), "null");
    assert_eq!(
        render(
            "{{json .}}",
            &json!({"f": 1.0, "g": 1e21, "h": 1e-7, "s": "\t\u{1}\u{2028}"})
        ),
        r#"{"f":1,"g":1e+21,"h":1e-7,"s":"\t\u0001\u2028"}"#
    );
}

#[test]
fn index_function() {
    let d = data();
    assert_eq!(render(r#"{{index .Labels "com.example.a"}}"#, &d), "1");
    assert_eq!(render("{{index .Tags 0}}{{index .Tags 2}}", &d), "ac");
    assert_eq!(render("{{index .Mixed 3}}", &d), "2.5");
    // docker's labels are map[string]string: a missing key is "".
    assert_eq!(render(r#"[{{index .Labels "nope"}}]"#, &d), "[]");
    assert_eq!(render(r#"[{{index .NoLabels "nope"}}]"#, &d), "[]");
    assert_eq!(render(r#"[{{index .Nil "nope"}}]"#, &d), "[]");
    assert_eq!(render(r#"{{index .Mixed 1 0}}"#, &d), "120");
    assert_eq!(render(r#"{{index . "Tags" 1}}"#, &d), "b");
    assert_eq!(
        exec_err("{{index .Tags 5}}", &d),
        r#"template: :1:2: executing "" at <index .Tags 5>: error calling index: index out of range: 5"#
    );
    assert_eq!(
        exec_err("{{index .Tags 3}}", &d),
        r#"template: :1:2: executing "" at <index .Tags 3>: error calling index: reflect: slice index out of range"#
    );
    assert_eq!(
        exec_err(r#"{{index .Tags "x"}}"#, &d),
        r#"template: :1:2: executing "" at <index .Tags "x">: error calling index: cannot index slice/array with type string"#
    );
    assert_eq!(
        exec_err("{{index .Size 1}}", &d),
        r#"template: :1:2: executing "" at <index .Size 1>: error calling index: can't index item of type int"#
    );
    assert_eq!(
        exec_err("{{index .Nope 1}}", &d),
        r#"template: :1:2: executing "" at <index .Nope 1>: error calling index: index of untyped nil"#
    );
}

#[test]
fn string_functions() {
    let d = data();
    assert_eq!(render(r#"{{join .Tags ","}}"#, &d), "a,b,c");
    assert_eq!(render(r#"[{{join .Config.Cmd " "}}]"#, &d), "[]");
    assert_eq!(render(r#"{{split "a:b:c" ":"}}"#, &d), "[a b c]");
    assert_eq!(render(r#"{{index (split .ID "5") 1}}"#, &d), "6789ab");
    assert_eq!(render(r#"{{len (split "abc" "")}}"#, &d), "3");
    assert_eq!(
        render("{{upper .Name}} {{lower \"MiXed\"}}", &d),
        "WEB mixed"
    );
    assert_eq!(
        render(r#"{{title "hello wide-world foo_bar"}}"#, &d),
        "Hello Wide-World Foo_bar"
    );
    assert_eq!(render(r#"{{upper "straße"}}"#, &d), "STRAßE");
    assert_eq!(
        render("[{{pad .Name 2 1}}][{{pad .Config.User 2 1}}]", &d),
        "[  web ][]"
    );
    assert_eq!(
        render("{{truncate .ID 4}} {{truncate .Name 10}}", &d),
        "0123 web"
    );
    assert_eq!(
        exec_err(r#"{{join .Mixed ","}}"#, &d),
        r#"template: :1:7: executing "" at <.Mixed>: wrong type for value; expected []string; got []interface {}"#
    );
    assert_eq!(
        exec_err("{{upper .Size}}", &d),
        r#"template: :1:8: executing "" at <.Size>: wrong type for value; expected string; got int"#
    );
    assert_eq!(
        exec_err("{{.Size | upper}}", &d),
        r#"template: :1:10: executing "" at <upper>: wrong type for value; expected string; got int"#
    );
    assert_eq!(
        exec_err("{{join .Tags}}", &d),
        r#"template: :1:2: executing "" at <join>: wrong number of args for join: want 2 got 1"#
    );
    assert_eq!(
        exec_err("{{upper .Nope}}", &d),
        r#"template: :1:8: executing "" at <.Nope>: invalid value; expected string"#
    );
    assert_eq!(
        exec_err("{{pad .Name -1 0}}", &d),
        r#"template: :1:2: executing "" at <pad .Name -1 0>: error calling pad: strings: negative Repeat count"#
    );
}

#[test]
fn len_and_slice() {
    let d = data();
    assert_eq!(
        render(
            "{{len .Tags}} {{len .Labels}} {{len .Name}} {{len \"héllo\"}}",
            &d
        ),
        "3 2 3 6"
    );
    assert_eq!(
        render(
            "{{slice .Tags 1}} {{slice .Tags 0 1}} {{slice .Name 1 2}}",
            &d
        ),
        "[b c] [a] e"
    );
    assert_eq!(
        exec_err("{{len .Size}}", &d),
        r#"template: :1:2: executing "" at <len .Size>: error calling len: len of type int"#
    );
    assert_eq!(
        exec_err("{{slice .Tags 2 1}}", &d),
        r#"template: :1:2: executing "" at <slice .Tags 2 1>: error calling slice: invalid slice index: 2 > 1"#
    );
}

#[test]
fn print_functions() {
    let d = data();
    assert_eq!(render(r#"{{println "a" 1}}"#, &d), "a 1\n");
    assert_eq!(render(r#"{{print "a" "b" 1 2 "c"}}"#, &d), "ab1 2c");
    assert_eq!(render(r#"{{printf "%s-%d" .Name .Size}}"#, &d), "web-42");
    assert_eq!(
        render(r#"{{printf "%v|%v|%v" .Tags .Labels .Nil}}"#, &d),
        "[a b c]|map[com.example.a:1 com.example.b:2]|<nil>"
    );
    assert_eq!(render(r#"{{printf "%q" "a\"b"}}"#, &d), r#""a\"b""#);
    assert_eq!(render(r#"{{printf "%q" .Tags}}"#, &d), r#"["a" "b" "c"]"#);
    assert_eq!(
        render(
            r#"{{printf "[%5d][%-5s][%05.1f][%x][%X][%o][%b]" 42 "ab" 3.14159 255 255 8 5}}"#,
            &d
        ),
        "[   42][ab   ][003.1][ff][FF][10][101]"
    );
    assert_eq!(
        render(
            r#"{{printf "%+d %t %.2f %e %g %c %U %T" 5 true 3.14159 1234.5678 0.000001 65 65 .Tags}}"#,
            &d
        ),
        "+5 true 3.14 1.234568e+03 1e-06 A U+0041 []interface {}"
    );
    assert_eq!(
        render(
            r#"{{printf "%6.2f|%-8.3s|%08d|%+.1e" 3.14159 "abcdef" -42 12345.0}}"#,
            &d
        ),
        "  3.14|abc     |-0000042|+1.2e+04"
    );
    assert_eq!(
        render(r#"{{printf "%s %d" 5 "x"}}"#, &d),
        "%!s(int=5) %!d(string=x)"
    );
    assert_eq!(render(r#"{{printf "%d %d" 1}}"#, &d), "1 %!d(MISSING)");
    assert_eq!(
        render(r#"{{printf "%d" 1 2 "x"}}"#, &d),
        "1%!(EXTRA int=2, string=x)"
    );
    assert_eq!(
        render(
            r#"{{printf "%s" .Nope}}|{{printf "%d%%" 50}}|{{printf "%"}}"#,
            &d
        ),
        "%!s(<nil>)|50%|%!(NOVERB)"
    );
    assert_eq!(render(r#"{{printf "%*d|%-*d|" 4 7 3 1}}"#, &d), "   7|1  |");
    assert_eq!(render(r#"{{.Name | printf "%s!"}}"#, &d), "web!");
}

#[test]
fn range_over_arrays_and_maps() {
    let d = data();
    assert_eq!(render("{{range .Tags}}[{{.}}]{{end}}", &d), "[a][b][c]");
    assert_eq!(
        render("{{range $i, $t := .Tags}}{{$i}}={{$t}} {{end}}", &d),
        "0=a 1=b 2=c "
    );
    assert_eq!(render("{{range $t := .Tags}}{{$t}}{{end}}", &d), "abc");
    assert_eq!(
        render("{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}", &d),
        "com.example.a=1;com.example.b=2;"
    );
    assert_eq!(render("{{range .Labels}}{{.}}{{end}}", &d), "12");
    assert_eq!(render("{{range .Empty}}x{{else}}empty{{end}}", &d), "empty");
    assert_eq!(render("{{range .Nope}}x{{else}}none{{end}}", &d), "none");
    assert_eq!(render("{{range .Nil}}x{{end}}.", &d), ".");
    assert_eq!(render("{{range .Tags}}{{$.Name}}{{end}}", &d), "webwebweb");
    assert_eq!(
        render(
            "{{range .Tags}}{{if eq . \"b\"}}{{break}}{{end}}{{.}}{{end}}",
            &d
        ),
        "a"
    );
    assert_eq!(
        render(
            "{{range .Tags}}{{if eq . \"b\"}}{{continue}}{{end}}{{.}}{{end}}",
            &d
        ),
        "ac"
    );
    assert_eq!(
        render(
            "{{range .Config.Env}}{{range split . \"=\"}}<{{.}}>{{end}};{{end}}",
            &d
        ),
        "<PATH></bin>;<A><<1&2>>;"
    );
    assert_eq!(
        exec_err("{{range .Name}}{{end}}", &d),
        r#"template: :1:8: executing "" at <.Name>: range can't iterate over web"#
    );
}

#[test]
fn if_with_and_truthiness() {
    let d = data();
    for falsy in [
        ".Nope",
        ".Nil",
        ".Empty",
        ".NoLabels",
        ".Config.User",
        "0",
        "false",
        "\"\"",
        "0.0",
    ] {
        assert_eq!(
            render(
                &format!("{{{{if {falsy}}}}}yes{{{{else}}}}no{{{{end}}}}"),
                &d
            ),
            "no",
            "{falsy}"
        );
    }
    for truthy in [
        ".Name", ".Size", ".Tags", ".Labels", ".Ok", "1", "\"x\"", "-1",
    ] {
        assert_eq!(
            render(
                &format!("{{{{if {truthy}}}}}yes{{{{else}}}}no{{{{end}}}}"),
                &d
            ),
            "yes",
            "{truthy}"
        );
    }
    assert_eq!(
        render("{{if .Nope}}a{{else if .Size}}b{{else}}c{{end}}", &d),
        "b"
    );
    assert_eq!(
        render("{{with .Config}}{{.User}}|{{len .Env}}{{end}}", &d),
        "|2"
    );
    assert_eq!(render("{{with .Nope}}x{{else}}y{{end}}", &d), "y");
    assert_eq!(
        render("{{with .Nope}}x{{else with .Name}}{{.}}{{end}}", &d),
        "web"
    );
    assert_eq!(
        render(
            "{{if and .Name .Size}}{{and .Name .Size}}{{end}}|{{or .Nil .Config.User \"z\"}}|{{not .Ok}}",
            &d
        ),
        "42|z|false"
    );
    assert_eq!(
        render("{{and 1 0 2}}|{{or 0 \"\"}}|{{.Size | and 1}}", &d),
        "0||42"
    );
}

#[test]
fn comparisons() {
    let d = data();
    assert_eq!(
        render(
            r#"{{eq .Name "web"}} {{eq .Size 42}} {{eq 1 2 3 1}} {{ne .Name "x"}}"#,
            &d
        ),
        "true true true true"
    );
    assert_eq!(
        render(
            r#"{{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}} {{lt .Ratio 2.0}}"#,
            &d
        ),
        "true true true false true"
    );
    assert_eq!(
        render(r#"{{eq .Nope .Nil}} {{eq .Nope "x"}}"#, &d),
        "true false"
    );
    assert_eq!(
        exec_err("{{eq .Ratio 1}}", &d),
        r#"template: :1:2: executing "" at <eq .Ratio 1>: error calling eq: incompatible types for comparison"#
    );
    assert_eq!(
        exec_err("{{lt .Tags 1}}", &d),
        r#"template: :1:2: executing "" at <lt .Tags 1>: error calling lt: invalid type for comparison"#
    );
}

#[test]
fn escapers() {
    let d = data();
    assert_eq!(
        render(r#"{{html "<a href='x'>&</a>"}}"#, &d),
        "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"
    );
    assert_eq!(render(r#"{{urlquery "a b&c/d"}}"#, &d), "a+b%26c%2Fd");
    assert_eq!(
        render(r#"{{js "it's <b>=\"x\""}}"#, &d),
        r#"it\'s \u003Cb\u003E\u003D\"x\""#
    );
}

#[test]
fn literals() {
    let d = data();
    assert_eq!(
        render(
            "{{1.5}} {{1e3}} {{0x10}} {{'a'}} {{-3}} {{1_000}} {{0o17}} {{true}}",
            &d
        ),
        "1.5 1000 16 97 -3 1000 15 true"
    );
    assert_eq!(
        render(r#"{{"a\tb\u00e9"}}|{{`raw\n`}}"#, &d),
        "a\tbé|raw\\n"
    );
}

#[test]
fn trim_markers_and_comments() {
    let d = data();
    assert_eq!(render("a  {{- .Name -}}  b", &d), "awebb");
    assert_eq!(render("a\n\t{{- .Name}}\n", &d), "aweb\n");
    assert_eq!(render("{{.Name -}}\n\n  x", &d), "webx");
    assert_eq!(render("x{{/* a comment */}}y", &d), "xy");
    assert_eq!(render("x {{- /* trimmed */ -}} y", &d), "xy");
    assert_eq!(render("{{-3}}", &d), "-3");
    assert_eq!(render("{{.Name\n}}", &d), "web");
}

#[test]
fn variables_and_pipes() {
    let d = data();
    assert_eq!(
        render("{{$x := .Name}}{{$x}}{{$x = \"b\"}}{{$x}}", &d),
        "webb"
    );
    assert_eq!(render("{{$}}", &json!("root")), "root");
    assert_eq!(
        render("{{$c := .Config}}{{$c.User}}|{{len $c.Env}}", &d),
        "|2"
    );
    assert_eq!(render(r#"{{"abc" | upper | printf "%s."}}"#, &d), "ABC.");
    assert_eq!(render("{{(index .Tags 1) | upper}}", &d), "B");
    assert_eq!(
        render("{{(index .Config.Env 0)}}|{{(.Config).User}}x", &d),
        "PATH=/bin|x"
    );
    assert_eq!(
        render(
            "{{range $i, $e := .Tags}}{{if $i}},{{end}}{{$e}}{{end}}",
            &d
        ),
        "a,b,c"
    );
}

#[test]
fn header_functions_return_their_argument() {
    let t = Template::parse(r#"{{upper .Name}}\t{{json .Labels}}\t{{join .Tags ","}}\t{{truncate .ID 3}}\t{{pad .Name 1 1}}"#).unwrap();
    let headers = json!({"Name": "NAME", "Labels": "LABELS", "Tags": "TAGS", "ID": "CONTAINER ID"});
    let opts = RenderOptions {
        header: true,
        ..RenderOptions::default()
    };
    assert_eq!(
        t.render_with(&headers, opts).unwrap(),
        r#"NAME\tLABELS\tTAGS\tCONTAINER ID\t NAME "#
    );
}

#[test]
fn parse_errors_read_like_go() {
    let cases = [
        ("{{foo .X}}", r#"template: :1: function "foo" not defined"#),
        ("{{if .X}}a", "template: :1: unexpected EOF"),
        ("{{range .X}}", "template: :1: unexpected EOF"),
        ("{{end}}", "template: :1: unexpected {{end}}"),
        ("x{{else}}", "template: :1: unexpected {{else}}"),
        ("{{.X", "template: :1: unclosed action"),
        ("a\nb\n{{.X", "template: :3: unclosed action"),
        (
            "line1\nline2 {{nope}}",
            r#"template: :2: function "nope" not defined"#,
        ),
        (r#"{{"abc}}"#, "template: :1: unterminated quoted string"),
        (
            "{{.X | 3}}",
            "template: :1: non executable command in pipeline stage 2",
        ),
        ("{{}}", "template: :1: missing value for command"),
        ("{{if}}{{end}}", "template: :1: missing value for if"),
        ("{{range}}{{end}}", "template: :1: missing value for range"),
        ("{{$x}}", r#"template: :1: undefined variable "$x""#),
        (
            "{{if .A}}{{$y := 1}}{{end}}{{$y}}",
            r#"template: :1: undefined variable "$y""#,
        ),
        ("{{break}}", "template: :1: {{break}} outside {{range}}"),
        ("{{.X #}}", r##"template: :1: unexpected "#" in operand"##),
        (
            "{{\u{7}}}",
            "template: :1: unrecognized character in action: U+0007",
        ),
        ("{{.X)}}", r#"template: :1: unexpected ")" in command"#),
        ("{{.X.}}", "template: :1: unexpected <.> in operand"),
        (
            "{{range $a, $b, $c := .X}}{{end}}",
            "template: :1: too many declarations in range",
        ),
        (
            "{{if .X}}{{else}}{{else}}{{end}}",
            "template: :1: expected end; found {{else}}",
        ),
        ("{{/* open", "template: :1: unclosed comment"),
        ("{{3x}}", r#"template: :1: bad number syntax: "3x""#),
        (
            r#"{{"a".B}}"#,
            r#"template: :1: unexpected . after term "\"a\"""#,
        ),
        ("{{(.X}}", "template: :1: unclosed left paren"),
        (
            "{{define \"x\"}}{{end}}",
            "template: :1: {{define}} is not supported",
        ),
        (
            "{{.X | averyveryverylongname}}",
            r#"template: :1: function "averyveryverylongname" not defined"#,
        ),
        (
            "{{with .X}}{{.}} {{end} }}",
            r#"template: :1: unexpected "}" in end"#,
        ),
    ];
    for (tmpl, want) in cases {
        assert_eq!(parse_err(tmpl), want, "template {tmpl:?}");
    }
}

#[test]
fn exec_errors_name_the_node() {
    let d = data();
    assert_eq!(
        exec_err("{{\"x\" .Name}}", &d),
        r#"template: :1:2: executing "" at <"x">: can't give argument to non-function "x""#
    );
    assert_eq!(
        exec_err("{{template \"x\"}}", &d),
        r#"template: :1:11: executing "" at <{{template "x"}}>: template "x" not defined"#
    );
    assert_eq!(
        exec_err("a\n  {{index .Tags 9}}", &d),
        r#"template: :2:4: executing "" at <index .Tags 9>: error calling index: index out of range: 9"#
    );
    assert_eq!(
        exec_err("{{.Name 1}}", &d),
        r#"template: :1:2: executing "" at <.Name>: Name is not a method but has arguments"#
    );
}

#[test]
fn execute_keeps_partial_output() {
    let t = Template::parse("ok {{index .Tags 9}} never").unwrap();
    let mut out = String::new();
    assert!(
        t.execute(&data(), RenderOptions::default(), &mut out)
            .is_err()
    );
    assert_eq!(out, "ok ");
}

#[test]
fn hostile_templates_fail_cleanly() {
    let deep = "{{if 1}}".repeat(300) + &"{{end}}".repeat(300);
    assert!(parse_err(&deep).contains("max expression depth exceeded"));
    let parens = "{{".to_string() + &"(".repeat(300) + "1" + &")".repeat(300) + "}}";
    assert!(parse_err(&parens).contains("max expression depth exceeded"));
    let d = data();
    assert_eq!(
        render(r#"{{printf "%99999999d" 1}}"#, &d),
        "%!(NOVERB)%!(EXTRA int=1)"
    );
    assert!(exec_err("{{pad .Name 99999999 0}}", &d).contains("count too large"));
    for junk in [
        "{{",
        "}}",
        "{{{{",
        "{{-",
        "{{- -}}",
        "{{'",
        "{{`",
        "{{$",
        "{{.",
        "{{\u{0}}}",
        "{{é}}",
        "{{9999999999999999999999}}",
    ] {
        let _ = Template::parse(junk).map(|t| t.render(&d));
    }
}
