//! The directory listings of the stat index under COPY: a directory whose
//! own stat matches its record is not read again, and every way a
//! directory's names can change (a name added, removed, renamed, a file
//! replaced by a directory) is seen; a record naming a file that is gone
//! falls back to reading the directory; a no-op writes nothing.

mod fileops_common;

use fileops_common::*;
use strata_build::context::StatIndex;
use strata_build::fileops::{self, Selection, SourceTree};
use strata_store::context_dirs::{self, DirListings, DirRecord, DirStat};

/// `src` selected with the context's index, flushed.
fn run(env: &Env, src: &str) -> Selection {
    select_indexed(env, &[src]).0
}

/// `src` selected reading every directory (no index).
fn fresh(env: &Env, src: &str) -> Selection {
    let ctx = env.context();
    fileops::select(
        &SourceTree::context(&ctx),
        &[src.to_string()],
        &copy_opts(),
        &mut StatIndex::ephemeral(),
    )
    .unwrap()
}

fn paths(sel: &Selection) -> Vec<String> {
    sel.entries
        .iter()
        .map(|e| format!("{} {:?}", e.rel, e.kind))
        .collect()
}

fn root_of(env: &Env) -> String {
    format!("{}/", env.ctx.display())
}

fn listings_file(env: &Env) -> std::path::PathBuf {
    context_dirs::file_of(env.store.layout(), &root_of(env))
}

fn tree(env: &Env) {
    files(env, 30, 3);
}

#[test]
fn every_change_of_a_directory_is_seen() {
    let env = Env::new();
    tree(&env);
    settle();
    run(&env, "data");
    assert!(listings_file(&env).exists());
    type Change<'a> = (&'a str, &'a dyn Fn(&Env));
    let changes: [Change; 6] = [
        ("add", &|e| {
            e.write("data/d1/new.txt", "new\n");
        }),
        ("remove", &|e| {
            std::fs::remove_file(e.ctx.join("data/d2/f5.txt")).unwrap()
        }),
        ("rename", &|e| {
            std::fs::rename(e.ctx.join("data/d0/f3.txt"), e.ctx.join("data/d0/g3.txt")).unwrap()
        }),
        ("file to directory", &|e| {
            std::fs::remove_file(e.ctx.join("data/d1/f7.txt")).unwrap();
            e.write("data/d1/f7.txt/inner", "inner\n");
        }),
        ("new subdirectory", &|e| {
            e.write("data/d0/sub/x", "x\n");
        }),
        ("subdirectory removed", &|e| {
            std::fs::remove_dir_all(e.ctx.join("data/d0/sub")).unwrap()
        }),
    ];
    for (what, change) in changes {
        settle();
        // The records are settled: this walk uses them.
        assert_eq!(paths(&run(&env, "data")), paths(&fresh(&env, "data")));
        change(&env);
        assert_eq!(
            paths(&run(&env, "data")),
            paths(&fresh(&env, "data")),
            "{what}"
        );
    }
    // The removed directory's record went with it.
    let listings = DirListings::load(env.store.layout(), &root_of(&env));
    assert!(listings.get("data/d0").is_some());
    assert!(listings.get("data/d0/sub").is_none());
}

/// Overwrites the record of directory `rel` (relative to the context) with
/// its current stat and `names`, recorded now.
fn forge(env: &Env, rel: &str, names: &[u8]) {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(env.ctx.join(rel)).unwrap();
    let stat = DirStat {
        dev: md.dev(),
        ino: md.ino(),
        mtime_ns: md.mtime() * 1_000_000_000 + md.mtime_nsec(),
        ctime_ns: md.ctime() * 1_000_000_000 + md.ctime_nsec(),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let rec = DirRecord {
        stat,
        recorded_ns: now,
        names,
    };
    context_dirs::write(env.store.layout(), &root_of(env), &[(rel, rec)]).unwrap();
}

#[test]
fn a_matching_record_is_what_the_walk_uses() {
    let env = Env::new();
    env.write("data/a.txt", "a\n");
    env.write("data/b.txt", "b\n");
    settle();
    // A record (forged here) without b.txt: the walk takes the record's
    // names rather than reading the directory.
    forge(&env, "data", b"a.txt\0");
    let sel = run(&env, "data");
    assert_eq!(paths(&sel), [" Dir", "a.txt File"]);
    // A record naming a file that is not there: the directory is read.
    settle();
    forge(&env, "data", b"a.txt\0b.txt\0ghost\0");
    let sel = run(&env, "data");
    assert_eq!(paths(&sel), paths(&fresh(&env, "data")));
}

#[test]
fn two_walks_of_one_directory_in_one_build() {
    let env = Env::new();
    tree(&env);
    settle();
    // `data/d1` is read by both sources' walks.
    for _ in 0..3 {
        let (sel, _) = select_indexed(&env, &["data", "data/d1"]);
        assert_eq!(sel.units.len(), 2);
        let listings = DirListings::load(env.store.layout(), &root_of(&env));
        assert!(listings.get("data/d1").is_some());
        settle();
    }
}

#[test]
fn a_no_op_writes_no_listing() {
    let env = Env::new();
    tree(&env);
    settle();
    run(&env, "data");
    settle();
    // Recorded again once settled? Only if read; then left as it is.
    run(&env, "data");
    let before = std::fs::read(listings_file(&env)).unwrap();
    let meta = std::fs::metadata(listings_file(&env))
        .unwrap()
        .modified()
        .unwrap();
    settle();
    run(&env, "data");
    assert_eq!(std::fs::read(listings_file(&env)).unwrap(), before);
    let again = std::fs::metadata(listings_file(&env))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(meta, again);
}
