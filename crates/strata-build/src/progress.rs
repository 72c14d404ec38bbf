//! Build progress, shown the way BuildKit shows it.
//!
//! Every unit of work is a *vertex* numbered `#N` in the order it was
//! registered: `[internal] load build definition from Dockerfile`, each
//! step (`[stage 2/3] COPY app.js .`), `exporting to image`. A vertex is
//! pending, then running, then CACHED, DONE (with seconds), ERROR or
//! CANCELED. Steps of stages the target does not need are never shown (in
//! JSON they are reported as `skipped`) — in particular never as CACHED.
//!
//! Modes (`--progress`):
//!
//! * `plain`: a block per vertex, output lines prefixed with `#N <secs>`,
//!   the whole output of every RUN, cache explanations as `#N` notes:
//!   ```text
//!   #5 [2/3] WORKDIR /web-ping
//!   #5 CACHED
//!
//!   #6 [3/3] RUN npm ci
//!   #6 0.412 added 12 packages
//!   #6 DONE 1.2s
//!   ```
//! * `tty`: a live view redrawn in place: one line per vertex with its
//!   time, and the last lines of output under each running step.
//! * `json`: one JSON object per line per event (`{"id":6,"name":…,
//!   "status":"running"}`, `{"id":6,"stream":"stdout","data":"…"}`, …).
//! * `quiet` (`-q`): nothing, but output is kept so a failing step can
//!   still be shown.
//! * classic (the Engine API's `POST /build`, never `--progress`):
//!   docker's classic builder JSON messages (`Step 2/5 : RUN make`), see
//!   [`classic`].
//!
//! `auto` is `tty` when stderr is a terminal, else `plain`.
//!
//! The same events make the build's timeline ([`Progress::timeline`],
//! written by `build --trace`, see [`crate::timeline`]): each vertex's
//! start and end, the track it ran on (0 for the build's own work, one per
//! stage), and trace-only [`Progress::phase`]s inside steps (cache lookup,
//! layer write) — no second set of timers.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::timeline::{Span, SpanKind, Timeline, Track};

mod classic;
pub use classic::{Instruction, StepKind, StepRef, short_id};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// Live view redrawn in place.
    Tty,
    /// Plain text blocks.
    Plain,
    /// One JSON event per line.
    Json,
    /// Nothing (output kept for errors).
    Quiet,
    /// docker's classic builder JSON messages (see [`classic`]).
    Classic,
}

impl ProgressMode {
    /// Parses `--progress` (`auto`, `tty`, `plain`, `json`; `rawjson` is
    /// accepted as `json`). `auto` looks at whether stderr is a terminal.
    pub fn parse(s: &str) -> Option<ProgressMode> {
        Some(match s {
            "auto" => {
                if std::io::stderr().is_terminal() {
                    ProgressMode::Tty
                } else {
                    ProgressMode::Plain
                }
            }
            "tty" => ProgressMode::Tty,
            "plain" => ProgressMode::Plain,
            "json" | "rawjson" => ProgressMode::Json,
            "quiet" => ProgressMode::Quiet,
            _ => return None,
        })
    }
}

/// A vertex handle.
pub type VertexId = usize;

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    /// The process's stdout.
    Stdout,
    /// The process's stderr.
    Stderr,
}

/// What a vertex stands for (the timeline and the summary count steps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VertexKind {
    /// The build's own work (`[internal] …`, exporting).
    Internal,
    /// A stage's FROM.
    From,
    /// A Dockerfile step.
    Step,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Running,
    Cached,
    Done,
    Error,
    Canceled,
}

#[derive(Debug)]
struct Vertex {
    name: String,
    kind: VertexKind,
    /// Timeline track: 0 for the build, `stage index + 1` for a stage.
    track: usize,
    status: Status,
    started: Option<Instant>,
    duration: Option<Duration>,
    /// Start and end, from the start of the build (the timeline).
    span: Option<(Duration, Option<Duration>)>,
    /// Complete output lines (kept for errors and the tty tail).
    lines: Vec<String>,
    /// An unterminated last line.
    partial: String,
    /// Whether the plain header has been printed.
    announced: bool,
}

