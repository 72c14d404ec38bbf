//! Our own fixtures for what the upstream data lacks (heredocs, SHELL,
//! STOPSIGNAL, MAINTAINER, unknown instructions, escape directive with
//! heredocs, ARG scoping across stages, every error message). One named test
//! per fixture directory under `tests/fixtures/<kind>/<name>/`:
//!
//! * `parse/`: `Dockerfile` → `result` (BuildKit dump format).
//! * `scope/`: `Dockerfile` (+ optional `build-args`, `KEY=value` lines, and
//!   `target`) → `steps`, a trace of resolving every stage with
//!   [`GlobalArgs`] / [`StageScope`] and expanding every command.
//! * `errors/`: `Dockerfile` (+ optional `build-args`) → `error`, the first
//!   error's `Display` while parsing and then stepping every stage; with an
//!   optional `snippet` for [`Error::snippet`].
//! * `warnings/`: `Dockerfile` → `warnings`, one `rule line: message` per
//!   line.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use strata_dockerfile::args::{BuildOptions, GlobalArgs, StageScope};
use strata_dockerfile::instructions::{Command, Mount, RunScript};
use strata_dockerfile::{Dockerfile, Error, parser};

fn compare(got: &str, want: &str) -> Result<(), Failed> {
    if got == want {
        Ok(())
    } else {
        Err(format!("output differs\n--- got\n{got}--- want\n{want}").into())
    }
}

fn options(dir: &Path) -> BuildOptions {
    let mut o = BuildOptions::default();
    if let Ok(text) = fs::read_to_string(dir.join("build-args")) {
        for line in text.lines().filter(|l| !l.is_empty()) {
            let (k, v) = line.split_once('=').unwrap_or((line, ""));
            o.build_args.insert(k.to_string(), v.to_string());
        }
    }
    if let Ok(t) = fs::read_to_string(dir.join("target")) {
        o.target = Some(t.trim().to_string());
    }
    if let Ok(p) = fs::read_to_string(dir.join("platform")) {
        o.target_platform = strata_dockerfile::Platform::parse(p.trim()).expect("platform");
    }
    o
}

fn list(v: &[String]) -> String {
    format!("{v:?}")
}

