//! The canonical encoding of an expanded instruction for its cache key.
//!
//! The `cmd` field of a step's key inputs is this encoding: a JSON object
//! written field by field here, with names that belong to the key recipe
//! (not to the Rust types of `strata-dockerfile`), so renaming or adding a
//! field in the parser never silently changes a key. Adding an instruction
//! option that changes what a step produces means adding it here *and*
//! bumping [`super::KEY_VERSION`]; the pinned keys in this crate's tests
//! fail until both are done.
//!
//! Layout (object keys in this order; absent options are `null`):
//!
//! ```text
//! {"op": <keyword, lower case>, "keyword": <as written>, "escape": <char>,
//!  …per instruction, e.g. RUN:
//!  "args": [...], "shell_form": bool, "heredocs": [{"name","fd","expand","chomp","content"}],
//!  "mounts": [{"type": "bind|cache|tmpfs|secret|ssh", …its options}],
//!  "network": "default|none|host",
//!  "security": "sandbox|insecure"}
//! ```
//!
//! The source line range is never part of the encoding: moving an
//! instruction to another line keeps its key.

use serde_json::{Value, json};
use strata_dockerfile::instructions::{
    ArgDef, CacheSharing, Command, CommandLine, HealthConfig, InlineSource, KeyValue, Mount,
    NetworkMode, SecurityMode,
};
use strata_dockerfile::parser::Heredoc;

/// The canonical text of `cmd` (already expanded) for the key's `cmd` field.
pub fn canonical(cmd: &Command) -> String {
    let src = cmd.source();
    let mut obj = serde_json::Map::new();
    obj.insert("op".into(), json!(cmd.name()));
    obj.insert("keyword".into(), json!(src.keyword));
    obj.insert("escape".into(), json!(src.escape.to_string()));
    let body = match cmd {
        Command::From(c) => json!({
            "base": c.base, "name": c.name, "platform": c.platform,
        }),
        Command::Run(c) => json!({
            "cmdline": cmdline(&c.cmdline),
            "heredocs": heredocs(&c.heredocs),
            "mounts": c.mounts.iter().map(mount).collect::<Vec<_>>(),
            "network": match c.network {
                NetworkMode::Default => "default",
                NetworkMode::None => "none",
                NetworkMode::Host => "host",
            },
            "security": match c.security {
                SecurityMode::Sandbox => "sandbox",
                SecurityMode::Insecure => "insecure",
            },
        }),
        Command::Cmd(c) => json!({ "cmdline": cmdline(&c.cmdline) }),
        Command::Entrypoint(c) => json!({ "cmdline": cmdline(&c.cmdline) }),
        Command::Shell(c) => json!({ "shell": c.shell }),
        Command::Env(c) => json!({ "vars": key_values(&c.vars) }),
        Command::Label(c) => json!({ "labels": key_values(&c.labels) }),
        Command::Arg(c) => json!({ "args": c.args.iter().map(arg).collect::<Vec<_>>() }),
        Command::Expose(c) => json!({ "ports": c.ports }),
        Command::User(c) => json!({ "user": c.user }),
        Command::Workdir(c) => json!({ "path": c.path }),
        Command::Volume(c) => json!({ "volumes": c.volumes }),
        Command::StopSignal(c) => json!({ "signal": c.signal }),
        Command::Maintainer(c) => json!({ "maintainer": c.maintainer }),
        Command::Onbuild(c) => json!({
            "expression": c.expression, "heredocs": heredocs(&c.heredocs),
        }),
        Command::Healthcheck(c) => health(&c.health),
        Command::Copy(c) => json!({
            "sources": c.sources,
            "inline": inline(&c.inline),
            "dest": c.dest,
            "from": c.from,
            "chown": c.chown,
            "chmod": c.chmod,
            "link": c.link,
            "parents": c.parents,
            "excludes": c.excludes,
        }),
        Command::Add(c) => json!({
            "sources": c.sources,
            "inline": inline(&c.inline),
            "dest": c.dest,
            "chown": c.chown,
            "chmod": c.chmod,
            "link": c.link,
            "excludes": c.excludes,
            "checksum": c.checksum,
            "keep_git_dir": c.keep_git_dir,
            "unpack": c.unpack,
        }),
    };
    if let Value::Object(fields) = body {
        obj.extend(fields);
    }
    Value::Object(obj).to_string()
}

fn cmdline(c: &CommandLine) -> Value {
    json!({ "args": c.args, "shell_form": c.prepend_shell })
}

fn heredocs(h: &[Heredoc]) -> Value {
    h.iter()
        .map(|h| {
            json!({
                "name": h.name, "fd": h.fd, "expand": h.expand,
                "chomp": h.chomp, "content": h.content,
            })
        })
        .collect()
}

fn inline(i: &[InlineSource]) -> Value {
    i.iter()
        .map(|s| json!({ "path": s.path, "data": s.data, "expand": s.expand }))
        .collect()
}

fn key_values(kv: &[KeyValue]) -> Value {
    kv.iter()
        .map(|kv| json!({ "key": kv.key, "value": kv.value, "legacy": kv.legacy }))
        .collect()
}

fn arg(a: &ArgDef) -> Value {
    json!({ "key": a.key, "default": a.default })
}

fn health(h: &HealthConfig) -> Value {
    json!({
        "test": h.test,
        "interval_ns": h.interval.as_nanos().to_string(),
        "timeout_ns": h.timeout.as_nanos().to_string(),
        "start_period_ns": h.start_period.as_nanos().to_string(),
        "start_interval_ns": h.start_interval.as_nanos().to_string(),
        "retries": h.retries,
    })
}

fn mount(m: &Mount) -> Value {
    match m {
        Mount::Bind(b) => json!({
            "type": "bind", "target": b.target, "source": b.source,
            "from": b.from, "readonly": b.readonly,
        }),
        Mount::Cache(c) => json!({
            "type": "cache", "target": c.target, "id": c.id,
            "sharing": match c.sharing {
                CacheSharing::Shared => "shared",
                CacheSharing::Private => "private",
                CacheSharing::Locked => "locked",
            },
            "from": c.from, "source": c.source, "readonly": c.readonly,
            "mode": c.mode, "uid": c.uid, "gid": c.gid,
        }),
        Mount::Tmpfs(t) => json!({
            "type": "tmpfs", "target": t.target, "size": t.size, "readonly": t.readonly,
        }),
        Mount::Secret(s) => json!({
            "type": "secret", "id": s.id, "target": s.target, "env": s.env,
            "required": s.required, "mode": s.mode, "uid": s.uid, "gid": s.gid,
        }),
        Mount::Ssh(s) => json!({
            "type": "ssh", "id": s.id, "target": s.target, "required": s.required,
            "mode": s.mode, "uid": s.uid, "gid": s.gid,
        }),
    }
}
