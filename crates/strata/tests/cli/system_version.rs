//! `strata version`: docker's document shape (every field strata fills is
//! where docker 20.10 puts it, so `--format` templates written for docker
//! answer) and its layout. See: issue 10.

use serde_json::Value;

use crate::support::{Env, docker, sh, skip};

/// Every path of `ours` exists in `theirs` with a value of the same kind.
fn same_shape(ours: &Value, theirs: &Value, path: &str) {
    match (ours, theirs) {
        (Value::Object(o), Value::Object(t)) => {
            for (k, v) in o {
                let p = format!("{path}.{k}");
                let tv = t
                    .get(k)
                    .unwrap_or_else(|| panic!("docker has no {p}: {theirs}"));
                same_shape(v, tv, &p);
            }
        }
        (Value::Array(o), Value::Array(t)) => {
            for (v, tv) in o.iter().zip(t) {
                same_shape(v, tv, &format!("{path}[]"));
            }
        }
        (o, t) => assert_eq!(
            std::mem::discriminant(o),
            std::mem::discriminant(t),
            "{path}: {o} vs docker's {t}"
        ),
    }
}

#[test]
fn version_has_dockers_fields_and_layout() {
    let env = Env::new();
    let doc: Value = serde_json::from_str(&env.ok(["version", "--format", "{{json .}}"])).unwrap();
    assert_eq!(
        env.ok(["version", "--format", "{{.Server.Version}}"])
            .trim(),
        env!("CARGO_PKG_VERSION")
    );
    let human = env.ok(["version"]);
    assert!(
        human.starts_with("Client:\n Version:           "),
        "{human}"
    );
    assert!(
        human.contains("\n Engine:\n  Version:          "),
        "{human}"
    );
    let Some(mut d) = docker() else {
        return skip("no docker daemon to compare `version` with");
    };
    let theirs: Value =
        serde_json::from_str(&sh(d.args(["version", "--format", "{{json .}}"]))).unwrap();
    same_shape(&doc, &theirs, "");
}
