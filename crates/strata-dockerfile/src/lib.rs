//! The Dockerfile front end of strata (parser and shell lexer; the typed
//! instruction layer, ARG scoping and .dockerignore follow).

pub mod error;
pub mod instructions;
pub mod parser;
pub mod shell;

pub use error::{Error, LineRange, Warning, render_snippet};
