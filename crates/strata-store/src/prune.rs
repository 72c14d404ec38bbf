//! `image prune`: removing images nothing uses, as docker does — dangling
//! images (no tag) by default, every image no container uses with `all`.
//!
//! The choice and the deletions are one write transaction, so an image
//! tagged or given a container by another command meanwhile is never
//! removed; garbage collection of the freed layers follows (when no other
//! command holds the store, see [`crate::gc`]).

use crate::Store;
use crate::db::containers as cq;
use crate::db::images as q;
use crate::error::Result;
use crate::images::Removal;

/// What `image prune` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// `untagged: …` / `deleted: …`, in docker's order.
    pub removed: Vec<Removal>,
    /// Bytes freed by garbage collection (0 when it could not run now).
    pub reclaimed: u64,
}

impl Store {
    /// Removes dangling images (with `all`: every image without a
    /// container), then collects garbage.
    pub fn prune_images(&self, all: bool) -> Result<Pruned> {
        self.prune_images_where(all, &|_| true)
    }

    /// [`Store::prune_images`] of the images `select` accepts (a prune
    /// `--filter`: labels, creation time).
    pub fn prune_images_where(
        &self,
        all: bool,
        select: &dyn Fn(&crate::images::Image) -> bool,
    ) -> Result<Pruned> {
        let mut refused = std::collections::HashSet::new();
        for row in self.list_images()? {
            if self.image(&row.id).is_ok_and(|img| !select(&img)) {
                refused.insert(row.id);
            }
        }
        let removed = self.db().write(|tx| {
            let mut out = Vec::new();
            for img in q::list(tx)? {
                if refused.contains(&img.id) {
                    continue;
                }
                let tags = q::tags_of(tx, &img.id)?;
                if !all && !tags.is_empty() {
                    continue;
                }
                if !cq::using_image(tx, img.id.as_str())?.is_empty() {
                    continue;
                }
                for t in &tags {
                    q::remove_tag(tx, t)?;
                    out.push(Removal::Untagged(familiar_tag(t)));
                }
                for (repo, d) in q::repo_digests_of(tx, &img.id)? {
                    out.push(Removal::Untagged(format!("{}@{d}", familiar_repo(&repo))));
                }
                q::delete(tx, &img.id)?;
                out.push(Removal::Deleted(img.id.clone()));
            }
            Ok(out)
        })?;
        let reclaimed = if removed.is_empty() {
            0
        } else {
            self.gc()?.bytes
        };
        Ok(Pruned { removed, reclaimed })
    }
}

fn familiar_tag(name: &str) -> String {
    strata_oci::Reference::parse(name)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| name.to_string())
}

fn familiar_repo(repo: &str) -> String {
    strata_oci::Reference::parse_name_only(repo)
        .map(|r| r.familiar_repository())
        .unwrap_or_else(|_| repo.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn familiar_names() {
        assert_eq!(
            familiar_tag("docker.io/library/busybox:latest"),
            "busybox:latest"
        );
        assert_eq!(familiar_tag("127.0.0.1:5000/x:1"), "127.0.0.1:5000/x:1");
        assert_eq!(familiar_repo("docker.io/library/busybox"), "busybox");
    }
}
