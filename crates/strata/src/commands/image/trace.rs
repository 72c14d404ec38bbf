//! `build --trace FILE`: the build's timeline, as recorded by its progress
//! events (`strata_build::timeline`), written by file extension:
//!
//! * `.json`: Chrome trace events (Perfetto, `chrome://tracing`): one slice
//!   per vertex, one thread (`tid`) per track — the build, then each stage.
//! * `.svg`: the same timeline drawn with plotters (text as SVG `<text>`,
//!   rendered by the viewer: no font is needed to write it).
//! * `.png`: drawn with plotters' pure-Rust bitmap backend. Text needs a
//!   TrueType font, loaded at run time from `$STRATA_TRACE_FONT` or the
//!   usual system paths (DejaVu, Liberation); without one the picture is
//!   drawn without labels and a warning says so (plotters' `ttf` feature
//!   would need fontconfig and FreeType, which strata does not link).
//!
//! The picture: a row per track, a bar per slice from its start to its end
//! (steps blue, cached steps a grey tick, the build's own work teal, errors
//! red), phases (cache lookup, layer write) as a thin bar inside, seconds
//! along the top.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use plotters::coord::Shift;
use plotters::prelude::*;
use strata_build::timeline::{SpanKind, Timeline};

use super::png_font::{FONT, font_loaded};

/// A format `--trace` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Chrome trace events.
    Json,
    /// A picture, SVG.
    Svg,
    /// A picture, PNG.
    Png,
}

/// One `--trace` destination.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where.
    pub path: PathBuf,
    /// What.
    pub format: Format,
}

/// Checks the `--trace` files before the build starts.
pub fn targets(paths: &[PathBuf]) -> anyhow::Result<Vec<Target>> {
    paths
        .iter()
        .map(|p| {
            let ext = p
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase());
            let format = match ext.as_deref() {
                Some("json") => Format::Json,
                Some("svg") => Format::Svg,
                Some("png") => Format::Png,
                _ => anyhow::bail!(
                    "--trace {}: the file name must end in .json (trace events), .svg or .png (a picture)",
                    p.display()
                ),
            };
            Ok(Target {
                path: p.clone(),
                format,
            })
        })
        .collect()
}

/// Writes every target.
pub fn write(targets: &[Target], t: &Timeline) -> anyhow::Result<()> {
    for target in targets {
        let p = &target.path;
        match target.format {
            Format::Json => {
                let bytes = serde_json::to_vec_pretty(&t.to_chrome_trace())?;
                std::fs::write(p, bytes)
                    .with_context(|| format!("writing the trace {}", p.display()))?;
            }
            Format::Svg => {
                let size = Layout::of(t).size();
                let root = SVGBackend::new(p, size).into_drawing_area();
                draw(&root, t, true).map_err(|e| picture_error(p, &e))?;
                root.present().map_err(|e| picture_error(p, &e))?;
            }
            Format::Png => {
                let text = font_loaded();
                if !text {
                    eprintln!(
                        "WARNING: no TrueType font found (set STRATA_TRACE_FONT): {} is drawn without labels",
                        p.display()
                    );
                }
                let size = Layout::of(t).size();
                let root = BitMapBackend::new(p, size).into_drawing_area();
                draw(&root, t, text).map_err(|e| picture_error(p, &e))?;
                root.present().map_err(|e| picture_error(p, &e))?;
            }
        }
    }
    Ok(())
}

fn picture_error(p: &Path, e: &dyn std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("drawing the trace {}: {e}", p.display())
}

const LEFT: i32 = 170;
const TOP: i32 = 56;
const ROW: i32 = 34;
const BAR: i32 = 22;
const WIDTH: u32 = 1280;

struct Layout {
    rows: usize,
    secs: f64,
}

impl Layout {
    fn of(t: &Timeline) -> Layout {
        Layout {
            rows: t.tracks.len().max(1),
            secs: t.total.as_secs_f64().max(0.001),
        }
    }

    fn size(&self) -> (u32, u32) {
        let h = TOP + ROW * i32::try_from(self.rows).unwrap_or(64) + 16;
        (WIDTH, u32::try_from(h).unwrap_or(600))
    }

