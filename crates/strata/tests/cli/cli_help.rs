//! A CLI that teaches itself: `completion bash` loads in bash and
//! registers `strata`; zsh and fish scripts are generated; `__man` writes
//! a page per command with EXAMPLES; `--help` of build, run, history,
//! pull and push (long and short forms) has examples; the global options
//! are listed once, in `strata --help`, and still work after a
//! subcommand. See: issue 15.

use std::process::Command;

use crate::support::{Env, bin, skip, which};

#[test]
fn bash_completion_loads() {
    let Some(bash) = which("bash") else {
        panic!("bash is required");
    };
    let script = format!(
        "source <('{}' completion bash) && complete -p strata",
        bin().display()
    );
    let out = Command::new(bash).args(["-c", &script]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("complete ") && stdout.trim_end().ends_with(" strata"),
        "{stdout}"
    );
    // The script completes subcommands and flags of subcommands.
    let env = Env::new();
    let bash_script = env.ok(["completion", "bash"]);
    for word in ["image", "build", "--explain-context", "verify", "--digests"] {
        assert!(bash_script.contains(word), "{word} is not completed");
    }
}

#[test]
fn zsh_and_fish_scripts() {
    let env = Env::new();
    assert!(env.ok(["completion", "zsh"]).starts_with("#compdef strata"));
    assert!(
        env.ok(["completion", "fish"])
            .contains("complete -c strata")
    );
    let err = env.fails(["completion", "tcsh"]);
    assert!(err.contains("invalid value 'tcsh'"), "{err}");
}

#[test]
fn man_pages_with_examples() {
    let env = Env::new();
    let dir = env.path("man1");
    env.ok(["__man", dir.to_str().unwrap()]);
    let page = |name: &str| {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let top = page("strata.1");
    assert!(
        top.starts_with(".ie") || top.contains(".TH strata 1"),
        "{top}"
    );
    assert!(
        top.contains("\\-\\-root"),
        "the global options are in strata(1)"
    );
    for name in [
        "strata-build.1",
        "strata-image-build.1",
        "strata-run.1",
        "strata-container-run.1",
        "strata-history.1",
        "strata-pull.1",
        "strata-push.1",
    ] {
        let p = page(name);
        assert!(p.contains(".SH EXAMPLES"), "{name}");
        assert!(
            !p.contains("\\-\\-root <"),
            "{name} repeats the global options"
        );
    }
    assert!(
        !dir.join("strata-__shim.1").exists(),
        "hidden commands have no page"
    );
    // man itself renders one (man-db is in STRATA_APT_PACKAGES).
    let Some(man) = which("man") else {
        return skip("man is not installed: the pages were checked, not rendered");
    };
    {
        let out = Command::new(man)
            .args(["-l", "-P", "cat"])
            .arg(dir.join("strata-image-build.1"))
            .env("MANWIDTH", "100")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("EXAMPLES") && text.contains("strata build -t web-ping ."),
            "{text}"
        );
    }
}

#[test]
fn examples_and_global_options_in_help() {
    let env = Env::new();
    for cmd in [
        &["build"][..],
        &["image", "build"],
        &["run"],
        &["container", "run"],
        &["history"],
        &["image", "history"],
        &["pull"],
        &["image", "pull"],
        &["push"],
        &["image", "push"],
    ] {
        let mut args = cmd.to_vec();
        args.push("--help");
        let help = env.ok(&args);
        assert!(help.contains("\nExamples:\n  strata "), "{cmd:?}: {help}");
        assert!(!help.contains("--root <DIR>"), "{cmd:?} lists --root");
        assert!(!help.contains("--insecure-registry <HOST>"), "{cmd:?}");
        assert!(
            help.contains("Global options (--root, --log-level"),
            "{cmd:?}"
        );
    }
    let top = env.ok(["--help"]);
    assert_eq!(top.matches("--root <DIR>").count(), 1, "{top}");
    assert!(
        top.contains("-D, --debug") && top.contains("--log-level <LEVEL>"),
        "{top}"
    );
    assert!(top.contains("completion"), "{top}");
    // Global options still parse after the subcommand, and reach it.
    let other = env.path("other-root");
    env.ok(["images", "--root", other.to_str().unwrap()]);
    assert!(other.join("metadata.db").exists());
}
