//! `--format` dispatch for list and inspect commands, and Go's JSON.

use serde::Serialize;
use serde_json::{Value, json};
use strata_format::json::{JsonStyle, to_go_json};
use strata_format::output::{ListFormat, render_inspect, render_list, to_rows};

const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Status", "STATUS"),
];

fn ps(format: &str, quiet: bool) -> ListFormat<'_> {
    ListFormat {
        format,
        quiet,
        quiet_overrides_format: true,
        default_table: "table {{.ID}}\t{{.Image}}\t{{.Status}}\t{{.Names}}",
        quiet_format: "{{.ID}}",
        headers: HEADERS,
    }
}

fn rows() -> Vec<Value> {
    vec![
        json!({"Names": "web", "ID": "0123456789ab", "Image": "nginx:latest", "Status": "Up 3 seconds", "Labels": "a=1"}),
        json!({"Names": "db-primary", "ID": "ba9876543210", "Image": "postgres", "Status": "Exited (0) 2 minutes ago", "Labels": ""}),
    ]
}

#[test]
fn default_table() {
    let want = "CONTAINER ID   IMAGE          STATUS                     NAMES\n\
                0123456789ab   nginx:latest   Up 3 seconds               web\n\
                ba9876543210   postgres       Exited (0) 2 minutes ago   db-primary\n";
    assert_eq!(ps("", false).render(&rows()).unwrap(), want);
    assert_eq!(ps("table", false).render(&rows()).unwrap(), want);
}

#[test]
fn quiet() {
    assert_eq!(
        ps("", true).render(&rows()).unwrap(),
        "0123456789ab\nba9876543210\n"
    );
    // docker ps: --quiet wins over a custom format (and docker warns).
    let f = ps("{{.Names}}", true);
    assert!(f.quiet_ignores_format());
    assert_eq!(f.render(&rows()).unwrap(), "0123456789ab\nba9876543210\n");
    // docker history: a custom format wins over --quiet.
    let f = ListFormat {
        quiet_overrides_format: false,
        ..ps("{{.Names}}", true)
    };
    assert!(!f.quiet_ignores_format());
    assert_eq!(f.render(&rows()).unwrap(), "web\ndb-primary\n");
}

#[test]
fn custom_table_derives_headers() {
    let out = ps("table {{.Names}}\\t{{upper .Image}}\\t{{.Labels}}", false)
        .render(&rows())
        .unwrap();
    assert_eq!(
        out,
        "NAMES        IMAGE          LABELS\n\
         web          NGINX:LATEST   a=1\n\
         db-primary   POSTGRES       \n"
    );
    // A field without a header prints Go's "<no value>" in the header row.
    let out = ps("table {{.Names}}\t{{.Nope}}", false)
        .render(&rows()[..1])
        .unwrap();
    assert_eq!(out, "NAMES     <no value>\nweb       <no value>\n");
    // Leading/trailing spaces of the template are trimmed.
    let out = ps("table   {{.ID}}  ", false).render(&rows()[..1]).unwrap();
    assert_eq!(out, "CONTAINER ID\n0123456789ab\n");
}

#[test]
fn table_without_rows_prints_the_header() {
    assert_eq!(
        ps("", false).render(&[]).unwrap(),
        "CONTAINER ID   IMAGE     STATUS    NAMES\n"
    );
    assert_eq!(ps("{{.ID}}", false).render(&[]).unwrap(), "");
}

#[test]
fn json_lines_with_sorted_keys() {
    let out = ps("json", false).render(&rows()).unwrap();
    assert_eq!(
        out,
        r#"{"ID":"0123456789ab","Image":"nginx:latest","Labels":"a=1","Names":"web","Status":"Up 3 seconds"}
{"ID":"ba9876543210","Image":"postgres","Labels":"","Names":"db-primary","Status":"Exited (0) 2 minutes ago"}
"#
    );
    // No HTML escaping in docker's json function.
    let out = render_list("json", &[], &[json!({"Cmd": "a<b && c>d"})]).unwrap();
    assert_eq!(out, "{\"Cmd\":\"a<b && c>d\"}\n");
}

#[test]
fn raw_template_with_escapes() {
    let out = ps("{{.ID}}\\t{{.Names}}\\n--", false)
        .render(&rows())
        .unwrap();
    assert_eq!(out, "0123456789ab\tweb\n--\nba9876543210\tdb-primary\n--\n");
}

