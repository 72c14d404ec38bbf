//! docker's classic builder output (what `POST /build` streams to
//! `DOCKER_BUILDKIT=0 docker build`, docker-compose 1.29 and the SDKs), as
//! JSON messages, one per line:
//!
//! ```text
//! {"stream":"Step 2/5 : RUN make"}
//! {"stream":"\n"}
//! {"stream":" ---> Running in 1a2b3c4d5e6f\n"}      RUN and metadata steps that ran
//! {"stream":"…output…"}                              stderr in \e[91m … \e[0m
//! {"stream":"Removing intermediate container 1a2b3c4d5e6f\n"}
//! {"stream":" ---> 3f57d9401f8d\n"}                  the step's ID (see below)
//! ```
//! A step the cache answered says ` ---> Using cache` before its ID; COPY,
//! ADD and FROM run no container. The caller adds `aux`, `Successfully
//! built/tagged` and the error message.
//!
//! Stages run in parallel, but docker's output is one sequence in
//! Dockerfile order: messages of a later instruction are held until every
//! earlier one is finished; a failed instruction ends the output. Steps
//! are numbered as docker numbers them (the ARGs before the first FROM,
//! then every instruction of every stage up to the target); a stage the
//! target does not need is not built, so its numbers are skipped.
//!
//! The planner registers each instruction as it reaches it
//! ([`Progress::instruction_planned`]), so what happens while it plans —
//! the pull of a base image, as docker's pull messages
//! ([`Progress::instruction_message`]) — is shown under its `Step` line,
//! live when nothing before it is still to come. The executor then says
//! which instructions the build shows ([`Progress::instructions`]); an
//! instruction that failed while planning is shown by its `Step` line
//! alone ([`Progress::instruction_refused`]), as docker's classic builder
//! fails an instruction it could not evaluate.
//!
//! The ID after each step is the executor's ([`Progress::instruction_done`]):
//! the image config the step stored, else the chain ID of the layers under
//! it. strata runs metadata steps without a container; the `Running in` ID
//! names the step's execution as docker's intermediate container does.

use std::collections::HashMap;
use std::io::Write;

use sha2::{Digest as _, Sha256};

use super::{LogStream, Progress, ProgressMode, VertexId};

/// One instruction of the build: a stage's FROM (`step: None`) or step `k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StepRef {
    /// The stage's index in the Dockerfile.
    pub stage: usize,
    /// The step (`None`: the FROM).
    pub step: Option<usize>,
}

/// What kind of instruction, for the lines docker shows around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// FROM of an image or scratch.
    From,
    /// FROM of stage `j`: its ID is that stage's result.
    FromStage(usize),
    /// COPY/ADD: no container.
    Copy,
    /// RUN and metadata steps: docker runs an intermediate container.
    Container,
}

/// An instruction as registered with [`Progress::instructions`].
#[derive(Debug, Clone)]
pub struct Instruction {
    /// Which.
    pub at: StepRef,
    /// Its `Step N` (0: not numbered, an ONBUILD trigger of the base).
    pub number: usize,
    /// As written.
    pub text: String,
    /// Its kind.
    pub kind: StepKind,
    /// Its progress vertex (its output arrives there).
    pub vertex: Option<VertexId>,
}

enum Msg {
    Text(String),
    /// A message as is (a pull's `{"status": …}`).
    Json(serde_json::Value),
    /// ` ---> <short ID>` after a step.
    Id(String),
    /// ` ---> <ID of stage j's result>`, known once that stage is shown.
    StageId(usize),
}

struct Item {
    ins: Instruction,
    out: Vec<Msg>,
    headed: bool,
    run_id: Option<String>,
    finished: bool,
    failed: bool,
}

/// The classic renderer's state (inside the [`Progress`] lock).
#[derive(Default)]
pub struct Classic {
    items: Vec<Item>,
    index: HashMap<StepRef, usize>,
    by_vertex: HashMap<VertexId, usize>,
    total: usize,
    cursor: usize,
    /// The last ID shown per stage.
    last_id: HashMap<usize, String>,
    stopped: bool,
    /// The ARGs before the first FROM were shown.
    begun: bool,
    /// Instructions planned but not shown (kept for
    /// [`Progress::instruction_refused`]).
    dropped: HashMap<StepRef, Item>,
}

