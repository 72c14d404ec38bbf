//! A layer tar resumed from a previous write of a similar tree (the
//! checkpoints of `layer::resume`) is byte-identical to a plain write of
//! the new tree: changed, added and removed files before, between and after
//! checkpoints, a file whose digest is unknown, a wrong digest map, and a
//! previous tar that is missing or too short.

use std::collections::HashMap;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};
use strata_store::layer::{
    self, Checkpoints, Compression, ContentDigests, INTERVAL, LayerWritten, Previous, TarOptions,
};

/// A tree of ~`n` files of 37 KiB (about 9 per 4 MiB checkpoint), a big
/// file, an empty one, a symlink, a hardlink pair and nested dirs.
fn tree(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir.join("a/sub")).unwrap();
    std::fs::create_dir_all(dir.join("z")).unwrap();
    std::fs::write(dir.join("a/big.bin"), vec![7u8; 9 << 20]).unwrap();
    for i in 0..n {
        let body: Vec<u8> = (0..37 * 1024).map(|k| ((i * 31 + k) % 251) as u8).collect();
        std::fs::write(dir.join(format!("a/sub/f{i:04}")), body).unwrap();
    }
    std::fs::write(dir.join("a/empty"), b"").unwrap();
    symlink("sub/f0001", dir.join("a/link")).unwrap();
    std::fs::write(dir.join("z/one"), b"one\n").unwrap();
    std::fs::hard_link(dir.join("z/one"), dir.join("z/two")).unwrap();
    std::fs::set_permissions(dir.join("z/one"), std::fs::Permissions::from_mode(0o750)).unwrap();
}

/// The content digest of every regular file under `dir`, by tar path.
fn digests(dir: &Path) -> ContentDigests {
    let mut out = HashMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                let rel = e
                    .path()
                    .strip_prefix(dir)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                let sum: [u8; 32] = Sha256::digest(std::fs::read(e.path()).unwrap()).into();
                out.insert(rel.into_bytes(), sum);
            }
        }
    }
    out
}

fn write(
    dir: &Path,
    contents: Option<ContentDigests>,
    prev: Option<Previous>,
) -> (LayerWritten, Vec<u8>) {
    let opts = TarOptions {
        contents: contents.map(Arc::new),
        previous: prev,
        ..TarOptions::default()
    };
    let mut out = Vec::new();
    let w = layer::write_layer(dir, &opts, Compression::None, &mut out).unwrap();
    (w, out)
}

/// Writes `dir` plainly and resumed from `prev_tar` + `cps`, asserts both
/// are the same bytes; returns the resumed write.
fn same_as_plain(dir: &Path, prev_tar: &Path, cps: &Checkpoints, what: &str) -> LayerWritten {
    let (plain, want) = write(dir, None, None);
    assert!(plain.checkpoints.is_none());
    let prev = Previous {
        blob: prev_tar.to_path_buf(),
        checkpoints: cps.clone(),
    };
    let (w, got) = write(dir, Some(digests(dir)), Some(prev));
    assert!(
        got == want,
        "{what}: resumed tar differs from the plain one"
    );
    assert_eq!(w.diff_id, plain.diff_id, "{what}");
    assert_eq!(
        (w.entries, w.content_size),
        (plain.entries, plain.content_size),
        "{what}"
    );
    assert_eq!(plain.resumed, 0);
    w
}

/// The first write of `dir` with digests, kept at `tar`.
fn first(dir: &Path, tar: &Path) -> Checkpoints {
    let (w, bytes) = write(dir, Some(digests(dir)), None);
    std::fs::write(tar, &bytes).unwrap();
    let cps = w.checkpoints.unwrap();
    assert!(cps.list.len() >= 3, "{} checkpoints", cps.list.len());
    assert!(
        cps.list
            .windows(2)
            .all(|p| p[1].offset - p[0].offset >= INTERVAL)
    );
    cps
}

#[test]
fn unchanged_tree_resumes_to_the_same_tar_and_checkpoints() {
    let t = tempfile::tempdir().unwrap();
    let (dir, tar) = (t.path().join("t"), t.path().join("prev.tar"));
    tree(&dir, 400);
    let cps = first(&dir, &tar);
    let again = same_as_plain(&dir, &tar, &cps, "unchanged");
    assert_eq!(again.resumed, cps.list.last().unwrap().offset);
    assert_eq!(again.checkpoints.unwrap(), cps);
}

