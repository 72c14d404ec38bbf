//! COPY rules of the fileops rule table, one test each, on real temp dirs.

mod fileops_common;

use std::os::unix::fs::MetadataExt;

use fileops_common::*;
use strata_build::fileops::{self, CopyOptions, SelectOptions, SourceTree};
use strata_dockerfile::instructions::Chmod;

#[test]
fn file_into_dir_dest_with_slash_keeps_mode_and_mtime_owner_root() {
    let env = Env::new();
    let f = env.write("app.js", "console.log(1)\n");
    chmod(&f, 0o640);
    set_mtime(&f, 1_600_000_000);
    std::os::unix::fs::chown(&f, Some(1234), Some(4321)).unwrap();
    env.copy(
        &["app.js"],
        "/opt/app/",
        &copy_opts(),
        CopyOptions::default(),
    )
    .unwrap();
    assert_eq!(
        env.listing(),
        vec![
            "opt/ d 755 0:0",
            "opt/app/ d 755 0:0",
            "opt/app/app.js f 640 0:0 15"
        ]
    );
    assert_eq!(mtime(&env.layer.join("opt/app/app.js")), 1_600_000_000);
}

#[test]
fn file_to_missing_dest_without_slash_is_renamed() {
    let env = Env::new();
    env.write("a.txt", "a");
    env.copy(
        &["a.txt"],
        "/etc/b.conf",
        &copy_opts(),
        CopyOptions::default(),
    )
    .unwrap();
    assert_eq!(
        env.listing(),
        vec!["etc/ d 755 0:0", "etc/b.conf f 644 0:0 1"]
    );
}

#[test]
fn file_into_existing_parent_dir_without_slash_keeps_parent_metadata() {
    let env = Env::new();
    env.write("a.txt", "a");
    std::fs::create_dir_all(env.parent.join("srv/data")).unwrap();
    chmod(&env.parent.join("srv/data"), 0o700);
    std::os::unix::fs::chown(env.parent.join("srv/data"), Some(5), Some(6)).unwrap();
    set_mtime(&env.parent.join("srv/data"), 1_500_000_000);
    env.copy(
        &["a.txt"],
        "/srv/data",
        &copy_opts(),
        CopyOptions::default(),
    )
    .unwrap();
    assert_eq!(
        env.listing(),
        vec![
            "srv/ d 755 0:0",
            "srv/data/ d 700 5:6",
            "srv/data/a.txt f 644 0:0 1"
        ]
    );
    assert_eq!(mtime(&env.layer.join("srv/data")), 1_500_000_000);
}

#[test]
fn directory_source_copies_contents_and_its_mtime() {
    let env = Env::new();
    env.write("src/a.txt", "a");
    env.write("src/sub/b.txt", "bb");
    chmod(&env.ctx.join("src/sub"), 0o750);
    set_mtime(&env.ctx.join("src"), 1_400_000_000);
    env.copy(&["src"], "/app", &copy_opts(), CopyOptions::default())
        .unwrap();
    assert_eq!(
        env.listing(),
        vec![
            "app/ d 755 0:0",
            "app/a.txt f 644 0:0 1",
            "app/sub/ d 750 0:0",
            "app/sub/b.txt f 644 0:0 2"
        ]
    );
    assert_eq!(mtime(&env.layer.join("app")), 1_400_000_000);
}

#[test]
fn wildcards_use_go_match_in_lexical_order() {
    let env = Env::new();
    env.write("b.txt", "b");
    env.write("a.txt", "a");
    env.write("c.md", "c");
    env.write("d/e.txt", "e");
    let sel = env.select(&["*.txt"], &copy_opts()).unwrap();
    let names: Vec<&str> = sel.units.iter().map(|u| u.path.as_str()).collect();
    assert_eq!(names, vec!["a.txt", "b.txt"]);
    // `**` is `*` in filepath.Match: one level only.
    let sel = env.select(&["**/*.txt"], &copy_opts()).unwrap();
    let names: Vec<&str> = sel.units.iter().map(|u| u.path.as_str()).collect();
    assert_eq!(names, vec!["d/e.txt"]);
    env.copy(&["?.txt"], "/w/", &copy_opts(), CopyOptions::default())
        .unwrap();
    assert_eq!(
        env.listing(),
        vec!["w/ d 755 0:0", "w/a.txt f 644 0:0 1", "w/b.txt f 644 0:0 1"]
    );
}

