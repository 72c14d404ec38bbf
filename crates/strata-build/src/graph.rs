//! The build graph: stages as a DAG.
//!
//! ```text
//!   stage 0 "build"  FROM busybox           ◄─┐ base edge (FROM build)
//!   stage 1 "test"   FROM build  ─────────────┤
//!   stage 2          FROM busybox             │
//!                    COPY --from=build …  ────┘ source edge (COPY --from, RUN --mount from=)
//! ```
//! Edges always point to an earlier stage (BuildKit dispatches stages in
//! order and refuses `COPY --from` of a stage defined later). A name two
//! stages share means the later one, as in BuildKit's `dispatchStates`
//! (a name → stage map each FROM overwrites): `FROM name` picks the last
//! stage of that name defined before it, `--target` and `--from` the last
//! stage of that name in the whole file. The linter warns
//! (`DuplicateStageName`). The stages a
//! build needs are those reachable from the target; the others are
//! skipped. Two needed stages with no path between them are independent and
//! run in parallel; a `COPY --from` waits only for its source stage, not
//! for whatever else runs before it.
//!
//! Edges known here come from the Dockerfile text. A stage's plan can add
//! more (an ONBUILD trigger of its base image that copies from a stage, or
//! a `--mount` spec with variables); [`Graph::resolve_source`] resolves
//! those the same way.

use std::collections::BTreeSet;

use strata_dockerfile::args::GlobalArgs;
use strata_dockerfile::instructions::{Command, Mount};
use strata_dockerfile::{Dockerfile, LineRange, Platform};

/// What a stage builds on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseRef {
    /// `FROM scratch`.
    Scratch,
    /// An image reference, as written after ARG expansion.
    Image(String),
    /// An earlier stage.
    Stage(usize),
}

/// Where `COPY --from` or `RUN --mount from=` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceRef {
    /// A stage of this Dockerfile.
    Stage(usize),
    /// An image reference.
    Image(String),
}

/// A Dockerfile error found while building the graph: shown as
/// `Dockerfile:LINE: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Dockerfile:{}: {message}", .range.start)]
pub struct GraphError {
    /// Where.
    pub range: LineRange,
    /// What.
    pub message: String,
}

/// One stage and its edges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageNode {
    /// Index in the Dockerfile.
    pub index: usize,
    /// `AS name`.
    pub name: Option<String>,
    /// The base.
    pub base: BaseRef,
    /// `FROM --platform`, resolved.
    pub platform: Option<Platform>,
    /// Earlier stages this one reads with `COPY --from` or `--mount from=`.
    pub sources: BTreeSet<usize>,
}

impl StageNode {
    /// Every stage this one depends on (base and sources).
    pub fn deps(&self) -> BTreeSet<usize> {
        let mut d = self.sources.clone();
        if let BaseRef::Stage(i) = self.base {
            d.insert(i);
        }
        d
    }
}

/// The stages of a Dockerfile with their edges, and the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    /// All stages, in Dockerfile order.
    pub stages: Vec<StageNode>,
    /// The stage to build.
    pub target: usize,
}

impl Graph {
    /// Builds the graph; `target` is `--target` (the last stage if `None`).
    pub fn new(
        df: &Dockerfile,
        global: &GlobalArgs,
        target: Option<&str>,
    ) -> Result<Graph, GraphError> {
        let Some(last) = df.stages.last() else {
            return Err(GraphError {
                range: LineRange::line(1),
                message: "the Dockerfile has no stages to build (no FROM)".into(),
            });
        };
        let target = match target {
            None => last.index,
            Some(t) => df
                .stages
                .iter()
                .rfind(|s| s.name.as_deref() == Some(t.to_lowercase().as_str()))
                .map(|s| s.index)
                .ok_or_else(|| GraphError {
                    range: LineRange::line(1),
                    message: format!("target stage \"{t}\" could not be found"),
                })?,
        };
        let mut stages: Vec<StageNode> = Vec::with_capacity(df.stages.len());
        for stage in &df.stages {
            let resolved = global.resolve_from(stage).map_err(|e| GraphError {
                range: e.range(),
                message: e.message(),
            })?;
            let base = if resolved.base.eq_ignore_ascii_case("scratch") {
                BaseRef::Scratch
            } else if let Some(prev) = stages
                .iter()
                .rfind(|s| s.name.as_deref() == Some(resolved.base.as_str()))
            {
                BaseRef::Stage(prev.index)
            } else {
                BaseRef::Image(resolved.base.clone())
            };
            let mut node = StageNode {
                index: stage.index,
                name: stage.name.clone(),
                base,
                platform: resolved.platform,
                sources: BTreeSet::new(),
            };
            for cmd in &stage.commands {
                for from in static_sources(cmd) {
                    if let SourceRef::Stage(i) =
                        Graph::resolve_source(df, stage.index, &from, cmd.range())?
                    {
                        node.sources.insert(i);
                    }
                }
            }
            stages.push(node);
        }
        Ok(Graph { stages, target })
    }

