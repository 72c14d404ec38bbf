//! The build context: the directory (or the tar given as `build -`) that
//! COPY and ADD read from, its `.dockerignore`, and the stat index that lets
//! a rebuild skip hashing files that did not change.
//!
//! # API (what the engine calls)
//!
//! ```text
//! BuildContext::from_dir(dir, Some(dockerfile))  // canonical root + ignore matcher
//! BuildContext::from_tar(stdin, scratch_dir)      // `build -`: plain/gzip/bzip2/xz/zstd tar, unpacked safely
//! ctx.root() / ctx.is_ignored("a/b") / ctx.explain_ignored("a/b")
//!
//! let mut index = StatIndex::load(&store, ctx.root())?;   // one file read (in the background)
//! let sel = fileops::select(&SourceTree::context(&ctx), &sources, &opts, &mut index)?;
//! index.flush(&store)?;                                   // dirty entries, one transaction
//! ```
//!
//! # `.dockerignore`
//!
//! [`BuildContext::from_dir`] reads `<context>/.dockerignore`; when the
//! Dockerfile has a `<Dockerfile>.dockerignore` next to it (BuildKit's
//! per-Dockerfile ignore file, e.g. `build/app.Dockerfile.dockerignore`),
//! that file is used instead. Patterns follow moby/patternmatcher
//! (`strata_dockerfile::dockerignore`). An ignored path does not exist for
//! COPY/ADD: it is never selected by a wildcard, never walked, never hashed
//! and never part of a cache key; naming it literally is a "not found"
//! error that says which pattern excluded it.
//!
//! The Dockerfile and the ignore file are read through [`read_confined`]: a
//! symlink that leads out of the context is refused, never read.
//!
//! # The stat index ([`StatIndex`])
//!
//! One file per context root in the store (`context-index/`, see
//! [`strata_store::context_index`]): path → `dev, ino, size, mtime_ns,
//! ctime_ns, mode, sha256, recorded_ns` in walk order, mapped in one go and
//! looked up by the walk's threads as they stat the files, rewritten whole
//! when a build hashed something (`builder prune --all` forgets it). A file's
//! recorded sha256 is reused only when `dev, ino, size, mtime_ns, ctime_ns`
//! all equal the file's current `lstat`, **and** the entry is not *racy*.
//! Git's racy-timestamp rule: an entry recorded while the file's newest
//! timestamp (`max(mtime, ctime)`) was within the filesystem's timestamp
//! granularity of the recording time could be followed by an edit that
//! leaves the same timestamps, so it is re-hashed next time (and then
//! recorded again, normally no longer racy). `ctime` cannot be set by
//! user space, so a same-size edit whose mtime is restored (`touch -d`)
//! still changes the stat and is re-hashed.
//!
//! Hashing reads through an open descriptor and compares `fstat` before and
//! after; the stat recorded is the one the content was read under, so a
//! concurrent edit can never be recorded under the old stat.

mod confine;
mod error;
mod index;

pub use confine::{confined_file, read_confined};
pub use error::ContextError;
pub use index::{DEFAULT_RACY_WINDOW, IndexStats, StatIndex};
pub(crate) use index::{FreshDir, Hashed, IndexRef, StatKey, digest_of, hash_file, now_ns};

use std::io::Read;
use std::path::{Path, PathBuf};

use strata_dockerfile::dockerignore::{self, Matcher};

/// Context result.
pub type Result<T, E = ContextError> = std::result::Result<T, E>;

/// A build context: a canonical root directory plus its ignore matcher.
#[derive(Debug)]
pub struct BuildContext {
    root: PathBuf,
    matcher: Option<Matcher>,
    ignore_file: Option<PathBuf>,
    /// A directory this context unpacked (from a tar) and removes on drop.
    owned: Option<PathBuf>,
}

