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
/// v2 hashes the explicit encoding of [`command::canonical`].
pub const KEY_VERSION: &str = "strata.build.key.v2";

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
                "cb5886ecb22c42e2ed9f638b6546f6d2c084949dd36f6691d6598057f33b6dd1",
            ),
            (
                r#"{"op":"env","keyword":"ENV","escape":"\\","vars":[{"key":"A","value":"1","legacy":false},{"key":"B","value":"\"two words\"","legacy":false}]}"#,
                "2fff45fdec560c1a4e8d2e2fc0ec91a955d6584655b919aa3d0935381eb0ba78",
            ),
            (
                r#"{"op":"run","keyword":"RUN","escape":"\\","cmdline":{"args":["apk add curl"],"shell_form":true},"heredocs":[],"mounts":[{"type":"cache","target":"/root/.cache","id":null,"sharing":"shared","from":null,"source":null,"readonly":false,"mode":null,"uid":null,"gid":null}],"network":"none","security":"sandbox"}"#,
                "5ffbeb5cd1e223019a2c028fa0b352235da832120381ec7c97c95d827e6c6a06",
            ),
            (
                r#"{"op":"copy","keyword":"COPY","escape":"\\","sources":["a.txt","b/"],"inline":[],"dest":"/dst/","from":null,"chown":"app:app","chmod":"644","link":false,"parents":false,"excludes":[]}"#,
                "d58d281c96927fee00dd0fbb8d6b900da3e23388a21cf46cb7df22bd40008d94",
            ),
            (
                r#"{"op":"copy","keyword":"COPY","escape":"\\","sources":[],"inline":[{"path":"EOF","data":"hello\n","expand":true}],"dest":"/etc/motd","from":"base","chown":null,"chmod":null,"link":false,"parents":false,"excludes":[]}"#,
                "91f5093099be1013a4320a944dfbca8ae18ac79e829512247623103352fada73",
            ),
            (
                r#"{"op":"add","keyword":"ADD","escape":"\\","sources":["https://example.com/x.tgz"],"inline":[],"dest":"/x","chown":null,"chmod":null,"link":false,"excludes":[],"checksum":"sha256:00","keep_git_dir":false,"unpack":null}"#,
                "058bdbfc67015d71a3ae3b26725a89a5252c4c36a9b9717c7d1fcf3d1c76a79b",
            ),
            (
                r#"{"op":"workdir","keyword":"WORKDIR","escape":"\\","path":"/app"}"#,
                "85e2e62a062fc2a6fdfd3b17a834da6cd66088796c0066d978a8052884967035",
            ),
            (
                r#"{"op":"user","keyword":"USER","escape":"\\","user":"app"}"#,
                "0026749c4fcd3c9c01b836541d4345152cfe4b50c4a3dd449d0801b840c33300",
            ),
            (
                r#"{"op":"label","keyword":"LABEL","escape":"\\","labels":[{"key":"a","value":"b","legacy":false}]}"#,
                "11344c2d6bba416d723944765c15a741ed451ef5335ebd4cadef7e65622e8cbc",
            ),
            (
                r#"{"op":"expose","keyword":"EXPOSE","escape":"\\","ports":["8080/tcp"]}"#,
                "3f46399e6d556d0f6ffa315969f565105356ca49af2ad7713216047537f3afa8",
            ),
            (
                r#"{"op":"healthcheck","keyword":"HEALTHCHECK","escape":"\\","test":["CMD","true"],"interval_ns":"5000000000","timeout_ns":"0","start_period_ns":"0","start_interval_ns":"0","retries":3}"#,
                "110126969861822944cb9002204bba687d49bcaca072777485efa2d6c901ea33",
            ),
            (
                r#"{"op":"cmd","keyword":"CMD","escape":"\\","cmdline":{"args":["sh"],"shell_form":false}}"#,
                "6eb3ff9ff0f9ccaa40073264050a0ca9148a5de4db8b592dd8a2eb0eb88d12fb",
            ),
            (
                r#"{"op":"entrypoint","keyword":"ENTRYPOINT","escape":"\\","cmdline":{"args":["/bin/run"],"shell_form":true}}"#,
                "b02cf345f71dcb5080939227de2f89cd391a1140f66d8041d03f8eb357f3d271",
            ),
            (
                r#"{"op":"shell","keyword":"SHELL","escape":"\\","shell":["/bin/bash","-c"]}"#,
                "a2565d5acf2c8b3e1b0939f192d1e1fff7f9d13e837f9977a228505e1369b47c",
            ),
            (
                r#"{"op":"volume","keyword":"VOLUME","escape":"\\","volumes":["/data"]}"#,
                "bc1632eef235480b77833470f26db5afbe92dd5af38eff1a7f4f18c06e153c53",
            ),
            (
                r#"{"op":"stopsignal","keyword":"STOPSIGNAL","escape":"\\","signal":"SIGTERM"}"#,
                "2b4bee6cccd2306a0091182aff27105e7d86bdc152c378ecbee7e0c3de3c0738",
            ),
        ];
        let got: Vec<(&str, &str)> = got.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(got, want);
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
