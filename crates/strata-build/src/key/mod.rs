//! Cache keys of build steps.
//!
//! A step's key is a SHA-256 over its parent's key and everything that can
//! change what the step produces, written as labelled, length-prefixed
//! fields so no two different inputs encode alike:
//!
//! ```text
//! key(step) = sha256(
//!     KEY_VERSION "\n"                         ← "strata.build.key.v2"
//!     "parent <len>:<parent key hex>\n"      ← previous step of the stage, or the base (below)
//!     "<label> <len>:<value>\n" …            ← the step's inputs, in this order:
//!        op         instruction keyword (run, copy, env, …)
//!        text       the instruction as written, keyword upper-cased, flags
//!                   included (`COPY --chown=app --chmod=644 a.txt /dst/`)
//!        cmd        the instruction after ARG/ENV expansion, in the explicit
//!                   canonical JSON encoding of [`command::canonical`] (its
//!                   own field names, never a Rust type's `Debug` text)
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
//!        from       COPY --from an image: `image <ID>` (the config digest,
//!                   which covers every layer's content); RUN --mount from=:
//!                   `stage <final key>` or `image <ID>`; COPY --from a stage:
//!                   `stage content`, and `sources` is the selection checksum
//!                   of the copied paths inside that stage's result (see
//!                   [`content_from`]), so a rebuilt stage that produced the
//!                   same files keeps the COPY cached, as BuildKit does
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

pub mod command;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The version tag hashed first into every key; bump it whenever the
/// recipe above changes (a field added, renamed or encoded differently,
/// here or in [`command`]) so old records, local or exported to a registry,
/// simply stop matching instead of matching wrongly. The pinned keys in the
/// tests below fail on any change until they are updated with the bump.
///
/// History: v1 hashed the `Debug` text of the parser's types as `cmd`;
/// v2 hashes the explicit encoding of [`command::canonical`];
/// v3 keys `COPY --from=<stage>` by the copied content ([`content_from`]),
/// no longer by the source stage's key.
pub const KEY_VERSION: &str = "strata.build.key.v3";

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

