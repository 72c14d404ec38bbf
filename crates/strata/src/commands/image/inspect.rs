//! `strata image inspect`: docker's image JSON (Id, RepoTags, RepoDigests,
//! Created, Config, RootFS, Size, …), or `-f TEMPLATE` per image.

use clap::Args;
use serde_json::{Value, json};
use strata_format::output::render_inspect;
use strata_store::{Image, Store};

use crate::context::Ctx;
use crate::exit::ExitError;

/// Flags of `image inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a custom template: 'json', or a Go template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Images to inspect
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// Runs `image inspect`.
pub fn run(ctx: &Ctx, args: InspectArgs) -> anyhow::Result<i32> {
    let store = ctx.store()?;
    let mut objects = Vec::new();
    let mut missing = Vec::new();
    for name in &args.images {
        match store.resolve_image(name) {
            Ok(img) => objects.push(image_json(store, &img)?),
            Err(strata_store::StoreError::ImageNotFound(n)) => missing.push(n),
            Err(e) => return Err(e.into()),
        }
    }
    let out = render_inspect(args.format.as_deref().unwrap_or(""), &objects)?;
    print!("{}", out.stdout);
    for e in &out.errors {
        eprintln!("{e}");
    }
    if !missing.is_empty() {
        return Err(ExitError::new(1, format!("No such image: {}", missing.join(", "))).into());
    }
    Ok(if out.errors.is_empty() { 0 } else { 1 })
}

/// docker's `ImageInspect` for an image.
pub fn image_json(store: &Store, img: &Image) -> anyhow::Result<Value> {
    let cfg = &img.config;
    let extra = |k: &str| cfg.extra.get(k).cloned();
    let tags: Vec<String> = store
        .image_tags(img.id())?
        .iter()
        .map(|r| r.familiar())
        .collect();
    let digests: Vec<String> = store
        .image_repo_digests(img.id())?
        .iter()
        .map(|r| r.familiar())
        .collect();
    let container_config = extra("container_config")
        .and_then(|v| serde_json::from_value::<strata_oci::ContainerConfig>(v).ok())
        .unwrap_or_default()
        .to_docker_api("");
    let lowers = store.snapshots().dir_names(&img.chain_ids())?;
    let mut graph = serde_json::Map::new();
    if let Some((top, rest)) = lowers.split_first() {
        graph.insert("UpperDir".into(), json!(top));
        if !rest.is_empty() {
            let joined: Vec<String> = rest.iter().map(|p| p.display().to_string()).collect();
            graph.insert("LowerDir".into(), json!(joined.join(":")));
        }
    }
    let mut m = serde_json::Map::new();
    m.insert("Id".into(), json!(img.id()));
    m.insert("RepoTags".into(), json!(tags));
    m.insert("RepoDigests".into(), json!(digests));
    let parent = store.image_parent(img.id())?;
    m.insert(
        "Parent".into(),
        json!(parent.map(|p| p.to_string()).unwrap_or_default()),
    );
    m.insert("Comment".into(), extra("comment").unwrap_or(json!("")));
    m.insert(
        "Created".into(),
        json!(cfg.created.clone().unwrap_or_default()),
    );
    m.insert("Container".into(), extra("container").unwrap_or(json!("")));
    m.insert("ContainerConfig".into(), container_config);
    m.insert(
        "DockerVersion".into(),
        extra("docker_version").unwrap_or(json!("")),
    );
    m.insert(
        "Author".into(),
        json!(cfg.author.clone().unwrap_or_default()),
    );
    m.insert(
        "Config".into(),
        cfg.config.clone().unwrap_or_default().to_docker_api(""),
    );
    m.insert("Architecture".into(), json!(cfg.architecture));
    if let Some(v) = &cfg.variant {
        m.insert("Variant".into(), json!(v));
    }
    m.insert("Os".into(), json!(cfg.os));
    if let Some(v) = extra("os.version") {
        m.insert("OsVersion".into(), v);
    }
    m.insert("Size".into(), json!(img.row.size));
    m.insert("VirtualSize".into(), json!(img.row.size));
    m.insert(
        "GraphDriver".into(),
        json!({"Data": graph, "Name": "overlay"}),
    );
    m.insert(
        "RootFS".into(),
        json!({"Type": "layers", "Layers": cfg.rootfs.diff_ids}),
    );
    m.insert(
        "Metadata".into(),
        json!({"LastTagTime": last_tag_time(img.row.added_at)}),
    );
    Ok(Value::Object(m))
}

fn last_tag_time(added_at: i64) -> String {
    chrono::DateTime::from_timestamp(added_at, 0)
        .map(strata_oci::config::format_rfc3339_nanos)
        .unwrap_or_default()
}
