//! docker 20.10 as the oracle: build the same Dockerfile with the private
//! dockerd (`STRATA_TEST_DOCKER_HOST`, BuildKit on) and compare what a user
//! sees: the config (`image inspect`), `history` rows (CREATED BY, SIZE in
//! bytes) and the files (`docker create` + `docker export`, the same lister
//! for both images: strata's is loaded into docker under another tag).
//! Every image a test makes in docker is removed when its [`Docker`]
//! drops.

use std::cell::RefCell;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::{Env, sh, sha256_hex};

/// The docker daemon of the tests, and the tags made in it.
pub struct Docker {
    made: RefCell<Vec<String>>,
    loaded: RefCell<Vec<String>>,
}

/// Images copied into docker under their strata name ([`Docker::load_from`])
/// and how many live [`Docker`]s use each: tests running at once share a
/// name such as `busybox`, so the last user removes it.
static LOADED: std::sync::Mutex<Vec<(String, usize)>> = std::sync::Mutex::new(Vec::new());

impl Docker {
    /// The docker daemon, when one runs (`None` after saying why not).
    pub fn new() -> Option<Docker> {
        if super::docker().is_none() {
            super::skip(
                "no docker daemon (STRATA_TEST_DOCKER_HOST): compared with BuildKit's recorded behaviour only",
            );
            return None;
        }
        Some(Docker {
            made: RefCell::new(Vec::new()),
            loaded: RefCell::new(Vec::new()),
        })
    }

    /// A docker CLI command with BuildKit on.
    pub fn cmd(&self) -> Command {
        let mut c = super::docker().expect("docker went away");
        c.env("DOCKER_BUILDKIT", "1");
        c
    }

    /// Removes docker image `tag` when this [`Docker`] drops.
    pub fn track(&self, tag: &str) {
        self.made.borrow_mut().push(tag.to_string());
    }

    /// Copies strata image `image` into docker under the same name (kept
    /// while any test still uses that name).
    pub fn load_from(&self, env: &Env, image: &str) {
        let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
        let tar = env.path(&format!("to-docker-{}.tar", sha256_hex(image.as_bytes())));
        env.ok([
            "save",
            "--format",
            "docker",
            "-o",
            tar.to_str().unwrap(),
            image,
        ]);
        sh(self.cmd().args(["load", "-q", "-i"]).arg(&tar));
        match loaded.iter_mut().find(|(n, _)| n == image) {
            Some((_, users)) => *users += 1,
            None => loaded.push((image.to_string(), 1)),
        }
        self.loaded.borrow_mut().push(image.to_string());
    }

    /// `docker build` (BuildKit, host network) of `dir` as `tag`; returns
    /// the progress (stderr), or the error output.
    pub fn build(&self, dir: &Path, tag: &str, args: &[&str]) -> Result<String, String> {
        self.made.borrow_mut().push(tag.to_string());
        let out = self
            .cmd()
            .args(["build", "--progress", "plain", "--network=host", "-t", tag])
            .args(args)
            .arg(dir)
            .stdin(Stdio::null())
            .output()
            .expect("run docker build");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() {
            Ok(err)
        } else {
            Err(err)
        }
    }

    /// `docker build` of `dir` exporting the result's files to `dest`
    /// (`--output type=local`); returns the progress, or the error output.
    pub fn build_to_dir(&self, dir: &Path, dest: &Path) -> Result<String, String> {
        let out = self
            .cmd()
            .args(["build", "--progress", "plain", "--network=host", "--output"])
            .arg(format!("type=local,dest={}", dest.display()))
            .arg(dir)
            .stdin(Stdio::null())
            .output()
            .expect("run docker build");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() {
            Ok(err)
        } else {
            Err(err)
        }
    }

    /// Like [`Docker::build`], asserting success.
    pub fn build_ok(&self, dir: &Path, tag: &str, args: &[&str]) -> String {
        self.build(dir, tag, args)
            .unwrap_or_else(|e| panic!("docker build of {} failed:\n{e}", dir.display()))
    }

