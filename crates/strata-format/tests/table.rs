//! Tab writer: Go's `text/tabwriter` cases (restated from its test table,
//! for the flags docker can use), docker's display-width rule, and docker
//! layouts.

use strata_format::table::{TabWriter, align};

fn tw(minwidth: usize, tabwidth: usize, padding: usize, padchar: char) -> TabWriter {
    TabWriter {
        minwidth,
        tabwidth,
        padding,
        padchar,
        align_right: false,
    }
}

#[track_caller]
fn check(w: TabWriter, src: &str, want: &str) {
    assert_eq!(w.format(src), want, "input {src:?}");
}

#[test]
fn go_basic_cases() {
    let w = tw(8, 0, 1, '.');
    check(w, "", "");
    check(w, "\n\n\n", "\n\n\n");
    check(w, "a\nb\nc", "a\nb\nc");
    // A tab terminating an empty cell on the last line prints nothing.
    check(w, "\t", "");
    check(w, "*\t*", "*.......*");
    check(w, "*\t*\n", "*.......*\n");
    check(w, "*\t*\t", "*.......*");
    check(w, "\t\n", "........\n");
    check(w, "a) foo", "a) foo");
    check(tw(8, 0, 1, ' '), "b) foo\tbar", "b) foo  bar");
    check(w, "c) foo\tbar\t", "c) foo..bar");
    check(w, "d) foo\tbar\n", "d) foo..bar\n");
    check(w, "e) foo\tbar\t\n", "e) foo..bar.....\n");
    check(tw(8, 0, 1, '*'), "Hello, world!\n", "Hello, world!\n");
}

#[test]
fn go_columns_and_minwidth() {
    check(
        tw(1, 0, 0, '.'),
        "1\t2\t3\t4\n11\t222\t3333\t44444\n",
        "1.2..3...4\n11222333344444\n",
    );
    check(tw(5, 0, 0, '.'), "1\t2\t3\t4\n", "1....2....3....4\n");
    check(tw(5, 0, 0, '.'), "1\t2\t3\t4\t\n", "1....2....3....4....\n");
    check(
        tw(2, 0, 0, ' '),
        "a\tb\tc\naa\tbbb\tcccc\naaa\tbbbb\n",
        "a  b  c\naa bbbcccc\naaabbbb\n",
    );
    check(
        tw(8, 0, 1, '_'),
        "a\tb\tc\naa\tbbb\tcccc\naaa\tbbbb\n",
        "a_______b_______c\naa______bbb_____cccc\naaa_____bbbb\n",
    );
    check(tw(4, 0, 0, '.'), "a\t\tb", "a.......b");
}

#[test]
fn form_feed_ends_every_column() {
    check(
        tw(1, 0, 0, '.'),
        "1\t2\t3\t4\u{c}11\t222\t3333\t44444\n",
        "1234\n11222333344444\n",
    );
}

/// Column blocks: a column is aligned only over consecutive lines that have
/// it; a line with fewer cells splits the block (Go's test "13").
#[test]
fn go_column_blocks() {
    let src = "4444\t333\t22\t1\t333\n\
               999999999\t22\n\
               7\t22\n\
               \t\t\t88888888\n\
               \n\
               666666\t666666\t666666\t4444\n\
               1\t1\t999999999\t0000000000\n";
    let want = "4444........333...22...1...333\n\
                999999999...22\n\
                7...........22\n\
                ....................88888888\n\
                \n\
                666666...666666...666666......4444\n\
                1........1........999999999...0000000000\n";
    check(tw(4, 0, 3, '.'), src, want);

    let src = "4444\t日本語\t22\t1\t333\n999999999\t22\n7\t22\n\t\t\t88888888\n\n\
               666666\t666666\t666666\t4444\n1\t1\t999999999\t0000000000\n";
    let want = "4444------日本語-22--1---333\n999999999-22\n7---------22\n------------------88888888\n\n\
                666666-666666-666666----4444\n1------1------999999999-0000000000\n";
    check(tw(4, 0, 1, '-'), src, want);
}