/// docker's short form of an ID (`sha256:` dropped, 12 hex digits).
pub fn short_id(id: &str) -> String {
    let hex = id.split_once(':').map_or(id, |(_, h)| h);
    hex.chars().take(12).collect()
}

impl Item {
    fn new(ins: Instruction) -> Item {
        Item {
            ins,
            out: Vec::new(),
            headed: false,
            run_id: None,
            finished: false,
            failed: false,
        }
    }
}

impl Classic {
    /// Shows the ARGs before the first FROM (numbered from 1, at once, as
    /// docker does) and sets `M` of `Step N/M`, once.
    fn begin(&mut self, out: &mut dyn Write, global_args: &[String], total: usize) {
        if std::mem::replace(&mut self.begun, true) {
            return;
        }
        self.total = total;
        for (n, text) in global_args.iter().enumerate() {
            let line = format!("Step {}/{total} : {text}", n + 1);
            for t in [line, "\n".to_string()] {
                let _ = writeln!(out, "{}", serde_json::json!({ "stream": t }));
            }
        }
    }

    fn reindex(&mut self) {
        self.index.clear();
        self.by_vertex.clear();
        for (i, item) in self.items.iter().enumerate() {
            self.index.insert(item.ins.at, i);
            if let Some(v) = item.ins.vertex {
                self.by_vertex.insert(v, i);
            }
        }
    }

    /// The item of `at`, registered (or revived from the dropped ones) at
    /// the end when it is not.
    fn item_of(&mut self, ins: Instruction) -> usize {
        if let Some(&i) = self.index.get(&ins.at) {
            return i;
        }
        let item = self
            .dropped
            .remove(&ins.at)
            .unwrap_or_else(|| Item::new(ins));
        self.items.push(item);
        self.reindex();
        self.items.len() - 1
    }

    /// The instructions the build shows, in order: what was planned keeps
    /// what it already holds (a pull's messages); one that is not shown is
    /// dropped, unless its output has begun (then it ends there).
    fn show(&mut self, list: Vec<Instruction>) {
        let shown: std::collections::HashSet<StepRef> = list.iter().map(|i| i.at).collect();
        // Only the item at the cursor can have written anything.
        let begun = self
            .items
            .get(self.cursor)
            .filter(|it| it.headed && !shown.contains(&it.ins.at))
            .map(|it| it.ins.at);
        let mut old: HashMap<StepRef, Item> = std::mem::take(&mut self.items)
            .into_iter()
            .map(|it| (it.ins.at, it))
            .collect();
        self.cursor = 0;
        if let Some(at) = begun
            && let Some(mut it) = old.remove(&at)
        {
            it.finished = true;
            self.items.push(it);
        }
        for ins in list {
            let item = match old.remove(&ins.at) {
                Some(mut it) => {
                    it.ins = ins;
                    it
                }
                None => Item::new(ins),
            };
            self.items.push(item);
        }
        self.dropped.extend(old);
        self.reindex();
    }

    fn header(&mut self, i: usize) {
        let total = self.total;
        let item = &mut self.items[i];
        if item.headed {
            return;
        }
        item.headed = true;
        if item.ins.number > 0 {
            let line = format!("Step {}/{total} : {}", item.ins.number, item.ins.text);
            item.out.push(Msg::Text(line));
            item.out.push(Msg::Text("\n".into()));
        }
    }

    fn running(&mut self, i: usize) {
        self.header(i);
        let item = &mut self.items[i];
        if item.ins.kind == StepKind::Container && item.run_id.is_none() {
            let id = run_id(&item.ins.text, i);
            item.out.push(Msg::Text(format!(" ---> Running in {id}\n")));
            item.run_id = Some(id);
        }
    }