#[test]
fn wildcard_without_match_selects_nothing_but_missing_prefix_is_an_error() {
    let env = Env::new();
    env.write("dir/x.txt", "x");
    let sel = env.select(&["dir/*.none"], &copy_opts()).unwrap();
    assert!(sel.units.is_empty() && sel.entries.is_empty());
    let err = env.select(&["nodir/*.txt"], &copy_opts()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to compute cache key: \"/nodir\": not found"
    );
}

#[test]
fn missing_source_is_named() {
    let env = Env::new();
    let err = env.select(&["missing.txt"], &copy_opts()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to compute cache key: \"/missing.txt\": not found"
    );
}

#[test]
fn several_sources_need_a_directory_destination() {
    let env = Env::new();
    env.write("a", "a");
    env.write("b", "b");
    let err = env
        .copy(&["a", "b"], "/dst", &copy_opts(), CopyOptions::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "When using COPY with more than one source file, the destination must be a directory and end with a /"
    );
    // A wildcard that matches two files counts as two.
    let err = env
        .copy(&["[ab]"], "/dst", &copy_opts(), CopyOptions::default())
        .unwrap_err();
    assert!(matches!(err, fileops::FileOpError::DestNotDir { .. }));
    // An existing directory in the parent image is fine (BuildKit copies into it).
    std::fs::create_dir(env.parent.join("dst")).unwrap();
    env.copy(&["a", "b"], "/dst", &copy_opts(), CopyOptions::default())
        .unwrap();
    assert_eq!(
        env.listing(),
        vec!["dst/ d 755 0:0", "dst/a f 644 0:0 1", "dst/b f 644 0:0 1"]
    );
}

#[test]
fn relative_dest_resolves_against_workdir() {
    let env = Env::new();
    env.write("a", "a");
    let dest = fileops::resolve_dest("/work/dir", "sub/");
    assert_eq!(dest, "/work/dir/sub/");
    env.copy(&["a"], &dest, &copy_opts(), CopyOptions::default())
        .unwrap();
    assert!(env.layer.join("work/dir/sub/a").is_file());
    let env = Env::new();
    env.write("a", "a");
    env.copy(
        &["a"],
        &fileops::resolve_dest("/w", "."),
        &copy_opts(),
        CopyOptions::default(),
    )
    .unwrap();
    assert!(env.layer.join("w/a").is_file());
}

#[test]
fn dest_symlinks_resolve_inside_the_image() {
    let env = Env::new();
    env.write("f", "f");
    std::fs::create_dir_all(env.parent.join("usr/lib")).unwrap();
    std::os::unix::fs::symlink("usr/lib", env.parent.join("lib")).unwrap();
    env.copy(&["f"], "/lib/", &copy_opts(), CopyOptions::default())
        .unwrap();
    assert_eq!(
        env.listing(),
        vec![
            "usr/ d 755 0:0",
            "usr/lib/ d 755 0:0",
            "usr/lib/f f 644 0:0 1"
        ]
    );
}