struct State {
    out: Box<dyn Write + Send>,
    vertices: Vec<Vertex>,
    drawn_lines: usize,
    last_draw: Option<Instant>,
    finished: Option<bool>,
    /// Track names (0 is the build itself).
    tracks: BTreeMap<usize, String>,
    /// Trace-only phases: (track, name, start, end).
    phases: Vec<(usize, String, Duration, Duration)>,
    /// Layer bytes this build wrote.
    written: u64,
    /// When the build ended.
    ended: Option<Duration>,
    /// The classic renderer's state.
    classic: Option<classic::Classic>,
}

/// The progress sink of one build; shared by every stage thread.
pub struct Progress {
    mode: ProgressMode,
    start: Instant,
    state: Mutex<State>,
}

/// Lines of output kept per vertex (older ones are dropped).
const KEEP_LINES: usize = 2000;
/// Output lines shown under a running step in the tty view.
const TTY_TAIL: usize = 6;
/// Lines shown in the error block of a failed step.
pub const ERROR_TAIL: usize = 20;

impl Progress {
    /// A sink writing to `out` (stderr in the CLI).
    pub fn new(mode: ProgressMode, out: Box<dyn Write + Send>) -> Progress {
        Progress {
            mode,
            start: Instant::now(),
            state: Mutex::new(State {
                out,
                vertices: Vec::new(),
                drawn_lines: 0,
                last_draw: None,
                finished: None,
                tracks: BTreeMap::from([(0, "build".to_string())]),
                phases: Vec::new(),
                written: 0,
                ended: None,
                classic: None,
            }),
        }
    }

    /// A sink that shows nothing.
    pub fn quiet() -> Progress {
        Progress::new(ProgressMode::Quiet, Box::new(std::io::sink()))
    }

    /// The mode.
    pub fn mode(&self) -> ProgressMode {
        self.mode
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a vertex of the build's own work (shown once it starts or
    /// is cached).
    pub fn vertex(&self, name: &str) -> VertexId {
        self.vertex_on(name, 0, VertexKind::Internal)
    }

    /// Registers a vertex on timeline track `track` (a stage's: see
    /// [`Progress::name_track`]).
    pub fn vertex_on(&self, name: &str, track: usize, kind: VertexKind) -> VertexId {
        let mut st = self.lock();
        st.vertices.push(Vertex {
            name: name.to_string(),
            kind,
            track,
            status: Status::Pending,
            started: None,
            duration: None,
            span: None,
            lines: Vec::new(),
            partial: String::new(),
            announced: false,
        });
        st.vertices.len() - 1
    }

    /// Names timeline track `track` (`stage build`).
    pub fn name_track(&self, track: usize, name: &str) {
        self.lock().tracks.insert(track, name.to_string());
    }

    /// A trace-only phase on `track` (cache lookup): timed from now until
    /// the guard is dropped. Shown in the timeline, never in progress.
    pub fn phase(&self, track: usize, name: &str) -> Phase<'_> {
        Phase {
            progress: self,
            track,
            name: name.to_string(),
            start: self.start.elapsed(),
        }
    }