/// A compact, stable description of an expanded command.
fn describe(c: &Command, scope: &StageScope) -> String {
    match c {
        Command::Run(r) => {
            let mut s = format!("argv={}", list(&r.argv(scope.shell())));
            match r.script() {
                RunScript::Plain => {}
                RunScript::Shell(body) => write!(s, " script={body:?}").unwrap_or(()),
                RunScript::ShebangFile { name, data } => {
                    write!(s, " file={name}:{data:?}").unwrap_or(())
                }
                RunScript::Reconstituted(full) => write!(s, " script={full:?}").unwrap_or(()),
            }
            for m in &r.mounts {
                let m = match m {
                    Mount::Bind(b) => format!(
                        "bind:{}<-{:?}:{:?} ro={}",
                        b.target, b.from, b.source, b.readonly
                    ),
                    Mount::Cache(c) => {
                        format!("cache:{} id={:?} sharing={:?}", c.target, c.id, c.sharing)
                    }
                    Mount::Tmpfs(t) => format!("tmpfs:{} size={:?}", t.target, t.size),
                    Mount::Secret(x) => {
                        format!("secret:{:?} target={:?} env={:?}", x.id, x.target, x.env)
                    }
                    Mount::Ssh(x) => format!("ssh:{:?}", x.id),
                };
                write!(s, " mount={m}").unwrap_or(());
            }
            write!(s, " network={:?} security={:?}", r.network, r.security).unwrap_or(());
            s
        }
        Command::Copy(c) => format!(
            "src={} inline={} dest={} from={:?} chown={:?} chmod={:?} link={} parents={} exclude={}",
            list(&c.sources),
            list(
                &c.inline
                    .iter()
                    .map(|i| format!("{}={:?}", i.path, i.data))
                    .collect::<Vec<_>>()
            ),
            c.dest,
            c.from,
            c.chown,
            c.chmod,
            c.link,
            c.parents,
            list(&c.excludes)
        ),
        Command::Add(a) => format!(
            "src={} inline={} dest={} chown={:?} chmod={:?} checksum={:?} keep-git-dir={} unpack={:?}",
            list(&a.sources),
            list(
                &a.inline
                    .iter()
                    .map(|i| format!("{}={:?}", i.path, i.data))
                    .collect::<Vec<_>>()
            ),
            a.dest,
            a.chown,
            a.chmod,
            a.checksum,
            a.keep_git_dir,
            a.unpack
        ),
        Command::Env(e) => e
            .vars
            .iter()
            .map(|kv| format!("{}={:?}", kv.key, kv.value))
            .collect::<Vec<_>>()
            .join(" "),
        Command::Label(l) => l
            .labels
            .iter()
            .map(|kv| format!("{}={:?}", kv.key, kv.value))
            .collect::<Vec<_>>()
            .join(" "),
        Command::Arg(a) => a
            .args
            .iter()
            .map(|d| match &d.default {
                Some(v) => format!("{}={v:?}", d.key),
                None => format!("{} (unset)", d.key),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Command::Cmd(c) => format!(
            "{} shell={}",
            list(&c.cmdline.args),
            c.cmdline.prepend_shell
        ),
        Command::Entrypoint(c) => format!(
            "{} shell={}",
            list(&c.cmdline.args),
            c.cmdline.prepend_shell
        ),
        Command::Shell(s) => list(&s.shell),
        Command::Workdir(w) => w.path.clone(),
        Command::User(u) => u.user.clone(),
        Command::Volume(v) => list(&v.volumes),
        Command::Expose(e) => list(&e.ports),
        Command::StopSignal(s) => format!("{} ({:?})", s.signal, s.number()),
        Command::Maintainer(m) => m.maintainer.clone(),
        Command::Onbuild(o) => format!("trigger={:?}", o.trigger_text()),
        Command::Healthcheck(h) => format!(
            "test={} interval={:?} timeout={:?} start-period={:?} start-interval={:?} retries={}",
            list(&h.health.test),
            h.health.interval,
            h.health.timeout,
            h.health.start_period,
            h.health.start_interval,
            h.health.retries
        ),
        Command::From(f) => f.base.clone(),
    }
}

fn set(s: &std::collections::BTreeSet<String>) -> String {
    s.iter().cloned().collect::<Vec<_>>().join(",")
}

/// Step every stage in order; stages built from an earlier stage inherit
/// its scope. Returns the trace, or the first error.
fn trace(df: &Dockerfile, opts: &BuildOptions) -> Result<String, Error> {
    let global = GlobalArgs::new(df, opts)?;
    let mut out = String::new();
    let mut scopes: BTreeMap<String, StageScope> = BTreeMap::new();
    let mut all = Vec::new();
    for stage in &df.stages {
        let from = global.resolve_from(stage)?;
        let platform = from
            .platform
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default();
        writeln!(
            out,
            "stage {} {} from={} platform={platform} used=[{}]",
            stage.index,
            stage.display_name(),
            from.base,
            set(&from.used)
        )
        .unwrap_or(());
        let mut scope = match scopes.get(&from.base.to_lowercase()) {
            Some(parent) => parent.derive(stage),
            None => global.stage_scope(stage, [("PATH", "/usr/bin:/bin")]),
        };
        for cmd in &stage.commands {
            let step = scope.apply(cmd)?;
            writeln!(
                out,
                "  {} {}: {} used=[{}] unset=[{}]",
                cmd.range(),
                cmd.name(),
                describe(&step.command, &scope),
                set(&step.used),
                set(&step.unset)
            )
            .unwrap_or(());
            if let Command::Run(r) = &step.command {
                writeln!(
                    out,
                    "    created_by: {:?}",
                    scope.run_created_by(&r.argv(scope.shell()))
                )
                .unwrap_or(());
                let proxy: Vec<String> = scope.proxy_env().to_env_list();
                if !proxy.is_empty() {
                    writeln!(out, "    proxy: {}", proxy.join(" ")).unwrap_or(());
                }
            }
        }
        writeln!(out, "  env: {}", scope.env().to_env_list().join(" ")).unwrap_or(());
        writeln!(
            out,
            "  image env: {}",
            scope.image_env().to_env_list().join(" ")
        )
        .unwrap_or(());
        if let Some(name) = &stage.name {
            scopes.insert(name.clone(), scope.clone());
        }
        all.push(scope);
    }
    let unused = global.unused_build_args(all.iter());
    if !unused.is_empty() {
        writeln!(out, "unused build args: {}", unused.join(" ")).unwrap_or(());
    }
    Ok(out)
}

fn run_case(kind: &str, dir: &Path) -> Result<(), Failed> {
    let src = fs::read(dir.join("Dockerfile"))?;
    let expect = |f: &str| fs::read_to_string(dir.join(f));
    match kind {
        "parse" => {
            let ast = parser::parse(&src).map_err(|e| e.to_string())?;
            compare(&ast.dump(), &expect("result")?)
        }
        "scope" => {
            let df = Dockerfile::parse(&src).map_err(|e| e.to_string())?;
            let got = trace(&df, &options(dir)).map_err(|e| e.to_string())?;
            compare(&got, &expect("steps")?)
        }
        "warnings" => {
            let df = Dockerfile::parse(&src).map_err(|e| e.to_string())?;
            let got: String = df
                .warnings
                .iter()
                .map(|w| format!("{} {}: {}\n", w.rule, w.range, w.message))
                .collect();
            compare(&got, &expect("warnings")?)
        }
        "errors" => {
            let err = match Dockerfile::parse(&src) {
                Err(e) => e,
                Ok(df) => match trace(&df, &options(dir)) {
                    Err(e) => e,
                    Ok(t) => return Err(format!("no error; trace:\n{t}").into()),
                },
            };
            compare(&format!("{err}\n"), &expect("error")?)?;
            if let Ok(want) = expect("snippet") {
                let text = String::from_utf8_lossy(&src);
                compare(&err.snippet(&text, "Dockerfile").unwrap_or_default(), &want)?;
            }
            Ok(())
        }
        other => Err(format!("unknown fixture kind {other}").into()),
    }
}

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut trials = Vec::new();
    for kind in ["parse", "scope", "errors", "warnings"] {
        let mut dirs: Vec<PathBuf> = fs::read_dir(root.join(kind))
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default();
        dirs.sort();
        for dir in dirs {
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            trials.push(Trial::test(format!("{kind}::{name}"), move || {
                run_case(kind, &dir)
            }));
        }
    }
    assert!(
        trials.len() > 50,
        "fixtures missing under {}",
        root.display()
    );
    libtest_mimic::run(&args, trials).exit();
}
