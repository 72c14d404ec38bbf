//! What a container runs and with which environment, combined exactly as
//! docker combines the image config with `run`'s flags.
//!
//! Command (moby `daemon/commit.go` `merge`, `mergeAndVerifyConfig`,
//! `getEntrypointAndArgs`):
//! * no `--entrypoint` flag: the image's entrypoint; the image's `CMD`
//!   only when no arguments are given;
//! * `--entrypoint X`: `[X]`, and the image's `CMD` is **not** used;
//! * `--entrypoint ""`: no entrypoint at all, and no image `CMD` either;
//! * nothing left → `No command specified`.
//!
//! Environment (moby `container.CreateDaemonEnvironment`): `PATH` (docker's
//! default), `HOSTNAME`, `TERM=xterm` with `-t`, then the container's env —
//! the image's env with `-e`/`--env-file` merged in (later wins, per key) —
//! replacing those defaults by key or appended in order.

use std::collections::HashMap;

use crate::error::{Result, RuntimeError};

/// docker's default `PATH`.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The user's `--entrypoint` flag: absent, empty (`""`) or a program.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum EntrypointFlag {
    /// Not given: the image's entrypoint applies.
    #[default]
    Unset,
    /// `--entrypoint ""`: reset.
    Reset,
    /// `--entrypoint PROG`.
    Program(String),
}

/// The effective `Entrypoint` and `Cmd` of a container (what docker stores
/// in the container's `Config`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Command {
    /// Entrypoint (may be empty).
    pub entrypoint: Vec<String>,
    /// Cmd (may be empty).
    pub cmd: Vec<String>,
}

impl Command {
    /// `Path` and `Args` as `docker inspect` shows them; the process's argv
    /// is `[path] + args`.
    pub fn path_and_args(&self) -> (String, Vec<String>) {
        let mut all = self.argv();
        let path = all.remove(0);
        (path, all)
    }

    /// The full argv (never empty).
    pub fn argv(&self) -> Vec<String> {
        self.entrypoint.iter().chain(&self.cmd).cloned().collect()
    }
}

/// Combines the image's entrypoint and cmd with the user's flags.
pub fn combine_command(
    image_entrypoint: Option<&[String]>,
    image_cmd: Option<&[String]>,
    flag: &EntrypointFlag,
    args: &[String],
) -> Result<Command> {
    let mut entrypoint: Vec<String> = match flag {
        EntrypointFlag::Unset => Vec::new(),
        EntrypointFlag::Reset => vec![String::new()],
        EntrypointFlag::Program(p) => vec![p.clone()],
    };
    let mut cmd: Vec<String> = args.to_vec();
    if entrypoint.is_empty() {
        if cmd.is_empty() {
            cmd = image_cmd.map(<[String]>::to_vec).unwrap_or_default();
        }
        entrypoint = image_entrypoint.map(<[String]>::to_vec).unwrap_or_default();
    }
    if entrypoint.len() == 1 && entrypoint[0].is_empty() {
        entrypoint.clear();
    }
    if entrypoint.is_empty() && cmd.is_empty() {
        return Err(RuntimeError::NoCommand);
    }
    Ok(Command { entrypoint, cmd })
}

/// `KEY` of a `KEY=value` entry.
fn key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(k, _)| k)
}

/// Merges `overrides` into `base` by key: an existing key is replaced in
/// place, a new one appended (moby `ReplaceOrAppendEnvValues`).
pub fn replace_or_append(base: &mut Vec<String>, overrides: &[String]) {
    let mut index: HashMap<String, usize> = base
        .iter()
        .enumerate()
        .map(|(i, e)| (key(e).to_string(), i))
        .collect();
    for e in overrides {
        match index.get(key(e)) {
            Some(&i) => base[i] = e.clone(),
            None => {
                index.insert(key(e).to_string(), base.len());
                base.push(e.clone());
            }
        }
    }
}

/// The user's `-e`/`--env-file` entries as docker's CLI normalises them:
/// `NAME=value` as is; a bare `NAME` takes the value from `lookup` (the
/// CLI's environment) or is dropped when unset.
pub fn normalize_user_env(
    entries: &[String],
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>> {
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        if e.is_empty() || e.starts_with('=') {
            return Err(RuntimeError::Invalid(format!(
                "invalid environment variable: {e}"
            )));
        }
        if e.contains('=') {
            out.push(e.clone());
        } else if let Some(v) = lookup(e) {
            out.push(format!("{e}={v}"));
        }
    }
    Ok(out)
}