#[test]
fn symlinks_inside_a_directory_are_copied_as_links_hardlinks_kept() {
    let env = Env::new();
    env.write("d/real.txt", "data");
    std::os::unix::fs::symlink("/etc/passwd", env.ctx.join("d/abs-link")).unwrap();
    std::os::unix::fs::symlink("real.txt", env.ctx.join("d/rel-link")).unwrap();
    std::fs::hard_link(env.ctx.join("d/real.txt"), env.ctx.join("d/hard.txt")).unwrap();
    let stats = env
        .copy(&["d"], "/x/", &copy_opts(), CopyOptions::default())
        .unwrap();
    assert_eq!(stats.hardlinks, 1);
    let l = env.listing();
    assert!(
        l.contains(&"x/abs-link l 0:0 -> /etc/passwd".to_string()),
        "{l:?}"
    );
    assert!(
        l.contains(&"x/rel-link l 0:0 -> real.txt".to_string()),
        "{l:?}"
    );
    let a = std::fs::metadata(env.layer.join("x/real.txt")).unwrap();
    let b = std::fs::metadata(env.layer.join("x/hard.txt")).unwrap();
    assert_eq!(a.ino(), b.ino());
}

#[test]
fn top_level_symlink_source_is_followed_and_keeps_its_name() {
    let env = Env::new();
    env.write("target/real.txt", "data");
    std::os::unix::fs::symlink("target/real.txt", env.ctx.join("link.txt")).unwrap();
    env.copy(&["link.txt"], "/out/", &copy_opts(), CopyOptions::default())
        .unwrap();
    assert_eq!(
        env.listing(),
        vec!["out/ d 755 0:0", "out/link.txt f 644 0:0 4"]
    );
}

#[test]
fn chown_by_name_uses_the_images_passwd_and_group() {
    let env = Env::new();
    env.write("d/f", "x");
    env.write_parent(
        "etc/passwd",
        "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
    );
    env.write_parent("etc/group", "root:x:0:\napp:x:1001:\nstaff:x:50:\n");
    let opts = CopyOptions {
        chown: Some("app".into()),
        ..CopyOptions::default()
    };
    env.copy(&["d"], "/home/app/new/", &copy_opts(), opts)
        .unwrap();
    let l = env.listing();
    assert_eq!(
        l,
        vec![
            "home/ d 755 1000:1001",
            "home/app/ d 755 1000:1001",
            "home/app/new/ d 755 1000:1001",
            "home/app/new/f f 644 1000:1001 1"
        ]
    );
    let env2 = Env::new();
    env2.write("f", "x");
    env2.write_parent("etc/group", "staff:x:50:\n");
    let opts = CopyOptions {
        chown: Some("77:staff".into()),
        ..CopyOptions::default()
    };
    env2.copy(&["f"], "/f", &copy_opts(), opts).unwrap();
    assert_eq!(env2.listing(), vec!["f f 644 77:50 1"]);
    let opts = CopyOptions {
        chown: Some("ghost".into()),
        ..CopyOptions::default()
    };
    let err = env2.copy(&["f"], "/g", &copy_opts(), opts).unwrap_err();
    assert!(err.to_string().contains("no such user: ghost"), "{err}");
}

#[test]
fn chown_numeric_user_only_gets_the_same_gid() {
    let env = Env::new();
    env.write("f", "x");
    let opts = CopyOptions {
        chown: Some("1500".into()),
        ..CopyOptions::default()
    };
    env.copy(&["f"], "/f", &copy_opts(), opts).unwrap();
    assert_eq!(env.listing(), vec!["f f 644 1500:1500 1"]);
}

#[test]
fn chmod_octal_and_symbolic_apply_to_files_and_dirs_not_created_parents() {
    let env = Env::new();
    env.write("d/run.sh", "#!/bin/sh\n");
    env.write("d/sub/data", "x");
    chmod(&env.ctx.join("d/sub/data"), 0o600);
    let opts = CopyOptions {
        chmod: Some(Chmod::parse("u+x,go=r").unwrap()),
        ..CopyOptions::default()
    };
    env.copy(&["d"], "/a/b/", &copy_opts(), opts).unwrap();
    assert_eq!(
        env.listing(),
        vec![
            "a/ d 755 0:0",
            "a/b/ d 755 0:0",
            "a/b/run.sh f 744 0:0 10",
            "a/b/sub/ d 744 0:0",
            "a/b/sub/data f 744 0:0 1"
        ]
    );
    let env = Env::new();
    env.write("s", "x");
    let opts = CopyOptions {
        chmod: Some(Chmod::parse("4755").unwrap()),
        ..CopyOptions::default()
    };
    env.copy(&["s"], "/bin/s", &copy_opts(), opts).unwrap();
    assert_eq!(env.listing(), vec!["bin/ d 755 0:0", "bin/s f 4755 0:0 1"]);
}

