//! docker's argument grammar, compared with docker 20.10 itself: each
//! command line of the table runs through the private dockerd and through
//! strata, and what the container receives must be the same — its argv
//! (printed by a `sh -c` entrypoint), its environment (sorted, without the
//! per-container `HOSTNAME`), its host name, whether it ran detached, and
//! the exit code. Options end at the IMAGE (`run`, `create`) and at the
//! CONTAINER (`exec`); combined short flags, `-e=A=1`, `-eA=1`,
//! `--flag=value`, `--` and repeated flags read as pflag reads them.
//! See: issue 17.

use std::process::{Command, Output};

use crate::confinement_common::Docker;
use crate::container_common::Ctr;

/// The probe: argv, host name, environment.
const P: &str = r#"printf '[%s]\n' "$0" "$@"; hostname; env | grep -v '^HOSTNAME=' | sort"#;

/// `run` cases (the harness adds `--network none` after `run`); `IMG`
/// is the image, `P` the probe.
const RUN: &[&[&str]] = &[
    // issue 17: `-h x` after the image is the command's, not --hostname.
    &["--rm", "--entrypoint", "echo", "IMG", "-h", "x", "y"],
    // issue 17: php-style flags after the image do not detach.
    &[
        "--rm",
        "--entrypoint",
        "echo",
        "IMG",
        "-d",
        "display_errors=stderr",
        "-r",
        "1",
    ],
    // issue 17: `--help` after the image is the command (not found: 127).
    &["--rm", "IMG", "--help"],
    // issue 17: `-e A=1` after the image goes to the entrypoint.
    &["--rm", "--entrypoint", "sh", "IMG", "-c", "P", "-e", "A=1"],
    &[
        "--rm",
        "-e=A=1",
        "-eB=2",
        "--env",
        "C=3",
        "--env=D=4",
        "--entrypoint",
        "sh",
        "IMG",
        "-c",
        "P",
    ],
    // Repeated flags: a list appends, a value keeps the last.
    &[
        "--rm",
        "-e",
        "A=1",
        "-e",
        "A=2",
        "-h",
        "one",
        "--hostname=two",
        "--entrypoint",
        "sh",
        "IMG",
        "-c",
        "P",
    ],
    &[
        "--rm",
        "-ie",
        "A=1",
        "--entrypoint",
        "sh",
        "IMG",
        "-c",
        "P",
        "x",
    ],
    &[
        "--rm",
        "-h=hh",
        "-w=/tmp",
        "--entrypoint=sh",
        "IMG",
        "-c",
        "P; pwd",
    ],
    // `--` before the image ends the options; after it, it is an argument.
    &["--rm", "--", "IMG", "sh", "-c", "P", "a"],
    &["--rm", "--entrypoint", "echo", "IMG", "--", "a"],
    &["--rm", "IMG", "--", "echo", "a"],
    // Booleans with values.
    &[
        "--rm=true",
        "-d=false",
        "--sig-proxy=false",
        "--entrypoint",
        "echo",
        "IMG",
        "a",
    ],
    &[
        "--rm",
        "-t=false",
        "-i=false",
        "--entrypoint",
        "sh",
        "IMG",
        "-c",
        "P",
    ],
    // Detached: combined short flags, then the command's own flags.
    &["-dit", "--entrypoint", "sh", "IMG", "-c", "P", "-dit"],
    &["-d", "--entrypoint", "sh", "IMG", "-c", "P", "--rm", "-d"],
    // Strata's own global flags after the image are the command's too.
    &["--rm", "--entrypoint", "echo", "IMG", "--root", "/x", "-D"],
    &["--rm", "--entrypoint", "sh", "IMG", "-c", "exit 3"],
];

/// `exec` cases, `CTR` the running container.
const EXEC: &[&[&str]] = &[
    &["CTR", "sh", "-c", "P", "-e", "A=1"],
    &["-e", "A=1", "-eB=2", "CTR", "sh", "-c", "P", "-u", "x"],
    &["-w=/tmp", "-e=C=3", "CTR", "sh", "-c", "P; pwd", "--", "-w"],
    &["-de", "A=1", "CTR", "sh", "-c", "P"],
];

fn subst(words: &[&str], name: &str, image: &str) -> Vec<String> {
    words
        .iter()
        .map(|w| match *w {
            "IMG" => image.to_string(),
            "CTR" => name.to_string(),
            "P" => P.to_string(),
            w if w.starts_with("P;") => format!("{P}{}", &w[1..]),
            w => w.to_string(),
        })
        .collect()
}

