//! `strata container inspect`, and docker's top-level `inspect`, which
//! looks for a container first and an image second (`--type` restricts).

use clap::Args;
use strata_format::output::render_inspect;
use strata_runtime::{RuntimeError, containers, inspect};

use crate::commands::image::inspect::image_json;
use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `container inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a custom template: 'json', or a Go template
    #[arg(short, long, value_name = "string")]
    pub format: Option<String>,
    /// Display total file sizes
    #[arg(short, long)]
    pub size: bool,
    /// Containers to inspect
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Flags of top-level `inspect`.
#[derive(Debug, Args)]
pub struct AnyInspectArgs {
    /// Format output using a custom template: 'json', or a Go template
    #[arg(short, long, value_name = "string")]
    pub format: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short, long)]
    pub size: bool,
    /// Return JSON for specified type (container or image)
    #[arg(long = "type", value_name = "string")]
    pub kind: Option<String>,
    /// Names or IDs of objects to inspect
    #[arg(required = true, value_name = "NAME|ID")]
    pub names: Vec<String>,
}

/// Runs `container inspect`.
pub fn run(ctx: &Ctx, args: InspectArgs) -> anyhow::Result<i32> {
    inspect_objects(ctx, args.format.as_deref(), &args.containers, true, false)
}

/// Runs top-level `inspect`.
pub fn run_any(ctx: &Ctx, args: AnyInspectArgs) -> anyhow::Result<i32> {
    let (c, i) = match args.kind.as_deref() {
        None | Some("") => (true, true),
        Some("container") => (true, false),
        Some("image") => (false, true),
        Some(other) => {
            return Err(
                ExitError::new(1, format!("\"{other}\" is not a valid value for --type")).into(),
            );
        }
    };
    inspect_objects(ctx, args.format.as_deref(), &args.names, c, i)
}

/// docker's templates run over its typed document, where an omitted
/// field still exists: `{{json .State.Health}}` of a container without a
/// healthcheck is `null`, not a missing key (so is `.Config.Healthcheck`).
fn template_view(doc: &mut serde_json::Value) {
    for (object, key) in [("State", "Health"), ("Config", "Healthcheck")] {
        if let Some(o) = doc.get_mut(object).and_then(|s| s.as_object_mut()) {
            o.entry(key).or_insert(serde_json::Value::Null);
        }
    }
}

fn inspect_objects(
    ctx: &Ctx,
    format: Option<&str>,
    names: &[String],
    containers_too: bool,
    images_too: bool,
) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let mut objects = Vec::new();
    let mut missing = Vec::new();
    for n in names {
        if containers_too {
            match containers::lookup(store, n) {
                Ok(c) => {
                    let mut doc = inspect::inspect(store, &c);
                    if !matches!(format, None | Some("") | Some("json")) {
                        template_view(&mut doc);
                    }
                    objects.push(doc);
                    continue;
                }
                Err(RuntimeError::NoSuchContainer(_)) => {}
                Err(e) => return Err(ExitError::new(1, e.to_string()).into()),
            }
        }
        if images_too && let Ok(img) = store.resolve_image(n) {
            objects.push(image_json(store, &img)?);
            continue;
        }
        missing.push(n.clone());
    }
    let out = render_inspect(format.unwrap_or(""), &objects)
        .map_err(|e| ExitError::new(64, e.to_string()))?;
    print!("{}", out.stdout);
    for e in &out.errors {
        eprintln!("{e}");
    }
    for m in &missing {
        eprintln!("Error: No such object: {m}");
    }
    Ok(if out.errors.is_empty() && missing.is_empty() {
        0
    } else {
        1
    })
}