#[test]
fn exclude_patterns_filter_dir_contents_and_file_names() {
    let env = Env::new();
    env.write("src/a.rs", "a");
    env.write("src/README.md", "r");
    env.write("src/docs/x.md", "x");
    env.write("home.txt", "h");
    env.write("homer.rs", "h");
    let mut o = copy_opts();
    o.excludes = vec!["*.md".into(), "docs".into()];
    env.copy(&["src"], "/s/", &o, CopyOptions::default())
        .unwrap();
    assert_eq!(env.listing(), vec!["s/ d 755 0:0", "s/a.rs f 644 0:0 1"]);
    let env2 = Env::new();
    env2.write("home.txt", "h");
    env2.write("homer.rs", "h");
    let mut o = copy_opts();
    o.excludes = vec!["*.txt".into()];
    env2.copy(&["hom*"], "/m/", &o, CopyOptions::default())
        .unwrap();
    assert_eq!(
        env2.listing(),
        vec!["m/ d 755 0:0", "m/homer.rs f 644 0:0 1"]
    );
}

#[test]
fn parents_keep_the_directory_structure() {
    let env = Env::new();
    env.write("x/a.txt", "1");
    env.write("y/a.txt", "2");
    env.write("src/p/q/c.txt", "3");
    env.write("src/p/d.go", "4");
    let mut o = copy_opts();
    o.parents = true;
    env.copy(&["x/a.txt", "y/a.txt"], "/p/", &o, CopyOptions::default())
        .unwrap();
    assert_eq!(
        env.listing(),
        vec![
            "p/ d 755 0:0",
            "p/x/ d 755 0:0",
            "p/x/a.txt f 644 0:0 1",
            "p/y/ d 755 0:0",
            "p/y/a.txt f 644 0:0 1"
        ]
    );
    let env2 = Env::new();
    env2.write("src/p/q/c.txt", "3");
    env2.write("src/p/d.go", "4");
    env2.copy(&["src/./**/*.txt"], "/o/", &o, CopyOptions::default())
        .unwrap();
    assert_eq!(
        env2.listing(),
        vec![
            "o/ d 755 0:0",
            "o/p/ d 755 0:0",
            "o/p/q/ d 755 0:0",
            "o/p/q/c.txt f 644 0:0 1"
        ]
    );
    let err = env2.select(&["nothere.txt"], &o).unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
}

#[test]
fn conflicts_with_the_parent_image_are_errors() {
    let env = Env::new();
    env.write("d/etc/x", "x");
    env.write("f", "x");
    env.write_parent("app/etc", "a file");
    let err = env
        .copy(&["d"], "/app/", &copy_opts(), CopyOptions::default())
        .unwrap_err();
    assert_eq!(err.to_string(), "cannot copy to non-directory: /app/etc");
    let env = Env::new();
    env.write("f", "x");
    std::fs::create_dir_all(env.parent.join("opt/f/inner")).unwrap();
    let err = env.copy(&["f"], "/opt/f/inner", &copy_opts(), CopyOptions::default());
    assert!(err.is_ok(), "file into an existing directory: {err:?}");
    let env = Env::new();
    std::fs::create_dir_all(env.ctx.join("d")).unwrap();
    std::fs::write(env.ctx.join("d/inner"), "x").unwrap();
    std::fs::create_dir_all(env.parent.join("t/inner")).unwrap();
    let err = env
        .copy(&["d"], "/t/", &copy_opts(), CopyOptions::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot replace to directory /t/inner with file"
    );
}