impl BuildContext {
    /// Opens the context directory `dir`. `dockerfile_path` (absolute, or
    /// relative to the current directory) is where the Dockerfile lives, to
    /// find `<Dockerfile>.dockerignore`, which wins over
    /// `<dir>/.dockerignore`.
    pub fn from_dir(dir: &Path, dockerfile_path: Option<&Path>) -> Result<BuildContext> {
        let root =
            std::fs::canonicalize(dir).map_err(|_| ContextError::NotADirectory(dir.into()))?;
        if !root.is_dir() {
            return Err(ContextError::NotADirectory(dir.into()));
        }
        let mut ignore_file = None;
        if let Some(df) = dockerfile_path {
            let mut name = df.file_name().map(|n| n.to_os_string()).unwrap_or_default();
            name.push(".dockerignore");
            let candidate = df.with_file_name(name);
            if candidate.is_file() {
                ignore_file = Some(candidate);
            }
        }
        if ignore_file.is_none() {
            let candidate = root.join(".dockerignore");
            if candidate.is_file() {
                ignore_file = Some(candidate);
            }
        }
        let matcher = match &ignore_file {
            Some(f) => {
                let bytes = read_confined(dir, f)?;
                let parsed = dockerignore::parse(&bytes).map_err(|error| ContextError::Ignore {
                    file: f.clone(),
                    error,
                })?;
                if parsed.patterns.is_empty() {
                    None
                } else {
                    Some(Matcher::new(&parsed).map_err(|error| ContextError::Ignore {
                        file: f.clone(),
                        error,
                    })?)
                }
            }
            None => None,
        };
        Ok(BuildContext {
            root,
            matcher,
            ignore_file,
            owned: None,
        })
    }

    /// `build -`: the context as a tar (plain, gzip, bzip2, xz or zstd) read
    /// from `reader`, unpacked into a fresh directory under `scratch_dir`
    /// (removed when the context is dropped). Entries are confined to that
    /// directory (`..` and absolute symlinks cannot escape it); ownership
    /// is not applied (COPY resets it to 0:0 anyway).
    pub fn from_tar(reader: impl Read, scratch_dir: &Path) -> Result<BuildContext> {
        Self::from_tar_with(reader, scratch_dir, None)
    }

    /// [`BuildContext::from_tar`] with the Dockerfile's path inside the tar
    /// (for `<Dockerfile>.dockerignore`).
    pub fn from_tar_with(
        reader: impl Read,
        scratch_dir: &Path,
        dockerfile: Option<&Path>,
    ) -> Result<BuildContext> {
        let dir = unique_dir(scratch_dir)?;
        let unpack = || -> Result<()> {
            let (_, stream) = crate::fileops::archive::decompress_any(reader)
                .map_err(|e| ContextError::Tar(e.to_string()))?;
            let mut opts =
                strata_store::layer::ApplyOptions::new(strata_store::layer::ApplyMode::Merge);
            opts.same_owner = Some(false);
            opts.devices = false;
            opts.xattrs = false;
            strata_store::layer::apply_layer(stream, &dir, &opts)
                .map_err(|e| ContextError::Tar(e.to_string()))?;
            Ok(())
        };
        if let Err(e) = unpack() {
            let _ = strata_store::layout::remove_tree(&dir);
            return Err(e);
        }
        let df = dockerfile.map(|d| dir.join(d.strip_prefix("/").unwrap_or(d)));
        let mut ctx = match Self::from_dir(&dir, df.as_deref()) {
            Ok(c) => c,
            Err(e) => {
                let _ = strata_store::layout::remove_tree(&dir);
                return Err(e);
            }
        };
        ctx.owned = Some(ctx.root.clone());
        Ok(ctx)
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The ignore file in use, if any.
    pub fn ignore_file(&self) -> Option<&Path> {
        self.ignore_file.as_deref()
    }

    /// The compiled ignore patterns, if any.
    pub fn matcher(&self) -> Option<&Matcher> {
        self.matcher.as_ref()
    }

    /// Whether `rel` (relative to the root, `/`-separated) is left out by
    /// the ignore file, as a real build's context transfer leaves it out
    /// ([`Matcher::walk_match`]). The root itself never is.
    pub fn is_ignored(&self, rel: &str) -> bool {
        match &self.matcher {
            Some(m) => m.walk_match(rel).is_ok_and(|w| w.excluded()),
            None => false,
        }
    }

    /// Why `rel` is ignored (`excluded by .dockerignore:3 pattern "*.log"`),
    /// or `None` when it is part of the context.
    pub fn explain_ignored(&self, rel: &str) -> Option<String> {
        let e = self.explain_path(rel).ok()??;
        if !e.outcome.excluded() {
            return None;
        }
        let file = self.ignore_file_name();
        let Some(d) = e.decided_by else {
            return Some(format!("excluded by {file}"));
        };
        let via = match (&e.pruned_at, &d.via_parent) {
            (Some(p), _) => format!(" (its parent {p} is not sent)"),
            (None, Some(p)) => format!(" (via its parent {p})"),
            (None, None) => String::new(),
        };
        Some(format!(
            "excluded by {file}:{} pattern {:?}{via}",
            d.line, d.pattern
        ))
    }

    /// What the context transfer does with `rel` (relative to the root,
    /// `/`-separated) and which line of the ignore file decided, from the
    /// very walk a build uses ([`Matcher::walk_explain`]); `None` when
    /// there is no ignore file (everything is sent).
    pub fn explain_path(
        &self,
        rel: &str,
    ) -> std::result::Result<Option<dockerignore::WalkExplanation>, dockerignore::DockerignoreError>
    {
        self.matcher
            .as_ref()
            .map(|m| m.walk_explain(rel))
            .transpose()
    }

    /// The ignore file's name as messages show it (`.dockerignore`,
    /// `app.Dockerfile.dockerignore`).
    pub fn ignore_file_name(&self) -> String {
        self.ignore_file
            .as_deref()
            .and_then(|f| f.file_name())
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| ".dockerignore".to_string())
    }
}