/// The inputs of a `COPY --from=<stage>` step once the stage's result is
/// known: the plan's `inputs` (instruction, flags, expanded command) with
/// the definition-time `from` field (`stage <key>`, which changes whenever
/// the source stage is rebuilt) replaced by `stage content`, plus
/// `sources`, the selection checksum of the copied paths inside the
/// stage's root (`fileops::Selection::checksum`, the same notion of
/// content as a context COPY). The key no longer depends on how the
/// stage was built, only on what it holds at the copied paths.
pub fn content_from(inputs: &KeyInputs, sources: &str) -> KeyInputs {
    let mut out = KeyInputs::default();
    for (l, v) in &inputs.fields {
        match l.as_str() {
            "from" => out.push("from", "stage content"),
            "sources" => {}
            _ => out.push(l.clone(), v.clone()),
        }
    }
    out.push("sources", sources);
    out
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
    fn copy_from_stage_is_keyed_by_content() {
        let plan = |stage_key: &str| {
            let mut k = KeyInputs::new("copy", "COPY --from=build /out/app /app");
            k.push("cmd", "{}");
            k.push("from", format!("stage {stage_key}"));
            k
        };
        // The source stage was rebuilt (another key), same files: same key.
        let a = content_from(&plan("k1"), "sha256:aa");
        let b = content_from(&plan("k2"), "sha256:aa");
        assert_eq!(a.key("p"), b.key("p"));
        assert_eq!(a.get("from"), Some("stage content"));
        assert_eq!(a.get("sources"), Some("sha256:aa"));
        // Other content: another key; and the definition key never matches.
        assert_ne!(a.key("p"), content_from(&plan("k1"), "sha256:ab").key("p"));
        assert_ne!(a.key("p"), plan("k1").key("p"));
        // The instruction and the parent still count.
        assert_ne!(a.key("p"), a.key("q"));
        let mut other = KeyInputs::new("copy", "COPY --from=build /out/app /bin/app");
        other.push("cmd", "{}");
        other.push("from", "stage k1");
        assert_ne!(a.key("p"), content_from(&other, "sha256:aa").key("p"));
        // Applying it twice changes nothing.
        assert_eq!(content_from(&a, "sha256:aa"), a);
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

    /// The keys of representative steps, pinned: any change to the recipe
    /// (this module or [`command`]) fails here. Update the pins only
    /// together with a [`KEY_VERSION`] bump.
    #[test]
    fn pinned_keys() {
        let df = strata_dockerfile::Dockerfile::parse_str(concat!(
            "ARG V=1\n",
            "FROM alpine:3.20 AS base\n",
            "ARG TAG=dev\n",
            "ENV A=1 B=\"two words\"\n",
            "RUN --mount=type=cache,target=/root/.cache --network=none apk add curl\n",
            "COPY --chown=app:app --chmod=644 a.txt b/ /dst/\n",
            "COPY --from=base <<EOF /etc/motd\nhello\nEOF\n",
            "ADD --checksum=sha256:00 https://example.com/x.tgz /x\n",
            "WORKDIR /app\n",
            "USER app\n",
            "LABEL a=b\n",
            "EXPOSE 8080/tcp\n",
            "HEALTHCHECK --interval=5s --retries=3 CMD [\"true\"]\n",
            "CMD [\"sh\"]\n",
            "ENTRYPOINT /bin/run\n",
            "SHELL [\"/bin/bash\", \"-c\"]\n",
            "VOLUME /data\n",
            "STOPSIGNAL SIGTERM\n",
        ))
        .unwrap();
        let base = base_key(&BaseKey::Image("sha256:1234"), "linux/amd64", None);
        let scratch = base_key(&BaseKey::Scratch, "linux/amd64", Some(0));
        let stage = &df.stages[0];
        let mut got = vec![
            ("base".to_string(), base.clone()),
            ("scratch".to_string(), scratch),
            (
                command::canonical(&strata_dockerfile::instructions::Command::From(
                    stage.from.clone(),
                )),
                String::new(),
            ),
        ];
        let mut parent = base;
        for cmd in &stage.commands {
            let mut inputs = KeyInputs::new(cmd.name(), &cmd.source().text);
            inputs.push("cmd", command::canonical(cmd));
            let key = inputs.key(&parent);
            got.push((command::canonical(cmd), key.clone()));
            parent = key;
        }
        let want: &[(&str, &str)] = &[
            (
                r#"base"#,
                "117a1204536e992291cb952de84f001315b04e49486ab35d349d1fa1c59ae155",
            ),
            (
                r#"scratch"#,
                "20ebf96b5d5e180d713b6b28d1122261790749aed2e156d0374d347ed9a95a07",
            ),
            (
                r#"{"op":"from","keyword":"FROM","escape":"\\","base":"alpine:3.20","name":"base","platform":null}"#,
                "",
            ),
            (
                r#"{"op":"arg","keyword":"ARG","escape":"\\","args":[{"key":"TAG","default":"dev"}]}"#,
                "7ae736e511487f3f1182e96fdc08243ead255417345ee9fc31df6e69bcfa8871",
            ),
            (
                r#"{"op":"env","keyword":"ENV","escape":"\\","vars":[{"key":"A","value":"1","legacy":false},{"key":"B","value":"\"two words\"","legacy":false}]}"#,
                "97fa54bf98b2fb58b9dd133929aaa5949677566dfdea624b8c702a87918ae09a",
            ),
            (
                r#"{"op":"run","keyword":"RUN","escape":"\\","cmdline":{"args":["apk add curl"],"shell_form":true},"heredocs":[],"mounts":[{"type":"cache","target":"/root/.cache","id":null,"sharing":"shared","from":null,"source":null,"readonly":false,"mode":null,"uid":null,"gid":null}],"network":"none","security":"sandbox"}"#,
                "95193da15b209362196e209cb485a42004fe649d3b7efe8f420c01a4016a5501",
            ),
            (
                r#"{"op":"copy","keyword":"COPY","escape":"\\","sources":["a.txt","b/"],"inline":[],"dest":"/dst/","from":null,"chown":"app:app","chmod":"644","link":false,"parents":false,"excludes":[]}"#,
                "5e58da65d4d47d59d37acaa1f8ae27ace7ea48d7479988259e976e16a52630eb",
            ),
            (
                r#"{"op":"copy","keyword":"COPY","escape":"\\","sources":[],"inline":[{"path":"EOF","data":"hello\n","expand":true}],"dest":"/etc/motd","from":"base","chown":null,"chmod":null,"link":false,"parents":false,"excludes":[]}"#,
                "a950854b5c2e9284c7728abd6135cb007d7a4c9f3fa08e433f9d3d21c15da018",
            ),
            (
                r#"{"op":"add","keyword":"ADD","escape":"\\","sources":["https://example.com/x.tgz"],"inline":[],"dest":"/x","chown":null,"chmod":null,"link":false,"excludes":[],"checksum":"sha256:00","keep_git_dir":false,"unpack":null}"#,
                "5e63e7cd156105687520bcd1ff4690e9862849a8ececf48abad1e97b2250b377",
            ),
            (
                r#"{"op":"workdir","keyword":"WORKDIR","escape":"\\","path":"/app"}"#,
                "60ca32b23a71d7be7967cbf1c78efcd6295cf4764ace84c8d311274d7a26045c",
            ),
            (
                r#"{"op":"user","keyword":"USER","escape":"\\","user":"app"}"#,
                "b1d64c1754168136a04d6932940746cc716a8312c4dc43b53eed19c6b6c8b7f0",
            ),
            (
                r#"{"op":"label","keyword":"LABEL","escape":"\\","labels":[{"key":"a","value":"b","legacy":false}]}"#,
                "351dfb9b599e5d509f571207f03bd0475ed231782de5cba41d0b05b51464de43",
            ),
            (
                r#"{"op":"expose","keyword":"EXPOSE","escape":"\\","ports":["8080/tcp"]}"#,
                "0d2c78e63c9dcec15d4b3f5587760b7f7c4c5b0789c5d6fa18e46c7f1f706323",
            ),
            (
                r#"{"op":"healthcheck","keyword":"HEALTHCHECK","escape":"\\","test":["CMD","true"],"interval_ns":"5000000000","timeout_ns":"0","start_period_ns":"0","start_interval_ns":"0","retries":3}"#,
                "0cb470ea67d65f2bdb2ad905933a620bb519367681594ca49bd4b9f982bd0003",
            ),
            (
                r#"{"op":"cmd","keyword":"CMD","escape":"\\","cmdline":{"args":["sh"],"shell_form":false}}"#,
                "854f2435ac1d29fd46b383abf04beeb707651556e2a09143436fa4f5cd844d3a",
            ),
            (
                r#"{"op":"entrypoint","keyword":"ENTRYPOINT","escape":"\\","cmdline":{"args":["/bin/run"],"shell_form":true}}"#,
                "a75b684f550f013db94cb697398b3b16df9f376d3992e1eeb010dafae6907796",
            ),
            (
                r#"{"op":"shell","keyword":"SHELL","escape":"\\","shell":["/bin/bash","-c"]}"#,
                "96e18144eb3c798bb4f011a39842f0385e80ecf94518346fcddc23f82f4eaaae",
            ),
            (
                r#"{"op":"volume","keyword":"VOLUME","escape":"\\","volumes":["/data"]}"#,
                "49c76f6fd3fb1d1393a2ce5f7bdb3d65ca167757c48b7291d4381d7319fa7af1",
            ),
            (
                r#"{"op":"stopsignal","keyword":"STOPSIGNAL","escape":"\\","signal":"SIGTERM"}"#,
                "d8288390978a5de7bcf535b5e85726e098a25279bc71e86e53edeae1a6ba4cf1",
            ),
        ];
        let got: Vec<(&str, &str)> = got.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(got, want);
        // COPY --from=<stage>, once the copied content is known.
        let copy_from = &stage.commands[4];
        let mut inputs = KeyInputs::new(copy_from.name(), &copy_from.source().text);
        inputs.push("cmd", command::canonical(copy_from));
        inputs.push("from", "stage 00");
        assert_eq!(
            content_from(&inputs, "sha256:11").key(&parent),
            "7d77ee6f712e82d5cff5812031c8b0b3e3aeb74ba5adb7b70e38383b860bcea9"
        );
    }

    #[test]
    fn moving_an_instruction_keeps_its_key() {
        let a = strata_dockerfile::Dockerfile::parse_str("FROM x\nRUN true\n").unwrap();
        let b = strata_dockerfile::Dockerfile::parse_str("FROM x\n\n# c\nRUN true\n").unwrap();
        assert_eq!(
            command::canonical(&a.stages[0].commands[0]),
            command::canonical(&b.stages[0].commands[0])
        );
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