#[test]
fn copy_from_a_rootfs_keeps_owners_and_resolves_links_inside_it() {
    let env = Env::new();
    let stage = env.tmp.path().join("stage");
    std::fs::create_dir_all(stage.join("bin")).unwrap();
    std::fs::create_dir_all(stage.join("app")).unwrap();
    std::fs::write(stage.join("bin/busybox"), "BUSYBOX").unwrap();
    std::os::unix::fs::symlink("/bin/busybox", stage.join("bin/sh")).unwrap();
    std::fs::write(stage.join("app/out"), "o").unwrap();
    std::os::unix::fs::chown(stage.join("app/out"), Some(33), Some(44)).unwrap();
    let tree = SourceTree::rootfs(&stage);
    let mut idx = strata_build::context::StatIndex::ephemeral();
    let srcs = vec![
        "/bin/sh".to_string(),
        "/app/".to_string(),
        "../../app/out".to_string(),
    ];
    let sel = fileops::select(&tree, &srcs, &SelectOptions::default(), &mut idx).unwrap();
    fileops::copy_into(&tree, &sel, &env.layer, "/dst/", &CopyOptions::default()).unwrap();
    assert_eq!(
        env.listing(),
        vec![
            "dst/ d 755 0:0",
            "dst/out f 644 33:44 1",
            "dst/sh f 644 0:0 7"
        ]
    );
    assert_eq!(idx.stats().hashed, 3);
}

#[test]
fn heredoc_sources_are_0644_files() {
    let env = Env::new();
    let mut sel = env.select(&[], &copy_opts()).unwrap();
    sel.push_inline("run.sh", b"echo hi\n".to_vec());
    let ctx = env.context();
    fileops::copy_into(
        &SourceTree::context(&ctx),
        &sel,
        &env.layer,
        "/usr/bin/",
        &CopyOptions::default(),
    )
    .unwrap();
    assert_eq!(
        env.listing(),
        vec![
            "usr/ d 755 0:0",
            "usr/bin/ d 755 0:0",
            "usr/bin/run.sh f 644 0:0 8"
        ]
    );
}

#[test]
fn fifos_are_recreated_sockets_skipped() {
    let env = Env::new();
    std::fs::create_dir(env.ctx.join("d")).unwrap();
    let c = std::ffi::CString::new(env.ctx.join("d/pipe").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o640) }, 0);
    let _sock = std::os::unix::net::UnixListener::bind(env.ctx.join("d/sock")).unwrap();
    let stats = env
        .copy(&["d"], "/d/", &copy_opts(), CopyOptions::default())
        .unwrap();
    assert_eq!(stats.specials, 1);
    let l = env.listing();
    assert!(l.iter().any(|x| x.starts_with("d/pipe f 640")), "{l:?}");
    assert!(!l.iter().any(|x| x.starts_with("d/sock")), "{l:?}");
}

#[test]
fn xattrs_are_copied() {
    let env = Env::new();
    let f = env.write("d/f", "x");
    let path = std::ffi::CString::new(f.to_str().unwrap()).unwrap();
    let name = c"user.strata.test";
    // SAFETY: NUL-terminated path and name; the value is a 2-byte literal.
    let r = unsafe { libc::setxattr(path.as_ptr(), name.as_ptr(), b"v1".as_ptr().cast(), 2, 0) };
    if r != 0 {
        return strata_testkit::skip("the filesystem refuses user xattrs");
    }
    env.copy(
        &["d"],
        "/d/",
        &copy_opts(),
        CopyOptions {
            chown: Some("5".into()),
            ..CopyOptions::default()
        },
    )
    .unwrap();
    let out = std::ffi::CString::new(env.layer.join("d/f").to_str().unwrap()).unwrap();
    let mut buf = [0u8; 16];
    // SAFETY: NUL-terminated path and name; buf is valid for its length.
    let n = unsafe {
        libc::getxattr(
            out.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    assert_eq!(n, 2);
    assert_eq!(&buf[..2], b"v1");
}
