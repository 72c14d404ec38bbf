//! `bench/curves.sh`'s plotter: one scaling curve, read from a CSV of
//! `tool,size,seconds` rows (a header first; rows whose seconds are not a
//! positive number are skipped), drawn as a PNG with log-log axes and one
//! line per tool, with plotters' bitmap backend (the font as for
//! `build --trace x.png`).
//!
//!   plot_curves IN.csv OUT.png TITLE X_LABEL

use std::collections::BTreeMap;

use anyhow::{Context as _, bail};
use plotters::prelude::*;

#[path = "../src/commands/image/png_font.rs"]
mod png_font;

use png_font::{FONT, font_loaded};

/// strata's line, always the same blue.
const STRATA: RGBColor = RGBColor(31, 119, 180);
/// The peers' lines, in the tools' alphabetical order.
const PEERS: &[RGBColor] = &[
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
];

/// Each tool's points, sorted by size.
type Curves = BTreeMap<String, Vec<(f64, f64)>>;

fn parse(csv: &str) -> Curves {
    let mut curves = Curves::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let [tool, size, secs] = f[..] else { continue };
        let (Ok(size), Ok(secs)) = (size.parse::<f64>(), secs.parse::<f64>()) else {
            continue;
        };
        if size > 0.0 && secs > 0.0 {
            curves
                .entry(tool.to_owned())
                .or_default()
                .push((size, secs));
        }
    }
    for points in curves.values_mut() {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    curves
}

/// The range of one axis, widened so that the points sit inside it.
fn range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(v), h.max(v)));
    (lo / 1.5)..(hi * 1.5)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, title, x_label] = &args[..] else {
        bail!("usage: plot_curves IN.csv OUT.png TITLE X_LABEL");
    };
    let csv = std::fs::read_to_string(input).with_context(|| format!("reading {input}"))?;
    let curves = parse(&csv);
    if curves.is_empty() {
        bail!("{input}: no points to draw");
    }
    if !font_loaded() {
        bail!("no TrueType font found (install fonts-dejavu-core or set STRATA_TRACE_FONT)");
    }
    let points = || curves.values().flatten();
    let xs = range(points().map(|p| p.0));
    let ys = range(points().map(|p| p.1));
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = BitMapBackend::new(output, (900, 600)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(xs.clone().log_scale(), ys.clone().log_scale())?;
        chart
            .configure_mesh()
            .x_desc(x_label.as_str())
            .y_desc("median seconds")
            .x_label_formatter(&|v| format!("{v}"))
            .y_label_formatter(&|v| format!("{v}"))
            .label_style((FONT, 14))
            .draw()?;
        let mut peers = PEERS.iter().cycle();
        for (tool, pts) in &curves {
            let color = if tool.starts_with("strata") {
                STRATA
            } else {
                *peers.next().unwrap_or(&BLACK)
            };
            chart
                .draw_series(std::iter::once(PathElement::new(
                    pts.clone(),
                    color.stroke_width(2),
                )))?
                .label(tool.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| anyhow::anyhow!("drawing {output}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_by_tool_sorted_and_bad_rows_skipped() {
        let c = parse("tool,size,seconds\nb,100,2\na,10,1\nb,10,0.5\na,100,FAIL\nx,1\n");
        assert_eq!(c["a"], vec![(10.0, 1.0)]);
        assert_eq!(c["b"], vec![(10.0, 0.5), (100.0, 2.0)]);
        assert_eq!(c.len(), 2);
    }
}
