//! The TrueType font for PNG pictures drawn with plotters' bitmap backend
//! (`build --trace x.png`, and the `plot_curves` bench example, which
//! includes this file by path): loaded at run time from
//! `$STRATA_TRACE_FONT` or the usual system paths (DejaVu, Liberation),
//! since plotters' `ttf` feature would need fontconfig and FreeType.

use std::path::PathBuf;
use std::sync::OnceLock;

use plotters::style::FontStyle;

/// The family name the font is registered under.
pub const FONT: &str = "sans-serif";

/// Fonts tried for PNG labels, in order.
const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
];

/// Registers a system font as [`FONT`] for the bitmap backend, once;
/// false when none could be loaded.
pub fn font_loaded() -> bool {
    static LOADED: OnceLock<bool> = OnceLock::new();
    *LOADED.get_or_init(|| {
        let env = std::env::var_os("STRATA_TRACE_FONT").map(PathBuf::from);
        let candidates = env.into_iter().chain(FONTS.iter().map(PathBuf::from));
        for c in candidates {
            let Ok(bytes) = std::fs::read(&c) else {
                continue;
            };
            // plotters keeps fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_ok() {
                return true;
            }
        }
        false
    })
}
