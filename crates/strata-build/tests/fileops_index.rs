//! The stat index under COPY: unchanged files are not re-hashed, a
//! same-size edit with a restored mtime is caught (ctime), chmod changes
//! the checksum, touch does not, racy entries are re-hashed, and
//! `describe_change` names the file.

mod fileops_common;

use std::time::Duration;

use fileops_common::*;
use strata_build::context::{IndexStats, StatIndex};
use strata_build::fileops::{self, Selection, SourceTree};

/// select with the short racy window, then flush.
fn run(env: &Env, src: &str) -> (Selection, IndexStats) {
    select_indexed(env, &[src])
}

fn many(env: &Env) {
    files(env, 50, 5);
}

#[test]
fn unchanged_files_are_not_rehashed() {
    let env = Env::new();
    many(&env);
    settle();
    let (s1, st1) = run(&env, "data");
    assert_eq!(st1.hashed, 50);
    let (s2, st2) = run(&env, "data");
    assert_eq!(st2.hashed, 0, "{st2:?}");
    assert_eq!(st2.hits, 50);
    assert_eq!(s1.checksum(), s2.checksum());
}

#[test]
fn same_size_edit_with_restored_mtime_is_rehashed() {
    let env = Env::new();
    many(&env);
    let f = env.ctx.join("data/d2/f7.txt");
    set_mtime(&f, 1_600_000_000);
    settle();
    let (s1, _) = run(&env, "data");
    let (_, st) = run(&env, "data");
    assert_eq!(st.hashed, 0);
    // Same size, same mtime afterwards: only ctime tells.
    std::fs::write(&f, "FILE 7\n").unwrap();
    set_mtime(&f, 1_600_000_000);
    settle();
    let (s2, st) = run(&env, "data");
    assert_eq!(st.hashed, 1, "{st:?}");
    assert_ne!(s1.checksum(), s2.checksum());
    let why = s2.describe_change(&s1.summary()).unwrap();
    assert_eq!(why, "data/d2/f7.txt: content changed");
}

#[test]
fn chmod_changes_the_checksum_touch_does_not() {
    let env = Env::new();
    many(&env);
    settle();
    let (s1, _) = run(&env, "data");
    let f = env.ctx.join("data/d1/f1.txt");
    set_mtime(&f, 1_700_000_000);
    settle();
    let (s2, _) = run(&env, "data");
    assert_eq!(s1.checksum(), s2.checksum(), "touch alone must hit");
    assert_eq!(s2.describe_change(&s1.summary()), None);
    chmod(&f, 0o755);
    settle();
    let (s3, st) = run(&env, "data");
    assert!(st.hashed <= 1);
    assert_ne!(s1.checksum(), s3.checksum());
    assert_eq!(
        s3.describe_change(&s1.summary()).unwrap(),
        "data/d1/f1.txt: mode 644 -> 755"
    );
}

#[test]
fn racy_entries_are_rehashed_next_time() {
    let env = Env::new();
    env.write("r/a.txt", "a");
    // Recorded right after the write: racy.
    let ctx = env.context();
    let mut idx = StatIndex::load(&env.store, ctx.root()).unwrap();
    idx.set_racy_window(Duration::from_secs(5));
    let srcs = ["r".to_string()];
    fileops::select(&SourceTree::context(&ctx), &srcs, &copy_opts(), &mut idx).unwrap();
    idx.flush(&env.store).unwrap();
    let mut idx = StatIndex::load(&env.store, ctx.root()).unwrap();
    idx.set_racy_window(Duration::from_secs(5));
    fileops::select(&SourceTree::context(&ctx), &srcs, &copy_opts(), &mut idx).unwrap();
    let st = idx.stats();
    assert_eq!((st.hashed, st.racy, st.hits), (1, 1, 0), "{st:?}");
    // Outside the window the same entry is trusted.
    let mut idx = StatIndex::load(&env.store, ctx.root()).unwrap();
    idx.set_racy_window(Duration::from_nanos(1));
    std::thread::sleep(Duration::from_millis(5));
    fileops::select(&SourceTree::context(&ctx), &srcs, &copy_opts(), &mut idx).unwrap();
    // The entry recorded just now (after the second hash) is old enough
    // for a 1 ns window.
    assert_eq!(idx.stats().hashed, 0, "{:?}", idx.stats());
}

#[test]
fn describe_change_names_added_and_removed_files() {
    let env = Env::new();
    many(&env);
    settle();
    let (s1, _) = run(&env, "data");
    std::fs::remove_file(env.ctx.join("data/d0/f0.txt")).unwrap();
    env.write("data/d0/new.txt", "n");
    settle();
    let (s2, _) = run(&env, "data");
    let why = s2.describe_change(&s1.summary()).unwrap();
    assert_eq!(why, "data/d0/f0.txt: removed, data/d0/new.txt: added");
}

#[test]
fn stale_entries_are_dropped_after_a_full_walk() {
    let env = Env::new();
    many(&env);
    settle();
    run(&env, "data");
    let ctx = env.context();
    let mut idx = StatIndex::load(&env.store, ctx.root()).unwrap();
    assert_eq!(idx.len().unwrap(), 50);
    std::fs::remove_dir_all(env.ctx.join("data/d3")).unwrap();
    run(&env, "data");
    let mut idx = StatIndex::load(&env.store, ctx.root()).unwrap();
    assert_eq!(idx.len().unwrap(), 40);
}