impl Drop for BuildContext {
    fn drop(&mut self) {
        if let Some(dir) = self.owned.take() {
            let _ = strata_store::layout::remove_tree(&dir);
        }
    }
}

fn unique_dir(scratch: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(scratch).map_err(ContextError::io("create directory", scratch))?;
    for n in 0u32.. {
        let p = scratch.join(format!("context-{}-{n}", std::process::id()));
        match std::fs::create_dir(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(ContextError::Io {
                    op: "create directory",
                    path: p,
                    source: e,
                });
            }
        }
    }
    Err(ContextError::Tar("no free scratch directory name".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_specific_ignore_wins() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join(".dockerignore"), "*.log\n").unwrap();
        std::fs::create_dir(t.path().join("build")).unwrap();
        std::fs::write(t.path().join("build/app.Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(
            t.path().join("build/app.Dockerfile.dockerignore"),
            "secret\n",
        )
        .unwrap();
        let plain = BuildContext::from_dir(t.path(), None).unwrap();
        assert!(plain.is_ignored("x.log"));
        assert!(!plain.is_ignored("secret"));
        let specific =
            BuildContext::from_dir(t.path(), Some(&t.path().join("build/app.Dockerfile"))).unwrap();
        assert!(!specific.is_ignored("x.log"));
        assert!(specific.is_ignored("secret/a"));
        let why = specific.explain_ignored("secret/a").unwrap();
        assert!(why.contains("app.Dockerfile.dockerignore:1"), "{why}");
        assert!(why.contains("via its parent secret"), "{why}");
        assert_eq!(specific.explain_ignored("other"), None);
    }

    #[test]
    fn missing_dir_is_an_error() {
        let e = BuildContext::from_dir(Path::new("/nonexistent/strata-ctx"), None).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/strata-ctx"), "{e}");
    }

    #[test]
    fn bad_ignore_file_names_line() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join(".dockerignore"), "ok\n!\n").unwrap();
        let e = BuildContext::from_dir(t.path(), None).unwrap_err();
        assert!(e.to_string().contains(".dockerignore:2"), "{e}");
    }
}
