//! Unit tests of the instruction layer: typed results, errors, expansion.

use super::*;
use crate::shell::NoEnv;

fn df(s: &str) -> Dockerfile {
    Dockerfile::parse_str(s).unwrap()
}

fn cmds(s: &str) -> Vec<Command> {
    df(&format!("FROM scratch\n{s}")).stages.remove(0).commands
}

fn cmd(s: &str) -> Command {
    cmds(s).remove(0)
}

fn err(s: &str) -> String {
    Dockerfile::parse_str(s).unwrap_err().to_string()
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn stages_and_global_args() {
    let d = df("ARG A=1\nARG B\nFROM x AS One\nRUN a\nFROM --platform=$P y\nCOPY --from=one / /\n");
    assert_eq!(d.global_args.len(), 2);
    assert_eq!(d.stages.len(), 2);
    assert_eq!(d.stages[0].name.as_deref(), Some("one"));
    assert_eq!(d.stages[0].range, LineRange::new(3, 4));
    assert_eq!(d.stages[1].platform.as_deref(), Some("$P"));
    assert_eq!(d.stages[1].display_name(), "stage-1");
    assert_eq!(d.stage("ONE").map(|s| s.index), Some(0));
    assert_eq!(d.stage("1").map(|s| s.index), Some(1));
    assert_eq!(d.target(None).map(|s| s.index), Some(1));
}

#[test]
fn stage_description_comment() {
    let d = df("# build compiles the app\nFROM x AS build\n");
    assert_eq!(d.stages[0].comment.as_deref(), Some("compiles the app"));
}

#[test]
fn run_forms_and_flags() {
    let Command::Run(r) = cmd("RUN --network=none --mount=type=cache,target=/c echo hi") else {
        panic!()
    };
    assert_eq!(r.cmdline.args, ["echo hi"]);
    assert!(r.cmdline.prepend_shell);
    assert_eq!(r.network, NetworkMode::None);
    assert_eq!(r.mounts.len(), 1);
    assert_eq!(r.flags_used, ["mount", "network"]);
    let Command::Run(r) = cmd("RUN [\"ls\", \"-l\"]") else {
        panic!()
    };
    assert_eq!(r.cmdline.argv(&["sh".into(), "-c".into()]), ["ls", "-l"]);
    let Command::Run(r) = cmd("RUN --security=insecure true") else {
        panic!()
    };
    assert_eq!(r.security, SecurityMode::Insecure);
}

#[test]
fn run_heredoc_scripts() {
    let Command::Run(r) = cmd("RUN <<EOF\necho a\nEOF\n") else {
        panic!()
    };
    assert_eq!(r.script(), RunScript::Shell("echo a\n".into()));
    let Command::Run(r) = cmd("RUN <<-EOF\n\t#!/usr/bin/env python3\n\tprint(1)\n\tEOF\n") else {
        panic!()
    };
    assert_eq!(
        r.script(),
        RunScript::ShebangFile {
            name: "EOF".into(),
            data: "#!/usr/bin/env python3\nprint(1)\n".into()
        }
    );
    let Command::Run(r) = cmd("RUN cat <<A > /a && cat <<B > /b\n1\nA\n2\nB\n") else {
        panic!()
    };
    assert_eq!(
        r.script(),
        RunScript::Reconstituted("cat <<A > /a && cat <<B > /b\n1\nA\n2\nB".into())
    );
    let Command::Run(r) = cmd("RUN true") else {
        panic!()
    };
    assert_eq!(r.script(), RunScript::Plain);
}

#[test]
fn copy_and_add() {
    let Command::Copy(c) = cmd(
        "COPY --from=build --chown=1:2 --chmod=u+x --link --parents --exclude=*.md --exclude=x a b /d/",
    ) else {
        panic!()
    };
    assert_eq!(
        (c.sources.as_slice(), c.dest.as_str()),
        (&["a".to_string(), "b".to_string()][..], "/d/")
    );
    assert_eq!(c.from.as_deref(), Some("build"));
    assert!(c.link && c.parents);
    assert_eq!(c.excludes, ["*.md", "x"]);
    assert!(matches!(c.mode().unwrap(), Some(Chmod::Symbolic(_))));
    let Command::Copy(c) = cmd("COPY [\"a b\", \"/c d/\"]") else {
        panic!()
    };
    assert_eq!(c.sources, ["a b"]);
    let Command::Add(a) =
        cmd("ADD --keep-git-dir --checksum=sha256:abc --unpack=false https://x/y.tgz /")
    else {
        panic!()
    };
    assert!(a.keep_git_dir);
    assert_eq!(a.unpack, Some(false));
    assert_eq!(a.checksum.as_deref(), Some("sha256:abc"));
    let Command::Copy(c) = cmd("COPY <<one <<'two' /dst/\nhi $X\none\nlit $X\ntwo\n") else {
        panic!()
    };
    assert!(c.sources.is_empty());
    assert_eq!(c.inline.len(), 2);
    assert_eq!(
        (
            c.inline[0].path.as_str(),
            c.inline[0].data.as_str(),
            c.inline[0].expand
        ),
        ("one", "hi $X\n", true)
    );
    assert!(!c.inline[1].expand);
    let x = Command::Copy(c).expand(&env(&[("X", "1")])).unwrap();
    let Command::Copy(c) = x.command else {
        panic!()
    };
    assert_eq!(c.inline[0].data, "hi 1\n");
    assert_eq!(c.inline[1].data, "lit $X\n");
}

#[test]
fn config_instructions() {
    let Command::Env(e) = cmd("ENV A=1 B=\"2 3\"") else {
        panic!()
    };
    assert_eq!(e.vars.len(), 2);
    assert_eq!(e.vars[1].value, "\"2 3\"");
    let Command::Env(e) = cmd("ENV A 1 2") else {
        panic!()
    };
    assert!(e.vars[0].legacy);
    assert_eq!(e.vars[0].value, "1 2");
    let Command::Label(l) = cmd("LABEL a=b") else {
        panic!()
    };
    assert_eq!(l.labels[0].key, "a");
    let Command::Expose(x) = cmd("EXPOSE 8080/udp 80") else {
        panic!()
    };
    assert_eq!(x.ports, ["80", "8080/udp"]);
    let Command::User(u) = cmd("USER app:grp") else {
        panic!()
    };
    assert_eq!(u.user_group(), ("app", Some("grp")));
    let Command::Volume(v) = cmd("VOLUME [\"/a\", \"/b\"]") else {
        panic!()
    };
    assert_eq!(v.volumes, ["/a", "/b"]);
    let Command::Shell(s) = cmd("SHELL [\"pwsh\", \"-c\"]") else {
        panic!()
    };
    assert_eq!(s.shell, ["pwsh", "-c"]);
    let Command::StopSignal(s) = cmd("STOPSIGNAL SIGKILL") else {
        panic!()
    };
    assert_eq!(s.number().unwrap(), 9);
    let Command::Maintainer(m) = cmd("MAINTAINER Jane <j@x>") else {
        panic!()
    };
    assert_eq!(m.maintainer, "Jane <j@x>");
    let Command::Entrypoint(e) = cmd("ENTRYPOINT []") else {
        panic!()
    };
    assert!(e.cmdline.args.is_empty() && !e.cmdline.prepend_shell);
    let Command::Arg(a) = cmd("ARG a b=\"c d\"") else {
        panic!()
    };
    assert_eq!(a.args[1].default.as_deref(), Some("\"c d\""));
}

#[test]
fn healthchecks() {
    let Command::Healthcheck(h) = cmd(
        "HEALTHCHECK --interval=30s --timeout=1m30s --start-period=1s --start-interval=500ms --retries=3 CMD curl -f http://x/",
    ) else {
        panic!()
    };
    assert_eq!(h.health.test, ["CMD-SHELL", "curl -f http://x/"]);
    assert_eq!(h.health.interval.as_secs(), 30);
    assert_eq!(h.health.timeout.as_secs(), 90);
    assert_eq!(h.health.start_interval.as_millis(), 500);
    assert_eq!(h.health.retries, 3);
    let Command::Healthcheck(h) = cmd("HEALTHCHECK CMD [\"true\"]") else {
        panic!()
    };
    assert_eq!(h.health.test, ["CMD", "true"]);
    let Command::Healthcheck(h) = cmd("HEALTHCHECK none") else {
        panic!()
    };
    assert_eq!(h.health.test, ["NONE"]);
}

#[test]
fn onbuild() {
    let Command::Onbuild(o) = cmd("onbuild  RUN echo hi") else {
        panic!()
    };
    assert_eq!(o.expression, "RUN echo hi");
    let Command::Run(r) = o.trigger().unwrap() else {
        panic!()
    };
    assert_eq!(r.cmdline.args, ["echo hi"]);
    let Command::Onbuild(o) = cmd("ONBUILD COPY <<EOF /x\nbody\nEOF\n") else {
        panic!()
    };
    let Command::Copy(c) = o.trigger().unwrap() else {
        panic!()
    };
    assert_eq!(c.inline[0].data, "body\n");
}

#[test]
fn error_messages() {
    let cases = [
        (
            "FROM a\nXYZZY bar",
            "Dockerfile:2: unknown instruction: XYZZY",
        ),
        (
            "FROM a\nFOO bar",
            "Dockerfile:2: unknown instruction: FOO (did you mean from?)",
        ),
        (
            "FROM a\nRUNN x",
            "Dockerfile:2: unknown instruction: RUNN (did you mean run?)",
        ),
        ("RUN x", "Dockerfile:1: no build stage in current context"),
        (
            "FROM",
            "Dockerfile:1: FROM requires either one or three arguments",
        ),
        (
            "FROM a b",
            "Dockerfile:1: FROM requires either one or three arguments",
        ),
        (
            "FROM a AS 1x",
            "Dockerfile:1: invalid name for build stage: \"1x\", name can't start with a number or contain symbols",
        ),
        (
            "FROM a\nONBUILD ONBUILD RUN x",
            "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        ),
        (
            "FROM a\nONBUILD FROM b",
            "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger",
        ),
        (
            "FROM a\nONBUILD maintainer b",
            "Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD trigger",
        ),
        (
            "FROM a\nONBUILD",
            "Dockerfile:2: ONBUILD requires at least one argument",
        ),
        (
            "FROM a\nCOPY x",
            "Dockerfile:2: COPY requires at least two arguments, but only one was provided. Destination could not be determined.",
        ),
        (
            "FROM a\nADD x",
            "Dockerfile:2: ADD requires at least two arguments, but only one was provided. Destination could not be determined.",
        ),
        (
            "FROM a\nCOPY --foo=1 a b",
            "Dockerfile:2: unknown flag: foo (did you mean from?)",
        ),
        (
            "FROM a\nCOPY --xyzzy=1 a b",
            "Dockerfile:2: unknown flag: xyzzy",
        ),
        (
            "FROM a\nCOPY --chown a b",
            "Dockerfile:2: missing a value on flag: chown",
        ),
        (
            "FROM a\nCOPY --link=x a b",
            "Dockerfile:2: expecting boolean value for flag link, not: x",
        ),
        (
            "FROM a\nCOPY --from=a --from=b a b",
            "Dockerfile:2: duplicate flag specified: from",
        ),
        (
            "FROM a\nCOPY a <<EOF\nx\nEOF",
            "Dockerfile:2: COPY cannot accept a heredoc as a destination",
        ),
        (
            "FROM a\nWORKDIR",
            "Dockerfile:2: WORKDIR requires exactly one argument",
        ),
        (
            "FROM a\nUSER",
            "Dockerfile:2: USER requires exactly one argument",
        ),
        (
            "FROM a\nSTOPSIGNAL",
            "Dockerfile:2: STOPSIGNAL requires exactly one argument",
        ),
        (
            "FROM a\nMAINTAINER",
            "Dockerfile:2: MAINTAINER requires exactly one argument",
        ),
        (
            "FROM a\nEXPOSE",
            "Dockerfile:2: EXPOSE requires at least one argument",
        ),
        (
            "FROM a\nVOLUME",
            "Dockerfile:2: VOLUME requires at least one argument",
        ),
        (
            "FROM a\nVOLUME [\"\"]",
            "Dockerfile:2: VOLUME specified can not be an empty string",
        ),
        (
            "FROM a\nENV",
            "Dockerfile:2: ENV requires at least one argument",
        ),
        (
            "FROM a\nLABEL",
            "Dockerfile:2: LABEL requires at least one argument",
        ),
        ("FROM a\nENV =x", "Dockerfile:2: ENV names can not be blank"),
        ("FROM a\nARG =x", "Dockerfile:2: ARG names can not be blank"),
        (
            "FROM a\nARG",
            "Dockerfile:2: ARG requires at least one argument",
        ),
        (
            "FROM a\nSHELL sh -c",
            "Dockerfile:2: SHELL requires the arguments to be in JSON form",
        ),
        (
            "FROM a\nSHELL []",
            "Dockerfile:2: SHELL requires at least one argument",
        ),
        (
            "FROM a\nHEALTHCHECK",
            "Dockerfile:2: HEALTHCHECK requires at least one argument",
        ),
        (
            "FROM a\nHEALTHCHECK NONE x",
            "Dockerfile:2: HEALTHCHECK NONE takes no arguments",
        ),
        (
            "FROM a\nHEALTHCHECK CMD",
            "Dockerfile:2: Missing command after HEALTHCHECK CMD",
        ),
        (
            "FROM a\nHEALTHCHECK FOO x",
            "Dockerfile:2: Unknown type \"FOO\" in HEALTHCHECK (try CMD)",
        ),
        (
            "FROM a\nHEALTHCHECK --interval=1us CMD x",
            "Dockerfile:2: Interval \"interval\" cannot be less than 1ms",
        ),
        (
            "FROM a\nHEALTHCHECK --timeout=5 CMD x",
            "Dockerfile:2: time: missing unit in duration \"5\"",
        ),
        (
            "FROM a\nHEALTHCHECK --retries=-1 CMD x",
            "Dockerfile:2: --retries cannot be negative (-1)",
        ),
        (
            "FROM a\nRUN --network=bridge x",
            "Dockerfile:2: unsupported network mode \"bridge\"",
        ),
        (
            "FROM a\nRUN --security=x y",
            "Dockerfile:2: unsupported security mode \"x\"",
        ),
        (
            "FROM a\nRUN --mount=type=tmpfs,uid=1 x",
            "Dockerfile:2: uid not allowed for \"tmpfs\" type mounts",
        ),
        (
            "FROM a\nCMD [\"a\", 1]",
            "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only",
        ),
        (
            "FROM a\nENV PATH",
            "Dockerfile:2: ENV must have two arguments",
        ),
    ];
    for (src, want) in cases {
        assert_eq!(err(src), want, "{src}");
    }
}

#[test]
fn snippet_for_an_instruction_error() {
    let src = "FROM alpine\nRUN true\nBAD thing\nRUN true\n";
    let e = Dockerfile::parse_str(src).unwrap_err();
    assert_eq!(
        e.snippet(src, "Dockerfile").unwrap(),
        "Dockerfile:3\n--------------------\n   1 |     FROM alpine\n   2 |     RUN true\n   3 | >>> BAD thing\n   4 |     RUN true\n   5 |     \n--------------------\n"
    );
}

#[test]
fn expansion_table() {
    let e = env(&[("V", "v"), ("P", "8080 9090/udp"), ("U", "app"), ("E", "")]);
    let x = |s: &str| cmd(s).expand(&e).unwrap();
    let Command::Workdir(w) = x("WORKDIR /a/$V").command else {
        panic!()
    };
    assert_eq!(w.path, "/a/v");
    let Command::User(u) = x("USER ${U}:${G:-grp}").command else {
        panic!()
    };
    assert_eq!(u.user, "app:grp");
    let r = x("EXPOSE $P");
    let Command::Expose(p) = &r.command else {
        panic!()
    };
    assert_eq!(p.ports, ["8080", "9090/udp"]);
    assert_eq!(r.used.iter().collect::<Vec<_>>(), ["P"]);
    let Command::Run(run) = x("RUN --mount=type=${E}cache,target=/$V echo $V").command else {
        panic!()
    };
    assert!(
        matches!(&run.mounts[0], Mount::Cache(c) if c.target == "/v"),
        "{:?}",
        run.mounts
    );
    assert_eq!(run.cmdline.args, ["echo $V"]);
    let Command::Copy(c) = x("COPY --from=$V --chown=$U --chmod=${M:-755} \"$V\" /$V/").command
    else {
        panic!()
    };
    assert_eq!(
        (c.from.as_deref(), c.chown.as_deref(), c.chmod.as_deref()),
        (Some("v"), Some("app"), Some("755"))
    );
    assert_eq!(c.sources, ["v"]);
    let Command::Cmd(c) = x("CMD echo $V").command else {
        panic!()
    };
    assert_eq!(c.cmdline.args, ["echo $V"]);
    let Command::Label(l) = x("LABEL \"$V\"=\"$U x\"").command else {
        panic!()
    };
    assert_eq!(
        (l.labels[0].key.as_str(), l.labels[0].value.as_str()),
        ("v", "app x")
    );
    assert!(cmd("VOLUME $E /x").expand(&e).is_err());
    assert!(cmd("STOPSIGNAL $NOPE").expand(&e).is_err());
    assert_eq!(
        cmd("EXPOSE $V").expand(&e).unwrap_err().to_string(),
        "Dockerfile:2: invalid containerPort: v"
    );
    assert_eq!(
        cmd("ADD --checksum=sha256:${V} http://a/b /")
            .expand(&e)
            .unwrap_err()
            .to_string(),
        "Dockerfile:2: invalid checksum digest length"
    );
    let err = cmd("WORKDIR ${V").expand(&NoEnv).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Dockerfile:2: failed to process \"${V\": syntax error: missing '}'"
    );
}

#[test]
fn backtick_escape_expansion() {
    let d = df("# escape=`\nFROM a\nWORKDIR C:\\dir\\`$V\n");
    let Command::Workdir(w) = d.stages[0].commands[0].expand(&NoEnv).unwrap().command else {
        panic!()
    };
    assert_eq!(w.path, "C:\\dir\\$V");
}

#[test]
fn warnings_and_check_directive() {
    let d =
        df("FROM a as Build\nMAINTAINER me\nENV a b\nCMD x\nCMD y\nrun true\nFROM a AS Build\n");
    let rules: Vec<&str> = d.warnings.iter().map(|w| w.rule).collect();
    for r in [
        "FromAsCasing",
        "StageNameCasing",
        "MaintainerDeprecated",
        "LegacyKeyValueFormat",
        "JSONArgsRecommended",
        "MultipleInstructionsDisallowed",
        "ConsistentInstructionCasing",
        "DuplicateStageName",
    ] {
        assert!(rules.contains(&r), "{r} missing from {rules:?}");
    }
    let d =
        df("# check=skip=MaintainerDeprecated,JSONArgsRecommended\nFROM a\nMAINTAINER me\nCMD x\n");
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
}
