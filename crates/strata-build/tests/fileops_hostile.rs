//! Hostile and ignored contexts: escapes by `..` and symlinks, and
//! `.dockerignore` with `!` exceptions (ignored files never selected and
//! never in the key).

mod fileops_common;

use fileops_common::*;
use strata_build::fileops::{CopyOptions, FileOpError};

#[test]
fn dotdot_escape_is_an_error_naming_the_source() {
    let env = Env::new();
    env.write("a", "a");
    for src in ["../x", "sub/../../x", "/../etc/passwd"] {
        let err = env.select(&[src], &copy_opts()).unwrap_err();
        assert!(
            matches!(err, FileOpError::EscapesContext { .. }),
            "{src}: {err}"
        );
        assert!(err.to_string().contains(src), "{err}");
    }
    // `..` that stays inside is fine.
    env.write("sub/b", "b");
    let sel = env.select(&["sub/../a"], &copy_opts()).unwrap();
    assert_eq!(sel.units[0].path, "a");
}

#[test]
fn symlink_escapes_are_errors_naming_the_link() {
    let env = Env::new();
    let outside = env.tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret"), "s").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", env.ctx.join("passwd")).unwrap();
    std::os::unix::fs::symlink("../outside", env.ctx.join("up")).unwrap();
    std::os::unix::fs::symlink(&outside, env.ctx.join("abs")).unwrap();
    for (src, link) in [
        ("passwd", "passwd"),
        ("up/secret", "up"),
        ("abs/secret", "abs"),
        ("up", "up"),
    ] {
        let err = env.select(&[src], &copy_opts()).unwrap_err();
        match &err {
            FileOpError::SymlinkEscape { link: l, .. } => assert_eq!(l, link, "{src}"),
            other => panic!("{src}: {other}"),
        }
        assert!(
            err.to_string().contains("outside the build context"),
            "{err}"
        );
    }
    // A wildcard that reaches an escaping link fails the same way.
    let err = env.select(&["pass*"], &copy_opts()).unwrap_err();
    assert!(matches!(err, FileOpError::SymlinkEscape { .. }), "{err}");
    // An absolute link that points back inside the context is fine.
    env.write("real", "r");
    std::os::unix::fs::symlink(env.ctx.join("real"), env.ctx.join("inside")).unwrap();
    let sel = env.select(&["inside"], &copy_opts()).unwrap();
    assert_eq!(sel.units[0].path, "real");
}

#[test]
fn dockerignore_excludes_with_exceptions() {
    let env = Env::new();
    env.write(
        ".dockerignore",
        "*.log\n!keep.log\nbuild\n!build/out/app\nnode_modules\n",
    );
    env.write("a.js", "a");
    env.write("err.log", "e");
    env.write("keep.log", "k");
    env.write("build/tmp/o.o", "o");
    env.write("build/out/app", "app");
    env.write("build/out/other", "x");
    env.write("node_modules/m/index.js", "m");
    env.copy(&["."], "/app/", &copy_opts(), CopyOptions::default())
        .unwrap();
    assert_eq!(
        env.listing(),
        vec![
            "app/ d 755 0:0",
            "app/.dockerignore f 644 0:0 50",
            "app/a.js f 644 0:0 1",
            "app/build/ d 755 0:0",
            "app/build/out/ d 755 0:0",
            "app/build/out/app f 644 0:0 3",
            "app/keep.log f 644 0:0 1"
        ]
    );
}

#[test]
fn ignored_literal_source_is_not_found_with_the_pattern() {
    let env = Env::new();
    env.write(".dockerignore", "secret*\n");
    env.write("secret.key", "k");
    let err = env.select(&["secret.key"], &copy_opts()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to compute cache key: \"/secret.key\": not found (excluded by .dockerignore:1 pattern \"secret*\")"
    );
    let sel = env.select(&["*"], &copy_opts()).unwrap();
    let names: Vec<&str> = sel.units.iter().map(|u| u.path.as_str()).collect();
    assert_eq!(names, vec![".dockerignore"]);
}

#[test]
fn ignored_files_never_reach_the_key() {
    let env = Env::new();
    env.write(".dockerignore", "**/*.tmp\n");
    env.write("src/a", "a");
    env.write("src/scratch.tmp", "one");
    let k1 = env.select(&["src"], &copy_opts()).unwrap().checksum();
    env.write("src/scratch.tmp", "two, and longer");
    env.write("src/new.tmp", "new");
    let k2 = env.select(&["src"], &copy_opts()).unwrap().checksum();
    assert_eq!(k1, k2);
    env.write("src/a", "changed");
    let k3 = env.select(&["src"], &copy_opts()).unwrap().checksum();
    assert_ne!(k1, k3);
}

#[test]
fn symlink_loops_are_errors() {
    let env = Env::new();
    std::os::unix::fs::symlink("b", env.ctx.join("a")).unwrap();
    std::os::unix::fs::symlink("a", env.ctx.join("b")).unwrap();
    let err = env.select(&["a"], &copy_opts()).unwrap_err();
    assert!(
        err.to_string()
            .contains("too many levels of symbolic links"),
        "{err}"
    );
}