    fn finish(&mut self, i: usize, cached: bool, id: String) {
        if self.items[i].finished {
            return;
        }
        if !cached {
            self.running(i);
        }
        self.header(i);
        let item = &mut self.items[i];
        if cached && item.ins.at.step.is_some() {
            item.out.push(Msg::Text(" ---> Using cache\n".into()));
        }
        if let Some(r) = &item.run_id {
            item.out
                .push(Msg::Text(format!("Removing intermediate container {r}\n")));
        }
        match item.ins.kind {
            StepKind::FromStage(j) => item.out.push(Msg::StageId(j)),
            _ => item.out.push(Msg::Id(short_id(&id))),
        }
        item.finished = true;
    }

    /// The build ended: what is still held (instructions after one that
    /// was cancelled when another stage failed) is written in order up to
    /// the failed instruction, so its output is seen.
    pub(super) fn end(&mut self, out: &mut dyn Write) {
        let Some(failed) = self.items.iter().position(|i| i.failed) else {
            return;
        };
        if self.stopped || self.cursor > failed {
            return;
        }
        for i in self.cursor..failed {
            self.items[i].finished = true;
        }
        self.flush(out);
    }

    /// Writes what may be written: the finished instructions in order, and
    /// the output so far of the first unfinished one.
    fn flush(&mut self, out: &mut dyn Write) {
        while !self.stopped && self.cursor < self.items.len() {
            let i = self.cursor;
            let stage = self.items[i].ins.at.stage;
            for m in std::mem::take(&mut self.items[i].out) {
                let id = match m {
                    Msg::Json(v) => {
                        let _ = writeln!(out, "{v}");
                        continue;
                    }
                    Msg::Text(t) => Err(t),
                    Msg::Id(id) => Ok(id),
                    Msg::StageId(j) => Ok(self.last_id.get(&j).cloned().unwrap_or_default()),
                };
                let text = match id {
                    Err(t) => t,
                    Ok(id) => {
                        let line = format!(" ---> {id}\n");
                        self.last_id.insert(stage, id);
                        line
                    }
                };
                let line = serde_json::json!({ "stream": text });
                let _ = writeln!(out, "{line}");
            }
            let item = &self.items[i];
            if item.failed {
                self.stopped = true;
            } else if item.finished {
                self.cursor += 1;
            } else {
                break;
            }
        }
        let _ = out.flush();
    }
}

/// An ID for a step's execution (docker's intermediate container ID).
fn run_id(text: &str, i: usize) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = Sha256::new();
    h.update(text.as_bytes());
    h.update(i.to_le_bytes());
    h.update(nanos.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    hex::encode(h.finalize())[..12].to_string()
}

impl Progress {
    fn classic<R>(&self, f: impl FnOnce(&mut Classic, &mut dyn Write) -> R) -> Option<R> {
        if self.mode != ProgressMode::Classic {
            return None;
        }
        let mut st = self.lock();
        let st = &mut *st;
        let c = st.classic.get_or_insert_with(Classic::default);
        Some(f(c, &mut *st.out))
    }

    /// Starts the output (classic only; a no-op otherwise): the ARGs
    /// before the first FROM (`global_args`, numbered from 1, shown at
    /// once as docker does), and `total`, the `M` of `Step N/M`.
    pub fn instructions_begin(&self, global_args: &[String], total: usize) {
        self.classic(|c, out| c.begin(out, global_args, total));
    }

    /// The planner reached this instruction (classic only): what is
    /// reported for it from now on is shown under its `Step` line.
    pub fn instruction_planned(&self, ins: Instruction) {
        self.classic(|c, _| {
            c.item_of(ins);
        });
    }

    /// One of docker's JSON messages for instruction `at` (a pull's
    /// status), shown after its `Step` line, in order.
    pub fn instruction_message(&self, at: StepRef, msg: serde_json::Value) {
        self.classic(|c, out| {
            if let Some(&i) = c.index.get(&at) {
                c.header(i);
                c.items[i].out.push(Msg::Json(msg));
                c.flush(out);
            }
        });
    }