    /// `image inspect`'s `Config` of `tag`.
    pub fn config(&self, tag: &str) -> Value {
        let out = sh(self.cmd().args(["image", "inspect", tag]));
        let v: Value = serde_json::from_str(&out).expect("inspect JSON");
        v[0]["Config"].clone()
    }

    /// `history` rows of `tag`, newest first: (CREATED BY, SIZE in bytes).
    pub fn history(&self, tag: &str) -> Vec<(String, String)> {
        rows(&sh(self.cmd().args(HISTORY_ARGS).arg(tag)))
    }

    /// The files of docker image `tag`, as `docker export` of a container
    /// made from it lists them (see [`listing`]).
    pub fn files(&self, tag: &str) -> Vec<String> {
        let id = sh(self.cmd().args(["create", tag, "/nonexistent"]))
            .trim()
            .to_string();
        let mut child = self
            .cmd()
            .args(["export", &id])
            .stdout(Stdio::piped())
            .spawn()
            .expect("docker export");
        let list = listing(child.stdout.take().expect("stdout"));
        assert!(child.wait().expect("wait export").success());
        sh(self.cmd().args(["rm", "-f", &id]));
        list
    }

    /// The files of strata image `image`, listed by docker (loaded under
    /// a tag of its own, so one lister sees both images).
    pub fn strata_files(&self, env: &Env, image: &str) -> Vec<String> {
        let tag = format!(
            "strata-fidelity/from-strata:{}",
            &sha256_hex(image.as_bytes())[..12]
        );
        env.ok(["tag", image, &tag]);
        self.load_from(env, &tag);
        self.files(&tag)
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
        let mut made = self.made.borrow_mut();
        for image in self.loaded.borrow().iter() {
            if let Some(i) = loaded.iter().position(|(n, _)| n == image) {
                loaded[i].1 -= 1;
                if loaded[i].1 == 0 {
                    loaded.remove(i);
                    made.push(image.clone());
                }
            }
        }
        if !made.is_empty()
            && let Some(mut c) = super::docker()
        {
            let _ = c.args(["image", "rm", "-f"]).args(made.iter()).output();
        }
    }
}

const HISTORY_ARGS: &[&str] = &[
    "history",
    "--no-trunc",
    "--human=false",
    "--format",
    "{{.CreatedBy}}\t{{.Size}}",
];

fn rows(out: &str) -> Vec<(String, String)> {
    out.lines()
        .map(|l| {
            let (by, size) = l.rsplit_once('\t').unwrap_or((l, ""));
            (by.to_string(), size.to_string())
        })
        .collect()
}

/// `history` rows of strata image `image`, as [`Docker::history`].
pub fn strata_history(env: &Env, image: &str) -> Vec<(String, String)> {
    let mut args: Vec<&str> = HISTORY_ARGS.to_vec();
    args.push(image);
    rows(&env.ok(args))
}

/// A sorted listing of a tar stream: one line per entry with its path,
/// kind, mode, owner, and content hash or link target (mtimes left out).
pub fn listing(r: impl Read) -> Vec<String> {
    let mut a = tar::Archive::new(r);
    let mut out = Vec::new();
    for e in a.entries().expect("tar entries") {
        let mut e = e.expect("tar entry");
        let h = e.header().clone();
        let path = e.path().expect("path").display().to_string();
        let kind = match h.entry_type() {
            tar::EntryType::Directory => "dir".to_string(),
            tar::EntryType::Symlink | tar::EntryType::Link => format!(
                "{}->{}",
                if h.entry_type() == tar::EntryType::Link {
                    "hardlink"
                } else {
                    "symlink"
                },
                e.link_name()
                    .ok()
                    .flatten()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
            tar::EntryType::Regular => {
                let mut data = Vec::new();
                e.read_to_end(&mut data).expect("read entry");
                format!("file {} {}", data.len(), sha256_hex(&data))
            }
            other => format!("{other:?}"),
        };
        out.push(format!(
            "{} {kind} {:o} {}:{}",
            path.trim_end_matches('/'),
            h.mode().unwrap_or(0) & 0o7777,
            h.uid().unwrap_or(0),
            h.gid().unwrap_or(0)
        ));
    }
    out.sort();
    out
}
