//! `strata image …` and its short forms.

pub mod build;
pub mod common;
pub mod explain_context;
pub mod history;
pub mod import;
pub mod inspect;
pub mod load;
pub mod ls;
pub mod png_font;
pub mod progress;
pub mod prune;
pub mod pull;
pub mod push;
pub mod rm;
pub mod save;
pub mod tag;
pub mod trace;
pub mod verify;