    /// Registers the instructions the build shows, in Dockerfile order,
    /// numbered out of `total`, after the ARGs before the first FROM
    /// (see [`Progress::instructions_begin`]) (classic output only; a
    /// no-op otherwise). Instructions planned and not listed are not
    /// shown.
    pub fn instructions(&self, global_args: &[String], list: Vec<Instruction>, total: usize) {
        self.classic(|c, out| {
            c.begin(out, global_args, total);
            c.show(list);
            c.flush(out);
        });
    }

    /// The instruction failed before it ran (planning it failed): its
    /// `Step` line (and what was reported for it) ends the output.
    pub fn instruction_refused(&self, ins: Instruction) {
        self.classic(|c, out| {
            let i = c.item_of(ins);
            c.header(i);
            c.items[i].failed = true;
            c.flush(out);
        });
    }

    /// Whether the executor should report IDs (classic output).
    pub fn wants_ids(&self) -> bool {
        self.mode == ProgressMode::Classic
    }

    /// The instruction starts running.
    pub fn instruction_running(&self, at: StepRef) {
        self.classic(|c, out| {
            if let Some(&i) = c.index.get(&at) {
                c.running(i);
                c.flush(out);
            }
        });
    }

    /// The instruction finished (`cached`: the cache answered it) with the
    /// ID `id` computes.
    pub fn instruction_done(&self, at: StepRef, cached: bool, id: impl FnOnce() -> String) {
        self.classic(|c, out| {
            if let Some(&i) = c.index.get(&at) {
                c.finish(i, cached, id());
                c.flush(out);
            }
        });
    }

    /// The instruction failed: the output ends after it.
    pub fn instruction_failed(&self, at: StepRef) {
        self.classic(|c, out| {
            if let Some(&i) = c.index.get(&at) {
                c.running(i);
                c.items[i].failed = true;
                c.flush(out);
            }
        });
    }
}

/// Output of vertex `v` (from [`Progress::log`]): stdout as is, stderr in
/// red, as docker's classic builder sends them.
pub(super) fn log(
    c: &mut Classic,
    out: &mut dyn Write,
    v: VertexId,
    stream: LogStream,
    data: &[u8],
) {
    let Some(&i) = c.by_vertex.get(&v) else {
        return;
    };
    c.running(i);
    let text = String::from_utf8_lossy(data);
    let text = match stream {
        LogStream::Stdout => text.into_owned(),
        LogStream::Stderr => format!("\u{1b}[91m{text}\u{1b}[0m"),
    };
    c.items[i].out.push(Msg::Text(text));
    c.flush(out);
}

#[cfg(test)]
mod tests {
    use super::super::tests::Buf;
    use super::*;