#[test]
fn go_align_right() {
    let w = TabWriter {
        align_right: true,
        ..tw(8, 0, 1, ' ')
    };
    check(
        w,
        "a\tè\tc\t\naa\tèèè\tcccc\tddddd\t\naaa\tèèèè\t\n",
        "       a       è       c\n      aa     èèè    cccc   ddddd\n     aaa    èèèè\n",
    );
    let w = TabWriter {
        align_right: true,
        ..tw(1, 0, 2, ' ')
    };
    check(
        w,
        ".0\t.3\t2.4\t-5.1\t\n23.0\t12345678.9\t2.4\t-989.4\t\n5.1\t12.0\t2.4\t-7.0\t\n\
         .0\t0.0\t332.0\t8908.0\t\n.0\t-.3\t456.4\t22.1\t\n.0\t1.2\t44.4\t-13.3\t\t",
        "    .0          .3    2.4    -5.1\n  23.0  12345678.9    2.4  -989.4\n   5.1        12.0    2.4    -7.0\n\
         \x20   .0         0.0  332.0  8908.0\n    .0         -.3  456.4    22.1\n    .0         1.2   44.4   -13.3",
    );
}

#[test]
fn tab_padding() {
    let src = "a\tb\t\td\na\tb\t\td\te\na\na\tb\tc\td\na\tb\tc\td\te\n";
    check(tw(100, 100, 0, '\t'), src, src);
    check(
        tw(8, 8, 1, '\t'),
        "4444\t333\t22\n999999999\t22\n",
        "4444\t\t333\t22\n999999999\t22\n",
    );
}

/// docker's fork measures cells in terminal columns: CJK counts 2 (the
/// standard library would count runes and pad `本` with 7 dots).
#[test]
fn wide_characters_count_two_columns() {
    check(
        tw(8, 0, 1, '.'),
        "本\tb\tc\naa\t本本本\tcccc\tddddd\naaa\tbbbb\n",
        "本......b.......c\naa......本本本..cccc....ddddd\naaa.....bbbb\n",
    );
    // Combining marks take no column.
    check(
        tw(1, 0, 1, '.'),
        "e\u{301}\tx\nab\ty\n",
        "e\u{301}..x\nab.y\n",
    );
}

#[test]
fn docker_header_and_rows() {
    let out = align("IMAGE\tCREATED\tSIZE\n<missing>\t2 weeks ago\t0B\nabc\t3 days ago\t7.8MB\n");
    assert_eq!(
        out,
        "IMAGE       CREATED       SIZE\n\
         <missing>   2 weeks ago   0B\n\
         abc         3 days ago    7.8MB\n"
    );
}

#[test]
fn docker_minwidth_applies_to_short_columns() {
    assert_eq!(
        align("A\tB\tC\n1\t2\t3\n"),
        "A         B         C\n1         2         3\n"
    );
}

/// The last cell is never padded, so an empty trailing cell leaves the
/// previous cell's padding at the end of the line (docker's `COMMENT`).
#[test]
fn empty_trailing_cell_keeps_padding() {
    assert_eq!(
        align("ID\tCOMMENT\nabc\t\n"),
        "ID        COMMENT\nabc       \n"
    );
    assert_eq!(
        align("ID\tCOMMENT\n\t\n"),
        "ID        COMMENT\n          \n"
    );
}

#[test]
fn empty_cells_are_padded_to_the_column() {
    assert_eq!(
        align("A\tB\tC\n\t\tx\n"),
        "A         B         C\n                    x\n"
    );
}

/// A row with fewer cells ends the block: rows after it are aligned
/// among themselves, not with the rows before.
#[test]
fn short_row_splits_blocks() {
    let out = align("NAME\tVALUE\nlong-name-here\t1\nsection\nx\t2\n");
    assert_eq!(
        out,
        "NAME             VALUE\nlong-name-here   1\nsection\nx         2\n"
    );
    // A row with fewer (but not one) cells splits only the columns it lacks.
    let out = align("a\tb\tc\nlong-long\tlong-long-long\tz\nq\tr\ns\tt\tu\n");
    assert_eq!(
        out,
        "a           b                c\n\
         long-long   long-long-long   z\n\
         q           r\n\
         s           t         u\n"
    );
}

#[test]
fn trailing_text_without_newline() {
    assert_eq!(align("A\tB\nx\ty"), "A         B\nx         y");
}

#[test]
fn many_cells_do_not_exhaust_the_stack() {
    let line = "a\t".repeat(50_000);
    let out = align(&format!("{line}\n{line}\n"));
    assert_eq!(out.lines().count(), 2);
    assert!(out.starts_with("a         a         "));
}