/// Longest line of an `--env-file` docker accepts: it reads the file with
/// Go's `bufio.Scanner`, whose token limit is 64 KiB (newline included).
pub const MAX_ENV_FILE_LINE: usize = 64 * 1024 - 1;
/// Most bytes of an `--env-file` strata reads (a bound docker lacks: a
/// file of short lines could otherwise grow without end, e.g. a FIFO).
pub const MAX_ENV_FILE: u64 = 64 << 20;

/// Reads and parses an `--env-file` ([`parse_env_file`]) without ever
/// holding more than a line in memory beyond the result: a line over
/// [`MAX_ENV_FILE_LINE`] (`/dev/zero` has no newline at all) fails with
/// docker's `invalid env file (PATH): bufio.Scanner: token too long`, and
/// so does a file over [`MAX_ENV_FILE`].
pub fn read_env_file(path: &std::path::Path) -> Result<Vec<String>> {
    use std::io::{BufRead, Read};
    let f = std::fs::File::open(path).map_err(|e| {
        RuntimeError::Invalid(format!("open {}: {}", path.display(), go_os_text(&e)))
    })?;
    let invalid =
        |why: &str| RuntimeError::Invalid(format!("invalid env file ({}): {why}", path.display()));
    let mut r = std::io::BufReader::new(f.take(MAX_ENV_FILE + 1));
    let mut text = String::new();
    let mut line = Vec::new();
    let mut total = 0u64;
    loop {
        line.clear();
        // At most one byte more than a line may hold.
        let n = (&mut r)
            .take(MAX_ENV_FILE_LINE as u64 + 2)
            .read_until(b'\n', &mut line)
            .map_err(|e| invalid(&go_os_text(&e)))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        let content = line.strip_suffix(b"\n").unwrap_or(&line);
        if content.len() > MAX_ENV_FILE_LINE || total > MAX_ENV_FILE {
            return Err(invalid("bufio.Scanner: token too long"));
        }
        text.push_str(&String::from_utf8_lossy(content));
        text.push('\n');
    }
    parse_env_file(&text)
}

/// An OS error as Go spells it (`no such file or directory`): strerror,
/// lower-cased, without Rust's ` (os error N)`.
fn go_os_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = match s.rfind(" (os error ") {
        Some(i) => &s[..i],
        None => &s,
    };
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Parses an `--env-file`: one `NAME=value` or `NAME` per line; blank
/// lines and `#` comments are skipped; leading whitespace of the name is
/// trimmed, the value is kept verbatim.
pub fn parse_env_file(text: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = key(line);
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(RuntimeError::Invalid(format!(
                "invalid environment variable on line {}: {line:?}",
                n + 1
            )));
        }
        out.push(line.to_string());
    }
    Ok(out)
}

/// The container's `Config.Env` as docker merges it (moby `merge`): the
/// user's entries (a repeated key keeps its last value, in the position of
/// its first), then every image entry whose key the user did not set.
pub fn merge_config_env(image_env: &[String], user_env: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(image_env.len() + user_env.len());
    replace_or_append(&mut out, user_env);
    for e in image_env {
        if !out.iter().any(|u| key(u) == key(e)) {
            out.push(e.clone());
        }
    }
    out
}

/// The process environment: docker's daemon defaults, then the
/// container's env (image env + user env, already merged), then `HOME`
/// from the passwd entry when still missing (as runc adds it).
pub fn process_env(container_env: &[String], hostname: &str, tty: bool, home: &str) -> Vec<String> {
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
    ];
    if tty {
        env.push("TERM=xterm".to_string());
    }
    replace_or_append(&mut env, container_env);
    if !env.iter().any(|e| key(e) == "HOME") {
        env.push(format!("HOME={home}"));
    }
    env
}

