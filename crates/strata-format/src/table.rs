//! Go's `text/tabwriter` (docker's fork), which aligns every docker table.
//!
//! # The algorithm, restated
//!
//! Input is text whose lines are split into *cells* by `\t` (or `\v`); a
//! cell is *terminated* by the tab, so the text after the last tab of a line
//! is a trailing cell that belongs to no column and is never padded. `\n`
//! ends a line; `\f` ends a line and also every column (as if the writer were
//! flushed).
//!
//! Column `j` is aligned over a *block*: a maximal run of consecutive lines
//! that each have a tab-terminated cell `j`. A line with fewer cells ends the
//! block, so the rows below start a new block with widths of their own —
//! this is what keeps docker's header aligned with its rows but lets a line
//! without tabs (or with fewer columns) interrupt the alignment. The width of
//! column `j` in a block is `max(minwidth, widest cell + padding)`; each
//! terminated cell is written followed by pad characters up to that width.
//!
//! Widths are display columns ([`crate::width::display_width`]): docker's
//! fork measures with `go-runewidth` where the standard library counts runes.
//!
//! docker uses `minwidth 10, tabwidth 1, padding 3, padchar ' ', flags 0`
//! ([`TabWriter::docker`]).
//!
//! ```
//! use strata_format::table::TabWriter;
//! let out = TabWriter::docker().format("IMAGE\tSIZE\tCOMMENT\nabc\t0B\t\n");
//! assert_eq!(out, "IMAGE     SIZE      COMMENT\nabc       0B        \n");
//! ```

use crate::width::display_width;

/// Configuration of a tab writer (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TabWriter {
    /// Minimal cell width, padding included.
    pub minwidth: usize,
    /// Width of a tab character when padding with tabs.
    pub tabwidth: usize,
    /// Padding added to the widest cell of a column.
    pub padding: usize,
    /// Padding character; `'\t'` pads with tabs (tabwidth-aligned).
    pub padchar: char,
    /// Right-align cell contents (Go's `AlignRight`); ignored with tab padding.
    pub align_right: bool,
}

/// One cell: a byte range of the line text and its display width.
#[derive(Clone, Copy, Debug)]
struct Cell<'a> {
    text: &'a str,
    width: usize,
}

/// One input line: its cells (all but the last are tab-terminated), whether
/// a line break followed it, and whether that break was `\f`.
#[derive(Debug)]
struct Line<'a> {
    cells: Vec<Cell<'a>>,
    terminated: bool,
    formfeed: bool,
}

impl Line<'_> {
    /// Number of aligned (tab-terminated) cells.
    fn columns(&self) -> usize {
        self.cells.len().saturating_sub(1)
    }
}

impl TabWriter {
    /// docker's settings: `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`.
    pub const fn docker() -> TabWriter {
        TabWriter {
            minwidth: 10,
            tabwidth: 1,
            padding: 3,
            padchar: ' ',
            align_right: false,
        }
    }

    /// Aligns all of `input` (the writer is written to once, then flushed).
    pub fn format(&self, input: &str) -> String {
        let lines = split_lines(input);
        let widths = self.column_widths(&lines);
        let mut out = String::with_capacity(input.len() + input.len() / 2);
        for (line, widths) in lines.iter().zip(&widths) {
            for (j, cell) in line.cells.iter().enumerate() {
                match widths.get(j) {
                    Some(&w) if self.align_right && self.padchar != '\t' => {
                        self.pad(&mut out, cell.width, w);
                        out.push_str(cell.text);
                    }
                    Some(&w) => {
                        out.push_str(cell.text);
                        self.pad(&mut out, cell.width, w);
                    }
                    None => out.push_str(cell.text),
                }
            }
            if line.terminated {
                out.push('\n');
            }
        }
        out
    }

    fn pad(&self, out: &mut String, text_width: usize, cell_width: usize) {
        if self.padchar == '\t' {
            if self.tabwidth == 0 {
                return;
            }
            let cell_width = cell_width.div_ceil(self.tabwidth) * self.tabwidth;
            let n = cell_width.saturating_sub(text_width);
            for _ in 0..n.div_ceil(self.tabwidth) {
                out.push('\t');
            }
            return;
        }
        for _ in 0..cell_width.saturating_sub(text_width) {
            out.push(self.padchar);
        }
    }

    /// Width of every aligned cell, per line. Column `j` is sized over each
    /// maximal run of consecutive lines having more than `j` aligned cells;
    /// a `\f` ends all runs. Runs for column `j + 1` are sub-runs of those for
    /// `j`, so the work is proportional to the number of cells.
    fn column_widths(&self, lines: &[Line<'_>]) -> Vec<Vec<usize>> {
        let mut widths: Vec<Vec<usize>> = lines
            .iter()
            .map(|l| Vec::with_capacity(l.columns()))
            .collect();
        // Runs for column 0: split at lines without aligned cells and after
        // form feeds.
        let mut runs = Vec::new();
        let mut start = None;
        for (i, line) in lines.iter().enumerate() {
            if line.columns() == 0 {
                if let Some(s) = start.take() {
                    runs.push((s, i));
                }
            } else if start.is_none() {
                start = Some(i);
            }
            if line.formfeed
                && let Some(s) = start.take()
            {
                runs.push((s, i + 1));
            }
        }
        if let Some(s) = start {
            runs.push((s, lines.len()));
        }
        let mut column = 0;
        while !runs.is_empty() {
            let mut next = Vec::new();
            for &(lo, hi) in &runs {
                let width = lines[lo..hi]
                    .iter()
                    .map(|l| l.cells[column].width + self.padding)
                    .fold(self.minwidth, usize::max);
                let mut sub = None;
                for i in lo..hi {
                    widths[i].push(width);
                    if lines[i].columns() > column + 1 {
                        sub.get_or_insert(i);
                    } else if let Some(s) = sub.take() {
                        next.push((s, i));
                    }
                }
                if let Some(s) = sub {
                    next.push((s, hi));
                }
            }
            runs = next;
            column += 1;
        }
        widths
    }
}

impl Default for TabWriter {
    fn default() -> Self {
        TabWriter::docker()
    }
}

/// Splits `input` into lines of cells at `\t`, `\v`, `\n` and `\f`.
fn split_lines(input: &str) -> Vec<Line<'_>> {
    let mut lines = Vec::new();
    let mut cells = Vec::new();
    let mut start = 0;
    for (i, b) in input.bytes().enumerate() {
        if !matches!(b, b'\t' | 0x0b | b'\n' | 0x0c) {
            continue;
        }
        let text = &input[start..i];
        cells.push(Cell {
            text,
            width: display_width(text),
        });
        start = i + 1;
        if b == b'\n' || b == 0x0c {
            lines.push(Line {
                cells: std::mem::take(&mut cells),
                terminated: true,
                formfeed: b == 0x0c,
            });
        }
    }
    let rest = &input[start..];
    if !rest.is_empty() {
        cells.push(Cell {
            text: rest,
            width: display_width(rest),
        });
    }
    if !cells.is_empty() {
        lines.push(Line {
            cells,
            terminated: false,
            formfeed: false,
        });
    }
    lines
}

/// Aligns `input` with docker's settings ([`TabWriter::docker`]).
pub fn align(input: &str) -> String {
    TabWriter::docker().format(input)
}