    fn streams(b: &Buf) -> Vec<String> {
        b.text()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["stream"].as_str().unwrap().to_string()
            })
            .collect()
    }

    fn at(stage: usize, step: Option<usize>) -> StepRef {
        StepRef { stage, step }
    }

    #[test]
    fn steps_in_dockerfile_order_as_docker_shows_them() {
        let b = Buf::default();
        let p = Progress::new(ProgressMode::Classic, Box::new(b.clone()));
        let run = p.vertex("[2/3] RUN echo hi");
        let ins = |s: Option<usize>, text: &str, kind, vertex| Instruction {
            at: at(0, s),
            number: s.map_or(2, |k| k + 3),
            text: text.into(),
            kind,
            vertex,
        };
        let list = vec![
            ins(None, "FROM busybox", StepKind::From, None),
            ins(Some(0), "ENV A=1", StepKind::Container, None),
            ins(Some(1), "RUN echo hi", StepKind::Container, Some(run)),
            ins(Some(2), "COPY a /a", StepKind::Copy, None),
        ];
        p.instructions(&["ARG V=1".to_string()], list, 5);
        p.instruction_done(at(0, None), false, || "sha256:3f57d9401f8d0000".into());
        p.instruction_done(at(0, Some(0)), true, || "sha256:aaaaaaaaaaaa1".into());
        // A later step's events wait for the earlier ones.
        p.instruction_done(at(0, Some(2)), false, || "sha256:cccccccccccc1".into());
        p.instruction_running(at(0, Some(1)));
        p.log(run, LogStream::Stdout, b"hi\n");
        p.log(run, LogStream::Stderr, b"err\n");
        p.instruction_done(at(0, Some(1)), false, || "sha256:bbbbbbbbbbbb1".into());
        let s = streams(&b);
        let run_line = s
            .iter()
            .find(|l| l.starts_with(" ---> Running in "))
            .unwrap();
        let rid = run_line.trim_end().rsplit(' ').next().unwrap().to_string();
        assert_eq!(rid.len(), 12);
        let want = vec![
            "Step 1/5 : ARG V=1".to_string(),
            "\n".into(),
            "Step 2/5 : FROM busybox".into(),
            "\n".into(),
            " ---> 3f57d9401f8d\n".into(),
            "Step 3/5 : ENV A=1".into(),
            "\n".into(),
            " ---> Using cache\n".into(),
            " ---> aaaaaaaaaaaa\n".into(),
            "Step 4/5 : RUN echo hi".into(),
            "\n".into(),
            run_line.clone(),
            "hi\n".into(),
            "\u{1b}[91merr\n\u{1b}[0m".into(),
            format!("Removing intermediate container {rid}\n"),
            " ---> bbbbbbbbbbbb\n".into(),
            "Step 5/5 : COPY a /a".into(),
            "\n".into(),
            " ---> cccccccccccc\n".into(),
        ];
        assert_eq!(s, want);
    }

    #[test]
    fn a_failure_ends_the_output_and_stage_bases_show_their_stage() {
        let b = Buf::default();
        let p = Progress::new(ProgressMode::Classic, Box::new(b.clone()));
        let list = vec![
            Instruction {
                at: at(0, None),
                number: 1,
                text: "FROM scratch AS base".into(),
                kind: StepKind::From,
                vertex: None,
            },
            Instruction {
                at: at(1, None),
                number: 2,
                text: "FROM base".into(),
                kind: StepKind::FromStage(0),
                vertex: None,
            },
            Instruction {
                at: at(1, Some(0)),
                number: 3,
                text: "RUN false".into(),
                kind: StepKind::Container,
                vertex: None,
            },
            Instruction {
                at: at(1, Some(1)),
                number: 4,
                text: "LABEL a=b".into(),
                kind: StepKind::Container,
                vertex: None,
            },
        ];
        p.instructions(&[], list, 4);
        p.instruction_done(at(1, None), false, String::new);
        p.instruction_done(at(0, None), false, || "sha256:0123456789abcdef".into());
        p.instruction_failed(at(1, Some(0)));
        p.instruction_done(at(1, Some(1)), false, || "x".into());
        let s = streams(&b);
        assert_eq!(s[2], " ---> 0123456789ab\n");
        assert_eq!(
            s[3..6],
            ["Step 2/4 : FROM base", "\n", " ---> 0123456789ab\n"]
        );
        assert_eq!(s[6], "Step 3/4 : RUN false");
        assert!(s.last().unwrap().starts_with(" ---> Running in "), "{s:?}");
        assert!(!s.iter().any(|l| l.contains("LABEL")), "{s:?}");
    }

    #[test]
    fn a_failure_behind_a_cancelled_step_is_shown_at_the_end() {
        let b = Buf::default();
        let p = Progress::new(ProgressMode::Classic, Box::new(b.clone()));
        let ins = |stage: usize, number: usize, text: &str| Instruction {
            at: at(stage, Some(0)),
            number,
            text: text.into(),
            kind: StepKind::Container,
            vertex: None,
        };
        p.instructions(
            &[],
            vec![ins(0, 1, "RUN sleep 9"), ins(1, 2, "RUN false")],
            2,
        );
        p.instruction_running(at(0, Some(0)));
        p.instruction_running(at(1, Some(0)));
        p.instruction_failed(at(1, Some(0)));
        assert_eq!(streams(&b).len(), 3, "the failure waits for step 1");
        p.finish(false);
        let s = streams(&b);
        assert_eq!(s[3], "Step 2/2 : RUN false", "{s:?}");
        assert!(!s.iter().any(|l| l.starts_with("Removing")), "{s:?}");
    }

    /// Streams, and `status` messages as `status: …`.
    fn messages(b: &Buf) -> Vec<String> {
        b.text()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                match v["stream"].as_str() {
                    Some(s) => s.to_string(),
                    None => format!("status: {}", v["status"].as_str().unwrap()),
                }
            })
            .collect()
    }

    fn ins(stage: usize, step: Option<usize>, number: usize, text: &str) -> Instruction {
        Instruction {
            at: at(stage, step),
            number,
            text: text.into(),
            kind: if step.is_some() {
                StepKind::Container
            } else {
                StepKind::From
            },
            vertex: None,
        }
    }

    #[test]
    fn a_pull_while_planning_shows_live_under_its_from() {
        let b = Buf::default();
        let p = Progress::new(ProgressMode::Classic, Box::new(b.clone()));
        p.instructions_begin(&["ARG V=1".to_string()], 3);
        p.instruction_planned(ins(0, None, 2, "FROM reg/x"));
        p.instruction_message(at(0, None), serde_json::json!({"status": "Pulling from x"}));
        // Shown at once: nothing comes before it.
        assert_eq!(
            messages(&b),
            [
                "Step 1/3 : ARG V=1",
                "\n",
                "Step 2/3 : FROM reg/x",
                "\n",
                "status: Pulling from x"
            ]
        );
        p.instruction_planned(ins(0, Some(0), 3, "ENV A=1"));
        p.instructions(
            &["ARG V=1".to_string()],
            vec![ins(0, None, 2, "FROM reg/x"), ins(0, Some(0), 3, "ENV A=1")],
            3,
        );
        p.instruction_done(at(0, None), false, || "sha256:0123456789abcdef".into());
        p.instruction_done(at(0, Some(0)), true, || "sha256:aaaaaaaaaaaa1".into());
        let m = messages(&b);
        assert_eq!(
            m.iter().filter(|l| l.starts_with("Step 1/")).count(),
            1,
            "{m:?}"
        );
        assert_eq!(
            m[5..],
            [
                " ---> 0123456789ab\n",
                "Step 3/3 : ENV A=1",
                "\n",
                " ---> Using cache\n",
                " ---> aaaaaaaaaaaa\n"
            ]
        );
    }

    #[test]
    fn an_instruction_refused_while_planning_ends_the_output_after_what_ran() {
        let b = Buf::default();
        let p = Progress::new(ProgressMode::Classic, Box::new(b.clone()));
        p.instructions_begin(&[], 4);
        p.instruction_planned(ins(0, None, 1, "FROM busybox AS a"));
        p.instruction_planned(ins(0, Some(0), 2, "RUN echo a"));
        p.instruction_planned(ins(1, None, 3, "FROM reg/x"));
        // A later stage's pull waits for the stages before it.
        p.instruction_message(at(1, None), serde_json::json!({"status": "Pulling from x"}));
        assert!(messages(&b).is_empty());
        // What ran: stage 0 (stage 1's FROM is not part of it).
        p.instructions(
            &[],
            vec![
                ins(0, None, 1, "FROM busybox AS a"),
                ins(0, Some(0), 2, "RUN echo a"),
            ],
            4,
        );
        p.instruction_done(at(0, None), false, || "sha256:0123456789abcdef".into());
        p.instruction_done(at(0, Some(0)), false, || "sha256:bbbbbbbbbbbb1".into());
        p.instruction_refused(ins(1, None, 3, "FROM reg/x"));
        p.finish(false);
        let m = messages(&b);
        assert!(m[5].starts_with(" ---> Running in "), "{m:?}");
        assert_eq!(
            m[m.len() - 4..],
            [
                " ---> bbbbbbbbbbbb\n",
                "Step 3/4 : FROM reg/x",
                "\n",
                "status: Pulling from x"
            ]
        );
    }
}
