//! strata-registry
