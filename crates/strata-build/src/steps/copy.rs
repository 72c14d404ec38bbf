//! COPY and ADD: the selection (made at plan time for the context, here
//! for `--from` a stage or image, whose rootfs is mounted) is written by
//! fileops straight into a new layer directory, which becomes the layer's
//! snapshot. The parent image is mounted read-only beside it so fileops
//! sees what already exists at the destination and can resolve `--chown`
//! names (not for `--link`, which copies onto nothing, as BuildKit).

use strata_dockerfile::instructions::Command;
use strata_oci::ImageConfig;
use strata_store::ingest::{DirLayerOptions, IngestedLayer, Resume};
use strata_store::layer::{Compression, WhiteoutFormat};

use super::{Exec, push_layer_history};
use crate::context::StatIndex;
use crate::error::{BuildError, Result};
use crate::fileops::{self, CopyOptions, FileMap, Reuse, SelectOptions, Selection, SourceTree};
use crate::plan::{CopyAction, Source, Step};
use crate::progress::VertexId;
use crate::view::View;

/// The history text BuildKit writes for COPY/ADD: flags `--parents`,
/// `--chown`, `--chmod` (not `--from`, `--link`, `--exclude`), the sources
/// as written, heredoc names, the destination, then ` # buildkit`.
pub fn history_text(cmd: &Command) -> String {
    let (word, parents, chown, chmod, sources, inline, dest) = match cmd {
        Command::Copy(c) => (
            "COPY", c.parents, &c.chown, &c.chmod, &c.sources, &c.inline, &c.dest,
        ),
        Command::Add(a) => (
            "ADD", false, &a.chown, &a.chmod, &a.sources, &a.inline, &a.dest,
        ),
        _ => return String::new(),
    };
    let mut s = word.to_string();
    if parents {
        s.push_str(" --parents");
    }
    if let Some(c) = chown {
        s.push_str(&format!(" --chown={c}"));
    }
    if let Some(m) = chmod {
        s.push_str(&format!(" --chmod={m}"));
    }
    for src in sources {
        s.push(' ');
        s.push_str(src);
    }
    for i in inline {
        s.push_str(&format!(" <<{}", i.path));
    }
    s.push(' ');
    s.push_str(dest);
    s.push_str(" # buildkit");
    s
}

/// Runs a COPY/ADD step on top of `config`; returns the new config, the
/// layer and the selection (for the cache record's explain data).
/// `lineage` names the step across builds: the files of its previous run
/// that are unchanged are linked, not copied ([`Reuse`]).
pub fn copy(
    ex: &Exec<'_>,
    step: &Step,
    act: &CopyAction,
    mut config: ImageConfig,
    v: VertexId,
    lineage: &str,
) -> Result<(ImageConfig, IngestedLayer, Selection)> {
    let (sources, dest, chown, mode, link, opts) = match &step.command {
        Command::Copy(c) => (
            &c.sources,
            &c.dest,
            c.chown.clone(),
            c.mode().map_err(|e| BuildError::Invalid(e.to_string()))?,
            c.link,
            SelectOptions::copy(c),
        ),
        Command::Add(a) => (
            &a.sources,
            &a.dest,
            a.chown.clone(),
            a.mode().map_err(|e| BuildError::Invalid(e.to_string()))?,
            a.link,
            SelectOptions::default(),
        ),
        _ => return Err(BuildError::Invalid(format!("{}: not a COPY", step.name))),
    };
    let store = ex.store;
    let source_view = match &act.source {
        Source::Context => None,
        other => Some(ex.view_of(other)?),
    };
    let tree = match &source_view {
        Some(v) => SourceTree::rootfs(v.root()),
        None => SourceTree::context(ex.ctx),
    };
    let selection = match &act.selection {
        Some(s) => s.clone(),
        None => fileops::select(&tree, sources, &opts, &mut StatIndex::ephemeral())?,
    };
    let chain = config.chain_ids();
    let parent_view = if link || chain.is_empty() {
        None
    } else {
        Some(View::mount(store, &chain, ex.req.isolation)?)
    };
    let workdir = config
        .config
        .as_ref()
        .and_then(|c| c.working_dir.clone())
        .unwrap_or_default();
    let dest = fileops::resolve_dest(&workdir, dest);
    let work = store.scratch().new_dir("copy")?;
    let layer_dir = work.join("layer");
    let previous = if ex.req.no_cache {
        None
    } else {
        previous_run(ex, lineage)
    };
    let (previous_chain, reuse) = match previous {
        Some((c, r)) => (Some(c), Some(r)),
        None => (None, None),
    };
    let record = std::sync::Mutex::new(Vec::new());
    let result = (|| -> Result<IngestedLayer> {
        std::fs::create_dir(&layer_dir).map_err(BuildError::io("create directory", &layer_dir))?;
        let stats = fileops::copy_into(
            &tree,
            &selection,
            &layer_dir,
            &dest,
            &CopyOptions {
                chown,
                chmod: mode,
                parent: parent_view.as_ref().map(|v| v.root()),
                timestamp: None,
                reuse: reuse.as_ref(),
                record: Some(&record),
            },
        )?;
        tracing::debug!(
            "{}: {} files ({} linked from the previous run), {} bytes",
            step.name,
            stats.files,
            stats.reused,
            stats.bytes
        );
        drop(parent_view);
        let _phase = ex.progress.phase_in(v, "layer write");
        // Every file's content digest is known: the tar is checkpointed,
        // and resumed from the previous run's where the trees agree.
        let contents = record
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|f| (f.path.trim_start_matches('/').as_bytes().to_vec(), f.sha256))
            .collect();
        let layer = store.layer_from_dir_resuming(
            &layer_dir,
            chain.last(),
            &DirLayerOptions {
                whiteouts: WhiteoutFormat::Plain,
                compression: Compression::None,
                source_date_epoch: ex.req.source_date_epoch,
                adopt_dir: true,
            },
            Some(&Resume {
                contents: std::sync::Arc::new(contents),
                previous: previous_chain,
            }),
        )?;
        Ok(layer)
    })();
    let _ = strata_store::layout::remove_tree(&work);
    let layer = result?;
    // What this layer's files are, for the next run of the step.
    let map = store.snapshots().fs_path(layer.snapshot.id);
    if let Some(map) = map.parent().map(|d| d.join(fileops::MAP_NAME))
        && !map.exists()
        && let Err(e) = FileMap::new(record.into_inner().unwrap_or_default()).write(&map)
    {
        tracing::debug!("{}: {e}", map.display());
    }
    push_layer_history(
        &mut config,
        &layer,
        history_text(&step.command),
        &ex.req.history_time(),
    );
    Ok((config, layer, selection))
}

/// The newest snapshot of an earlier run of this step (by `lineage`) that
/// is unpacked and has its file map: its chain and its files.
fn previous_run(ex: &Exec<'_>, lineage: &str) -> Option<(strata_oci::Digest, Reuse)> {
    let snaps = ex.store.snapshots();
    for chain in crate::cache::recent_layers(ex.store, lineage, 3).ok()? {
        let Ok(Some(row)) = snaps.get(&chain) else {
            continue;
        };
        if !snaps.is_unpacked(&row) {
            continue;
        }
        if let Some(r) = Reuse::open(&snaps.fs_path(row.id)) {
            return Some((chain, r));
        }
    }
    None
}