#[test]
fn edits_anywhere_give_the_plain_tar() {
    let t = tempfile::tempdir().unwrap();
    let base = t.path().join("base");
    tree(&base, 400);
    let tar = t.path().join("prev.tar");
    let cps = first(&base, &tar);
    type Edit = fn(&Path);
    type Resumed<'a> = &'a dyn Fn(u64) -> bool;
    // What each edit leaves to resume: nothing (the big file is the first
    // file), part of the tar, or all of it up to the last checkpoint.
    let last = cps.list.last().unwrap().offset;
    let none = |r: u64| r == 0;
    let part = move |r: u64| r > 0 && r < last;
    let all = move |r: u64| r == last;
    let edits: [(&str, Edit, Resumed); 8] = [
        (
            "first byte of the big file",
            |d| {
                let mut b = std::fs::read(d.join("a/big.bin")).unwrap();
                b[0] = 1;
                std::fs::write(d.join("a/big.bin"), b).unwrap();
            },
            &none,
        ),
        (
            "a file in the middle, same size",
            |d| {
                std::fs::write(d.join("a/sub/f0200"), vec![1u8; 37 * 1024]).unwrap();
            },
            &part,
        ),
        (
            "a file in the middle, longer",
            |d| {
                std::fs::write(d.join("a/sub/f0201"), vec![1u8; 80 * 1024]).unwrap();
            },
            &part,
        ),
        (
            "a file added",
            |d| std::fs::write(d.join("a/sub/f0250x"), b"new").unwrap(),
            &part,
        ),
        (
            "a file removed",
            |d| std::fs::remove_file(d.join("a/sub/f0300")).unwrap(),
            &part,
        ),
        (
            "a mode changed",
            |d| {
                std::fs::set_permissions(
                    d.join("a/sub/f0100"),
                    std::fs::Permissions::from_mode(0o600),
                )
                .unwrap();
            },
            &part,
        ),
        (
            "the last file",
            |d| std::fs::write(d.join("z/one"), b"uno\n").unwrap(),
            &all,
        ),
        (
            "a directory added at the end",
            |d| std::fs::create_dir(d.join("zz")).unwrap(),
            &all,
        ),
    ];
    for (what, edit, resumed) in edits {
        let dir = t.path().join("edit");
        let _ = std::fs::remove_dir_all(&dir);
        std::process::Command::new("cp")
            .args(["-a", base.to_str().unwrap(), dir.to_str().unwrap()])
            .status()
            .unwrap();
        edit(&dir);
        let w = same_as_plain(&dir, &tar, &cps, what);
        assert!(
            resumed(w.resumed),
            "{what}: resumed {} of {last}",
            w.resumed
        );
    }
}

#[test]
fn unknown_or_wrong_digests_and_bad_previous_tars_still_give_the_plain_tar() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("t");
    tree(&dir, 300);
    let tar = t.path().join("prev.tar");
    let cps = first(&dir, &tar);
    let (_, want) = write(&dir, None, None);
    let prev = |blob: &Path| Previous {
        blob: blob.to_path_buf(),
        checkpoints: cps.clone(),
    };

    // A file in the middle without a digest: no checkpoint after it.
    let mut partial = digests(&dir);
    partial.remove(b"a/sub/f0150".as_slice());
    let (w, got) = write(&dir, Some(partial), Some(prev(&tar)));
    assert!(got == want, "unknown digest");
    assert!(w.resumed > 0);
    let made = w.checkpoints.unwrap();
    assert!(made.list.len() < cps.list.len() && !made.list.is_empty());

    // A wrong digest for a file: the fingerprints differ from there on,
    // the file is read from the tree.
    let mut wrong = digests(&dir);
    wrong.insert(b"a/sub/f0150".to_vec(), [0; 32]);
    let (_, got) = write(&dir, Some(wrong), Some(prev(&tar)));
    assert!(got == want, "wrong digest");

    // The previous tar missing, or shorter than its checkpoints say.
    let (w, got) = write(
        &dir,
        Some(digests(&dir)),
        Some(prev(&t.path().join("none"))),
    );
    assert!(got == want && w.resumed == 0, "missing previous tar");
    let short = t.path().join("short.tar");
    std::fs::write(&short, &std::fs::read(&tar).unwrap()[..1000]).unwrap();
    let (w, got) = write(&dir, Some(digests(&dir)), Some(prev(&short)));
    assert!(got == want && w.resumed == 0, "short previous tar");

    // A compressed write ignores the previous tar.
    let opts = TarOptions {
        contents: Some(Arc::new(digests(&dir))),
        previous: Some(prev(&tar)),
        ..TarOptions::default()
    };
    let mut gz = Vec::new();
    let w = layer::write_layer(&dir, &opts, Compression::GZIP, &mut gz).unwrap();
    let (plain, _) = write(&dir, None, None);
    assert_eq!((w.diff_id, w.resumed), (plain.diff_id, 0));
}