    /// A trace-only phase inside vertex `id` (a step's layer write), on
    /// the vertex's track.
    pub fn phase_in(&self, id: VertexId, name: &str) -> Phase<'_> {
        let track = self.lock().vertices.get(id).map_or(0, |v| v.track);
        self.phase(track, name)
    }

    /// Counts `bytes` of layer data written by this build (the summary).
    pub fn wrote(&self, bytes: u64) {
        self.lock().written += bytes;
    }

    /// The build's timeline so far: every vertex that started or finished
    /// and every phase, with the track names (see [`crate::timeline`]).
    pub fn timeline(&self) -> Timeline {
        let st = self.lock();
        let now = self.start.elapsed();
        let mut spans: Vec<Span> = st
            .vertices
            .iter()
            .filter_map(|v| {
                let (start, end) = v.span?;
                Some(Span {
                    name: v.name.clone(),
                    track: v.track,
                    kind: match v.kind {
                        VertexKind::Step | VertexKind::From => SpanKind::Step,
                        VertexKind::Internal => SpanKind::Internal,
                    },
                    start,
                    end: end.unwrap_or(now).max(start),
                    status: status_word(v.status),
                })
            })
            .collect();
        spans.extend(st.phases.iter().map(|(track, name, start, end)| Span {
            name: name.clone(),
            track: *track,
            kind: SpanKind::Phase,
            start: *start,
            end: *end,
            status: "done",
        }));
        spans.sort_by_key(|s| (s.track, s.start, std::cmp::Reverse(s.end)));
        let mut tracks: BTreeMap<usize, String> = st.tracks.clone();
        for s in &spans {
            tracks
                .entry(s.track)
                .or_insert_with(|| format!("stage {}", s.track.saturating_sub(1)));
        }
        let count = |status: Status| {
            st.vertices
                .iter()
                .filter(|v| v.kind == VertexKind::Step && v.status == status)
                .count()
        };
        Timeline {
            tracks: tracks
                .into_iter()
                .map(|(id, name)| Track { id, name })
                .collect(),
            spans,
            total: st.ended.unwrap_or(now),
            steps_run: count(Status::Done),
            steps_cached: count(Status::Cached),
            written: st.written,
            ok: st.finished,
        }
    }

    /// The vertex is running.
    pub fn start(&self, id: VertexId) {
        let mut st = self.lock();
        let at = self.start.elapsed();
        if let Some(v) = st.vertices.get_mut(id) {
            v.status = Status::Running;
            v.started = Some(Instant::now());
            v.span = Some((at, None));
        }
        self.emit(&mut st, id, Event::Started);
    }

    /// The vertex was satisfied from the cache.
    pub fn cached(&self, id: VertexId) {
        self.finish_vertex(id, Status::Cached, None);
    }

    /// The vertex completed.
    pub fn done(&self, id: VertexId) {
        self.finish_vertex(id, Status::Done, None);
    }

    /// The vertex failed with `message`.
    pub fn error(&self, id: VertexId, message: &str) {
        self.finish_vertex(id, Status::Error, Some(message));
    }

    /// The vertex was stopped because another one failed.
    pub fn canceled(&self, id: VertexId) {
        self.finish_vertex(id, Status::Canceled, None);
    }

    /// A vertex that will not run because the target does not need its
    /// stage (reported in JSON only; never shown as CACHED).
    pub fn skipped(&self, name: &str) {
        if self.mode == ProgressMode::Json {
            let mut st = self.lock();
            let line = serde_json::json!({ "name": name, "status": "skipped" });
            let _ = writeln!(st.out, "{line}");
        }
    }

    /// A one-line note about a vertex (transfer sizes, cache explanations).
    pub fn note(&self, id: VertexId, text: &str) {
        let mut st = self.lock();
        self.emit(&mut st, id, Event::Note(text));
    }

    /// Output of a running vertex.
    pub fn log(&self, id: VertexId, stream: LogStream, data: &[u8]) {
        let mut st = self.lock();
        let Some(v) = st.vertices.get_mut(id) else {
            return;
        };
        let text = String::from_utf8_lossy(data);
        let mut complete = Vec::new();
        for piece in text.split_inclusive('\n') {
            if let Some(line) = piece.strip_suffix('\n') {
                let mut l = std::mem::take(&mut v.partial);
                l.push_str(line.strip_suffix('\r').unwrap_or(line));
                complete.push(l);
            } else {
                v.partial.push_str(piece);
            }
        }
        let elapsed = v.started.map(|s| s.elapsed()).unwrap_or_default();
        v.lines.extend(complete.iter().cloned());
        if v.lines.len() > KEEP_LINES {
            let drop = v.lines.len() - KEEP_LINES;
            v.lines.drain(..drop);
        }
        match self.mode {
            ProgressMode::Json => {
                let line = serde_json::json!({
                    "id": id + 1,
                    "stream": match stream { LogStream::Stdout => "stdout", LogStream::Stderr => "stderr" },
                    "data": text,
                    "elapsed": elapsed.as_secs_f64(),
                });
                let _ = writeln!(st.out, "{line}");
            }
            ProgressMode::Plain => {
                self.announce(&mut st, id);
                for l in complete {
                    let _ = writeln!(st.out, "#{} {:.3} {l}", id + 1, elapsed.as_secs_f64());
                }
            }
            ProgressMode::Tty => self.redraw(&mut st, false),
            ProgressMode::Classic => {
                let st = &mut *st;
                if let Some(c) = st.classic.as_mut() {
                    classic::log(c, &mut *st.out, id, stream, data);
                }
            }
            ProgressMode::Quiet => {}
        }
    }

    /// The last `n` output lines of a vertex (for error reports).
    pub fn tail(&self, id: VertexId, n: usize) -> Vec<String> {
        let st = self.lock();
        let Some(v) = st.vertices.get(id) else {
            return Vec::new();
        };
        let mut lines: Vec<String> = v.lines.iter().rev().take(n).rev().cloned().collect();
        if !v.partial.is_empty() {
            lines.push(v.partial.clone());
        }
        lines
    }

    /// Redraws the live view if due (tty mode; a no-op otherwise).
    pub fn tick(&self) {
        if self.mode == ProgressMode::Tty {
            let mut st = self.lock();
            self.redraw(&mut st, false);
        }
    }

    /// The build ended (`ok` false: with an error). Draws the final view.
    pub fn finish(&self, ok: bool) {
        let mut st = self.lock();
        st.finished = Some(ok);
        st.ended = Some(self.start.elapsed());
        if self.mode == ProgressMode::Tty {
            self.redraw(&mut st, true);
        }
        let st = &mut *st;
        if let Some(c) = st.classic.as_mut() {
            c.end(&mut *st.out);
        }
        let _ = st.out.flush();
    }

    fn finish_vertex(&self, id: VertexId, status: Status, message: Option<&str>) {
        let mut st = self.lock();
        let at = self.start.elapsed();
        if let Some(v) = st.vertices.get_mut(id) {
            let begin = v.span.map_or(at, |(b, _)| b);
            v.span = Some((begin, Some(at)));
            if !v.partial.is_empty() {
                let p = std::mem::take(&mut v.partial);
                v.lines.push(p);
            }
            v.status = status;
            v.duration = Some(v.started.map(|s| s.elapsed()).unwrap_or_default());
        }
        self.emit(&mut st, id, Event::Finished(status, message));
    }

    fn announce(&self, st: &mut State, id: VertexId) {
        let Some(v) = st.vertices.get_mut(id) else {
            return;
        };
        if !v.announced {
            v.announced = true;
            let name = v.name.clone();
            let _ = writeln!(st.out, "#{} {name}", id + 1);
        }
    }

    fn emit(&self, st: &mut State, id: VertexId, ev: Event<'_>) {
        match self.mode {
            ProgressMode::Quiet | ProgressMode::Classic => {}
            ProgressMode::Tty => {
                let force = !matches!(ev, Event::Note(_));
                self.redraw(st, force);
            }
            ProgressMode::Plain => {
                self.announce(st, id);
                let n = id + 1;
                let dur = st
                    .vertices
                    .get(id)
                    .and_then(|v| v.duration)
                    .unwrap_or_default()
                    .as_secs_f64();
                let _ = match ev {
                    Event::Started => Ok(()),
                    Event::Note(t) => writeln!(st.out, "#{n} {t}"),
                    Event::Finished(Status::Cached, _) => writeln!(st.out, "#{n} CACHED\n"),
                    Event::Finished(Status::Done, _) => writeln!(st.out, "#{n} DONE {dur:.1}s\n"),
                    Event::Finished(Status::Error, m) => {
                        writeln!(st.out, "#{n} ERROR: {}\n", m.unwrap_or_default())
                    }
                    Event::Finished(Status::Canceled, _) => writeln!(st.out, "#{n} CANCELED\n"),
                    Event::Finished(_, _) => Ok(()),
                };
            }
            ProgressMode::Json => {
                let name = st
                    .vertices
                    .get(id)
                    .map(|v| v.name.clone())
                    .unwrap_or_default();
                let dur = st.vertices.get(id).and_then(|v| v.duration);
                let line = match ev {
                    Event::Started => {
                        serde_json::json!({"id": id + 1, "name": name, "status": "running"})
                    }
                    Event::Note(t) => serde_json::json!({"id": id + 1, "note": t}),
                    Event::Finished(s, m) => {
                        let mut o = serde_json::json!({
                            "id": id + 1,
                            "name": name,
                            "status": status_word(s),
                            "duration": dur.unwrap_or_default().as_secs_f64(),
                        });
                        if let Some(m) = m {
                            o["error"] = m.into();
                        }
                        o
                    }
                };
                let _ = writeln!(st.out, "{line}");
            }
        }
    }

    /// Redraws the tty view (throttled unless `force`).
    fn redraw(&self, st: &mut State, force: bool) {
        let now = Instant::now();
        if !force
            && st
                .last_draw
                .is_some_and(|t| now.duration_since(t) < Duration::from_millis(100))
        {
            return;
        }
        st.last_draw = Some(now);
        let width = terminal_width().max(40);
        let total = st
            .vertices
            .iter()
            .filter(|v| v.status != Status::Pending)
            .count();
        let done = st
            .vertices
            .iter()
            .filter(|v| matches!(v.status, Status::Done | Status::Cached))
            .count();
        let header = match st.finished {
            Some(true) => "FINISHED",
            Some(false) => "ERROR",
            None => "",
        };
        let mut lines = vec![format!(
            "[+] Building {:.1}s ({done}/{total}) {header}",
            self.start.elapsed().as_secs_f64()
        )];
        for v in &st.vertices {
            if v.status == Status::Pending {
                continue;
            }
            let secs = match (v.duration, v.started) {
                (Some(d), _) => d.as_secs_f64(),
                (None, Some(s)) => s.elapsed().as_secs_f64(),
                _ => 0.0,
            };
            let prefix = match v.status {
                Status::Cached => " => CACHED ",
                Status::Error => " => ERROR ",
                Status::Canceled => " => CANCELED ",
                _ => " => ",
            };
            let time = format!("{secs:.1}s");
            let room = width.saturating_sub(prefix.len() + time.len() + 1);
            let name = truncate(&v.name, room);
            let pad = room.saturating_sub(name.chars().count());
            lines.push(format!("{prefix}{name}{} {time}", " ".repeat(pad)));
            if v.status == Status::Running {
                let mut tail: Vec<&String> = v.lines.iter().rev().take(TTY_TAIL).collect();
                tail.reverse();
                for l in tail {
                    lines.push(truncate(&format!(" => => # {l}"), width.saturating_sub(1)));
                }
            }
        }
        let mut buf = String::new();
        if st.drawn_lines > 0 {
            buf.push_str(&format!("\x1b[{}A\r\x1b[J", st.drawn_lines));
        }
        for l in &lines {
            buf.push_str(l);
            buf.push('\n');
        }
        st.drawn_lines = lines.len();
        let _ = st.out.write_all(buf.as_bytes());
        let _ = st.out.flush();
    }
}

