//! Integration tests of the engine: golden CTCAE boundaries, unit spellings, triage safety
//! properties, patterns across counts, and the purity of the core.

mod golden;
mod patterns;
mod properties;
mod support;
mod tidy;
mod units;