    /// Resolves a `--from` value seen in stage `current`: a stage name or
    /// index (which must come before `current`), else an image reference.
    pub fn resolve_source(
        df: &Dockerfile,
        current: usize,
        from: &str,
        range: LineRange,
    ) -> Result<SourceRef, GraphError> {
        let err = |message: String| GraphError { range, message };
        if from.contains('$') {
            return Err(err("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround".into()));
        }
        let current_name = df.stages[current].display_name();
        let stage = match from.parse::<usize>() {
            Ok(i) => Some(
                df.stages
                    .get(i)
                    .ok_or_else(|| err(format!("invalid stage index {i}")))?,
            ),
            Err(_) => df
                .stages
                .iter()
                .rfind(|s| s.name.as_deref() == Some(from.to_lowercase().as_str())),
        };
        match stage {
            Some(s) if s.index < current => Ok(SourceRef::Stage(s.index)),
            Some(_) => Err(err(format!(
                "cannot copy from stage \"{from}\", it needs to be defined before current stage \"{current_name}\""
            ))),
            None => Ok(SourceRef::Image(from.to_string())),
        }
    }

    /// Which stages the target needs (itself included), by index.
    pub fn needed(&self) -> Vec<bool> {
        let mut seen = vec![false; self.stages.len()];
        let mut todo = vec![self.target];
        while let Some(i) = todo.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            todo.extend(self.stages[i].deps());
        }
        seen
    }
}

/// The `--from` values a command names in its text (COPY --from and
/// literal `RUN --mount from=`).
pub fn static_sources(cmd: &Command) -> Vec<String> {
    match cmd {
        Command::Copy(c) => c.from.iter().cloned().collect(),
        Command::Run(r) => r
            .mounts
            .iter()
            .filter_map(|m| match m {
                Mount::Bind(b) => b.from.clone(),
                Mount::Cache(c) => c.from.clone(),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_dockerfile::args::BuildOptions;

    fn graph(src: &str, target: Option<&str>) -> Result<Graph, GraphError> {
        let df = Dockerfile::parse(src.as_bytes()).unwrap();
        let g = GlobalArgs::new(&df, &BuildOptions::default()).unwrap();
        Graph::new(&df, &g, target)
    }

    const MULTI: &str = "ARG BASE=busybox\nFROM $BASE AS build\nRUN make\nFROM build AS test\nRUN test\nFROM scratch AS other\nFROM busybox\nCOPY --from=build /out /srv\nRUN --mount=type=bind,from=other,target=/x true\n";

    #[test]
    fn edges_and_needed_stages() {
        let g = graph(MULTI, None).unwrap();
        assert_eq!(g.stages[0].base, BaseRef::Image("busybox".into()));
        assert_eq!(g.stages[1].base, BaseRef::Stage(0));
        assert_eq!(g.stages[2].base, BaseRef::Scratch);
        assert_eq!(g.stages[3].sources, BTreeSet::from([0, 2]));
        assert_eq!(g.target, 3);
        assert_eq!(g.needed(), vec![true, false, true, true]);
        let g = graph(MULTI, Some("TEST")).unwrap();
        assert_eq!(g.needed(), vec![true, true, false, false]);
    }

    #[test]
    fn bad_references() {
        let e = graph(MULTI, Some("nope")).unwrap_err();
        assert_eq!(e.message, "target stage \"nope\" could not be found");
        let e = graph(
            "FROM busybox AS a\nCOPY --from=b /x /y\nFROM busybox AS b\n",
            None,
        )
        .unwrap_err();
        assert_eq!(e.range.start, 2);
        assert!(e.message.contains("needs to be defined before"), "{e}");
        let e = graph("FROM busybox\nCOPY --from=7 /x /y\n", None).unwrap_err();
        assert_eq!(e.to_string(), "Dockerfile:2: invalid stage index 7");
        let g = graph("FROM busybox\nCOPY --from=alpine:3 /x /y\n", None).unwrap();
        assert!(g.stages[0].sources.is_empty());
        let e = graph("FROM busybox\nCOPY --from=$X /x /y\n", None).unwrap_err();
        assert!(e.message.contains("variable expansion"));
    }

    /// Two stages named alike: the later one wins, as in BuildKit (whose
    /// name map each FROM overwrites). See: issue 14.
    #[test]
    fn duplicate_stage_names_mean_the_later_stage() {
        let src = "FROM busybox AS a\nFROM scratch AS a\nFROM a AS b\nFROM busybox\nCOPY --from=a /x /y\n";
        let g = graph(src, None).unwrap();
        assert_eq!(g.stages[2].base, BaseRef::Stage(1));
        assert_eq!(g.stages[3].sources, BTreeSet::from([1]));
        assert_eq!(graph(src, Some("a")).unwrap().target, 1);
        // FROM sees only the stages before it; --from sees the last of all,
        // which must still come before the current stage.
        let g = graph("FROM busybox AS a\nFROM a AS b\nFROM scratch AS a\n", None).unwrap();
        assert_eq!(g.stages[1].base, BaseRef::Stage(0));
        let e = graph(
            "FROM busybox AS a\nFROM busybox AS b\nCOPY --from=a /x /y\nFROM scratch AS a\n",
            None,
        )
        .unwrap_err();
        assert!(e.message.contains("needs to be defined before"), "{e}");
    }
}
