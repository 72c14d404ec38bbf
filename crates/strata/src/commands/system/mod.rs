//! `strata system …`.

pub mod df;
