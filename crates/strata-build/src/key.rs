//! Cache keys of build steps.
//!
//! A step's key is a SHA-256 over its parent's key and everything that can
//! change what the step produces, written as labelled, length-prefixed
//! fields so no two different inputs encode alike:
//!
//! ```text
//! key(step) = sha256(
//!     "strata.build.key.v1\n"
//!     "parent <len>:<parent key hex>\n"      ← previous step of the stage, or the base (below)
//!     "<label> <len>:<value>\n" …            ← the step's inputs, in this order:
//!        op         instruction keyword (run, copy, env, …)
//!        text       the instruction after ARG/ENV expansion, flags included
//!                   (`COPY --chown=app --chmod=644 a.txt /dst/`)
//!        env.<K>    for RUN: every variable the process sees (ENV values,
//!                   ARGs in scope, proxy build args excluded); for other
//!                   steps: the variables the instruction referenced
//!        workdir / user / shell   the config state a RUN executes with
//!        network    RUN --network, or the build's --network
//!        mount.<i>  RUN --mount, with `from` resolved to a stage key or image ID
//!        secret.<id> only the secret's id and target (never its content)
//!        sources    COPY/ADD: the selection checksum of the sources (each
//!                   selected entry's relative path, type, mode, uid/gid,
//!                   symlink target and content sha256 — never mtime; see
//!                   `fileops::Selection::checksum`)
//!        from       COPY --from: the source stage's final key, or the image ID
//! )
//!
//! base(stage) = sha256("strata.build.base.v1\n" + "image <config digest>" | "scratch",
//!                      + "platform <os/arch>"       ← a stage FROM another stage uses
//!                      [+ "epoch <seconds>"])       ← that stage's final key instead
//!                        └ only with SOURCE_DATE_EPOCH, which clamps the layers'
//!                          mtimes and the history times the cached results hold
//! ```
//!
//! Keys are 64 lowercase hex digits (the form the registry cache format
//! wants). Because a key covers its parent, one miss invalidates every
//! later step of the stage, as DESIGN.md asks. The labelled fields are also
//! kept (as JSON, in `build_cache.description`) so `--explain` can name the
//! field that changed between two builds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The version tag hashed first into every key; bump it when the recipe
/// changes so old records simply stop matching.
pub const KEY_VERSION: &str = "strata.build.key.v1";

/// The inputs of one step, in the order they are hashed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInputs {
    /// `(label, value)` pairs.
    pub fields: Vec<(String, String)>,
}

impl KeyInputs {
    /// Inputs starting with the instruction keyword and text.
    pub fn new(op: &str, text: &str) -> KeyInputs {
        let mut k = KeyInputs::default();
        k.push("op", op);
        k.push("text", text);
        k
    }

    /// Appends a field.
    pub fn push(&mut self, label: impl Into<String>, value: impl Into<String>) {
        self.fields.push((label.into(), value.into()));
    }

    /// The value of the first field called `label`.
    pub fn get(&self, label: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, v)| v.as_str())
    }

    /// The key of a step with these inputs on top of `parent`.
    pub fn key(&self, parent: &str) -> String {
        let mut h = Sha256::new();
        h.update(KEY_VERSION.as_bytes());
        h.update(b"\n");
        field(&mut h, "parent", parent);
        for (l, v) in &self.fields {
            field(&mut h, l, v);
        }
        hex::encode(h.finalize())
    }

    /// The fields as a map (later duplicates win), for comparisons.
    pub fn as_map(&self) -> BTreeMap<&str, &str> {
        self.fields
            .iter()
            .map(|(l, v)| (l.as_str(), v.as_str()))
            .collect()
    }
}

fn field(h: &mut Sha256, label: &str, value: &str) {
    h.update(label.as_bytes());
    h.update(format!(" {}:", value.len()).as_bytes());
    h.update(value.as_bytes());
    h.update(b"\n");
}

/// What a stage starts from, for its first step's parent key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseKey<'a> {
    /// `FROM scratch`.
    Scratch,
    /// An image, by config digest (image ID).
    Image(&'a str),
    /// Another stage, by the key of its last step (or its own base key).
    Stage(&'a str),
}

/// The parent key of a stage's first step (`epoch`: `SOURCE_DATE_EPOCH`;
/// without it the key is what it always was).
pub fn base_key(base: &BaseKey<'_>, platform: &str, epoch: Option<i64>) -> String {
    match base {
        BaseKey::Stage(k) => (*k).to_string(),
        BaseKey::Scratch | BaseKey::Image(_) => {
            let mut h = Sha256::new();
            h.update(b"strata.build.base.v1\n");
            match base {
                BaseKey::Image(id) => field(&mut h, "image", id),
                _ => field(&mut h, "scratch", ""),
            }
            field(&mut h, "platform", platform);
            if let Some(e) = epoch {
                field(&mut h, "epoch", &e.to_string());
            }
            hex::encode(h.finalize())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cover_parent_and_every_field() {
        let mut a = KeyInputs::new("copy", "COPY app.js .");
        a.push("sources", "sha256:aa");
        let k1 = a.key("p");
        assert_eq!(k1.len(), 64);
        assert!(
            k1.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(k1, a.key("q"), "parent is covered");
        let mut b = a.clone();
        b.fields[2].1 = "sha256:ab".into();
        assert_ne!(k1, b.key("p"), "sources are covered");
        assert_eq!(k1, a.clone().key("p"), "deterministic");
    }

    #[test]
    fn length_prefix_prevents_field_splicing() {
        let mut a = KeyInputs::default();
        a.push("x", "1\ny 1:2");
        let mut b = KeyInputs::default();
        b.push("x", "1");
        b.push("y", "2");
        assert_ne!(a.key("p"), b.key("p"));
    }

    #[test]
    fn base_keys() {
        let s = base_key(&BaseKey::Scratch, "linux/amd64", None);
        let i = base_key(&BaseKey::Image("sha256:1"), "linux/amd64", None);
        assert_ne!(s, i);
        assert_ne!(
            i,
            base_key(&BaseKey::Image("sha256:1"), "linux/arm64", None)
        );
        assert_ne!(
            i,
            base_key(&BaseKey::Image("sha256:1"), "linux/amd64", Some(0))
        );
        assert_eq!(base_key(&BaseKey::Stage("abc"), "linux/amd64", None), "abc");
        assert_eq!(s.len(), 64);
    }
}