/// What one tool made of a command line.
struct Tool<'a> {
    name: &'a str,
    cmd: Box<dyn Fn() -> Command + 'a>,
    image: String,
}

impl Tool<'_> {
    fn out(&self, args: &[String]) -> Output {
        (self.cmd)().args(args).output().expect("spawn")
    }

    fn text(&self, args: &[&str]) -> String {
        let out = (self.cmd)().args(args).output().expect("spawn");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The outcome of `args`, comparable across tools: exit code and
    /// output, or `detached` and the logs.
    fn outcome(&self, args: &[String]) -> String {
        let out = self.out(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let id = stdout.trim();
        let detached =
            out.status.success() && id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
        let text = if detached {
            self.text(&["wait", id]);
            let logs = self.text(&["logs", id]);
            self.text(&["rm", "-f", id]);
            format!("detached\n{logs}")
        } else {
            format!("exit {:?}\n{stdout}", out.status.code())
        };
        normalize(&text)
    }
}

/// `\r\n` of a terminal as `\n`; a 12-hex host name (the container's
/// short ID, different in each tool) as `<id>`.
fn normalize(s: &str) -> String {
    s.replace("\r\n", "\n")
        .lines()
        .map(|l| {
            if l.len() == 12 && l.bytes().all(|b| b.is_ascii_hexdigit()) {
                "<id>".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn argv_after_the_image_is_the_commands_as_in_docker() {
    let Some(t) = Ctr::new() else { return };
    let Some(d) = Docker::new("grammar") else {
        return;
    };
    let tools = [
        Tool {
            name: "docker",
            cmd: Box::new(|| d.cmd()),
            image: d.image.clone(),
        },
        Tool {
            name: "strata",
            cmd: Box::new(|| t.env.cmd(std::iter::empty::<&str>())),
            image: "busybox".to_string(),
        },
    ];
    let mut failures = Vec::new();
    let mut compare = |case: String, got: Vec<String>| {
        if got[0] != got[1] {
            failures.push(format!(
                "{case}\n--- docker:\n{}\n--- strata:\n{}",
                got[0], got[1]
            ));
        }
    };
    for case in RUN {
        let got: Vec<String> = tools
            .iter()
            .map(|tool| {
                let mut args = vec!["run".to_string(), "--network".into(), "none".into()];
                args.extend(subst(case, "", &tool.image));
                tool.outcome(&args)
            })
            .collect();
        compare(format!("run {case:?}"), got);
    }
    // `create` (and `container create`) end their options at the image too.
    for form in [&["create"][..], &["container", "create"]] {
        let case = ["--entrypoint", "sh", "IMG", "-c", "P", "-e", "A=1", "-d"];
        let got: Vec<String> = tools
            .iter()
            .map(|tool| {
                let mut args: Vec<String> = form.iter().map(|s| s.to_string()).collect();
                args.extend(["--network".into(), "none".into()]);
                args.extend(subst(&case, "", &tool.image));
                let out = tool.out(&args);
                assert!(out.status.success(), "{}: {out:?}", tool.name);
                let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
                let ran = tool.text(&["start", "-a", &id]);
                tool.text(&["rm", "-f", &id]);
                normalize(&ran)
            })
            .collect();
        compare(format!("{form:?} {case:?}"), got);
    }
    // `exec` ends its options at the container.
    let name = format!("grammar-exec-{}", std::process::id());
    for tool in &tools {
        let out = tool.out(&[
            "run".into(),
            "-d".into(),
            "--network".into(),
            "none".into(),
            "--name".into(),
            name.clone(),
            tool.image.clone(),
            "sleep".into(),
            "300".into(),
        ]);
        assert!(out.status.success(), "{}: {out:?}", tool.name);
    }
    for case in EXEC {
        let got: Vec<String> = tools
            .iter()
            .map(|tool| {
                let mut args = vec!["exec".to_string()];
                args.extend(subst(case, &name, &tool.image));
                let detached = case[0].starts_with("-d");
                let out = tool.out(&args);
                let text = format!(
                    "exit {:?}\n{}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stdout)
                );
                // A detached exec prints nothing; it ran in the background.
                if detached {
                    format!("{text}(detached)")
                } else {
                    normalize(&text)
                }
            })
            .collect();
        compare(format!("exec {case:?}"), got);
    }
    for tool in &tools {
        tool.text(&["rm", "-f", &name]);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