#[test]
fn template_errors() {
    let err = ps("{{.ID | nope}}", false).render(&rows()).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"template parsing error: template: :1: function "nope" not defined"#
    );
    let err = ps("table {{index .Names 99}}", false)
        .render(&rows())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"template parsing error: template: :1:2: executing "" at <index .Names 99>: error calling index: index out of range: 99"#
    );
}

#[test]
fn rows_from_structs() {
    #[derive(Serialize)]
    struct Volume {
        #[serde(rename = "Driver")]
        driver: &'static str,
        #[serde(rename = "Name")]
        name: &'static str,
    }
    let rows = to_rows(&[Volume {
        driver: "local",
        name: "data",
    }])
    .unwrap();
    let out = render_list(
        "table {{.Driver}}\t{{.Name}}",
        &[("Driver", "DRIVER"), ("Name", "VOLUME NAME")],
        &rows,
    );
    assert_eq!(out.unwrap(), "DRIVER    VOLUME NAME\nlocal     data\n");
}

#[test]
fn inspect_indented_like_marshal_indent() {
    let obj = json!({
        "Id": "abc",
        "Config": {"Env": ["A=<1>&"], "Labels": {}, "Cmd": null, "Volumes": []},
        "Size": 1.0,
        "Pct": 0.5,
    });
    let out = render_inspect("", &[obj.clone(), json!({"Id": "def"})]).unwrap();
    let want = r#"[
    {
        "Id": "abc",
        "Config": {
            "Env": [
                "A=\u003c1\u003e\u0026"
            ],
            "Labels": {},
            "Cmd": null,
            "Volumes": []
        },
        "Size": 1,
        "Pct": 0.5
    },
    {
        "Id": "def"
    }
]
"#;
    assert_eq!(out.stdout, want);
    assert!(out.errors.is_empty());
    assert_eq!(render_inspect("", &[]).unwrap().stdout, "[]\n");
    assert_eq!(render_inspect("json", &[]).unwrap().stdout, "[]\n");
    assert_eq!(
        render_inspect("json", &[obj]).unwrap().stdout,
        "[{\"Id\":\"abc\",\"Config\":{\"Env\":[\"A=\\u003c1\\u003e\\u0026\"],\"Labels\":{},\"Cmd\":null,\"Volumes\":[]},\"Size\":1,\"Pct\":0.5}]\n"
    );
}

#[test]
fn inspect_with_template() {
    let objs = [
        json!({"Id": "a", "State": {"Health": null}}),
        json!({"Id": "b"}),
    ];
    let out = render_inspect("{{.Id}} {{json .State}}", &objs).unwrap();
    assert_eq!(out.stdout, "a {\"Health\":null}\n");
    assert_eq!(
        out.errors,
        vec![
            r#"template parsing error: template: :1:15: executing "" at <.State>: map has no entry for key "State""#
        ]
    );
    let out = render_inspect("{{.State.Health}}", &objs[..1]).unwrap();
    assert_eq!(out.stdout, "<nil>\n");
    // Nothing printed at all: a lone newline.
    let out = render_inspect("{{.Nope}}", &objs).unwrap();
    assert_eq!(out.stdout, "\n");
    assert_eq!(out.errors.len(), 2);
    let err = render_inspect("{{.Id", &objs).unwrap_err();
    assert_eq!(
        err.to_string(),
        "template parsing error: template: :1: unclosed action"
    );
}

#[test]
fn go_json_spelling() {
    let v =
        json!({"f": [1.0, -2.5, 1e21, 1e20, 1e-6, 1e-7, 0.1, 123456789.0], "i": [-1, u64::MAX]});
    assert_eq!(
        to_go_json(&v, JsonStyle::MARSHAL),
        r#"{"f":[1,-2.5,1e+21,100000000000000000000,0.000001,1e-7,0.1,123456789],"i":[-1,18446744073709551615]}"#
    );
    let s = json!("q\"b\\s/\u{8}\u{c}\n\r\t\u{1f}\u{7f}<>&\u{2028}\u{2029}é");
    assert_eq!(
        to_go_json(&s, JsonStyle::MARSHAL),
        r#""q\"b\\s/\b\f\n\r\t\u001f<>\u0026\u2028\u2029é""#.replace("<>", "\u{7f}\\u003c\\u003e")
    );
    assert_eq!(
        to_go_json(&s, JsonStyle::TEMPLATE),
        "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u001f\u{7f}<>&\\u2028\\u2029é\""
    );
}
