//! `strata version`: docker's `version` document (moby `types.Version`
//! under the CLI's `Client`/`Server` names) and its layout, so
//! `--format '{{.Server.Version}}'` answers as scripts expect. strata has
//! no daemon: the "server" is this same binary working on the store, so
//! both halves name strata's version; the API version is the one of the
//! docker 20.10 interface its commands and outputs follow.

use clap::Args;
use serde_json::{Value, json};
use strata_format::template::Template;

use crate::context::Ctx;
use crate::exit::ExitError;

/// The docker API level strata's commands and outputs follow (20.10's).
pub const API_VERSION: &str = "1.41";
/// The oldest API level docker 20.10 accepts.
pub const MIN_API_VERSION: &str = "1.12";

/// Flags of `version`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Format the output using the given Go template
    #[arg(short, long, value_name = "string")]
    pub format: Option<String>,
}

/// Runs `version`.
pub fn run(_ctx: &Ctx, args: VersionArgs) -> anyhow::Result<i32> {
    let doc = document();
    match args.format.as_deref() {
        Some(f) if !f.is_empty() => {
            let tmpl = Template::parse(f)
                .map_err(|e| ExitError::new(64, format!("Template parsing error: {e}")))?;
            let out = tmpl
                .render(&doc)
                .map_err(|e| ExitError::new(1, e.to_string()))?;
            println!("{out}");
        }
        _ => print!("{}", human(&doc)),
    }
    Ok(0)
}

/// The document, under docker's field names.
pub fn document() -> Value {
    let version = env!("CARGO_PKG_VERSION");
    let os = std::env::consts::OS;
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    json!({
        "Client": {
            "Platform": {"Name": "strata"},
            "Version": version,
            "ApiVersion": API_VERSION,
            "DefaultAPIVersion": API_VERSION,
            "Os": os,
            "Arch": arch,
            "Context": "default",
            "Experimental": false,
        },
        "Server": {
            "Platform": {"Name": "strata (no daemon)"},
            "Components": [{
                "Name": "Engine",
                "Version": version,
                "Details": {
                    "ApiVersion": API_VERSION,
                    "MinAPIVersion": MIN_API_VERSION,
                    "Os": os,
                    "Arch": arch,
                    "KernelVersion": kernel,
                    "Experimental": "false",
                },
            }],
            "Version": version,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "Os": os,
            "Arch": arch,
            "KernelVersion": kernel,
        },
    })
}

/// docker's layout (the CLI's version template), with the lines strata
/// has values for.
fn human(d: &Value) -> String {
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let c = &d["Client"];
    let e = &d["Server"]["Components"][0];
    let mut out = String::new();
    out.push_str("Client:\n");
    for (k, v) in [
        ("Version", s(&c["Version"])),
        ("API version", s(&c["ApiVersion"])),
        ("OS/Arch", format!("{}/{}", s(&c["Os"]), s(&c["Arch"]))),
        ("Context", s(&c["Context"])),
        ("Experimental", s(&c["Experimental"])),
    ] {
        out.push_str(&format!(" {:<18} {v}\n", format!("{k}:")));
    }
    out.push_str(&format!(
        "\nServer: {}\n {}:\n",
        s(&d["Server"]["Platform"]["Name"]),
        s(&e["Name"])
    ));
    for (k, v) in [
        ("Version", s(&e["Version"])),
        (
            "API version",
            format!(
                "{} (minimum version {})",
                s(&e["Details"]["ApiVersion"]),
                s(&e["Details"]["MinAPIVersion"])
            ),
        ),
        (
            "OS/Arch",
            format!("{}/{}", s(&e["Details"]["Os"]), s(&e["Details"]["Arch"])),
        ),
        ("Experimental", s(&e["Details"]["Experimental"])),
    ] {
        out.push_str(&format!("  {:<17} {v}\n", format!("{k}:")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_aligns_as_dockers() {
        let out = human(&document());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "Client:");
        // docker: " Version:           20.10.24" (values at column 20).
        assert_eq!(lines[1].find(env!("CARGO_PKG_VERSION")), Some(20), "{out}");
        assert_eq!(lines[2], format!(" API version:       {API_VERSION}"));
        let engine = lines.iter().position(|l| *l == " Engine:").unwrap();
        assert_eq!(
            lines[engine + 2],
            format!("  API version:      {API_VERSION} (minimum version {MIN_API_VERSION})")
        );
    }
}
