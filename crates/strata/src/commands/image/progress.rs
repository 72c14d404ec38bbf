//! docker's pull/push progress output, from strata-registry's events.
//!
//! On a terminal each layer has a live line (`<id>: Downloading [==>   ]
//! 1.2MB/49.92MB`) drawn with indicatif; otherwise every status change is
//! one plain line (`<id>: Pull complete`) and byte counts are left out, as
//! docker does when its output is not a terminal. `-q` prints nothing.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use strata_format::units::human_size_precise;
use strata_registry::progress::{Event, LayerStatus, Progress};

/// Width of docker's progress bar.
const BAR: u64 = 50;

enum Mode {
    Quiet,
    Plain,
    Live(MultiProgress),
}

/// Prints progress events the way docker does.
pub struct Render {
    mode: Mode,
    stderr: bool,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Render {
    /// A renderer for stdout: live on a terminal, plain lines otherwise,
    /// silent with `quiet`.
    pub fn new(quiet: bool) -> Arc<Render> {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stdout().is_terminal() {
            Mode::Live(MultiProgress::with_draw_target(ProgressDrawTarget::stdout()))
        } else {
            Mode::Plain
        };
        Arc::new(Render {
            mode,
            stderr: false,
            bars: Mutex::new(HashMap::new()),
        })
    }

    /// The same renderer drawing on stderr.
    pub fn stderr() -> Arc<Render> {
        let mode = if std::io::stderr().is_terminal() {
            Mode::Live(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
        } else {
            Mode::Plain
        };
        Arc::new(Render {
            mode,
            stderr: true,
            bars: Mutex::new(HashMap::new()),
        })
    }

    fn print(&self, s: &str) {
        if self.stderr {
            eprintln!("{s}");
        } else {
            println!("{s}");
        }
    }

    /// Prints a line above the live view (or plainly).
    pub fn line(&self, s: &str) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Plain => self.print(s),
            Mode::Live(mp) => {
                if mp.println(s).is_err() {
                    self.print(s);
                }
            }
        }
    }

    /// Prints a line after the live view ended (nothing when quiet).
    pub fn after(&self, s: &str) {
        if !matches!(self.mode, Mode::Quiet) {
            self.print(s);
        }
    }

    /// Ends the live view, leaving every layer's last line on screen.
    pub fn finish(&self) {
        let bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        for b in bars.values() {
            b.abandon();
        }
    }
}

/// docker's `[=====>      ] 1.2MB/49.92MB`.
pub fn progress_text(status: &LayerStatus) -> String {
    match status {
        LayerStatus::Downloading { current, total } | LayerStatus::Pushing { current, total } => {
            let filled = if *total == 0 {
                BAR
            } else {
                (current.min(total) * BAR / total).min(BAR)
            };
            let mut bar = String::with_capacity(BAR as usize + 2);
            bar.push('[');
            for i in 0..BAR {
                bar.push(if i + 1 < filled {
                    '='
                } else if i + 1 == filled {
                    '>'
                } else {
                    ' '
                });
            }
            bar.push(']');
            format!(
                "{} {bar} {:>8}/{}",
                status.text(),
                human_size_precise(*current),
                human_size_precise(*total)
            )
        }
        LayerStatus::Retrying { attempt, reason } => {
            format!("Retrying (attempt {attempt}): {reason}")
        }
        s => s.text(),
    }
}

impl Progress for Render {
    fn event(&self, event: Event) {
        let text = match &event {
            Event::PullStart { tag, repository } => {
                self.line(&format!("{tag}: Pulling from {repository}"));
                return;
            }
            Event::PushStart { repository } => {
                self.line(&format!("The push refers to repository [{repository}]"));
                return;
            }
            Event::Layer { id, status } => (id, status),
        };
        let (id, status) = text;
        match &self.mode {
            Mode::Quiet => {}
            Mode::Plain => {
                if !status.is_transfer() {
                    self.print(&format!("{id}: {}", progress_text(status)));
                }
            }
            Mode::Live(mp) => {
                let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
                let bar = bars.entry(id.clone()).or_insert_with(|| {
                    let b = mp.add(ProgressBar::new_spinner());
                    if let Ok(style) = ProgressStyle::with_template("{prefix}: {msg}") {
                        b.set_style(style);
                    }
                    b.set_prefix(id.clone());
                    b
                });
                bar.set_message(progress_text(status));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_look_like_docker() {
        let s = progress_text(&LayerStatus::Downloading {
            current: 24_960_000,
            total: 49_920_000,
        });
        assert_eq!(
            s,
            "Downloading [========================>                         ]  24.96MB/49.92MB"
        );
        let done = progress_text(&LayerStatus::Pushing {
            current: 10,
            total: 10,
        });
        assert!(done.contains(&format!("[{}>]", "=".repeat(49))), "{done}");
        assert_eq!(progress_text(&LayerStatus::PullComplete), "Pull complete");
        assert_eq!(
            progress_text(&LayerStatus::MountedFrom("library/debian".into())),
            "Mounted from library/debian"
        );
    }
}
