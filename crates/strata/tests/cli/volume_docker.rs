//! `volume ls`/`inspect`/`create`/`rm` print what docker 20.10 prints for
//! the same volumes (compared with the test dockerd). See: issue 10.

use serde_json::Value;

use crate::support::{self, Env, sh, skip};

/// The inspect JSON with what differs by store left out: `Mountpoint`
/// keeps its `volumes/<name>/_data` tail, `CreatedAt` its shape.
fn normalized(text: &str) -> Value {
    let mut v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    for o in v.as_array_mut().expect("an array") {
        let mp = o["Mountpoint"].as_str().unwrap().to_string();
        let tail: Vec<&str> = mp.rsplit('/').take(3).collect();
        o["Mountpoint"] = Value::String(tail.into_iter().rev().collect::<Vec<_>>().join("/"));
        let created = o["CreatedAt"].as_str().unwrap();
        assert!(
            created.len() == 20 && created.ends_with('Z') && created.as_bytes()[10] == b'T',
            "docker's CreatedAt shape: {created}"
        );
        o["CreatedAt"] = Value::String("T".into());
    }
    v
}

#[test]
fn volume_ls_and_inspect_layout_equal_dockers() {
    let Some(mut docker) = support::docker() else {
        return skip("no test dockerd (STRATA_TEST_DOCKER_HOST; scripts/test.sh starts one)");
    };
    let env = Env::new();
    let pid = std::process::id();
    let a = format!("stratavt{pid}-a");
    let b = format!("stratavt{pid}-b");
    let prefix = format!("stratavt{pid}-");
    let d = |args: &[&str]| sh(support::docker().unwrap().args(args));
    for (name, label) in [(&a, None), (&b, Some("team=x"))] {
        let mut args = vec!["volume", "create"];
        if let Some(l) = label {
            args.extend(["--label", l]);
        }
        args.push(name);
        assert_eq!(env.ok(&args), d(&args), "create prints the name");
    }
    let filt = format!("name={prefix}");
    let check = || {
        for args in [
            vec!["volume", "ls", "--filter", &*filt],
            vec!["volume", "ls", "-q", "--filter", &*filt],
            vec![
                "volume",
                "ls",
                "--filter",
                &*filt,
                "--format",
                "{{.Name}}|{{.Driver}}|{{.Labels}}|{{.Scope}}",
            ],
            vec![
                "volume",
                "ls",
                "--filter",
                &*filt,
                "--format",
                "table {{.Name}}\t{{.Scope}}\t{{.Labels}}",
            ],
        ] {
            assert_eq!(env.ok(&args), d(&args), "{args:?}");
        }
        let args = ["volume", "inspect", &a, &b];
        assert_eq!(normalized(&env.ok(args)), normalized(&d(&args)));
        let args = [
            "volume",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}} {{.Labels}}",
            &b,
        ];
        assert_eq!(env.ok(args), d(&args));
    };
    check();
    let missing = ["volume", "inspect", "strata-no-such-volume"];
    let ours = env.run(missing);
    let theirs = docker.args(missing).output().unwrap();
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(
        String::from_utf8_lossy(&ours.stderr),
        String::from_utf8_lossy(&theirs.stderr)
    );
    for n in [&a, &b] {
        assert_eq!(env.ok(["volume", "rm", n]), d(&["volume", "rm", n]));
    }
}
