//! `strata image ls` (`images`): one row per (repository, tag) as docker
//! prints them, with `-q`, `-a`, `--digests`, `--no-trunc`, `--filter` and
//! `--format` (`table …`, `json`, a template).

use std::collections::BTreeMap;
use std::time::SystemTime;

use clap::Args;
use serde_json::{Value, json};
use strata_format::output::ListFormat;
use strata_format::units;
use strata_oci::Reference;
use strata_store::db::images::ImageRow;

use crate::commands::image::common::{created_unix, go_time_string, image_id_text};
use crate::context::Ctx;

/// Flags of `image ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    pub all: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided (dangling=, reference=, before=, since=, label=)
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Only images of this repository (and tag); wildcards as in docker
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub repository: Option<String>,
}

const HEADERS: &[(&str, &str)] = &[
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("ID", "IMAGE ID"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("Containers", "CONTAINERS"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("VirtualSize", "VIRTUAL SIZE"),
];

/// Runs `image ls`.
pub fn run(ctx: &Ctx, args: LsArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let filters = Filters::parse(&args.filter, args.repository.as_deref(), store)?;
    let now = SystemTime::now();
    let mut rows = Vec::new();
    let mut seen_ids = Vec::new();
    for img in store.list_images()? {
        let tags = store.image_tags(&img.id)?;
        let digests = store.image_repo_digests(&img.id)?;
        if !filters.keep_image(&img, &tags, &digests, store)? {
            continue;
        }
        for (repo, tag, digest) in image_rows(&tags, &digests, args.digests) {
            if !filters.keep_ref(&repo, &tag) {
                continue;
            }
            if args.quiet && seen_ids.contains(&img.id) {
                continue;
            }
            seen_ids.push(img.id.clone());
            rows.push(row(&img, &repo, &tag, &digest, args.no_trunc, now));
        }
    }
    let default_table = if args.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    let fmt = ListFormat {
        format: args.format.as_deref().unwrap_or(""),
        quiet: args.quiet,
        quiet_overrides_format: true,
        default_table,
        quiet_format: "{{.ID}}",
        headers: HEADERS,
    };
    if fmt.quiet_ignores_format() {
        eprintln!("WARNING: Ignoring custom format, because both --format and --quiet are set.");
    }
    print!("{}", fmt.render(&rows)?);
    Ok(0)
}

/// docker's rows for one image: per repository its tags (times its digests
/// with `--digests`), then digest-only repositories; `<none>` when untagged.
fn image_rows(
    tags: &[Reference],
    digests: &[Reference],
    show_digests: bool,
) -> Vec<(String, String, String)> {
    let none = || "<none>".to_string();
    if tags.is_empty() && digests.is_empty() {
        return vec![(none(), none(), none())];
    }
    let mut by_repo_tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in tags {
        by_repo_tags
            .entry(t.familiar_repository())
            .or_default()
            .push(t.tag().unwrap_or("latest").to_string());
    }
    let mut by_repo_digests: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in digests {
        by_repo_digests
            .entry(d.familiar_repository())
            .or_default()
            .push(d.digest().unwrap_or_default().to_string());
    }
    let mut out = Vec::new();
    for (repo, tags) in &by_repo_tags {
        let digests = by_repo_digests
            .remove(repo)
            .filter(|_| show_digests)
            .unwrap_or_default();
        for tag in tags {
            if digests.is_empty() {
                out.push((repo.clone(), tag.clone(), none()));
            }
            for d in &digests {
                out.push((repo.clone(), tag.clone(), d.clone()));
            }
        }
    }
    for (repo, digests) in by_repo_digests {
        if show_digests {
            for d in digests {
                out.push((repo.clone(), none(), d));
            }
        } else {
            out.push((repo, none(), none()));
        }
    }
    out
}

fn row(
    img: &ImageRow,
    repo: &str,
    tag: &str,
    digest: &str,
    no_trunc: bool,
    now: SystemTime,
) -> Value {
    let created = created_unix(img.created.as_deref());
    json!({
        "Containers": "N/A",
        "CreatedAt": go_time_string(created),
        "CreatedSince": units::since(created, now),
        "Digest": digest,
        "ID": image_id_text(&img.id, no_trunc),
        "Repository": repo,
        "SharedSize": "N/A",
        "Size": units::human_size(img.size),
        "Tag": tag,
        "UniqueSize": "N/A",
        "VirtualSize": units::human_size(img.size),
    })
}

/// `--filter` and the positional `REPOSITORY[:TAG]` (the API's
/// `GET /images/json` filters the same way).
pub struct Filters {
    dangling: Option<bool>,
    references: Vec<String>,
    before: Option<i64>,
    since: Option<i64>,
    labels: Vec<(String, Option<String>)>,
}

impl Filters {
    /// Parses `key=value` filters.
    pub fn parse(
        filters: &[String],
        positional: Option<&str>,
        store: &strata_store::Store,
    ) -> anyhow::Result<Filters> {
        let mut f = Filters {
            dangling: None,
            references: positional.map(|p| vec![p.to_string()]).unwrap_or_default(),
            before: None,
            since: None,
            labels: Vec::new(),
        };
        for spec in filters {
            let (k, v) = crate::commands::filter_pair(spec)?;
            match k {
                "dangling" => match v.to_ascii_lowercase().as_str() {
                    "true" | "1" => f.dangling = Some(true),
                    "false" | "0" => f.dangling = Some(false),
                    _ => anyhow::bail!("invalid filter 'dangling={v}'"),
                },
                "reference" => f.references.push(v.to_string()),
                "before" | "since" => {
                    let img = store.resolve_image(v)?;
                    let t = created_unix(img.row.created.as_deref());
                    if k == "before" {
                        f.before = Some(t);
                    } else {
                        f.since = Some(t);
                    }
                }
                "label" => f.labels.push(match v.split_once('=') {
                    Some((a, b)) => (a.to_string(), Some(b.to_string())),
                    None => (v.to_string(), None),
                }),
                other => anyhow::bail!("invalid filter '{other}'"),
            }
        }
        Ok(f)
    }

    /// Whether the image passes the image-level filters.
    pub fn keep_image(
        &self,
        img: &ImageRow,
        tags: &[Reference],
        digests: &[Reference],
        store: &strata_store::Store,
    ) -> anyhow::Result<bool> {
        let dangling = tags.is_empty() && digests.is_empty();
        if self.dangling.is_some_and(|d| d != dangling) {
            return Ok(false);
        }
        if !self.references.is_empty() && dangling {
            return Ok(false);
        }
        let created = created_unix(img.created.as_deref());
        if self.before.is_some_and(|b| created >= b) || self.since.is_some_and(|s| created <= s) {
            return Ok(false);
        }
        if !self.labels.is_empty() {
            let image = store.image(&img.id)?;
            let labels = image
                .config
                .config
                .and_then(|c| c.labels)
                .unwrap_or_default();
            for (k, v) in &self.labels {
                match (labels.get(k), v) {
                    (None, _) => return Ok(false),
                    (Some(have), Some(want)) if have != want => return Ok(false),
                    _ => {}
                }
            }
        }
        Ok(true)
    }

    /// Whether a `repo:tag` passes the reference filters.
    pub fn keep_ref(&self, repo: &str, tag: &str) -> bool {
        self.references.is_empty()
            || self.references.iter().any(|pat| {
                let (prepo, ptag) = split_pattern(pat);
                glob_match(prepo, repo) && ptag.is_none_or(|t| glob_match(t, tag))
            })
    }
}

/// `repo[:tag]` of a reference pattern (a `:` after the last `/`).
fn split_pattern(p: &str) -> (&str, Option<&str>) {
    let slash = p.rfind('/').map_or(0, |i| i + 1);
    match p[slash..].rfind(':') {
        Some(i) => (&p[..slash + i], Some(&p[slash + i + 1..])),
        None => (p, None),
    }
}

/// Go's `path.Match` for reference filters (docker's `FamiliarMatch`):
/// the front end's fuzzed `filepath.Match` (the same on `/` paths); a
/// malformed pattern matches nothing.
fn glob_match(pat: &str, s: &str) -> bool {
    strata_dockerfile::dockerignore::filepath_match(pat, s).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_patterns() {
        assert!(glob_match("busy*", "busybox"));
        assert!(!glob_match("*", "a/b"));
        assert!(glob_match("*/*", "a/b"));
        assert!(glob_match("b[a-u]sybox", "busybox"));
        // Go's path.Match: `^` negates, `!` is a literal; a bad pattern
        // matches nothing; `\` escapes.
        assert!(glob_match("b[^a]sybox", "busybox"));
        assert!(!glob_match("b[!x]sybox", "busybox"));
        assert!(!glob_match("busy[", "busy["));
        assert!(glob_match("a\\*b", "a*b"));
        assert!(glob_match("?usybox", "busybox") && !glob_match("?", "/"));
        assert_eq!(
            split_pattern("127.0.0.1:5000/node:1*"),
            ("127.0.0.1:5000/node", Some("1*"))
        );
        assert_eq!(
            split_pattern("127.0.0.1:5000/node"),
            ("127.0.0.1:5000/node", None)
        );
    }

    #[test]
    fn rows_like_docker() {
        let t = |s: &str| Reference::parse(s).unwrap();
        let d = format!("sha256:{}", "a".repeat(64));
        let rows = image_rows(
            &[t("busybox:1"), t("busybox:2")],
            &[t(&format!("busybox@{d}"))],
            true,
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0], ("busybox".into(), "1".into(), d.clone()));
        let rows = image_rows(&[], &[t(&format!("busybox@{d}"))], false);
        assert_eq!(
            rows,
            vec![("busybox".into(), "<none>".into(), "<none>".into())]
        );
        assert_eq!(image_rows(&[], &[], false)[0].0, "<none>");
    }
}