/// A running trace-only phase (see [`Progress::phase`]); it ends when
/// dropped.
pub struct Phase<'a> {
    progress: &'a Progress,
    track: usize,
    name: String,
    start: Duration,
}

impl Drop for Phase<'_> {
    fn drop(&mut self) {
        let end = self.progress.start.elapsed();
        let name = std::mem::take(&mut self.name);
        self.progress
            .lock()
            .phases
            .push((self.track, name, self.start, end));
    }
}

enum Event<'a> {
    Started,
    Note(&'a str),
    Finished(Status, Option<&'a str>),
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Pending => "pending",
        Status::Running => "running",
        Status::Cached => "cached",
        Status::Done => "done",
        Status::Error => "error",
        Status::Canceled => "canceled",
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(3)).collect();
    out.push_str("...");
    out
}

fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ fills a winsize struct we own.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_col > 0 {
            return ws.ws_col as usize;
        }
    }
    80
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A writer the test reads back (the classic renderer's tests too).
    #[derive(Clone, Default)]
    pub(super) struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Buf {
        pub(super) fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn plain_blocks() {
        let b = Buf::default();
        let p = Progress::new(ProgressMode::Plain, Box::new(b.clone()));
        let a = p.vertex("[1/2] WORKDIR /app");
        let r = p.vertex("[2/2] RUN echo hi");
        p.cached(a);
        p.start(r);
        p.log(r, LogStream::Stdout, b"hi\npart");
        p.log(r, LogStream::Stdout, b"ial\n");
        p.done(r);
        let t = b.text();
        assert!(
            t.starts_with("#1 [1/2] WORKDIR /app\n#1 CACHED\n\n#2 [2/2] RUN echo hi\n"),
            "{t}"
        );
        assert!(t.contains(" hi\n") && t.contains(" partial\n"), "{t}");
        assert!(t.contains("#2 DONE "), "{t}");
        assert_eq!(p.tail(r, 1), vec!["partial".to_string()]);
    }

    #[test]
    fn json_events_one_per_line() {
        let b = Buf::default();
        let p = Progress::new(ProgressMode::Json, Box::new(b.clone()));
        let v = p.vertex("[1/1] RUN x");
        p.start(v);
        p.log(v, LogStream::Stderr, b"oops\n");
        p.error(v, "boom");
        p.skipped("[other 1/1] RUN y");
        for line in b.text().lines() {
            let j: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(j.is_object());
        }
        assert!(b.text().contains("\"status\":\"error\""));
        assert!(b.text().contains("\"status\":\"skipped\""));
        assert!(!b.text().contains("cached"));
    }

    #[test]
    fn timeline_follows_the_events() {
        let p = Progress::quiet();
        p.name_track(1, "stage build");
        let i = p.vertex("[internal] load build context");
        p.start(i);
        p.done(i);
        let a = p.vertex_on("[build 1/2] FROM x", 1, VertexKind::From);
        let b = p.vertex_on("[build 2/2] RUN y", 1, VertexKind::Step);
        let c = p.vertex_on("[build 3/3] RUN z", 1, VertexKind::Step);
        p.cached(a);
        p.start(b);
        {
            let _w = p.phase_in(b, "layer write");
        }
        p.wrote(10);
        p.done(b);
        p.cached(c);
        let _ = p.vertex("never started");
        p.finish(true);
        let t = p.timeline();
        assert_eq!(t.spans.len(), 5, "{t:?}");
        assert_eq!((t.steps_run, t.steps_cached, t.written), (1, 1, 10));
        assert_eq!(t.tracks[1].name, "stage build");
        let run = t.spans.iter().find(|s| s.name.ends_with("RUN y")).unwrap();
        let w = t.spans.iter().find(|s| s.name == "layer write").unwrap();
        assert!(run.start <= w.start && w.end <= run.end && w.track == 1);
        assert!(t.spans.iter().all(|s| s.start <= s.end));
    }

    #[test]
    fn tty_redraws_in_place() {
        let b = Buf::default();
        let p = Progress::new(ProgressMode::Tty, Box::new(b.clone()));
        let v = p.vertex("[1/1] RUN long");
        p.start(v);
        p.log(v, LogStream::Stdout, b"line\n");
        p.done(v);
        p.finish(true);
        let t = b.text();
        assert!(t.contains("\x1b["), "cursor movement: {t:?}");
        assert!(t.contains("FINISHED"));
    }
}
