//! A build's timeline, as [`crate::progress::Progress`] recorded it, and
//! its Chrome trace-event form (`build --trace FILE.json`, opened by
//! Perfetto or `chrome://tracing`).
//!
//! ```text
//! track 0 "build"        [internal] load build definition, load metadata (pull),
//!                        load build context, cache lookup (phase), exporting to image
//! track 1 "stage build"  [build 1/4] FROM …  [build 2/4] WORKDIR …  [build 3/4] RUN …
//!                                                                    └ layer write (phase)
//! track 2 "stage 1"      … (stages that run in parallel overlap in time, never on a track)
//! ```
//! Each vertex is one slice (`ph: "X"`, category `step` for a stage's
//! FROM and steps, `internal` for the build's own work); slices of one
//! track never overlap, because a track's vertices run one after another.
//! Phases (`category: phase`) nest inside the slice they belong to. A
//! cached step is a slice of zero length at the moment it was answered.
//! Times are whole microseconds from the start of the build, rounded down
//! at both ends so the order of the original instants is kept.

use std::time::Duration;

use serde_json::{Value, json};

/// What a slice stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// A stage's FROM or a Dockerfile step.
    Step,
    /// The build's own work (context, pulls, export).
    Internal,
    /// A part of a step or of the build shown only in the timeline.
    Phase,
}

impl SpanKind {
    /// The trace-event category.
    pub fn category(self) -> &'static str {
        match self {
            SpanKind::Step => "step",
            SpanKind::Internal => "internal",
            SpanKind::Phase => "phase",
        }
    }
}

/// One slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The vertex or phase name (`[build 3/4] RUN make`).
    pub name: String,
    /// Its track.
    pub track: usize,
    /// What it is.
    pub kind: SpanKind,
    /// Start, from the start of the build.
    pub start: Duration,
    /// End, from the start of the build.
    pub end: Duration,
    /// `done`, `cached`, `error`, `canceled` (`running` if unfinished).
    pub status: &'static str,
}

/// A track (a row of the picture, a `tid` of the trace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    /// 0 for the build, `stage index + 1` for a stage.
    pub id: usize,
    /// `build`, `stage build`, `stage 1`.
    pub name: String,
}

/// Everything `--trace` writes and the tty summary says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// Tracks in order.
    pub tracks: Vec<Track>,
    /// Slices, by track then start.
    pub spans: Vec<Span>,
    /// How long the build took.
    pub total: Duration,
    /// Steps that ran.
    pub steps_run: usize,
    /// Steps the cache answered.
    pub steps_cached: usize,
    /// Layer bytes written.
    pub written: u64,
    /// Whether the build succeeded (`None`: not finished).
    pub ok: Option<bool>,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Timeline {
    /// The Chrome trace-event JSON object (`{"traceEvents": […]}`): one
    /// process, one thread per track named by `thread_name` metadata, one
    /// complete event (`ph: "X"`) per slice.
    pub fn to_chrome_trace(&self) -> Value {
        let mut events = vec![json!({
            "name": "process_name", "ph": "M", "pid": 1, "tid": 0,
            "args": {"name": "strata build"},
        })];
        for t in &self.tracks {
            events.push(json!({
                "name": "thread_name", "ph": "M", "pid": 1, "tid": t.id,
                "args": {"name": t.name},
            }));
            events.push(json!({
                "name": "thread_sort_index", "ph": "M", "pid": 1, "tid": t.id,
                "args": {"sort_index": t.id},
            }));
        }
        for s in &self.spans {
            let (ts, end) = (micros(s.start), micros(s.end));
            events.push(json!({
                "name": s.name,
                "cat": s.kind.category(),
                "ph": "X",
                "ts": ts,
                "dur": end.saturating_sub(ts),
                "pid": 1,
                "tid": s.track,
                "args": {"status": s.status},
            }));
        }
        json!({
            "traceEvents": events,
            "displayTimeUnit": "ms",
            "otherData": {
                "tool": "strata",
                "steps_run": self.steps_run,
                "steps_cached": self.steps_cached,
                "layer_bytes_written": self.written,
                "total_us": micros(self.total),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chrome_trace_has_named_threads_and_complete_events() {
        let ms = Duration::from_millis;
        let t = Timeline {
            tracks: vec![
                Track {
                    id: 0,
                    name: "build".into(),
                },
                Track {
                    id: 1,
                    name: "stage build".into(),
                },
            ],
            spans: vec![Span {
                name: "[build 2/2] RUN make".into(),
                track: 1,
                kind: SpanKind::Step,
                start: ms(5),
                end: ms(7),
                status: "done",
            }],
            total: ms(9),
            steps_run: 1,
            steps_cached: 0,
            written: 3,
            ok: Some(true),
        };
        let v = t.to_chrome_trace();
        let ev = v["traceEvents"].as_array().unwrap();
        let x = ev.iter().find(|e| e["ph"] == "X").unwrap();
        assert_eq!(
            (x["ts"].as_u64(), x["dur"].as_u64()),
            (Some(5000), Some(2000))
        );
        assert_eq!(x["tid"], 1);
        assert!(
            ev.iter()
                .any(|e| e["name"] == "thread_name" && e["args"]["name"] == "stage build")
        );
    }
}
