//! The typed instruction layer (its error type for now).

mod error;

pub use error::InstructionError;
