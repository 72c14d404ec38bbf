//! `strata system …`.

pub mod check;
pub mod df;
pub mod events;
pub mod info;
pub mod prune;
pub mod version;
