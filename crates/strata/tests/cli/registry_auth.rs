//! Registry auth against the real htpasswd registry (and the token-auth
//! one when scripts/test.sh started it): a 401 names `strata login`,
//! `login`/`logout` write docker's config.json, credential helpers are
//! used. See: issue 5.

use std::os::unix::fs::PermissionsExt;

use crate::support::registry::{auth_registry, token_registry, unique_repo};
use crate::support::{Env, skip};

fn config_json(env: &Env) -> serde_json::Value {
    let p = env.dir.path().join(".docker/config.json");
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

/// login (wrong then right password), push, rmi, pull, logout.
fn login_round_trip(reg: &str, user: &str, password: &str) {
    let env = Env::new();
    env.busybox("bb:v1");
    let name = format!("{reg}/{}:v1", unique_repo("auth"));
    env.ok(["tag", "bb:v1", &name]);

    let err = env.fails(["push", &name]);
    assert!(err.contains(&format!("strata login {reg}")), "{err}");
    assert!(err.contains("unauthorized"), "{err}");
    let err = env.fails(["pull", &name]);
    assert!(err.contains(&format!("strata login {reg}")), "{err}");

    let err = env.fails(["login", "-u", user, "-p", "wrong-password", reg]);
    assert!(err.contains("incorrect username or password"), "{err}");
    assert!(!env.dir.path().join(".docker/config.json").exists());

    let out = env.run_stdin(
        ["login", "-u", user, "--password-stdin", reg],
        format!("{password}\n").as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "Login Succeeded"
    );
    let cfg = config_json(&env);
    use base64_check::decode;
    let auth = cfg["auths"][reg]["auth"].as_str().expect("auths entry");
    assert_eq!(decode(auth), format!("{user}:{password}"));
    let mode = std::fs::metadata(env.dir.path().join(".docker/config.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    env.ok(["push", &name]);
    // A second repository: the blob is mounted (on a token registry, with a
    // token naming the source repository's scope too).
    let second = format!("{reg}/{}:v1", unique_repo("auth-mount"));
    env.ok(["tag", "bb:v1", &second]);
    let out = env.ok(["push", &second]);
    let source = name.rsplit_once(':').unwrap().0.split_once('/').unwrap().1;
    assert!(out.contains(&format!("Mounted from {source}")), "{out}");
    let id = env.ok(["images", "-q", "--no-trunc", "bb:v1"]);
    env.ok(["rmi", "-f", id.trim()]);
    let out = env.ok(["pull", &name]);
    assert!(out.contains("Pull complete"), "{out}");

    assert_eq!(
        env.ok(["logout", reg]).trim(),
        format!("Removing login credentials for {reg}")
    );
    assert_eq!(
        env.ok(["logout", reg]).trim(),
        format!("Not logged in to {reg}")
    );
    env.ok(["rmi", &name]);
    let err = env.fails(["pull", &name]);
    assert!(err.contains(&format!("strata login {reg}")), "{err}");
}

/// A tiny base64 decoder, so the test needs no extra crate.
mod base64_check {
    pub fn decode(s: &str) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = 0u32;
        let mut n = 0;
        let mut out = Vec::new();
        for c in s.bytes().filter(|c| *c != b'=') {
            let v = A.iter().position(|a| *a == c).expect("base64") as u32;
            bits = (bits << 6) | v;
            n += 6;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
                bits &= (1 << n) - 1;
            }
        }
        String::from_utf8(out).expect("utf-8")
    }
}

#[test]
fn basic_auth_login_push_pull_logout() {
    let Some((reg, user, password)) = auth_registry() else {
        return skip(
            "no htpasswd registry (STRATA_TEST_AUTH_REGISTRY; scripts/test.sh starts one)",
        );
    };
    login_round_trip(&reg, &user, &password);
}

#[test]
fn token_auth_login_push_pull_logout() {
    let Some((reg, user, password)) = token_registry() else {
        return skip(
            "no token-auth registry (STRATA_TEST_TOKEN_REGISTRY; scripts/test.sh starts one)",
        );
    };
    login_round_trip(&reg, &user, &password);
}

#[test]
fn credential_helper_supplies_and_stores_credentials() {
    let Some((reg, user, password)) = auth_registry() else {
        return skip("no htpasswd registry (STRATA_TEST_AUTH_REGISTRY)");
    };
    let env = Env::new();
    let bin = env.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let store = env.path("helper-store.json");
    let log = env.path("helper.log");
    // docker-credential-helpers' protocol: get/store/erase on stdin.
    let script = format!(
        r#"#!/bin/sh
read -r input || true
echo "$1 $input" >> '{log}'
case "$1" in
  get) if [ -f '{store}' ]; then cat '{store}'; else echo '{{"ServerURL":"'"$input"'","Username":"{user}","Secret":"{password}"}}'; fi ;;
  store) printf '%s' "$input" > '{store}' ;;
  erase) rm -f '{store}' ;;
esac
"#,
        log = log.display(),
        store = store.display(),
    );
    let helper = bin.join("docker-credential-strata-test");
    std::fs::write(&helper, script).unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(env.dir.path().join(".docker")).unwrap();
    std::fs::write(
        env.dir.path().join(".docker/config.json"),
        format!(r#"{{"credHelpers":{{"{reg}":"strata-test"}}}}"#),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |args: &[&str]| {
        let out = env
            .cmd(args)
            .env("PATH", &path)
            .output()
            .expect("run strata");
        assert!(
            out.status.success(),
            "strata {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    env.busybox("bb:v1");
    let name = format!("{reg}/{}:v1", unique_repo("helper"));
    run(&["tag", "bb:v1", &name]);
    run(&["push", &name]);
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(calls.contains(&format!("get {reg}")), "{calls}");

    let out = env
        .cmd(["login", "-u", &user, "--password-stdin", &reg])
        .env("PATH", &path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .expect("stdin")
                .write_all(password.as_bytes())?;
            c.wait_with_output()
        })
        .expect("login");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("unencrypted"));
    let stored = std::fs::read_to_string(&store).unwrap();
    assert!(
        stored.contains(&format!(r#""Username":"{user}""#)) && stored.contains(&password),
        "{stored}"
    );
    let cfg = config_json(&env);
    assert_eq!(cfg["auths"][&reg], serde_json::json!({}), "{cfg}");
    assert!(cfg["auths"][&reg].get("auth").is_none());
    run(&["logout", &reg]);
    assert!(!store.exists(), "erase went to the helper");
}