    fn x(&self, secs: f64) -> i32 {
        let span = f64::from(WIDTH as i32 - LEFT - 20);
        LEFT + (secs / self.secs * span).round() as i32
    }
}

/// A tick step for `secs` seconds: 1, 2 or 5 times a power of ten, at
/// most ten ticks.
fn tick_step(secs: f64) -> f64 {
    let mut step = 0.001;
    loop {
        for m in [1.0, 2.0, 5.0] {
            if secs / (step * m) <= 10.0 {
                return step * m;
            }
        }
        step *= 10.0;
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    t: &Timeline,
    text: bool,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let l = Layout::of(t);
    let (w, h) = l.size();
    let (w, h) = (w as i32, h as i32);
    root.fill(&WHITE)?;
    let label = |s: String, x: i32, y: i32, size: u32, c: &RGBColor| {
        Text::new(s, (x, y), (FONT, size).into_font().color(c))
    };
    let grey = RGBColor(150, 150, 150);
    let light = RGBColor(232, 232, 232);
    if text {
        let title = format!(
            "strata build: {:.2}s, {} steps run, {} cached, {} written",
            t.total.as_secs_f64(),
            t.steps_run,
            t.steps_cached,
            strata_format::units::human_size(t.written)
        );
        root.draw(&label(title, 10, 8, 16, &BLACK))?;
    }
    let step = tick_step(l.secs);
    let mut s = 0.0;
    while s <= l.secs + 1e-9 {
        let x = l.x(s);
        root.draw(&PathElement::new(vec![(x, TOP - 6), (x, h - 10)], light))?;
        if text {
            root.draw(&label(format!("{s:.3}s"), x + 2, TOP - 22, 12, &grey))?;
        }
        s += step;
    }
    for (row, track) in t.tracks.iter().enumerate() {
        let y = TOP + ROW * i32::try_from(row).unwrap_or(0);
        if text {
            root.draw(&label(track.name.clone(), 10, y + 5, 13, &BLACK))?;
        }
        root.draw(&PathElement::new(
            vec![(LEFT, y + ROW - 2), (w - 10, y + ROW - 2)],
            light,
        ))?;
        for span in t.spans.iter().filter(|s| s.track == track.id) {
            let (x0, x1) = (l.x(span.start.as_secs_f64()), l.x(span.end.as_secs_f64()));
            let (top, bottom, color) = match (span.kind, span.status) {
                (SpanKind::Phase, _) => (y + BAR - 7, y + BAR - 1, RGBColor(255, 190, 60)),
                (_, "error") => (y, y + BAR, RGBColor(210, 60, 60)),
                (_, "canceled") => (y, y + BAR, RGBColor(240, 150, 70)),
                (_, "cached") => (y, y + BAR, RGBColor(170, 170, 170)),
                (SpanKind::Internal, _) => (y, y + BAR, RGBColor(60, 160, 150)),
                (SpanKind::Step, _) => (y, y + BAR, RGBColor(70, 120, 200)),
            };
            let x1 = x1.max(x0 + 2);
            root.draw(&Rectangle::new([(x0, top), (x1, bottom)], color.filled()))?;
            if x1 - x0 > 4 && span.kind != SpanKind::Phase {
                // A hairline between back-to-back slices.
                root.draw(&Rectangle::new(
                    [(x0, top), (x1, bottom)],
                    WHITE.stroke_width(1),
                ))?;
            }
            let room = x1 - x0 - 6;
            // ~7 px per character at 12 px.
            if text && span.kind != SpanKind::Phase && room >= 40 {
                let max = usize::try_from(room / 7).unwrap_or(0);
                let name: String = span.name.chars().take(max).collect();
                root.draw(&label(name, x0 + 3, y + 4, 12, &WHITE))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(0.004), 0.001);
        assert_eq!(tick_step(3.2), 0.5);
        assert_eq!(tick_step(95.0), 10.0);
    }

    #[test]
    fn targets_by_extension() {
        let t = targets(&[PathBuf::from("a.JSON"), PathBuf::from("b.svg")]).unwrap();
        assert_eq!((t[0].format, t[1].format), (Format::Json, Format::Svg));
        assert!(targets(&[PathBuf::from("c.txt")]).is_err());
    }
}