/// The value of `name` in an env list.
pub fn env_value<'a>(env: &'a [String], name: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find(|e| key(e) == name)
        .and_then(|e| e.split_once('=').map(|(_, v)| v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn env_files_are_read_bounded() {
        let t = std::env::temp_dir().join(format!("strata-envfile-{}", std::process::id()));
        std::fs::write(&t, "A=1\n# c\n\n  B=two words\nC\n").unwrap();
        assert_eq!(read_env_file(&t).unwrap(), ["A=1", "B=two words", "C"]);
        // One line at docker's limit is fine, one byte more is not.
        std::fs::write(&t, format!("A={}\n", "x".repeat(MAX_ENV_FILE_LINE - 2))).unwrap();
        assert_eq!(read_env_file(&t).unwrap()[0].len(), MAX_ENV_FILE_LINE);
        std::fs::write(&t, format!("A={}", "x".repeat(MAX_ENV_FILE_LINE - 1))).unwrap();
        let e = read_env_file(&t).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "invalid env file ({}): bufio.Scanner: token too long",
                t.display()
            )
        );
        let e = read_env_file(std::path::Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "invalid env file (/dev/zero): bufio.Scanner: token too long"
        );
        std::fs::remove_file(&t).unwrap();
        let e = read_env_file(&t).unwrap_err().to_string();
        assert!(e.ends_with(": no such file or directory"), "{e}");
    }

    #[test]
    fn command_combinations_match_docker() {
        let ep = v(&["/entry"]);
        let cmd = v(&["default", "arg"]);
        let c = |flag: EntrypointFlag, args: &[&str]| {
            combine_command(Some(&ep), Some(&cmd), &flag, &v(args)).map(|c| c.argv())
        };
        assert_eq!(
            c(EntrypointFlag::Unset, &[]).unwrap(),
            v(&["/entry", "default", "arg"])
        );
        assert_eq!(
            c(EntrypointFlag::Unset, &["x"]).unwrap(),
            v(&["/entry", "x"])
        );
        assert_eq!(
            c(EntrypointFlag::Program("sh".into()), &[]).unwrap(),
            v(&["sh"])
        );
        assert_eq!(
            c(EntrypointFlag::Program("sh".into()), &["-c", "id"]).unwrap(),
            v(&["sh", "-c", "id"])
        );
        assert!(matches!(
            c(EntrypointFlag::Reset, &[]),
            Err(RuntimeError::NoCommand)
        ));
        assert_eq!(
            c(EntrypointFlag::Reset, &["echo", "hi"]).unwrap(),
            v(&["echo", "hi"])
        );
        let only_cmd = combine_command(None, Some(&cmd), &EntrypointFlag::Unset, &[]).unwrap();
        assert_eq!(
            only_cmd.path_and_args(),
            ("default".to_string(), v(&["arg"]))
        );
        assert!(matches!(
            combine_command(None, None, &EntrypointFlag::Unset, &[]),
            Err(RuntimeError::NoCommand)
        ));
    }

    #[test]
    fn env_order_and_overrides() {
        let mut base = v(&["PATH=/bin", "A=1"]);
        replace_or_append(&mut base, &v(&["A=2", "B=3", "A=4"]));
        assert_eq!(base, v(&["PATH=/bin", "A=4", "B=3"]));

        let env = process_env(&v(&["FOO=1"]), "abc", true, "/root");
        assert_eq!(
            env,
            v(&[
                &format!("PATH={DEFAULT_PATH}"),
                "HOSTNAME=abc",
                "TERM=xterm",
                "FOO=1",
                "HOME=/root"
            ])
        );
        let env = process_env(
            &v(&["PATH=/x", "HOME=/h", "HOSTNAME=mine"]),
            "abc",
            false,
            "/root",
        );
        assert_eq!(env, v(&["PATH=/x", "HOSTNAME=mine", "HOME=/h"]));
        assert_eq!(env_value(&env, "PATH"), Some("/x"));
    }

    #[test]
    fn config_env_merges_like_docker() {
        let image = v(&["PATH=/img", "TARGET=blog", "X=1"]);
        let user = v(&["FOO=1", "TARGET=example.com", "FOO=2"]);
        assert_eq!(
            merge_config_env(&image, &user),
            v(&["FOO=2", "TARGET=example.com", "PATH=/img", "X=1"])
        );
        assert_eq!(merge_config_env(&image, &[]), image);
    }

    #[test]
    fn user_env_takes_host_values() {
        let got = normalize_user_env(&v(&["A=1", "HOSTVAR", "MISSING", "E="]), |k| {
            (k == "HOSTVAR").then(|| "from-host".to_string())
        })
        .unwrap();
        assert_eq!(got, v(&["A=1", "HOSTVAR=from-host", "E="]));
        assert!(normalize_user_env(&v(&["=x"]), |_| None).is_err());
    }

    #[test]
    fn env_files() {
        let got = parse_env_file("# c\n\nA=1\n  B= two words \nC\n").unwrap();
        assert_eq!(got, v(&["A=1", "B= two words ", "C"]));
        assert!(parse_env_file("BAD NAME=1\n").is_err());
    }
}
