//! Unit tests of ARG/ENV scoping.

use super::*;

fn df(s: &str) -> Dockerfile {
    Dockerfile::parse_str(s).unwrap()
}

fn opts(args: &[(&str, &str)]) -> BuildOptions {
    let mut o = BuildOptions::default();
    for (k, v) in args {
        o.build_args.insert(k.to_string(), v.to_string());
    }
    o
}

fn run_stage(global: &GlobalArgs, stage: &Stage) -> (StageScope, Vec<Step>) {
    let mut scope = global.stage_scope(stage, [("PATH", "/bin")]);
    let steps = stage
        .commands
        .iter()
        .map(|c| scope.apply(c).unwrap())
        .collect();
    (scope, steps)
}

#[test]
fn global_args_only_visible_when_redeclared() {
    let d = df("ARG V=1\nFROM a:$V\nRUN x\nARG V\nRUN y\n");
    let g = GlobalArgs::new(&d, &BuildOptions::default()).unwrap();
    let st = &d.stages[0];
    assert_eq!(g.resolve_from(st).unwrap().base, "a:1");
    let mut scope = g.stage_scope(st, Vec::<(String, String)>::new());
    scope.apply(&st.commands[0]).unwrap();
    assert_eq!(scope.get("V"), None);
    scope.apply(&st.commands[1]).unwrap();
    assert_eq!(scope.get("V"), Some("1"));
    assert_eq!(scope.get("PATH"), Some(DEFAULT_PATH));
}

#[test]
fn build_arg_precedence() {
    let d = df("ARG G=g\nFROM a\nARG G\nARG D=default\nARG B=default\nARG N\n");
    let g = GlobalArgs::new(&d, &opts(&[("B", "cli"), ("G", "cli-g")])).unwrap();
    let (scope, _) = run_stage(&g, &d.stages[0]);
    assert_eq!(scope.get("G"), Some("cli-g"));
    assert_eq!(scope.get("D"), Some("default"));
    assert_eq!(scope.get("B"), Some("cli"));
    assert_eq!(scope.get("N"), None);
    assert_eq!(
        scope.args(),
        [
            ("G".to_string(), Some("cli-g".to_string())),
            ("D".to_string(), Some("default".to_string())),
            ("B".to_string(), Some("cli".to_string())),
            ("N".to_string(), None)
        ]
    );
}

#[test]
fn env_uses_previous_values_and_is_persisted() {
    let d = df("FROM a\nENV A=1\nENV A=2 B=$A\nARG C=$B\n");
    let g = GlobalArgs::new(&d, &BuildOptions::default()).unwrap();
    let (scope, steps) = run_stage(&g, &d.stages[0]);
    assert_eq!(scope.get("B"), Some("1"));
    assert_eq!(scope.get("C"), Some("1"));
    assert_eq!(scope.image_env().get("C"), None);
    assert_eq!(scope.image_env().to_env_list(), ["PATH=/bin", "A=2", "B=1"]);
    assert!(steps[1].used.contains("A"));
    assert!(steps[2].used.contains("B"));
}

#[test]
fn platform_args_are_automatic_in_global_scope() {
    let d = df(
        "FROM --platform=$BUILDPLATFORM golang AS build\nARG TARGETARCH\nRUN echo $TARGETARCH\nFROM alpine\n",
    );
    let o = BuildOptions {
        target_platform: crate::Platform::parse("linux/arm64").unwrap(),
        ..BuildOptions::default()
    };
    let g = GlobalArgs::new(&d, &o).unwrap();
    let r = g.resolve_from(&d.stages[0]).unwrap();
    assert_eq!(r.platform.unwrap().to_string(), "linux/amd64");
    assert!(r.used.contains("BUILDPLATFORM"));
    assert_eq!(g.get("TARGETSTAGE"), Some(""));
    let (scope, _) = run_stage(&g, &d.stages[0]);
    assert_eq!(scope.get("TARGETARCH"), Some("arm64"));
    let o2 = BuildOptions {
        target: Some("build".into()),
        ..o
    };
    assert_eq!(
        GlobalArgs::new(&d, &o2).unwrap().get("TARGETSTAGE"),
        Some("build")
    );
}

#[test]
fn proxies_need_no_declaration_and_stay_out_of_history() {
    let d = df("FROM a\nARG X=1\nRUN true\n");
    let g = GlobalArgs::new(
        &d,
        &opts(&[("http_proxy", "http://p:3128"), ("UNUSED", "1")]),
    )
    .unwrap();
    let (scope, _) = run_stage(&g, &d.stages[0]);
    assert_eq!(scope.get("http_proxy"), None);
    let run = scope.run_env();
    assert_eq!(run.get("http_proxy"), Some("http://p:3128"));
    assert_eq!(run.get("HTTP_PROXY"), Some("http://p:3128"));
    assert_eq!(run.get("X"), Some("1"));
    let argv = ["/bin/sh".to_string(), "-c".to_string(), "true".to_string()];
    assert_eq!(scope.run_created_by(&argv), "RUN |1 X=1 /bin/sh -c true");
    assert_eq!(g.unused_build_args([&scope]), ["UNUSED"]);
    assert_eq!(
        unused_build_args_warning(&g.unused_build_args([&scope])).unwrap(),
        "[Warning] One or more build-args [UNUSED] were not consumed"
    );
    assert_eq!(
        d.unused_build_args(&opts(&[("X", "1"), ("Y", "2")]).build_args),
        ["Y"]
    );
}

#[test]
fn stages_inherit_scope_from_parent_stage() {
    let d =
        df("FROM a AS base\nARG V=1\nENV E=e\nSHELL [\"bash\", \"-c\"]\nFROM base\nRUN echo $V\n");
    let g = GlobalArgs::new(&d, &BuildOptions::default()).unwrap();
    let (parent, _) = run_stage(&g, &d.stages[0]);
    let child = parent.derive(&d.stages[1]);
    assert_eq!(child.get("V"), Some("1"));
    assert_eq!(child.image_env().get("E"), Some("e"));
    assert_eq!(child.shell(), ["bash", "-c"]);
    assert_eq!(child.stage_index(), 1);
}

#[test]
fn from_errors() {
    let d = df("ARG E=\nFROM $E\n");
    let g = GlobalArgs::new(&d, &BuildOptions::default()).unwrap();
    assert_eq!(
        g.resolve_from(&d.stages[0]).unwrap_err().to_string(),
        "Dockerfile:2: base name ($E) should not be blank"
    );
    let d = df("FROM --platform=$NOPE a\n");
    let g = GlobalArgs::new(&d, &BuildOptions::default()).unwrap();
    assert_eq!(
        g.resolve_from(&d.stages[0]).unwrap_err().to_string(),
        "Dockerfile:1: empty platform value from expression $NOPE"
    );
    let d = df("ARG A=\"${B:?need B}\"\nFROM x\n");
    assert_eq!(
        GlobalArgs::new(&d, &BuildOptions::default())
            .unwrap_err()
            .to_string(),
        "Dockerfile:1: failed to process \"\\\"${B:?need B}\\\"\": B: need B"
    );
}
