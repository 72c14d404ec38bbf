//! strata-store
