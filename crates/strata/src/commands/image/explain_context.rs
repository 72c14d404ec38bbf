//! `strata build --explain-context PATH… CONTEXT`: for each path, whether
//! the build context sends it and which line of `.dockerignore` (or of
//! `<Dockerfile>.dockerignore`) decided — git's `check-ignore -v` for
//! Docker contexts. Nothing is built.
//!
//! BuildKit has no such flag; the name pairs with `--explain` (why a step
//! missed the cache). The answer comes from the very walk a build uses
//! (`strata_build::context::BuildContext::explain_path`, i.e.
//! `Matcher::walk_explain`), so it includes the walk's two rules that
//! `MatchesOrParentMatches` does not know: a pattern that matched a parent
//! directory decides everything below it, and an excluded directory that no
//! exception can reach is not entered at all.
//!
//! ```text
//! PATH                  CONTEXT    DECIDED BY
//! app.js                sent       no pattern matches
//! keep.log              sent       .dockerignore:3: !keep.log
//! node_modules/x/a.js   excluded   .dockerignore:1: node_modules (its parent node_modules is not entered)
//! ```

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use strata_build::context::BuildContext;
use strata_dockerfile::dockerignore::{WalkExplanation, WalkMatch};
use strata_format::table::TabWriter;

/// Prints the explanation of `paths` for context `context_dir` built with
/// Dockerfile `dockerfile` (for `<Dockerfile>.dockerignore`).
pub fn run(context_dir: &str, dockerfile: Option<&str>, paths: &[String]) -> anyhow::Result<i32> {
    if context_dir == "-" {
        anyhow::bail!("--explain-context needs a context directory, not \"-\"");
    }
    let dir = PathBuf::from(context_dir);
    let df = dockerfile
        .filter(|f| *f != "-")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("Dockerfile"));
    let ctx = BuildContext::from_dir(&dir, Some(&df))
        .with_context(|| format!("reading the build context {context_dir}"))?;
    let file = ctx.ignore_file_name();
    let mut text = String::from("PATH\tCONTEXT\tDECIDED BY\n");
    for p in paths {
        let rel = relative(ctx.root(), p);
        let answer = ctx
            .explain_path(&rel)
            .with_context(|| format!("{file}: evaluating {p:?}"))?;
        let (verdict, why) = describe(answer.as_ref(), &file, ctx.ignore_file().is_some());
        let missing = if ctx.root().join(&rel).symlink_metadata().is_err() {
            " [no such path in the context]"
        } else {
            ""
        };
        text.push_str(&format!("{rel}\t{verdict}\t{why}{missing}\n"));
    }
    print!("{}", TabWriter::docker().format(&text));
    Ok(0)
}

/// `p` relative to the context root: an absolute path inside the root
/// loses the root; anything else is taken as relative to the context, as
/// COPY sources and `.dockerignore` patterns are.
fn relative(root: &Path, p: &str) -> String {
    let path = Path::new(p);
    let rel = if path.is_absolute() {
        let canon = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        canon
            .strip_prefix(root)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| path.to_path_buf())
    } else {
        path.to_path_buf()
    };
    let s = strata_dockerfile::dockerignore::clean(&rel.to_string_lossy());
    match s.strip_prefix('/') {
        Some("") => ".".into(),
        Some(r) => r.to_string(),
        None => s,
    }
}

/// The CONTEXT and DECIDED BY cells.
fn describe(e: Option<&WalkExplanation>, file: &str, has_file: bool) -> (&'static str, String) {
    let Some(e) = e else {
        return match has_file {
            true => ("sent", "no pattern matches".into()),
            false => ("sent", "no .dockerignore: everything is sent".into()),
        };
    };
    let verdict = match e.outcome {
        WalkMatch::Included => "sent",
        WalkMatch::Excluded | WalkMatch::Pruned => "excluded",
    };
    let Some(d) = &e.decided_by else {
        return (verdict, "no pattern matches".into());
    };
    let mut why = format!("{file}:{}: {}", d.line, d.pattern);
    match (&e.pruned_at, &d.via_parent) {
        (Some(dir), _) => why.push_str(&format!(" (its parent {dir} is not entered)")),
        (None, Some(parent)) => why.push_str(&format!(" (matches its parent {parent})")),
        (None, None) => {}
    }
    (verdict, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_relative_to_the_context() {
        let root = Path::new("/ctx");
        assert_eq!(relative(root, "a/./b/"), "a/b");
        assert_eq!(relative(root, "/ctx/a/b"), "a/b");
        assert_eq!(relative(root, "."), ".");
    }
}
